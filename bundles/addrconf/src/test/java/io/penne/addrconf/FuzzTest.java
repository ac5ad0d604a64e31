package io.penne.addrconf;

import static io.penne.addrconf.Frames.OUR_MAC;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.ByteBuffer;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Random mutations of valid requests: bytes flipped, lengths and offsets
 * shifted, room shrunk. The responders must never throw, must write only
 * inside the room they were given, and must write nothing when they decline.
 */
class FuzzTest {
    static final int ROUNDS = 100_000;
    static final byte SENTINEL = 0x5a;

    @Test
    void arpMutations() {
        SplittableRandom rnd = new SplittableRandom(0x5eed_a4b);
        byte[] valid = new byte[60];
        System.arraycopy(Frames.arpRequest("0a00020f", "0a000202"), 0, valid, 0, 42);
        ByteBuffer in = ByteBuffer.allocateDirect(256);
        ByteBuffer out = ByteBuffer.allocateDirect(256);
        int answered = 0;
        for (int round = 0; round < ROUNDS; round++) {
            int frameOff = rnd.nextInt(0, 100);
            int frameLen = rnd.nextInt(4) == 0 ? rnd.nextInt(0, 80) : 60;
            in.clear();
            Frames.fill(in, (byte) rnd.nextInt());
            for (int i = 0; i < 60; i++)
                in.put(frameOff + i, valid[i]);
            Frames.mutate(in, frameOff, 60, rnd);
            if (rnd.nextInt(8) == 0) // a frame that ends at the buffer's end
                in.limit(Math.min(256, frameOff + Math.max(frameLen, 0)));
            int arpOff = rnd.nextInt(8) == 0 ? frameOff + rnd.nextInt(-20, 40) : frameOff + 14;
            int outOff = rnd.nextInt(0, 170);
            int room = rnd.nextInt(4) == 0 ? rnd.nextInt(0, 60) : ArpResponder.REPLY_LENGTH;
            Frames.fill(out, SENTINEL);
            int r;
            try {
                r = ArpResponder.reply(in, frameOff, arpOff, frameOff + frameLen, out, outOff, room, OUR_MAC,
                    rnd.nextBoolean() ? 0x0a00020fL : ArpResponder.UNKNOWN);
            } catch (RuntimeException e) {
                throw new AssertionError("round " + round, e);
            }
            check(out, outOff, room, r, ArpResponder.REPLY_LENGTH, ArpResponder.reasons(), round);
            if (r > 0)
                answered++;
        }
        assertTrue(answered > ROUNDS / 20, "the fuzz must also reach the answering path: " + answered);
    }

    @Test
    void ndpMutations() {
        SplittableRandom rnd = new SplittableRandom(0x5eed_4d9);
        byte[] valid = Frames.icmp6(NdpResponderTest.GUEST_LL, NdpResponderTest.SOLICITED_NODE, 255,
            NdpResponderTest.ns(NdpResponderTest.TARGET, NdpResponderTest.SLLAO + "0e02" + "00".repeat(14)));
        int l4Valid = valid.length - 54;
        ByteBuffer in = ByteBuffer.allocateDirect(512);
        ByteBuffer out = ByteBuffer.allocateDirect(256);
        int answered = 0;
        for (int round = 0; round < ROUNDS; round++) {
            int frameOff = rnd.nextInt(0, 200);
            in.clear();
            Frames.fill(in, (byte) rnd.nextInt());
            for (int i = 0; i < valid.length; i++)
                in.put(frameOff + i, valid[i]);
            // mostly mutate the ICMPv6 part, where the option walk is
            if (rnd.nextInt(4) == 0)
                Frames.mutate(in, frameOff, valid.length, rnd);
            else
                Frames.mutate(in, frameOff + 54, l4Valid, rnd);
            int l4Len = rnd.nextInt(4) == 0 ? rnd.nextInt(-4, l4Valid + 16) : l4Valid;
            if (rnd.nextInt(8) == 0)
                in.limit(Math.min(512, frameOff + 54 + Math.max(l4Len, 0)));
            int ip6Off = frameOff + 14, l4Off = frameOff + 54;
            if (rnd.nextInt(16) == 0) {
                ip6Off += rnd.nextInt(-20, 20);
                l4Off += rnd.nextInt(-50, 50);
            }
            int outOff = rnd.nextInt(0, 170);
            int room = rnd.nextInt(4) == 0 ? rnd.nextInt(0, 100) : NdpResponder.REPLY_LENGTH;
            Frames.fill(out, SENTINEL);
            int r;
            try {
                r = NdpResponder.reply(in, frameOff, ip6Off, l4Off, l4Len, out, outOff, room, OUR_MAC,
                    0xfe80_0000_0000_0000L, 1, 0, rnd.nextBoolean() ? 0 : 2);
            } catch (RuntimeException e) {
                throw new AssertionError("round " + round, e);
            }
            check(out, outOff, room, r, NdpResponder.REPLY_LENGTH, NdpResponder.reasons(), round);
            if (r > 0)
                answered++;
        }
        assertTrue(answered > ROUNDS / 20, "the fuzz must also reach the answering path: " + answered);
    }

    private static void check(ByteBuffer out, int outOff, int room, int r, int replyLength, int reasons, int round) {
        if (r > 0) {
            assertEquals(replyLength, r);
            if (r > room)
                fail("round " + round + ": reply of " + r + " in room " + room);
        } else if (r == 0 || -r >= reasons) {
            fail("round " + round + ": unknown code " + r);
        }
        int written = r > 0 ? r : 0;
        for (int i = 0; i < out.capacity(); i++)
            if ((i < outOff || i >= outOff + written) && out.get(i) != SENTINEL)
                fail("round " + round + ": byte " + i + " written outside the reply (off " + outOff + ", code " + r
                    + ")");
    }

}
