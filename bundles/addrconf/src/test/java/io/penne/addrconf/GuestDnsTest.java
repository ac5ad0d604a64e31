package io.penne.addrconf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.penne.api.flow.InetAddr;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GuestDnsTest {
    @TempDir
    Path dir;

    Path resolvConf(String text) throws Exception {
        Path f = dir.resolve("resolv.conf");
        Files.writeString(f, text);
        return f;
    }

    static Map<String, Object> props(String... kv) {
        Map<String, Object> p = new HashMap<>();
        p.put("guest.address4", "192.0.2.10");
        p.put("guest.gateway4", "192.0.2.1");
        p.put("guest.address6", "2001:db8::10");
        p.put("guest.gateway6", "fe80::1");
        for (int i = 0; i < kv.length; i += 2)
            p.put(kv[i], kv[i + 1]);
        return p;
    }

    static int v4(String a) {
        return InetAddr.v4(InetAddr.parse(a)[1]);
    }

    static long[] v6(String... a) {
        long[] r = new long[2 * a.length];
        for (int i = 0; i < a.length; i++) {
            long[] x = InetAddr.parse(a[i]);
            r[2 * i] = x[0];
            r[2 * i + 1] = x[1];
        }
        return r;
    }

    @Test
    void hostResolversAsTheGuestReachesThem() throws Exception {
        Path f = resolvConf("# comment\nnameserver 127.0.0.53\nnameserver 198.51.100.53\nnameserver ::1\n"
            + "nameserver fe80::53%eth0\nsearch example.com lab.example.com\noptions edns0\n");
        GuestDns d = GuestDns.of(props(), f);
        // 127.0.0.53 is reached through the gateway; ::1 likewise; the zone index is dropped
        assertArrayEquals(new int[] {v4("192.0.2.1"), v4("198.51.100.53")}, d.v4());
        assertArrayEquals(v6("fe80::1", "fe80::53"), d.v6());
        assertEquals(List.of("example.com", "lab.example.com"), d.search());
    }

    @Test
    void givenResolversReplaceTheHostsOfTheirVersionAndNoneClearsAll() throws Exception {
        Path f = resolvConf("nameserver 198.51.100.53\nnameserver 2001:db8::53\nsearch example.com\n");
        GuestDns d = GuestDns.of(props("dns", "192.0.2.53,192.0.2.54", "dns.search", "a.test b.test"), f);
        assertArrayEquals(new int[] {v4("192.0.2.53"), v4("192.0.2.54")}, d.v4());
        assertArrayEquals(v6("2001:db8::53"), d.v6());
        assertEquals(List.of("a.test", "b.test"), d.search());
        GuestDns bad = GuestDns.of(props("dns.search", "ok.test " + "x".repeat(64) + ".com a..b ."), f);
        assertEquals(List.of("ok.test"), bad.search(), "names DNS cannot carry are left out, not the whole list");
        GuestDns none = GuestDns.of(props("dns", "none", "dns.search", "none"), f);
        assertEquals(0, none.v4().length + none.v6().length + none.search().size());
    }

    @Test
    void switchesOffAndNoFileMeansNothing() throws Exception {
        Path f = resolvConf("nameserver 198.51.100.53\nsearch example.com\n");
        GuestDns off = GuestDns.of(props("dhcp.dns", "false", "dhcp.search", "false"), f);
        assertEquals(0, off.v4().length + off.v6().length + off.search().size());
        GuestDns missing = GuestDns.of(props(), dir.resolve("absent"));
        assertEquals(0, missing.v4().length + missing.v6().length + missing.search().size());
    }

    @Test
    void atMostThreePerVersionAndUnreachableOnesDropped() throws Exception {
        Path f = resolvConf("nameserver 10.0.0.1\nnameserver 10.0.0.2\nnameserver 127.0.0.1\nnameserver 127.0.0.53\n"
            + "nameserver 10.0.0.3\nnameserver 10.0.0.4\n");
        GuestDns d = GuestDns.of(props(), f);
        // the two loopback resolvers both become the gateway, advertised once
        assertArrayEquals(new int[] {v4("10.0.0.1"), v4("10.0.0.2"), v4("192.0.2.1")}, d.v4());
        GuestDns noGw = GuestDns.of(props("map.host_loopback4", "none"), f);
        assertArrayEquals(new int[] {v4("10.0.0.1"), v4("10.0.0.2"), v4("10.0.0.3")}, noGw.v4());
    }

    /** One non-ASCII search domain in resolv.conf must not cost the guest its DHCP server: it is left out. */
    @Test
    void searchDomainsDnsOrDhcpCannotCarryAreLeftOut() throws Exception {
        Path f = resolvConf("nameserver 10.0.0.1\nsearch example.com b\u00fccher.example " + "x".repeat(64)
            + ".example lab.example.com\n");
        GuestDns d = GuestDns.of(props(), f);
        assertEquals(List.of("example.com", "lab.example.com"), d.search());
        new Dhcp4Responder(v4("192.0.2.10"), 24, v4("192.0.2.1"), 1500, d.v4(), d.search(), null, null); // no throw
    }
}
