package io.penne.launcher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/** pasta's -t: specs pass through to the instance property tcp.forward, joined with ';'. */
class OptionsTest {

    @Test
    void tcpSpecsAreJoinedInOrder() throws Exception {
        Options o = Options.parse(new String[] {"-t", "80", "--tcp-ports=8000-8010:9000-9010,~8005", "-t", "none",
            "-t192.0.2.1/22", "-t", "::1/all", "--", "true"});
        assertEquals("80;8000-8010:9000-9010,~8005;192.0.2.1/22;::1/all", o.ns.get("tcp.forward"));
    }

    @Test
    void noneAloneSetsNothing() throws Exception {
        Options o = Options.parse(new String[] {"-t", "none", "-u", "none", "-T", "none", "-U", "none"});
        assertFalse(o.ns.containsKey("tcp.forward"));
        // An explicit "-u none" is kept: it stops the -t ports from being forwarded for UDP too.
        assertEquals("none", o.ns.get("udp.forward"));
        assertEquals("none", o.ns.get("udp.ns_forward"));
    }

    @Test
    void udpSpecs() throws Exception {
        Options o = Options.parse(new String[] {"-u", "none", "-u", "53,7000-7010:8000-8010", "-U", "::1/5353",
            "--", "true"});
        assertEquals("53,7000-7010:8000-8010", o.ns.get("udp.forward"));
        assertEquals("::1/5353", o.ns.get("udp.ns_forward"));
        UsageException e = assertThrows(UsageException.class, () -> Options.parse(new String[] {"-u", "80-70"}));
        assertTrue(e.getMessage().startsWith("option '-u': bad port spec '80-70'"), e.getMessage());
        // auto, pasta's default for both (absent means auto to the UDP handler), may also be asked for.
        o = Options.parse(new String[] {"-u", "auto", "-U", "5000-5010,auto", "--", "true"});
        assertEquals("auto", o.ns.get("udp.forward"));
        assertEquals("5000-5010,auto", o.ns.get("udp.ns_forward"));
        o = Options.parse(new String[] {"--", "true"});
        assertFalse(o.ns.containsKey("udp.forward"));
        assertFalse(o.ns.containsKey("udp.ns_forward"));
    }

    @Test
    void podmansCommandLine() throws Exception {
        Options o = Options.parse(new String[] {"--config-net", "--dns-forward", "169.254.1.1", "--no-map-gw",
            "--quiet", "--netns", "/run/netns/x", "--map-guest-addr", "169.254.1.2", "-t", "none", "-u", "none",
            "-T", "none", "-U", "none", "--pid", "/tmp/p"});
        assertEquals("169.254.1.1", o.ns.get("dns.match4"));
        assertEquals("169.254.1.2", o.ns.get("map.guest_addr4"));
        assertEquals("none", o.ns.get("map.host_loopback4"));
        assertEquals("none", o.ns.get("udp.forward"));
    }

    @Test
    void dnsAndMapping() throws Exception {
        Options o = Options.parse(new String[] {"--dns-forward", "fd00::53", "--dns-host", "127.0.0.53",
            "--map-guest-addr", "fd00::2", "--map-guest-addr", "10.0.2.2", "-D", "192.0.2.53", "--", "true"});
        assertEquals("fd00::53", o.ns.get("dns.match6"));
        assertEquals("127.0.0.53", o.ns.get("dns.host4"));
        assertEquals("fd00::2", o.ns.get("map.guest_addr6"));
        assertEquals("10.0.2.2", o.ns.get("map.guest_addr4"));
        assertEquals("192.0.2.53", o.ns.get("dns"));
        Options none = Options.parse(new String[] {"--map-guest-addr", "10.0.2.2", "--map-guest-addr", "none", "--", "true"});
        assertFalse(none.ns.containsKey("map.guest_addr4"));
        for (String bad : new String[] {"127.0.0.1", "0.0.0.0", "::1", "resolver"})
            assertThrows(UsageException.class, () -> Options.parse(new String[] {"--dns-forward", bad}));
    }

    @Test
    void withoutTcpPortsTheDefaultIsAutoAsPasta() throws Exception {
        assertEquals("auto", Options.parse(new String[] {"--", "true"}).ns.get("tcp.forward"));
        assertEquals("auto;8000-8010,auto",
            Options.parse(new String[] {"-t", "auto", "-t", "8000-8010,auto"}).ns.get("tcp.forward"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"abc", "80-70", "0", "65536", "80,,81", "80,", "~", "8080:", "autox", "a/80",
        "192.0.2.1/", "80;81", "1-2-3"})
    void badSpecsAreRefusedNamingThem(String spec) {
        UsageException e = assertThrows(UsageException.class, () -> Options.parse(new String[] {"-t", spec}));
        assertTrue(e.getMessage().startsWith("option '-t': bad port spec '" + spec + "'"), e.getMessage());
    }

    @Test
    void tcpNsTakesSpecsAutoOrNoneAndDefaultsToAuto() throws Exception {
        assertFalse(Options.parse(new String[] {"--", "true"}).ns.containsKey("tcp.ns_forward"), "absent: auto");
        assertEquals("none", Options.parse(new String[] {"-T", "none"}).ns.get("tcp.ns_forward"));
        assertEquals("auto", Options.parse(new String[] {"--tcp-ns", "auto"}).ns.get("tcp.ns_forward"));
        assertEquals("6000;127.0.0.1/6001:6002", Options.parse(new String[] {"-T", "6000", "-T", "127.0.0.1/6001:6002"})
            .ns.get("tcp.ns_forward"));
        for (String[] bad : new String[][] {{"-T", "auto", "-T", "80"}, {"-T", "80", "-T", "none"}, {"-T", "80,auto"},
            {"-T", "abc"}, {"-T", "0"}}) {
            UsageException e = assertThrows(UsageException.class, () -> Options.parse(bad));
            assertTrue(e.getMessage().startsWith("option '-T': bad port spec"), e.getMessage());
        }
    }

    @Test
    void spliceSwitches() throws Exception {
        assertEquals("false", Options.parse(new String[] {"--no-splice"}).ns.get("tcp.splice"));
        assertEquals("true", Options.parse(new String[] {"--host-lo-to-ns-lo"}).ns.get("splice.host_lo_to_ns_lo"));
        UsageException e = assertThrows(UsageException.class,
            () -> Options.parse(new String[] {"--no-splice", "--host-lo-to-ns-lo"}));
        assertTrue(e.getMessage().contains("incompatible"), e.getMessage());
        Options only = Options.parse(new String[] {"--splice-only"});
        assertEquals("false", only.ns.get("ns.tap"));
        assertEquals("true", only.ns.get("splice.host_lo_to_ns_lo"));
        assertEquals("false", only.ns.get("icmp"));
        for (String[] args : new String[][] {{"--splice-only", "--no-splice"}, {"--no-splice", "--splice-only"}}) {
            e = assertThrows(UsageException.class, () -> Options.parse(args));
            assertEquals("option '--splice-only' is incompatible with '--no-splice'", e.getMessage());
        }
    }

    @Test
    void runasAcceptsOnlyTheCurrentUser() throws Exception {
        String me = System.getProperty("user.name");
        Options.parse(new String[] {"--runas", me});
        Options.parse(new String[] {"--runas", me + ":" + me});
        long uid = Long.parseLong(new String(new ProcessBuilder("id", "-u").start().getInputStream().readAllBytes()).trim());
        Options.parse(new String[] {"--runas=" + uid});
        String other = uid == 0 ? "65534" : "0";
        UsageException e = assertThrows(UsageException.class, () -> Options.parse(new String[] {"--runas", other}));
        assertTrue(e.getMessage().startsWith("option '--runas " + other + "'") && e.getMessage().contains("uid " + uid),
            e.getMessage());
        // Inside the user namespace the launcher re-parses its arguments as root; the parent already checked.
        Options.parse(new String[] {Main.IN_USERNS_FLAG, "--runas", "12345"});
    }

    @Test
    void dhcpAndRouterAdvertisementSwitchesReachTheInstance() throws Exception {
        Options o = Options.parse(new String[] {"--no-dhcp", "--no-dhcpv6", "--no-ra", "--dhcp-dns"});
        assertEquals(null, o.ns.get("ndp"));
        assertEquals("false", o.ns.get("dhcp"));
        assertEquals("false", o.ns.get("dhcpv6"));
        assertEquals("false", o.ns.get("ra"));
        assertEquals("true", o.ns.get("dhcp.dns"));
        assertEquals("false", o.ns.get("dhcp.search"), "pasta: no search list unless --dhcp-search");
        assertEquals("false", Options.parse(new String[] {"--no-ndp"}).ns.get("ndp"));
        assertEquals("eth1", Options.parse(new String[] {"-i", "eth1"}).ns.get("host.ifname"));
        Options out = Options.parse(new String[] {"-o", "192.0.2.9", "-o", "2001:db8::9", "--outbound-if4", "eth1",
            "--outbound-if6", "eth2"});
        assertEquals("192.0.2.9", out.ns.get("outbound.address4"));
        assertEquals("2001:db8::9", out.ns.get("outbound.address6"));
        assertEquals("eth1", out.ns.get("outbound.if4"));
        assertEquals("eth2", out.ns.get("outbound.if6"));
        UsageException bad = assertThrows(UsageException.class, () -> Options.parse(new String[] {"-o", "nowhere"}));
        assertTrue(bad.getMessage().contains("'nowhere'"), bad.getMessage());
        assertTrue(Options.parse(new String[] {"-p", "rel.pcap"}).ns.get("pcap").endsWith("/rel.pcap"));
        assertTrue(Options.parse(new String[] {"--pcap", "/tmp/a.pcap"}).ns.get("pcap").equals("/tmp/a.pcap"));
        Options d = Options.parse(new String[] {"--dhcp-search", "-S", "example.com lab.example.com", "-D", "192.0.2.53"});
        assertEquals("false", d.ns.get("dhcp.dns"));
        assertEquals("true", d.ns.get("dhcp.search"));
        assertEquals("example.com lab.example.com", d.ns.get("dns.search"));
        assertEquals("192.0.2.53", d.ns.get("dns"));
        // pasta refuses passt's switches, which say what pasta does anyway
        for (String passtOnly : new String[] {"--no-dhcp-dns", "--no-dhcp-search"}) {
            UsageException e = assertThrows(UsageException.class, () -> Options.parse(new String[] {passtOnly}));
            assertEquals("option '" + passtOnly + "' is for passt mode only", e.getMessage());
        }
    }

    @Test
    void noTcpNoUdpNoIcmpDisableTheProtocolAndItsForwards() throws Exception {
        Options o = Options.parse(new String[] {"--no-tcp", "--no-udp", "--no-icmp"});
        assertEquals("false", o.ns.get("tcp"));
        assertEquals("false", o.ns.get("udp"));
        assertEquals("false", o.ns.get("icmp"));
        assertEquals("false", o.ns.get("ndp"), "--no-icmp implies --no-ndp, as in pasta");
        assertEquals(null, o.ns.get("tcp.forward"), "no -t auto default");
        assertEquals("none", o.ns.get("tcp.ns_forward"));
        assertEquals("none", o.ns.get("udp.forward"));
        assertEquals("none", o.ns.get("udp.ns_forward"));
        Options.parse(new String[] {"--no-tcp", "-t", "none", "-T", "none"});
        for (String[] bad : new String[][] {{"--no-tcp", "-t", "80"}, {"-T", "8080", "--no-tcp"},
            {"--no-udp", "-u", "53"}, {"-U", "53", "--no-udp"}}) {
            UsageException e = assertThrows(UsageException.class, () -> Options.parse(bad));
            assertTrue(e.getMessage().startsWith("option '--no-") && e.getMessage().contains("disabled"),
                e.getMessage());
        }
    }

    @Test
    void hostnameAndFqdnReachTheInstanceAndTheCommand() throws Exception {
        Options o = Options.parse(new String[] {"-H", "box", "--fqdn", "box.example.org", "--", "true"});
        assertEquals("box", o.hostname);
        assertEquals("box", o.ns.get("hostname"));
        assertEquals("box.example.org", o.ns.get("fqdn"));
        Options none = Options.parse(new String[] {"--", "true"});
        assertNull(none.hostname);
        assertNull(none.ns.get("hostname"));
        for (String[] bad : new String[][] {{"-H", "a b"}, {"--fqdn", "x".repeat(254)}, {"--hostname", "t\u00e9"},
            {"-H", ""}}) {
            UsageException e = assertThrows(UsageException.class, () -> Options.parse(bad));
            assertTrue(e.getMessage().startsWith("option '" + bad[0]), e.getMessage());
        }
    }

    @Test
    void aPidsUserNamespaceIsJoinedUnlessNetnsOnly() throws Exception {
        Options pid = Options.parse(new String[] {"-f", "1234"});
        assertEquals("/proc/1234/ns/net", pid.netnsTarget);
        assertEquals("/proc/1234/ns/user", pid.usernsTarget);
        Options only = Options.parse(new String[] {"--netns-only", "1234"});
        assertNull(only.usernsTarget);
        assertTrue(only.netnsOnly);
        // A path alone implies --netns-only; --userns names the user namespace explicitly.
        assertNull(Options.parse(new String[] {"--netns", "/run/netns/x"}).usernsTarget);
        assertEquals("/proc/9/ns/user",
            Options.parse(new String[] {"--netns", "/run/netns/x", "--userns", "/proc/9/ns/user"}).usernsTarget);
        assertThrows(UsageException.class, () -> Options.parse(new String[] {"--userns", "/proc/9/ns/user", "--", "sh"}));
        assertThrows(UsageException.class, () -> Options.parse(new String[] {"--userns", "/u", "--netns-only", "12"}));
    }

    @Test
    void copySwitchesNeedAConfiguredNamespace() throws Exception {
        Options spawn = Options.parse(new String[] {"--no-copy-routes", "--no-copy-addrs", "--", "true"});
        assertEquals("false", spawn.ns.get("ns.copy_routes"));
        assertEquals("false", spawn.ns.get("ns.copy_addrs"));
        Options attached = Options.parse(new String[] {"--config-net", "--no-copy-routes", "--netns", "/run/netns/x"});
        assertEquals("false", attached.ns.get("ns.copy_routes"));
        UsageException e = assertThrows(UsageException.class,
            () -> Options.parse(new String[] {"--no-copy-addrs", "--netns", "/run/netns/x"}));
        assertEquals("option '--no-copy-addrs' needs --config-net", e.getMessage());
    }

    @Test
    void freebindReachesTheInstance() throws Exception {
        assertEquals("true", Options.parse(new String[] {"--freebind", "-t", "198.51.100.7/80", "--", "true"})
            .ns.get("freebind"));
        assertNull(Options.parse(new String[] {"--", "true"}).ns.get("freebind"));
    }
}
