package io.penne.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Namespace mode in a real namespace: the tap is created inside, configured
 * from the host's upstream interface, read by the instance; and the
 * configuration checks that name a bad property.
 */
class GuestNamespaceTest {

    private static boolean root() throws Exception {
        return (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid") == 0;
    }

    private static String run(GuestNamespace ns, String... cmd) throws Exception {
        Process p = ns.spawn(new ProcessBuilder(cmd).redirectErrorStream(true));
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(20, TimeUnit.SECONDS), String.join(" ", cmd));
        return out;
    }

    @Test
    void newNamespaceGetsTheHostsUpstreamConfigurationAndItsFramesReachTheInstance() throws Exception {
        assumeTrue(root(), "needs root (or a user namespace) to create network namespaces");
        GuestNamespace ns = GuestNamespace.open("t", NamespaceConfig.from(Map.of("netns", "new", "mtu", "9000")));
        InstanceImpl impl = new InstanceImpl("t", 64, ns.discovered());
        impl.start();
        try {
            assertEquals(0, (int) TestSupport.onLoop(impl, () -> impl.attachDevice(ns.tapFd(), ns.mtu(), ns.vnetHdrLen())));
            String links = run(ns, "ip", "-o", "link", "show");
            assertTrue(links.contains(ns.ifname() + ":") && links.contains("mtu 9000") && links.contains("lo:"), links);
            assertTrue(links.matches("(?s).*lo: <[^>]*\\bUP\\b.*"), "lo up: " + links);
            assertEquals("0\t0", run(ns, "cat", "/proc/sys/net/ipv4/ping_group_range").trim(),
                "ping sockets for the namespace's root, as pasta");
            String hostAddrs = new String(new ProcessBuilder("ip", "-o", "addr", "show", "scope", "global")
                .start().getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            String nsAddrs = run(ns, "ip", "-o", "addr", "show", "scope", "global");
            for (String line : hostAddrs.split("\n")) {
                if (!line.contains(" inet"))
                    continue;
                String cidr = line.trim().split("\\s+")[3];
                if (line.contains(" " + ns.ifname() + " "))
                    assertTrue(nsAddrs.contains(cidr), "host upstream address " + cidr + " copied: " + nsAddrs);
            }
            String hostDefault = new String(new ProcessBuilder("ip", "route", "show", "default").start()
                .getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            String nsRoutes = run(ns, "ip", "route", "show", "default");
            if (!hostDefault.isEmpty())
                assertTrue(nsRoutes.contains(hostDefault.split("\\s+")[2]), "default gateway copied: " + nsRoutes);
            assertTrue(ns.discovered().containsKey("guest.address4") || ns.discovered().containsKey("guest.address6"),
                ns.discovered().toString());
            String link = run(ns, "ip", "-br", "link", "show", ns.ifname());
            assertTrue(link.contains(" " + ns.discovered().get("guest.mac") + " "),
                "the tap's MAC is known from the start: " + ns.discovered() + " / " + link);

            // Traffic from the namespace reaches the instance: connecting to the gateway makes the
            // kernel ask ARP for it (nothing answers yet; the attempt times out).
            Object gw = ns.discovered().get("guest.gateway4");
            assumeTrue(gw != null, "host has no IPv4 default gateway");
            run(ns, "timeout", "2", "bash", "-c", "exec 3<>/dev/tcp/" + gw + "/9");
            TestSupport.await(() -> TestSupport.counter(impl, "ingress.frames") > 0, 5000, "frames from the tap");
            assertTrue(TestSupport.counter(impl, "drop.no_handler") > 0, "ARP without a handler is counted");
        } finally {
            impl.stop();
            ns.close();
        }
    }

    /**
     * Malformed frames written onto the tap from inside the namespace (a raw
     * packet socket, as a hostile guest would) are dropped and counted by
     * reason; the instance keeps serving: a valid ARP request afterwards is
     * still delivered.
     */
    @Test
    void malformedFramesFromInsideTheNamespaceAreCountedAndHarmless() throws Exception {
        assumeTrue(root(), "needs root (or a user namespace) to create network namespaces");
        GuestNamespace ns = GuestNamespace.open("bad", NamespaceConfig.from(Map.of("netns", "new")));
        InstanceImpl impl = new InstanceImpl("bad", 64, ns.discovered());
        impl.start();
        try {
            assertEquals(0, (int) TestSupport.onLoop(impl, () -> impl.attachDevice(ns.tapFd(), ns.mtu(), ns.vnetHdrLen())));
            int ifindex = ns.call(() -> {
                try (io.penne.linux.Netlink nl = io.penne.linux.Netlink.open()) {
                    return nl.linkIndex(ns.ifname());
                }
            });
            // AF_PACKET, SOCK_RAW, ETH_P_ALL (network order): created inside, so it sends on the guest's tap.
            int fd = ns.call(() -> io.penne.linux.Sys.socket(17, 3, 0x0300));
            assertTrue(fd >= 0, "packet socket: " + fd);
            io.penne.linux.NativeBuffer addr = io.penne.linux.NativeBuffer.allocate(20);
            addr.putShort(0, 17).putInt(4, ifindex).putByte(11, 6);
            io.penne.linux.NativeBuffer frame = io.penne.linux.NativeBuffer.allocate(2048);
            java.util.List<byte[]> bad = new java.util.ArrayList<>();
            for (IngressTest.Bad b : IngressTest.Bad.values())
                if (b.frame.length >= 14) // the kernel itself refuses shorter frames on a packet socket
                    bad.add(b.frame);
            for (int round = 0; round < 20; round++)
                for (byte[] f : bad) {
                    frame.buffer().clear();
                    frame.buffer().put(0, f);
                    long r = io.penne.linux.Sys.sendto(fd, frame.address(), f.length, 0, addr.address(), 20);
                    assertEquals(f.length, r, "sendto of a " + f.length + "-byte frame");
                }
            byte[] arp = IngressTest.eth(0x0806, new byte[28]);
            frame.buffer().put(0, arp);
            io.penne.linux.Sys.sendto(fd, frame.address(), arp.length, 0, addr.address(), 20);
            long expected = 20L * bad.size();
            TestSupport.await(() -> drops(impl) >= expected, 5000, "every malformed frame counted");
            assertEquals(expected, drops(impl), impl.counters().snapshot().toString());
            TestSupport.await(() -> TestSupport.counter(impl, "drop.no_handler") >= 1, 5000,
                "the valid ARP frame after them is delivered (no ARP handler here)");
            assertEquals(5, (int) TestSupport.onLoop(impl, () -> 5), "loop alive");
            io.penne.linux.Sys.close(fd);
        } finally {
            impl.stop();
            ns.close();
        }
    }

    /** Malformed-frame drops (drop.* except drop.no_handler, which counts valid frames nobody takes). */
    private static long drops(InstanceImpl impl) {
        return impl.counters().snapshot().entrySet().stream()
            .filter(e -> e.getKey().startsWith("drop.") && !e.getKey().equals("drop.no_handler")
                && !e.getKey().equals("drop.flow_table_full"))
            .mapToLong(Map.Entry::getValue).sum();
    }

    @Test
    void badNamespacePropertiesAreRefusedByName() {
        assertNull(NamespaceConfig.from(Map.of()));
        Map<String, String> bad = Map.of("mtu", "12", "ns.ifname", "way-too-long-name0", "address4", "2001:db8::1",
            "gateway6", "10.0.0.1", "ns.mac", "01:00:00:00:00:01", "ipv4", "maybe", "prefix4", "33",
            "host.ifname", "eth0/1", "mac", "9a:55:9a:55:9a");
        for (Map.Entry<String, String> e : bad.entrySet()) {
            Map<String, Object> p = new HashMap<>(Map.of("netns", "new"));
            p.put(e.getKey(), e.getValue());
            IllegalArgumentException x = assertThrows(IllegalArgumentException.class, () -> NamespaceConfig.from(p));
            assertTrue(x.getMessage().contains("'" + e.getKey() + "'"), x.getMessage());
        }
        IllegalArgumentException both = assertThrows(IllegalArgumentException.class,
            () -> NamespaceConfig.from(Map.of("netns", "new", "ipv4", "false", "ipv6", "false")));
        assertTrue(both.getMessage().contains("'ipv4' and 'ipv6'"));
    }

    @Test
    void joiningAMissingNamespaceFailsWithTheReason() {
        RuntimeException e = assertThrows(RuntimeException.class,
            () -> GuestNamespace.open("t", NamespaceConfig.from(Map.of("netns", "/nonexistent/netns"))));
        assertTrue(e.getMessage().contains("ENOENT") || e.getMessage().contains("nonexistent"), e.getMessage());
    }

}
