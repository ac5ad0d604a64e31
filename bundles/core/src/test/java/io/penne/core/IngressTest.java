package io.penne.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.penne.api.PacketBatch;
import io.penne.api.flow.InetAddr;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Guest frame validation and delivery: every class of malformed frame is
 * dropped under its own counter, and valid frames around it are delivered
 * unchanged and in order.
 */
class IngressTest {
    private final CountersImpl counters = new CountersImpl();
    private final Ingress ingress = new Ingress(counters);
    private final List<String> delivered = new ArrayList<>();
    private final Ingress.Sink sink = (type, b) -> {
        for (int i = 0; i < b.size(); i++)
            delivered.add(type + ":" + b.frameOffset(i) + ":" + b.l4Offset(i) + ":" + b.l4Length(i) + ":"
                + InetAddr.format(b.srcHi(i), b.srcLo(i)) + ">" + InetAddr.format(b.dstHi(i), b.dstLo(i)));
    };

    // ---- frame builders (network byte order) ----

    static byte[] eth(int type, byte[] payload) {
        ByteBuffer b = ByteBuffer.allocate(14 + payload.length);
        b.put(new byte[] {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2}).putShort((short) type).put(payload);
        return b.array();
    }

    static byte[] ipv4(int proto, String src, String dst, byte[] l4) {
        ByteBuffer b = ByteBuffer.allocate(20 + l4.length);
        b.put((byte) 0x45).put((byte) 0).putShort((short) (20 + l4.length)).putShort((short) 1)
            .putShort((short) 0x4000).put((byte) 64).put((byte) proto).putShort((short) 0)
            .putInt(v4(src)).putInt(v4(dst)).put(l4);
        fixIpv4Checksum(b.array(), 0);
        return b.array();
    }

    static void fixIpv4Checksum(byte[] ip, int at) {
        ip[at + 10] = 0;
        ip[at + 11] = 0;
        int hlen = (ip[at] & 0xf) * 4;
        int c = FrameParser.checksum(ByteBuffer.wrap(ip), at, hlen);
        ip[at + 10] = (byte) (c >>> 8);
        ip[at + 11] = (byte) c;
    }

    static byte[] ipv6(int nh, String src, String dst, byte[] payload) {
        ByteBuffer b = ByteBuffer.allocate(40 + payload.length);
        b.putInt(0x60000000).putShort((short) payload.length).put((byte) nh).put((byte) 64);
        long[] s = InetAddr.parse(src), d = InetAddr.parse(dst);
        b.putLong(s[0]).putLong(s[1]).putLong(d[0]).putLong(d[1]).put(payload);
        return b.array();
    }

    static byte[] tcp(int doffWords, int payload) {
        byte[] t = new byte[Math.max(20, doffWords * 4) + payload];
        t[0] = (byte) 0x9c;
        t[1] = 0x40; // sport 40000
        t[3] = 80;
        t[12] = (byte) (doffWords << 4);
        t[13] = 0x02; // SYN
        return t;
    }

    static byte[] udp(int payload, int lengthField) {
        ByteBuffer b = ByteBuffer.allocate(8 + payload);
        b.putShort((short) 5353).putShort((short) 53).putShort((short) lengthField).putShort((short) 0);
        return b.array();
    }

    static int v4(String s) {
        long[] a = InetAddr.parse(s);
        return InetAddr.v4(a[1]);
    }

    private int put(int slot, int offset, byte[] frame) {
        ParsedFrames f = ingress.frames();
        f.buf.put(offset, frame);
        f.frameOff[slot] = offset;
        f.frameLen[slot] = frame.length;
        return offset + ((frame.length + 7) & ~7);
    }

    private void run(byte[]... frames) {
        int off = 0;
        for (int i = 0; i < frames.length; i++)
            off = put(i, off, frames[i]);
        ingress.frames().count = frames.length;
        ingress.deliver(sink);
    }

    private long count(String name) {
        Long v = counters.snapshot().get(name);
        return v == null ? 0 : v;
    }

    static final byte[] GOOD_TCP4 = eth(0x0800, ipv4(6, "10.0.0.2", "192.0.2.1", tcp(5, 10)));

    @Test
    void validFramesAreDeliveredWithOffsetsAndAddresses() {
        byte[] arp = eth(0x0806, new byte[28]);
        byte[] udp6 = eth(0x86dd, ipv6(17, "2001:db8::2", "2001:db8::1", udp(4, 12)));
        run(GOOD_TCP4, arp, udp6);
        // 64-byte TCP frame at 0; 42-byte ARP frame at 64; UDP frame at 64 + 48 (8-byte aligned slots).
        assertEquals(List.of("6:0:34:30:10.0.0.2>192.0.2.1", "256:64:0:0:::>::",
            "17:112:166:12:2001:db8::2>2001:db8::1"), delivered);
    }

    @Test
    void ethernetPaddingIsTrimmedNotDropped() {
        byte[] small = eth(0x0800, ipv4(17, "10.0.0.2", "10.0.0.1", udp(0, 8)));
        byte[] padded = java.util.Arrays.copyOf(small, 60); // 42 bytes padded to the 60-byte minimum
        run(padded);
        assertEquals(List.of("17:0:34:8:10.0.0.2>10.0.0.1"), delivered);
    }

    @Test
    void ipv6ExtensionHeadersAreSkipped() {
        byte[] hbh = new byte[8 + 20];
        hbh[0] = 6; // next: TCP
        hbh[1] = 0; // 8 bytes
        System.arraycopy(tcp(5, 0), 0, hbh, 8, 20);
        run(eth(0x86dd, ipv6(0, "2001:db8::2", "2001:db8::1", hbh)));
        assertEquals(List.of("6:0:62:20:2001:db8::2>2001:db8::1"), delivered);
    }

    /** One malformed frame per class, each with the counter it must move. */
    enum Bad {
        L2_SHORT("drop.l2.short", new byte[10]),
        L2_VLAN("drop.l2.vlan", eth(0x8100, new byte[40])),
        L2_ETHERTYPE("drop.l2.ethertype", eth(0x1234, new byte[40])),
        ARP_SHORT("drop.arp.short", eth(0x0806, new byte[20])),
        IPV4_SHORT("drop.ipv4.short", eth(0x0800, new byte[19])),
        IPV4_VERSION("drop.ipv4.version", mutate4(b -> b[0] = 0x55)),
        IPV4_IHL_SMALL("drop.ipv4.ihl", mutate4(b -> b[0] = 0x44)),
        IPV4_IHL_BEYOND("drop.ipv4.ihl", eth(0x0800, fixed(ipv4Raw(0x4f, 20)))),
        IPV4_TOTAL_TOO_LONG("drop.ipv4.length", mutate4(b -> { b[2] = 0x10; b[3] = 0; })),
        IPV4_TOTAL_BELOW_HEADER("drop.ipv4.length", mutate4(b -> { b[2] = 0; b[3] = 10; })),
        IPV4_CHECKSUM("drop.ipv4.checksum", mutate4NoFix(b -> b[10] ^= 0x55)),
        IPV4_MORE_FRAGMENTS("drop.ipv4.fragment", mutate4(b -> b[6] = 0x20)),
        IPV4_FRAGMENT_OFFSET("drop.ipv4.fragment", mutate4(b -> { b[6] = 0; b[7] = 8; })),
        IPV4_LOOPBACK("drop.ipv4.loopback", eth(0x0800, ipv4(6, "127.0.0.1", "10.0.0.1", tcp(5, 0)))),
        IPV6_SHORT("drop.ipv6.short", eth(0x86dd, new byte[39])),
        IPV6_VERSION("drop.ipv6.version", mutate6(b -> b[0] = 0x40)),
        IPV6_LENGTH("drop.ipv6.length", mutate6(b -> { b[4] = 0x10; b[5] = 0; })),
        IPV6_FRAGMENT("drop.ipv6.fragment", eth(0x86dd, ipv6(44, "2001:db8::2", "2001:db8::1", new byte[16]))),
        IPV6_NO_NEXT("drop.ipv6.no_next", eth(0x86dd, ipv6(59, "2001:db8::2", "2001:db8::1", new byte[0]))),
        IPV6_EXTENSION_OVERRUN("drop.ipv6.extension", eth(0x86dd, ipv6(0, "2001:db8::2", "2001:db8::1",
            new byte[] {6, 3, 0, 0, 0, 0, 0, 0}))),
        IPV6_EXTENSION_CHAIN("drop.ipv6.extension", eth(0x86dd, ipv6(60, "2001:db8::2", "2001:db8::1",
            chain(10)))),
        IPV6_LOOPBACK("drop.ipv6.loopback", eth(0x86dd, ipv6(6, "::1", "2001:db8::1", tcp(5, 0)))),
        IPV6_V4MAPPED("drop.ipv6.v4mapped", eth(0x86dd, ipv6(6, "::ffff:10.0.0.2", "2001:db8::1", tcp(5, 0)))),
        TCP_SHORT("drop.tcp.short", eth(0x0800, ipv4(6, "10.0.0.2", "10.0.0.1", new byte[12]))),
        TCP_DOFF_SMALL("drop.tcp.doff", eth(0x0800, ipv4(6, "10.0.0.2", "10.0.0.1", tcp(4, 0)))),
        TCP_DOFF_BEYOND("drop.tcp.doff", eth(0x0800, ipv4(6, "10.0.0.2", "10.0.0.1", doffBeyond()))),
        UDP_SHORT("drop.udp.short", eth(0x0800, ipv4(17, "10.0.0.2", "10.0.0.1", new byte[6]))),
        UDP_LENGTH_LIES("drop.udp.length", eth(0x0800, ipv4(17, "10.0.0.2", "10.0.0.1", udp(20, 100)))),
        ICMP_SHORT("drop.icmp.short", eth(0x0800, ipv4(1, "10.0.0.2", "10.0.0.1", new byte[4]))),
        ICMPV6_SHORT("drop.icmp.short", eth(0x86dd, ipv6(58, "2001:db8::2", "2001:db8::1", new byte[2]))),
        ICMP_IN_IPV6("drop.icmp.version", eth(0x86dd, ipv6(1, "2001:db8::2", "2001:db8::1", new byte[8]))),
        ICMPV6_IN_IPV4("drop.icmp.version", eth(0x0800, ipv4(58, "10.0.0.2", "10.0.0.1", new byte[8])));

        final String counter;
        final byte[] frame;

        Bad(String counter, byte[] frame) {
            this.counter = counter;
            this.frame = frame;
        }
    }

    interface Mutation {
        void apply(byte[] ipHeader);
    }

    static byte[] mutate4(Mutation m) {
        byte[] ip = ipv4(6, "10.0.0.2", "10.0.0.1", tcp(5, 0));
        m.apply(ip);
        fixIpv4Checksum(ip, 0);
        return eth(0x0800, ip);
    }

    static byte[] mutate4NoFix(Mutation m) {
        byte[] ip = ipv4(6, "10.0.0.2", "10.0.0.1", tcp(5, 0));
        m.apply(ip);
        return eth(0x0800, ip);
    }

    static byte[] mutate6(Mutation m) {
        byte[] ip = ipv6(6, "2001:db8::2", "2001:db8::1", tcp(5, 0));
        m.apply(ip);
        return eth(0x86dd, ip);
    }

    static byte[] ipv4Raw(int b0, int len) {
        byte[] ip = new byte[len];
        ip[0] = (byte) b0;
        ip[3] = (byte) len;
        return ip;
    }

    static byte[] fixed(byte[] ip) {
        return ip;
    }

    static byte[] chain(int n) {
        byte[] c = new byte[n * 8 + 20];
        for (int i = 0; i < n; i++)
            c[i * 8] = (byte) (i == n - 1 ? 6 : 60);
        return c;
    }

    static byte[] doffBeyond() {
        byte[] t = tcp(5, 0);
        t[12] = (byte) (15 << 4); // 60-byte header in a 20-byte segment
        return t;
    }

    @ParameterizedTest
    @EnumSource(Bad.class)
    void malformedFrameIsDroppedAndCountedWithoutAffectingOthers(Bad bad) {
        run(GOOD_TCP4, bad.frame, GOOD_TCP4);
        assertEquals(1, count(bad.counter), bad + " counted under " + bad.counter + ": " + counters.snapshot());
        long drops = counters.snapshot().entrySet().stream().filter(e -> e.getKey().startsWith("drop."))
            .mapToLong(Map.Entry::getValue).sum();
        assertEquals(1, drops, "exactly one drop: " + counters.snapshot());
        assertEquals(2, delivered.size(), "the good frames around it: " + delivered);
        assertTrue(delivered.get(1).startsWith("6:" + (((GOOD_TCP4.length + 7) & ~7) + ((bad.frame.length + 7) & ~7)) + ":"),
            "second good frame delivered from its own offset: " + delivered);
    }

    @Test
    void neighbourDiscoveryIsItsOwnTypeAndEchoStaysIcmpv6() {
        byte[] ns = new byte[24];
        ns[0] = (byte) 135;
        byte[] echo = new byte[8];
        echo[0] = (byte) 128;
        run(eth(0x86dd, ipv6(58, "fe80::2", "ff02::1:ff00:1", ns)), eth(0x86dd, ipv6(58, "2001:db8::2", "2001:db8::1", echo)));
        assertEquals(2, delivered.size(), delivered.toString());
        assertTrue(delivered.get(0).startsWith(PacketBatch.NDP + ":"), delivered.toString());
        assertTrue(delivered.get(1).startsWith("58:"), delivered.toString());
    }

    static byte[] udpTo(int dport) {
        byte[] u = udp(4, 12);
        u[0] = 0;
        u[1] = 68;
        u[2] = (byte) (dport >>> 8);
        u[3] = (byte) dport;
        return u;
    }

    @Test
    void dhcpServerPortsAreTheirOwnTypeOnlyInTheirOwnIpVersion() {
        run(eth(0x0800, ipv4(17, "0.0.0.0", "255.255.255.255", udpTo(67))),
            eth(0x86dd, ipv6(17, "fe80::2", "ff02::1:2", udpTo(547))),
            eth(0x0800, ipv4(17, "10.0.0.2", "10.0.0.1", udpTo(547))), // DHCPv6's port over IPv4: plain UDP
            eth(0x86dd, ipv6(17, "2001:db8::2", "2001:db8::1", udpTo(67))));
        assertEquals(4, delivered.size(), delivered.toString());
        assertEquals(2, delivered.stream().filter(d -> d.startsWith(PacketBatch.DHCP + ":")).count(), delivered.toString());
        assertEquals(2, delivered.stream().filter(d -> d.startsWith("17:")).count(), delivered.toString());
    }

    @Test
    void orderWithinATypeIsKept() {
        byte[][] frames = new byte[50][];
        for (int i = 0; i < frames.length; i++)
            frames[i] = i % 2 == 0 ? eth(0x0800, ipv4(6, "10.0.0." + (i + 1), "10.0.0.200", tcp(5, 0)))
                : eth(0x0800, ipv4(17, "10.0.1." + (i + 1), "10.0.0.200", udp(0, 8)));
        run(frames);
        assertEquals(50, delivered.size());
        for (int i = 0; i < 25; i++) {
            assertTrue(delivered.get(i).contains(">") && delivered.get(i).startsWith("6:")
                && delivered.get(i).contains(":10.0.0." + (2 * i + 1) + ">"), delivered.get(i));
            assertTrue(delivered.get(25 + i).startsWith("17:")
                && delivered.get(25 + i).contains(":10.0.1." + (2 * i + 2) + ">"), delivered.get(25 + i));
        }
    }

    @Test
    void parsingAndDeliveryAllocateNothing() {
        int off = 0;
        for (int i = 0; i < 64; i++)
            off = put(i, off, i % 3 == 0 ? Bad.TCP_DOFF_BEYOND.frame : GOOD_TCP4);
        ingress.frames().count = 64;
        Ingress.Sink quiet = (t, b) -> { };
        for (int i = 0; i < 20_000; i++) // warm up
            ingress.deliver(quiet);
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long before = mx.getCurrentThreadAllocatedBytes();
        for (int i = 0; i < 20_000; i++)
            ingress.deliver(quiet);
        long allocated = mx.getCurrentThreadAllocatedBytes() - before;
        assertTrue(allocated < 64 * 1024, "allocated " + allocated + " bytes for 1.28M frames");
    }
}
