package io.penne.tcp;

import io.penne.api.IpFrames;
import java.nio.ByteBuffer;

/**
 * Ethernet + IPv4/IPv6 + TCP headers written in place, and the Internet
 * checksum. Pure functions over a big-endian buffer with absolute indexing;
 * nothing allocates.
 *
 * <p>A frame is built in three steps: {@link #headers} writes Ethernet, IP
 * and the fixed TCP header (the payload and any options must already be, or
 * will be, at their places), the caller writes options, then
 * {@link #checksums} fills the IPv4 header checksum and the TCP checksum over
 * the pseudo-header, header and payload. The guest's kernel verifies both:
 * the tap device carries no checksum offload information.
 */
final class TcpFrames {
    static final int ETH_HLEN = 14;
    static final int IPV4_HLEN = 20;
    static final int IPV6_HLEN = 40;
    static final int TCP_HLEN = 20;

    static final int FIN = 0x01;
    static final int SYN = 0x02;
    static final int RST = 0x04;
    static final int PSH = 0x08;
    static final int ACK = 0x10;

    static final int OPT_EOL = 0;
    static final int OPT_NOP = 1;
    static final int OPT_MSS = 2;
    static final int OPT_WS = 3;

    private static final int ETH_P_IP = 0x0800;
    private static final int ETH_P_IPV6 = 0x86dd;
    private static final int PROTO_TCP = 6;

    private TcpFrames() {
    }

    /** Length of Ethernet plus IP headers. */
    static int l3l4Offset(boolean v4) {
        return ETH_HLEN + (v4 ? IPV4_HLEN : IPV6_HLEN);
    }

    /**
     * Writes Ethernet, IP and TCP headers of a frame at {@code off}. Addresses
     * are in the flow form (IPv4 mapped: the address is the low 32 bits of
     * {@code lo}). {@code optLen} must be a multiple of 4.
     *
     * @return the frame length
     */
    static int headers(ByteBuffer b, int off, long dstMac, long srcMac, boolean v4,
                       long srcHi, long srcLo, long dstHi, long dstLo, int sport, int dport,
                       int seq, int ack, int flags, int window, int optLen, int payloadLen) {
        putMac(b, off, dstMac);
        putMac(b, off + 6, srcMac);
        int l4;
        int l4len = TCP_HLEN + optLen + payloadLen;
        if (v4) {
            b.putShort(off + 12, (short) ETH_P_IP);
            int ip = off + ETH_HLEN;
            b.put(ip, (byte) 0x45);
            b.put(ip + 1, (byte) 0);
            b.putShort(ip + 2, (short) (IPV4_HLEN + l4len));
            b.putShort(ip + 4, (short) 0);
            b.putShort(ip + 6, (short) 0x4000); // DF
            b.put(ip + 8, (byte) 64);
            b.put(ip + 9, (byte) PROTO_TCP);
            b.putShort(ip + 10, (short) 0);
            b.putInt(ip + 12, (int) srcLo);
            b.putInt(ip + 16, (int) dstLo);
            l4 = ip + IPV4_HLEN;
        } else {
            b.putShort(off + 12, (short) ETH_P_IPV6);
            int ip = off + ETH_HLEN;
            b.putInt(ip, 0x6000_0000);
            b.putShort(ip + 4, (short) l4len);
            b.put(ip + 6, (byte) PROTO_TCP);
            b.put(ip + 7, (byte) 64);
            b.putLong(ip + 8, srcHi);
            b.putLong(ip + 16, srcLo);
            b.putLong(ip + 24, dstHi);
            b.putLong(ip + 32, dstLo);
            l4 = ip + IPV6_HLEN;
        }
        b.putShort(l4, (short) sport);
        b.putShort(l4 + 2, (short) dport);
        b.putInt(l4 + 4, seq);
        b.putInt(l4 + 8, ack);
        b.put(l4 + 12, (byte) (((TCP_HLEN + optLen) / 4) << 4));
        b.put(l4 + 13, (byte) flags);
        b.putShort(l4 + 14, (short) window);
        b.putShort(l4 + 16, (short) 0);
        b.putShort(l4 + 18, (short) 0);
        return l4 - off + l4len;
    }

    /** Fills the IPv4 header checksum (if IPv4) and the TCP checksum of the frame at {@code off}. */
    static void checksums(ByteBuffer b, int off, int frameLen, boolean v4) {
        int ip = off + ETH_HLEN;
        long acc;
        int l4, l4len;
        if (v4) {
            b.putShort(ip + 10, (short) fold(sum(b, ip, IPV4_HLEN, 0)));
            l4 = ip + IPV4_HLEN;
            l4len = frameLen - ETH_HLEN - IPV4_HLEN;
            acc = (b.getInt(ip + 12) & 0xffff_ffffL) + (b.getInt(ip + 16) & 0xffff_ffffL) + PROTO_TCP + l4len;
        } else {
            l4 = ip + IPV6_HLEN;
            l4len = frameLen - ETH_HLEN - IPV6_HLEN;
            acc = sum(b, ip + 8, 32, PROTO_TCP + (long) l4len);
        }
        b.putShort(l4 + 16, (short) fold(sum(b, l4, l4len, acc)));
    }

    /**
     * IPv4 header checksum as {@link #checksums}, and in the TCP checksum
     * field only the pseudo-header sum (folded, not complemented), for a
     * device that completes it ({@code GuestDevice.sendChecksumPending}).
     */
    static void checksumsPartial(ByteBuffer b, int off, int frameLen, boolean v4) {
        int ip = off + ETH_HLEN;
        int l4 = ip + (v4 ? IPV4_HLEN : IPV6_HLEN);
        if (v4) {
            b.putShort(ip + 10, (short) 0);
            b.putShort(ip + 10, (short) fold(sum(b, ip, IPV4_HLEN, 0)));
        }
        long acc = IpFrames.pseudo(b, ip, v4, PROTO_TCP, off + frameLen - l4);
        b.putShort(l4 + 16, (short) (~fold(acc) & 0xffff));
    }

    /** Ones' complement sum of {@code b[off, off + len)} added to {@code acc} ({@link IpFrames#sum}). */
    static long sum(ByteBuffer b, int off, int len, long acc) {
        return IpFrames.sum(b, off, len, acc);
    }

    /** Folds a sum to 16 bits and complements it ({@link IpFrames#fold}). */
    static int fold(long acc) {
        return IpFrames.fold(acc);
    }

    private static void putMac(ByteBuffer b, int off, long mac) {
        b.putShort(off, (short) (mac >>> 32));
        b.putInt(off + 2, (int) mac);
    }
}
