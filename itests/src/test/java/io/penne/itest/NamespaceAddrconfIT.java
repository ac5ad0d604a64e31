package io.penne.itest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.penne.itest.Dist.Result;
import java.io.File;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A guest that configures itself, as pasta's own test suite drives one
 * ({@code test/pasta/ndp} and {@code test/pasta/dhcp}): penne attaches to a
 * namespace without --config-net, the guest brings its interface up and
 * takes the host's IPv6 prefix and router from penne's router
 * advertisements, and the host's IPv4 and IPv6 addresses from penne's DHCP
 * and DHCPv6 servers through the real {@code dhclient}.
 */
class NamespaceAddrconfIT {
    @TempDir
    Path tmp;
    private String name;
    private Path sock, pid;
    private final List<Process> started = new ArrayList<>();
    private String hostResolvConf;

    @BeforeEach
    void namespace() throws Exception {
        assumeTrue("0".equals(Dist.run(10, List.of("id", "-u")).out().trim()), "creates a named namespace with ip netns");
        assertTrue(Files.isExecutable(Dist.PENNE), "distribution not built at " + Dist.HOME);
        assumeTrue(Dist.run(10, List.of("sh", "-c", "command -v dhclient")).status() == 0,
            "no dhclient (isc-dhcp-client; .ci/run installs it)");
        name = "penne-ac-" + ProcessHandle.current().pid();
        sock = tmp.resolve("ac.sock");
        pid = tmp.resolve("ac.pid");
        hostResolvConf = Files.readString(Path.of("/etc/resolv.conf"));
        assertEquals(0, Dist.run(30, List.of("ip", "netns", "add", name)).status());
    }

    @AfterEach
    void cleanUp() throws Exception {
        for (Process p : started)
            p.destroyForcibly().waitFor();
        if (pid != null && Files.exists(pid))
            Dist.run(30, List.of("kill", Files.readString(pid).trim()));
        if (name != null)
            Dist.run(30, List.of("ip", "netns", "del", name));
        if (hostResolvConf != null) {
            // dhclient-script writes resolv.conf only when it was given resolvers: the host's must be untouched
            String now = Files.readString(Path.of("/etc/resolv.conf"));
            if (!now.equals(hostResolvConf))
                Files.writeString(Path.of("/etc/resolv.conf"), hostResolvConf);
            assertEquals(hostResolvConf, now, "the host's /etc/resolv.conf");
        }
    }

    /** The host's upstream interface, address, prefix length and gateway of one IP version, from its default route. */
    record Upstream(String dev, String address, int prefix, String gateway) {
        static Upstream of(int v) throws Exception {
            String route = Dist.run(30, List.of("ip", "-" + v, "route", "show", "default")).out().trim();
            assumeTrue(!route.isEmpty(), "no IPv" + v + " default route on this host");
            List<String> w = Arrays.asList(route.split("\\s+"));
            String dev = w.get(w.indexOf("dev") + 1), gw = w.get(w.indexOf("via") + 1);
            String addr = Dist.run(30, List.of("sh", "-c", "ip -" + v + " -o addr show dev " + dev
                + " scope global | awk '{print $4}' | head -1")).out().trim();
            String[] a = addr.split("/");
            return new Upstream(dev, a[0], Integer.parseInt(a[1]), gw);
        }
    }

    private String ns(String... cmd) throws Exception {
        List<String> c = new ArrayList<>(List.of("ip", "netns", "exec", name));
        c.addAll(List.of(cmd));
        Result r = Dist.run(30, c);
        assertEquals(0, r.status(), r.toString());
        return r.out();
    }

    private Process nsBackground(String log, String... cmd) throws Exception {
        List<String> c = new ArrayList<>(List.of("ip", "netns", "exec", name));
        c.addAll(List.of(cmd));
        File f = tmp.resolve(log).toFile();
        Process p = new ProcessBuilder(c).redirectErrorStream(true).redirectOutput(f).start();
        started.add(p);
        return p;
    }

    private static String await(String what, long timeoutMs, Callable<String> probe) throws Exception {
        long deadline = System.currentTimeMillis() + timeoutMs;
        String last = null;
        while (System.currentTimeMillis() < deadline) {
            last = probe.call();
            if (last != null)
                return last;
            Thread.sleep(100);
        }
        throw new AssertionError("timed out waiting for " + what);
    }

    private void startPenne(String... extra) throws Exception {
        List<String> args = new ArrayList<>(List.of("--netns", name, "-t", "none", "-T", "none", "-u", "none", "-U",
            "none", "-c", sock.toString(), "-P", pid.toString()));
        args.addAll(List.of(extra));
        Result r = Dist.run(60, Dist.penne(args.toArray(new String[0])));
        assertEquals(0, r.status(), r.toString());
    }

    private long counter(String stats, String key) {
        Matcher m = Pattern.compile("(?m)^\\s*" + Pattern.quote(key) + "\\s+(\\d+)").matcher(stats);
        return m.find() ? Long.parseLong(m.group(1)) : -1;
    }

    private void awaitLinkLocalReady(String dev) throws Exception {
        await("a usable link-local address", 15_000, () -> {
            String out = ns("ip", "-6", "-o", "addr", "show", "dev", dev, "scope", "link");
            return out.contains("fe80") && !out.contains("tentative") ? out : null;
        });
    }

    /** penne's link-local address as passt picks it: the host's gateway if link-local, else the host interface's. */
    private static String expectedRouter(Upstream u6) throws Exception {
        if (u6.gateway().startsWith("fe80"))
            return u6.gateway();
        return Dist.run(30, List.of("sh", "-c", "ip -6 -o addr show dev " + u6.dev()
            + " scope link | awk '{print $4}' | cut -d/ -f1 | head -1")).out().trim();
    }

    private static byte[] first64(String address) throws Exception {
        return Arrays.copyOf(InetAddress.getByName(address).getAddress(), 8);
    }

    @Test
    void slaacAndDhcpGiveTheGuestTheHostsAddressesRoutesAndMtu() throws Exception {
        Upstream u4 = Upstream.of(4), u6 = Upstream.of(6);
        startPenne();
        String dev = u4.dev();
        assertEquals("", ns("ip", "-o", "addr", "show", "scope", "global").trim(), "nothing configured by penne");

        // test/pasta/ndp: link up, wait for the address SLAAC makes from penne's router advertisement
        ns("ip", "link", "set", "dev", dev, "up");
        String slaac = await("an address from a router advertisement", 20_000, () -> {
            // "protocol":"kernel_ra" where the kernel reports it (6.3 and later, as pasta's test expects); a
            // global dynamic address otherwise, which on a link without other routers only SLAAC makes
            Matcher m = Pattern.compile("\"local\":\"([0-9a-f:]+)\",\"prefixlen\":64,\"scope\":\"global\""
                + "(,\"dynamic\":true|[^}]*\"protocol\":\"kernel_ra\")")
                .matcher(ns("ip", "-j", "-6", "addr", "show", "dev", dev));
            return m.find() ? m.group(1) : null;
        });
        assertTrue(Arrays.equals(first64(u6.address()), first64(slaac)), slaac + " in the host's /64 of " + u6);
        String route6 = await("a default route from the advertisement", 10_000, () -> {
            String r = ns("ip", "-6", "route", "show", "default").trim();
            return r.isEmpty() ? null : r;
        });
        assertTrue(route6.startsWith("default via " + expectedRouter(u6) + " dev " + dev), route6);

        // test/pasta/dhcp: dhclient -4 takes the host's address, gateway and MTU
        nsBackground("dhclient4.log", "dhclient", "-d", "-4", "-lf", tmp.resolve("l4").toString(), "-pf",
            tmp.resolve("p4").toString(), dev);
        await("the DHCP address", 30_000, () -> ns("ip", "-4", "-o", "addr", "show", "dev", dev)
            .contains(" " + u4.address() + "/" + u4.prefix() + " ") ? "" : null);
        String route4 = await("the DHCP default route", 10_000, () -> {
            String r = ns("ip", "-4", "route", "show", "default").trim();
            return r.isEmpty() ? null : r;
        });
        assertTrue(route4.startsWith("default via " + u4.gateway() + " dev " + dev), route4);
        assertTrue(ns("ip", "-o", "link", "show", "dev", dev).contains(" mtu 65520 "), "MTU from DHCP option 26");

        // dhclient -6 takes the host's address as a /128
        awaitLinkLocalReady(dev);
        nsBackground("dhclient6.log", "dhclient", "-d", "-6", "-lf", tmp.resolve("l6").toString(), "-pf",
            tmp.resolve("p6").toString(), dev);
        await("the DHCPv6 address", 30_000, () -> ns("ip", "-6", "-o", "addr", "show", "dev", dev)
            .contains(" " + u6.address() + "/128 ") ? "" : null);

        String stats = Dist.run(30, Dist.ctl(sock.toString(), "penne:stats")).out();
        assertTrue(counter(stats, "addrconf.ra.solicited") >= 1, stats);
        assertTrue(counter(stats, "addrconf.dhcp.replied") >= 2, "offer and ack: " + stats);
        assertTrue(counter(stats, "addrconf.dhcpv6.replied") >= 2, "advertise and reply: " + stats);
    }

    @Test
    void resolversSearchDomainsAndHostnameOnlyWhenAsked() throws Exception {
        Upstream u4 = Upstream.of(4), u6 = Upstream.of(6);
        startPenne("--dhcp-dns", "--dhcp-search", "-D", "192.0.2.53", "-D", "2001:db8::53", "-S",
            "example.com lab.example.com", "-H", "guestbox", "--fqdn", "guestbox.example.com");
        String dev = u4.dev();
        ns("ip", "link", "set", "dev", dev, "up");
        // A dhclient script that only records what the server sent, so nothing is configured or written.
        Path script = tmp.resolve("record.sh");
        Files.writeString(script, "#!/bin/sh\nenv | grep '^new_' | sort > \"$0.$reason\"\n");
        script.toFile().setExecutable(true);
        nsBackground("dhclient4.log", "dhclient", "-d", "-4", "-sf", script.toString(), "-lf",
            tmp.resolve("l4").toString(), "-pf", tmp.resolve("p4").toString(), dev);
        Path bound4 = tmp.resolve("record.sh.BOUND");
        String env4 = await("a DHCP lease", 30_000, () -> Files.exists(bound4) ? Files.readString(bound4) : null);
        assertTrue(env4.contains("new_ip_address=" + u4.address() + "\n"), env4);
        assertTrue(env4.contains("new_routers=" + u4.gateway() + "\n"), env4);
        assertTrue(env4.contains("new_domain_name_servers=192.0.2.53\n"), env4);
        assertTrue(env4.contains("new_domain_search=example.com. lab.example.com.\n"), env4);
        assertTrue(env4.contains("new_interface_mtu=65520\n"), env4);
        assertTrue(env4.contains("new_host_name=guestbox\n"), "-H as option 12: " + env4);

        awaitLinkLocalReady(dev);
        nsBackground("dhclient6.log", "dhclient", "-d", "-6", "-sf", script.toString(), "-lf",
            tmp.resolve("l6").toString(), "-pf", tmp.resolve("p6").toString(), dev);
        Path bound6 = tmp.resolve("record.sh.BOUND6");
        String env6 = await("a DHCPv6 lease", 30_000, () -> Files.exists(bound6) ? Files.readString(bound6) : null);
        assertTrue(env6.contains("new_ip6_address=" + u6.address() + "\n"), env6);
        assertTrue(env6.contains("new_dhcp6_name_servers=2001:db8::53\n"), env6);
        assertTrue(env6.contains("new_dhcp6_domain_search=example.com. lab.example.com.\n"), env6);
    }
}
