package io.penne.api.flow;

import java.util.function.Supplier;

/**
 * One flow table entry: state, type, and for each of its two sides (0, the
 * initiating side; 1, the target side) an interface with addresses and ports,
 * plus protocol state in a {@link FlowData} object.
 *
 * <p>Entries never move: a flow is known by its index for its whole life, so
 * epoll references and hash buckets can name it by index. The common fields
 * are written only by the flow table implementation (through the protected
 * mutators below, which check every state change with
 * {@link FlowState#check}); handlers read them and own the {@link FlowData}.
 * All access happens on the owning instance's loop thread.
 */
public abstract class Flow {
    /** Side that initiated the flow. */
    public static final int INI = 0;
    /** Side that the flow was forwarded to. */
    public static final int TGT = 1;

    private final int index;
    private FlowState state = FlowState.FREE;
    private FlowType type = FlowType.NONE;
    private final Pif[] pif = {Pif.NONE, Pif.NONE};
    private final FlowSide[] side = {new FlowSide(), new FlowSide()};
    private long createdNanos;
    private FlowData data;

    protected Flow(int index) {
        this.index = index;
    }

    /** Packs a flow index and side into a "side index" (sidx). */
    public static int sidx(int flowIndex, int side) {
        return (flowIndex << 1) | (side & 1);
    }

    /** Flow index of a side index. */
    public static int sidxFlow(int sidx) {
        return sidx >>> 1;
    }

    /** Side (0 or 1) of a side index. */
    public static int sidxSide(int sidx) {
        return sidx & 1;
    }

    public final int index() { return index; }
    public final FlowState state() { return state; }
    public final FlowType type() { return type; }
    public final Pif pif(int s) { return pif[s]; }
    public final FlowSide side(int s) { return side[s]; }
    /** {@link System#nanoTime()} at allocation. */
    public final long createdNanos() { return createdNanos; }

    /** The protocol state, or null if none was attached yet. */
    public final FlowData data() {
        return data;
    }

    /**
     * The protocol state of class {@code cls}, created by {@code factory} if
     * the slot holds none or one of another class, else reset for reuse when
     * {@code fresh} is true. Only for TYPED or ACTIVE flows.
     */
    public final <T extends FlowData> T data(Class<T> cls, Supplier<T> factory, boolean fresh) {
        if (state != FlowState.TYPED && state != FlowState.ACTIVE)
            throw new FlowStateException("flow " + index + ": protocol state accessed in state " + state);
        if (!cls.isInstance(data)) {
            data = factory.get();
            return cls.cast(data);
        }
        T t = cls.cast(data);
        if (fresh)
            t.reset();
        return t;
    }

    // ---- mutators for the flow table implementation only ----

    /** Moves to {@code to} after checking the transition is legal. */
    protected final void moveTo(FlowState to) {
        FlowState.check(index, state, to);
        state = to;
    }

    protected final void setCreated(long nanos) {
        createdNanos = nanos;
    }

    protected final void setType(FlowType t) {
        type = t;
    }

    protected final void setSide(int s, Pif p, long eHi, long eLo, int ePort, long oHi, long oLo, int oPort) {
        pif[s] = p;
        side[s].set(eHi, eLo, ePort, oHi, oLo, oPort);
    }

    /** Clears the common fields; the protocol state object is kept for reuse. */
    protected final void clearCommon() {
        type = FlowType.NONE;
        pif[0] = pif[1] = Pif.NONE;
        side[0].clear();
        side[1].clear();
        createdNanos = 0;
    }

    @Override
    public String toString() {
        return "flow " + index + " " + state + " " + type.label();
    }
}
