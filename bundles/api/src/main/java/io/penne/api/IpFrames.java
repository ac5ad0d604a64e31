package io.penne.api;

import java.nio.ByteBuffer;

/**
 * Ethernet and IP headers of frames to the guest, and Internet checksums,
 * for the datagram handlers (UDP, ICMP) that build frames in a
 * {@link GuestDevice} buffer. Pure functions over a big-endian direct
 * buffer with absolute offsets; nothing allocates. Addresses are in the
 * flow form ({@link io.penne.api.flow.InetAddr}: IPv4 is the low 32 bits of
 * {@code lo}).
 */
public final class IpFrames {
    public static final int ETH_HLEN = 14;
    public static final int IPV4_HLEN = 20;
    public static final int IPV6_HLEN = 40;
    public static final int UDP_HLEN = 8;
    private static final int ETH_P_IP = 0x0800;
    private static final int ETH_P_IPV6 = 0x86dd;

    private IpFrames() {
    }

    /** Offset of the Layer 4 header from the start of the frame. */
    public static int l4Offset(boolean v4) {
        return ETH_HLEN + (v4 ? IPV4_HLEN : IPV6_HLEN);
    }

    /**
     * Writes the Ethernet and IP headers of a frame at {@code off} carrying
     * {@code l4len} bytes of IP protocol {@code proto}, with the IPv4 header
     * checksum; the Layer 4 header and checksum are the caller's.
     *
     * @return the offset of the Layer 4 header
     */
    public static int ethIp(ByteBuffer b, int off, long dstMac, long srcMac, boolean v4, int proto,
                            long srcHi, long srcLo, long dstHi, long dstLo, int l4len) {
        b.putShort(off, (short) (dstMac >>> 32));
        b.putInt(off + 2, (int) dstMac);
        b.putShort(off + 6, (short) (srcMac >>> 32));
        b.putInt(off + 8, (int) srcMac);
        b.putShort(off + 12, (short) (v4 ? ETH_P_IP : ETH_P_IPV6));
        return ip(b, off + ETH_HLEN, v4, proto, srcHi, srcLo, dstHi, dstLo, l4len);
    }

    /**
     * Writes an IP header at {@code ip} (with its checksum, for IPv4) for
     * {@code l4len} bytes of {@code proto}: the headers of a frame, or the
     * quoted packet inside an ICMP error.
     *
     * @return the offset of the Layer 4 header
     */
    public static int ip(ByteBuffer b, int ip, boolean v4, int proto,
                         long srcHi, long srcLo, long dstHi, long dstLo, int l4len) {
        if (v4) {
            b.putInt(ip, 0x4500_0000 | (IPV4_HLEN + l4len));
            b.putInt(ip + 4, 0x0000_4000); // id 0, DF
            b.putInt(ip + 8, (255 << 24) | (proto << 16)); // TTL, protocol, checksum 0
            b.putInt(ip + 12, (int) srcLo);
            b.putInt(ip + 16, (int) dstLo);
            b.putShort(ip + 10, (short) fold(sum(b, ip, IPV4_HLEN, 0)));
            return ip + IPV4_HLEN;
        }
        b.putInt(ip, 0x6000_0000);
        b.putInt(ip + 4, (l4len << 16) | (proto << 8) | 255);
        b.putLong(ip + 8, srcHi);
        b.putLong(ip + 16, srcLo);
        b.putLong(ip + 24, dstHi);
        b.putLong(ip + 32, dstLo);
        return ip + IPV6_HLEN;
    }

    /** The pseudo-header sum of the frame whose IP header is at {@code ip}, for {@code l4len} bytes of {@code proto}. */
    public static long pseudo(ByteBuffer b, int ip, boolean v4, int proto, int l4len) {
        if (v4)
            return (b.getInt(ip + 12) & 0xffff_ffffL) + (b.getInt(ip + 16) & 0xffff_ffffL) + proto + l4len;
        return sum(b, ip + 8, 32, proto + (long) l4len);
    }

    /**
     * Adds the 16-bit big-endian words of {@code b[off, off + len)} to
     * {@code acc} (ones' complement arithmetic, folded by {@link #fold}).
     * Reads 8 bytes at a time: a 32-bit word adds the same as its two halves
     * once folded, because 2^16 is 1 modulo 0xffff.
     */
    public static long sum(ByteBuffer b, int off, int len, long acc) {
        int end = off + len;
        while (off + 8 <= end) {
            long v = b.getLong(off);
            acc += (v >>> 32) + (v & 0xffff_ffffL);
            off += 8;
        }
        if (off + 4 <= end) {
            acc += b.getInt(off) & 0xffff_ffffL;
            off += 4;
        }
        if (off + 2 <= end) {
            acc += b.getShort(off) & 0xffff;
            off += 2;
        }
        if (off < end)
            acc += (b.get(off) & 0xff) << 8;
        return acc;
    }

    /** Folds a sum to 16 bits and complements it. */
    public static int fold(long acc) {
        while ((acc >>> 16) != 0)
            acc = (acc & 0xffff) + (acc >>> 16);
        return (int) (~acc & 0xffff);
    }
}
