package io.penne.tcp;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Frames built by {@link TcpFrames} verify with a naive byte-pair checksum, as the guest kernel checks them. */
class TcpFramesTest {

    /** Ones' complement sum of 16-bit words, one pair of bytes at a time. */
    private static long naive(ByteBuffer b, int off, int len, long acc) {
        for (int i = 0; i < len; i += 2) {
            int hi = b.get(off + i) & 0xff;
            int lo = i + 1 < len ? b.get(off + i + 1) & 0xff : 0;
            acc += (hi << 8) | lo;
        }
        return acc;
    }

    private static int foldNaive(long acc) {
        while ((acc >>> 16) != 0)
            acc = (acc & 0xffff) + (acc >>> 16);
        return (int) acc;
    }

    @Test
    void ipv4FramesVerify() {
        for (int payload : new int[] {0, 1, 2, 3, 7, 1460, 1461, 65479}) {
            ByteBuffer b = ByteBuffer.allocateDirect(70000);
            new Random(payload).ints(0, 256).limit(payload).forEach(new java.util.function.IntConsumer() {
                int i = TcpFrames.l3l4Offset(true) + TcpFrames.TCP_HLEN + 8;
                public void accept(int v) { b.put(i++, (byte) v); }
            });
            int len = TcpFrames.headers(b, 8, 0x0a0b0c0d0e0fL, 0x9a559a559a55L, true, 0, 0xffff_c000_0201L, 0,
                0xffff_c000_0202L, 443, 51000, 0x80000001, 0x12345678, TcpFrames.ACK | TcpFrames.PSH, 0xffff, 8,
                payload);
            assertEquals(14 + 20 + 28 + payload, len);
            TcpFrames.checksums(b, 8, len, true);
            int ip = 8 + 14;
            assertEquals(0xffff, foldNaive(naive(b, ip, 20, 0)), "IPv4 header checksum");
            int l4len = len - 34;
            long pseudo = naive(b, ip + 12, 8, 0) + 6 + l4len;
            assertEquals(0xffff, foldNaive(naive(b, ip + 20, l4len, pseudo)), "TCP checksum, payload " + payload);
        }
    }

    @Test
    void ipv6FramesVerify() {
        for (int payload : new int[] {0, 1, 5, 1440, 65459}) {
            ByteBuffer b = ByteBuffer.allocateDirect(70000);
            for (int i = 0; i < payload; i++)
                b.put(74 + i, (byte) (i * 31 + 7));
            int len = TcpFrames.headers(b, 0, 0x0a0b0c0d0e0fL, 0x9a559a559a55L, false, 0xfd00_0000_0000_0000L, 1,
                0xfd00_0000_0000_0000L, 2, 22, 40000, -5, 77, TcpFrames.ACK, 1000, 0, payload);
            assertEquals(14 + 40 + 20 + payload, len);
            TcpFrames.checksums(b, 0, len, false);
            int l4len = len - 54;
            long pseudo = naive(b, 14 + 8, 32, 0) + 6 + l4len;
            assertEquals(0xffff, foldNaive(naive(b, 54, l4len, pseudo)), "TCP checksum, payload " + payload);
        }
    }

    /**
     * A partial checksum (pseudo-header only, for a device that completes
     * it) completes to the full one: summing the segment over it, as the
     * kernel does from csum_start, gives what {@link TcpFrames#checksums} puts there.
     */
    @Test
    void partialChecksumCompletesToTheFullOne() {
        for (boolean v4 : new boolean[] {true, false}) {
            for (int payload : new int[] {0, 1, 1460, 65000}) {
                ByteBuffer b = ByteBuffer.allocateDirect(70000);
                for (int i = 0; i < payload; i++)
                    b.put(74 + i, (byte) (i * 13 + 1));
                int len = TcpFrames.headers(b, 0, 0x0a0b0c0d0e0fL, 0x9a559a559a55L, v4, v4 ? 0 : 0xfd00L << 48,
                    v4 ? 0xffff_c000_0201L : 1, v4 ? 0 : 0xfd00L << 48, v4 ? 0xffff_c000_0202L : 2, 22, 40000, 9, 77,
                    TcpFrames.ACK, 1000, 0, payload);
                TcpFrames.checksums(b, 0, len, v4);
                int l4 = TcpFrames.l3l4Offset(v4);
                int full = b.getShort(l4 + 16) & 0xffff;
                int ipSum = v4 ? b.getShort(14 + 10) & 0xffff : 0;
                TcpFrames.checksumsPartial(b, 0, len, v4);
                assertEquals(ipSum, v4 ? b.getShort(14 + 10) & 0xffff : 0, "IPv4 header checksum unchanged");
                int completed = ~foldNaive(naive(b, l4, len - l4, 0)) & 0xffff;
                assertEquals(full, completed, (v4 ? "IPv4" : "IPv6") + " payload " + payload);
            }
        }
    }
}
