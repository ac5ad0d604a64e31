package io.penne.core;

import io.penne.api.Counters;
import io.penne.api.PacketBatch;
import io.penne.api.flow.InetAddr;
import java.nio.ByteBuffer;

/**
 * Layer 2 to 4 validation of guest frames.
 *
 * <p><b>Theory of operation.</b> Each frame of a receive batch is checked
 * once, front to back, against the buffer bounds before any field is used:
 * Ethernet header and type; for ARP, the fixed IPv4-over-Ethernet payload;
 * for IPv4, version, header length, total length, header checksum (nobody
 * but the guest vouches for it), fragments (not handled, as in pasta) and
 * loopback addresses (never valid on the wire); for IPv6, version, payload
 * length, the chain of extension headers (bounded, fragments dropped) and
 * loopback or IPv4-mapped addresses; then the minimal Layer 4 header of TCP,
 * UDP, ICMP (IPv4 only) and ICMPv6 (IPv6 only), so handlers can read those
 * headers without bounds checks of their own; ICMPv6 neighbour discovery
 * and UDP to a DHCP or DHCPv6 server port get packet types of their own
 * ({@link PacketBatch#NDP}, {@link PacketBatch#DHCP}). Ethernet padding is trimmed, not an error. A frame
 * that fails is dropped and counted under {@code drop.<reason>}; it cannot
 * affect any other frame. A frame that passes gets its offsets, protocol and
 * addresses recorded in {@link ParsedFrames}.
 *
 * <p><b>Limits.</b> No VLAN tags, no IP options beyond skipping them, no
 * jumbograms; Layer 4 checksums are left to the handlers. Allocation-free.
 */
final class FrameParser {
    static final int ETH_HLEN = 14;
    static final int ETH_P_IP = 0x0800;
    static final int ETH_P_ARP = 0x0806;
    static final int ETH_P_IPV6 = 0x86dd;
    private static final int MAX_IPV6_EXTENSIONS = 8;

    /** Why a frame was dropped; each reason is a counter {@code drop.<name>}. */
    enum Drop {
        L2_SHORT("l2.short"), L2_VLAN("l2.vlan"), L2_ETHERTYPE("l2.ethertype"),
        ARP_SHORT("arp.short"),
        IPV4_SHORT("ipv4.short"), IPV4_VERSION("ipv4.version"), IPV4_IHL("ipv4.ihl"),
        IPV4_LENGTH("ipv4.length"), IPV4_CHECKSUM("ipv4.checksum"), IPV4_FRAGMENT("ipv4.fragment"),
        IPV4_LOOPBACK("ipv4.loopback"),
        IPV6_SHORT("ipv6.short"), IPV6_VERSION("ipv6.version"), IPV6_LENGTH("ipv6.length"),
        IPV6_EXTENSION("ipv6.extension"), IPV6_FRAGMENT("ipv6.fragment"), IPV6_NO_NEXT("ipv6.no_next"),
        IPV6_LOOPBACK("ipv6.loopback"), IPV6_V4MAPPED("ipv6.v4mapped"),
        TCP_SHORT("tcp.short"), TCP_DOFF("tcp.doff"),
        UDP_SHORT("udp.short"), UDP_LENGTH("udp.length"),
        ICMP_SHORT("icmp.short"), ICMP_VERSION("icmp.version");

        final String counter;

        Drop(String name) {
            this.counter = "drop." + name;
        }
    }

    private final Counters counters;
    private final int[] dropIds = new int[Drop.values().length];

    FrameParser(Counters counters) {
        this.counters = counters;
        for (Drop d : Drop.values())
            dropIds[d.ordinal()] = counters.register(d.counter);
    }

    /**
     * Parses the frame in slot {@code i} of {@code f} (its offset and length
     * already set).
     *
     * @return its packet type (IP protocol or {@link PacketBatch#ARP}), or -1 if dropped
     */
    int parse(ParsedFrames f, int i) {
        ByteBuffer b = f.buf;
        int off = f.frameOff[i];
        int len = f.frameLen[i];
        if (len < ETH_HLEN)
            return drop(Drop.L2_SHORT);
        int type = u16(b, off + 12);
        int l3 = off + ETH_HLEN;
        int l3len = len - ETH_HLEN;
        f.l3Off[i] = l3;
        switch (type) {
            case ETH_P_IP:
                return ipv4(f, i, b, l3, l3len);
            case ETH_P_IPV6:
                return ipv6(f, i, b, l3, l3len);
            case ETH_P_ARP:
                if (l3len < 28)
                    return drop(Drop.ARP_SHORT);
                f.version[i] = 0;
                f.protocol[i] = PacketBatch.ARP;
                return PacketBatch.ARP;
            case 0x8100:
            case 0x88a8:
                return drop(Drop.L2_VLAN);
            default:
                return drop(Drop.L2_ETHERTYPE);
        }
    }

    private int ipv4(ParsedFrames f, int i, ByteBuffer b, int l3, int l3len) {
        if (l3len < 20)
            return drop(Drop.IPV4_SHORT);
        int b0 = b.get(l3) & 0xff;
        if (b0 >>> 4 != 4)
            return drop(Drop.IPV4_VERSION);
        int hlen = (b0 & 0xf) * 4;
        if (hlen < 20 || hlen > l3len)
            return drop(Drop.IPV4_IHL);
        int total = u16(b, l3 + 2);
        if (total < hlen || total > l3len)
            return drop(Drop.IPV4_LENGTH);
        if (checksum(b, l3, hlen) != 0)
            return drop(Drop.IPV4_CHECKSUM);
        if ((u16(b, l3 + 6) & ~0x4000) != 0) // anything but DF: MF, an offset, or the reserved bit
            return drop(Drop.IPV4_FRAGMENT);
        int src = b.getInt(l3 + 12);
        int dst = b.getInt(l3 + 16);
        if ((src >>> 24) == 127 || (dst >>> 24) == 127)
            return drop(Drop.IPV4_LOOPBACK);
        int proto = b.get(l3 + 9) & 0xff;
        f.version[i] = 4;
        f.protocol[i] = proto;
        f.srcHi[i] = InetAddr.V4_HI;
        f.srcLo[i] = InetAddr.v4Lo(src);
        f.dstHi[i] = InetAddr.V4_HI;
        f.dstLo[i] = InetAddr.v4Lo(dst);
        return l4(f, i, b, proto, l3 + hlen, total - hlen, false);
    }

    private int ipv6(ParsedFrames f, int i, ByteBuffer b, int l3, int l3len) {
        if (l3len < 40)
            return drop(Drop.IPV6_SHORT);
        if ((b.get(l3) & 0xf0) != 0x60)
            return drop(Drop.IPV6_VERSION);
        int plen = u16(b, l3 + 4);
        if (plen > l3len - 40)
            return drop(Drop.IPV6_LENGTH);
        long sHi = b.getLong(l3 + 8), sLo = b.getLong(l3 + 16);
        long dHi = b.getLong(l3 + 24), dLo = b.getLong(l3 + 32);
        if (isV6Loopback(sHi, sLo) || isV6Loopback(dHi, dLo))
            return drop(Drop.IPV6_LOOPBACK);
        if (InetAddr.isV4(sHi, sLo) || InetAddr.isV4(dHi, dLo))
            return drop(Drop.IPV6_V4MAPPED);
        int end = l3 + 40 + plen;
        int pos = l3 + 40;
        int nh = b.get(l3 + 6) & 0xff;
        for (int n = 0; ; n++) {
            int hdrLen;
            switch (nh) {
                case 0:   // hop-by-hop options
                case 43:  // routing
                case 60:  // destination options
                    if (pos + 2 > end)
                        return drop(Drop.IPV6_EXTENSION);
                    hdrLen = ((b.get(pos + 1) & 0xff) + 1) * 8;
                    break;
                case 51:  // authentication header: length in 4-byte units, minus 2
                    if (pos + 2 > end)
                        return drop(Drop.IPV6_EXTENSION);
                    hdrLen = ((b.get(pos + 1) & 0xff) + 2) * 4;
                    break;
                case 44:
                    return drop(Drop.IPV6_FRAGMENT);
                case 59:
                    return drop(Drop.IPV6_NO_NEXT);
                default:
                    f.version[i] = 6;
                    f.protocol[i] = nh;
                    f.srcHi[i] = sHi;
                    f.srcLo[i] = sLo;
                    f.dstHi[i] = dHi;
                    f.dstLo[i] = dLo;
                    return l4(f, i, b, nh, pos, end - pos, true);
            }
            if (n >= MAX_IPV6_EXTENSIONS || pos + hdrLen > end)
                return drop(Drop.IPV6_EXTENSION);
            nh = b.get(pos) & 0xff;
            pos += hdrLen;
        }
    }

    private int l4(ParsedFrames f, int i, ByteBuffer b, int proto, int l4, int l4len, boolean v6) {
        switch (proto) {
            case 6: {
                if (l4len < 20)
                    return drop(Drop.TCP_SHORT);
                int doff = ((b.get(l4 + 12) & 0xff) >>> 4) * 4;
                if (doff < 20 || doff > l4len)
                    return drop(Drop.TCP_DOFF);
                break;
            }
            case 17: {
                if (l4len < 8)
                    return drop(Drop.UDP_SHORT);
                if (u16(b, l4 + 4) != l4len)
                    return drop(Drop.UDP_LENGTH);
                if (u16(b, l4 + 2) == (v6 ? 547 : 67)) {
                    f.l4Off[i] = l4;
                    f.l4Len[i] = l4len;
                    return PacketBatch.DHCP;
                }
                break;
            }
            case 1:
                if (v6)
                    return drop(Drop.ICMP_VERSION); // ICMP is IPv4's; IPv6 has ICMPv6
                if (l4len < 8)
                    return drop(Drop.ICMP_SHORT);
                break;
            case 58:
                if (!v6)
                    return drop(Drop.ICMP_VERSION);
                if (l4len < 4)
                    return drop(Drop.ICMP_SHORT);
                int icmpType = b.get(l4) & 0xff;
                if (icmpType >= 133 && icmpType <= 137) {
                    f.l4Off[i] = l4;
                    f.l4Len[i] = l4len;
                    return PacketBatch.NDP;
                }
                break;
            default:
                break;
        }
        f.l4Off[i] = l4;
        f.l4Len[i] = l4len;
        return proto;
    }

    private int drop(Drop d) {
        counters.inc(dropIds[d.ordinal()]);
        return -1;
    }

    private static boolean isV6Loopback(long hi, long lo) {
        return hi == 0 && lo == 1;
    }

    static int u16(ByteBuffer b, int at) {
        return b.getShort(at) & 0xffff;
    }

    /** Internet checksum of {@code len} bytes at {@code at}: 0 when a header's own checksum is right. */
    static int checksum(ByteBuffer b, int at, int len) {
        long sum = 0;
        int end = at + (len & ~1);
        for (int p = at; p < end; p += 2)
            sum += b.getShort(p) & 0xffff;
        if ((len & 1) != 0)
            sum += (b.get(at + len - 1) & 0xff) << 8;
        while ((sum >>> 16) != 0)
            sum = (sum & 0xffff) + (sum >>> 16);
        return (int) (~sum & 0xffff);
    }
}
