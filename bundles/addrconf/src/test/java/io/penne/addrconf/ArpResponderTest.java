package io.penne.addrconf;

import static io.penne.addrconf.Frames.OUR_MAC;
import static io.penne.addrconf.Frames.arpRequest;
import static io.penne.addrconf.Frames.at;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ArpResponderTest {
    static final String GUEST = "0a00020f"; // 10.0.2.15
    static final String GW = "0a000202"; // 10.0.2.2
    static final long GUEST4 = 0x0a00020fL;

    /** Runs the responder on {@code frame} placed at offset 100, output at offset 64 of a 256-byte buffer. */
    static int run(byte[] frame, int frameLen, long guest4, ByteBuffer out, int room) {
        ByteBuffer in = at(frame, 100, 512);
        return ArpResponder.reply(in, 100, 114, 100 + frameLen, out, 64, room, OUR_MAC, guest4);
    }

    static int run(byte[] frame, long guest4) {
        return run(frame, frame.length, guest4, ByteBuffer.allocateDirect(256), ArpResponder.REPLY_LENGTH);
    }

    @Test
    void requestForGatewayGetsByteExactReply() {
        ByteBuffer out = ByteBuffer.allocateDirect(256);
        assertEquals(42, run(arpRequest(GUEST, GW), 42, GUEST4, out, 42));
        String expected = ""
            + "525400123456" // Ethernet destination: the request's Ethernet source
            + "9a559a559a55" // Ethernet source: our MAC
            + "0806" // EtherType ARP
            + "0001" // hardware type Ethernet
            + "0800" // protocol type IPv4
            + "06" + "04" // address lengths
            + "0002" // reply
            + "9a559a559a55" + GW // sender: our MAC, the requested address
            + "525400123456" + GUEST; // target: the requester
        assertEquals(expected, Frames.hex(out, 64, 42));
        assertEquals(0, out.get(63), "nothing before the reply");
        assertEquals(0, out.get(64 + 42), "nothing after the reply");
    }

    @Test
    void paddedFrameAndAnyAddressAreAnswered() {
        byte[] f = new byte[60];
        System.arraycopy(arpRequest(GUEST, "5db8d822"), 0, f, 0, 42); // 93.184.216.34, padded to 60
        ByteBuffer out = ByteBuffer.allocateDirect(256);
        assertEquals(42, run(f, 60, GUEST4, out, 1500));
        assertEquals("9a559a559a55" + "5db8d822", Frames.hex(out, 64 + 22, 10));
    }

    @Test
    void ethernetDestinationIsTheFrameSourceAsInPasst() {
        byte[] f = arpRequest(GUEST, GW);
        f[6] = 0x02; // Ethernet source differs from the ARP sender hardware address
        ByteBuffer out = ByteBuffer.allocateDirect(256);
        assertEquals(42, run(f, 42, GUEST4, out, 42));
        assertEquals("025400123456", Frames.hex(out, 64, 6));
        assertEquals("525400123456", Frames.hex(out, 64 + 32, 6), "target hardware address: the ARP sender");
    }

    @Test
    void probeFromZeroIsAnsweredWhenTheGuestAddressIsKnown() {
        // passt: "Discard announcements, but not 0.0.0.0 probes"
        ByteBuffer out = ByteBuffer.allocateDirect(256);
        assertEquals(42, run(arpRequest("00000000", GW), 42, GUEST4, out, 42));
        assertEquals("525400123456" + "00000000", Frames.hex(out, 64 + 32, 10));
    }

    @Test
    void probeFromZeroIsIgnoredWhenTheGuestAddressIsUnknown() {
        assertEquals(ArpResponder.PROBE_GUEST_UNKNOWN, run(arpRequest("00000000", GW), ArpResponder.UNKNOWN));
        assertEquals(42, run(arpRequest(GUEST, GW), ArpResponder.UNKNOWN), "requests still answered");
    }

    @Test
    void probeForTheGuestAddressIsIgnored() {
        assertEquals(ArpResponder.GUEST_ADDRESS, run(arpRequest("00000000", GUEST), GUEST4));
    }

    @Test
    void announcementIsIgnored() {
        assertEquals(ArpResponder.ANNOUNCEMENT, run(arpRequest(GUEST, GUEST), GUEST4));
        assertEquals(ArpResponder.ANNOUNCEMENT, run(arpRequest(GW, GW), ArpResponder.UNKNOWN));
    }

    @Test
    void requestForTheGuestAddressIsIgnored() {
        assertEquals(ArpResponder.GUEST_ADDRESS, run(arpRequest(GW, GUEST), GUEST4));
    }

    @Test
    void highBitAddressesCompareUnsigned() {
        long guest = 0xc0a80102L; // 192.168.1.2
        assertEquals(ArpResponder.GUEST_ADDRESS, run(arpRequest("c0a80101", "c0a80102"), guest));
        assertEquals(42, run(arpRequest("c0a80102", "c0a80101"), guest));
    }

    @Test
    void notARequest() {
        byte[] f = arpRequest(GUEST, GW);
        for (int op : new int[] {0, 2, 3, 4, 0x100, 0xffff}) {
            f[20] = (byte) (op >>> 8);
            f[21] = (byte) op;
            assertEquals(ArpResponder.NOT_REQUEST, run(f, GUEST4), "op " + op);
        }
    }

    @Test
    void unsupportedHeaders() {
        int[][] changes = {{14, 0x00, 15, 0x06}, {16, 0x86, 17, 0xdd}, {18, 8, 18, 8}, {19, 16, 19, 16},
            {14, 0x01, 15, 0x01}};
        for (int[] c : changes) {
            byte[] f = arpRequest(GUEST, GW);
            f[c[0]] = (byte) c[1];
            f[c[2]] = (byte) c[3];
            assertEquals(ArpResponder.UNSUPPORTED, run(f, GUEST4));
        }
    }

    @Test
    void truncatedFramesAndBadOffsetsNeverThrow() {
        byte[] f = arpRequest(GUEST, GW);
        for (int len = 0; len < 42; len++)
            assertEquals(ArpResponder.TRUNCATED, run(f, len, GUEST4, ByteBuffer.allocateDirect(256), 42), "len " + len);
        ByteBuffer in = at(f, 0, 42);
        ByteBuffer out = ByteBuffer.allocateDirect(64);
        int[][] offsets = {{-1, 14, 42}, {0, 13, 42}, {0, 14, 43}, {0, -14, 42}, {0, 14, Integer.MIN_VALUE},
            {Integer.MAX_VALUE, 14, 42}, {Integer.MAX_VALUE - 5, 0, 42}, {0, Integer.MAX_VALUE, 42},
            {0, Integer.MIN_VALUE, 42}, {Integer.MIN_VALUE, 14, 42}};
        for (int[] o : offsets)
            assertEquals(ArpResponder.TRUNCATED, ArpResponder.reply(in, o[0], o[1], o[2], out, 0, 42, OUR_MAC, GUEST4));
    }

    @Test
    void tooLittleRoom() {
        ByteBuffer out = ByteBuffer.allocateDirect(256);
        assertEquals(ArpResponder.NO_ROOM, run(arpRequest(GUEST, GW), 42, GUEST4, out, 41));
        ByteBuffer in = at(arpRequest(GUEST, GW), 0, 42);
        for (int off : new int[] {-1, 215, Integer.MAX_VALUE, Integer.MIN_VALUE})
            assertEquals(ArpResponder.NO_ROOM, ArpResponder.reply(in, 0, 14, 42, out, off, 42, OUR_MAC, GUEST4));
        assertEquals(42, ArpResponder.reply(in, 0, 14, 42, out, 214, 42, OUR_MAC, GUEST4));
    }

    @Test
    void ignoredRequestsWriteNothing() {
        ByteBuffer out = ByteBuffer.allocateDirect(256);
        assertEquals(ArpResponder.GUEST_ADDRESS, run(arpRequest(GW, GUEST), 42, GUEST4, out, 42));
        for (int i = 0; i < 256; i++)
            assertEquals(0, out.get(i));
    }

    @Test
    void reasonNamesAreDistinct() {
        Set<String> names = new HashSet<>();
        for (int r = 1; r < ArpResponder.reasons(); r++)
            names.add(ArpResponder.reason(-r));
        assertEquals(ArpResponder.reasons() - 1, names.size());
        assertEquals("announcement", ArpResponder.reason(ArpResponder.ANNOUNCEMENT));
    }
}
