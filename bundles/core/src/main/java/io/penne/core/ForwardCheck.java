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
 *
 * <p>It also refuses forwards that need more listening sockets than the
 * open-files limit leaves room for, as pasta does ("Can't open enough sockets
 * for port specifier"): {@code -t ~22} is one socket per family for each of
 * some 37,000 non-ephemeral ports, and a limit of 20,000 would otherwise be
 * hit half way, leaving no descriptor for connections or for starting the
 * command.
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
        checkDescriptors(properties, openFilesLimit(), openDescriptors());
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

    /** Descriptors kept free for the tap, epoll, the splice pools, connections and starting the command. */
    static final int RESERVE = 256;

    /**
     * Refuses forwards whose listening sockets would not fit under {@code limit}
     * with {@code open} descriptors already open and {@link #RESERVE} kept free.
     * Counts what the handlers open: per port, one socket on a spec's address, else
     * one per family the guest has an address in ({@code -t}, {@code -u}), or one
     * per loopback address ({@code -T}, {@code -U}); {@code all} and exclusions
     * skip the ephemeral range; {@code auto} binds only what the namespace uses
     * and is not counted.
     *
     * @param limit the open-files limit, or a negative value if unknown (no check)
     * @throws IllegalArgumentException naming the options, the count and the limit
     */
    static void checkDescriptors(Map<String, Object> properties, long limit, long open) {
        if (limit < 0)
            return;
        int families = (properties.get("guest.address4") != null ? 1 : 0)
            + (properties.get("guest.address6") != null ? 1 : 0);
        int[] eph = io.penne.linux.Sysctl.ephemeralPorts();
        long needed = 0;
        StringBuilder named = new StringBuilder();
        String[][] options = {{PortSpec.TCP_PROPERTY, "-t"}, {PortSpec.UDP_PROPERTY, "-u"},
            {PortSpec.TCP_NS_PROPERTY, "-T"}, {PortSpec.UDP_NS_PROPERTY, "-U"}};
        for (String[] o : options) {
            Object fwd = properties.get(o[0]);
            if (fwd == null)
                continue;
            boolean hostSide = o[1].equals("-t") || o[1].equals("-u");
            for (PortSpec spec : PortSpec.parseList(fwd.toString())) {
                if (spec.isNone() || spec.isAuto())
                    continue;
                long ports = 0;
                for (int port : spec.ports())
                    if (!spec.skipsEphemeral(port, eph))
                        ports++;
                long n = ports * (spec.address() != null ? 1 : hostSide ? families : 2);
                if (n > 1000)
                    named.append(named.length() == 0 ? "" : ", ").append(o[1]).append(' ').append(spec.text());
                needed += n;
            }
        }
        long free = limit - open - RESERVE;
        if (needed > free)
            throw new IllegalArgumentException("cannot open enough sockets for the forwarded ports"
                + (named.length() == 0 ? "" : " (" + named + ")") + ": they need " + needed
                + " listening sockets, more than the open-files limit (RLIMIT_NOFILE, 'ulimit -n') of " + limit
                + " leaves room for; raise the limit or forward fewer ports");
    }

    /** The soft open-files limit of this process, from /proc/self/limits; -1 if unknown or unlimited. */
    static long openFilesLimit() {
        try {
            for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/self/limits"))) {
                if (line.startsWith("Max open files")) {
                    String soft = line.substring("Max open files".length()).trim().split("\\s+")[0];
                    return soft.equals("unlimited") ? -1 : Long.parseLong(soft);
                }
            }
        } catch (java.io.IOException | RuntimeException e) {
            // no procfs: no check
        }
        return -1;
    }

    /** Descriptors this process has open now. */
    static long openDescriptors() {
        try (java.util.stream.Stream<java.nio.file.Path> fds = java.nio.file.Files.list(java.nio.file.Path.of("/proc/self/fd"))) {
            return fds.count();
        } catch (java.io.IOException | RuntimeException e) {
            return 0;
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
