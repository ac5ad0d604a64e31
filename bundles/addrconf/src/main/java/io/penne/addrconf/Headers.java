package io.penne.addrconf;

import java.nio.ByteBuffer;

/**
 * The Ethernet and IPv6 headers the responders' replies start with, written
 * in one place. Absolute writes only; the caller has checked the room.
 */
final class Headers {
    static final int ETHERNET = 14;
    static final int IPV6 = 40;
    static final int ETH_P_IP = 0x0800, ETH_P_ARP = 0x0806, ETH_P_IPV6 = 0x86dd;

    private Headers() {
    }

    /** An Ethernet header at {@code off}, to {@code dst} from {@code src}; returns where the payload starts. */
    static int ethernet(ByteBuffer out, int off, long dst, long src, int type) {
        ArpResponder.putMac(out, off, dst);
        ArpResponder.putMac(out, off + 6, src);
        out.putShort(off + 12, (short) type);
        return off + ETHERNET;
    }

    /**
     * An IPv6 header at {@code ip}: traffic class and flow label 0, hop limit
     * 255 (which NDP receivers require, RFC 4861 7.1.2, and which passt uses
     * for every frame it makes); returns where the payload starts.
     */
    static int ipv6(ByteBuffer out, int ip, int payloadLength, int nextHeader, long srcHi, long srcLo, long dstHi,
                    long dstLo) {
        out.putInt(ip, 0x60000000);
        out.putShort(ip + 4, (short) payloadLength);
        out.put(ip + 6, (byte) nextHeader);
        out.put(ip + 7, (byte) 255);
        out.putLong(ip + 8, srcHi);
        out.putLong(ip + 16, srcLo);
        out.putLong(ip + 24, dstHi);
        out.putLong(ip + 32, dstLo);
        return ip + IPV6;
    }
}
