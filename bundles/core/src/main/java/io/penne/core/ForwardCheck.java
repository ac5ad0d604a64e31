package io.penne.core;

import io.penne.api.PortSpec;
import io.penne.api.flow.InetAddr;
import io.penne.linux.Errno;
import io.penne.linux.NativeBuffer;
import io.penne.linux.Sockets;
import io.penne.linux.Sys;
import java.util.List;
import java.util.Map;

/**
 * Refuses to start an instance whose explicitly forwarded ports cannot be
 * listened on, as pasta does (passt's fwd_sync_one: a failed listen on a
 * forward that is not "all", "auto" or exclusions only is fatal), so that
 * {@code penne -t 80} with port 80 taken fails at once with a message
 * instead of running without the forward.
 *
 * <p>The TCP handler opens the real listening sockets when it attaches; this
 * check binds each port the same way (same address, {@code SO_REUSEADDR},
 * IPv6 only on IPv6 sockets, {@code IP_FREEBIND} with --freebind, the
 * families the guest has addresses in),
 * listens, and closes again before the instance starts. A port taken in the
 * moment between the two is still only logged and counted by the handler.
 */
final class ForwardCheck {
    private ForwardCheck() {
    }

    /**
     * @param properties the instance's properties with the addresses found while
     *                   configuring the namespace ({@code guest.address4/6})
     * @throws IllegalArgumentException naming the option and port that cannot be listened on
     */
    static void check(Map<String, Object> properties) {
        Object fwd = properties.get(PortSpec.TCP_PROPERTY);
        if (fwd == null)
            return;
        boolean v4ok = properties.get("guest.address4") != null, v6ok = properties.get("guest.address6") != null;
        List<PortSpec> specs = PortSpec.parseList(fwd.toString());
        boolean freebind = "true".equals(String.valueOf(properties.get("freebind")));
        NativeBuffer scratch = NativeBuffer.allocate(Sys.SOCKADDR_SCRATCH_SIZE);
        for (PortSpec spec : specs) {
            if (spec.isAll() || spec.isNone() || spec.isAuto())
                continue;
            long[] bind = spec.addressBits();
            for (int port : spec.ports()) {
                for (int fam = 0; fam < 2; fam++) {
                    boolean v4 = fam == 0;
                    if (bind != null ? InetAddr.isV4(bind[0], bind[1]) != v4 : !(v4 ? v4ok : v6ok))
                        continue;
                    int r = tryListen(v4, bind, spec.iface(), port, freebind, scratch);
                    if (r < 0)
                        throw new IllegalArgumentException("-t " + spec.text() + ": cannot listen on "
                            + (v4 ? "IPv4" : "IPv6") + " TCP port " + port + ": " + Errno.describe(-r));
                }
            }
        }
    }

    private static int tryListen(boolean v4, long[] bind, String iface, int port, boolean freebind,
                                 NativeBuffer scratch) {
        int s = Sockets.tcp(v4 ? Sockets.AF_INET : Sockets.AF_INET6);
        if (s < 0)
            return v4 ? s : 0; // no IPv6 on this host: the handler will not forward IPv6 either
        try {
            int r = Sockets.bindForwarded(s, v4, bind, iface, port, freebind, scratch);
            if (r == 0)
                r = Sockets.listen(s, 1);
            return r;
        } finally {
            Sys.close(s);
        }
    }
}
