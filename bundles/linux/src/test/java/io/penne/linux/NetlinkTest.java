package io.penne.linux;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Platform;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * {@link Netlink} against the real kernel. Everything that changes state runs
 * on a dedicated thread that first moved itself into a new, empty network
 * namespace ({@code unshare(CLONE_NEWNET)} affects the calling thread only),
 * so the host's configuration is never touched; those tests need root. The
 * host namespace is only read. {@code ip} (iproute2), when installed, is
 * spawned from the namespace thread as an independent cross-check: a child
 * inherits the network namespace of the thread that forks it.
 */
class NetlinkTest {
    private static final int CLONE_NEWNET = 0x40000000;

    /** Test-only binding: the bundle itself has no use for unshare. */
    static final class TestLibC {
        static {
            Native.register(TestLibC.class, NativeLibrary.getInstance(Platform.C_LIBRARY_NAME));
        }

        static native int unshare(int flags);
    }

    @FunctionalInterface
    interface NsBody<T> {
        T run() throws Exception;
    }

    /** Runs {@code body} on a new thread inside a new network namespace, rethrowing whatever it throws. */
    static <T> T inFreshNetns(NsBody<T> body) throws Throwable {
        assumeTrue(Sys.getuid() == 0, "needs root to create a network namespace");
        Object[] result = new Object[1];
        Throwable[] failure = new Throwable[1];
        Thread t = new Thread(() -> {
            try {
                int r = TestLibC.unshare(CLONE_NEWNET);
                int errno = Native.getLastError();
                assumeTrue(r == 0, "unshare(CLONE_NEWNET) failed: " + Errno.name(errno));
                result[0] = body.run();
            } catch (Throwable e) {
                failure[0] = e;
            }
        }, "netlink-test-netns");
        t.start();
        t.join(120_000);
        assertFalse(t.isAlive(), "namespace thread hung");
        if (failure[0] != null)
            throw failure[0];
        @SuppressWarnings("unchecked")
        T r = (T) result[0];
        return r;
    }

    /** A literal address as bytes (no name lookup happens for literals). */
    static byte[] ip(String text) {
        try {
            return InetAddress.getByName(text).getAddress();
        } catch (java.net.UnknownHostException e) {
            throw new IllegalArgumentException(text, e);
        }
    }

    /** Output of {@code ip args...} run from the calling thread (its netns), or null if iproute2 is missing. */
    static String ipCommand(String... args) throws IOException, InterruptedException {
        String[] cmd = new String[args.length + 1];
        cmd[0] = "ip";
        System.arraycopy(args, 0, cmd, 1, args.length);
        Process p;
        try {
            p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        } catch (IOException e) {
            return null;
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        return out;
    }

    /**
     * Creates a test link called {@code name}: a dummy if the kernel has the
     * driver, otherwise (e.g. a minimal VM kernel without modules) one end of
     * a veth pair, whose other end, named by the kernel ("vethN"), is brought
     * up so that {@code name} gets a carrier once it is up. Returns its index.
     */
    static int addTestLink(Netlink nl, String name) {
        int r = nl.linkAddDummy(name);
        if (r != -Errno.EOPNOTSUPP)
            return r;
        r = nl.linkAdd(name, "veth");
        if (r > 0)
            for (NetlinkLink l : nl.links())
                if (l.name().startsWith("veth"))
                    assertEquals(0, nl.linkUp(l.index()));
        return r;
    }

    static boolean hasAddress(List<NetlinkAddress> list, int ifindex, byte[] addr, int prefix) {
        return list.stream().anyMatch(a -> a.ifindex() == ifindex && java.util.Arrays.equals(a.address(), addr)
                && a.prefixLength() == prefix);
    }

    @Test
    void loopbackLookupAndUp() throws Throwable {
        inFreshNetns(() -> {
            try (Netlink nl = Netlink.open()) {
                int lo = nl.linkIndex("lo");
                assertTrue(lo > 0, Errno.name(lo));
                assertEquals(-Errno.ENODEV, nl.linkIndex("nope"));
                // proof that this is not the host: a fresh namespace has nothing but lo
                List<NetlinkLink> links = nl.links();
                assertNotNull(links, Errno.name(nl.lastDumpError()));
                assertEquals(1, links.size(), links.toString());
                assertEquals("lo", links.get(0).name());

                int flags = nl.linkFlags(lo);
                assertTrue(flags >= 0, Errno.name(flags));
                assertTrue((flags & Netlink.IFF_LOOPBACK) != 0);
                assertEquals(0, flags & Netlink.IFF_UP, "lo starts down in a new namespace");
                assertEquals(0, nl.linkUp(lo));
                assertTrue((nl.linkFlags(lo) & Netlink.IFF_UP) != 0);
                assertTrue(nl.links().get(0).isUp());
                String shown = ipCommand("-o", "link", "show", "lo");
                if (shown != null)
                    assertTrue(shown.contains("<LOOPBACK,UP"), shown);

                // the kernel configures 127.0.0.1/8 and ::1 on lo by itself
                List<NetlinkAddress> addrs = nl.addresses(0);
                assertTrue(hasAddress(addrs, lo, ip("127.0.0.1"), 8), addrs.toString());
                assertEquals(0, nl.linkDown(lo));
                assertEquals(0, nl.linkFlags(lo) & Netlink.IFF_UP);
            }
            return null;
        });
    }

    @Test
    void dummyLinkMtuAndMac() throws Throwable {
        inFreshNetns(() -> {
            try (Netlink nl = Netlink.open()) {
                int d0 = addTestLink(nl, "d0");
                assertTrue(d0 > 0, Errno.name(d0) + " " + nl.lastErrorMessage());
                assertEquals(d0, nl.linkIndex("d0"));
                assertEquals(-Errno.EEXIST, nl.linkAdd("d0", "veth"));

                assertEquals(0, nl.linkSetMtu(d0, 9000));
                assertEquals(9000, nl.linkMtu(d0));
                String shown = ipCommand("-o", "link", "show", "d0");
                if (shown != null)
                    assertTrue(shown.contains("mtu 9000"), shown);
                assertEquals(-Errno.ENODEV, nl.linkSetMtu(9999, 1500));

                byte[] mac = {0x02, 0x00, 0x00, (byte) 0xaa, (byte) 0xbb, (byte) 0xcc};
                assertEquals(0, nl.linkSetMac(d0, mac));
                byte[] got = new byte[6];
                assertEquals(6, nl.linkMac(d0, got));
                assertArrayEquals(mac, got);
                assertArrayEquals(mac, nl.linkMac(d0));
                assertEquals(-Errno.EMSGSIZE, nl.linkMac(d0, new byte[4]));
                if (shown != null)
                    assertTrue(ipCommand("-o", "link", "show", "d0").contains("02:00:00:aa:bb:cc"));
                // multicast bit set: the kernel refuses it, with an errno, not an exception
                int r = nl.linkSetMac(d0, new byte[] {0x01, 0, 0, 0, 0, 1});
                assertEquals(-Errno.EADDRNOTAVAIL, r);
                assertArrayEquals(mac, nl.linkMac(d0));

                assertEquals(0, nl.linkDelete(d0));
                assertEquals(-Errno.ENODEV, nl.linkIndex("d0"));
                assertNull(nl.linkMac(d0));
            }
            return null;
        });
    }

    @Test
    void addressesAndDefaultRoutes() throws Throwable {
        inFreshNetns(() -> {
            try (Netlink nl = Netlink.open()) {
                int d0 = addTestLink(nl, "d0");
                assertTrue(d0 > 0, Errno.name(d0));
                assertEquals(0, nl.linkUp(d0));

                byte[] v4 = ip("10.1.2.3"), v6 = ip("2001:db8::5");
                assertEquals(0, nl.addrAdd(d0, v4, 24));
                assertEquals(-Errno.EEXIST, nl.addrAdd(d0, v4, 24));
                assertEquals(0, nl.addrAdd(d0, v6, 64));
                List<NetlinkAddress> all = nl.addresses(0);
                assertNotNull(all);
                assertTrue(hasAddress(all, d0, v4, 24), all.toString());
                assertTrue(hasAddress(all, d0, v6, 64), all.toString());
                NetlinkAddress a6 = all.stream().filter(a -> a.ifindex() == d0 && a.prefixLength() == 64
                        && !a.isIpv4() && a.scope() == Netlink.RT_SCOPE_UNIVERSE).findFirst().orElseThrow();
                assertTrue((a6.flags() & Netlink.IFA_F_NODAD) != 0, a6.toString());
                assertEquals(0, a6.flags() & Netlink.IFA_F_TENTATIVE, "NODAD: usable at once");
                assertTrue(nl.addresses(Sockets.AF_INET).stream().allMatch(NetlinkAddress::isIpv4));
                assertTrue(nl.addresses(Sockets.AF_INET6).stream().noneMatch(NetlinkAddress::isIpv4));
                String shown = ipCommand("-o", "addr", "show", "dev", "d0");
                if (shown != null)
                    assertTrue(shown.contains("10.1.2.3/24") && shown.contains("2001:db8::5/64"), shown);

                // no default route yet
                assertEquals(-Errno.ENOENT, nl.defaultRouteIfindex(Sockets.AF_INET));
                assertEquals(-Errno.ENOENT, nl.defaultRouteIfindex(0));

                byte[] gw4 = ip("10.1.2.1"), gw6 = ip("2001:db8::1");
                assertEquals(0, nl.routeAddDefault(d0, gw4), nl.lastErrorMessage());
                assertEquals(-Errno.EEXIST, nl.routeAddDefault(d0, gw4));
                List<NetlinkRoute> r4 = nl.routes(Sockets.AF_INET);
                assertNotNull(r4);
                assertTrue(r4.stream().allMatch(r -> r.family() == Sockets.AF_INET
                        && r.table() == Netlink.RT_TABLE_MAIN), r4.toString());
                assertTrue(r4.stream().anyMatch(r -> r.isDefault() && java.util.Arrays.equals(gw4, r.gateway())
                        && r.oif() == d0 && r.protocol() == Netlink.RTPROT_BOOT), r4.toString());
                // the prefix route the kernel made for the address
                assertTrue(r4.stream().anyMatch(r -> r.destinationLength() == 24
                        && java.util.Arrays.equals(ip("10.1.2.0"), r.destination()) && r.gateway() == null
                        && r.oif() == d0), r4.toString());
                assertEquals(d0, nl.defaultRouteIfindex(Sockets.AF_INET));
                if (shown != null) {
                    String rs = ipCommand("route", "show", "default");
                    assertTrue(rs.contains("default via 10.1.2.1 dev d0"), rs);
                }

                assertEquals(-Errno.ENOENT, nl.defaultRouteIfindex(Sockets.AF_INET6));
                assertEquals(0, nl.routeAddDefault(d0, gw6), nl.lastErrorMessage());
                List<NetlinkRoute> r6 = nl.routes(Sockets.AF_INET6);
                assertTrue(r6.stream().anyMatch(r -> r.isDefault() && java.util.Arrays.equals(gw6, r.gateway())
                        && r.oif() == d0), r6.toString());
                assertTrue(r6.stream().allMatch(r -> r.family() == Sockets.AF_INET6));
                assertEquals(d0, nl.defaultRouteIfindex(Sockets.AF_INET6));
                List<NetlinkRoute> both = nl.routes(0);
                assertEquals(r4.size() + r6.size(), both.size(), both.toString());

                // an unreachable gateway is an errno (plus the kernel's explanation), not an exception
                int r = nl.routeAdd(d0, ip("10.9.0.0"), 16, ip("192.0.2.99"), 0);
                assertEquals(-Errno.ENETUNREACH, r, Errno.name(r));
                System.out.println("unreachable gateway: " + Errno.name(r) + " / " + nl.lastErrorMessage());

                // a non-default route with a metric, then gone again
                assertEquals(0, nl.routeAdd(d0, ip("10.9.0.0"), 16, gw4, 50));
                assertTrue(nl.routes(Sockets.AF_INET).stream().anyMatch(x -> x.destinationLength() == 16
                        && x.priority() == 50 && java.util.Arrays.equals(gw4, x.gateway())));
                assertEquals(0, nl.routeDelete(d0, ip("10.9.0.0"), 16, gw4, 50));
                assertTrue(nl.routes(Sockets.AF_INET).stream().noneMatch(x -> x.destinationLength() == 16));

                // a second default route with a lower metric wins
                int d1 = addTestLink(nl, "d1");
                assertEquals(0, nl.linkUp(d1));
                assertEquals(0, nl.addrAdd(d1, ip("10.2.0.1"), 24));
                // (the first IPv4 default has metric 0, the lowest there is: move it to 100)
                assertEquals(0, nl.routeDelete(d0, new byte[4], 0, gw4, 0));
                assertEquals(-Errno.ENOENT, nl.defaultRouteIfindex(Sockets.AF_INET));
                assertEquals(0, nl.routeAdd(d0, new byte[4], 0, gw4, 100));
                assertEquals(d0, nl.defaultRouteIfindex(Sockets.AF_INET));
                assertEquals(0, nl.routeAdd(d1, new byte[4], 0, ip("10.2.0.254"), 10));
                assertEquals(d1, nl.defaultRouteIfindex(Sockets.AF_INET));
                assertEquals(d0, nl.defaultRouteIfindex(Sockets.AF_INET6));
                assertEquals(d1, nl.defaultRouteIfindex(0), "10 < 1024");

                assertEquals(0, nl.addrDelete(d0, v4, 24));
                assertFalse(hasAddress(nl.addresses(Sockets.AF_INET), d0, v4, 24));
            }
            return null;
        });
    }

    @Test
    void invalidArgumentsAndClosedSocket() throws Throwable {
        inFreshNetns(() -> {
            Netlink nl = Netlink.open();
            assertEquals(-Errno.EINVAL, nl.linkIndex("sixteen-chars-xx"));
            assertEquals(-Errno.EINVAL, nl.linkIndex(""));
            assertEquals(-Errno.EINVAL, nl.addrAdd(1, new byte[5], 8));
            assertEquals(-Errno.EINVAL, nl.addrAdd(1, new byte[4], 33));
            assertEquals(-Errno.EINVAL, nl.routeAddDefault(1, null));
            assertEquals(-Errno.EINVAL, nl.routeAdd(1, new byte[4], 0, new byte[16], 0));
            assertEquals(-Errno.EINVAL, nl.linkAdd("x0", "k".repeat(64)));
            assertEquals(-Errno.ENODEV, nl.addrAdd(4242, ip("10.0.0.1"), 8));
            assertTrue(nl.linkAdd("x0", "nosuchkind") < 0);
            // still in sync after all those failures
            assertEquals(1, nl.linkIndex("lo"));
            nl.close();
            nl.close();
            assertEquals(-Errno.EBADF, nl.linkIndex("lo"));
            assertNull(nl.addresses(0));
            assertEquals(-Errno.EBADF, nl.lastDumpError());
            return null;
        });
    }

    /** A dump much larger than one datagram, read through a receive buffer smaller than one message. */
    @Test
    void largeDumpAndTinyReceiveBuffer() throws Throwable {
        inFreshNetns(() -> {
            try (Netlink nl = Netlink.open(64)) {
                int d0 = addTestLink(nl, "d0");
                assertTrue(d0 > 0);
                assertEquals(0, nl.linkUp(d0));
                int n = 1500;
                for (int i = 0; i < n; i++)
                    assertEquals(0, nl.addrAdd(d0, new byte[] {10, 7, (byte) (i >> 8), (byte) i}, 32));
                List<NetlinkAddress> got = nl.addresses(Sockets.AF_INET);
                assertNotNull(got, Errno.name(nl.lastDumpError()));
                assertEquals(n, got.stream().filter(a -> a.ifindex() == d0).count());
                List<NetlinkRoute> local = nl.routes(Sockets.AF_INET, Netlink.RT_TABLE_LOCAL);
                assertTrue(local.size() >= n, "local routes " + local.size());
                assertTrue(local.stream().allMatch(r -> r.table() == Netlink.RT_TABLE_LOCAL));
            }
            return null;
        });
    }

    /** The socket keeps acting on the namespace it was created in, whichever thread uses it. */
    @Test
    void socketStaysInItsNamespace() throws Throwable {
        Netlink guest = inFreshNetns(() -> {
            Netlink nl = Netlink.open();
            assertTrue(addTestLink(nl, "pnl-probe0") > 0);
            return nl;
        });
        try (guest; Netlink host = Netlink.open()) {
            // this thread is in the host namespace, the guest socket is not
            assertTrue(guest.linkIndex("pnl-probe0") > 0);
            assertEquals(-Errno.ENODEV, host.linkIndex("pnl-probe0"));
            assertTrue(guest.links().stream().anyMatch(l -> l.name().equals("pnl-probe0")));
            assertTrue(host.links().stream().noneMatch(l -> l.name().equals("pnl-probe0")));
        }
    }

    /** Read-only look at the namespace the tests run in: nothing is changed here. */
    @Test
    void hostNamespaceReadOnly() {
        try (Netlink nl = Netlink.open()) {
            List<NetlinkAddress> addrs = nl.addresses(0);
            assertNotNull(addrs, Errno.name(nl.lastDumpError()));
            int lo = nl.linkIndex("lo");
            assertTrue(lo > 0, Errno.name(lo));
            assertTrue(addrs.stream().anyMatch(a -> a.ifindex() == lo && a.isIpv4()
                    && a.address()[0] == 127 && a.address()[3] == 1 && a.prefixLength() == 8
                    && a.scope() == Netlink.RT_SCOPE_HOST), addrs.toString());
            List<NetlinkRoute> main = nl.routes(0);
            assertNotNull(main, Errno.name(nl.lastDumpError()));
            assertTrue(main.stream().allMatch(r -> r.table() == Netlink.RT_TABLE_MAIN));
            // 127.0.0.0/8 lives in the local table, not in main
            List<NetlinkRoute> local = nl.routes(Sockets.AF_INET, Netlink.RT_TABLE_LOCAL);
            assertTrue(local.stream().anyMatch(r -> r.destinationLength() == 8 && r.destination()[0] == 127
                    && r.type() == Netlink.RTN_LOCAL && r.oif() == lo), local.toString());
            assertTrue(nl.routes(0, 0).size() >= main.size() + local.size());
            List<NetlinkLink> links = nl.links();
            assertTrue(links.stream().anyMatch(l -> l.index() == lo && (l.flags() & Netlink.IFF_LOOPBACK) != 0));
            for (int family : new int[] {Sockets.AF_INET, Sockets.AF_INET6}) {
                int def = nl.defaultRouteIfindex(family);
                assertTrue(def > 0 || def == -Errno.ENOENT, Errno.name(def));
                if (def > 0)
                    assertTrue(links.stream().anyMatch(l -> l.index() == def));
                System.out.println("host default route family " + family + ": " + def);
            }
            System.out.println("host addresses: " + addrs);
            System.out.println("host main routes: " + main);
        }
    }
}
