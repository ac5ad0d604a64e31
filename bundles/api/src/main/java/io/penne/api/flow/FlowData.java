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

    /** The names of the bits set in {@code bits} ({@code names[i]} for bit i), joined by '|'; "-" if none. */
    protected static String bitNames(int bits, String[] names) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < names.length; i++)
            if ((bits & (1 << i)) != 0)
                sb.append(sb.length() == 0 ? "" : "|").append(names[i]);
        return sb.length() == 0 ? "-" : sb.toString();
    }
}
