package io.penne.api.flow;

import java.util.Map;
import java.util.function.IntConsumer;

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

    /**
     * The file descriptors this flow holds (sockets, pipes, timers). When
     * the handler of a flow type is gone for good (its grace period after
     * unbinding ran out), the instance closes them, sockets with a reset,
     * and frees the flow: nothing else could.
     */
    public void forEachFd(IntConsumer action) {
    }
}
