package io.penne.api.flow;

import java.util.Map;

/**
 * Per-flow state of an ICMP or ICMPv6 echo flow (flow types
 * {@link FlowType#PING4}, {@link FlowType#PING6}), after passt's
 * {@code struct icmp_ping_flow}: the host's ping socket, whose port is the
 * echo identifier the host uses, and the guest's own identifier (the TAP
 * side's ports), restored in replies. Loop thread only.
 */
public final class PingFlow extends FlowData {
    /** The ping socket ({@code SOCK_DGRAM}, {@code IPPROTO_ICMP[V6]}), -1 if none. */
    public int sock = -1;
    /** Loop time of the last request or reply. */
    public long lastNanos;
    /** Echo requests sent, replies received. */
    public long requests, replies;
    /** Sequence number of the last request. */
    public int lastSeq;

    @Override
    public void reset() {
        sock = -1;
        lastNanos = 0;
        requests = replies = 0;
        lastSeq = 0;
    }

    @Override
    public void forEachFd(java.util.function.IntConsumer action) {
        if (sock >= 0)
            action.accept(sock);
    }

    @Override
    public String summary() {
        return "requests " + requests + " replies " + replies + " seq " + lastSeq;
    }

    @Override
    public void describe(Map<String, String> out) {
        out.put("sock", String.valueOf(sock));
        out.put("requests", String.valueOf(requests));
        out.put("replies", String.valueOf(replies));
        out.put("last_seq", String.valueOf(lastSeq));
        out.put("last_nanos", String.valueOf(lastNanos));
    }
}
