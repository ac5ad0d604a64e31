package io.penne.api;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.penne.api.flow.InetAddr;
import java.nio.ByteBuffer;
import java.util.Random;
import org.junit.jupiter.api.Test;

class IpFramesTest {

    /** Plain RFC 1071 sum, two bytes at a time, as the reference. */
    private static int reference(ByteBuffer b, int off, int len, long acc) {
        for (int i = 0; i + 1 < len; i += 2)
            acc += ((b.get(off + i) & 0xff) << 8) | (b.get(off + i + 1) & 0xff);
        if ((len & 1) != 0)
            acc += (b.get(off + len - 1) & 0xff) << 8;
        while ((acc >>> 16) != 0)
            acc = (acc & 0xffff) + (acc >>> 16);
        return (int) (~acc & 0xffff);
    }

    @Test
    void sumMatchesTheReferenceForEveryLengthAndAlignment() {
        ByteBuffer b = ByteBuffer.allocateDirect(70000);
        Random r = new Random(7);
        for (int i = 0; i < b.capacity(); i++)
            b.put(i, (byte) r.nextInt());
        for (int off = 0; off < 9; off++)
            for (int len : new int[] {0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 1472, 65507})
                assertEquals(reference(b, off, len, 0), IpFrames.fold(IpFrames.sum(b, off, len, 0)), off + "/" + len);
    }

    @Test
    void ipv4HeaderChecksumVerifiesAndUdpPseudoHeaderAddsUp() {
        ByteBuffer b = ByteBuffer.allocateDirect(256);
        long[] s = InetAddr.parse("192.0.2.1"), d = InetAddr.parse("192.0.2.2");
        int l4 = IpFrames.ethIp(b, 0, 0x0a0b0c0d0e0fL, 0x9a559a559a55L, true, 17, s[0], s[1], d[0], d[1], 12);
        assertEquals(IpFrames.ETH_HLEN + IpFrames.IPV4_HLEN, l4);
        assertEquals(0, reference(b, IpFrames.ETH_HLEN, IpFrames.IPV4_HLEN, 0));
        assertEquals(0x0800, b.getShort(12) & 0xffff);
        assertEquals(32, b.getShort(IpFrames.ETH_HLEN + 2) & 0xffff);
        // A UDP datagram whose checksum field holds the computed sum verifies to zero.
        b.putShort(l4, (short) 53).putShort(l4 + 2, (short) 4000).putShort(l4 + 4, (short) 12).putShort(l4 + 6, (short) 0);
        b.putInt(l4 + 8, 0x61626364);
        long pseudo = IpFrames.pseudo(b, IpFrames.ETH_HLEN, true, 17, 12);
        b.putShort(l4 + 6, (short) IpFrames.fold(IpFrames.sum(b, l4, 12, pseudo)));
        assertEquals(0, IpFrames.fold(IpFrames.sum(b, l4, 12, pseudo)));
    }

    @Test
    void ipv6Header() {
        ByteBuffer b = ByteBuffer.allocateDirect(256);
        long[] s = InetAddr.parse("fd00::1"), d = InetAddr.parse("fd00::2");
        int l4 = IpFrames.ethIp(b, 0, 1, 2, false, 58, s[0], s[1], d[0], d[1], 16);
        assertEquals(IpFrames.ETH_HLEN + IpFrames.IPV6_HLEN, l4);
        assertEquals(0x86dd, b.getShort(12) & 0xffff);
        assertEquals(16, b.getShort(IpFrames.ETH_HLEN + 4) & 0xffff);
        assertEquals(58, b.get(IpFrames.ETH_HLEN + 6));
        assertEquals(s[1], b.getLong(IpFrames.ETH_HLEN + 16));
        assertEquals(d[1], b.getLong(IpFrames.ETH_HLEN + 32));
    }
}
