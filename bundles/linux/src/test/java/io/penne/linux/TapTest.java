package io.penne.linux;

import static io.penne.linux.NetnsThreadTest.run;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Tap devices in fresh namespaces (root only; skipped otherwise). */
class TapTest {
    private static final int ETH_P_IP = 0x0800;
    private static final int ETH_P_ARP = 0x0806;
    private static final int NS_ADDR = Sockets.ipv4(10, 99, 0, 1);
    private static final int PEER_ADDR = Sockets.ipv4(10, 99, 0, 2);
    private static final byte[] PEER_MAC = {0x02, 0, 0, 0, 0, 0x02};

    private final NativeBuffer frame = NativeBuffer.allocate(65536 + Tap.ETH_HLEN);

    @BeforeEach
    void needRoot() {
        Assumptions.assumeTrue(Sys.getuid() == 0, "needs root (or root in a user namespace)");
        Assumptions.assumeTrue(Files.exists(Path.of(Tap.TUN_PATH)), "no " + Tap.TUN_PATH);
    }

    @Test
    void openInFreshNamespace() {
        try (NetnsThread ns = NetnsThread.createNew("tap");
                Tap tap = ns.call(() -> Tap.open("tap0"))) {
            assertEquals("tap0", tap.name());
            assertTrue(tap.ifindex() > 0, tap.toString());
            assertTrue(tap.fd() >= 0);
            byte[] mac = tap.mac();
            assertEquals(6, mac.length);
            assertNotEquals(0L, tap.macBits());
            assertEquals(0, mac[0] & 1, "unicast " + tap);
            assertEquals(2, mac[0] & 2, "locally administered " + tap);
            mac[0] ^= 1;
            assertNotEquals(mac[0], tap.mac()[0], "mac() is a copy");

            // Down link: reads are EAGAIN values, writes are refused with EIO.
            assertEquals(-Errno.EAGAIN, tap.read(frame, 0, frame.size()));
            assertEquals(-Errno.EIO, tap.write(frame, 0, 60));

            // The name is taken in this namespace (by an attached tap).
            SysException busy = assertThrows(SysException.class, () -> ns.call(() -> Tap.open("tap0")));
            assertTrue(busy.call().startsWith("ioctl(TUNSETIFF"), busy.toString());
        }
    }

    @Test
    void kernelChosenNames() {
        try (NetnsThread ns = NetnsThread.createNew("names");
                Tap a = ns.call(() -> Tap.open("pn%d"));
                Tap b = ns.call(() -> Tap.open("pn%d"));
                Tap c = ns.call(() -> Tap.open(""))) {
            assertEquals("pn0", a.name());
            assertEquals("pn1", b.name());
            assertTrue(c.name().startsWith("tap"), c.name());
            assertNotEquals(a.ifindex(), b.ifindex());
        }
        assertThrows(IllegalArgumentException.class, () -> Tap.open("sixteen-chars-xx"));
    }

    /**
     * The namespace sends: an ARP request comes out of the tap. penne answers:
     * the written ARP reply resolves the neighbour, and the datagram that was
     * waiting for it follows.
     */
    @Test
    void framesBothWays() throws Exception {
        try (NetnsThread ns = NetnsThread.createNew("frames");
                Tap tap = ns.call(() -> Tap.open("tap0"));
                Epoll ep = Epoll.create(4)) {
            assertEquals(0, run(ns, "ip", "link", "set", "tap0", "up").exit());
            NetnsThreadTest.Result addr = run(ns, "ip", "addr", "add", "10.99.0.1/24", "dev", "tap0");
            assertEquals(0, addr.exit(), addr.out());
            assertEquals(0, ep.add(tap.fd(), Epoll.EPOLLIN, 7));

            // A datagram to an unresolved neighbour: the kernel queues it and ARPs.
            NativeBuffer nsScratch = NativeBuffer.allocate(256);
            int udp = ns.call(() -> {
                int fd = Sys.check(Sockets.udp(Sockets.AF_INET), "socket");
                int len = Sockets.sockaddrIn(nsScratch, 0, PEER_ADDR, 9);
                nsScratch.putLong(64, 0x70656e6e65L);
                Sys.check(Sys.sendto(fd, nsScratch.address(64, 8), 8, 0, nsScratch.address(0, len), len), "sendto");
                return fd;
            });
            try {
                int n = readFrame(tap, ep, ETH_P_ARP);
                assertTrue(n >= 42, "ARP frame of " + n);
                for (int i = 0; i < 6; i++)
                    assertEquals((byte) 0xff, frame.getByte(i), "broadcast");
                assertArrayEquals(tap.mac(), bytes(6, 6));
                assertEquals(1, frame.getShortBE(20), "ARP request");
                assertEquals(NS_ADDR, frame.getIntBE(28), "sender IP");
                assertEquals(PEER_ADDR, frame.getIntBE(38), "target IP");

                // The reply, from PEER_MAC.
                frame.zero(0, 60);
                frame.put(0, tap.mac(), 0, 6).put(6, PEER_MAC, 0, 6).putShortBE(12, ETH_P_ARP)
                        .putShortBE(14, 1).putShortBE(16, ETH_P_IP).putByte(18, 6).putByte(19, 4)
                        .putShortBE(20, 2)
                        .put(22, PEER_MAC, 0, 6).putIntBE(28, PEER_ADDR)
                        .put(32, tap.mac(), 0, 6).putIntBE(38, NS_ADDR);
                assertEquals(42, tap.write(frame, 0, 42));
                assertEquals(-Errno.EINVAL, tap.write(frame, 0, Tap.ETH_HLEN - 1));

                n = readFrame(tap, ep, ETH_P_IP);
                assertArrayEquals(PEER_MAC, bytes(0, 6), "sent to the resolved MAC");
                assertEquals(Sockets.IPPROTO_UDP, frame.getByte(Tap.ETH_HLEN + 9));
                assertEquals(PEER_ADDR, frame.getIntBE(Tap.ETH_HLEN + 16));
                assertEquals(9, frame.getShortBE(Tap.ETH_HLEN + 20 + 2), "UDP destination port");
                assertEquals(Tap.ETH_HLEN + 20 + 8 + 8, n);
            } finally {
                Sys.close(udp);
            }
        }
    }

    /**
     * UDP segmentation offload on write (what penne's datagram trains rely
     * on): the probe answers as the kernel version says, and a frame of
     * {@code GSO_UDP_L4} carrying 100 + 100 + 50 payload bytes reaches a
     * socket in the namespace as three datagrams, each whole.
     */
    @Test
    void udpSegmentsAreSplitAgainIntoDatagrams() throws Exception {
        String[] v = System.getProperty("os.version").split("[.-]");
        boolean expected = Integer.parseInt(v[0]) > 6 || Integer.parseInt(v[0]) == 6 && Integer.parseInt(v[1]) >= 2;
        int notATap = Sys.check(Sockets.udp(Sockets.AF_INET), "socket");
        assertEquals(false, Tap.acceptsUdpSegments(notATap));
        Sys.close(notATap);
        try (NetnsThread ns = NetnsThread.createNew("uso");
                Tap tap = ns.call(() -> Tap.open("tap0", true))) {
            assertEquals(expected, Tap.acceptsUdpSegments(tap.fd()), System.getProperty("os.version"));
            Assumptions.assumeTrue(expected, "no UDP segmentation offload before Linux 6.2");
            assertEquals(0, run(ns, "ip", "link", "set", "tap0", "up").exit());
            assertEquals(0, run(ns, "ip", "addr", "add", "10.99.0.1/24", "dev", "tap0").exit());
            NativeBuffer scratch = NativeBuffer.allocate(256);
            int udp = ns.call(() -> {
                int fd = Sys.check(Sockets.udp(Sockets.AF_INET), "socket");
                Sys.check(Sockets.bind4(fd, NS_ADDR, 4000, scratch), "bind");
                return fd;
            });
            try {
                int h = Tap.VNET_HDR_LEN, ip = h + Tap.ETH_HLEN, l4 = ip + 20, payload = 250;
                frame.zero(0, 512);
                // virtio_net_hdr (little-endian): NEEDS_CSUM, GSO_UDP_L4, hdr_len, gso_size, csum_start, csum_offset
                frame.putByte(0, 1).putByte(1, 5).putShort(2, 42).putShort(4, 100).putShort(6, 34).putShort(8, 6);
                frame.put(h, tap.mac(), 0, 6).put(h + 6, PEER_MAC, 0, 6).putShortBE(h + 12, ETH_P_IP);
                frame.putIntBE(ip, 0x4500_0000 | (28 + payload)).putIntBE(ip + 4, 0x4000)
                    .putIntBE(ip + 8, (64 << 24) | (17 << 16)).putIntBE(ip + 12, PEER_ADDR).putIntBE(ip + 16, NS_ADDR);
                long sum = 0;
                for (int i = 0; i < 20; i += 2)
                    sum += frame.getShortBE(ip + i);
                frame.putShortBE(ip + 10, ~fold(sum) & 0xffff);
                frame.putShortBE(l4, 5000).putShortBE(l4 + 2, 4000).putShortBE(l4 + 4, 8 + payload);
                long pseudo = (PEER_ADDR >>> 16) + (PEER_ADDR & 0xffff) + (NS_ADDR >>> 16) + (NS_ADDR & 0xffff) + 17 + 8 + payload;
                frame.putShortBE(l4 + 6, fold(pseudo)); // the pseudo-header sum only: the rest is the kernel's
                for (int i = 0; i < payload; i++)
                    frame.putByte(l4 + 8 + i, i);
                assertEquals(l4 + 8 + payload, tap.write(frame, 0, l4 + 8 + payload));
                NativeBuffer rx = NativeBuffer.allocate(2048);
                int[] sizes = {100, 100, 50};
                int from = 0;
                for (int size : sizes) {
                    long n = -Errno.EAGAIN;
                    for (int t = 0; t < 200 && n == -Errno.EAGAIN; t++) {
                        n = Sys.recv(udp, rx.address(0, 2048), 2048, Sockets.MSG_DONTWAIT);
                        if (n == -Errno.EAGAIN)
                            Thread.sleep(10);
                    }
                    assertEquals(size, n, "datagram after " + from + " bytes: " + Errno.name((int) n));
                    for (int i = 0; i < size; i++)
                        assertEquals((byte) (from + i), rx.getByte(i), "byte " + (from + i));
                    from += size;
                }
            } finally {
                Sys.close(udp);
            }
        }
    }

    private static int fold(long sum) {
        while ((sum >>> 16) != 0)
            sum = (sum & 0xffff) + (sum >>> 16);
        return (int) sum;
    }

    @Test
    void closingLeavesNoDescriptors() throws Exception {
        cycle(); // warm up: classes, JNA, thread-locals
        java.util.Set<String> before = openFds();
        cycle();
        // The count is the whole test JVM's: another of its threads (the test runner's reporting,
        // class loading) may hold a descriptor for a moment. A leak stays; give those a second to go.
        java.util.Set<String> after = openFds();
        for (int i = 0; i < 100 && !after.equals(before); i++) {
            Thread.sleep(10);
            after = openFds();
        }
        assertEquals(before, after);
    }

    private static void cycle() {
        try (NetnsThread ns = NetnsThread.createNew("fds");
                Tap tap = ns.call(() -> Tap.open("tap0"))) {
            assertTrue(tap.fd() >= 0 && ns.nsFd() >= 0);
        }
    }

    /** This process's descriptors and what each refers to, so a failure shows what stayed open. */
    private static java.util.Set<String> openFds() throws IOException {
        java.util.Set<String> fds = new java.util.TreeSet<>();
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            s.forEach(p -> {
                try {
                    fds.add(p.getFileName() + " -> " + Files.readSymbolicLink(p));
                } catch (IOException e) {
                    // the descriptor of the listing itself, closed by now
                }
            });
        }
        return fds;
    }

    /** Reads frames until one of {@code ethertype} arrives (skipping e.g. IPv6 autoconfiguration); its length. */
    private int readFrame(Tap tap, Epoll ep, int ethertype) {
        long deadline = System.nanoTime() + 2_000_000_000L;
        while (System.nanoTime() < deadline) {
            int n = tap.read(frame, 0, frame.size());
            if (n == -Errno.EAGAIN) {
                ep.waitEvents(100);
                continue;
            }
            assertTrue(n >= Tap.ETH_HLEN, Errno.name(n));
            if (frame.getShortBE(12) == ethertype)
                return n;
        }
        throw new AssertionError(String.format("no frame of type %04x within 2 s", ethertype));
    }

    private byte[] bytes(int offset, int len) {
        byte[] b = new byte[len];
        frame.get(offset, b, 0, len);
        return b;
    }
}
