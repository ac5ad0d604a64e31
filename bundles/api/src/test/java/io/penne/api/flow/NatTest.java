package io.penne.api.flow;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NatTest {

    private static Map<String, Object> props(String... kv) {
        Map<String, Object> p = new HashMap<>();
        p.put("guest.address4", "192.0.2.10");
        p.put("guest.gateway4", "192.0.2.1");
        p.put("guest.address6", "2001:db8::10");
        p.put("guest.gateway6", "fe80::1");
        for (int i = 0; i < kv.length; i += 2)
            p.put(kv[i], kv[i + 1]);
        return p;
    }

    private static String out(Nat n, int proto, String dst, int port) {
        long[] a = InetAddr.parse(dst);
        n.outbound(proto, a[0], a[1], port);
        return InetAddr.format(n.hi, n.lo);
    }

    private static String in(Nat n, String src) {
        long[] a = InetAddr.parse(src);
        return n.inbound(a[0], a[1]) ? InetAddr.format(n.hi, n.lo) : null;
    }

    @Test
    void guestAddressesByFamily() {
        Nat n = Nat.of(props(), List.of());
        long[] g4 = InetAddr.parse("192.0.2.10"), g6 = InetAddr.parse("2001:db8::10");
        assertTrue(n.hasGuest(true) && n.hasGuest(false));
        assertEquals(g4[0], n.guestHi(true));
        assertEquals(g4[1], n.guestLo(true));
        assertEquals(g6[0], n.guestHi(false));
        assertEquals(g6[1], n.guestLo(false));
        // An address of the other family in a property is not the guest's address of this one.
        Nat wrong = Nat.of(props("guest.address4", "2001:db8::10", "guest.address6", "192.0.2.10"), List.of());
        assertFalse(wrong.hasGuest(true) || wrong.hasGuest(false));
        assertEquals(0, wrong.guestHi(true));
        assertEquals(0, wrong.guestLo(false));
    }

    @Test
    void gatewayIsHostLoopbackByDefault() {
        Nat n = Nat.of(props(), List.of());
        assertEquals("127.0.0.1", out(n, 17, "192.0.2.1", 9));
        assertEquals("::1", out(n, 6, "fe80::1", 9));
        assertEquals("198.51.100.7", out(n, 17, "198.51.100.7", 9));
        assertEquals("192.0.2.1", in(n, "127.0.0.1"));
        assertEquals("fe80::1", in(n, "::1"));
        assertEquals("198.51.100.7", in(n, "198.51.100.7"));
        // Addresses the guest could not answer come from the gateway.
        assertEquals("192.0.2.1", in(n, "192.0.2.10"));
        assertEquals("192.0.2.1", in(n, "127.0.0.2"));
        assertEquals("fe80::1", in(n, "2001:db8::10"));
    }

    @Test
    void noMapGwLeavesTheGatewayAlone() {
        Nat n = Nat.of(props("map.host_loopback4", "none", "map.host_loopback6", "none"), List.of());
        assertEquals("192.0.2.1", out(n, 17, "192.0.2.1", 9));
        assertEquals("fe80::1", out(n, 17, "fe80::1", 9));
    }

    @Test
    void explicitHostLoopbackMapping() {
        Nat n = Nat.of(props("map.host_loopback4", "169.254.0.9"), List.of());
        assertEquals("127.0.0.1", out(n, 17, "169.254.0.9", 9));
        assertEquals("192.0.2.1", out(n, 17, "192.0.2.1", 9));
        assertEquals("169.254.0.9", in(n, "127.0.0.1"));
    }

    @Test
    void mapGuestAddrReachesTheHostsAddress() {
        Nat n = Nat.of(props("map.guest_addr4", "169.254.1.2", "map.guest_addr6", "fd00::2"), List.of());
        assertEquals("192.0.2.10", out(n, 6, "169.254.1.2", 80));
        assertEquals("2001:db8::10", out(n, 17, "fd00::2", 80));
        assertEquals("169.254.1.2", in(n, "192.0.2.10"));
        assertEquals("fd00::2", in(n, "2001:db8::10"));
    }

    @Test
    void dnsForwardOnlyForDnsPorts() {
        Nat n = Nat.of(props("dns.match4", "169.254.1.1", "dns.match6", "fd00::53"), List.of("127.0.0.53", "2001:db8::53"));
        assertEquals("127.0.0.53", out(n, 17, "169.254.1.1", 53));
        assertEquals("127.0.0.53", out(n, 6, "169.254.1.1", 53));
        assertEquals("127.0.0.53", out(n, 6, "169.254.1.1", 853));
        assertEquals("169.254.1.1", out(n, 17, "169.254.1.1", 54));
        assertEquals("169.254.1.1", out(n, 1, "169.254.1.1", 53));
        assertEquals("2001:db8::53", out(n, 17, "fd00::53", 53));
        long[] a = InetAddr.parse("169.254.1.1");
        assertTrue(n.isDnsMatch(17, a[0], a[1], 53));
        assertFalse(n.isDnsMatch(17, a[0], a[1], 80));
    }

    @Test
    void dnsHostOverridesResolvConf() {
        Nat n = Nat.of(props("dns.match4", "169.254.1.1", "dns.host4", "198.51.100.53"), List.of("127.0.0.53"));
        assertEquals("198.51.100.53", out(n, 17, "169.254.1.1", 53));
    }

    @Test
    void loopbackResolverIsReachedThroughTheGateway() {
        Nat n = Nat.of(props(), List.of("127.0.0.53"));
        assertEquals("127.0.0.53", out(n, 17, "192.0.2.1", 53));
        assertEquals("127.0.0.1", out(n, 17, "192.0.2.1", 54));
        Nat none = Nat.of(props("map.host_loopback4", "none"), List.of("127.0.0.53"));
        assertEquals("192.0.2.1", out(none, 17, "192.0.2.1", 53));
    }

    private static String advertised(Nat n, String resolver) {
        long[] a = InetAddr.parse(resolver);
        long[] g = n.guestResolver(a[0], a[1]);
        return g == null ? null : InetAddr.format(g[0], g[1]);
    }

    @Test
    void loopbackAddresses() {
        for (String a : new String[] {"127.0.0.1", "127.255.0.9", "::1"}) {
            long[] x = InetAddr.parse(a);
            assertTrue(InetAddr.isLoopback(x[0], x[1]), a);
        }
        for (String a : new String[] {"128.0.0.1", "10.0.0.1", "::2", "::ffff:7f00:1:0", "2001:db8::1", "0.0.0.0"}) {
            long[] x = InetAddr.parse(a);
            assertFalse(InetAddr.isLoopback(x[0], x[1]), a);
        }
    }

    @Test
    void advertisedResolversAreOnesTheGuestCanReach() {
        Nat n = Nat.of(props(), List.of());
        assertEquals("198.51.100.53", advertised(n, "198.51.100.53"));
        assertEquals("2001:db8::53", advertised(n, "2001:db8::53"));
        // on the host's loopback, or at the gateway that stands for it: through the gateway
        assertEquals("192.0.2.1", advertised(n, "127.0.0.53"));
        assertEquals("192.0.2.1", advertised(n, "192.0.2.1"));
        assertEquals("fe80::1", advertised(n, "::1"));
        // --dns-forward takes precedence over the gateway
        Nat fwd = Nat.of(props("dns.match4", "169.254.1.1"), List.of("127.0.0.53"));
        assertEquals("169.254.1.1", advertised(fwd, "127.0.0.53"));
        assertEquals("198.51.100.53", advertised(fwd, "198.51.100.53"));
        // --no-map-gw and no --dns-forward: a loopback resolver cannot be reached at all
        Nat none = Nat.of(props("map.host_loopback4", "none"), List.of("127.0.0.53"));
        assertNull(advertised(none, "127.0.0.53"));
        assertEquals("192.0.2.1", advertised(none, "192.0.2.1"));
    }

    @Test
    void resolvConf(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("resolv.conf");
        Files.writeString(f, "# comment\nsearch example\nnameserver 127.0.0.53\nnameserver fe80::1%eth0\noptions edns0\n");
        assertEquals(List.of("127.0.0.53", "fe80::1"), Nat.readResolvConf(f));
        assertEquals(List.of(), Nat.readResolvConf(dir.resolve("absent")));
    }

    /** Link-local destinations need the host's IPv6 interface as their scope; nothing else gets one. */
    @Test
    void linkLocalDestinationsAreScopedToTheHostsIpv6Interface() {
        Nat n = Nat.of(props("host.ifindex6", "4"), List.of());
        long[] ll = InetAddr.parse("fe80::fc:ff:fe00:1"), ll2 = InetAddr.parse("febf::1"),
            global = InetAddr.parse("2001:db8::1"), v4 = InetAddr.parse("169.254.1.1"), fec0 = InetAddr.parse("fec0::1");
        assertEquals(4, n.scope(ll[0], ll[1]));
        assertEquals(4, n.scope(ll2[0], ll2[1]));
        assertEquals(0, n.scope(global[0], global[1]));
        assertEquals(0, n.scope(v4[0], v4[1]));
        assertEquals(0, n.scope(fec0[0], fec0[1]));
        assertEquals(0, Nat.of(props(), List.of()).scope(ll[0], ll[1]), "unknown interface");
        assertEquals(0, Nat.of(props("host.ifindex6", "eth0"), List.of()).scope(ll[0], ll[1]), "not a number");
    }
}
