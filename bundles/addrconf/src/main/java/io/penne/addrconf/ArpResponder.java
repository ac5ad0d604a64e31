package io.penne.addrconf;

import io.penne.api.IpFrames;
import java.nio.ByteBuffer;

/**
 * Answers the guest's ARP requests for IPv4-over-Ethernet addresses.
 *
 * <p><b>Theory of operation.</b> penne stands in for every other host on the
 * guest's link: whatever IPv4 address the guest asks for, the answer is
 * penne's own MAC, because every frame the guest sends ends up with penne
 * anyway, which forwards it by its IP header. So the responder needs no
 * table: it checks that the frame is a request it should answer and writes
 * the reply. The rules are passt's ({@code arp.c}, {@code ignore_arp()} and
 * {@code arp()}):
 * <ol>
 * <li>Only Ethernet (hardware type 1), IPv4 (protocol 0x0800), hardware
 *     length 6, protocol length 4, operation 1 (request) is answered.</li>
 * <li>Announcements (sender IP = target IP, sender IP not 0.0.0.0) are not
 *     answered: the host may really have that address, and a reply would
 *     make the guest see a duplicate.</li>
 * <li>Probes (sender IP 0.0.0.0, RFC 5227) <em>are</em> answered, as in
 *     passt: the guest is checking whether an address is free, and every
 *     address but its own is "taken" by penne.</li>
 * <li>A request for the guest's own address is not answered.</li>
 * <li>The reply goes to the Ethernet source of the request, from penne's
 *     MAC; its sender is (penne's MAC, the requested IP), its target is the
 *     requester's (hardware address, IP); the header fields are copied from
 *     the request. Like passt, the frame is 42 bytes, not padded to 60.</li>
 * </ol>
 * penne adds one rule of its own: when the guest's address is not known,
 * probes are not answered, since the probe may be for the guest's own
 * address and a reply would make the guest give it up (passt always knows
 * the guest's address, so it never meets this case).
 *
 * <p>Pure and allocation-free: all state comes in as arguments, every read
 * and write is an absolute access within the given bounds, and all input
 * fields are read before the first write, so input and output may even
 * overlap. Malformed input is reported by a negative code, never by an
 * exception.
 */
public final class ArpResponder {
    /** EtherType of ARP (replies go out in ARP frames, which IpFrames does not write). */
    static final int ETH_P_ARP = 0x0806;
    /** Length of the reply frame: Ethernet header (14) and ARP payload for IPv4 (28). */
    public static final int REPLY_LENGTH = 42;
    /** ARP payload length for IPv4 over Ethernet. */
    static final int ARP_LENGTH = 28;
    /** Guest address not known (any value outside 0..2^32-1 would do). */
    public static final long UNKNOWN = -1;

    /** The frame is too short for an IPv4-over-Ethernet ARP message, or its offsets are out of the buffer. */
    public static final int TRUNCATED = -1;
    /** Not Ethernet/IPv4 (hardware type, protocol type, or address lengths). */
    public static final int UNSUPPORTED = -2;
    /** Operation is not 1 (request): replies and RARP are not for us. */
    public static final int NOT_REQUEST = -3;
    /** Gratuitous ARP announcement: sender IP = target IP. */
    public static final int ANNOUNCEMENT = -4;
    /** The request is for the guest's own address. */
    public static final int GUEST_ADDRESS = -5;
    /** A probe (sender 0.0.0.0) while the guest's address is unknown. */
    public static final int PROBE_GUEST_UNKNOWN = -6;
    /** The output room is smaller than {@link #REPLY_LENGTH}. */
    public static final int NO_ROOM = -7;

    private static final String[] REASONS = {
        null, "truncated", "unsupported", "not-request", "announcement", "guest-address", "probe-guest-unknown",
        "no-room",
    };

    private ArpResponder() {
    }

    /** Number of reason codes: codes run from -1 to {@code -(reasons() - 1)}. */
    public static int reasons() {
        return REASONS.length;
    }

    /** Counter-friendly name of a negative reason code, e.g. {@code "announcement"}. */
    public static String reason(int code) {
        return REASONS[-code];
    }

    /**
     * Writes the reply to one ARP frame, if it gets one.
     *
     * @param in       buffer holding the request (absolute indexing, big-endian)
     * @param frameOff offset of the request's Ethernet header
     * @param arpOff   offset of its ARP payload (normally {@code frameOff + 14})
     * @param end      end of the frame (exclusive)
     * @param out      buffer to write the reply to (big-endian)
     * @param outOff   where the reply goes
     * @param room     bytes available at {@code outOff}
     * @param ourMac   penne's MAC, low 48 bits
     * @param guest4   the guest's IPv4 address as an unsigned 32-bit value, or {@link #UNKNOWN}
     * @return the reply length ({@link #REPLY_LENGTH}), or a negative reason code
     */
    public static int reply(ByteBuffer in, int frameOff, int arpOff, int end, ByteBuffer out, int outOff,
                            int room, long ourMac, long guest4) {
        // written so that no sum can overflow, whatever the offsets
        if (frameOff < 0 || arpOff < 0 || arpOff - 14 < frameOff || end < 0 || end > in.limit()
            || arpOff > end - ARP_LENGTH)
            return TRUNCATED;
        if (in.getShort(arpOff) != 1 // hardware type: Ethernet
            || in.getShort(arpOff + 2) != 0x0800 // protocol type: IPv4
            || in.get(arpOff + 4) != 6 // hardware address length
            || in.get(arpOff + 5) != 4) // protocol address length
            return UNSUPPORTED;
        if (in.getShort(arpOff + 6) != 1)
            return NOT_REQUEST;
        int sip = in.getInt(arpOff + 14);
        int tip = in.getInt(arpOff + 24);
        if (sip != 0 && sip == tip)
            return ANNOUNCEMENT;
        if (guest4 == UNKNOWN) {
            if (sip == 0)
                return PROBE_GUEST_UNKNOWN;
        } else if ((tip & 0xffffffffL) == guest4) {
            return GUEST_ADDRESS;
        }
        if (outOff < 0 || room < REPLY_LENGTH || outOff > out.limit() - REPLY_LENGTH)
            return NO_ROOM;

        long ethSrc = mac(in, frameOff + 6);
        long sha = mac(in, arpOff + 8);

        putMac(out, outOff, ethSrc); // to whoever asked
        putMac(out, outOff + 6, ourMac);
        out.putShort(outOff + 12, (short) ETH_P_ARP);
        int a = outOff + IpFrames.ETH_HLEN;
        out.putShort(a, (short) 1);
        out.putShort(a + 2, (short) 0x0800);
        out.put(a + 4, (byte) 6);
        out.put(a + 5, (byte) 4);
        out.putShort(a + 6, (short) 2); // reply
        putMac(out, a + 8, ourMac);
        out.putInt(a + 14, tip);
        putMac(out, a + 18, sha);
        out.putInt(a + 24, sip);
        return REPLY_LENGTH;
    }

    static long mac(ByteBuffer b, int off) {
        return (b.getShort(off) & 0xffffL) << 32 | (b.getInt(off + 2) & 0xffffffffL);
    }

    static void putMac(ByteBuffer b, int off, long mac) {
        b.putShort(off, (short) (mac >>> 32));
        b.putInt(off + 2, (int) mac);
    }
}
