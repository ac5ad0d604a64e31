package io.penne.tcp;

import io.penne.linux.Sysctl;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * How long the TCP handler waits for the guest, and how often it tries again
 * (passt's tcp_timer_ctl and tcp_timer_handler, RFC 6298).
 *
 * <p><b>Retransmission timeout.</b> One second at first (RFC 6298 2.1), doubled
 * on each timeout in a row, at most {@code tcp_rto_max_ms} (the host's
 * sysctl, 120 s by default). During the handshake the first
 * {@code tcp_syn_linear_timeouts} (4) timeouts do not double, as the host
 * kernel does for its own SYNs, and the handshake gives up after
 * {@code tcp_syn_retries + tcp_syn_linear_timeouts} tries (the kernel's
 * count, capped at {@value #MAX_RETRIES}); an established connection gives up
 * after {@value #MAX_RETRIES} timeouts without progress (1 + 2 + ... + 64 s,
 * about two minutes). If the handshake needed retries, data retransmissions
 * start from three seconds (RFC 6298 5.7). Giving up resets the connection
 * both ways.
 *
 * <p><b>Keepalive and inactivity.</b> A connection on which the guest sent
 * nothing for {@code keepalive} seconds (30) gets a keepalive (an ACK one
 * byte behind): a guest that forgot the connection answers with a RST, so
 * penne does not keep flows the guest no longer has. A connection with no
 * traffic at all for {@code inactivity} seconds (7200, as passt) is reset.
 * Both are instance properties ({@value #KEEPALIVE_PROPERTY},
 * {@value #INACTIVITY_PROPERTY}), mostly for tests.
 */
final class TcpTimeouts {
    static final String KEEPALIVE_PROPERTY = "tcp.keepalive_interval";
    static final String INACTIVITY_PROPERTY = "tcp.inactivity_timeout";
    /** Timeouts in a row before giving up (passt's TCP_MAX_RETRIES). */
    static final int MAX_RETRIES = 7;
    static final long RTO_INIT = TimeUnit.SECONDS.toNanos(1);
    static final long RTO_INIT_AFTER_SYN_RETRIES = TimeUnit.SECONDS.toNanos(3);

    final int synRetries;
    final int synLinearTimeouts;
    final long rtoMax;
    final long keepalive;
    final long inactivity;

    TcpTimeouts(int synRetries, int synLinearTimeouts, long rtoMaxNanos, long keepaliveNanos, long inactivityNanos) {
        this.synRetries = synRetries;
        this.synLinearTimeouts = synLinearTimeouts;
        this.rtoMax = rtoMaxNanos;
        this.keepalive = keepaliveNanos;
        this.inactivity = inactivityNanos;
    }

    /** From the host's sysctls (kernel defaults where one is missing) and the instance's properties. */
    static TcpTimeouts of(Map<String, Object> properties) {
        return new TcpTimeouts(
            Math.min(sysctl("tcp_syn_retries", 6), 127),
            sysctl("tcp_syn_linear_timeouts", 4),
            TimeUnit.MILLISECONDS.toNanos(Math.max(sysctl("tcp_rto_max_ms", 120_000), 1000)),
            TimeUnit.SECONDS.toNanos(seconds(properties, KEEPALIVE_PROPERTY, 30)),
            TimeUnit.SECONDS.toNanos(seconds(properties, INACTIVITY_PROPERTY, 7200)));
    }

    /** Retransmission timeout after {@code retries} timeouts in a row. */
    long rto(int retries, boolean established, boolean synRetried) {
        int exp = retries;
        long timeout = RTO_INIT;
        if (!established)
            exp -= synLinearTimeouts;
        else if (synRetried)
            timeout = RTO_INIT_AFTER_SYN_RETRIES;
        exp = Math.max(exp, 0);
        if (exp >= 62 || timeout << exp > rtoMax || timeout << exp <= 0)
            return rtoMax;
        return timeout << exp;
    }

    /** Timeouts after which the connection is reset. */
    int maxRetries(boolean established) {
        return established ? MAX_RETRIES : Math.min(MAX_RETRIES, synRetries + synLinearTimeouts);
    }

    /**
     * A positive whole number of seconds, or the default when absent.
     *
     * @throws IllegalArgumentException naming the property, for anything else
     */
    static int seconds(Map<String, Object> properties, String key, int dflt) {
        Object v = properties.get(key);
        if (v == null)
            return dflt;
        try {
            int n = Integer.parseInt(v.toString().trim());
            if (n > 0)
                return n;
        } catch (NumberFormatException e) {
            // below
        }
        throw new IllegalArgumentException("bad value for '" + key + "': '" + v + "' (expected seconds, > 0)");
    }

    private static int sysctl(String name, int dflt) {
        return Sysctl.readInt("net/ipv4/" + name, dflt);
    }
}
