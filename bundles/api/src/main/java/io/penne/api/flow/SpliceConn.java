package io.penne.api.flow;

import java.util.Map;

/**
 * Per-flow state of a spliced TCP connection (flow type
 * {@link FlowType#TCP_SPLICE}): a loopback connection between the host and
 * the guest namespace carried socket to socket with {@code splice(2)}
 * through two pipes, after passt's {@code struct tcp_splice_conn}. It lives
 * here, not in the splice handler's bundle, so a replacement handler adopts
 * open connections; the TCP handler also creates it, for loopback clients
 * of its {@code -t} listening sockets.
 *
 * <p>Side 0 is the accepted socket (the flow's initiating side), side 1 the
 * socket penne connected. {@code pipe[i]} carries bytes read from side
 * {@code i} towards side {@code 1 - i}. Event bits follow passt's names; the
 * fields are public for the handler's data path and only the loop thread
 * touches them.
 */
public final class SpliceConn extends FlowData {
    // ---- events ----
    /** Side 1 is connecting (non-blocking connect in progress). */
    public static final int CONNECT = 1;
    /** Side 1 is connected: data moves. */
    public static final int ESTABLISHED = 1 << 1;
    /** Bytes for side 0 are waiting in pipe 1: side 0 is watched for EPOLLOUT. */
    public static final int OUT_WAIT_0 = 1 << 2;
    /** Bytes for side 1 are waiting in pipe 0: side 1 is watched for EPOLLOUT. */
    public static final int OUT_WAIT_1 = 1 << 3;
    /** End of stream read from side 0. */
    public static final int FIN_RCVD_0 = 1 << 4;
    /** End of stream read from side 1. */
    public static final int FIN_RCVD_1 = 1 << 5;
    /** Write side of socket 0 shut down (after side 1's FIN and an empty pipe). */
    public static final int FIN_SENT_0 = 1 << 6;
    /** Write side of socket 1 shut down. */
    public static final int FIN_SENT_1 = 1 << 7;

    // ---- flags ----
    /** Over (reset, failed, or both directions closed): released by the next deferred call. */
    public static final int CLOSING = 1;
    /** Closed with a reset ({@code SO_LINGER} 0) rather than cleanly. */
    public static final int RESET = 1 << 1;

    private static final String[] EVENT_NAMES = {"CONNECT", "ESTABLISHED", "OUT_WAIT_0", "OUT_WAIT_1",
        "FIN_RCVD_0", "FIN_RCVD_1", "FIN_SENT_0", "FIN_SENT_1"};
    private static final String[] FLAG_NAMES = {"CLOSING", "RESET"};

    public static int outWait(int side) {
        return side == 0 ? OUT_WAIT_0 : OUT_WAIT_1;
    }

    public static int finRcvd(int side) {
        return side == 0 ? FIN_RCVD_0 : FIN_RCVD_1;
    }

    public static int finSent(int side) {
        return side == 0 ? FIN_SENT_0 : FIN_SENT_1;
    }

    /** Event bits (see constants). */
    public int events;
    /** Flag bits (see constants). */
    public int flags;
    /** The two sockets, or -1. */
    public final int[] sock = {-1, -1};
    /** Read ends of the two pipes (pipe {@code i} carries side {@code i}'s bytes), or -1. */
    public final int[] pipeR = {-1, -1};
    /** Write ends of the two pipes, or -1. */
    public final int[] pipeW = {-1, -1};
    /** Bytes in pipe {@code i}, not yet written to the other side. */
    public final long[] pending = {0, 0};
    /** Bytes moved from side {@code i} to the other side, in total. */
    public final long[] bytes = {0, 0};
    /** epoll events each socket is registered with now (-1: not registered). */
    public final int[] epollEvents = {-1, -1};
    /** Index of the flow this state belongs to (for epoll references), or -1. */
    public int flowIndex = -1;

    @Override
    public void forEachFd(java.util.function.IntConsumer action) {
        for (int i = 0; i < 2; i++) {
            if (sock[i] >= 0)
                action.accept(sock[i]);
            if (pipeR[i] >= 0)
                action.accept(pipeR[i]);
            if (pipeW[i] >= 0)
                action.accept(pipeW[i]);
        }
    }

    @Override
    public void reset() {
        events = flags = 0;
        for (int i = 0; i < 2; i++) {
            sock[i] = pipeR[i] = pipeW[i] = -1;
            pending[i] = bytes[i] = 0;
            epollEvents[i] = -1;
        }
        flowIndex = -1;
    }

    /** The flow side index of side {@code side} ({@link Flow#sidx}). */
    public int flowSidx(int side) {
        return Flow.sidx(flowIndex, side);
    }

    public boolean has(int event) {
        return (events & event) != 0;
    }

    /** A short state name from the events, for listings. */
    public String stateName() {
        if ((flags & CLOSING) != 0)
            return (flags & RESET) != 0 ? "RESET" : "CLOSED";
        if ((events & ESTABLISHED) == 0)
            return (events & CONNECT) != 0 ? "CONNECTING" : "ACCEPTED";
        if ((events & (FIN_SENT_0 | FIN_SENT_1)) != 0 || (events & (FIN_RCVD_0 | FIN_RCVD_1)) != 0)
            return "HALF_CLOSED";
        return "ESTABLISHED";
    }

    @Override
    public String summary() {
        return stateName() + " 0>1=" + bytes[0] + " 1>0=" + bytes[1] + " " + bitNames(events, EVENT_NAMES);
    }

    @Override
    public void describe(Map<String, String> out) {
        out.put("splice.state", stateName());
        out.put("splice.events", bitNames(events, EVENT_NAMES));
        out.put("splice.flags", bitNames(flags, FLAG_NAMES));
        out.put("splice.sock", sock[0] + " " + sock[1]);
        out.put("splice.pipes", pipeR[0] + ":" + pipeW[0] + " " + pipeR[1] + ":" + pipeW[1]);
        out.put("splice.epoll_events", "0x" + Integer.toHexString(epollEvents[0]) + " 0x"
            + Integer.toHexString(epollEvents[1]));
        out.put("splice.bytes_0_to_1", Long.toString(bytes[0]));
        out.put("splice.bytes_1_to_0", Long.toString(bytes[1]));
        out.put("splice.pending_0_to_1", Long.toString(pending[0]));
        out.put("splice.pending_1_to_0", Long.toString(pending[1]));
    }
}
