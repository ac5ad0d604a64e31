package io.penne.api.flow;

/**
 * Life-cycle state of a flow table entry (after passt's {@code enum flow_state}).
 *
 * <pre>
 *  FREE --alloc--> NEW --initiate--> INI --target--> TGT --setType--> TYPED --activate--> ACTIVE
 *   ^               |                 |               |                 |                   |
 *   +------cancel---+-----------------+---------------+-----------------+                   |
 *   +----------------------------- freed by the deferred scan ------------------------------+
 * </pre>
 *
 * At most one entry is in NEW, INI, TGT or TYPED at a time, and never across
 * a return to the event loop: a flow is built and activated (or cancelled)
 * within the handling of one event. {@link #check} is the single place that
 * decides which transitions are legal; every state change goes through it.
 */
public enum FlowState {
    FREE, NEW, INI, TGT, TYPED, ACTIVE;

    /** True if a flow in this state is still being set up (NEW, INI, TGT, TYPED). */
    public boolean pending() {
        return this != FREE && this != ACTIVE;
    }

    /** Whether moving from this state to {@code to} is allowed. */
    public boolean canMoveTo(FlowState to) {
        switch (this) {
            case FREE:   return to == NEW;
            case NEW:    return to == INI || to == FREE;
            case INI:    return to == TGT || to == FREE;
            case TGT:    return to == TYPED || to == FREE;
            case TYPED:  return to == ACTIVE || to == FREE;
            case ACTIVE: return to == FREE;
            default:     throw new AssertionError(this);
        }
    }

    /**
     * Checks a transition.
     *
     * @throws FlowStateException naming the flow and both states if it is illegal
     */
    public static void check(int flowIndex, FlowState from, FlowState to) {
        if (!from.canMoveTo(to))
            throw new FlowStateException(flowIndex, from, to);
    }
}
