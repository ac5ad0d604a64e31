package io.penne.addrconf;

import static io.penne.addrconf.Frames.OUR_MAC;
import static io.penne.addrconf.Frames.hex;
import static io.penne.addrconf.NdpResponderTest.GUEST_LL;
import static io.penne.addrconf.NdpResponderTest.UNSPECIFIED;
import static io.penne.addrconf.NdpResponderTest.hi;
import static io.penne.addrconf.NdpResponderTest.lo;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class RouterAdvertiserTest {
    static final String OUR_LL = "fe800000000000000000000000000001"; // fe80::1
    static final String ALL_ROUTERS = "ff020000000000000000000000000002";
    static final String ALL_NODES = "ff020000000000000000000000000001";
    static final String GUEST = "20010db8000100020000000000000010"; // 2001:db8:1:2::10
    static final String DNS1 = "20010db8000000000000000000000053";
    static final String SLLAO = "0101525400123456";

    static RouterAdvertiser plain() {
        return new RouterAdvertiser(OUR_MAC, hi(OUR_LL), lo(OUR_LL), hi(GUEST), 0, new long[0], List.of());
    }

    static byte[] rs(String src, int hopLimit, String options) {
        return Frames.icmp6(src, ALL_ROUTERS, hopLimit, "8500 0000 00000000" + options);
    }

    /** Reply to {@code frame} (frame at 100 of 512 bytes; output at 32 of a 512-byte buffer). */
    static int run(RouterAdvertiser ra, byte[] frame, ByteBuffer out, int room) {
        return ra.reply(Frames.at(frame, 100, 512), 100, 114, 154, frame.length - 54, out, 32, room);
    }

    /** The ICMPv6 checksum verifies: summing the message, checksum included, with the pseudo-header gives 0. */
    static void assertChecksum(ByteBuffer out, int frame, int len, String src, String dst) {
        byte[] icmp = Frames.bytes(out, frame + 54, len);
        int stored = ((icmp[2] & 0xff) << 8) | (icmp[3] & 0xff);
        assertEquals(Frames.checksum(hex(src), hex(dst), icmp), stored, "checksum");
    }

    @Test
    void solicitationFromLinkLocalGetsUnicastAdvertisement() {
        RouterAdvertiser ra = plain();
        ByteBuffer out = ByteBuffer.allocateDirect(512);
        int n = run(ra, rs(GUEST_LL, 255, SLLAO), out, 512);
        assertEquals(14 + 40 + 56, n);
        assertEquals(n, ra.length());
        String expected = ""
            + "525400123456" + "9a559a559a55" + "86dd"
            + "60000000" + "0038" + "3a" + "ff" + OUR_LL + GUEST_LL
            + "86" + "00" + Frames.hex(out, 32 + 56, 2) // type 134, code 0, checksum (checked below)
            + "ff" + "80" + "ffff" // current hop limit 255; Managed; router lifetime 65535
            + "00000000" + "00000000" // reachable time, retransmission timer
            + "03" + "04" + "40" + "c0" + "ffffffff" + "ffffffff" + "00000000" // prefix: /64, L and A, for ever
            + "20010db800010002" + "0000000000000000" // the guest's /64, host bits cleared
            + "01" + "01" + "9a559a559a55"; // source link-layer address: our MAC
        assertEquals(expected, Frames.hex(out, 32, n));
        assertChecksum(out, 32, 56, OUR_LL, GUEST_LL);
        assertEquals(0, out.get(31));
        assertEquals(0, out.get(32 + n));
    }

    @Test
    void solicitationFromUnspecifiedGoesToAllNodes() {
        RouterAdvertiser ra = plain();
        ByteBuffer out = ByteBuffer.allocateDirect(512);
        int n = run(ra, rs(UNSPECIFIED, 255, ""), out, 512);
        assertEquals(110, n);
        assertEquals("333300000001", Frames.hex(out, 32, 6));
        assertEquals(ALL_NODES, Frames.hex(out, 32 + 38, 16));
        assertChecksum(out, 32, 56, OUR_LL, ALL_NODES);
        // and unsolicited ones too
        ByteBuffer u = ByteBuffer.allocateDirect(512);
        assertEquals(110, ra.unsolicited(u, 32, 110));
        assertEquals(Frames.hex(out, 32, n), Frames.hex(u, 32, n));
    }

    @Test
    void mtuResolversAndSearchListOptions() {
        RouterAdvertiser ra = new RouterAdvertiser(OUR_MAC, hi(OUR_LL), lo(OUR_LL), hi(GUEST), 65520,
            new long[] {hi(DNS1), lo(DNS1), hi(OUR_LL), lo(OUR_LL)}, List.of("example.com", "lab.example.com."));
        ByteBuffer out = ByteBuffer.allocateDirect(512);
        int n = run(ra, rs(GUEST_LL, 255, SLLAO), out, 512);
        // 56 + MTU 8 + RDNSS 8 + 2 * 16 + DNSSL 8 + 32 (13 + 17 = 30 bytes of names, padded to 32)
        assertEquals(54 + 56 + 8 + 40 + 40, n);
        String options = Frames.hex(out, 32 + 54 + 56, n - 54 - 56);
        assertEquals(""
            + "05" + "01" + "0000" + "0000fff0" // MTU 65520
            + "19" + "05" + "0000" + "ffffffff" + DNS1 + OUR_LL // RDNSS: 1 + 2 * 2 units
            + "1f" + "05" + "0000" + "ffffffff" // DNSSL: 1 + 4 units
            + "076578616d706c6503636f6d00" // example.com
            + "036c6162076578616d706c6503636f6d00" // lab.example.com
            + "0000", options);
        assertChecksum(out, 32, n - 54, OUR_LL, GUEST_LL);
    }

    @Test
    void searchListEncoding() {
        assertArrayEquals(hex("0161000000000000"), RouterAdvertiser.searchList(List.of("a")));
        assertArrayEquals(new byte[0], RouterAdvertiser.searchList(List.of()));
        // names that cannot be encoded are left out
        String label64 = "x".repeat(64);
        assertArrayEquals(new byte[0], RouterAdvertiser.searchList(List.of(label64 + ".com", "a..b", ".", "")));
        assertNull(DnsName.encode("a..b"));
        assertNull(DnsName.encode(("abcdefg.").repeat(32)));
        assertArrayEquals(hex("03777777076578616d706c6503636f6d00"), DnsName.encode("www.example.com."));
    }

    @Test
    void badSolicitationsAreRefusedWithTheirReason() {
        RouterAdvertiser ra = plain();
        ByteBuffer out = ByteBuffer.allocateDirect(512);
        assertEquals(RouterAdvertiser.HOP_LIMIT, run(ra, rs(GUEST_LL, 64, SLLAO), out, 512));
        byte[] code = rs(GUEST_LL, 255, SLLAO);
        code[55] = 1;
        assertEquals(RouterAdvertiser.BAD_CODE, run(ra, code, out, 512));
        assertEquals(RouterAdvertiser.BAD_OPTION, run(ra, rs(GUEST_LL, 255, "0100525400123456"), out, 512));
        assertEquals(RouterAdvertiser.BAD_OPTION, run(ra, rs(GUEST_LL, 255, "0102525400123456"), out, 512));
        assertEquals(RouterAdvertiser.BAD_OPTION, run(ra, rs(GUEST_LL, 255, "01"), out, 512));
        // RFC 4861 6.1.1: no source link-layer address from the unspecified address
        assertEquals(RouterAdvertiser.BAD_OPTION, run(ra, rs(UNSPECIFIED, 255, SLLAO), out, 512));
        byte[] shortRs = Frames.icmp6(GUEST_LL, ALL_ROUTERS, 255, "8500 0000");
        assertEquals(RouterAdvertiser.TRUNCATED, run(ra, shortRs, out, 512));
        byte[] f = rs(GUEST_LL, 255, SLLAO);
        assertEquals(RouterAdvertiser.TRUNCATED, ra.reply(Frames.at(f, 0, f.length), 0, 14, 54, 64, out, 0, 512));
        assertEquals(RouterAdvertiser.TRUNCATED, ra.reply(Frames.at(f, 0, f.length), 0, 10, 54, 16, out, 0, 512));
        assertEquals(RouterAdvertiser.NO_ROOM, run(ra, f, out, 109));
        assertEquals(RouterAdvertiser.NO_ROOM, ra.reply(Frames.at(f, 0, 128), 0, 14, 54, 16, out, 500, 512));
        assertEquals(RouterAdvertiser.NO_ROOM, ra.unsolicited(out, -1, 512));
        for (int r = 1; r < RouterAdvertiser.reasons(); r++)
            assertTrue(RouterAdvertiser.reason(-r).matches("[a-z-]+"));
    }

    @Test
    void constructorRefusesWhatCannotBeAdvertised() {
        assertThrows(IllegalArgumentException.class,
            () -> new RouterAdvertiser(OUR_MAC, hi(DNS1), lo(DNS1), hi(GUEST), 0, new long[0], List.of()));
        assertThrows(IllegalArgumentException.class,
            () -> new RouterAdvertiser(OUR_MAC, hi(OUR_LL), lo(OUR_LL), 0, 0, new long[0], List.of()));
        assertThrows(IllegalArgumentException.class,
            () -> new RouterAdvertiser(OUR_MAC, hi(OUR_LL), lo(OUR_LL), hi(GUEST), 0, new long[1], List.of()));
    }

    @Test
    void randomMutationsNeverThrow() {
        RouterAdvertiser ra = plain();
        Random rnd = new Random(4861);
        ByteBuffer out = ByteBuffer.allocateDirect(512);
        byte[] base = rs(GUEST_LL, 255, SLLAO + "0e02000000000000" + "0000000000000000");
        int answered = 0;
        for (int i = 0; i < 20_000; i++) {
            byte[] f = base.clone();
            for (int k = rnd.nextInt(4); k >= 0; k--)
                f[54 + rnd.nextInt(f.length - 54)] = (byte) rnd.nextInt(256);
            int len = rnd.nextInt(f.length - 54 + 1);
            int r = ra.reply(Frames.at(f, 0, 256), 0, 14, 54, len, out, 0, 512);
            assertTrue(r == 110 || (r < 0 && r > -RouterAdvertiser.reasons()), "result " + r);
            if (r > 0)
                answered++;
        }
        assertTrue(answered > 0);
    }

    @Test
    void advertisementsDoNotAllocate() {
        RouterAdvertiser ra = new RouterAdvertiser(OUR_MAC, hi(OUR_LL), lo(OUR_LL), hi(GUEST), 1500,
            new long[] {hi(DNS1), lo(DNS1)}, List.of("example.com"));
        byte[] f = rs(GUEST_LL, 255, SLLAO);
        ByteBuffer in = Frames.at(f, 0, 128), out = ByteBuffer.allocateDirect(512);
        long[] m = AllocationTest.measure(() -> {
            long sink = 0;
            for (int i = 0; i < AllocationTest.N; i++)
                sink += ra.reply(in, 0, 14, 54, 16, out, 0, 512);
            return sink;
        });
        assertEquals((long) AllocationTest.N * ra.length(), m[0]);
        assertTrue(m[1] < AllocationTest.LIMIT, m[1] + " bytes for " + AllocationTest.N + " advertisements");
    }
}
