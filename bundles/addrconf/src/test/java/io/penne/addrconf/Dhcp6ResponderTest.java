package io.penne.addrconf;

import static io.penne.addrconf.Frames.OUR_MAC;
import static io.penne.addrconf.Frames.at;
import static io.penne.addrconf.Frames.bytes;
import static io.penne.addrconf.Frames.hex;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class Dhcp6ResponderTest {
    static final String CLIENT_LL = "fe80000000000000505400fffe123456"; // fe80::5054:ff:fe12:3456
    static final String ALL_DHCP = "ff020000000000000000000000010002"; // ff02::1:2
    static final String OUR_LL = "fe800000000000000000000000000001"; // fe80::1
    static final String GUEST = "20010db8000000000000000000000010"; // 2001:db8::10
    static final String OTHER = "20010db8000000000000000000000099"; // 2001:db8::99
    static final String DNS1 = "20014860486000000000000000008888";
    static final String DNS2 = "20014860486000000000000000008844";
    static final int DUID_TIME = 0x2c9f3a11;
    /** Our server identifier option: DUID-LLT, Ethernet, DUID_TIME, OUR_MAC. */
    static final String SERVER_ID = "0002000e" + "0001" + "0001" + "2c9f3a11" + "9a559a559a55";
    /** A client identifier as dhclient -6 makes it: DUID-LLT with the guest's MAC. */
    static final String CLIENT_ID = "0001000e" + "0001" + "0001" + "2b1c0d5e" + "525400123456";
    static final String ORO = "0006" + "0004" + "0017" + "0018"; // option request: DNS servers, search list
    static final String ELAPSED = "0008" + "0002" + "0000";
    static final String IAID = "0c3d4e5f";
    static final String IA_NA_EMPTY = "0003" + "000c" + IAID + "00000000" + "00000000";
    static final String INFINITE = "ffffffff";
    /** Options 23 and 24 of the standard responder: two resolvers, example.org and corp.example.com. */
    static final String DNS_OPTIONS = "0017" + "0020" + DNS1 + DNS2
        + "0018" + "001f" + "07" + ascii("example") + "03" + ascii("org") + "00"
        + "04" + ascii("corp") + "07" + ascii("example") + "03" + ascii("com") + "00";
    static final String NOT_ON_LINK = "000d" + "0022" + "0004" + ascii("Prefix not appropriate for link.");

    static String ascii(String s) {
        StringBuilder sb = new StringBuilder();
        for (byte b : s.getBytes(StandardCharsets.US_ASCII))
            sb.append(String.format("%02x", b));
        return sb.toString();
    }

    static long hi(String a) {
        return Long.parseUnsignedLong(a.substring(0, 16), 16);
    }

    static long lo(String a) {
        return Long.parseUnsignedLong(a.substring(16), 16);
    }

    static Dhcp6Responder responder(String guest, long[] dns, List<String> search) {
        return responder(guest, dns, search, null);
    }

    static Dhcp6Responder responder(String guest, long[] dns, List<String> search, String fqdn) {
        return new Dhcp6Responder(OUR_MAC, DUID_TIME, hi(guest), lo(guest), hi(OUR_LL), lo(OUR_LL), dns, search, fqdn);
    }

    static Dhcp6Responder responder() {
        return responder(GUEST, new long[] {hi(DNS1), lo(DNS1), hi(DNS2), lo(DNS2)},
            List.of("example.org", "corp.example.com."));
    }

    static Dhcp6Responder bare() {
        return responder(GUEST, new long[0], List.of());
    }

    static String ia(String iaid, String t1, String t2, String options) {
        String fields = iaid + t1 + t2 + options;
        return "0003" + String.format("%04x", fields.length() / 2) + fields;
    }

    static String iaAddress(String addr) {
        return "0005" + "0018" + addr + "00001c20" + "00001d4c";
    }

    static String iaTa(String iaid, String options) {
        return "0004" + String.format("%04x", (iaid + options).length() / 2) + iaid + options;
    }

    /**
     * Ethernet + IPv6 + UDP frame from the guest's port 546 to 547 carrying
     * {@code msg}, with the UDP checksum filled in.
     */
    static byte[] dhcp(String src, String dst, String msg) {
        int udpLen = 8 + hex(msg).length;
        String frame = "333300010002" + "525400123456" + "86dd"
            + "60000000" + String.format("%04x", udpLen) + "11" + "01" + src + dst
            + "0222" + "0223" + String.format("%04x", udpLen) + "0000" + msg;
        byte[] f = hex(frame);
        int sum = udpChecksum(hex(src), hex(dst), Arrays.copyOfRange(f, 54, f.length));
        f[60] = (byte) (sum >>> 8);
        f[61] = (byte) sum;
        return f;
    }

    static byte[] dhcp(String msg) {
        return dhcp(CLIENT_LL, ALL_DHCP, msg);
    }

    /**
     * The UDP checksum, written independently of {@link Checksum}: the
     * pseudo-header of RFC 8200 section 8.1 laid out in a byte array, then
     * the datagram with its checksum field taken as zero; 0 goes as 0xffff.
     */
    static int udpChecksum(byte[] src, byte[] dst, byte[] udp) {
        byte[] p = pseudo(src, dst, udp);
        p[40 + 6] = 0;
        p[40 + 7] = 0;
        int sum = ~sum16(p) & 0xffff;
        return sum == 0 ? 0xffff : sum;
    }

    /** Whether the datagram's checksum verifies: the sum over pseudo-header and datagram is 0xffff. */
    static boolean udpChecksumVerifies(byte[] src, byte[] dst, byte[] udp) {
        return sum16(pseudo(src, dst, udp)) == 0xffff;
    }

    private static byte[] pseudo(byte[] src, byte[] dst, byte[] udp) {
        byte[] p = new byte[40 + udp.length + (udp.length & 1)];
        System.arraycopy(src, 0, p, 0, 16);
        System.arraycopy(dst, 0, p, 16, 16);
        p[34] = (byte) (udp.length >>> 8);
        p[35] = (byte) udp.length;
        p[39] = 17;
        System.arraycopy(udp, 0, p, 40, udp.length);
        return p;
    }

    private static int sum16(byte[] p) {
        int sum = 0;
        for (int i = 0; i < p.length; i += 2) {
            sum += ((p[i] & 0xff) << 8) | (p[i + 1] & 0xff);
            sum = (sum & 0xffff) + (sum >>> 16);
        }
        return sum;
    }

    /** Frame at 100 in a 2048-byte buffer, output at 64 of a 2048-byte buffer with the given room. */
    static int run(Dhcp6Responder r, byte[] frame, ByteBuffer out, int room) {
        ByteBuffer in = at(frame, 100, 2048);
        return r.reply(in, 100, 114, 154, frame.length - 54, out, 64, room);
    }

    static int run(Dhcp6Responder r, byte[] frame) {
        return run(r, frame, ByteBuffer.allocateDirect(2048), Dhcp6Responder.MAX_REPLY_LENGTH);
    }

    /** Runs {@code msg} from the client's link-local address to ff02::1:2; returns the reply's message as hex. */
    static String message(Dhcp6Responder r, String msg) {
        ByteBuffer out = ByteBuffer.allocateDirect(2048);
        int n = run(r, dhcp(msg), out, Dhcp6Responder.MAX_REPLY_LENGTH);
        assertTrue(n > 0, () -> "no reply: " + Dhcp6Responder.reason(n));
        assertFrame(out, 64, n, CLIENT_LL);
        return Frames.hex(out, 64 + 62, n - 62);
    }

    /**
     * Checks the Ethernet, IPv6 and UDP headers of a reply of {@code n}
     * bytes at {@code off} to {@code dst}, and that its checksum verifies.
     */
    static void assertFrame(ByteBuffer out, int off, int n, String dst) {
        String udpLen = String.format("%04x", n - 54);
        byte[] udp = bytes(out, off + 54, n - 54);
        String expected = "525400123456" + "9a559a559a55" + "86dd" // to the guest, from us
            + "60000000" // version 6, traffic class 0, flow label 0
            + udpLen // payload length
            + "11" // next header UDP
            + "ff" // hop limit 255
            + OUR_LL + dst
            + "0223" + "0222" // port 547 to 546
            + udpLen
            + String.format("%04x", udpChecksum(hex(OUR_LL), hex(dst), udp));
        assertEquals(expected, Frames.hex(out, off, 62));
        assertTrue(udpChecksumVerifies(hex(OUR_LL), hex(dst), udp));
    }

    static String solicit() {
        return "01" + "5b0c1e" + CLIENT_ID + ORO + ELAPSED + IA_NA_EMPTY;
    }

    static String normalReply(String typeAndXid, String iaid) {
        return typeAndXid + SERVER_ID
            + "0003" + "0028" + iaid + INFINITE + INFINITE
            + "0005" + "0018" + GUEST + INFINITE + INFINITE
            + CLIENT_ID + DNS_OPTIONS;
    }

    @Test
    void solicitLikeDhclientGetsAdvertise() {
        byte[] f = dhcp(solicit());
        ByteBuffer out = ByteBuffer.allocateDirect(2048);
        int n = run(responder(), f, out, Dhcp6Responder.MAX_REPLY_LENGTH);
        assertEquals(217, n);
        String msg = ""
            + "02" + "5b0c1e" // ADVERTISE, the client's transaction id
            + "0002" + "000e" + "0001" + "0001" + "2c9f3a11" + "9a559a559a55" // server id: DUID-LLT, Ethernet
            + "0003" + "0028" + IAID + "ffffffff" + "ffffffff" // IA_NA: the client's IAID, T1 = T2 = infinity
            + "0005" + "0018" + GUEST + "ffffffff" + "ffffffff" // IA Address: infinite lifetimes
            + "0001" + "000e" + "0001" + "0001" + "2b1c0d5e" + "525400123456" // client id, echoed
            + "0017" + "0020" + DNS1 + DNS2
            + "0018" + "001f" + "076578616d706c65" + "036f7267" + "00" + "04636f7270" + "076578616d706c65"
            + "03636f6d" + "00";
        byte[] udp = bytes(out, 64 + 54, n - 54);
        int sum = udpChecksum(hex(OUR_LL), hex(CLIENT_LL), udp);
        String expected = ""
            + "525400123456" + "9a559a559a55" + "86dd"
            + "60000000" + "00a3" + "11" + "ff" + OUR_LL + CLIENT_LL
            + "0223" + "0222" + "00a3" + String.format("%04x", sum)
            + msg;
        assertEquals(expected, Frames.hex(out, 64, n));
        assertEquals(0, out.get(63));
        assertEquals(0, out.get(64 + n));
        assertTrue(udpChecksumVerifies(hex(OUR_LL), hex(CLIENT_LL), udp));
        assertEquals(sum, out.getShort(64 + 60) & 0xffff);
    }

    @Test
    void solicitWithoutIaNaGetsIaid1() {
        assertEquals(normalReply("02abcdef", "00000001"),
            message(responder(), "01abcdef" + CLIENT_ID + ELAPSED + ORO));
    }

    @Test
    void solicitAddressHintIsNotChecked() {
        // a SOLICIT may suggest an address; passt looks at IA addresses only in REQUEST, RENEW and CONFIRM
        assertEquals(normalReply("02abcdef", IAID),
            message(responder(), "01abcdef" + CLIENT_ID + ia(IAID, "00000000", "00000000", iaAddress(OTHER))));
    }

    @Test
    void requestWithOurServerIdGetsReply() {
        String req = "03" + "77aa01" + CLIENT_ID + SERVER_ID + ORO + ELAPSED
            + ia(IAID, "00000e10", "00001518", iaAddress(GUEST));
        assertEquals(normalReply("0777aa01", IAID), message(responder(), req));
    }

    @Test
    void requestForAnotherServerOrNoneIsIgnored() {
        String otherServer = "0002000e" + "0001" + "0001" + "2c9f3a11" + "9a559a559a56";
        assertEquals(Dhcp6Responder.WRONG_SERVER_ID,
            run(responder(), dhcp("03000001" + CLIENT_ID + otherServer + IA_NA_EMPTY)));
        String otherTime = "0002000e" + "0001" + "0001" + "2c9f3a12" + "9a559a559a55";
        assertEquals(Dhcp6Responder.WRONG_SERVER_ID,
            run(responder(), dhcp("03000001" + CLIENT_ID + otherTime + IA_NA_EMPTY)));
        assertEquals(Dhcp6Responder.NO_SERVER_ID, run(responder(), dhcp("03000001" + CLIENT_ID + IA_NA_EMPTY)));
    }

    @Test
    void renewAndRebindGetReply() {
        String ia = ia(IAID, "00000000", "00000000", iaAddress(GUEST));
        assertEquals(normalReply("07000102", IAID),
            message(responder(), "05000102" + CLIENT_ID + SERVER_ID + ELAPSED + ia));
        assertEquals(normalReply("07000103", IAID),
            message(responder(), "06000103" + CLIENT_ID + SERVER_ID + ELAPSED + ia));
        // passt requires the server id in REBIND as well
        assertEquals(Dhcp6Responder.NO_SERVER_ID, run(responder(), dhcp("06000103" + CLIENT_ID + ELAPSED + ia)));
        // REBIND is not checked for NotOnLink, as in passt
        assertEquals(normalReply("07000104", IAID), message(responder(),
            "06000104" + CLIENT_ID + SERVER_ID + ia(IAID, "00000000", "00000000", iaAddress(OTHER))));
    }

    @Test
    void confirmWithTheGuestAddressGetsReply() {
        assertEquals(normalReply("07c0ffee", IAID), message(responder(),
            "04c0ffee" + CLIENT_ID + ELAPSED + ia(IAID, "00000000", "00000000", iaAddress(GUEST))));
    }

    @Test
    void confirmWithAnotherAddressGetsNotOnLink() {
        String confirm = "04c0ffee" + CLIENT_ID + ELAPSED
            + ia(IAID, "00000e10", "00001518", iaAddress(GUEST) + iaAddress(OTHER));
        String expected = ""
            + "07" + "c0ffee" // REPLY
            + "0002" + "000e" + "0001" + "0001" + "2c9f3a11" + "9a559a559a55" // server id
            + "0003" + "0032" + IAID + "00000e10" + "00001518" // the client's IA_NA: 12 + 38 bytes
            + "000d" + "0022" + "0004" // status code option, NotOnLink
            + "50726566697820" + "6e6f7420" + "617070726f70726961746520" + "666f7220" + "6c696e6b2e" // the text
            + CLIENT_ID;
        ByteBuffer out = ByteBuffer.allocateDirect(2048);
        int n = run(responder(), dhcp(confirm), out, Dhcp6Responder.MAX_REPLY_LENGTH);
        assertEquals(62 + expected.length() / 2, n);
        assertFrame(out, 64, n, CLIENT_LL);
        assertEquals(expected, Frames.hex(out, 64 + 62, n - 62));
        assertEquals(0, out.get(64 + n));
    }

    @Test
    void notOnLinkAnswersTheFirstOffendingIaNaThenIaTa() {
        String good = ia("00000001", "00000000", "00000000", iaAddress(GUEST));
        String bad2 = ia("00000002", "00000000", "00000000", iaAddress(OTHER));
        String bad3 = ia("00000003", "00000000", "00000000", iaAddress(OTHER));
        String ta = iaTa("0000000a", iaAddress(OTHER));
        // IA_NAs are searched before IA_TAs, whatever the order in the message
        assertEquals("07000010" + SERVER_ID + "0003" + "0032" + "00000002" + "00000000" + "00000000" + NOT_ON_LINK
            + CLIENT_ID, message(responder(), "04000010" + CLIENT_ID + ta + good + bad2 + bad3));
        // an offending IA_TA gets an IA_TA back: IAID and status code
        assertEquals("07000011" + SERVER_ID + "0004" + "002a" + "0000000a" + NOT_ON_LINK + CLIENT_ID,
            message(responder(), "04000011" + CLIENT_ID + good + ta));
        // REQUEST and RENEW are checked too
        assertEquals("07000012" + SERVER_ID + "0003" + "0032" + "00000002" + "00000000" + "00000000" + NOT_ON_LINK
            + CLIENT_ID, message(responder(), "03000012" + SERVER_ID + CLIENT_ID + bad2));
        assertEquals("07000013" + SERVER_ID + "0003" + "0032" + "00000002" + "00000000" + "00000000" + NOT_ON_LINK
            + CLIENT_ID, message(responder(), "05000013" + SERVER_ID + CLIENT_ID + bad2));
    }

    @Test
    void onlyAddressesInsideAnIaCount() {
        // an IA Address option outside any IA is no address of an IA (passt's search runs past the IA's end)
        String confirm = "04000020" + CLIENT_ID + IA_NA_EMPTY + iaAddress(OTHER);
        assertEquals(normalReply("07000020", IAID), message(responder(), confirm));
        // other options inside the IA are skipped
        String withStatus = ia(IAID, "00000000", "00000000", "000d0002" + "0000" + iaAddress(GUEST));
        assertEquals(normalReply("07000021", IAID), message(responder(), "04000021" + CLIENT_ID + withStatus));
    }

    @Test
    void confirmWithServerIdOrSolicitWithServerIdIsIgnored() {
        assertEquals(Dhcp6Responder.UNEXPECTED_SERVER_ID,
            run(responder(), dhcp("04000001" + CLIENT_ID + SERVER_ID + IA_NA_EMPTY)));
        assertEquals(Dhcp6Responder.UNEXPECTED_SERVER_ID,
            run(responder(), dhcp("01000001" + CLIENT_ID + SERVER_ID + IA_NA_EMPTY)));
    }

    @Test
    void informationRequestGetsReplyWithIaNaAsInPasst() {
        assertEquals(normalReply("07123456", "00000001"),
            message(responder(), "0b123456" + CLIENT_ID + ORO + ELAPSED));
        assertEquals(normalReply("07123457", "00000001"),
            message(responder(), "0b123457" + CLIENT_ID + SERVER_ID + ORO + ELAPSED));
        String otherServer = "0002000e" + "0001" + "0001" + "00000000" + "9a559a559a55";
        assertEquals(Dhcp6Responder.WRONG_SERVER_ID,
            run(responder(), dhcp("0b123457" + CLIENT_ID + otherServer + ORO)));
    }

    @Test
    void informationRequestWithAnIaIsIgnored() {
        assertEquals(Dhcp6Responder.IA_IN_INFORMATION_REQUEST,
            run(responder(), dhcp("0b123456" + CLIENT_ID + ORO + IA_NA_EMPTY)));
        assertEquals(Dhcp6Responder.IA_IN_INFORMATION_REQUEST,
            run(responder(), dhcp("0b123456" + CLIENT_ID + ORO + iaTa("00000001", ""))));
    }

    @Test
    void otherMessageTypesGetNoReply() {
        String body = "000001" + CLIENT_ID + SERVER_ID + ia(IAID, "00000000", "00000000", iaAddress(GUEST));
        assertEquals(Dhcp6Responder.RELEASE_IGNORED, run(responder(), dhcp("08" + body)));
        assertEquals(Dhcp6Responder.DECLINE_IGNORED, run(responder(), dhcp("09" + body)));
        for (String type : new String[] {"00", "02", "07", "0a", "0c", "0d", "ff"})
            assertEquals(Dhcp6Responder.UNSUPPORTED_TYPE, run(responder(), dhcp(type + body)), type);
    }

    @Test
    void dnsAndSearchOptions() {
        String base = "0b000001" + CLIENT_ID;
        String fixed = "07000001" + SERVER_ID + "0003002800000001" + INFINITE + INFINITE + "00050018" + GUEST
            + INFINITE + INFINITE + CLIENT_ID;
        // empty lists: the message ends with the client id
        assertEquals(fixed, message(bare(), base));
        // resolvers only
        assertEquals(fixed + "0017" + "0010" + DNS1,
            message(responder(GUEST, new long[] {hi(DNS1), lo(DNS1)}, List.of()), base));
        // search list only; root-only, empty-label and over-long names are skipped; a trailing dot is not doubled
        String label63 = "a".repeat(63);
        String longest = "b".repeat(63) + "." + "c".repeat(63) + "." + "d".repeat(63) + "." + "e".repeat(61);
        List<String> search = List.of(".", "", "x.", "a..b", ".lead", "a".repeat(64) + ".org", label63,
            longest + ".", longest + "f", "example.org");
        String expected = "0018" + String.format("%04x", 3 + 65 + 255 + 13)
            + "01" + "78" + "00" // x.
            + "3f" + ascii(label63) + "00"
            + "3f" + ascii("b".repeat(63)) + "3f" + ascii("c".repeat(63)) + "3f" + ascii("d".repeat(63))
            + "3d" + ascii("e".repeat(61)) + "00" // 255 bytes encoded: the longest name allowed
            + "07" + ascii("example") + "03" + ascii("org") + "00";
        assertEquals(fixed + expected, message(responder(GUEST, new long[0], search), base));
        // nothing encodable: no option 24 at all
        assertEquals(fixed, message(responder(GUEST, new long[0], List.of(".", "", "a..b")), base));
    }

    @Test
    void encodeNameFollowsRfc1035() {
        byte[] www = hex("03777777" + "076578616d706c65" + "03636f6d" + "00");
        assertArrayEquals(www, DnsName.encode("www.example.com"));
        assertArrayEquals(www, DnsName.encode("www.example.com."));
        assertArrayEquals(hex("0161" + "00"), DnsName.encode("a"));
        assertNull(DnsName.encode("."));
        assertNull(DnsName.encode(""));
        assertNull(DnsName.encode("a.."));
        assertNull(DnsName.encode("a.b..c"));
    }

    @Test
    void searchListIsCutToTheMinimumMtu() {
        List<String> search = new ArrayList<>();
        for (int i = 0; i < 20; i++)
            search.add(String.format("%02d", i) + "x".repeat(60) + ".example.com"); // 76 bytes encoded
        Dhcp6Responder r = responder(GUEST, new long[] {hi(DNS1), lo(DNS1), hi(DNS2), lo(DNS2)}, search);
        String clientId = "0001" + "0080" + "00".repeat(128);
        ByteBuffer out = ByteBuffer.allocateDirect(2048);
        int n = run(r, dhcp("0b000001" + clientId), out, Dhcp6Responder.MAX_REPLY_LENGTH);
        // 260 fixed bytes with a 128-byte client id, 36 of resolvers, 4 + 13 * 76 of search list
        assertEquals(260 + 36 + 4 + 13 * 76, n);
        assertTrue(n <= Dhcp6Responder.MAX_REPLY_LENGTH);
        assertTrue(n + 76 > Dhcp6Responder.MAX_REPLY_LENGTH, "a 14th name would not fit");
        assertEquals(n - 54, out.getShort(64 + 18) & 0xffff); // IPv6 payload length
        assertEquals(13 * 76, out.getShort(64 + 260 + 36 + 2) & 0xffff);
        assertEquals(0x3e, out.get(64 + 260 + 36 + 4));
        assertEquals('0', out.get(64 + 260 + 36 + 5));
        assertEquals('0', out.get(64 + 260 + 36 + 6));
        assertEquals('1', out.get(64 + 260 + 36 + 4 + 12 * 76 + 1)); // the 13th: "12xxx..."
        assertEquals('2', out.get(64 + 260 + 36 + 4 + 12 * 76 + 2));
        assertFrame(out, 64, n, CLIENT_LL);
    }

    // ---- Client FQDN ----

    /** "guest.example.com" in DNS wire format: 19 bytes. */
    static final String GUEST_WIRE = "05" + ascii("guest") + "07" + ascii("example") + "03" + ascii("com") + "00";

    /** The standard responder, with --fqdn guest.example.com. */
    static Dhcp6Responder named() {
        return responder(GUEST, new long[] {hi(DNS1), lo(DNS1), hi(DNS2), lo(DNS2)},
            List.of("example.org", "corp.example.com."), "guest.example.com");
    }

    /** A client's Client FQDN option: flags, then "guest" as a partial name (no root label), as dhclient sends it. */
    static String clientFqdn(String flags) {
        return "0027" + "0007" + flags + "05" + ascii("guest");
    }

    @Test
    void fqdnGoesLastInTheAdvertiseByteExact() {
        byte[] f = dhcp(solicit());
        ByteBuffer out = ByteBuffer.allocateDirect(2048);
        int n = run(named(), f, out, Dhcp6Responder.MAX_REPLY_LENGTH);
        assertEquals(217 + 24, n);
        String msg = normalReply("025b0c1e", IAID)
            + "0027" + "0014" // Client FQDN, 1 + 19 bytes
            + "00" // flags: the client sent no option 39
            + GUEST_WIRE;
        byte[] udp = bytes(out, 64 + 54, n - 54);
        String expected = ""
            + "525400123456" + "9a559a559a55" + "86dd"
            + "60000000" + "00bb" + "11" + "ff" + OUR_LL + CLIENT_LL
            + "0223" + "0222" + "00bb" + String.format("%04x", udpChecksum(hex(OUR_LL), hex(CLIENT_LL), udp))
            + msg;
        assertEquals(expected, Frames.hex(out, 64, n));
        assertEquals(0, out.get(64 + n));
        assertTrue(udpChecksumVerifies(hex(OUR_LL), hex(CLIENT_LL), udp));
        // a trailing dot changes nothing: the name ends at the root
        Dhcp6Responder dot = responder(GUEST, new long[0], List.of(), "guest.example.com.");
        assertTrue(message(dot, solicit()).endsWith(CLIENT_ID + "0027" + "0014" + "00" + GUEST_WIRE));
    }

    @Test
    void clientAskingForServerUpdatesGetsOverride() {
        String fqdn = "0027" + "0014" + "02" + GUEST_WIRE; // O: penne updates no DNS, whatever S asked
        // S set, alone or with other bits: O
        assertEquals(normalReply("02000001", IAID) + fqdn,
            message(named(), "01000001" + CLIENT_ID + clientFqdn("01") + IA_NA_EMPTY));
        assertEquals(normalReply("07000002", IAID) + fqdn,
            message(named(), "03000002" + CLIENT_ID + SERVER_ID + clientFqdn("03") + IA_NA_EMPTY));
        // S clear (N, "no server updates", alone or nothing): 0
        String none = "0027" + "0014" + "00" + GUEST_WIRE;
        assertEquals(normalReply("07000003", "00000001") + none,
            message(named(), "0b000003" + CLIENT_ID + clientFqdn("04")));
        assertEquals(normalReply("07000004", IAID) + none,
            message(named(), "05000004" + CLIENT_ID + SERVER_ID + IA_NA_EMPTY + clientFqdn("00")));
        // the first option 39 counts; a flags byte alone, without a name, is enough
        assertEquals(normalReply("02000005", IAID) + fqdn,
            message(named(), "01000005" + CLIENT_ID + "0027" + "0001" + "01" + clientFqdn("00") + IA_NA_EMPTY));
        assertEquals(normalReply("02000006", IAID) + none,
            message(named(), "01000006" + CLIENT_ID + clientFqdn("00") + clientFqdn("01") + IA_NA_EMPTY));
    }

    @Test
    void noFqdnOptionUnlessConfiguredOrInNotOnLink() {
        // not configured: nothing, whatever the client sends, and its option 39 is not looked at
        assertEquals(normalReply("02000001", IAID),
            message(responder(), "01000001" + CLIENT_ID + clientFqdn("01") + IA_NA_EMPTY));
        assertEquals(normalReply("02000002", IAID),
            message(responder(), "01000002" + CLIENT_ID + "0027" + "0000" + IA_NA_EMPTY));
        // the NotOnLink answer carries no configuration, so no FQDN either, and reads no option 39
        String confirm = "04c0ffee" + CLIENT_ID + "0027" + "0000"
            + ia(IAID, "00000000", "00000000", iaAddress(OTHER));
        assertEquals("07c0ffee" + SERVER_ID + "0003" + "0032" + IAID + "00000000" + "00000000" + NOT_ON_LINK
            + CLIENT_ID, message(named(), confirm));
    }

    @Test
    void clientFqdnWithoutFlagsIsRefusedWhereItMatters() {
        ByteBuffer out = ByteBuffer.allocateDirect(2048);
        assertEquals(Dhcp6Responder.BAD_CLIENT_FQDN,
            run(named(), dhcp("01000001" + CLIENT_ID + "0027" + "0000" + IA_NA_EMPTY), out,
                Dhcp6Responder.MAX_REPLY_LENGTH));
        assertNothingWritten(out);
        assertEquals("bad-client-fqdn", Dhcp6Responder.reason(Dhcp6Responder.BAD_CLIENT_FQDN));
    }

    @Test
    void fqdnThatDoesNotFitAfterTheSearchListIsLeftOut() {
        // 13 names of 76 bytes: 4 + 988 of the 1034 bytes left beside a 128-byte client id, 42 left
        List<String> search = new ArrayList<>();
        for (int i = 0; i < 13; i++)
            search.add(String.format("%02d", i) + "x".repeat(60) + ".example.com");
        String fits = "f".repeat(35); // 37 bytes encoded: 4 + 1 + 37 = 42
        String clientId = "0001" + "0080" + "00".repeat(128);
        Dhcp6Responder r = responder(GUEST, new long[0], search, fits);
        ByteBuffer out = ByteBuffer.allocateDirect(2048);
        int n = run(r, dhcp("01000001" + clientId + clientFqdn("01")), out, Dhcp6Responder.MAX_REPLY_LENGTH);
        assertEquals(Dhcp6Responder.MAX_REPLY_LENGTH, n, "exactly the IPv6 minimum MTU");
        assertEquals("0027" + "0026" + "02" + "23" + ascii(fits) + "00", Frames.hex(out, 64 + n - 42, 42));
        assertFrame(out, 64, n, CLIENT_LL);

        // a byte more and it is left out whole, for every client; the reply is the same without it
        r = responder(GUEST, new long[0], search, fits + "f");
        n = run(r, dhcp("01000001" + clientId + clientFqdn("01")), out, Dhcp6Responder.MAX_REPLY_LENGTH);
        assertEquals(Dhcp6Responder.MAX_REPLY_LENGTH - 42, n);
        assertFrame(out, 64, n, CLIENT_LL);
        assertEquals(message(responder(GUEST, new long[0], search), "01000002" + CLIENT_ID),
            message(r, "01000002" + CLIENT_ID), "not even with a short client id");
        // the longest name fits whenever the search list leaves room for it
        String longest = ("a".repeat(63) + ".").repeat(3) + "d".repeat(61);
        String msg = message(responder(GUEST, new long[0], List.of(), longest), "01000003" + CLIENT_ID);
        assertTrue(msg.endsWith("0027" + "0100" + "00" + Frames.hex(ByteBuffer.wrap(DnsName.encode(longest)), 0, 255)));
    }

    @Test
    void fqdnsTheOptionCannotCarryAreRefusedAtConstruction() {
        String[] fqdns = {
            "", ".", // no label at all
            "guest..example.com", ".guest.example.com", "guest.example.com..", // empty labels
            "g".repeat(64) + ".example.com", // a label over 63
            ("a".repeat(63) + ".").repeat(3) + "d".repeat(62), // 254 characters: 256 bytes encoded
            "guest.exa mple.com", "guest\t.example.com", "gu\u007fest.example.com", "caf\u00e9.example.com",
        };
        for (String n : fqdns)
            assertThrows(IllegalArgumentException.class, () -> responder(GUEST, new long[0], List.of(), n), n);
    }

    @Test
    void constructorRejectsBadArguments() {
        long[] none = new long[0];
        assertThrows(IllegalArgumentException.class, () -> new Dhcp6Responder(OUR_MAC, 0, hi(GUEST), lo(GUEST),
            hi(GUEST), lo(GUEST), none, List.of(), null)); // source not link-local
        assertThrows(IllegalArgumentException.class, () -> new Dhcp6Responder(OUR_MAC, 0, hi(GUEST), lo(GUEST),
            0xfec0_0000_0000_0000L, 1, none, List.of(), null)); // site-local fec0::/10 is not fe80::/10
        assertThrows(IllegalArgumentException.class, () -> new Dhcp6Responder(OUR_MAC, 0, hi(GUEST), lo(GUEST),
            0, 0, none, List.of(), null));
        assertThrows(IllegalArgumentException.class, () -> new Dhcp6Responder(1L << 48, 0, hi(GUEST), lo(GUEST),
            hi(OUR_LL), lo(OUR_LL), none, List.of(), null));
        assertThrows(IllegalArgumentException.class, () -> new Dhcp6Responder(OUR_MAC, 0, hi(ALL_DHCP),
            lo(ALL_DHCP), hi(OUR_LL), lo(OUR_LL), none, List.of(), null));
        assertThrows(IllegalArgumentException.class, () -> responder(GUEST, new long[] {hi(DNS1)}, List.of()));
        assertThrows(IllegalArgumentException.class, () -> responder(GUEST, new long[] {0, 0}, List.of()));
        assertThrows(IllegalArgumentException.class, () -> responder(GUEST, null, List.of()));
        assertThrows(IllegalArgumentException.class, () -> responder(GUEST, none, null));
        assertThrows(IllegalArgumentException.class, () -> responder(GUEST, none, Arrays.asList("a", null)));
        long[] many = new long[2 * 65];
        Arrays.fill(many, 1);
        assertThrows(IllegalArgumentException.class, () -> responder(GUEST, many, List.of()));
        // 64 resolvers just fit (4 + 64 * 16 = 1028 of 1034 bytes), and fe80::/10 is more than fe80::/16
        responder(GUEST, Arrays.copyOf(many, 128), List.of());
        new Dhcp6Responder(OUR_MAC, 0, hi(GUEST), lo(GUEST), 0xfebf_0000_0000_0000L, 1, none, List.of(), null);
    }

    @Test
    void unknownGuestGetsNothing() {
        ByteBuffer out = ByteBuffer.allocateDirect(2048);
        Dhcp6Responder r = responder("00000000000000000000000000000000", new long[0], List.of());
        assertEquals(Dhcp6Responder.GUEST_UNKNOWN, run(r, dhcp(solicit()), out, 2048 - 64));
        assertNothingWritten(out);
    }

    @Test
    void unicastDestinationIsIgnored() {
        assertEquals(Dhcp6Responder.NOT_MULTICAST, run(responder(), dhcp(CLIENT_LL, OUR_LL, solicit())));
    }

    @Test
    void unspecifiedOrMulticastSourceIsIgnored() {
        assertEquals(Dhcp6Responder.BAD_SOURCE,
            run(responder(), dhcp("00000000000000000000000000000000", ALL_DHCP, solicit())));
        assertEquals(Dhcp6Responder.BAD_SOURCE, run(responder(), dhcp(ALL_DHCP, ALL_DHCP, solicit())));
    }

    @Test
    void messageShorterThanFourBytes() {
        assertEquals(Dhcp6Responder.TRUNCATED, run(responder(), dhcp("015b0c")));
        assertEquals(Dhcp6Responder.TRUNCATED, run(responder(), dhcp("")));
        // the header alone is a message, but not one with a client id
        assertEquals(Dhcp6Responder.NO_CLIENT_ID, run(responder(), dhcp("015b0c1e")));
    }

    @Test
    void clientIdIsRequired() {
        assertEquals(Dhcp6Responder.NO_CLIENT_ID, run(responder(), dhcp("015b0c1e" + ORO + ELAPSED + IA_NA_EMPTY)));
    }

    @Test
    void clientIdOf128IsEchoedAnd129IsRefused() {
        String id128 = "0001" + "0080" + "5a".repeat(128);
        assertEquals(normalReply("02000001", IAID).replace(CLIENT_ID, id128),
            message(responder(), "01000001" + id128 + IA_NA_EMPTY));
        String id129 = "0001" + "0081" + "5a".repeat(129);
        assertEquals(Dhcp6Responder.BAD_CLIENT_ID, run(responder(), dhcp("01000001" + id129 + IA_NA_EMPTY)));
    }

    @Test
    void optionRunningPastTheEnd() {
        assertEquals(Dhcp6Responder.BAD_OPTION, run(responder(), dhcp("01000001" + CLIENT_ID + "00080004" + "0000")));
        assertEquals(Dhcp6Responder.BAD_OPTION, run(responder(), dhcp("01000001" + CLIENT_ID + "0008")));
        assertEquals(Dhcp6Responder.BAD_OPTION, run(responder(), dhcp("01000001" + "0001000e" + "00010001")));
        // the same inside an IA, where addresses are looked for
        String ia = "0003" + "0014" + IAID + "00000000" + "00000000" + "00050018" + "20010db8";
        assertEquals(Dhcp6Responder.BAD_OPTION, run(responder(), dhcp("04000001" + CLIENT_ID + ia)));
    }

    @Test
    void iaNaShorterThan12OrIaTaShorterThan4() {
        assertEquals(Dhcp6Responder.BAD_IA,
            run(responder(), dhcp("01000001" + CLIENT_ID + "0003" + "0008" + IAID + "00000000")));
        assertEquals(Dhcp6Responder.BAD_IA, run(responder(), dhcp("01000001" + CLIENT_ID + "0004" + "0002" + "0000")));
        // also a second IA_NA
        assertEquals(Dhcp6Responder.BAD_IA,
            run(responder(), dhcp("01000001" + CLIENT_ID + IA_NA_EMPTY + "0003" + "0004" + IAID)));
    }

    @Test
    void iaAddressOfWrongLength() {
        String shortAddr = "0005" + "0014" + GUEST + "00000000";
        String longAddr = "0005" + "001c" + GUEST + "00000000" + "00000000" + "00000000";
        for (String a : new String[] {shortAddr, longAddr})
            assertEquals(Dhcp6Responder.BAD_IA_ADDRESS,
                run(responder(), dhcp("03000001" + CLIENT_ID + SERVER_ID + ia(IAID, "00000000", "00000000", a))), a);
        assertEquals(Dhcp6Responder.BAD_IA_ADDRESS,
            run(responder(), dhcp("04000001" + CLIENT_ID + iaTa(IAID, shortAddr))));
    }

    @Test
    void serverIdOfWrongLength() {
        String duidLl = "0002" + "000a" + "0003" + "0001" + "9a559a559a55"; // a DUID-LL: 10 bytes
        assertEquals(Dhcp6Responder.BAD_SERVER_ID, run(responder(), dhcp("03000001" + CLIENT_ID + duidLl)));
        String padded = "0002" + "000f" + SERVER_ID.substring(8) + "00"; // ours, and a byte more
        assertEquals(Dhcp6Responder.BAD_SERVER_ID, run(responder(), dhcp("03000001" + CLIENT_ID + padded)));
        assertEquals(Dhcp6Responder.BAD_SERVER_ID, run(responder(), dhcp("0b000001" + CLIENT_ID + padded)));
    }

    @Test
    void extensionHeadersAreSkippedByTheCaller() {
        byte[] plain = dhcp(solicit());
        byte[] f = new byte[plain.length + 8];
        System.arraycopy(plain, 0, f, 0, 54);
        System.arraycopy(plain, 54, f, 62, plain.length - 54);
        f[20] = 0; // next header: hop-by-hop
        f[54] = 17; // then UDP
        ByteBuffer in = at(f, 0, 512);
        ByteBuffer out = ByteBuffer.allocateDirect(512);
        int n = responder().reply(in, 0, 14, 62, plain.length - 54, out, 0, 512);
        assertEquals(217, n);
        assertFrame(out, 0, n, CLIENT_LL);
        assertEquals(normalReply("025b0c1e", IAID), Frames.hex(out, 62, n - 62));
    }

    @Test
    void replyMayOverwriteTheRequest() {
        for (String msg : new String[] {solicit(),
            "04c0ffee" + CLIENT_ID + ia(IAID, "00000000", "00000000", iaAddress(OTHER))}) {
            byte[] f = dhcp(msg);
            ByteBuffer separate = ByteBuffer.allocateDirect(512);
            int n = responder().reply(at(f, 0, 512), 0, 14, 54, f.length - 54, separate, 0, 512);
            assertTrue(n > 0);
            for (int shift : new int[] {-40, -1, 0, 1, 30}) {
                ByteBuffer same = at(f, 100, 1024);
                assertEquals(n, responder().reply(same, 100, 114, 154, f.length - 54, same, 100 + shift, 512));
                assertEquals(Frames.hex(separate, 0, n), Frames.hex(same, 100 + shift, n), "shift " + shift);
            }
        }
    }

    @Test
    void offsetsOutOfTheBuffer() {
        byte[] f = dhcp(solicit());
        int udpLen = f.length - 54;
        ByteBuffer in = at(f, 0, f.length);
        ByteBuffer out = ByteBuffer.allocateDirect(2048);
        int[][] offsets = {{-1, 14, 54, udpLen}, {0, 13, 54, udpLen}, {0, 14, 53, udpLen}, {0, 14, 54, udpLen + 1},
            {0, 14, 54, 11}, {0, 14, 54, 7}, {0, 14, 54, -1},
            {0, 14, 54, Integer.MAX_VALUE}, {0, 14, Integer.MAX_VALUE, udpLen}, {0, 14, Integer.MIN_VALUE, udpLen},
            {0, Integer.MIN_VALUE, 54, udpLen}, {Integer.MAX_VALUE, 14, 54, udpLen}, {0, 14, 54, Integer.MIN_VALUE},
            {0, Integer.MAX_VALUE, Integer.MAX_VALUE, udpLen}};
        for (int[] o : offsets)
            assertEquals(Dhcp6Responder.TRUNCATED, responder().reply(in, o[0], o[1], o[2], o[3], out, 0, 2048),
                Arrays.toString(o));
        assertNothingWritten(out);
        assertEquals(217, responder().reply(in, 0, 14, 54, udpLen, out, 0, 2048));
    }

    @Test
    void roomTooSmall() {
        byte[] f = dhcp(solicit());
        ByteBuffer out = ByteBuffer.allocateDirect(2048);
        assertEquals(Dhcp6Responder.NO_ROOM, run(responder(), f, out, 216));
        assertNothingWritten(out);
        ByteBuffer in = at(f, 0, 512);
        for (int[] o : new int[][] {{-1, 2048}, {2048 - 216, 2048}, {Integer.MAX_VALUE, 2048}, {0, -1},
            {0, Integer.MIN_VALUE}}) {
            assertEquals(Dhcp6Responder.NO_ROOM, responder().reply(in, 0, 14, 54, f.length - 54, out, o[0], o[1]),
                Arrays.toString(o));
        }
        assertNothingWritten(out);
        assertEquals(217, run(responder(), f, out, 217));
        // a NotOnLink reply is shorter, and needs only its own length
        byte[] confirm = dhcp("04c0ffee" + CLIENT_ID + ia(IAID, "00000000", "00000000", iaAddress(OTHER)));
        assertEquals(62 + 4 + 18 + 54 + 18, run(responder(), confirm, ByteBuffer.allocateDirect(2048), 156));
        assertEquals(Dhcp6Responder.NO_ROOM, run(responder(), confirm, ByteBuffer.allocateDirect(2048), 155));
    }

    private static void assertNothingWritten(ByteBuffer out) {
        for (int i = 0; i < out.capacity(); i++)
            assertEquals(0, out.get(i), "nothing written when not answered");
    }

    @Test
    void reasonNamesAreDistinctCounterNames() {
        Set<String> names = new HashSet<>();
        for (int r = 1; r < Dhcp6Responder.reasons(); r++) {
            String name = Dhcp6Responder.reason(-r);
            assertTrue(name.matches("[a-z]+(-[a-z]+)*"), name);
            names.add(name);
        }
        assertEquals(Dhcp6Responder.reasons() - 1, names.size());
        assertEquals("no-room", Dhcp6Responder.reason(Dhcp6Responder.NO_ROOM));
        assertEquals("wrong-server-id", Dhcp6Responder.reason(Dhcp6Responder.WRONG_SERVER_ID));
    }

    // ---- fuzz ----

    static final int FUZZ_ROUNDS = 30_000;
    static final byte SENTINEL = 0x5a;
    static final byte[] OUR_LL_BYTES = hex(OUR_LL);
    static final byte[] SERVER_ID_BYTES = hex(SERVER_ID);

    @Test
    void mutatedMessagesNeverThrowAndAnswersAreWellFormed() {
        SplittableRandom rnd = new SplittableRandom(0xd6c9_5eed);
        String[] templates = {
            solicit(),
            "03000102" + CLIENT_ID + SERVER_ID + ORO + ia(IAID, "00000000", "00000000", iaAddress(GUEST)),
            "04000103" + CLIENT_ID + ia(IAID, "00000000", "00000000", iaAddress(OTHER)) + iaTa("00000001", ""),
            "05000104" + SERVER_ID + CLIENT_ID + iaTa("00000002", iaAddress(GUEST)),
            "0b000105" + CLIENT_ID + ORO + ELAPSED,
            "01000106" + CLIENT_ID + clientFqdn("01") + IA_NA_EMPTY,
        };
        byte[][] frames = new byte[templates.length][];
        for (int i = 0; i < templates.length; i++)
            frames[i] = dhcp(templates[i]);
        Dhcp6Responder[] responders = {responder(), named()};
        ByteBuffer in = ByteBuffer.allocateDirect(1024);
        ByteBuffer out = ByteBuffer.allocateDirect(1024);
        int answered = 0;
        for (int round = 0; round < FUZZ_ROUNDS; round++) {
            byte[] valid = frames[rnd.nextInt(frames.length)];
            int udpValid = valid.length - 54;
            int frameOff = rnd.nextInt(0, 300);
            in.clear();
            Frames.fill(in, (byte) rnd.nextInt());
            for (int i = 0; i < valid.length; i++)
                in.put(frameOff + i, valid[i]);
            // mostly the message, where the option walks are; sometimes the addresses too
            if (rnd.nextInt(8) == 0)
                Frames.mutate(in, frameOff + 14, valid.length - 14, rnd);
            else
                Frames.mutate(in, frameOff + 62, udpValid - 8, rnd);
            int udpLen = rnd.nextInt(4) == 0 ? rnd.nextInt(-4, udpValid + 40) : udpValid;
            if (rnd.nextInt(8) == 0)
                in.limit(Math.min(1024, frameOff + 54 + Math.max(udpLen, 0)));
            int ip6Off = frameOff + 14, udpOff = frameOff + 54;
            if (rnd.nextInt(16) == 0) {
                ip6Off += rnd.nextInt(-20, 20);
                udpOff += rnd.nextInt(-50, 50);
            }
            int outOff = rnd.nextInt(0, 400);
            int room = rnd.nextInt(4) == 0 ? rnd.nextInt(-10, 400) : 1024 - outOff;
            Frames.fill(out, SENTINEL);
            int n;
            try {
                n = responders[round & 1].reply(in, frameOff, ip6Off, udpOff, udpLen, out, outOff, room);
            } catch (RuntimeException e) {
                throw new AssertionError("round " + round, e);
            }
            if (n > 0) {
                answered++;
                if (n > room || n > Dhcp6Responder.MAX_REPLY_LENGTH)
                    fail("round " + round + ": reply of " + n + " in room " + room);
                assertWellFormed(out, outOff, n, in, udpOff, round);
            } else if (n == 0 || -n >= Dhcp6Responder.reasons()) {
                fail("round " + round + ": unknown code " + n);
            }
            int written = Math.max(n, 0);
            for (int i = 0; i < out.capacity(); i++)
                if ((i < outOff || i >= outOff + written) && out.get(i) != SENTINEL)
                    fail("round " + round + ": byte " + i + " written outside the reply (off " + outOff + ", code "
                        + n + ")");
        }
        assertTrue(answered > FUZZ_ROUNDS / 10, "the fuzz must also reach the answering path: " + answered);
    }

    /** A reply frame: headers and checksum right, options laid end to end, our server id and a client id. */
    private static void assertWellFormed(ByteBuffer out, int off, int n, ByteBuffer in, int udpOff, int round) {
        String where = "round " + round;
        assertTrue(n >= 62 + 4 + 18 + 4, where);
        assertEquals(0x86dd, out.getShort(off + 12) & 0xffff, where);
        assertEquals(0x60000000, out.getInt(off + 14), where);
        assertEquals(n - 54, out.getShort(off + 18) & 0xffff, where);
        assertEquals(17, out.get(off + 20), where);
        assertEquals(255, out.get(off + 21) & 0xff, where);
        assertArrayEquals(OUR_LL_BYTES, bytes(out, off + 22, 16), where);
        assertEquals(547, out.getShort(off + 54) & 0xffff, where);
        assertEquals(546, out.getShort(off + 56) & 0xffff, where);
        assertEquals(n - 54, out.getShort(off + 58) & 0xffff, where);
        assertTrue(udpChecksumVerifies(OUR_LL_BYTES, bytes(out, off + 38, 16), bytes(out, off + 54, n - 54)), where);
        int type = out.get(off + 62) & 0xff;
        assertTrue(type == Dhcp6Responder.ADVERTISE || type == Dhcp6Responder.REPLY, where);
        assertEquals(in.getInt(udpOff + 8) & 0xffffff, out.getInt(off + 62) & 0xffffff, where);
        assertArrayEquals(SERVER_ID_BYTES, bytes(out, off + 66, 18), where);
        boolean clientId = false;
        int p = off + 62 + 4, end = off + n;
        while (p < end) {
            assertTrue(p + 4 <= end, where);
            int code = out.getShort(p) & 0xffff, len = out.getShort(p + 2) & 0xffff;
            assertTrue(p + 4 + len <= end, where);
            clientId |= code == 1;
            p += 4 + len;
        }
        assertEquals(end, p, where);
        assertTrue(clientId, where);
    }


    // ---- allocation ----

    @Test
    void repliesDoNotAllocate() {
        Dhcp6Responder r = responder();
        byte[] solicit = dhcp(solicit());
        byte[] confirm = dhcp("04c0ffee" + CLIENT_ID + ia(IAID, "00000000", "00000000", iaAddress(OTHER)));
        byte[] request = dhcp("03000102" + CLIENT_ID + SERVER_ID + ia(IAID, "00000000", "00000000",
            iaAddress(GUEST)));
        ByteBuffer solicitIn = at(solicit, 0, 512), confirmIn = at(confirm, 0, 512), requestIn = at(request, 0, 512);
        ByteBuffer out = ByteBuffer.allocateDirect(2048);
        int[] lengths = {solicit.length - 54, confirm.length - 54, request.length - 54};
        int n = AllocationTest.N;

        long[] m = AllocationTest.measure(() -> run(r, solicitIn, confirmIn, requestIn, lengths, out, n));
        assertEquals((long) n * (217 + 156 + 217), m[0]);
        assertTrue(m[1] < AllocationTest.LIMIT, m[1] + " bytes allocated for " + 3 * n + " DHCPv6 replies");

        // with --fqdn, where the client's S flag is read per request
        byte[] asking = dhcp("01000001" + CLIENT_ID + clientFqdn("01") + IA_NA_EMPTY);
        ByteBuffer askingIn = at(asking, 0, 512);
        int[] named = {asking.length - 54, confirm.length - 54, request.length - 54};
        Dhcp6Responder withName = named();
        m = AllocationTest.measure(() -> run(withName, askingIn, confirmIn, requestIn, named, out, n));
        assertEquals((long) n * (241 + 156 + 241), m[0]);
        assertTrue(m[1] < AllocationTest.LIMIT, m[1] + " bytes allocated for " + 3 * n + " DHCPv6 replies with FQDN");
    }

    private static long run(Dhcp6Responder r, ByteBuffer solicit, ByteBuffer confirm, ByteBuffer request,
                            int[] lengths, ByteBuffer out, int n) {
        long total = 0;
        for (int i = 0; i < n; i++) {
            total += r.reply(solicit, 0, 14, 54, lengths[0], out, 0, 2048);
            total += r.reply(confirm, 0, 14, 54, lengths[1], out, 0, 2048);
            total += r.reply(request, 0, 14, 54, lengths[2], out, 0, 2048);
        }
        return total;
    }
}
