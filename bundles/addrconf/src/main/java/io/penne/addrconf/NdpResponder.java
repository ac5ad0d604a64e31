package io.penne.addrconf;

import io.penne.api.IpFrames;
import java.nio.ByteBuffer;

/**
 * Answers the guest's IPv6 neighbour solicitations (RFC 4861) with neighbour
 * advertisements.
 *
 * <p><b>Theory of operation.</b> As with ARP, penne stands in for every
 * other node on the guest's link, so whatever target the guest solicits, the
 * answer is penne's MAC and no table is needed. The responder validates the
 * solicitation, then writes a complete Ethernet + IPv6 + ICMPv6 frame.
 *
 * <p>What passt does ({@code ndp.c}, {@code ndp()} and {@code ndp_na()}):
 * <ol>
 * <li>ICMPv6 types 133 to 136 (RS, RA, NS, NA) belong to NDP; everything
 *     else is ICMP proper (echo) and goes elsewhere.</li>
 * <li>A solicitation from the unspecified address {@code ::} (duplicate
 *     address detection, RFC 4862) is not answered: the guest is checking
 *     that its own tentative address is free, and it is.</li>
 * <li>Any other solicitation gets an advertisement with the Router,
 *     Solicited and Override flags all set, the solicited target address,
 *     and a Target Link-Layer Address option (type 2, length 1) carrying
 *     penne's MAC.</li>
 * <li>It goes to the solicitation's IPv6 source, from penne's link-local
 *     address (passt's {@code our_tap_ll}), hop limit 255, traffic class
 *     and flow label 0, Ethernet source penne's MAC.</li>
 * <li>The ICMPv6 checksum covers the IPv6 pseudo-header (source,
 *     destination, upper-layer length, next header 58).</li>
 * </ol>
 * passt answers without checking the solicitation; penne also applies RFC
 * 4861 section 7.1.1 validation: hop limit 255 (proof that the solicitation
 * was not forwarded by a router), code 0, at least 24 bytes, a target that
 * is not multicast, and options each of non-zero length and within the
 * message. It also ignores a source that is multicast, and a solicitation
 * for the guest's own address (the ARP rule of passt, applied to IPv6).
 * When penne's link-local address is not configured, the advertisement's
 * source is the target address itself, which is also valid: RFC 4861 only
 * asks for an address of the sending interface, and penne plays the target.
 *
 * <p>Pure and allocation-free, like {@link ArpResponder}: all input fields
 * are read before the first write, and bad input gives a negative code.
 */
public final class NdpResponder {
    /** Ethernet (14) + IPv6 (40) + NA (24) + target link-layer address option (8). */
    public static final int REPLY_LENGTH = 86;
    static final int NA_ICMP_LENGTH = 32;

    static final int TYPE_RS = 133;
    static final int TYPE_RA = 134;
    static final int TYPE_NS = 135;
    static final int TYPE_NA = 136;
    static final int TYPE_REDIRECT = 137;
    /** Router, Solicited and Override: the flags passt sets. */
    static final int NA_FLAGS = 0xe0000000;

    /** Shorter than an ICMPv6 header or a solicitation, or offsets out of the buffer. */
    public static final int TRUNCATED = -1;
    /** Router solicitation: answered by the router advertisement code, not here. */
    public static final int ROUTER_SOLICITATION = -2;
    /** Another NDP message (RA, NA, redirect) from the guest: nothing to answer. */
    public static final int OTHER_NDP = -3;
    /** Not an NDP message at all (e.g. echo request): not for this responder. */
    public static final int NOT_NDP = -4;
    /** Hop limit not 255: the message may have come through a router. */
    public static final int HOP_LIMIT = -5;
    /** ICMPv6 code not 0. */
    public static final int BAD_CODE = -6;
    /** Target is a multicast or the unspecified address. */
    public static final int BAD_TARGET = -7;
    /** An option of length 0, or one that runs past the message. */
    public static final int BAD_OPTION = -8;
    /** Source is {@code ::}: duplicate address detection, which passt leaves unanswered. */
    public static final int DAD = -9;
    /** Source is a multicast address. */
    public static final int BAD_SOURCE = -10;
    /** The target is the guest's own address. */
    public static final int GUEST_ADDRESS = -11;
    /** The output room is smaller than {@link #REPLY_LENGTH}. */
    public static final int NO_ROOM = -12;

    private static final String[] REASONS = {
        null, "truncated", "router-solicitation", "other-ndp", "not-ndp", "hop-limit", "bad-code", "bad-target",
        "bad-option", "dad", "bad-source", "guest-address", "no-room",
    };

    private NdpResponder() {
    }

    /** Number of reason codes: codes run from -1 to {@code -(reasons() - 1)}. */
    public static int reasons() {
        return REASONS.length;
    }

    /** Counter-friendly name of a negative reason code, e.g. {@code "dad"}. */
    public static String reason(int code) {
        return REASONS[-code];
    }

    /**
     * Writes the advertisement answering one ICMPv6 message, if it gets one.
     * Addresses are 128-bit values split into high and low 64 bits; the
     * unspecified address (0, 0) means "not known".
     *
     * @param in       buffer holding the message (absolute indexing, big-endian)
     * @param frameOff offset of its Ethernet header
     * @param ip6Off   offset of its IPv6 header
     * @param l4Off    offset of the ICMPv6 header (after any extension headers)
     * @param l4Len    ICMPv6 length, padding excluded
     * @param out      buffer to write the reply to (big-endian)
     * @param outOff   where the reply goes
     * @param room     bytes available at {@code outOff}
     * @param ourMac   penne's MAC, low 48 bits
     * @param ourLlHi  penne's link-local address, high half, or 0 with {@code ourLlLo} 0 to use the target
     * @param ourLlLo  penne's link-local address, low half
     * @param guestHi  the guest's address, high half, or 0 with {@code guestLo} 0 if not known
     * @param guestLo  the guest's address, low half
     * @return the reply length ({@link #REPLY_LENGTH}), or a negative reason code
     */
    public static int reply(ByteBuffer in, int frameOff, int ip6Off, int l4Off, int l4Len, ByteBuffer out,
                            int outOff, int room, long ourMac, long ourLlHi, long ourLlLo, long guestHi,
                            long guestLo) {
        // written so that no sum can overflow, whatever the offsets
        if (frameOff < 0 || ip6Off < 0 || l4Off < 0 || ip6Off - 14 < frameOff || l4Off - 40 < ip6Off
            || l4Len < 4 || l4Off > in.limit() - l4Len)
            return TRUNCATED;
        int type = in.get(l4Off) & 0xff;
        if (type != TYPE_NS) {
            if (type == TYPE_RS)
                return ROUTER_SOLICITATION;
            if (type >= TYPE_RA && type <= TYPE_REDIRECT)
                return OTHER_NDP;
            return NOT_NDP;
        }
        if (l4Len < 24)
            return TRUNCATED;
        if ((in.get(ip6Off + 7) & 0xff) != 255)
            return HOP_LIMIT;
        if (in.get(l4Off + 1) != 0)
            return BAD_CODE;
        long tgtHi = in.getLong(l4Off + 8);
        long tgtLo = in.getLong(l4Off + 16);
        if (isMulticast(tgtHi) || (tgtHi | tgtLo) == 0)
            return BAD_TARGET;
        int end = l4Off + l4Len;
        for (int opt = l4Off + 24; opt < end; ) {
            if (opt > end - 2)
                return BAD_OPTION; // not even room for type and length
            int len = (in.get(opt + 1) & 0xff) * 8;
            if (len == 0 || opt > end - len)
                return BAD_OPTION;
            opt += len;
        }
        long srcHi = in.getLong(ip6Off + 8);
        long srcLo = in.getLong(ip6Off + 16);
        if ((srcHi | srcLo) == 0)
            return DAD;
        if (isMulticast(srcHi))
            return BAD_SOURCE;
        if ((guestHi | guestLo) != 0 && tgtHi == guestHi && tgtLo == guestLo)
            return GUEST_ADDRESS;
        if (outOff < 0 || room < REPLY_LENGTH || outOff > out.limit() - REPLY_LENGTH)
            return NO_ROOM;
        long ethSrc = ArpResponder.mac(in, frameOff + 6);

        long fromHi = ourLlHi, fromLo = ourLlLo;
        if ((fromHi | fromLo) == 0) {
            fromHi = tgtHi;
            fromLo = tgtLo;
        }

        int c = IpFrames.ethIp(out, outOff, ethSrc, ourMac, false, 58, fromHi, fromLo, srcHi, srcLo, NA_ICMP_LENGTH);
        out.put(c, (byte) TYPE_NA);
        out.put(c + 1, (byte) 0);
        out.putShort(c + 2, (short) 0);
        out.putInt(c + 4, NA_FLAGS);
        out.putLong(c + 8, tgtHi);
        out.putLong(c + 16, tgtLo);
        out.put(c + 24, (byte) 2); // target link-layer address
        out.put(c + 25, (byte) 1); // in units of 8 bytes
        ArpResponder.putMac(out, c + 26, ourMac);
        out.putShort(c + 2, (short) icmp6Checksum(out, c, NA_ICMP_LENGTH, fromHi, fromLo, srcHi, srcLo));
        return REPLY_LENGTH;
    }

    static boolean isMulticast(long hi) {
        return (hi >>> 56) == 0xff;
    }

    /**
     * ICMPv6 checksum of {@code len} bytes at {@code off}, with the IPv6
     * pseudo-header (RFC 8200 section 8.1). The checksum field must be 0.
     */
    static int icmp6Checksum(ByteBuffer b, int off, int len, long srcHi, long srcLo, long dstHi, long dstLo) {
        // The pseudo-header from the given addresses, in 32-bit words as IpFrames.sum adds them.
        long pseudo = words(srcHi) + words(srcLo) + words(dstHi) + words(dstLo) + 58 + len;
        return IpFrames.fold(IpFrames.sum(b, off, len, pseudo));
    }

    private static long words(long v) {
        return (v >>> 32) + (v & 0xffff_ffffL);
    }
}
