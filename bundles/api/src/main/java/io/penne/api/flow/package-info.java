/**
 * The flow model: flow entries with two sides, their life-cycle states, flow
 * types and interfaces, and the {@link io.penne.api.flow.FlowTable} contract.
 * Per-flow protocol state classes ({@link io.penne.api.flow.FlowData}
 * subclasses) live here and not in handler bundles, so that a handler can be
 * replaced while its flows live on.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("0.3.0")
package io.penne.api.flow;
