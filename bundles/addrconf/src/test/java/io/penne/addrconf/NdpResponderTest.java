package io.penne.addrconf;

import static io.penne.addrconf.Frames.OUR_MAC;
import static io.penne.addrconf.Frames.at;
import static io.penne.addrconf.Frames.bytes;
import static io.penne.addrconf.Frames.hex;
import static io.penne.addrconf.Frames.icmp6;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

class NdpResponderTest {
    static final String GUEST_LL = "fe80000000000000505400fffe123456"; // fe80::5054:ff:fe12:3456
    static final String GUEST_GLOBAL = "20010db8000000000000000000000010"; // 2001:db8::10
    static final String TARGET = "fe800000000000000000000000000002"; // fe80::2
    static final String SOLICITED_NODE = "ff0200000000000000000001ff000002"; // ff02::1:ff00:2
    static final String UNSPECIFIED = "00000000000000000000000000000000";
    static final String OUR_LL = "fe800000000000000000000000000001"; // fe80::1
    static final String SLLAO = "0101525400123456";

    static String ns(String target, String options) {
        return "8700 0000 00000000" + target + options;
    }

    static long hi(String a) {
        return Long.parseUnsignedLong(a.substring(0, 16), 16);
    }

    static long lo(String a) {
        return Long.parseUnsignedLong(a.substring(16), 16);
    }

    /** Frame at 100 in a 512-byte buffer, output at 64 of a 256-byte buffer. */
    static int run(byte[] frame, int l4Len, ByteBuffer out, int room, String ourLl, String guest) {
        ByteBuffer in = at(frame, 100, 512);
        return NdpResponder.reply(in, 100, 114, 154, l4Len, out, 64, room, OUR_MAC, hi(ourLl), lo(ourLl),
            hi(guest), lo(guest));
    }

    static int run(byte[] frame) {
        return run(frame, frame.length - 54, ByteBuffer.allocateDirect(256), 86, UNSPECIFIED, UNSPECIFIED);
    }

    /** Checks every byte of an NA from {@code src} to {@code dst}; the checksum against Frames.checksum. */
    static void assertAdvertisement(ByteBuffer out, String src, String dst, String target) {
        byte[] icmp = bytes(out, 64 + 54, 32);
        int sum = Frames.checksum(hex(src), hex(dst), icmp);
        String expected = ""
            + "525400123456" + "9a559a559a55" + "86dd" // to the guest, from us
            + "60000000" // version 6, traffic class 0, flow label 0
            + "0020" // payload length 32
            + "3a" // next header ICMPv6
            + "ff" // hop limit 255
            + src + dst
            + "88" + "00" // type 136 (NA), code 0
            + String.format("%04x", sum)
            + "e0000000" // Router, Solicited, Override, as passt
            + target
            + "02" + "01" + "9a559a559a55"; // target link-layer address option: our MAC
        assertEquals(expected, Frames.hex(out, 64, 86));
        assertEquals(0, out.get(63));
        assertEquals(0, out.get(64 + 86));
        // and the checksum verifies: summing the message with its checksum gives 0xffff
        int verify = 0;
        byte[] p = new byte[72];
        System.arraycopy(hex(src), 0, p, 0, 16);
        System.arraycopy(hex(dst), 0, p, 16, 16);
        p[35] = 32;
        p[39] = 58;
        System.arraycopy(icmp, 0, p, 40, 32);
        for (int i = 0; i < p.length; i += 2)
            verify += ((p[i] & 0xff) << 8) | (p[i + 1] & 0xff);
        while ((verify >>> 16) != 0)
            verify = (verify & 0xffff) + (verify >>> 16);
        assertEquals(0xffff, verify);
    }

    @Test
    void solicitationWithSourceLinkLayerOptionGetsAdvertisement() {
        byte[] f = icmp6(GUEST_LL, SOLICITED_NODE, 255, ns(TARGET, SLLAO));
        ByteBuffer out = ByteBuffer.allocateDirect(256);
        assertEquals(86, run(f, 32, out, 86, UNSPECIFIED, UNSPECIFIED));
        assertAdvertisement(out, TARGET, GUEST_LL, TARGET); // no link-local configured: from the target
    }

    @Test
    void solicitationWithoutOptionsGetsAdvertisementFromOurLinkLocal() {
        String target = "20010db8000000000000000000000001";
        byte[] f = icmp6(GUEST_GLOBAL, target, 255, ns(target, ""));
        ByteBuffer out = ByteBuffer.allocateDirect(256);
        assertEquals(86, run(f, 24, out, 1500, OUR_LL, GUEST_GLOBAL));
        assertAdvertisement(out, OUR_LL, GUEST_GLOBAL, target); // passt: from our_tap_ll
    }

    @Test
    void unknownOptionsAreSkippedAndExtensionHeadersAllowed() {
        // a hop-by-hop header (8 bytes) between IPv6 and ICMPv6: the parser hands over l4Off = ip6 + 48
        byte[] plain = icmp6(GUEST_LL, SOLICITED_NODE, 255, ns(TARGET, SLLAO + "0e02" + "000000000000" + "0000000000000000"));
        byte[] f = new byte[plain.length + 8];
        System.arraycopy(plain, 0, f, 0, 54);
        System.arraycopy(plain, 54, f, 62, plain.length - 54);
        ByteBuffer in = at(f, 0, 256);
        ByteBuffer out = ByteBuffer.allocateDirect(256);
        assertEquals(86, NdpResponder.reply(in, 0, 14, 62, plain.length - 54, out, 64, 86, OUR_MAC, 0, 0, 0, 0));
        assertAdvertisement(out, TARGET, GUEST_LL, TARGET);
    }

    @Test
    void dadIsNotAnsweredAsInPasst() {
        assertEquals(NdpResponder.DAD, run(icmp6(UNSPECIFIED, SOLICITED_NODE, 255, ns(TARGET, ""))));
    }

    @Test
    void hopLimitMustBe255() {
        for (int hl : new int[] {0, 1, 64, 254})
            assertEquals(NdpResponder.HOP_LIMIT, run(icmp6(GUEST_LL, SOLICITED_NODE, hl, ns(TARGET, SLLAO))));
    }

    @Test
    void codeMustBeZero() {
        assertEquals(NdpResponder.BAD_CODE, run(icmp6(GUEST_LL, SOLICITED_NODE, 255,
            "8701 0000 00000000" + TARGET)));
    }

    @Test
    void badOptions() {
        String[] options = {
            "0100525400123456", // length 0
            "0102525400123456", // 16 bytes, only 8 there
            SLLAO + "01", // a lone byte after a good option
            SLLAO + "0100", // a zero-length header at the end
        };
        for (String o : options)
            assertEquals(NdpResponder.BAD_OPTION, run(icmp6(GUEST_LL, SOLICITED_NODE, 255, ns(TARGET, o))), o);
    }

    @Test
    void badTargets() {
        assertEquals(NdpResponder.BAD_TARGET,
            run(icmp6(GUEST_LL, SOLICITED_NODE, 255, ns("ff020000000000000000000000000001", ""))));
        assertEquals(NdpResponder.BAD_TARGET, run(icmp6(GUEST_LL, SOLICITED_NODE, 255, ns(UNSPECIFIED, ""))));
    }

    @Test
    void multicastSourceIsIgnored() {
        assertEquals(NdpResponder.BAD_SOURCE,
            run(icmp6("ff020000000000000000000000000001", SOLICITED_NODE, 255, ns(TARGET, ""))));
    }

    @Test
    void solicitationForTheGuestAddressIsIgnored() {
        byte[] f = icmp6(GUEST_LL, SOLICITED_NODE, 255, ns(GUEST_GLOBAL, ""));
        assertEquals(NdpResponder.GUEST_ADDRESS,
            run(f, 24, ByteBuffer.allocateDirect(256), 86, UNSPECIFIED, GUEST_GLOBAL));
        assertEquals(86, run(f, 24, ByteBuffer.allocateDirect(256), 86, UNSPECIFIED, UNSPECIFIED));
    }

    @Test
    void otherIcmpv6TypesAreClassified() {
        assertEquals(NdpResponder.ROUTER_SOLICITATION,
            run(icmp6(GUEST_LL, "ff020000000000000000000000000002", 255, "8500 0000 00000000" + SLLAO)));
        assertEquals(NdpResponder.OTHER_NDP, run(icmp6(GUEST_LL, SOLICITED_NODE, 255, "8800 0000 e0000000" + TARGET)));
        assertEquals(NdpResponder.OTHER_NDP, run(icmp6(GUEST_LL, SOLICITED_NODE, 255, "8600 0000 00000000 00000000 00000000")));
        assertEquals(NdpResponder.OTHER_NDP, run(icmp6(GUEST_LL, SOLICITED_NODE, 255, "8900 0000 00000000" + TARGET + TARGET)));
        assertEquals(NdpResponder.NOT_NDP, run(icmp6(GUEST_LL, "20010db8000000000000000000000001", 64,
            "8000 0000 1234 0001 6869")));
        assertEquals(NdpResponder.NOT_NDP, run(icmp6(GUEST_LL, SOLICITED_NODE, 64, "0100 0000 00000000")));
    }

    @Test
    void truncatedAndBadOffsetsNeverThrow() {
        byte[] f = icmp6(GUEST_LL, SOLICITED_NODE, 255, ns(TARGET, SLLAO));
        for (int len = -1; len < 24; len++)
            assertEquals(NdpResponder.TRUNCATED, run(f, len, ByteBuffer.allocateDirect(256), 86, UNSPECIFIED, UNSPECIFIED));
        ByteBuffer in = at(f, 0, f.length);
        ByteBuffer out = ByteBuffer.allocateDirect(256);
        int[][] offsets = {{-1, 14, 54, 32}, {0, 13, 54, 32}, {0, 14, 53, 32}, {0, 14, 54, 33},
            {0, 14, 54, Integer.MAX_VALUE}, {0, 14, Integer.MAX_VALUE, 32}, {0, 14, Integer.MIN_VALUE, 32},
            {0, Integer.MIN_VALUE, 54, 32}, {Integer.MAX_VALUE, 14, 54, 32}, {0, 14, 54, Integer.MIN_VALUE}};
        for (int[] o : offsets)
            assertEquals(NdpResponder.TRUNCATED,
                NdpResponder.reply(in, o[0], o[1], o[2], o[3], out, 0, 86, OUR_MAC, 0, 0, 0, 0));
    }

    @Test
    void tooLittleRoom() {
        byte[] f = icmp6(GUEST_LL, SOLICITED_NODE, 255, ns(TARGET, SLLAO));
        ByteBuffer out = ByteBuffer.allocateDirect(256);
        assertEquals(NdpResponder.NO_ROOM, run(f, 32, out, 85, UNSPECIFIED, UNSPECIFIED));
        for (int i = 0; i < 256; i++)
            assertEquals(0, out.get(i), "nothing written when not answered");
    }

    @Test
    void checksumHandlesOddLengthsAndCarries() {
        ByteBuffer b = ByteBuffer.allocateDirect(64);
        byte[] msg = hex("ffffffffffffff");
        for (int i = 0; i < msg.length; i++)
            b.put(3 + i, msg[i]);
        byte[] src = hex(GUEST_LL), dst = hex("ffffffffffffffffffffffffffffffff");
        assertEquals(Frames.checksum(src, dst, withZeroChecksum(msg)),
            NdpResponder.icmp6Checksum(zeroChecksum(b, 3), 3, 7, hi(GUEST_LL), lo(GUEST_LL), -1, -1));
    }

    private static byte[] withZeroChecksum(byte[] m) {
        byte[] c = m.clone();
        c[2] = 0;
        c[3] = 0;
        return c;
    }

    private static ByteBuffer zeroChecksum(ByteBuffer b, int off) {
        b.put(off + 2, (byte) 0);
        b.put(off + 3, (byte) 0);
        return b;
    }

    @Test
    void reasonNamesAreDistinct() {
        Set<String> names = new HashSet<>();
        for (int r = 1; r < NdpResponder.reasons(); r++)
            names.add(NdpResponder.reason(-r));
        assertEquals(NdpResponder.reasons() - 1, names.size());
        assertEquals("dad", NdpResponder.reason(NdpResponder.DAD));
    }
}
