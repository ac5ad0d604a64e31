package io.penne.api.flow;

import java.util.Map;

/**
 * Per-flow state of a UDP pseudo-connection (flow type {@link FlowType#UDP}),
 * after passt's {@code struct udp_flow}: the sockets that carry it and when
 * it was last used. Kept here, not in the UDP handler, so a replacement
 * handler adopts live flows. Loop thread only.
 *
 * <p>A flow has a socket for each side that is not the guest's Layer 2
 * ({@link #sock}, indexed by side): a connected socket of its own for
 * flows a datagram from the guest (or from the namespace's loopback)
 * opened, or a forwarding listener shared with other flows ({@link #SHARED})
 * for flows opened by a datagram that arrived on one; datagrams on a
 * shared socket go out with {@code sendto()} to the side's endpoint.
 */
public final class UdpFlow extends FlowData {
    /** {@link #flags}: the socket of side 0 is a shared listener, not the flow's own. */
    public static final int SHARED0 = 1;
    /** {@link #flags}: the socket of side 1 is a shared listener. */
    public static final int SHARED1 = 2;
    /** {@link #flags}: a datagram went back towards the initiating side (passt's "reply seen"). */
    public static final int REPLIED = 4;
    /** {@link #flags}: the flow is over (socket error, closed): free at the next deferred scan. */
    public static final int CLOSED = 8;

    /** Socket of each side, -1 for the guest's Layer 2 side. */
    public final int[] sock = {-1, -1};
    public int flags;
    /** Loop time of the last datagram either way. */
    public long lastNanos;
    /** Datagrams and bytes received from each side. */
    public final long[] datagrams = new long[2];
    public final long[] bytes = new long[2];
    /** ICMP errors relayed to the initiating side. */
    public long icmpErrors;

    /** Whether side {@code s}'s socket is shared with other flows (a listener). */
    public boolean shared(int s) {
        return (flags & (s == 0 ? SHARED0 : SHARED1)) != 0;
    }

    @Override
    public void reset() {
        sock[0] = sock[1] = -1;
        flags = 0;
        lastNanos = 0;
        datagrams[0] = datagrams[1] = 0;
        bytes[0] = bytes[1] = 0;
        icmpErrors = 0;
    }

    /** The flow's own sockets; a shared listener is not the flow's to close. */
    @Override
    public void forEachFd(java.util.function.IntConsumer action) {
        for (int s = 0; s < 2; s++)
            if (sock[s] >= 0 && !shared(s))
                action.accept(sock[s]);
    }

    @Override
    public String summary() {
        return "dgrams " + datagrams[0] + "/" + datagrams[1] + " bytes " + bytes[0] + "/" + bytes[1]
            + ((flags & REPLIED) != 0 ? " replied" : "") + ((flags & CLOSED) != 0 ? " closed" : "");
    }

    @Override
    public void describe(Map<String, String> out) {
        out.put("sock0", String.valueOf(sock[0]));
        out.put("sock1", String.valueOf(sock[1]));
        out.put("flags", Integer.toString(flags));
        out.put("datagrams.ini", String.valueOf(datagrams[0]));
        out.put("datagrams.tgt", String.valueOf(datagrams[1]));
        out.put("bytes.ini", String.valueOf(bytes[0]));
        out.put("bytes.tgt", String.valueOf(bytes[1]));
        out.put("icmp_errors", String.valueOf(icmpErrors));
        out.put("last_nanos", String.valueOf(lastNanos));
    }
}
