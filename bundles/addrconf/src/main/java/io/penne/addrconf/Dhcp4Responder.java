package io.penne.addrconf;

import io.penne.api.IpFrames;
import io.penne.api.flow.InetAddr;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Answers the guest's DHCP requests (RFC 2131, options from RFC 2132): one
 * lease, the guest's configured address, for ever.
 *
 * <p><b>Theory of operation.</b> There is exactly one client behind the tap
 * and exactly one address to give it, so the server keeps no lease table and
 * no per-client state: every request is answered from the configuration
 * alone, which the constructor turns once into option bytes. What passt does
 * ({@code dhcp.c}, {@code dhcp()} and {@code fill()}), and penne with it:
 * <ol>
 * <li>A BOOTREQUEST (op 1) of at least the fixed BOOTP part and the magic
 *     cookie (240 bytes) is parsed; its options are walked up to the end
 *     option, remembering the message type (53), the parameter request list
 *     (55) and rapid commit (80).</li>
 * <li>DISCOVER gets an OFFER, or, when it carries rapid commit (RFC 4039),
 *     an ACK with an empty option 80. REQUEST gets an ACK, and so does a
 *     request without option 53 (plain BOOTP). DECLINE, RELEASE, INFORM and
 *     anything else get nothing: with one address there is nothing to
 *     decline or release, and passt does not answer INFORM either.</li>
 * <li>The reply copies htype, hlen, xid, flags, ciaddr, giaddr, chaddr and
 *     the magic cookie; hops, secs, siaddr, sname and file are zero; yiaddr
 *     is the guest's address, whatever the client asked for (option 50 is
 *     not looked at, so there is never a NAK).</li>
 * <li>Options: message type (53), subnet mask (1), router (3), lease time
 *     (51, infinite), server identifier (54, the gateway), MTU (26), DNS
 *     servers (6), domain search (119, RFC 3397) and, when the gateway is
 *     outside the guest's subnet, a classless static route (121, RFC 3442):
 *     first a host route to the gateway on the link, then the default route
 *     through it, since a client that takes option 121 ignores option 3.
 *     With pasta's {@code -H}, the host name (12), its characters as they
 *     are; with {@code --fqdn}, the Client FQDN option (81, RFC 4702): flags
 *     0x04 (E: the name in DNS wire format), both RCODEs 255 (what RFC 4702
 *     has a server send in these deprecated fields), then the name. Both go
 *     to every client, asked for or not, as passt sends them: they are how
 *     the guest learns the name it is meant to have. A name too long for
 *     option 81's 255 bytes (over 252 encoded) leaves the option out.</li>
 * <li>Order: option 53 first (some DOS-era clients look for it there) unless
 *     the client's option 55 lists it; then what option 55 asks for, in its
 *     order; then the rest in ascending code order; then the end option, and
 *     zero padding up to the 60 bytes RFC 951 asks for. The options area is
 *     at most 308 bytes, which keeps the message within the 576 bytes every
 *     client must accept; an option that does not fit whole is left out.</li>
 * <li>The frame goes from the gateway address, UDP port 67, to port 68 of the
 *     broadcast address if the request has the broadcast flag set, else of
 *     the guest's address; IPv4 TTL 255, DF set, identification 0.</li>
 * </ol>
 * Where penne differs: the magic cookie is checked (passt copies whatever
 * the client sent); option 53 must be one byte long (passt answers an empty
 * one as BOOTP and reads only the first byte of a longer one); an option
 * listed twice in option 55 is sent once (passt sends it twice); option 53
 * goes first also when the client sends no option 55 at all (passt then
 * sends it in code order); domain search names are compressed only by whole
 * labels, so a pointer always lands on a label boundary (passt compares
 * strings and can point into a longer name that merely starts alike); and
 * search names that would take option 119 past 255 bytes are dropped, from
 * the first that does not fit on. Host name and FQDN must be visible ASCII
 * (see {@link DnsName#fqdn}; passt takes any bytes), and an FQDN with a
 * trailing dot ends at the root label (passt encodes the dot as one more,
 * empty, label: a second zero byte).
 *
 * <p>Like {@link ArpResponder}, {@link #reply} is allocation-free, never
 * throws on bad input, reads every input field it needs before the first
 * write, and writes nothing when it declines. It keeps no scratch state
 * either: an instance is immutable after construction, so it may be shared
 * between threads.
 */
public final class Dhcp4Responder {
    /**
     * Largest reply frame: Ethernet 14 + IPv4 20 + UDP 8 + BOOTP fixed part 236 + magic 4 + options (up to 308
     * incl. end).
     */
    public static final int MAX_REPLY_LENGTH = 14 + 20 + 8 + 236 + 4 + 308;
    /** BOOTP fixed part and magic cookie: where the options start in the UDP payload. */
    static final int OPTIONS_OFFSET = 240;
    /** Largest options area: 576 (RFC 2131 minimum message size) - 20 (IPv4) - 8 (UDP) - 240. */
    static final int OPTIONS_MAX = 308;
    /** Smallest options area (RFC 951's 64-byte vendor field minus the 4-byte cookie). */
    static final int OPTIONS_MIN = 60;
    static final int MAGIC = 0x63825363; // 99.130.83.99
    /** Most resolver addresses one option 6 can carry (a length byte of at most 255). */
    public static final int MAX_DNS = 63;
    /** Longest host name: passt's (RFC 1035's 253 characters of a name written out). */
    public static final int MAX_HOSTNAME = 253;
    /** Option 81's fields before the name: flags, RCODE1, RCODE2. */
    static final int FQDN_FIELDS = 3;
    /** Flags of option 81: E, the name is in DNS wire format (RFC 4702 section 2.1). */
    static final int FQDN_FLAG_E = 0x04;
    /** Most options this server knows (1, 3, 6, 12, 26, 51, 53, 54, 80, 81, 119, 121). */
    static final int MAX_OPTIONS = 12;

    static final int DISCOVER = 1;
    static final int OFFER = 2;
    static final int REQUEST = 3;
    static final int ACK = 5;

    static final int OPT_PAD = 0;
    static final int OPT_MASK = 1;
    static final int OPT_ROUTER = 3;
    static final int OPT_DNS = 6;
    static final int OPT_HOSTNAME = 12;
    static final int OPT_MTU = 26;
    static final int OPT_LEASE = 51;
    static final int OPT_TYPE = 53;
    static final int OPT_SERVER = 54;
    static final int OPT_PARAMETERS = 55;
    static final int OPT_RAPID_COMMIT = 80;
    static final int OPT_FQDN = 81;
    static final int OPT_SEARCH = 119;
    static final int OPT_ROUTES = 121;
    static final int OPT_END = 255;

    /** Offsets out of the buffer, a UDP length under 8, or a payload shorter than BOOTP's 240 bytes. */
    public static final int TRUNCATED = -1;
    /** BOOTP op is not 1 (BOOTREQUEST). */
    public static final int NOT_REQUEST = -2;
    /** The magic cookie is not 99.130.83.99. */
    public static final int BAD_MAGIC = -3;
    /** An option runs past the datagram, or option 53 is not exactly one byte long. */
    public static final int BAD_OPTION = -4;
    /** A DHCP message type other than DISCOVER or REQUEST (DECLINE, RELEASE, INFORM, unknown values). */
    public static final int UNANSWERED_TYPE = -5;
    /** The guest's address or the gateway is not known: DHCP is off, as in passt without an IPv4 gateway. */
    public static final int UNCONFIGURED = -6;
    /** The output room cannot hold the reply. */
    public static final int NO_ROOM = -7;

    private static final String[] REASONS = {
        null, "truncated", "not-request", "bad-magic", "bad-option", "unanswered-type", "unconfigured", "no-room",
    };

    private final int guest;
    private final int gateway;
    private final boolean configured;
    /**
     * The options this server can send, ascending by code, 53 and 80
     * included (their values depend on the request). At most {@link
     * #MAX_OPTIONS}, no more than 16, so a list of indices into it fits in a
     * long, four bits each.
     */
    private final int[] codes;
    /** Index of each option code in {@link #codes}, or -1. */
    private final byte[] index = new byte[256];
    /** Where each option's complete encoding (code, length, value) starts in {@link #encoded}. */
    private final int[] start;
    /** Encoded size of each option in {@link #codes} (code and length bytes included). */
    private final int[] size;
    private final byte[] encoded;

    /**
     * @param guest        the address to hand out (unsigned 32-bit in an int; 0 = unknown: nothing is answered)
     * @param prefixLength its prefix length (1..32), for the subnet mask option
     * @param gateway      the router option and the server identifier / reply source (passt's our_tap_addr
     *                     defaults to the gateway); 0 = none: nothing is answered, as passt disables DHCP
     *                     without an IPv4 gateway
     * @param mtu          interface MTU option 26, 0 = leave out
     * @param dns          resolver addresses for option 6, in order (may be empty: option left out)
     * @param search       DNS search domains for option 119 (RFC 3397 encoding, compressed by whole labels;
     *                     may be empty); names beyond what 255 bytes hold are dropped
     * @param hostname     the guest's host name for option 12 (pasta's -H), null = none: see {@link #hostName}
     * @param fqdn         the guest's fully qualified name for option 81 (pasta's --fqdn), null = none: see
     *                     {@link DnsName#fqdn}; left out if over 252 bytes encoded
     * @throws IllegalArgumentException if the prefix length is not 1..32, the MTU not 0..65535, a list is
     *                                  null, there are more than {@link #MAX_DNS} resolvers, a resolver is
     *                                  0.0.0.0, a search name is not a valid domain name, or the host name
     *                                  or FQDN is refused
     */
    public Dhcp4Responder(int guest, int prefixLength, int gateway, int mtu, int[] dns, List<String> search,
                          String hostname, String fqdn) {
        if (prefixLength < 1 || prefixLength > 32)
            throw new IllegalArgumentException("prefix length " + prefixLength + " not in 1..32");
        if (mtu < 0 || mtu > 0xffff)
            throw new IllegalArgumentException("MTU " + mtu + " not in 0..65535");
        if (dns == null || search == null)
            throw new IllegalArgumentException("null resolver or search list");
        if (dns.length > MAX_DNS)
            throw new IllegalArgumentException(dns.length + " resolvers, at most " + MAX_DNS + " fit");
        for (int a : dns)
            if (a == 0)
                throw new IllegalArgumentException("resolver 0.0.0.0");
        byte[] searchValue = searchList(search);
        byte[] host = hostname == null ? null : hostName(hostname);
        if (hostname != null && host == null)
            throw new IllegalArgumentException("host name '" + hostname + "' is not 1.." + MAX_HOSTNAME
                + " visible ASCII characters");
        byte[] fqdnWire = fqdn == null ? null : DnsName.fqdn(fqdn);
        if (fqdn != null && fqdnWire == null)
            throw new IllegalArgumentException("FQDN '" + fqdn + "' is not a domain name of visible ASCII");

        this.guest = guest;
        this.gateway = gateway;
        this.configured = guest != 0 && gateway != 0;
        int mask = -1 << (32 - prefixLength);
        boolean routes = (guest & mask) != (gateway & mask);

        ByteBuffer b = ByteBuffer.allocate(MAX_OPTIONS * (2 + 255));
        int[] c = new int[MAX_OPTIONS];
        int[] st = new int[MAX_OPTIONS];
        int n = 0;
        Arrays.fill(index, (byte) -1);
        for (int code = 1; code < OPT_END; code++) {
            int at = b.position();
            switch (code) {
                case OPT_MASK -> b.put((byte) code).put((byte) 4).putInt(mask);
                case OPT_ROUTER, OPT_SERVER -> b.put((byte) code).put((byte) 4).putInt(gateway);
                case OPT_LEASE -> b.put((byte) code).put((byte) 4).putInt(-1); // infinite
                case OPT_TYPE -> b.put((byte) code).put((byte) 1).put((byte) 0); // value written per reply
                case OPT_RAPID_COMMIT -> b.put((byte) code).put((byte) 0); // sent only in a rapid ACK
                case OPT_MTU -> {
                    if (mtu != 0)
                        b.put((byte) code).put((byte) 2).putShort((short) mtu);
                }
                case OPT_DNS -> {
                    if (dns.length > 0) {
                        b.put((byte) code).put((byte) (4 * dns.length));
                        for (int a : dns)
                            b.putInt(a);
                    }
                }
                case OPT_HOSTNAME -> {
                    if (host != null)
                        b.put((byte) code).put((byte) host.length).put(host);
                }
                case OPT_FQDN -> {
                    if (fqdnWire != null && FQDN_FIELDS + fqdnWire.length <= 255)
                        b.put((byte) code).put((byte) (FQDN_FIELDS + fqdnWire.length)).put((byte) FQDN_FLAG_E)
                            .put((byte) 0xff).put((byte) 0xff).put(fqdnWire); // RCODE1, RCODE2
                }
                case OPT_SEARCH -> {
                    if (searchValue.length > 0)
                        b.put((byte) code).put((byte) searchValue.length).put(searchValue);
                }
                case OPT_ROUTES -> {
                    if (routes) // gateway/32 on the link, then 0.0.0.0/0 through the gateway
                        b.put((byte) code).put((byte) 14).put((byte) 32).putInt(gateway).putInt(0).put((byte) 0)
                            .putInt(gateway);
                }
                default -> {
                }
            }
            if (b.position() > at) {
                index[code] = (byte) n;
                c[n] = code;
                st[n++] = at;
            }
        }
        codes = Arrays.copyOf(c, n);
        start = Arrays.copyOf(st, n);
        size = new int[n];
        for (int i = 0; i < n; i++)
            size[i] = (i + 1 < n ? start[i + 1] : b.position()) - start[i];
        encoded = Arrays.copyOf(b.array(), b.position());
    }

    /** Number of reason codes: codes run from -1 to {@code -(reasons() - 1)}. */
    public static int reasons() {
        return REASONS.length;
    }

    /** Counter-friendly name of a negative reason code, e.g. {@code "bad-magic"}. */
    public static String reason(int code) {
        return REASONS[-code];
    }

    /**
     * Writes the reply to one UDP datagram from the guest whose destination port is 67 (the caller only
     * passes those). Offsets are absolute in {@code in}; the frame parser has already validated Ethernet,
     * the IPv4 header (checksum, lengths) and that the UDP length field equals udpLen (>= 8).
     *
     * @param in       buffer holding the request (absolute indexing, big-endian)
     * @param frameOff offset of its Ethernet header
     * @param ip4Off   offset of its IPv4 header
     * @param udpOff   offset of its UDP header
     * @param udpLen   UDP length, header included
     * @param out      buffer to write the reply to (big-endian)
     * @param outOff   where the reply goes
     * @param room     bytes available at {@code outOff}; {@link #MAX_REPLY_LENGTH} is always enough
     * @param ourMac   penne's MAC, low 48 bits
     * @return the reply frame length, or a negative reason code
     */
    public int reply(ByteBuffer in, int frameOff, int ip4Off, int udpOff, int udpLen, ByteBuffer out, int outOff,
                     int room, long ourMac) {
        if (!configured)
            return UNCONFIGURED;
        // written so that no sum can overflow, whatever the offsets
        if (frameOff < 0 || ip4Off < 0 || udpOff < 0 || ip4Off - 14 < frameOff || udpOff - 20 < ip4Off
            || udpLen < 8 || udpOff > in.limit() - udpLen)
            return TRUNCATED;
        int m = udpOff + 8, end = udpOff + udpLen;
        if (end - m < OPTIONS_OFFSET)
            return TRUNCATED;
        if (in.get(m) != 1)
            return NOT_REQUEST;
        if (in.getInt(m + 236) != MAGIC)
            return BAD_MAGIC;

        int type = -1, list = 0, listLen = 0;
        boolean rapid = false;
        for (int p = m + OPTIONS_OFFSET; p < end; ) {
            int code = in.get(p) & 0xff;
            if (code == OPT_END)
                break;
            if (code == OPT_PAD) {
                p++;
                continue;
            }
            if (p > end - 2)
                return BAD_OPTION; // no room for the length byte
            int len = in.get(p + 1) & 0xff;
            if (len > end - p - 2)
                return BAD_OPTION;
            if (code == OPT_TYPE) {
                if (len != 1)
                    return BAD_OPTION;
                type = in.get(p + 2) & 0xff;
            } else if (code == OPT_PARAMETERS) {
                list = p + 2;
                listLen = len;
            } else if (code == OPT_RAPID_COMMIT) {
                rapid = true;
            }
            p += 2 + len;
        }
        int replyType;
        if (type == DISCOVER) {
            replyType = rapid ? ACK : OFFER;
        } else if (type == REQUEST || type == -1) {
            replyType = ACK;
            rapid = false;
        } else {
            return UNANSWERED_TYPE;
        }

        // the option order, as indices into codes, four bits each; placed marks those already decided
        long order = 0;
        int count = 0, used = 0, placed = 0;
        boolean typeListed = false;
        for (int i = 0; i < listLen; i++)
            if ((in.get(list + i) & 0xff) == OPT_TYPE)
                typeListed = true;
        if (!typeListed) {
            int k = index[OPT_TYPE];
            order = k;
            count = 1;
            used = size[k];
            placed = 1 << k;
        }
        for (int i = 0, n = listLen + codes.length; i < n; i++) {
            // first what the client's list names, then every option in code order
            int k = i < listLen ? index[in.get(list + i) & 0xff] : i - listLen;
            if (k < 0 || (placed & 1 << k) != 0 || (codes[k] == OPT_RAPID_COMMIT && !rapid))
                continue;
            placed |= 1 << k;
            if (used + size[k] > OPTIONS_MAX - 1) // keep a byte for the end option
                continue; // left out whole, as passt does
            order |= (long) k << (4 * count++);
            used += size[k];
        }
        int optLen = Math.max(used + 1, OPTIONS_MIN);
        int udpOutLen = 8 + OPTIONS_OFFSET + optLen;
        int frameLen = 14 + 20 + udpOutLen;
        if (outOff < 0 || room < frameLen || outOff > out.limit() - frameLen)
            return NO_ROOM;

        long ethSrc = ArpResponder.mac(in, frameOff + 6);
        short hw = in.getShort(m + 1); // htype and hlen
        int xid = in.getInt(m + 4);
        short flags = in.getShort(m + 10);
        int ciaddr = in.getInt(m + 12);
        int giaddr = in.getInt(m + 24);
        long chaddrHi = in.getLong(m + 28);
        long chaddrLo = in.getLong(m + 36);
        int dst = (flags & 0x8000) != 0 ? -1 : guest;

        // IPv4 with TTL 255, DF, identification 0 and its checksum, as every frame penne makes.
        int u = IpFrames.ethIp(out, outOff, ethSrc, ourMac, true, 17, InetAddr.V4_HI, InetAddr.v4Lo(gateway),
            InetAddr.V4_HI, InetAddr.v4Lo(dst), udpOutLen);
        out.putShort(u, (short) 67);
        out.putShort(u + 2, (short) 68);
        out.putShort(u + 4, (short) udpOutLen);
        out.putShort(u + 6, (short) 0);
        int r = u + 8;
        out.put(r, (byte) 2); // BOOTREPLY
        out.putShort(r + 1, hw);
        out.put(r + 3, (byte) 0); // hops
        out.putInt(r + 4, xid);
        out.putShort(r + 8, (short) 0); // secs
        out.putShort(r + 10, flags);
        out.putInt(r + 12, ciaddr);
        out.putInt(r + 16, guest); // yiaddr
        out.putInt(r + 20, 0); // siaddr
        out.putInt(r + 24, giaddr);
        out.putLong(r + 28, chaddrHi);
        out.putLong(r + 36, chaddrLo);
        for (int i = 44; i < 236; i += 8) // sname and file
            out.putLong(r + i, 0);
        out.putInt(r + 236, MAGIC);
        int o = r + OPTIONS_OFFSET;
        for (int i = 0; i < count; i++, order >>>= 4) {
            int k = (int) order & 0xf;
            for (int j = start[k], e = j + size[k]; j < e; j++)
                out.put(o++, encoded[j]);
            if (codes[k] == OPT_TYPE)
                out.put(o - 1, (byte) replyType);
        }
        out.put(o++, (byte) OPT_END);
        for (int e = r + OPTIONS_OFFSET + optLen; o < e; o++)
            out.put(o, (byte) 0);
        out.putShort(u + 6, (short) udpChecksum(out, u - IpFrames.IPV4_HLEN, true, u, udpOutLen));
        return frameLen;
    }

    /**
     * The host name as option 12 carries it, or null if it is empty, longer
     * than {@link #MAX_HOSTNAME} or not all visible ASCII: the client sets
     * it as its own host name, often through a script (dhclient's {@code
     * new_host_name}), where control bytes or spaces would do harm and
     * non-ASCII text has no encoding the client could know.
     */
    static byte[] hostName(String name) {
        if (name.isEmpty() || name.length() > MAX_HOSTNAME || !DnsName.visibleAscii(name))
            return null;
        return name.getBytes(StandardCharsets.US_ASCII);
    }

    /**
     * Encodes domain names for option 119 (RFC 3397): each name as RFC 1035
     * labels, a suffix that an earlier name already spelled out (whole labels,
     * compared exactly) replaced by a pointer to it, offsets counted from the
     * start of the option value. Names are taken in order until one would
     * take the value past 255 bytes.
     */
    static byte[] searchList(List<String> names) {
        byte[] value = new byte[255];
        int len = 0;
        Map<String, Integer> suffixes = new HashMap<>();
        for (String name : names) {
            String[] labels = labels(name);
            byte[] one = new byte[256];
            int n = 0, pointer = -1, first = labels.length;
            for (int i = 0; i < labels.length; i++) {
                Integer at = suffixes.get(suffix(labels, i));
                if (at != null) {
                    pointer = at;
                    first = i;
                    break;
                }
            }
            int[] labelAt = new int[first];
            for (int i = 0; i < first; i++) {
                byte[] l = labels[i].getBytes(StandardCharsets.US_ASCII);
                labelAt[i] = n;
                one[n++] = (byte) l.length;
                System.arraycopy(l, 0, one, n, l.length);
                n += l.length;
            }
            if (pointer >= 0) {
                one[n++] = (byte) 0xc0; // offsets below 255 need no high bits
                one[n++] = (byte) pointer;
            } else {
                one[n++] = 0;
            }
            if (n > value.length - len)
                break;
            for (int i = 0; i < first; i++)
                suffixes.putIfAbsent(suffix(labels, i), len + labelAt[i]);
            System.arraycopy(one, 0, value, len, n);
            len += n;
        }
        return Arrays.copyOf(value, len);
    }

    private static String suffix(String[] labels, int from) {
        return String.join(".", Arrays.asList(labels).subList(from, labels.length));
    }

    /** The labels of a domain name (one trailing dot allowed), or IllegalArgumentException. */
    private static String[] labels(String name) {
        if (name == null)
            throw new IllegalArgumentException("null search domain");
        String s = name.endsWith(".") ? name.substring(0, name.length() - 1) : name;
        if (s.isEmpty())
            throw new IllegalArgumentException("empty search domain '" + name + "'");
        String[] labels = s.split("\\.", -1);
        int encoded = 1;
        for (String l : labels) {
            if (l.isEmpty() || l.length() > 63)
                throw new IllegalArgumentException("search domain '" + name + "': label of " + l.length()
                    + " characters");
            if (!DnsName.visibleAscii(l))
                throw new IllegalArgumentException("search domain '" + name + "': not printable ASCII");
            encoded += 1 + l.length();
        }
        if (encoded > 255)
            throw new IllegalArgumentException("search domain '" + name + "' longer than 255 bytes encoded");
        return labels;
    }

    /**
     * The UDP checksum of the datagram at {@code u} under the IP header at
     * {@code ip}; a computed 0 goes out as 0xffff (0 means "no checksum"
     * over IPv4 and is invalid over IPv6). Shared with {@link Dhcp6Responder}.
     */
    static int udpChecksum(ByteBuffer out, int ip, boolean v4, int u, int udpLength) {
        int sum = IpFrames.fold(IpFrames.sum(out, u, udpLength, IpFrames.pseudo(out, ip, v4, 17, udpLength)));
        return sum == 0 ? 0xffff : sum;
    }
}
