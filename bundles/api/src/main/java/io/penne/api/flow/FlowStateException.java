package io.penne.api.flow;

/**
 * An illegal flow state transition or an operation on a flow in the wrong
 * state. This is always a bug in the caller, reported loudly instead of
 * corrupting the table.
 */
public final class FlowStateException extends IllegalStateException {
    private static final long serialVersionUID = 1L;

    public FlowStateException(int flowIndex, FlowState from, FlowState to) {
        super("flow " + flowIndex + ": illegal transition " + from + " -> " + to);
    }

    public FlowStateException(String message) {
        super(message);
    }
}
