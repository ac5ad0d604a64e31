package io.penne.addrconf;

import static io.penne.addrconf.Frames.OUR_MAC;
import static io.penne.addrconf.Frames.at;
import static io.penne.addrconf.Frames.hex;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class Dhcp4ResponderTest {
    static final int GUEST = 0x0a00020f; // 10.0.2.15
    static final int GW = 0x0a000202; // 10.0.2.2
    static final int DNS = 0x0a000203; // 10.0.2.3
    static final String XID = "3903f326";
    static final String CHADDR = "525400123456" + "00".repeat(10);
    /** dhclient's parameter request list (Debian's default dhclient.conf). */
    static final String PRL = "370d" + "011c02030f06770c2c2f1a792a";
    static final String SEARCH = "076578616d706c6503636f6d00" // example.com
        + "036c6162c000"; // lab + pointer to example.com at 0

    /** 10.0.2.15/24, gateway 10.0.2.2, MTU 65520, resolver 10.0.2.3, search example.com lab.example.com. */
    static Dhcp4Responder standard() {
        return dhcp4(GUEST, 24, GW, 65520, new int[] {DNS}, List.of("example.com", "lab.example.com"));
    }

    /** A responder without host name and FQDN. */
    static Dhcp4Responder dhcp4(int guest, int prefixLength, int gateway, int mtu, int[] dns, List<String> search) {
        return new Dhcp4Responder(guest, prefixLength, gateway, mtu, dns, search, null, null);
    }

    /** BOOTP message: op, flags, ciaddr, giaddr as hex; hops, secs, sname and file non-zero, to see them cleared. */
    static String bootp(String op, String flags, String ciaddr, String giaddr, String options) {
        return op + "01" + "06" + "01" // htype Ethernet, hlen 6, hops 1
            + XID + "0004" + flags + ciaddr + "00000000" + "00000000" + giaddr + CHADDR
            + "73".repeat(64) + "66".repeat(128) // sname, file
            + "63825363" + options;
    }

    static String discover(String options) {
        return bootp("01", "0000", "00000000", "00000000", "350101" + options);
    }

    /** Ethernet + IPv4 + UDP (68 to 67) frame from the guest, with real checksums, around a BOOTP message. */
    static byte[] request(String bootpHex) {
        byte[] m = hex(bootpHex);
        byte[] f = new byte[42 + m.length];
        System.arraycopy(hex("ffffffffffff 525400123456 0800"
            + "4500" + String.format("%04x", 28 + m.length) + "0000 0000 4011 0000 00000000 ffffffff"
            + "0044 0043" + String.format("%04x", 8 + m.length) + "0000"), 0, f, 0, 42);
        System.arraycopy(m, 0, f, 42, m.length);
        fillChecksums(f, 0, f.length);
        return f;
    }

    /** Fills the IPv4 header and UDP checksums of the Ethernet frame at {@code off}, independently of Checksum. */
    static void fillChecksums(byte[] f, int off, int len) {
        int ip = off + 14, u = off + 34, udpLen = len - 34;
        f[ip + 10] = 0;
        f[ip + 11] = 0;
        int sum = ~fold(sum16(f, ip, 20, 0)) & 0xffff;
        f[ip + 10] = (byte) (sum >>> 8);
        f[ip + 11] = (byte) sum;
        f[u + 6] = 0;
        f[u + 7] = 0;
        sum = ~fold(sum16(f, u, udpLen, pseudo(f, ip, udpLen))) & 0xffff;
        if (sum == 0)
            sum = 0xffff;
        f[u + 6] = (byte) (sum >>> 8);
        f[u + 7] = (byte) sum;
    }

    /** Sum of the IPv4 pseudo-header: addresses from the header at {@code ip}, protocol 17, UDP length. */
    static long pseudo(byte[] f, int ip, int udpLen) {
        return sum16(f, ip + 12, 8, 0) + 17 + udpLen;
    }

    static long sum16(byte[] b, int off, int len, long sum) {
        for (int i = 0; i < len; i += 2)
            sum += ((b[off + i] & 0xff) << 8) | (i + 1 < len ? b[off + i + 1] & 0xff : 0);
        return sum;
    }

    static int fold(long sum) {
        while ((sum >>> 16) != 0)
            sum = (sum & 0xffff) + (sum >>> 16);
        return (int) sum;
    }

    /**
     * The reply frame expected for the request built by {@link #bootp}: every
     * byte spelled out, checksums filled independently.
     */
    static String expected(String dst, String flags, String ciaddr, String giaddr, String options) {
        int udpLen = 8 + 240 + options.length() / 2;
        String hex = "525400123456" + "9a559a559a55" + "0800"
            + "4500" + String.format("%04x", 20 + udpLen) // version 4, IHL 5, TOS 0, total length
            + "0000" + "4000" // identification 0, DF
            + "ff" + "11" + "0000" // TTL 255, UDP, checksum below
            + "0a000202" + dst
            + "0043" + "0044" + String.format("%04x", udpLen) + "0000"
            + "02" + "01" + "06" + "00" // BOOTREPLY, htype, hlen copied, hops 0
            + XID + "0000" + flags + ciaddr // secs 0
            + "0a00020f" + "00000000" + giaddr // yiaddr the guest, siaddr 0
            + CHADDR + "00".repeat(192) + "63825363" + options;
        byte[] f = hex(hex);
        fillChecksums(f, 0, f.length);
        return Frames.hex(ByteBuffer.wrap(f), 0, f.length);
    }

    /** Runs {@code d} on {@code frame} at offset 100 of its buffer, the reply at 64 of {@code out}. */
    static int run(Dhcp4Responder d, byte[] frame, ByteBuffer out, int room) {
        ByteBuffer in = at(frame, 100, 2048);
        return d.reply(in, 100, 114, 134, frame.length - 34, out, 64, room, OUR_MAC);
    }

    static int run(Dhcp4Responder d, byte[] frame) {
        return run(d, frame, ByteBuffer.allocateDirect(1024), Dhcp4Responder.MAX_REPLY_LENGTH);
    }

    static void assertReply(ByteBuffer out, int r, String expected) {
        assertEquals(expected.length() / 2, r);
        assertEquals(expected, Frames.hex(out, 64, r));
        assertEquals(0, out.get(63), "nothing before the reply");
        assertEquals(0, out.get(64 + r), "nothing after the reply");
        byte[] f = Frames.bytes(out, 64, r);
        assertEquals(0xffff, fold(sum16(f, 14, 20, 0)), "IPv4 header checksum verifies");
        assertEquals(0xffff, fold(sum16(f, 34, r - 34, pseudo(f, 14, r - 34))), "UDP checksum verifies");
    }

    /** The option bytes of a reply at 64 in {@code out}, from after the magic cookie to the end of the frame. */
    static String options(ByteBuffer out, int r) {
        return Frames.hex(out, 64 + 42 + 240, r - 42 - 240);
    }

    /** Option {@code code}'s value in the reply, or null; fails if the options are not well formed. */
    static String option(ByteBuffer out, int r, int code) {
        String found = null;
        int p = 64 + 42 + 240, end = 64 + r;
        while (true) {
            assertTrue(p < end, "no end option");
            int c = out.get(p) & 0xff;
            if (c == 255)
                return found;
            if (c == 0) {
                p++;
                continue;
            }
            int len = out.get(p + 1) & 0xff;
            assertTrue(p + 2 + len <= end, "option " + c + " runs past the end");
            if (c == code) {
                assertEquals(null, found, "option " + c + " twice");
                found = Frames.hex(out, p + 2, len);
            }
            p += 2 + len;
        }
    }

    static final String STANDARD_OPTIONS = ""
        + "350102" // DHCPOFFER, first: the client's list does not name 53
        + "0104ffffff00" // then the client's list: 1 mask
        + "03040a000202" // 3 router (28 and 2 we do not have)
        + "06040a000203" // 6 DNS (15 we do not have)
        + "7713" + SEARCH // 119 search
        + "1a02fff0" // 26 MTU 65520 (12, 44, 47 we do not have; 121 not needed, 42 we do not have)
        + "3304ffffffff" // then the rest in code order: 51 infinite lease
        + "36040a000202" // 54 server identifier
        + "ff" + "00"; // end, padded to 60 bytes

    @Test
    void discoverFromDhclientGetsByteExactOffer() {
        ByteBuffer out = ByteBuffer.allocateDirect(1024);
        String m = discover("3204" + "0a00020f" + "0c04" + "67756573" + PRL + "ff") + "00".repeat(30);
        int r = run(standard(), request(m), out, Dhcp4Responder.MAX_REPLY_LENGTH);
        assertEquals(60, STANDARD_OPTIONS.length() / 2);
        assertReply(out, r, expected("0a00020f", "0000", "00000000", "00000000", STANDARD_OPTIONS));
        assertEquals(14 + 20 + 8 + 240 + 60, r);
    }

    @Test
    void broadcastFlagSendsToTheBroadcastAddress() {
        ByteBuffer out = ByteBuffer.allocateDirect(1024);
        String m = bootp("01", "8000", "00000000", "00000000", "350101" + PRL + "ff");
        int r = run(standard(), request(m), out, 1500);
        assertReply(out, r, expected("ffffffff", "8000", "00000000", "00000000", STANDARD_OPTIONS));
    }

    @Test
    void requestGetsAckWithCiaddrAndGiaddrCopied() {
        ByteBuffer out = ByteBuffer.allocateDirect(1024);
        String m = bootp("01", "0000", "0a00020f", "c0000201", "350103" + "32040a00020f" + "36040a000202" + PRL
            + "ff");
        int r = run(standard(), request(m), out, 1500);
        assertReply(out, r, expected("0a00020f", "0000", "0a00020f", "c0000201",
            "350105" + STANDARD_OPTIONS.substring(6)));
    }

    @Test
    void bootpWithoutMessageTypeGetsAckInCodeOrder() {
        ByteBuffer out = ByteBuffer.allocateDirect(1024);
        int r = run(standard(), request(bootp("01", "0000", "00000000", "00000000", "ff")), out, 1500);
        String options = "350105" + "0104ffffff00" + "03040a000202" + "06040a000203" + "1a02fff0" + "3304ffffffff"
            + "36040a000202" + "7713" + SEARCH + "ff" + "00";
        assertReply(out, r, expected("0a00020f", "0000", "00000000", "00000000", options));
    }

    @Test
    void bootpWithNoOptionsAtAllGetsAck() {
        // the message ends right after the magic cookie: no end option either
        ByteBuffer out = ByteBuffer.allocateDirect(1024);
        int r = run(standard(), request(bootp("01", "0000", "00000000", "00000000", "")), out, 1500);
        assertEquals("05", option(out, r, 53));
    }

    @Test
    void rapidCommitDiscoverGetsAckWithEmptyOption80() {
        ByteBuffer out = ByteBuffer.allocateDirect(1024);
        int r = run(standard(), request(discover("5000" + PRL + "ff")), out, 1500);
        String options = "350105" + STANDARD_OPTIONS.substring(6, STANDARD_OPTIONS.length() - 4)
            + "5000" // 80, in code order after 54
            + "ff";
        assertEquals(61, options.length() / 2, "no padding needed");
        assertReply(out, r, expected("0a00020f", "0000", "00000000", "00000000", options));
    }

    @Test
    void rapidCommitOnlyAppliesToDiscover() {
        ByteBuffer out = ByteBuffer.allocateDirect(1024);
        String m = bootp("01", "0000", "0a00020f", "00000000", "350103" + "5000" + PRL + "ff");
        int r = run(standard(), request(m), out, 1500);
        assertEquals("05", option(out, r, 53));
        assertEquals(null, option(out, r, 80));
        r = run(standard(), request(bootp("01", "0000", "00000000", "00000000", "5000")), out, 1500);
        assertEquals("05", option(out, r, 53));
        assertEquals(null, option(out, r, 80), "plain BOOTP with option 80");
    }

    @Test
    void otherMessageTypesAreNotAnswered() {
        // DECLINE, RELEASE, INFORM (passt does not answer it either), server-side types, and unknown values
        for (int type : new int[] {0, 2, 4, 5, 6, 7, 8, 9, 10, 18, 200, 255}) {
            ByteBuffer out = ByteBuffer.allocateDirect(1024);
            String m = bootp("01", "0000", "0a00020f", "00000000", String.format("3501%02x", type) + PRL + "ff");
            assertEquals(Dhcp4Responder.UNANSWERED_TYPE, run(standard(), request(m), out, 1500), "type " + type);
            assertNothingWritten(out);
        }
    }

    @Test
    void lastMessageTypeCounts() {
        ByteBuffer out = ByteBuffer.allocateDirect(1024);
        int r = run(standard(), request(discover("350103ff")), out, 1500);
        assertEquals("05", option(out, r, 53));
        assertEquals(Dhcp4Responder.UNANSWERED_TYPE, run(standard(), request(discover("350107ff"))));
    }

    @Test
    void messageTypeGoesWhereTheClientListsIt() {
        ByteBuffer out = ByteBuffer.allocateDirect(1024);
        int r = run(standard(), request(discover("3704" + "03" + "35" + "01" + "36" + "ff")), out, 1500);
        assertEquals("03040a000202" + "350102" + "0104ffffff00" + "36040a000202" // as listed
                + "06040a000203" + "1a02fff0" + "3304ffffffff" + "7713" + SEARCH // the rest in code order
                + "ff" + "00",
            options(out, r));
    }

    @Test
    void listedTwiceIsSentOnceAndUnknownCodesAreSkipped() {
        ByteBuffer out = ByteBuffer.allocateDirect(1024);
        String list = "3708" + "00" + "ff" + "36" + "2a" + "36" + "03" + "03" + "fe";
        int r = run(standard(), request(discover(list + "ff")), out, 1500);
        assertEquals("350102" + "36040a000202" + "03040a000202" + "0104ffffff00" + "06040a000203" + "1a02fff0"
            + "3304ffffffff" + "7713" + SEARCH + "ff" + "00", options(out, r));
    }

    @Test
    void emptyParameterListIsFine() {
        ByteBuffer out = ByteBuffer.allocateDirect(1024);
        int r = run(standard(), request(discover("3700" + "ff")), out, 1500);
        assertEquals("350102" + "0104ffffff00" + "03040a000202" + "06040a000203" + "1a02fff0" + "3304ffffffff"
            + "36040a000202" + "7713" + SEARCH + "ff" + "00", options(out, r));
    }

    @Test
    void gatewayOutsideTheSubnetGetsClasslessRoutes() {
        // guest 192.168.7.20/24, gateway 192.168.1.1: a host route to the gateway, then the default through it
        Dhcp4Responder d = dhcp4(0xc0a80714, 24, 0xc0a80101, 0, new int[0], List.of());
        ByteBuffer out = ByteBuffer.allocateDirect(1024);
        int r = run(d, request(discover(PRL + "ff")), out, 1500);
        assertEquals("350102" + "0104ffffff00" + "0304c0a80101"
                + "790e" + "20" + "c0a80101" + "00000000" + "00" + "c0a80101" // 121 where dhclient lists it
                + "3304ffffffff" + "3604c0a80101" + "ff" + "00".repeat(16),
            options(out, r));
        assertEquals("c0a80714", Frames.hex(out, 64 + 42 + 16, 4), "yiaddr");
        assertEquals("c0a80101" + "c0a80714", Frames.hex(out, 64 + 14 + 12, 8), "from the gateway to the guest");
    }

    @Test
    void hostRoutePrefixPutsEveryGatewayOutside() {
        Dhcp4Responder d = dhcp4(GUEST, 32, GW, 0, new int[0], List.of());
        ByteBuffer out = ByteBuffer.allocateDirect(1024);
        int r = run(d, request(discover("ff")), out, 1500);
        assertEquals("ffffffff", option(out, r, 1));
        assertEquals("20" + "0a000202" + "00000000" + "00" + "0a000202", option(out, r, 121));
        d = dhcp4(GUEST, 1, 0x8a000001, 0, new int[0], List.of()); // 10/1 vs 138/1: outside
        r = run(d, request(discover("ff")), out, 1500);
        assertEquals("80000000", option(out, r, 1));
        assertEquals("20" + "8a000001" + "00000000" + "00" + "8a000001", option(out, r, 121));
        d = dhcp4(GUEST, 1, 0x7a000001, 0, new int[0], List.of()); // 122.0.0.1 is inside 0/1
        r = run(d, request(discover("ff")), out, 1500);
        assertEquals(null, option(out, r, 121));
    }

    @Test
    void optionalOptionsLeftOutWhenNotConfigured() {
        Dhcp4Responder d = dhcp4(GUEST, 16, GW, 0, new int[0], List.of());
        ByteBuffer out = ByteBuffer.allocateDirect(1024);
        int r = run(d, request(discover(PRL + "ff")), out, 1500);
        assertEquals("350102" + "0104ffff0000" + "03040a000202" + "3304ffffffff" + "36040a000202" + "ff"
            + "00".repeat(32), options(out, r));
        assertEquals(342, r, "60 bytes of options at least");
    }

    @Test
    void severalResolversInOrder() {
        Dhcp4Responder d = dhcp4(GUEST, 24, GW, 1500, new int[] {0x01010101, DNS, 0xfffffffe},
            List.of());
        ByteBuffer out = ByteBuffer.allocateDirect(1024);
        int r = run(d, request(discover(PRL + "ff")), out, 1500);
        assertEquals("01010101" + "0a000203" + "fffffffe", option(out, r, 6));
        assertEquals("05dc", option(out, r, 26));
    }

    @Test
    void searchListEncoding() {
        assertEquals(SEARCH, Frames.hex(ByteBuffer.wrap(Dhcp4Responder.searchList(
            List.of("example.com", "lab.example.com"))), 0, 19));
        // whole-label suffixes are shared; a name that only starts alike is not
        String[] names = {"a.example.com", "b.example.com", "example.com.", "example.org", "example.community",
            "x.com", "b.example.com"};
        byte[] v = Dhcp4Responder.searchList(List.of(names));
        assertEquals(""
                + "01" + "61" + "07" + "6578616d706c65" + "03" + "636f6d" + "00" // at 0; example.com at 2, com at 10
                + "01" + "62" + "c002" // b, then example.com
                + "c002" // example.com is a pointer alone
                + "07" + "6578616d706c65" + "03" + "6f7267" + "00" // example.org: no whole-label suffix known
                + "07" + "6578616d706c65" + "09" + "636f6d6d756e697479" + "00" // not folded into example.com
                + "01" + "78" + "c00a" // x, then com
                + "c00f", // the repeated b.example.com, at 15
            Frames.hex(ByteBuffer.wrap(v), 0, v.length));
        List<String> want = new ArrayList<>();
        for (String n : names)
            want.add(n.endsWith(".") ? n.substring(0, n.length() - 1) : n);
        assertEquals(want, decode(v), "every pointer resolves to the name it stands for");
    }

    @Test
    void searchNamesThatDoNotFitAreDroppedFromTheFirstOn() {
        String l63 = "a".repeat(63);
        List<String> names = new ArrayList<>();
        for (char c = 'b'; c < 'h'; c++) // each name 1 + 63 + 1 + 1 + 1 = 67 bytes, nothing shared
            names.add(l63 + "." + c);
        names.add("c"); // would fit, but comes after one that does not
        byte[] v = Dhcp4Responder.searchList(names);
        assertEquals(3 * 67, v.length);
        assertEquals(names.subList(0, 3), decode(v));
        Dhcp4Responder d = dhcp4(GUEST, 24, GW, 0, new int[0], names);
        ByteBuffer out = ByteBuffer.allocateDirect(1024);
        int r = run(d, request(discover("ff")), out, 1500);
        assertEquals(Frames.hex(ByteBuffer.wrap(v), 0, v.length), option(out, r, 119));
    }

    @Test
    void optionsThatDoNotFitAreSkippedWhole() {
        // 63 resolvers: option 6 takes 254 bytes; a 62-byte option 119 cannot follow it within 307
        int[] dns = new int[63];
        for (int i = 0; i < dns.length; i++)
            dns[i] = 0x0a000100 + i;
        Dhcp4Responder d = dhcp4(GUEST, 24, GW, 65520, dns, List.of("a".repeat(50) + ".example"));
        ByteBuffer out = ByteBuffer.allocateDirect(1024);
        int r = run(d, request(discover("3702" + "06" + "77" + "ff")), out, 1500);
        assertEquals(null, option(out, r, 119));
        assertEquals(252 * 2, option(out, r, 6).length());
        for (int code : new int[] {1, 3, 26, 51, 53, 54})
            assertTrue(option(out, r, code) != null, "option " + code);
        assertEquals(3 + 254 + 6 + 6 + 4 + 6 + 6 + 1, r - 42 - 240, "no padding, nothing cut");
        assertEquals("ff", Frames.hex(out, 64 + r - 1, 1));

        // the other order: the search list goes in, the resolvers are left out
        r = run(d, request(discover("3702" + "77" + "06" + "ff")), out, 1500);
        assertEquals(null, option(out, r, 6));
        assertEquals(60 * 2, option(out, r, 119).length());
        assertEquals(3 + 62 + 6 + 6 + 4 + 6 + 6 + 1, r - 42 - 240);
    }

    @Test
    void optionsFillExactly308Bytes() {
        // 27 bytes of fixed options, 254 of option 6: option 119 of 2 + 24 ends at 307, the end option at 308
        int[] dns = new int[63];
        for (int i = 0; i < dns.length; i++)
            dns[i] = 0x0a000100 + i;
        String name = "x".repeat(18) + ".com"; // 1 + 18 + 1 + 3 + 1 = 24 bytes
        Dhcp4Responder d = dhcp4(GUEST, 24, GW, 0, dns, List.of(name));
        ByteBuffer out = ByteBuffer.allocateDirect(1024);
        int r = run(d, request(discover("ff")), out, Dhcp4Responder.MAX_REPLY_LENGTH);
        assertEquals(Dhcp4Responder.MAX_REPLY_LENGTH, r);
        assertEquals(List.of(name), decode(hex(option(out, r, 119))));
        assertEquals(Dhcp4Responder.NO_ROOM,
            run(d, request(discover("ff")), ByteBuffer.allocateDirect(1024), Dhcp4Responder.MAX_REPLY_LENGTH - 1));

        // one more byte and the last option in order (119) no longer fits
        d = dhcp4(GUEST, 24, GW, 0, dns, List.of("x" + name));
        r = run(d, request(discover("ff")), out, Dhcp4Responder.MAX_REPLY_LENGTH);
        assertEquals(null, option(out, r, 119));
        assertEquals(Dhcp4Responder.MAX_REPLY_LENGTH - 26, r);
    }

    // ---------------------------------------------------------------- host name and FQDN

    /** "guest.example.com" in DNS wire format: 19 bytes. */
    static final String GUEST_WIRE = "05" + "6775657374" + "07" + "6578616d706c65" + "03" + "636f6d" + "00";
    /** A name of 250 characters, 252 bytes encoded: the longest option 81 holds (3 + 252 = 255). */
    static final String FQDN_252 = ("a".repeat(63) + ".").repeat(3) + "d".repeat(58);

    static Dhcp4Responder named(String hostname, String fqdn) {
        return new Dhcp4Responder(GUEST, 24, GW, 65520, new int[] {DNS}, List.of("example.com", "lab.example.com"),
            hostname, fqdn);
    }

    @Test
    void hostNameAndFqdnGoInTheOfferByteExact() {
        ByteBuffer out = ByteBuffer.allocateDirect(1024);
        String m = discover("3204" + "0a00020f" + PRL + "ff");
        int r = run(named("guest", "guest.example.com"), request(m), out, Dhcp4Responder.MAX_REPLY_LENGTH);
        String options = ""
            + "350102" + "0104ffffff00" + "03040a000202" + "06040a000203" + "7713" + SEARCH
            + "0c05" + "6775657374" // 12 where dhclient lists it, after 119: "guest", no terminator
            + "1a02fff0"
            + "3304ffffffff" + "36040a000202" // the rest in code order, 81 (not in dhclient's list) after 54
            + "5116" + "04" + "ff" + "ff" + GUEST_WIRE // flags E, RCODE1 and RCODE2 255, then the wire name
            + "ff"; // 90 bytes: no padding
        assertReply(out, r, expected("0a00020f", "0000", "00000000", "00000000", options));

        // an ACK carries them as well, and a trailing dot changes nothing: the name ends at the root
        m = bootp("01", "0000", "0a00020f", "00000000", "350103" + "ff");
        r = run(named("guest", "guest.example.com."), request(m), out, Dhcp4Responder.MAX_REPLY_LENGTH);
        assertEquals("05", option(out, r, 53));
        assertEquals("6775657374", option(out, r, 12));
        assertEquals("04ffff" + GUEST_WIRE, option(out, r, 81));
    }

    @Test
    void hostNameAndFqdnEachOnlyWhenConfigured() {
        ByteBuffer out = ByteBuffer.allocateDirect(1024);
        byte[] f = request(discover("3702" + "0c" + "51" + "ff"));
        int r = run(standard(), f, out, 1500);
        assertEquals(null, option(out, r, 12));
        assertEquals(null, option(out, r, 81));
        r = run(named("guest", null), f, out, 1500);
        assertEquals("6775657374", option(out, r, 12));
        assertEquals(null, option(out, r, 81));
        r = run(named(null, "guest.example.com"), f, out, 1500);
        assertEquals(null, option(out, r, 12));
        assertEquals("04ffff" + GUEST_WIRE, option(out, r, 81));
        // the host name goes as it is: dots and all, a trailing one included, and any visible ASCII
        r = run(named("Guest-1.lab.", null), f, out, 1500);
        assertEquals(ascii("Guest-1.lab."), option(out, r, 12));
        r = run(named("!~_", null), f, out, 1500);
        assertEquals("217e5f", option(out, r, 12));
    }

    @Test
    void longestNamesAndAnFqdnTooLongForOption81() {
        ByteBuffer out = ByteBuffer.allocateDirect(1024);
        byte[] f = request(discover("ff"));
        // the longest host name, 253 characters as passt allows, fills option 12
        Dhcp4Responder d = new Dhcp4Responder(GUEST, 24, GW, 0, new int[0], List.of(), "h".repeat(253), null);
        int r = run(d, f, out, 1500);
        assertEquals(ascii("h".repeat(253)), option(out, r, 12));
        // 252 bytes encoded fill option 81 to its 255 bytes
        d = new Dhcp4Responder(GUEST, 24, GW, 0, new int[0], List.of(), null, FQDN_252);
        r = run(d, f, out, 1500);
        assertEquals("04ffff" + Frames.hex(ByteBuffer.wrap(DnsName.encode(FQDN_252)), 0, 252), option(out, r, 81));
        // 253 characters are a valid name (255 bytes encoded, as DHCPv6 sends it), but too long for option 81
        String fqdn255 = ("a".repeat(63) + ".").repeat(3) + "d".repeat(61);
        assertEquals(255, DnsName.encode(fqdn255).length);
        d = new Dhcp4Responder(GUEST, 24, GW, 0, new int[0], List.of(), "guest", fqdn255);
        r = run(d, f, out, 1500);
        assertEquals(null, option(out, r, 81));
        assertEquals("6775657374", option(out, r, 12), "the reply is otherwise whole");
        assertEquals(342, r);
    }

    @Test
    void hostNameOrFqdnThatDoesNotFitIsSkippedWhole() {
        // 27 bytes of fixed options; option 12 of 255 bytes and 81 of 257: one fits in 307, not both
        Dhcp4Responder d = new Dhcp4Responder(GUEST, 24, GW, 0, new int[0], List.of(), "h".repeat(253), FQDN_252);
        ByteBuffer out = ByteBuffer.allocateDirect(1024);
        // in code order, 12 first
        int r = run(d, request(discover("ff")), out, Dhcp4Responder.MAX_REPLY_LENGTH);
        assertEquals(ascii("h".repeat(253)), option(out, r, 12));
        assertEquals(null, option(out, r, 81));
        assertEquals(42 + 240 + 27 + 255 + 1, r);
        assertWellFormed(out, 64, r, Dhcp4Responder.MAX_REPLY_LENGTH, 0);
        // the client's list puts 81 first: then 12 is left out
        r = run(d, request(discover("3701" + "51" + "ff")), out, Dhcp4Responder.MAX_REPLY_LENGTH);
        assertEquals(null, option(out, r, 12));
        assertEquals(255 * 2, option(out, r, 81).length());
        assertEquals("51ff04ffff", Frames.hex(out, 64 + 42 + 240 + 3, 5), "right after option 53");
        assertEquals(42 + 240 + 27 + 257 + 1, r);
        assertWellFormed(out, 64, r, Dhcp4Responder.MAX_REPLY_LENGTH, 0);
    }

    @Test
    void namesTheOptionsCannotCarryAreRefusedAtConstruction() {
        String[] hostnames = {
            "", // empty: the handler takes an empty property as none
            "h".repeat(254), // over passt's 253
            "gu est", // a space
            "guest\n", // a control byte
            "gu\u0007est",
            "gu\u007fest", // DEL
            "caf\u00e9", // not ASCII
        };
        for (String h : hostnames)
            assertThrows(IllegalArgumentException.class,
                () -> new Dhcp4Responder(GUEST, 24, GW, 0, new int[0], List.of(), h, null), h);
        String[] fqdns = {
            "", ".", // no label at all
            "guest..example.com", ".guest.example.com", "guest.example.com..", // empty labels
            "g".repeat(64) + ".example.com", // a label over 63
            ("a".repeat(63) + ".").repeat(3) + "d".repeat(62), // 254 characters: 256 bytes encoded
            "guest.exa mple.com", "guest\t.example.com", "caf\u00e9.example.com",
        };
        for (String n : fqdns)
            assertThrows(IllegalArgumentException.class,
                () -> new Dhcp4Responder(GUEST, 24, GW, 0, new int[0], List.of(), null, n), n);
    }

    static String ascii(String s) {
        return Dhcp6ResponderTest.ascii(s);
    }

    @Test
    void computedUdpChecksumZeroIsSentAsAllOnes() {
        // the xid goes into the reply unchanged, so one of the 65536 values of its high half makes the computed
        // checksum 0; a checksum field of 0xffff can come from nothing else (the reply is not all zeros)
        ByteBuffer in = at(request(discover(PRL + "ff")), 0, 1024);
        int udpLen = in.getShort(38);
        ByteBuffer out = ByteBuffer.allocateDirect(1024);
        Dhcp4Responder d = standard();
        int found = 0;
        for (int h = 0; h < 0x10000; h++) {
            in.putShort(42 + 4, (short) h);
            int r = d.reply(in, 0, 14, 34, udpLen, out, 0, 1024, OUR_MAC);
            assertEquals(342, r);
            int sum = out.getShort(40) & 0xffff;
            assertTrue(sum != 0, "UDP checksum 0 sent: 'no checksum'");
            if (sum == 0xffff) {
                found++;
                byte[] f = Frames.bytes(out, 0, r);
                assertEquals(0xffff, fold(sum16(f, 34, r - 34, pseudo(f, 14, r - 34))), "and it verifies");
            }
        }
        assertEquals(1, found);
    }

    @Test
    void optionsWithLengthZeroAndPaddingAreFine() {
        ByteBuffer out = ByteBuffer.allocateDirect(1024);
        // pad bytes, an unknown empty option, an empty client identifier, and no end option
        int r = run(standard(), request(discover("0000" + "fa00" + "3d00" + "00")), out, 1500);
        assertEquals("02", option(out, r, 53));
        // an option ending exactly at the end of the datagram
        r = run(standard(), request(discover("fa03616263")), out, 1500);
        assertEquals("02", option(out, r, 53));
        // whatever follows the end option is not looked at
        r = run(standard(), request(discover("ff" + "35" + "ff")), out, 1500);
        assertEquals("02", option(out, r, 53));
    }

    @Test
    void messageTypeOfLengthOtherThanOneIsBad() {
        assertEquals(Dhcp4Responder.BAD_OPTION,
            run(standard(), request(bootp("01", "0000", "00000000", "00000000", "3500" + "ff"))));
        assertEquals(Dhcp4Responder.BAD_OPTION,
            run(standard(), request(bootp("01", "0000", "00000000", "00000000", "35020101" + "ff"))));
    }

    @Test
    void optionsRunningPastTheDatagram() {
        String[] bad = {
            "3d", // a code without its length
            "3d04010203", // one byte short
            "37ff010203", // a long list that is not there
            "fa03616263" + "0c", // a code at the very end after a good option
        };
        for (String o : bad) {
            ByteBuffer out = ByteBuffer.allocateDirect(1024);
            assertEquals(Dhcp4Responder.BAD_OPTION, run(standard(), request(discover(o)), out, 1500), o);
            assertNothingWritten(out);
        }
    }

    @Test
    void optionLengthsCountTheDatagramNotTheBuffer() {
        // the request's bytes go on past the UDP length: options must stop at udpLen, not at the buffer's end
        byte[] f = request(discover("3d04010203"));
        byte[] longer = new byte[f.length + 16];
        System.arraycopy(f, 0, longer, 0, f.length);
        ByteBuffer in = at(longer, 0, longer.length);
        ByteBuffer out = ByteBuffer.allocateDirect(1024);
        assertEquals(Dhcp4Responder.BAD_OPTION, standard().reply(in, 0, 14, 34, f.length - 34, out, 0, 1024,
            OUR_MAC));
    }

    @Test
    void truncatedRequests() {
        byte[] f = request(discover("ff"));
        int full = f.length - 34;
        Dhcp4Responder d = standard();
        ByteBuffer in = at(f, 0, f.length);
        ByteBuffer out = ByteBuffer.allocateDirect(1024);
        for (int udpLen : new int[] {Integer.MIN_VALUE, -1, 0, 7, 8, 9, 8 + 100, 8 + 239})
            assertEquals(Dhcp4Responder.TRUNCATED, d.reply(in, 0, 14, 34, udpLen, out, 0, 1024, OUR_MAC),
                "udpLen " + udpLen);
        assertEquals(Dhcp4Responder.TRUNCATED, d.reply(in, 0, 14, 34, full + 1, out, 0, 1024, OUR_MAC));
        // exactly the fixed part and the cookie: a BOOTP request without options
        assertTrue(d.reply(in, 0, 14, 34, 8 + 240, out, 0, 1024, OUR_MAC) > 0);
    }

    @Test
    void zeroLengthDatagram() {
        byte[] f = hex("ffffffffffff 525400123456 0800 4500001c 00000000 4011 0000 00000000 ffffffff"
            + "0044 0043 0008 0000");
        ByteBuffer out = ByteBuffer.allocateDirect(1024);
        assertEquals(Dhcp4Responder.TRUNCATED, standard().reply(at(f, 0, 42), 0, 14, 34, 8, out, 0, 1024, OUR_MAC));
        assertNothingWritten(out);
    }

    @Test
    void notARequest() {
        for (String op : new String[] {"02", "00", "03", "ff"}) {
            ByteBuffer out = ByteBuffer.allocateDirect(1024);
            String m = bootp(op, "0000", "00000000", "00000000", "350101ff");
            assertEquals(Dhcp4Responder.NOT_REQUEST, run(standard(), request(m), out, 1500), "op " + op);
            assertNothingWritten(out);
        }
    }

    @Test
    void badMagic() {
        for (String magic : new String[] {"63825362", "00000000", "53638263", "e3825363"}) {
            String m = discover("ff").replace("63825363350101", magic + "350101");
            assertEquals(Dhcp4Responder.BAD_MAGIC, run(standard(), request(m)), magic);
        }
    }

    @Test
    void offsetsOutOfTheBuffer() {
        byte[] f = request(discover("ff"));
        int udpLen = f.length - 34;
        ByteBuffer in = at(f, 0, f.length);
        ByteBuffer out = ByteBuffer.allocateDirect(1024);
        Dhcp4Responder d = standard();
        int[][] offsets = {{-1, 14, 34, udpLen}, {0, 13, 34, udpLen}, {0, 14, 33, udpLen}, {0, 14, 35, udpLen},
            {0, 14, 34, Integer.MAX_VALUE}, {0, 14, Integer.MAX_VALUE, udpLen}, {0, 14, Integer.MIN_VALUE, udpLen},
            {0, Integer.MIN_VALUE, 34, udpLen}, {0, Integer.MAX_VALUE, 34, udpLen}, {Integer.MAX_VALUE, 14, 34, udpLen},
            {Integer.MIN_VALUE, 14, 34, udpLen}, {Integer.MAX_VALUE - 20, Integer.MAX_VALUE - 6, Integer.MAX_VALUE, 8},
            {0, 14, Integer.MAX_VALUE - 8, 16}};
        for (int[] o : offsets) {
            assertEquals(Dhcp4Responder.TRUNCATED, d.reply(in, o[0], o[1], o[2], o[3], out, 0, 1024, OUR_MAC),
                java.util.Arrays.toString(o));
        }
        assertNothingWritten(out);
        // IPv4 options between the IPv4 and UDP headers are fine: the offsets only need to be in order
        byte[] withOptions = new byte[f.length + 4];
        System.arraycopy(f, 0, withOptions, 0, 34);
        System.arraycopy(f, 34, withOptions, 38, f.length - 34);
        assertTrue(d.reply(at(withOptions, 0, withOptions.length), 0, 14, 38, udpLen, out, 0, 1024, OUR_MAC) > 0);
    }

    @Test
    void tooLittleRoom() {
        byte[] f = request(discover(PRL + "ff"));
        int len = 14 + 20 + 8 + 240 + 60;
        ByteBuffer out = ByteBuffer.allocateDirect(1024);
        assertEquals(Dhcp4Responder.NO_ROOM, run(standard(), f, out, len - 1));
        assertNothingWritten(out);
        ByteBuffer in = at(f, 0, f.length);
        int udpLen = f.length - 34;
        for (int off : new int[] {-1, 1024 - len + 1, Integer.MAX_VALUE, Integer.MIN_VALUE, Integer.MAX_VALUE - len})
            assertEquals(Dhcp4Responder.NO_ROOM, standard().reply(in, 0, 14, 34, udpLen, out, off, len, OUR_MAC),
                "outOff " + off);
        assertNothingWritten(out);
        assertEquals(len, standard().reply(in, 0, 14, 34, udpLen, out, 1024 - len, len, OUR_MAC), "exactly enough");
    }

    @Test
    void unconfiguredAnswersNothing() {
        ByteBuffer out = ByteBuffer.allocateDirect(1024);
        byte[] f = request(discover(PRL + "ff"));
        assertEquals(Dhcp4Responder.UNCONFIGURED,
            run(dhcp4(0, 24, GW, 1500, new int[] {DNS}, List.of()), f, out, 1500));
        assertEquals(Dhcp4Responder.UNCONFIGURED,
            run(dhcp4(GUEST, 24, 0, 1500, new int[] {DNS}, List.of()), f, out, 1500));
        assertNothingWritten(out);
    }

    @Test
    void requestAndReplyMayShareTheBuffer() {
        // all input is read before the first write: the reply may overwrite its own request
        byte[] f = request(bootp("01", "8000", "00000000", "00000000", "350101" + PRL + "ff"));
        ByteBuffer separate = ByteBuffer.allocateDirect(1024);
        int r = run(standard(), f, separate, 1500);
        ByteBuffer shared = at(f, 64, 1024);
        assertEquals(r, standard().reply(shared, 64, 78, 98, f.length - 34, shared, 64, 1500, OUR_MAC));
        assertEquals(Frames.hex(separate, 64, r), Frames.hex(shared, 64, r));
    }

    @Test
    void badConfigurationIsRefusedAtConstruction() {
        List<String> none = List.of();
        int[] noDns = new int[0];
        assertThrows(IllegalArgumentException.class, () -> dhcp4(GUEST, 0, GW, 0, noDns, none));
        assertThrows(IllegalArgumentException.class, () -> dhcp4(GUEST, 33, GW, 0, noDns, none));
        assertThrows(IllegalArgumentException.class, () -> dhcp4(GUEST, -1, GW, 0, noDns, none));
        assertThrows(IllegalArgumentException.class, () -> dhcp4(GUEST, 24, GW, -1, noDns, none));
        assertThrows(IllegalArgumentException.class, () -> dhcp4(GUEST, 24, GW, 65536, noDns, none));
        assertThrows(IllegalArgumentException.class, () -> dhcp4(GUEST, 24, GW, 0, null, none));
        assertThrows(IllegalArgumentException.class, () -> dhcp4(GUEST, 24, GW, 0, noDns, null));
        assertThrows(IllegalArgumentException.class, () -> dhcp4(GUEST, 24, GW, 0, new int[64], none));
        assertThrows(IllegalArgumentException.class, () -> dhcp4(GUEST, 24, GW, 0, new int[] {0}, none));
        List<String> nullName = new ArrayList<>();
        nullName.add(null);
        for (List<String> search : List.of(List.of(""), List.of("."), List.of("a..b"), List.of(".a"),
            List.of("a.b.."), List.of("a b"), List.of("caf\u00e9.fr"), List.of("a".repeat(64) + ".com"),
            List.of(("a".repeat(63) + ".").repeat(4)), nullName))
            assertThrows(IllegalArgumentException.class, () -> dhcp4(GUEST, 24, GW, 0, noDns, search),
                String.valueOf(search));
        // the largest of each is fine
        int[] dns = new int[Dhcp4Responder.MAX_DNS];
        java.util.Arrays.fill(dns, DNS);
        dhcp4(GUEST, 32, GW, 65535, dns, List.of("a".repeat(63) + "." + "b".repeat(63) + "."
            + "c".repeat(63) + "." + "d".repeat(61)));
    }

    @Test
    void reasonNamesAreDistinct() {
        Set<String> names = new HashSet<>();
        for (int r = 1; r < Dhcp4Responder.reasons(); r++)
            names.add(Dhcp4Responder.reason(-r));
        assertEquals(Dhcp4Responder.reasons() - 1, names.size());
        assertEquals(8, Dhcp4Responder.reasons());
        assertEquals("unanswered-type", Dhcp4Responder.reason(Dhcp4Responder.UNANSWERED_TYPE));
        assertEquals("no-room", Dhcp4Responder.reason(Dhcp4Responder.NO_ROOM));
    }

    // ---------------------------------------------------------------- fuzz

    static final int FUZZ_ROUNDS = 50_000;
    static final byte SENTINEL = 0x5a;

    @Test
    void fuzzedRequestsNeverThrowAndAnswerWellFormed() {
        SplittableRandom rnd = new SplittableRandom(0x5eed_d4c9);
        Dhcp4Responder[] responders = {standard(),
            dhcp4(0xc0a80714, 24, 0xc0a80101, 1500, new int[] {1, 2, 3}, List.of("a.b", "c.a.b")),
            bigResponder(), named("h".repeat(200), "guest.example.com")};
        byte[][] valid = {
            request(discover("3204" + "0a00020f" + "0c04" + "67756573" + PRL + "ff") + "00".repeat(30)),
            request(bootp("01", "8000", "0a00020f", "00000000", "350103" + PRL + "ff")),
            request(discover("5000" + "3703" + "35" + "06" + "77" + "ff")),
            request(bootp("01", "0000", "00000000", "00000000", "")),
        };
        ByteBuffer in = ByteBuffer.allocateDirect(1024);
        ByteBuffer out = ByteBuffer.allocateDirect(1024);
        int answered = 0;
        Set<Integer> codes = new HashSet<>();
        for (int round = 0; round < FUZZ_ROUNDS; round++) {
            byte[] v = valid[rnd.nextInt(valid.length)];
            Dhcp4Responder d = responders[rnd.nextInt(responders.length)];
            int frameOff = rnd.nextInt(0, 200);
            in.clear();
            Frames.fill(in, (byte) rnd.nextInt());
            for (int i = 0; i < v.length; i++)
                in.put(frameOff + i, v[i]);
            int udpLen = v.length - 34;
            switch (rnd.nextInt(4)) {
                case 0 -> Frames.mutate(in, frameOff, v.length, rnd); // anywhere
                case 1 -> Frames.mutate(in, frameOff + 42, 12, rnd); // op and the fields before ciaddr
                default -> { // the options, where the parsing is
                    Frames.mutate(in, frameOff + 42 + 240, v.length - 42 - 240, rnd);
                    if (rnd.nextInt(4) == 0) { // or random TLVs outright
                        int n = rnd.nextInt(0, 60);
                        for (int i = 0; i < n; i++)
                            in.put(frameOff + 42 + 240 + i,
                                (byte) (rnd.nextInt(3) == 0 ? rnd.nextInt(0, 4) : rnd.nextInt()));
                        udpLen = 8 + 240 + n;
                    }
                }
            }
            if (rnd.nextInt(4) == 0)
                udpLen = rnd.nextInt(-8, udpLen + 32);
            if (rnd.nextInt(8) == 0)
                in.limit(Math.min(1024, frameOff + 34 + Math.max(udpLen, 0)));
            int ip4Off = frameOff + 14, udpOff = frameOff + 34;
            if (rnd.nextInt(16) == 0) {
                ip4Off += rnd.nextInt(-20, 20);
                udpOff += rnd.nextInt(-40, 40);
            }
            int outOff = rnd.nextInt(0, 500);
            int room = rnd.nextInt(4) == 0 ? rnd.nextInt(0, 700) : Dhcp4Responder.MAX_REPLY_LENGTH;
            Frames.fill(out, SENTINEL);
            int r;
            try {
                r = d.reply(in, frameOff, ip4Off, udpOff, udpLen, out, outOff, room, OUR_MAC);
            } catch (RuntimeException e) {
                throw new AssertionError("round " + round, e);
            }
            codes.add(r < 0 ? r : 1);
            if (r > 0) {
                answered++;
                assertWellFormed(out, outOff, r, room, round);
            } else if (r == 0 || -r >= Dhcp4Responder.reasons()) {
                fail("round " + round + ": unknown code " + r);
            }
            int written = r > 0 ? r : 0;
            for (int i = 0; i < out.capacity(); i++)
                if ((i < outOff || i >= outOff + written) && out.get(i) != SENTINEL)
                    fail("round " + round + ": byte " + i + " written outside the reply (off " + outOff + ", code " + r
                        + ")");
        }
        assertTrue(answered > FUZZ_ROUNDS / 5, "the fuzz must also reach the answering path: " + answered);
        for (int c = 1; c < Dhcp4Responder.reasons(); c++)
            if (c != -Dhcp4Responder.UNCONFIGURED)
                assertTrue(codes.contains(-c), "the fuzz never reached " + Dhcp4Responder.reason(-c));
    }

    private static Dhcp4Responder bigResponder() {
        int[] dns = new int[63];
        for (int i = 0; i < dns.length; i++)
            dns[i] = 0x0a000100 + i;
        return dhcp4(GUEST, 28, 0x0a0000fe, 9000, dns, List.of("a".repeat(40) + ".example.com",
            "b.example.com"));
    }

    /** Checks a fuzzed reply is a frame a DHCP client would take: lengths, checksums, fields, option walk. */
    private static void assertWellFormed(ByteBuffer out, int off, int r, int room, int round) {
        String at = "round " + round;
        assertTrue(r <= room && r >= 342 && r <= Dhcp4Responder.MAX_REPLY_LENGTH, at + ": length " + r);
        byte[] f = Frames.bytes(out, off, r);
        assertEquals("9a559a559a55" + "0800", Frames.hex(ByteBuffer.wrap(f), 6, 8), at);
        assertEquals(0x45, f[14] & 0xff, at);
        assertEquals(r - 14, ((f[16] & 0xff) << 8) | (f[17] & 0xff), at);
        assertEquals(17, f[23], at);
        assertEquals(0xffff, fold(sum16(f, 14, 20, 0)), at + ": IPv4 checksum");
        assertEquals("00430044", Frames.hex(ByteBuffer.wrap(f), 34, 4), at);
        assertEquals(r - 34, ((f[38] & 0xff) << 8) | (f[39] & 0xff), at);
        assertEquals(0xffff, fold(sum16(f, 34, r - 34, pseudo(f, 14, r - 34))), at + ": UDP checksum");
        assertEquals(2, f[42], at + ": op");
        assertEquals("63825363", Frames.hex(ByteBuffer.wrap(f), 42 + 236, 4), at);
        int p = 42 + 240, types = 0;
        while (true) {
            assertTrue(p < r && p < 42 + 240 + 308, at + ": no end option");
            int c = f[p] & 0xff;
            if (c == 255)
                break;
            assertTrue(c != 0, at + ": padding before the end option");
            int len = f[p + 1] & 0xff;
            assertTrue(p + 2 + len < r, at + ": option " + c + " cut");
            if (c == 53) {
                types++;
                assertEquals(1, len, at);
                assertTrue(f[p + 2] == 2 || f[p + 2] == 5, at + ": type " + f[p + 2]);
            }
            p += 2 + len;
        }
        assertEquals(1, types, at + ": option 53 once");
        for (p++; p < r; p++)
            assertEquals(0, f[p], at + ": padding");
    }


    // ---------------------------------------------------------------- allocation

    @Test
    void repliesDoNotAllocate() {
        Dhcp4Responder d = standard();
        ByteBuffer offer = at(request(discover(PRL + "ff")), 0, 1024);
        ByteBuffer rapid = at(request(discover("5000" + PRL + "ff")), 0, 1024);
        ByteBuffer release = at(request(bootp("01", "0000", "0a00020f", "00000000", "350107ff")), 0, 1024);
        int offerLen = offer.getShort(38), rapidLen = rapid.getShort(38), releaseLen = release.getShort(38);
        ByteBuffer out = ByteBuffer.allocateDirect(1024);
        int n = AllocationTest.N;
        long[] m = AllocationTest.measure(() -> {
            long sink = 0;
            for (int i = 0; i < n; i++)
                sink += d.reply(offer, 0, 14, 34, offerLen, out, 0, 1024, OUR_MAC)
                    + d.reply(rapid, 0, 14, 34, rapidLen, out, 0, 1024, OUR_MAC)
                    + d.reply(release, 0, 14, 34, releaseLen, out, 0, 1024, OUR_MAC);
            return sink;
        });
        assertEquals((long) n * (342 + 343 + Dhcp4Responder.UNANSWERED_TYPE), m[0]);
        assertTrue(m[1] < AllocationTest.LIMIT, m[1] + " bytes allocated for " + 3 * n + " DHCP requests");
    }

    // ---------------------------------------------------------------- helpers

    /** Decodes an RFC 1035 name list with compression pointers (offsets from the start of {@code v}). */
    static List<String> decode(byte[] v) {
        List<String> names = new ArrayList<>();
        int p = 0;
        while (p < v.length) {
            StringBuilder name = new StringBuilder();
            int q = p, next = -1, jumps = 0;
            while (true) {
                int len = v[q] & 0xff;
                if ((len & 0xc0) == 0xc0) {
                    if (next < 0)
                        next = q + 2;
                    q = (len & 0x3f) << 8 | (v[q + 1] & 0xff);
                    assertTrue(q < p, "pointer forward or into itself");
                    assertTrue(++jumps < 128, "pointer loop");
                    continue;
                }
                assertTrue(len < 64, "label length " + len);
                if (len == 0) {
                    if (next < 0)
                        next = q + 1;
                    break;
                }
                if (name.length() > 0)
                    name.append('.');
                name.append(new String(v, q + 1, len, java.nio.charset.StandardCharsets.US_ASCII));
                q += 1 + len;
            }
            names.add(name.toString());
            p = next;
        }
        return names;
    }

    private static void assertNothingWritten(ByteBuffer out) {
        for (int i = 0; i < out.capacity(); i++)
            if (out.get(i) != 0)
                fail("byte " + i + " written");
    }
}
