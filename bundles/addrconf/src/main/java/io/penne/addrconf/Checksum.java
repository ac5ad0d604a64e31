package io.penne.addrconf;

import java.nio.ByteBuffer;

/**
 * Internet checksums (RFC 1071) of the frames the address-configuration
 * responders write: the IPv4 header, and ICMPv6 or UDP with the IPv4 or IPv6
 * pseudo-header. Allocation-free; the checksum field must hold 0 when summed.
 */
final class Checksum {
    private Checksum() {
    }

    /** One's complement sum of {@code len} bytes at {@code off}, not folded (a trailing odd byte is padded). */
    static long sum(ByteBuffer b, int off, int len) {
        long sum = 0;
        int i = off, end = off + len;
        for (; i + 1 < end; i += 2)
            sum += b.getShort(i) & 0xffff;
        if (i < end)
            sum += (b.get(i) & 0xff) << 8;
        return sum;
    }

    /** The checksum of a sum: folded to 16 bits and complemented. */
    static int finish(long sum) {
        while ((sum >>> 16) != 0)
            sum = (sum & 0xffff) + (sum >>> 16);
        return (int) ~sum & 0xffff;
    }

    /** Checksum of the 20-byte IPv4 header (no options) at {@code off}. */
    static int ipv4Header(ByteBuffer b, int off) {
        return finish(sum(b, off, 20));
    }

    /** Layer 4 checksum over IPv4 (RFC 768 pseudo-header); addresses as unsigned 32-bit values. */
    static int ipv4(ByteBuffer b, int off, int len, int proto, int src, int dst) {
        long sum = (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + proto + len;
        return finish(sum + sum(b, off, len));
    }

    /** Layer 4 checksum over IPv6 (RFC 8200 section 8.1 pseudo-header); addresses as high and low halves. */
    static int ipv6(ByteBuffer b, int off, int len, int proto, long srcHi, long srcLo, long dstHi, long dstLo) {
        long sum = words(srcHi) + words(srcLo) + words(dstHi) + words(dstLo) + len + proto;
        return finish(sum + sum(b, off, len));
    }

    /** UDP sends a computed 0 as 0xffff: 0 means "no checksum" (IPv4) and is invalid over IPv6. */
    static int udp(int checksum) {
        return checksum == 0 ? 0xffff : checksum;
    }

    private static long words(long v) {
        return (v >>> 48) + ((v >>> 32) & 0xffff) + ((v >>> 16) & 0xffff) + (v & 0xffff);
    }
}
