package io.penne.core;

import io.penne.linux.Netlink;
import io.penne.linux.NetlinkAddress;
import io.penne.linux.NetlinkLink;
import io.penne.linux.NetlinkRoute;
import io.penne.linux.NetnsThread;
import io.penne.linux.Tap;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The guest's network namespace, its tap device and their configuration, as
 * pasta sets them up (pasta.c {@code pasta_ns_conf}, netlink.c).
 *
 * <p><b>Theory of operation.</b> A {@link NetnsThread} is started in a new
 * namespace (or joins an existing one, {@code --netns}); everything that must
 * exist inside is created by that thread: the tap device, a netlink socket.
 * The instance's loop then uses the tap descriptor from the host namespace.
 * Configuration, always: {@code lo} up, the tap's MAC set or read. With
 * {@code ns.configure} (pasta's {@code --config-net}, the default when penne
 * creates the namespace): MTU, link up, and for each enabled IP version the
 * host's "upstream" interface (that of its default route) is the template:
 * its global addresses and its routes through a gateway are copied to the
 * tap, so the guest sees the same addresses and gateway as the host (no
 * NAT). Explicit {@code address4}/{@code gateway4}/... replace what is copied.
 * An IP version whose template is missing (no default route) is left out
 * with a warning, as pasta does. Without {@code ns.configure} nothing is
 * applied, but the addresses are still recorded as the guest's, as pasta
 * knows them without {@code --config-net}: the guest takes them itself from
 * the addrconf bundle's DHCP, DHCPv6 and router advertisements, which read
 * {@code guest.address4/6}, {@code guest.prefix4/6}, {@code guest.gateway4/6},
 * {@code our.address6.ll} and {@code ns.configured} from what is recorded
 * here. IPv6 duplicate address detection is dodged with IFF_NOARP while
 * addresses go on and NODAD on the addresses; set-up then waits until the
 * kernel has made them local ({@link #awaitLocalRoutes}), which can lag.
 *
 * <p>The namespace thread also spawns the command that runs inside
 * ({@link #spawn}). Closing stops that thread; the tap descriptor belongs to
 * the instance's loop, which closes it when the instance stops.
 */
final class GuestNamespace implements io.penne.api.GuestNamespace, AutoCloseable {
    static final int AF_INET = 2;
    static final int AF_INET6 = 10;
    private static final int IFF_UP = 0x1;
    private static final int IFF_NOARP = 0x80;
    private static final System.Logger LOG = System.getLogger(GuestNamespace.class.getName());

    private final NetnsThread thread;
    private final Tap tap;
    private final int mtu;
    private final Map<String, Object> discovered;

    private GuestNamespace(NetnsThread thread, Tap tap, int mtu, Map<String, Object> discovered) {
        this.thread = thread;
        this.tap = tap;
        this.mtu = mtu;
        this.discovered = discovered;
    }

    /** Creates or joins the namespace, opens and configures the tap. Setup path; throws on failure. */
    static GuestNamespace open(String instance, NamespaceConfig c) {
        Template t4 = null, t6 = null;
        String upstream = null;
        try (Netlink host = Netlink.open()) {
            if (c.ipv4())
                t4 = Template.of(host, AF_INET, c.hostIfname4(), c.address4(), c.prefix4(), c.gateway4());
            if (c.ipv6())
                t6 = Template.of(host, AF_INET6, c.hostIfname6(), c.address6(), c.prefix6(), c.gateway6());
            for (Template t : new Template[] {t4, t6})
                if (t != null)
                    t.narrow(c.copyAddrs(), c.copyRoutes());
            upstream = upstreamName(host, t4, t6);
        }
        String ifname = c.ifname() != null ? c.ifname() : upstream != null ? upstream : "tap0";
        NetnsThread thread = c.isNew() ? NetnsThread.createNew("penne-ns-" + instance)
            : NetnsThread.join("penne-ns-" + instance, c.netns());
        try {
            Tap tap = c.tap() ? openTap(thread, ifname) : null; // none with --splice-only
            Map<String, Object> found = new LinkedHashMap<>();
            Template f4 = t4, f6 = t6;
            try {
                thread.call(() -> {
                    configure(c, tap, f4, f6, found);
                    return null;
                });
            } catch (RuntimeException e) {
                if (tap != null)
                    tap.close();
                throw e;
            }
            if (tap == null)
                return new GuestNamespace(thread, null, 0, found);
            found.put("ns.ifname", tap.name());
            return new GuestNamespace(thread, tap, c.mtu() == 0 ? NamespaceConfig.DEFAULT_MTU : c.mtu(), found);
        } catch (RuntimeException e) {
            thread.close();
            throw e;
        }
    }

    private static Tap openTap(NetnsThread thread, String ifname) {
        try {
            return thread.call(() -> Tap.open(ifname, true));
        } catch (io.penne.linux.SysException e) {
            if (e.errno() == io.penne.linux.Errno.EACCES || e.errno() == io.penne.linux.Errno.EPERM)
                throw new IllegalStateException(e.getMessage() + "; without root, /dev/net/tun must be"
                    + " readable and writable by all (mode 0666, Debian's default)", e);
            throw e;
        }
    }

    /** Lo up, sysctls, then the tap (if any) as {@code c} asks; what it learns goes into {@code found}. */
    private static void configure(NamespaceConfig c, Tap tap, Template t4, Template t6, Map<String, Object> found) {
        try (Netlink ns = Netlink.open()) {
            int lo = ns.linkIndex("lo");
            check(lo < 0 ? lo : ns.linkUp(lo), ns, "bring up lo");
            if (c.isNew()) {
                reuseTimeWaitPorts();
                allowRootPingSockets();
            }
            if (tap == null) { // --splice-only
                // Recorded so that forwarding listens for both IP versions, as pasta does without a tap.
                Template.record(t4, t6, found);
                found.put("ns.configured", "true");
                return;
            }
            int ifi = tap.ifindex();
            if (c.mac() != null)
                check(ns.linkSetMac(ifi, c.mac()), ns, "set the MAC address of " + tap.name());
            // Known from the start, so frames to the guest (an inbound SYN for -t) need not wait
            // until the guest has sent something to learn it from.
            byte[] mac = ns.linkMac(ifi);
            if (mac != null && mac.length == 6)
                found.put("guest.mac", java.util.HexFormat.ofDelimiter(":").formatHex(mac));
            // pasta's router advertisements are off once it configured the namespace itself (conf.c: no_ra).
            found.put("ns.configured", String.valueOf(c.configure()));
            if (!c.configure()) {
                // pasta without --config-net: the tap stays down and unconfigured, but the guest's
                // addresses are still the host's (pasta offers them by DHCP and NDP), so forwarding
                // (-t, -u) and address translation work once the guest takes them.
                Template.record(t4, t6, found);
                return;
            }
            if (c.mtu() != 0)
                check(ns.linkSetMtu(ifi, c.mtu()), ns, "set the MTU of " + tap.name());
            int flags = IFF_UP | (t6 != null ? IFF_NOARP : 0);
            check(ns.linkSetFlags(ifi, flags, flags), ns, "bring up " + tap.name());
            if (t4 != null)
                t4.apply(ns, ifi, "4", found);
            if (t6 != null) {
                t6.apply(ns, ifi, "6", found);
                check(ns.linkSetFlags(ifi, 0, IFF_NOARP), ns, "re-enable neighbour discovery on " + tap.name());
                awaitLocalRoutes(ns, t6.addresses, tap.name());
            }
        }
    }

    /** Longest wait for the kernel to make the guest's IPv6 addresses local (it can lag a second). */
    static final long IPV6_LOCAL_MS = 2_000;

    /**
     * Waits until each of {@code addresses} (IPv6) has its local route, so
     * that the namespace delivers to it locally. Why: an IPv6 address becomes
     * usable (its local route inserted) only when the kernel's address worker
     * finishes duplicate address detection for it, NODAD or not, and that
     * worker needs the routing lock; right after a network namespace was
     * deleted (the kernel's clean-up holds the lock) this lagged 200-600 ms
     * here, with the address already listed. A connection to the guest's own
     * address then (a spliced -t connection, made in the namespace) went out of
     * the tap, found no neighbour and failed with EHOSTUNREACH. pasta does not
     * wait. In the usual case the routes are there at once: one dump.
     */
    private static void awaitLocalRoutes(Netlink ns, List<byte[]> addresses, String name) {
        long start = System.nanoTime();
        long deadline = start + java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(IPV6_LOCAL_MS);
        for (int round = 0; ; round++) {
            List<NetlinkRoute> local = ns.routes(AF_INET6, Netlink.RT_TABLE_LOCAL);
            if (local == null)
                return; // cannot tell: carry on as before
            int missing = 0;
            for (byte[] a : addresses) {
                boolean found = false;
                for (NetlinkRoute r : local)
                    found |= r.type() == Netlink.RTN_LOCAL && r.destinationLength() == 128
                        && java.util.Arrays.equals(r.destination(), a);
                if (!found)
                    missing++;
            }
            if (missing == 0) {
                if (round > 0)
                    LOG.log(Level.DEBUG, name + ": waited " + (System.nanoTime() - start) / 1_000_000
                        + " ms for the kernel to make the IPv6 addresses local");
                return;
            }
            if (System.nanoTime() > deadline) {
                LOG.log(Level.WARNING, name + ": " + missing + " IPv6 address(es) still not local after "
                    + IPV6_LOCAL_MS + " ms; going on");
                return;
            }
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /**
     * In a namespace penne creates, lets the namespace's root use ICMP echo ("ping") sockets, as
     * pasta does for the command it starts: a new namespace starts with none allowed ("1 0").
     */
    private static void allowRootPingSockets() {
        if (!io.penne.linux.Sysctl.write("net/ipv4/ping_group_range", "0 0"))
            LOG.log(Level.DEBUG, "cannot set net.ipv4.ping_group_range in the namespace");
    }

    /**
     * In a namespace penne creates, lets outgoing connections reuse ports held by TIME_WAIT
     * sockets (tcp_tw_reuse 1, with timestamps, after a second) for any destination, not only
     * loopback (the default 2). Why: a connection spliced from the host's loopback is connected
     * inside the namespace to the guest's own address, as pasta does (so services listening only
     * on the namespace's loopback are not exposed), and penne's socket there closes first when the
     * host client does. Its TIME_WAIT then holds the port for 60 s, and with the default the kernel
     * may not reuse it for a non-loopback destination: at a few thousand connections a second,
     * connect() spent most of penne's time scanning for a free port (CRR 0.70x pasta), and the
     * range would run out after about ten seconds. A namespace penne only joins is left alone.
     */
    private static void reuseTimeWaitPorts() {
        if (!io.penne.linux.Sysctl.write("net/ipv4/tcp_tw_reuse", "1"))
            LOG.log(Level.DEBUG, "cannot set net.ipv4.tcp_tw_reuse in the namespace");
    }

    private static void check(int rc, Netlink nl, String what) {
        if (rc < 0) {
            String detail = nl.lastErrorMessage();
            throw new IllegalStateException("cannot " + what + ": " + io.penne.linux.Errno.describe(-rc)
                + (detail == null || detail.isEmpty() ? "" : " (" + detail + ")"));
        }
    }

    private static String upstreamName(Netlink host, Template t4, Template t6) {
        int ifi = t4 != null && t4.hostIfindex > 0 ? t4.hostIfindex : t6 != null ? t6.hostIfindex : -1;
        if (ifi <= 0)
            return null;
        List<NetlinkLink> links = host.links();
        if (links != null)
            for (NetlinkLink l : links)
                if (l.index() == ifi)
                    return l.name();
        return null;
    }

    /** What one IP version copies from the host, or is told explicitly. */
    private static final class Template {
        final int family;
        final int hostIfindex;
        final List<byte[]> addresses = new ArrayList<>();
        final List<Integer> prefixes = new ArrayList<>();
        final List<NetlinkRoute> routes = new ArrayList<>();
        byte[] gateway;
        /** The host interface's IPv6 link-local address, if any: penne's own towards the guest (passt's our_tap_ll). */
        byte[] linkLocal;

        private Template(int family, int hostIfindex) {
            this.family = family;
            this.hostIfindex = hostIfindex;
        }

        /**
         * pasta's --no-copy-addrs (the first address only) and --no-copy-routes
         * (no routes copied: only the default one, via the gateway, is set up).
         */
        void narrow(boolean copyAddrs, boolean copyRoutes) {
            if (!copyAddrs)
                while (addresses.size() > 1) {
                    addresses.remove(addresses.size() - 1);
                    prefixes.remove(prefixes.size() - 1);
                }
            if (!copyRoutes)
                routes.clear();
        }

        /** Null (with a warning) when the host has nothing to copy and nothing was given. */
        static Template of(Netlink host, int family, String hostIfname, byte[] address, int prefix,
                           byte[] gateway) {
            String v = family == AF_INET ? "IPv4" : "IPv6";
            int ifi;
            if (hostIfname != null) { // pasta's -i: this interface, whether or not a default route uses it
                ifi = host.linkIndex(hostIfname);
                if (ifi < 0)
                    throw new IllegalArgumentException("no host interface '" + hostIfname + "' (-i, --interface, --outbound-if"
                        + (family == AF_INET ? "4" : "6") + ")");
                if (address == null && gateway == null && !hasAddress(host, ifi, family)) {
                    LOG.log(Level.WARNING, "no " + v + " address on " + hostIfname + ": " + v
                        + " disabled in the namespace");
                    return null;
                }
            } else {
                ifi = host.defaultRouteIfindex(family);
            }
            if (ifi < 0 && (address == null || gateway == null)) {
                LOG.log(Level.WARNING, "no " + v + " default route on the host: " + v + " disabled in the namespace");
                return null;
            }
            Template t = new Template(family, ifi);
            if (family == AF_INET6)
                for (NetlinkAddress a : host.addresses(family))
                    if (a.ifindex() == ifi && a.scope() == Netlink.RT_SCOPE_LINK && t.linkLocal == null)
                        t.linkLocal = a.address();
            if (address != null) {
                t.addresses.add(address);
                t.prefixes.add(prefix > 0 ? prefix : family == AF_INET ? hostPrefix(host, ifi, family, 24) : 64);
            } else {
                for (NetlinkAddress a : host.addresses(family))
                    if (a.ifindex() == ifi && a.scope() == Netlink.RT_SCOPE_UNIVERSE && !a.isDeprecated()) {
                        t.addresses.add(a.address());
                        t.prefixes.add(prefix > 0 ? prefix : a.prefixLength());
                    }
            }
            if (gateway != null) {
                t.gateway = gateway;
            } else {
                for (NetlinkRoute r : host.routes(family))
                    if (r.oif() == ifi && r.gateway() != null) {
                        t.routes.add(r);
                        if (r.destinationLength() == 0 && t.gateway == null)
                            t.gateway = r.gateway();
                    }
            }
            return t;
        }

        private static boolean hasAddress(Netlink host, int ifi, int family) {
            for (NetlinkAddress a : host.addresses(family))
                if (a.ifindex() == ifi && a.scope() == Netlink.RT_SCOPE_UNIVERSE)
                    return true;
            return false;
        }

        private static int hostPrefix(Netlink host, int ifi, int family, int dflt) {
            for (NetlinkAddress a : host.addresses(family))
                if (a.ifindex() == ifi && a.scope() == Netlink.RT_SCOPE_UNIVERSE)
                    return a.prefixLength();
            return dflt;
        }

        /**
         * The guest's address, prefix length and gateway of this version, as
         * {@link #apply} would configure them (and DHCP, DHCPv6 and router
         * advertisements hand out), and for IPv6 penne's link-local address
         * towards the guest: the gateway's if that is link-local (so the
         * guest's default route names the host's router), else the host
         * interface's, else fe80::1, as passt picks its {@code our_tap_ll}.
         */
        void record(String v, Map<String, Object> found) {
            if (!addresses.isEmpty()) {
                found.putIfAbsent("guest.address" + v, text(addresses.get(0)));
                found.putIfAbsent("guest.prefix" + v, String.valueOf(prefixes.get(0)));
            }
            if (gateway != null)
                found.put("guest.gateway" + v, text(gateway));
            if (family == AF_INET6) {
                boolean gatewayLl = gateway != null && (gateway[0] & 0xff) == 0xfe && (gateway[1] & 0xc0) == 0x80;
                if (hostIfindex > 0) // the scope of the guest's link-local destinations on the host (Nat.scope)
                    found.putIfAbsent("host.ifindex6", String.valueOf(hostIfindex));
                found.putIfAbsent("our.address6.ll", gatewayLl ? text(gateway)
                    : linkLocal != null ? text(linkLocal) : "fe80::1");
            }
        }

        /** {@link #record} for both IP versions, each if enabled. */
        static void record(Template t4, Template t6, Map<String, Object> found) {
            if (t4 != null)
                t4.record("4", found);
            if (t6 != null)
                t6.record("6", found);
        }

        void apply(Netlink ns, int ifi, String v, Map<String, Object> found) {
            for (int i = 0; i < addresses.size(); i++) {
                int rc = ns.addrAdd(ifi, addresses.get(i), prefixes.get(i));
                if (rc != -io.penne.linux.Errno.EEXIST)
                    check(rc, ns, "add address " + text(addresses.get(i)) + "/" + prefixes.get(i));
            }
            if (routes.isEmpty() && gateway != null) {
                check(ns.routeAddDefault(ifi, gateway), ns, "add the default route via " + text(gateway));
            } else {
                // Default route first: other gateway routes may need it to be reachable.
                routes.sort((a, b) -> Integer.compare(a.destinationLength(), b.destinationLength()));
                for (NetlinkRoute r : routes) {
                    int rc = r.destinationLength() == 0 ? ns.routeAddDefault(ifi, r.gateway())
                        : ns.routeAdd(ifi, r.destination(), r.destinationLength(), r.gateway(), r.priority());
                    if (rc != -io.penne.linux.Errno.EEXIST)
                        check(rc, ns, "copy a route via " + text(r.gateway()));
                }
            }
            record(v, found);
        }
    }

    static String text(byte[] a) {
        try {
            return InetAddress.getByAddress(a).getHostAddress();
        } catch (IOException e) {
            throw new IllegalArgumentException(e);
        }
    }

    /** False with --splice-only: no tap, so no device to attach. */
    boolean hasTap() {
        return tap != null;
    }

    int tapFd() {
        return tap.fd();
    }

    /** Bytes of virtio-net header before each frame on the tap (see {@link Tap#open(String, boolean)}). */
    int vnetHdrLen() {
        return tap.vnetHdrLen();
    }

    int mtu() {
        return mtu;
    }

    String ifname() {
        return tap.name();
    }

    /** Addresses and names found while configuring: guest.address4, guest.gateway6, ns.ifname ... */
    Map<String, Object> discovered() {
        return discovered;
    }

    /** Starts {@code pb}'s process inside the namespace. */
    Process spawn(ProcessBuilder pb) throws IOException {
        return thread.spawn(pb);
    }

    /** Runs {@code task} on the namespace thread (e.g. to open a socket there). */
    @Override
    public <T> T call(java.util.concurrent.Callable<T> task) {
        return thread.call(task);
    }

    @Override
    public void close() {
        thread.close();
    }
}
