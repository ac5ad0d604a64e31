package io.penne.api.flow;

import java.util.Map;

/**
 * Per-flow state of a TCP connection between the guest's Layer 2 and a host
 * socket (flow type {@link FlowType#TCP}), after passt's {@code struct
 * tcp_tap_conn}. It lives here, not in the TCP handler bundle, so a
 * replacement handler adopts open connections.
 *
 * <p>Sequence numbers are 32-bit and wrap; compare them with
 * {@link #seqLt}/{@link #seqLe}, never with {@code <}. Naming follows passt:
 * "to tap" is towards the guest, "from tap" is from the guest.
 *
 * <p>{@link #events} holds what has happened to the connection (bits named
 * below, passt's "events"), {@link #flags} what is pending. The fields are
 * public for the handler's data path; only the loop thread touches them.
 */
public final class TcpConn extends FlowData {
    // ---- events ----
    /** SYN received from the guest (outbound: host socket connecting; inbound: its SYN, ACK). */
    public static final int TAP_SYN_RCVD = 1;
    /** SYN, ACK sent to the guest (host socket connected). */
    public static final int TAP_SYN_ACK_SENT = 1 << 1;
    /** The guest acknowledged our SYN, ACK. */
    public static final int ESTABLISHED = 1 << 2;
    /** End of stream seen on the host socket (EPOLLRDHUP, or a read of 0). */
    public static final int SOCK_FIN_RCVD = 1 << 3;
    /** Write side of the host socket shut down (after the guest's FIN). */
    public static final int SOCK_FIN_SENT = 1 << 4;
    /** FIN received from the guest, in sequence. */
    public static final int TAP_FIN_RCVD = 1 << 5;
    /** FIN sent to the guest. */
    public static final int TAP_FIN_SENT = 1 << 6;
    /** The guest acknowledged our FIN. */
    public static final int TAP_FIN_ACKED = 1 << 7;
    /** Connection over (reset, refused, or both directions closed): free at the next deferred scan. */
    public static final int CLOSED = 1 << 8;
    /** Inbound: accepted from a listening host socket, SYN sent to the guest (passt's SOCK_ACCEPTED). */
    public static final int SOCK_ACCEPTED = 1 << 9;

    // ---- flags ----
    /** An ACK to the guest is owed (data or FIN accepted, window changed). */
    public static final int ACK_TO_TAP_DUE = 1;
    /** Data (or a FIN) sent to the guest is not acknowledged yet. */
    public static final int ACK_FROM_TAP_DUE = 1 << 1;
    /** The host socket refused data: EPOLLOUT wanted, window update owed when it drains. */
    public static final int SNDBUF_FULL = 1 << 2;
    /** Sending to the guest stopped at the guest's window, with socket data possibly left. */
    public static final int STALLED = 1 << 3;
    /** Send a duplicate ACK along with the next ACK (partial write, out-of-order segment). */
    public static final int DUP_ACK = 1 << 4;
    /** The host socket peeks from {@code SO_PEEK_OFF}, so peeks return only data not yet sent. */
    public static final int PEEK_OFFSET = 1 << 5;
    /** On the handler's list of flows touched by the current packet batch. */
    public static final int IN_BATCH = 1 << 6;
    /** The guest offered window scaling, and we answered with our own factor. */
    public static final int WS_OK = 1 << 7;
    /** On the handler's list of flows whose advertised window is re-checked shortly (the socket may drain). */
    public static final int WND_WATCH = 1 << 8;
    /** Our SYN or SYN, ACK was sent again: later data retransmissions start from a longer timeout (RFC 6298 5.7). */
    public static final int SYN_RETRIED = 1 << 9;
    /** {@code SO_KEEPALIVE} is on for the host socket (the guest sends keepalives, so the host peer gets them too). */
    public static final int SOCK_KEEPALIVE = 1 << 10;

    private static final String[] EVENT_NAMES = {"TAP_SYN_RCVD", "TAP_SYN_ACK_SENT", "ESTABLISHED",
        "SOCK_FIN_RCVD", "SOCK_FIN_SENT", "TAP_FIN_RCVD", "TAP_FIN_SENT", "TAP_FIN_ACKED", "CLOSED", "SOCK_ACCEPTED"};
    private static final String[] FLAG_NAMES = {"ACK_TO_TAP_DUE", "ACK_FROM_TAP_DUE", "SNDBUF_FULL", "STALLED",
        "DUP_ACK", "PEEK_OFFSET", "IN_BATCH", "WS_OK", "WND_WATCH", "SYN_RETRIED", "SOCK_KEEPALIVE"};

    /** Event bits (see constants). */
    public int events;
    /** Flag bits (see constants). */
    public int flags;
    /** The host socket, or -1. */
    public int sock = -1;
    /** epoll events the socket is registered with now. */
    public int epollEvents;

    /** Next sequence number to send to the guest. */
    public int seqToTap;
    /** Highest ACK number received from the guest. */
    public int seqAckFromTap;
    /** Next sequence number expected from the guest. */
    public int seqFromTap;
    /** Last ACK number sent to the guest. */
    public int seqAckToTap;
    /** Highest sequence number sent to the guest so far (after it, sending is not a retransmission). */
    public int seqMaxToTap;
    /** Our initial sequence number towards the guest. */
    public int seqInitToTap;
    /** The guest's initial sequence number. */
    public int seqInitFromTap;

    /** The guest's receive window in bytes (scaled). */
    public int wndFromTap;
    /** Window scale the guest uses (shift for its window field). */
    public int wsFromTap;
    /** Window we last advertised to the guest, in bytes (before scaling). */
    public int wndToTap;
    /** Window scale we announced to the guest. */
    public int wsToTap;
    /** Largest payload per segment to the guest. */
    public int mss;

    /** Bytes written to the host socket (guest to host). */
    public long bytesFromTap;
    /** Bytes sent to the guest (host to guest), first transmissions only. */
    public long bytesToTap;
    /** Bytes sent to the guest again after a timeout or duplicate ACKs. */
    public long bytesRetransmitted;

    /** Duplicate ACKs in a row from the guest. */
    public int dupAcks;
    /** Window re-checks since the last window update (bounded, see {@link #WND_WATCH}). */
    public int wndChecks;
    /** Retransmission timeouts in a row without the guest's ACK advancing (the backoff exponent). */
    public int retries;
    /**
     * {@link System#nanoTime()} at which the retransmission timer expires, 0
     * when it is not running. It runs while something sent to the guest (SYN,
     * data, FIN) is unacknowledged, and while its window is zero (then
     * expiring is a window probe).
     */
    public long rtoAt;
    /** {@link System#nanoTime()} of the last segment from the guest (keepalives are sent after a quiet interval). */
    public long tapActiveNanos;
    /** {@link System#nanoTime()} of the last segment from the guest or event on the socket (inactivity timeout). */
    public long activeNanos;
    /** {@link System#nanoTime()} of the last keepalive sent to the guest, 0 if none. */
    public long keepaliveNanos;

    @Override
    public void reset() {
        events = flags = 0;
        sock = -1;
        epollEvents = 0;
        seqToTap = seqAckFromTap = seqFromTap = seqAckToTap = seqMaxToTap = seqInitToTap = seqInitFromTap = 0;
        wndFromTap = wsFromTap = wndToTap = wsToTap = mss = 0;
        bytesFromTap = bytesToTap = bytesRetransmitted = 0;
        dupAcks = retries = wndChecks = 0;
        rtoAt = tapActiveNanos = activeNanos = keepaliveNanos = 0;
    }

    @Override
    public void forEachFd(java.util.function.IntConsumer action) {
        if (sock >= 0)
            action.accept(sock);
    }

    /** {@code a} before {@code b} in sequence space. */
    public static boolean seqLt(int a, int b) {
        return a - b < 0;
    }

    /** {@code a} before or at {@code b} in sequence space. */
    public static boolean seqLe(int a, int b) {
        return a - b <= 0;
    }

    public boolean has(int event) {
        return (events & event) != 0;
    }

    /** Approximate TCP state name, from the events (as passt's tcp_state_str). */
    public String stateName() {
        if ((events & CLOSED) != 0)
            return "CLOSED";
        if ((events & ESTABLISHED) == 0 && (events & SOCK_ACCEPTED) != 0)
            return "SYN_SENT";
        if ((events & ESTABLISHED) == 0)
            return (events & TAP_SYN_ACK_SENT) != 0 ? "SYN_RCVD" : "CONNECTING";
        boolean tapFin = (events & TAP_FIN_RCVD) != 0, sockFin = (events & SOCK_FIN_RCVD) != 0;
        if (tapFin && sockFin)
            return "CLOSING";
        if (tapFin)
            return "CLOSE_WAIT";
        if (sockFin)
            return "FIN_WAIT";
        return "ESTABLISHED";
    }

    @Override
    public String summary() {
        return stateName() + " in=" + bytesFromTap + " out=" + bytesToTap;
    }

    @Override
    public void describe(Map<String, String> out) {
        out.put("tcp.state", stateName());
        out.put("tcp.events", bitNames(events, EVENT_NAMES));
        out.put("tcp.flags", bitNames(flags, FLAG_NAMES));
        out.put("tcp.sock", Integer.toString(sock));
        out.put("tcp.epoll_events", "0x" + Integer.toHexString(epollEvents));
        out.put("tcp.seq_to_tap", Integer.toUnsignedString(seqToTap));
        out.put("tcp.seq_ack_from_tap", Integer.toUnsignedString(seqAckFromTap));
        out.put("tcp.seq_from_tap", Integer.toUnsignedString(seqFromTap));
        out.put("tcp.seq_ack_to_tap", Integer.toUnsignedString(seqAckToTap));
        out.put("tcp.seq_init_to_tap", Integer.toUnsignedString(seqInitToTap));
        out.put("tcp.seq_init_from_tap", Integer.toUnsignedString(seqInitFromTap));
        out.put("tcp.wnd_from_tap", Integer.toString(wndFromTap));
        out.put("tcp.ws_from_tap", Integer.toString(wsFromTap));
        out.put("tcp.wnd_to_tap", Integer.toString(wndToTap));
        out.put("tcp.ws_to_tap", Integer.toString(wsToTap));
        out.put("tcp.mss", Integer.toString(mss));
        out.put("tcp.bytes_from_tap", Long.toString(bytesFromTap));
        out.put("tcp.bytes_to_tap", Long.toString(bytesToTap));
        out.put("tcp.bytes_retransmitted", Long.toString(bytesRetransmitted));
        out.put("tcp.in_flight_to_tap", Integer.toUnsignedString(seqToTap - seqAckFromTap));
        out.put("tcp.dup_acks", Integer.toString(dupAcks));
        out.put("tcp.retries", Integer.toString(retries));
        // Timers as "in N ms" / "N ms ago", relative to the nanoTime of this call.
        long now = System.nanoTime();
        out.put("tcp.timer.rto", rtoAt == 0 ? "off" : "in " + (rtoAt - now) / 1_000_000 + " ms");
        out.put("tcp.idle.guest", (now - tapActiveNanos) / 1_000_000 + " ms");
        out.put("tcp.idle", (now - activeNanos) / 1_000_000 + " ms");
        out.put("tcp.keepalive.last", keepaliveNanos == 0 ? "never" : (now - keepaliveNanos) / 1_000_000 + " ms ago");
    }
}
