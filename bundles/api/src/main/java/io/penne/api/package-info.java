/**
 * Contracts between penne's bundles: the {@link io.penne.api.Instance} context,
 * its {@link io.penne.api.EventLoop}, the {@link io.penne.api.ProtocolHandler}
 * service interface, and the counters registry.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("0.6.0")
package io.penne.api;
