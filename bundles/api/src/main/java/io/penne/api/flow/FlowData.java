package io.penne.api.flow;

import java.util.Map;

/**
 * Base of per-flow protocol state (TCP sequence numbers, UDP socket, ...).
 * Subclasses live in this API bundle, never in a handler bundle, so a flow's
 * state outlives the handler that created it and a new handler adopts it.
 * An object is reused when its table slot is reused for a flow of the same
 * kind, so {@link #reset()} must clear every field.
 */
public abstract class FlowData {

    /** Clears all state, ready for a new flow. */
    public abstract void reset();

    /** One short line for flow listings, e.g. TCP state and byte counts. */
    public String summary() {
        return "";
    }

    /** Every field, name to value, for {@code penne:flow ID}. */
    public void describe(Map<String, String> out) {
    }
}
