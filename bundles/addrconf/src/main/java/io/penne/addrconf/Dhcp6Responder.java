package io.penne.addrconf;

import io.penne.api.IpFrames;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Answers the guest's DHCPv6 (RFC 8415) requests: a stateless-address server
 * with a single lease, the guest's configured address, that never expires.
 *
 * <p><b>Theory of operation.</b> penne knows the one address the guest is
 * to have, so there is no pool, no lease table and no state: every request
 * is answered from the request itself and from what the constructor
 * precomputed (the server identifier, the IA_NA carrying the address, and
 * the resolver, search-list and Client FQDN options). The rules are
 * passt's ({@code dhcpv6.c}, {@code dhcpv6()}):
 * <ol>
 * <li>Requests must go to a multicast address (clients use ff02::1:2);
 *     anything else is dropped. The message holds at least the type and
 *     the 24-bit transaction id.</li>
 * <li>A Client Identifier (option 1) of at most 128 bytes is required and
 *     is echoed in the reply byte for byte. A Server Identifier (option 2),
 *     where present, must be 14 bytes long (a DUID-LLT for Ethernet).</li>
 * <li>SOLICIT gets an ADVERTISE and must not name a server; Rapid Commit is
 *     ignored, so a SOLICIT never gets a REPLY. REQUEST, RENEW and REBIND
 *     must name this server (REBIND too, as in passt, although RFC 8415 has
 *     clients leave the server out of it: with T1 and T2 infinite, a client
 *     never rebinds). CONFIRM must not name a server. INFORMATION-REQUEST
 *     may name one (then it must be this one) and must carry no IA_NA or
 *     IA_TA. All of these get a REPLY; every other type (RELEASE, DECLINE,
 *     server and relay messages) gets nothing.</li>
 * <li>For REQUEST, RENEW and CONFIRM, an IA Address inside any IA_NA or
 *     IA_TA that is not the guest's address gets the NotOnLink answer
 *     (RFC 8415 section 18.3.2): a REPLY holding the server identifier, the
 *     offending IA with its own fields and a Status Code option (code 4,
 *     "Prefix not appropriate for link.") instead of addresses, and the
 *     client identifier. IA_NAs are searched first, then IA_TAs, each in
 *     message order; the first offending IA is the one answered.</li>
 * <li>Otherwise the answer lays out, in this order: type and transaction
 *     id; the Server Identifier (DUID-LLT: type 1, hardware type 1, the time
 *     given at start, penne's MAC); an IA_NA with the IAID of the client's
 *     first IA_NA (1 if it sent none: passt keeps whatever IAID it saw last,
 *     its initial value being 1), T1 = T2 = infinity, holding an IA Address
 *     with the guest's address and infinite lifetimes; the client
 *     identifier; the DNS Recursive Name Server option (23) and the Domain
 *     Search List option (24) when there is something to put in them; with
 *     pasta's {@code --fqdn}, the Client FQDN option (39, RFC 4704): a flags
 *     byte, then the name in DNS wire format. The flags are 0, or O (0x02:
 *     the server overrode the client's wish) when the client's own option
 *     39, the first one, has S (0x01: "server, update the AAAA record") set,
 *     since penne updates no DNS. It goes to every client, asked for or not,
 *     as in passt: it is how the guest learns the name it is meant to have.
 *     The IA_NA goes into the reply to INFORMATION-REQUEST too, as in passt:
 *     clients ignore it there.</li>
 * <li>The frame goes to the request's Ethernet and IPv6 sources, from
 *     penne's MAC and link-local address (passt's {@code our_tap_ll}), UDP
 *     port 547 to 546, hop limit 255, traffic class 0. passt writes the
 *     transaction id into the flow label; penne writes 0, as its other
 *     responders do: the label carries no meaning for the guest.</li>
 * </ol>
 * Where passt is looser, penne refuses instead, and counts the reason: an
 * option list that runs past the end of the datagram (passt stops looking
 * at that point, and treats the rest as absent), an IA_NA shorter than its
 * 12 bytes of fields or an IA_TA shorter than 4, wherever it is in the
 * message (passt checks the first IA_NA only, and accepts 4 bytes), a
 * malformed option list inside an IA or an IA Address that is not 24 bytes
 * long when looking for addresses off the link (passt stops looking and
 * answers normally), and a request from the unspecified or a multicast
 * address, which cannot be answered. The IA Address search looks inside
 * each IA only (passt's also reaches options after the IA). The NotOnLink
 * answer to an offending IA_TA is a well-formed IA_TA (IAID, then the
 * status code), where passt copies 16 bytes as if it were an IA_NA. The
 * client's option 39 is read where its S flag matters (a reply carrying
 * ours), and one without its flags byte is refused there; passt sees the S
 * flag only when at least 259 bytes (the size of its own option structure)
 * follow the option's start in the datagram, so it misses most clients'.
 * The FQDN must be visible ASCII (see {@link DnsName#fqdn}; passt takes
 * any bytes), and a trailing dot ends the name at the root label (passt
 * encodes the dot as one more, empty, label). Types that get no answer
 * are told apart before the options are read, so that a RELEASE is counted
 * as one whatever it carries (passt checks the options first; either way
 * there is no answer).
 *
 * <p><b>Size.</b> The reply is kept within the IPv6 minimum MTU (1280), so
 * a frame is at most {@link #MAX_REPLY_LENGTH} bytes. The constructor sizes
 * the resolver, search-list and Client FQDN options for the longest client
 * identifier (128 bytes), in that order of precedence: search domains that
 * would not fit are left out, and so is the FQDN if it does not fit after
 * them. passt decides the FQDN per reply, for the client identifier at
 * hand (and counts the 4-byte message header twice); penne's choice does
 * not depend on the client.
 *
 * <p>Immutable and allocation-free per request: {@link #reply} reads and
 * writes with absolute accesses within the given bounds and reports bad
 * input with a negative code, never an exception. Every fixed-size input
 * field is read before the first write, and the client identifier is the
 * first thing written, with the bulk {@link ByteBuffer#put(int, ByteBuffer,
 * int, int)}, which copies as if through an intermediate buffer: the
 * request and the reply may overlap.
 */
public final class Dhcp6Responder {
    /** Largest reply frame: Ethernet (14) and an IPv6 packet of the IPv6 minimum MTU (1280). */
    public static final int MAX_REPLY_LENGTH = 14 + 1280;

    static final int SERVER_PORT = 547;
    static final int CLIENT_PORT = 546;

    static final int SOLICIT = 1;
    static final int ADVERTISE = 2;
    static final int REQUEST = 3;
    static final int CONFIRM = 4;
    static final int RENEW = 5;
    static final int REBIND = 6;
    static final int REPLY = 7;
    static final int RELEASE = 8;
    static final int DECLINE = 9;
    static final int INFORMATION_REQUEST = 11;

    static final int OPT_CLIENT_ID = 1;
    static final int OPT_SERVER_ID = 2;
    static final int OPT_IA_NA = 3;
    static final int OPT_IA_TA = 4;
    static final int OPT_IA_ADDRESS = 5;
    static final int OPT_STATUS_CODE = 13;
    static final int OPT_DNS_SERVERS = 23;
    static final int OPT_DOMAIN_LIST = 24;
    static final int OPT_CLIENT_FQDN = 39;
    /** Client FQDN flags (RFC 4704 section 4.1): S from the client, O in the server's answer to it. */
    static final int FQDN_S = 0x01, FQDN_O = 0x02;

    /** passt's limit on the client identifier (RFC 8415 section 11.1 caps a DUID at 128 bytes). */
    static final int MAX_CLIENT_ID = 128;
    /** Server identifier value: DUID type, hardware type, time, MAC. */
    static final int SERVER_ID_LENGTH = 14;
    /** IA_NA fields before its options: IAID, T1, T2. */
    static final int IA_NA_FIELDS = 12;
    /** IA_TA fields before its options: IAID. */
    static final int IA_TA_FIELDS = 4;
    /** IA Address value: address, preferred and valid lifetimes. */
    static final int IA_ADDRESS_LENGTH = 24;
    static final int STATUS_NOT_ON_LINK = 4;
    static final String NOT_ON_LINK_MESSAGE = "Prefix not appropriate for link.";
    /** Ethernet, IPv6 and UDP headers. */
    static final int HEADERS = 14 + 40 + 8;
    /** Type and transaction id. */
    static final int MESSAGE_HEADER = 4;
    /** Frame bytes of a normal reply besides the resolver and search-list options, with a client id of 128. */
    static final int FIXED_MAX = HEADERS + MESSAGE_HEADER + 4 + SERVER_ID_LENGTH + 4 + IA_NA_FIELDS + 4
        + IA_ADDRESS_LENGTH + 4 + MAX_CLIENT_ID;
    /** Status Code option: NotOnLink and its message. */
    static final byte[] NOT_ON_LINK_STATUS = statusNotOnLink();

    /** The datagram is shorter than a DHCPv6 message header, or the offsets are out of the buffer. */
    public static final int TRUNCATED = -1;
    /** The guest's address is not known: there is nothing to hand out. */
    public static final int GUEST_UNKNOWN = -2;
    /** The destination is not a multicast address. */
    public static final int NOT_MULTICAST = -3;
    /** The source is the unspecified or a multicast address: no one to answer. */
    public static final int BAD_SOURCE = -4;
    /** RELEASE: the address stays the guest's anyway. */
    public static final int RELEASE_IGNORED = -5;
    /** DECLINE: there is no other address to offer. */
    public static final int DECLINE_IGNORED = -6;
    /** Any other type that a server does not answer (ADVERTISE, REPLY, relay messages, unknown types). */
    public static final int UNSUPPORTED_TYPE = -7;
    /** An option header or value runs past the end of the datagram, or of the IA holding it. */
    public static final int BAD_OPTION = -8;
    /** An IA_NA shorter than 12 bytes or an IA_TA shorter than 4. */
    public static final int BAD_IA = -9;
    /** No Client Identifier option. */
    public static final int NO_CLIENT_ID = -10;
    /** A Client Identifier longer than 128 bytes. */
    public static final int BAD_CLIENT_ID = -11;
    /** A Server Identifier that is not 14 bytes long (so not ours). */
    public static final int BAD_SERVER_ID = -12;
    /** SOLICIT or CONFIRM with a Server Identifier, which they must not carry. */
    public static final int UNEXPECTED_SERVER_ID = -13;
    /** REQUEST, RENEW or REBIND without a Server Identifier. */
    public static final int NO_SERVER_ID = -14;
    /** A Server Identifier that is not ours: the request is for another server. */
    public static final int WRONG_SERVER_ID = -15;
    /** INFORMATION-REQUEST carrying an IA_NA or IA_TA. */
    public static final int IA_IN_INFORMATION_REQUEST = -16;
    /** An IA Address option whose length is not 24 (searched in REQUEST, RENEW and CONFIRM only). */
    public static final int BAD_IA_ADDRESS = -17;
    /** The output room is smaller than the reply. */
    public static final int NO_ROOM = -18;
    /** A Client FQDN option without its flags byte, where the reply carries ours. */
    public static final int BAD_CLIENT_FQDN = -19;

    private static final String[] REASONS = {
        null, "truncated", "guest-unknown", "not-multicast", "bad-source", "release", "decline",
        "unsupported-type", "bad-option", "bad-ia", "no-client-id", "bad-client-id", "bad-server-id",
        "unexpected-server-id", "no-server-id", "wrong-server-id", "ia-in-information-request", "bad-ia-address",
        "no-room", "bad-client-fqdn",
    };

    private final long ourMac;
    private final long guestHi, guestLo;
    private final long ourLlHi, ourLlLo;
    /** Server Identifier option (18 bytes), then the IA_NA option holding the IA Address (44 bytes, IAID 1). */
    private final byte[] head;
    /** DNS Recursive Name Server, Domain Search List and Client FQDN options, each only if there is one. */
    private final byte[] tail;
    /** Where the flags byte of the Client FQDN option is in {@link #tail}, or -1 if there is no such option. */
    private final int fqdnFlags;

    /**
     * Precomputes everything that does not depend on the request.
     *
     * @param ourMac   penne's MAC (low 48 bits); the server DUID is a DUID-LLT (type 1, hardware type 1) with it
     * @param duidTime the DUID-LLT time, seconds since 2000-01-01T00:00:00Z (unsigned), taken once at start
     * @param guestHi  the address to hand out, high half; (0, 0) if not known, and nothing is answered
     * @param guestLo  the address to hand out, low half
     * @param ourLlHi  penne's link-local address (fe80::/10), the source of replies, high half
     * @param ourLlLo  penne's link-local address, low half
     * @param dns      resolver addresses for option 23, as {hi0, lo0, hi1, lo1, ...}; may be empty
     * @param search   DNS search domains for option 24; a trailing dot is allowed; names that cannot be
     *                 encoded (root only, an empty label or one over 63 bytes, over 255 bytes encoded) or
     *                 that do not fit in the reply are left out; may be empty
     * @param fqdn     the guest's fully qualified name for option 39 (pasta's --fqdn), null = none: see
     *                 {@link DnsName#fqdn}; left out if it does not fit after the resolvers and search list
     * @throws IllegalArgumentException if the MAC has more than 48 bits, the guest's address is multicast,
     *                                  penne's address is not link-local, {@code dns} has an odd length, an
     *                                  unspecified address or more servers than fit, either list is or
     *                                  holds {@code null}, or the FQDN is refused
     */
    public Dhcp6Responder(long ourMac, int duidTime, long guestHi, long guestLo, long ourLlHi, long ourLlLo,
                          long[] dns, List<String> search, String fqdn) {
        if ((ourMac >>> 48) != 0)
            throw new IllegalArgumentException("MAC longer than 48 bits: " + Long.toHexString(ourMac));
        if (isMulticast(guestHi))
            throw new IllegalArgumentException("multicast guest address");
        if ((ourLlHi >>> 54) != (0xfe80L >>> 6))
            throw new IllegalArgumentException("not a link-local address (fe80::/10): "
                + Long.toHexString(ourLlHi) + ":" + Long.toHexString(ourLlLo));
        if (dns == null || search == null)
            throw new IllegalArgumentException("null resolver or search list");
        if ((dns.length & 1) != 0)
            throw new IllegalArgumentException("resolver addresses come in {high, low} pairs: " + dns.length);
        byte[] fqdnWire = fqdn == null ? null : DnsName.fqdn(fqdn);
        if (fqdn != null && fqdnWire == null)
            throw new IllegalArgumentException("FQDN '" + fqdn + "' is not a domain name of visible ASCII");
        this.ourMac = ourMac;
        this.guestHi = guestHi;
        this.guestLo = guestLo;
        this.ourLlHi = ourLlHi;
        this.ourLlLo = ourLlLo;

        ByteBuffer h = ByteBuffer.allocate(4 + SERVER_ID_LENGTH + 4 + IA_NA_FIELDS + 4 + IA_ADDRESS_LENGTH);
        h.putShort((short) OPT_SERVER_ID).putShort((short) SERVER_ID_LENGTH);
        h.putShort((short) 1); // DUID-LLT
        h.putShort((short) 1); // hardware type: Ethernet
        h.putInt(duidTime);
        h.putShort((short) (ourMac >>> 32)).putInt((int) ourMac);
        h.putShort((short) OPT_IA_NA).putShort((short) (IA_NA_FIELDS + 4 + IA_ADDRESS_LENGTH));
        h.putInt(1).putInt(-1).putInt(-1); // IAID (replaced by the client's), T1 and T2 infinite
        h.putShort((short) OPT_IA_ADDRESS).putShort((short) IA_ADDRESS_LENGTH);
        h.putLong(guestHi).putLong(guestLo);
        h.putInt(-1).putInt(-1); // preferred and valid lifetimes infinite
        head = h.array();

        int budget = MAX_REPLY_LENGTH - FIXED_MAX;
        ByteArrayOutputStream t = new ByteArrayOutputStream();
        if (dns.length > 0) {
            int len = dns.length * 8;
            if (4 + len > budget)
                throw new IllegalArgumentException((dns.length / 2) + " resolvers do not fit in a DHCPv6 reply");
            ByteBuffer d = ByteBuffer.allocate(4 + len);
            d.putShort((short) OPT_DNS_SERVERS).putShort((short) len);
            for (int i = 0; i < dns.length; i += 2) {
                if ((dns[i] | dns[i + 1]) == 0)
                    throw new IllegalArgumentException("unspecified resolver address");
                d.putLong(dns[i]).putLong(dns[i + 1]);
            }
            t.writeBytes(d.array());
            budget -= d.capacity();
        }
        ByteArrayOutputStream names = new ByteArrayOutputStream();
        for (String name : search) {
            if (name == null)
                throw new IllegalArgumentException("null search domain");
            byte[] encoded = DnsName.encode(name);
            if (encoded != null && 4 + names.size() + encoded.length <= budget)
                names.writeBytes(encoded);
        }
        if (names.size() > 0) {
            t.write(OPT_DOMAIN_LIST >>> 8);
            t.write(OPT_DOMAIN_LIST);
            t.write(names.size() >>> 8);
            t.write(names.size());
            t.writeBytes(names.toByteArray());
            budget -= 4 + names.size();
        }
        int flagsAt = -1;
        if (fqdnWire != null && 4 + 1 + fqdnWire.length <= budget) {
            t.write(OPT_CLIENT_FQDN >>> 8);
            t.write(OPT_CLIENT_FQDN);
            t.write((1 + fqdnWire.length) >>> 8); // 256 for the longest name
            t.write(1 + fqdnWire.length);
            flagsAt = t.size();
            t.write(0); // O, when the client asks for S, is set per reply
            t.writeBytes(fqdnWire);
        }
        fqdnFlags = flagsAt;
        tail = t.toByteArray();
    }

    /** Number of reason codes: codes run from -1 to {@code -(reasons() - 1)}. */
    public static int reasons() {
        return REASONS.length;
    }

    /** Counter-friendly name of a negative reason code, e.g. {@code "wrong-server-id"}. */
    public static String reason(int code) {
        return REASONS[-code];
    }

    /**
     * Writes the reply to one UDP datagram from the guest to port 547, if it
     * gets one. The frame parser has validated the Ethernet and IPv6 headers
     * and that the UDP length field is {@code udpLen}; addresses are read
     * from the IPv6 header at {@code ip6Off}.
     *
     * @param in       buffer holding the request (absolute indexing, big-endian)
     * @param frameOff offset of its Ethernet header
     * @param ip6Off   offset of its IPv6 header
     * @param udpOff   offset of the UDP header (after any extension headers)
     * @param udpLen   UDP length, header included
     * @param out      buffer to write the reply to (big-endian)
     * @param outOff   where the reply goes
     * @param room     bytes available at {@code outOff} ({@link #MAX_REPLY_LENGTH} always suffices)
     * @return the reply frame length, or a negative reason code
     */
    public int reply(ByteBuffer in, int frameOff, int ip6Off, int udpOff, int udpLen, ByteBuffer out, int outOff,
                     int room) {
        // written so that no sum can overflow, whatever the offsets
        if (frameOff < 0 || ip6Off < 0 || udpOff < 0 || ip6Off - 14 < frameOff || udpOff - 40 < ip6Off
            || udpLen < 8 + MESSAGE_HEADER || udpOff > in.limit() - udpLen)
            return TRUNCATED;
        if ((guestHi | guestLo) == 0)
            return GUEST_UNKNOWN;
        if (!isMulticast(in.getLong(ip6Off + 24)))
            return NOT_MULTICAST;
        long srcHi = in.getLong(ip6Off + 8);
        long srcLo = in.getLong(ip6Off + 16);
        if ((srcHi | srcLo) == 0 || isMulticast(srcHi))
            return BAD_SOURCE;
        int msg = udpOff + 8;
        int end = udpOff + udpLen;
        int type = in.get(msg) & 0xff;
        if (type != SOLICIT && type != REQUEST && type != CONFIRM && type != RENEW && type != REBIND
            && type != INFORMATION_REQUEST)
            return type == RELEASE ? RELEASE_IGNORED : type == DECLINE ? DECLINE_IGNORED : UNSUPPORTED_TYPE;

        // one walk over the options: the first client id, server id and IA_NA, and whether an IA_TA is there
        int clientId = 0, serverId = 0, iaNa = 0, clientFqdn = 0;
        boolean iaTa = false;
        for (int p = msg + MESSAGE_HEADER; p < end; ) {
            if (p > end - 4)
                return BAD_OPTION;
            int code = in.getShort(p) & 0xffff;
            int len = in.getShort(p + 2) & 0xffff;
            if (len > end - 4 - p)
                return BAD_OPTION;
            if (code == OPT_CLIENT_ID) {
                if (clientId == 0)
                    clientId = p;
            } else if (code == OPT_SERVER_ID) {
                if (serverId == 0)
                    serverId = p;
            } else if (code == OPT_IA_NA) {
                if (len < IA_NA_FIELDS)
                    return BAD_IA;
                if (iaNa == 0)
                    iaNa = p;
            } else if (code == OPT_IA_TA) {
                if (len < IA_TA_FIELDS)
                    return BAD_IA;
                iaTa = true;
            } else if (code == OPT_CLIENT_FQDN) {
                if (clientFqdn == 0)
                    clientFqdn = p;
            }
            p += 4 + len;
        }
        if (clientId == 0)
            return NO_CLIENT_ID;
        int clientIdLen = in.getShort(clientId + 2) & 0xffff;
        if (clientIdLen > MAX_CLIENT_ID)
            return BAD_CLIENT_ID;
        if (serverId != 0 && (in.getShort(serverId + 2) & 0xffff) != SERVER_ID_LENGTH)
            return BAD_SERVER_ID;

        int replyType = REPLY;
        boolean checkOnLink = false;
        switch (type) {
            case SOLICIT -> {
                if (serverId != 0)
                    return UNEXPECTED_SERVER_ID;
                replyType = ADVERTISE;
            }
            case REQUEST, RENEW, REBIND -> {
                if (serverId == 0)
                    return NO_SERVER_ID;
                if (!ours(in, serverId))
                    return WRONG_SERVER_ID;
                checkOnLink = type != REBIND;
            }
            case CONFIRM -> {
                if (serverId != 0)
                    return UNEXPECTED_SERVER_ID;
                checkOnLink = true;
            }
            default -> { // INFORMATION-REQUEST
                if (serverId != 0 && !ours(in, serverId))
                    return WRONG_SERVER_ID;
                if (iaNa != 0 || iaTa)
                    return IA_IN_INFORMATION_REQUEST;
            }
        }
        int offLink = 0;
        if (checkOnLink) {
            offLink = offLinkIa(in, msg + MESSAGE_HEADER, end);
            if (offLink < 0)
                return offLink;
        }
        boolean override = false; // the client asked us to update DNS, which penne never does
        if (offLink == 0 && fqdnFlags >= 0 && clientFqdn != 0) {
            if ((in.getShort(clientFqdn + 2) & 0xffff) < 1)
                return BAD_CLIENT_FQDN;
            override = (in.get(clientFqdn + 4) & FQDN_S) != 0;
        }

        int xid = in.getInt(msg) & 0xffffff;
        long ethSrc = ArpResponder.mac(in, frameOff + 6);
        int iaCode = OPT_IA_NA, iaFields = IA_NA_FIELDS, iaid = 1, t1 = 0, t2 = 0;
        int clientIdAt; // offset of the client id in the message
        int msgLen;
        if (offLink != 0) {
            iaCode = in.getShort(offLink) & 0xffff;
            iaid = in.getInt(offLink + 4);
            if (iaCode == OPT_IA_NA) {
                t1 = in.getInt(offLink + 8);
                t2 = in.getInt(offLink + 12);
            } else {
                iaFields = IA_TA_FIELDS;
            }
            clientIdAt = MESSAGE_HEADER + 4 + SERVER_ID_LENGTH + 4 + iaFields + NOT_ON_LINK_STATUS.length;
            msgLen = clientIdAt + 4 + clientIdLen;
        } else {
            if (iaNa != 0)
                iaid = in.getInt(iaNa + 4);
            clientIdAt = MESSAGE_HEADER + head.length;
            msgLen = clientIdAt + 4 + clientIdLen + tail.length;
        }
        int length = HEADERS + msgLen;
        if (outOff < 0 || room < length || outOff > out.limit() - length)
            return NO_ROOM;

        int m = outOff + HEADERS;
        // the client id first: the last input read, and the bulk copy is safe if in and out overlap
        out.put(m + clientIdAt, in, clientId, 4 + clientIdLen);
        out.putInt(m, replyType << 24 | xid);
        if (offLink != 0) {
            out.put(m + MESSAGE_HEADER, head, 0, 4 + SERVER_ID_LENGTH);
            int ia = m + MESSAGE_HEADER + 4 + SERVER_ID_LENGTH;
            out.putShort(ia, (short) iaCode);
            out.putShort(ia + 2, (short) (iaFields + NOT_ON_LINK_STATUS.length));
            out.putInt(ia + 4, iaid);
            if (iaCode == OPT_IA_NA) {
                out.putInt(ia + 8, t1);
                out.putInt(ia + 12, t2);
            }
            out.put(ia + 4 + iaFields, NOT_ON_LINK_STATUS);
        } else {
            out.put(m + MESSAGE_HEADER, head);
            out.putInt(m + MESSAGE_HEADER + 4 + SERVER_ID_LENGTH + 4, iaid);
            out.put(m + clientIdAt + 4 + clientIdLen, tail);
            if (override)
                out.put(m + clientIdAt + 4 + clientIdLen + fqdnFlags, (byte) FQDN_O);
        }

        int udpLength = 8 + msgLen;
        int u = IpFrames.ethIp(out, outOff, ethSrc, ourMac, false, 17, ourLlHi, ourLlLo, srcHi, srcLo, udpLength);
        out.putShort(u, (short) SERVER_PORT);
        out.putShort(u + 2, (short) CLIENT_PORT);
        out.putShort(u + 4, (short) udpLength);
        out.putShort(u + 6, (short) 0);
        out.putShort(u + 6, (short) Dhcp4Responder.udpChecksum(out, u - IpFrames.IPV6_HLEN, false, u, udpLength));
        return length;
    }

    /** Whether the 14-byte server identifier at {@code opt} (option header included) is ours. */
    private boolean ours(ByteBuffer in, int opt) {
        for (int i = 4; i < 4 + SERVER_ID_LENGTH; i++)
            if (in.get(opt + i) != head[i])
                return false;
        return true;
    }

    /**
     * The first IA (IA_NAs first, then IA_TAs, as passt searches them) with
     * an IA Address that is not the guest's: its offset, 0 if none, or a
     * negative reason. The options from {@code opts} to {@code end} were
     * already walked, so they are known to lie within the datagram.
     */
    private int offLinkIa(ByteBuffer in, int opts, int end) {
        for (int want = OPT_IA_NA; want <= OPT_IA_TA; want++) {
            for (int p = opts; p < end; ) {
                int code = in.getShort(p) & 0xffff;
                int len = in.getShort(p + 2) & 0xffff;
                if (code == want) {
                    int fields = code == OPT_IA_NA ? IA_NA_FIELDS : IA_TA_FIELDS;
                    int r = offLinkAddress(in, p + 4 + fields, p + 4 + len);
                    if (r < 0)
                        return r;
                    if (r > 0)
                        return p;
                }
                p += 4 + len;
            }
        }
        return 0;
    }

    /** 1 if an IA Address between {@code q} and {@code end} is not the guest's, 0 if none, or a negative reason. */
    private int offLinkAddress(ByteBuffer in, int q, int end) {
        while (q < end) {
            if (q > end - 4)
                return BAD_OPTION;
            int code = in.getShort(q) & 0xffff;
            int len = in.getShort(q + 2) & 0xffff;
            if (len > end - 4 - q)
                return BAD_OPTION;
            if (code == OPT_IA_ADDRESS) {
                if (len != IA_ADDRESS_LENGTH)
                    return BAD_IA_ADDRESS;
                if (in.getLong(q + 4) != guestHi || in.getLong(q + 12) != guestLo)
                    return 1;
            }
            q += 4 + len;
        }
        return 0;
    }

    static boolean isMulticast(long hi) {
        return (hi >>> 56) == 0xff;
    }

    private static byte[] statusNotOnLink() {
        byte[] text = NOT_ON_LINK_MESSAGE.getBytes(StandardCharsets.US_ASCII);
        ByteBuffer b = ByteBuffer.allocate(4 + 2 + text.length);
        b.putShort((short) OPT_STATUS_CODE).putShort((short) (2 + text.length));
        b.putShort((short) STATUS_NOT_ON_LINK).put(text);
        return b.array();
    }
}
