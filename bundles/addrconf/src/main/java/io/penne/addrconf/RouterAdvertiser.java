package io.penne.addrconf;

import io.penne.api.IpFrames;
import java.nio.ByteBuffer;
import java.util.List;

/**
 * Router advertisements (RFC 4861) to the guest: the answer to its router
 * solicitations, and the unsolicited ones sent from time to time, so that a
 * guest left to configure itself (pasta attached without --config-net, or a
 * VM) takes the host's IPv6 prefix by SLAAC and penne as its default router.
 *
 * <p><b>Theory of operation.</b> The advertisement carries the same options
 * every time, so they are built once, in the constructor, into {@link
 * #message} (all but the checksum, which depends on the destination). What
 * passt sends ({@code ndp.c}, {@code ndp_ra()}), in this order:
 * <ol>
 * <li>the header: current hop limit 255, the Managed flag (addresses also by
 *     DHCPv6, which penne serves), router lifetime 65535 s (the largest,
 *     RFC 8319), reachable time and retransmission timer unspecified;</li>
 * <li>prefix information: the guest's /64, on-link and autonomous, valid
 *     and preferred for ever;</li>
 * <li>source link-layer address: penne's MAC, so the guest needs no
 *     solicitation to reach its router;</li>
 * <li>MTU, when one is configured;</li>
 * <li>recursive DNS servers (RFC 8106), and the DNS search list, when there
 *     are any, with an infinite lifetime.</li>
 * </ol>
 * The frame goes from penne's link-local address (receivers drop an
 * advertisement from any other kind of address), hop limit 255, to the
 * soliciting address, or to all nodes (ff02::1) when the solicitation came
 * from the unspecified address or nobody asked.
 *
 * <p>Solicitations are validated as RFC 4861 section 6.1.1 asks (passt
 * answers any): hop limit 255, code 0, at least 8 bytes, options of non-zero
 * length within the message, and no source link-layer address option when
 * the source is unspecified. Replies are allocation-free; bad input gives a
 * negative reason code, as in {@link NdpResponder}.
 *
 * <p><b>Limits.</b> One prefix (the guest's address's /64, as passt); no
 * route information options; the search list is cut at what fits in one
 * option (255 units of 8 bytes).
 */
final class RouterAdvertiser {
    static final int TYPE_RS = 133;
    static final int TYPE_RA = 134;
    /** Router lifetime: the largest the 16-bit field holds. */
    static final int ROUTER_LIFETIME = 65535;
    /** All-nodes multicast, ff02::1, and its Ethernet mapping 33:33:00:00:00:01. */
    static final long ALL_NODES_HI = 0xff02_0000_0000_0000L, ALL_NODES_LO = 1, ALL_NODES_MAC = 0x3333_0000_0001L;

    /** Shorter than a solicitation, or offsets out of the buffer. */
    static final int TRUNCATED = -1;
    /** Hop limit not 255: the solicitation may have come through a router. */
    static final int HOP_LIMIT = -2;
    /** ICMPv6 code not 0. */
    static final int BAD_CODE = -3;
    /** An option of length 0, one past the message, or a source link-layer address from {@code ::}. */
    static final int BAD_OPTION = -4;
    /** Output room smaller than the advertisement. */
    static final int NO_ROOM = -5;

    private static final String[] REASONS = {null, "truncated", "hop-limit", "bad-code", "bad-option", "no-room"};

    /** The ICMPv6 message, checksum field 0. */
    private final byte[] message;
    private final long ourMac, srcHi, srcLo;

    /**
     * @param ourMac   penne's MAC, low 48 bits
     * @param llHi     penne's link-local address, high half (must be fe80::/10)
     * @param llLo     its low half
     * @param prefixHi the guest's address, high half: its /64 is the prefix advertised
     * @param mtu      MTU option, or 0 for none
     * @param dns      resolver addresses as {hi0, lo0, hi1, lo1, ...}
     * @param search   DNS search domains, in order
     */
    RouterAdvertiser(long ourMac, long llHi, long llLo, long prefixHi, int mtu, long[] dns, List<String> search) {
        if ((llHi >>> 54) != (0xfe80L >>> 6))
            throw new IllegalArgumentException("not a link-local address: " + Long.toHexString(llHi));
        if (prefixHi == 0 || (prefixHi >>> 56) == 0xff || (dns.length & 1) != 0 || mtu < 0)
            throw new IllegalArgumentException("bad prefix, resolvers or MTU");
        this.ourMac = ourMac;
        this.srcHi = llHi;
        this.srcLo = llLo;
        byte[] dnssl = searchList(search);
        int len = 16 + 32 + 8 + (mtu != 0 ? 8 : 0) + (dns.length > 0 ? 8 + 8 * dns.length : 0)
            + (dnssl.length > 0 ? 8 + dnssl.length : 0);
        ByteBuffer m = ByteBuffer.allocate(len);
        m.put((byte) TYPE_RA).put((byte) 0).putShort((short) 0);
        m.put((byte) 255).put((byte) 0x80).putShort((short) ROUTER_LIFETIME); // hop limit; M flag; lifetime
        m.putInt(0).putInt(0); // reachable time, retransmission timer: unspecified
        m.put((byte) 3).put((byte) 4).put((byte) 64).put((byte) 0xc0); // prefix information: /64, L and A
        m.putInt(-1).putInt(-1).putInt(0); // valid and preferred for ever; reserved
        m.putLong(prefixHi).putLong(0);
        m.put((byte) 1).put((byte) 1).putShort((short) (ourMac >>> 32)).putInt((int) ourMac);
        if (mtu != 0)
            m.put((byte) 5).put((byte) 1).putShort((short) 0).putInt(mtu);
        if (dns.length > 0) {
            m.put((byte) 25).put((byte) (1 + dns.length)).putShort((short) 0).putInt(-1);
            for (long a : dns)
                m.putLong(a);
        }
        if (dnssl.length > 0) {
            m.put((byte) 31).put((byte) (1 + dnssl.length / 8)).putShort((short) 0).putInt(-1);
            m.put(dnssl);
        }
        message = m.array();
    }

    /** Domain names in DNS wire format (RFC 1035 3.1), zero-padded to a multiple of 8; names that do not encode are left out. */
    static byte[] searchList(List<String> search) {
        ByteBuffer b = ByteBuffer.allocate(8 * 254);
        for (String name : search) {
            byte[] wire = DnsName.encode(name);
            if (wire != null && b.remaining() >= wire.length + 7)
                b.put(wire);
        }
        int n = (b.position() + 7) & ~7;
        byte[] out = new byte[n];
        b.flip();
        b.get(out, 0, b.limit());
        return out;
    }

    /** Number of reason codes: codes run from -1 to {@code -(reasons() - 1)}. */
    static int reasons() {
        return REASONS.length;
    }

    /** Counter-friendly name of a negative reason code. */
    static String reason(int code) {
        return REASONS[-code];
    }

    /** Length of the advertisement frame: Ethernet, IPv6 and the message. */
    int length() {
        return 14 + 40 + message.length;
    }

    /**
     * Writes the advertisement answering a router solicitation (ICMPv6 type
     * 133 at {@code l4Off}, {@code l4Len} bytes, padding excluded).
     *
     * @return the frame length, or a negative reason code
     */
    int reply(ByteBuffer in, int frameOff, int ip6Off, int l4Off, int l4Len, ByteBuffer out, int outOff, int room) {
        if (frameOff < 0 || ip6Off < 0 || l4Off < 0 || ip6Off - 14 < frameOff || l4Off - 40 < ip6Off
            || l4Len < 8 || l4Off > in.limit() - l4Len)
            return TRUNCATED;
        if ((in.get(ip6Off + 7) & 0xff) != 255)
            return HOP_LIMIT;
        if (in.get(l4Off + 1) != 0)
            return BAD_CODE;
        long sHi = in.getLong(ip6Off + 8), sLo = in.getLong(ip6Off + 16);
        boolean unspecified = (sHi | sLo) == 0;
        int end = l4Off + l4Len;
        for (int opt = l4Off + 8; opt < end; ) {
            if (opt > end - 2)
                return BAD_OPTION;
            int len = (in.get(opt + 1) & 0xff) * 8;
            if (len == 0 || opt > end - len || (unspecified && in.get(opt) == 1))
                return BAD_OPTION;
            opt += len;
        }
        if (unspecified || NdpResponder.isMulticast(sHi))
            return write(out, outOff, room, ALL_NODES_MAC, ALL_NODES_HI, ALL_NODES_LO);
        return write(out, outOff, room, ArpResponder.mac(in, frameOff + 6), sHi, sLo);
    }

    /** Writes an unsolicited advertisement to all nodes; the frame length or {@link #NO_ROOM}. */
    int unsolicited(ByteBuffer out, int outOff, int room) {
        return write(out, outOff, room, ALL_NODES_MAC, ALL_NODES_HI, ALL_NODES_LO);
    }

    private int write(ByteBuffer out, int outOff, int room, long ethDst, long dHi, long dLo) {
        int len = length();
        if (outOff < 0 || room < len || outOff > out.limit() - len)
            return NO_ROOM;
        int c = IpFrames.ethIp(out, outOff, ethDst, ourMac, false, 58, srcHi, srcLo, dHi, dLo, message.length);
        out.put(c, message);
        out.putShort(c + 2, (short) IpFrames.fold(IpFrames.sum(out, c, message.length,
            IpFrames.pseudo(out, c - IpFrames.IPV6_HLEN, false, 58, message.length))));
        return len;
    }
}
