package io.penne.linux;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * An rtnetlink client: reads and changes links, addresses and routes of one
 * network namespace over one {@code NETLINK_ROUTE} socket. This is how
 * penne's namespace mode brings the tap device up, sets its MTU and MAC, and
 * copies the host's addresses and routes onto it (pasta's {@code netlink.c}).
 *
 * <p>Theory of operation. {@link #open()} creates an {@code AF_NETLINK}
 * socket ({@code SOCK_RAW|SOCK_CLOEXEC}, blocking, with a receive timeout of
 * {@link #TIMEOUT_SECONDS}) and binds it with port id 0, letting the kernel
 * choose one. Each operation builds one request in a preallocated send
 * buffer: the 16-byte {@code nlmsghdr}, the family header ({@code ifinfomsg},
 * {@code ifaddrmsg} or {@code rtmsg}) and type-length-value attributes, each
 * padded to 4 bytes. The request always carries {@code NLM_F_REQUEST|NLM_F_ACK}
 * and a fresh sequence number; the kernel handles it synchronously inside
 * {@code send()} and queues its answer on the socket. The receive loop then
 * reads datagrams into a preallocated receive buffer and walks the messages
 * in them, skipping any whose sequence number is not the request's (left over
 * from an earlier request that timed out), until the request is finished:
 * <ul>
 * <li>a plain request ends with an {@code NLMSG_ERROR} message, whose error
 * field is 0 for success (an ACK) or a negative errno, returned as is; a
 * {@code GET} for one object sends the object first, then the ACK;</li>
 * <li>a dump ({@code NLM_F_DUMP}) sends its objects in as many datagrams as it
 * takes, ends with {@code NLMSG_DONE}, and is not ACKed; a dump that fails
 * at once answers with an {@code NLMSG_ERROR} instead. A dump the kernel
 * marks {@code NLM_F_DUMP_INTR} (the table changed under it) is repeated, up
 * to three times.</li>
 * </ul>
 * Before each read the loop peeks at the next datagram's real size
 * ({@code MSG_PEEK|MSG_TRUNC}) and enlarges the receive buffer if it would not
 * fit, so no reply is ever truncated, however large (a link with many VFs).
 * The socket asks for strict header checking ({@code NETLINK_GET_STRICT_CHK})
 * and for error strings ({@code NETLINK_EXT_ACK}, {@code NETLINK_CAP_ACK});
 * the string of the last failure is kept for log messages, see
 * {@link #lastErrorMessage()}. Those options are best effort: older kernels
 * work without them.
 *
 * <p>Namespace binding: a netlink socket acts on the network namespace that
 * was current for the thread that created it, for its whole life, whichever
 * thread uses it later. So penne creates one Netlink on its namespace thread
 * (after {@code unshare}/{@code setns}) to configure the guest side, and one
 * on any thread of the host namespace to read the host's configuration.
 * Changing anything needs {@code CAP_NET_ADMIN} over that namespace.
 *
 * <p>Results: operations return 0 (or the value they name) on success and a
 * negative errno on failure, the convention of {@link Sys}: {@code -EEXIST}
 * for an address or route that is already there, {@code -ENODEV} for an
 * unknown interface, {@code -EPERM} without the capability, {@code -ETIMEDOUT}
 * if the kernel did not answer in time, {@code -EINVAL} for arguments that are
 * refused before anything is sent. They do not throw. Only {@link #open()}
 * throws ({@link SysException}), being the setup step. Addresses are byte
 * arrays in network order: 4 bytes for IPv4, 16 for IPv6.
 *
 * <p>Allocation: building requests and parsing replies to single objects
 * allocates nothing; the dumps ({@link #addresses}, {@link #routes},
 * {@link #links}, {@link #defaultRouteIfindex}) allocate their result
 * objects. All of it is setup-path work.
 *
 * <p>Thread rules: not thread-safe. A Netlink has one send buffer, one
 * receive buffer and one sequence counter; one thread at a time may use it
 * (handing it from the creating thread to another is fine).
 */
public final class Netlink implements AutoCloseable {
    // -- socket --
    public static final int AF_NETLINK = 16;
    public static final int NETLINK_ROUTE = 0;
    static final int SOL_NETLINK = 270;
    static final int NETLINK_CAP_ACK = 10;
    static final int NETLINK_EXT_ACK = 11;
    static final int NETLINK_GET_STRICT_CHK = 12;
    static final int SO_RCVTIMEO = 20;
    /** How long a request may wait for the kernel's answer before failing with -ETIMEDOUT. */
    public static final int TIMEOUT_SECONDS = 10;

    // -- nlmsghdr --
    static final int NLMSG_HDRLEN = 16;
    static final int NLMSG_NOOP = 1;
    static final int NLMSG_ERROR = 2;
    static final int NLMSG_DONE = 3;
    static final int NLMSG_OVERRUN = 4;
    static final int NLM_F_REQUEST = 0x1;
    static final int NLM_F_MULTI = 0x2;
    static final int NLM_F_ACK = 0x4;
    static final int NLM_F_DUMP_INTR = 0x10;
    static final int NLM_F_DUMP = 0x300;
    static final int NLM_F_REPLACE = 0x100;
    static final int NLM_F_EXCL = 0x200;
    static final int NLM_F_CREATE = 0x400;
    /** In an NLMSG_ERROR: the echoed request was cut to its header. */
    static final int NLM_F_CAPPED = 0x100;
    /** In an NLMSG_ERROR: extended-ack attributes follow the echoed request. */
    static final int NLM_F_ACK_TLVS = 0x200;
    static final int NLMSGERR_ATTR_MSG = 1;

    // -- rtnetlink message types --
    static final int RTM_NEWLINK = 16;
    static final int RTM_DELLINK = 17;
    static final int RTM_GETLINK = 18;
    static final int RTM_NEWADDR = 20;
    static final int RTM_DELADDR = 21;
    static final int RTM_GETADDR = 22;
    static final int RTM_NEWROUTE = 24;
    static final int RTM_DELROUTE = 25;
    static final int RTM_GETROUTE = 26;

    // -- family headers: sizes --
    static final int IFINFOMSG_SIZE = 16;
    static final int IFADDRMSG_SIZE = 8;
    static final int RTMSG_SIZE = 12;

    // -- link attributes and flags --
    static final int IFLA_ADDRESS = 1;
    static final int IFLA_IFNAME = 3;
    static final int IFLA_MTU = 4;
    static final int IFLA_LINKINFO = 18;
    static final int IFLA_INFO_KIND = 1;
    static final int NLA_F_NESTED = 0x8000;
    /** Longest interface name (IFNAMSIZ - 1). */
    public static final int IFNAME_MAX = 15;
    /** Longest link kind accepted here (module names are shorter still). */
    static final int KIND_MAX = 63;
    public static final int IFF_UP = 0x1;
    public static final int IFF_BROADCAST = 0x2;
    public static final int IFF_LOOPBACK = 0x8;
    public static final int IFF_POINTOPOINT = 0x10;
    public static final int IFF_RUNNING = 0x40;
    public static final int IFF_NOARP = 0x80;
    public static final int IFF_MULTICAST = 0x1000;
    public static final int IFF_LOWER_UP = 0x10000;

    // -- address attributes and flags --
    static final int IFA_ADDRESS = 1;
    static final int IFA_LOCAL = 2;
    static final int IFA_FLAGS = 8;
    public static final int IFA_F_SECONDARY = 0x01;
    /** No duplicate address detection: an IPv6 address is usable at once instead of after ~1 s of DAD. */
    public static final int IFA_F_NODAD = 0x02;
    public static final int IFA_F_OPTIMISTIC = 0x04;
    public static final int IFA_F_DADFAILED = 0x08;
    public static final int IFA_F_DEPRECATED = 0x20;
    public static final int IFA_F_TENTATIVE = 0x40;
    public static final int IFA_F_PERMANENT = 0x80;
    public static final int IFA_F_NOPREFIXROUTE = 0x200;

    // -- route attributes and values --
    static final int RTA_DST = 1;
    static final int RTA_OIF = 4;
    static final int RTA_GATEWAY = 5;
    static final int RTA_PRIORITY = 6;
    static final int RTA_MULTIPATH = 9;
    static final int RTA_TABLE = 15;
    static final int RTA_VIA = 18;
    public static final int RT_TABLE_MAIN = 254;
    public static final int RT_TABLE_LOCAL = 255;
    public static final int RTPROT_KERNEL = 2;
    public static final int RTPROT_BOOT = 3;
    public static final int RTPROT_STATIC = 4;
    public static final int RT_SCOPE_UNIVERSE = 0;
    public static final int RT_SCOPE_LINK = 253;
    public static final int RT_SCOPE_HOST = 254;
    public static final int RTN_UNICAST = 1;
    public static final int RTN_LOCAL = 2;

    /** Send buffer: requests are a few hundred bytes at most. */
    static final int SEND_SIZE = 8 * 1024;
    /** Initial receive buffer: the kernel's recommended minimum covers dump datagrams (32 KiB) with room to spare. */
    static final int RECEIVE_SIZE = 64 * 1024;
    private static final int DUMP_ATTEMPTS = 3;
    private static final int SCRATCH_SIZE = 64;

    /** Called for each reply message of the current request that is not NLMSG_ERROR/DONE/NOOP. */
    @FunctionalInterface
    interface Visitor {
        void message(NativeBuffer b, int off, int len, int type);
    }

    private final NativeBuffer send = NativeBuffer.allocate(SEND_SIZE);
    private final NativeBuffer scratch = NativeBuffer.allocate(SCRATCH_SIZE);
    private NativeBuffer receive;
    private int fd;
    /** Length of the request being built in {@link #send}. */
    private int length;
    private int seq;
    private String lastError;

    // Results of a single-link GET, written by linkVisitor (kept allocation-free).
    private final Visitor linkVisitor = this::readLink;
    private int linkIndex;
    private int linkFlags;
    private int linkMtu;
    private int linkMacLength;
    private final byte[] linkMac = new byte[32];

    private Netlink(int fd, int receiveSize) {
        this.fd = fd;
        this.receive = NativeBuffer.allocate(receiveSize);
        // Start somewhere other than 1 so that two Netlinks are unlikely to
        // share numbers; only the match within one socket matters.
        this.seq = (int) (System.nanoTime() & 0x3fff_ffff);
    }

    /**
     * Opens a NETLINK_ROUTE socket in the calling thread's network namespace
     * (setup path: allocates its buffers, throws {@link SysException} if the
     * socket cannot be created or bound).
     */
    public static Netlink open() {
        return open(RECEIVE_SIZE);
    }

    /** {@link #open()} with an initial receive buffer of {@code receiveSize} bytes (tests: growth on demand). */
    static Netlink open(int receiveSize) {
        return open(NETLINK_ROUTE, receiveSize);
    }

    /** A socket of another netlink family ({@link SockDiag}: {@code NETLINK_SOCK_DIAG}), same transport. */
    static Netlink open(int protocol, int receiveSize) {
        int fd = Sys.check(Sys.socket(AF_NETLINK, Sockets.SOCK_RAW | Sockets.SOCK_CLOEXEC, protocol),
                "socket(AF_NETLINK)");
        Netlink nl;
        try {
            nl = new Netlink(fd, receiveSize);
            NativeBuffer s = nl.scratch;
            // sockaddr_nl: family, pad, port id 0 (kernel picks), no groups.
            s.zero(0, 12).putShort(0, AF_NETLINK);
            Sys.check(Sys.bind(fd, s.address(0, 12), 12), "bind(AF_NETLINK)");
            // struct timeval: a reply that never comes must not hang setup forever.
            s.putLong(0, TIMEOUT_SECONDS).putLong(8, 0);
            Sys.check(Sys.setsockopt(fd, Sockets.SOL_SOCKET, SO_RCVTIMEO, s.address(0, 16), 16), "SO_RCVTIMEO");
            // Best effort (Linux 4.12 / 4.20): error strings, short error
            // messages, and header validation that rejects malformed requests.
            Sys.setsockoptInt(fd, SOL_NETLINK, NETLINK_EXT_ACK, 1, s);
            Sys.setsockoptInt(fd, SOL_NETLINK, NETLINK_CAP_ACK, 1, s);
            Sys.setsockoptInt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, 1, s);
            s.keepAlive();
        } catch (RuntimeException e) {
            Sys.close(fd);
            throw e;
        }
        return nl;
    }

    /** Closes the socket; later operations fail with {@code -EBADF}. Idempotent. */
    @Override
    public void close() {
        if (fd >= 0) {
            Sys.close(fd);
            fd = -1;
        }
    }

    /**
     * The kernel's extended-ack text for the last failed operation (e.g.
     * "Nexthop has invalid gateway"), or {@code null} if it sent none or the
     * last operation succeeded.
     */
    public String lastErrorMessage() {
        return lastError;
    }

    // ---------------------------------------------------------------- links

    /** The index of the interface called {@code name}, or {@code -ENODEV} (or another {@code -errno}). */
    public int linkIndex(String name) {
        begin(RTM_GETLINK, 0, IFINFOMSG_SIZE);
        if (!attrName(IFLA_IFNAME, name, IFNAME_MAX))
            return -Errno.EINVAL;
        int r = linkQuery();
        return r < 0 ? r : linkIndex;
    }

    /** The {@code IFF_*} flags of interface {@code ifindex}, or {@code -errno}. */
    public int linkFlags(int ifindex) {
        int r = linkGet(ifindex);
        return r < 0 ? r : linkFlags;
    }

    /** The MTU of interface {@code ifindex}, or {@code -errno}. */
    public int linkMtu(int ifindex) {
        int r = linkGet(ifindex);
        return r < 0 ? r : linkMtu;
    }

    /**
     * Copies the link-layer address of interface {@code ifindex} into
     * {@code mac} (which must have room for it: 6 bytes on Ethernet) and
     * returns its length, 0 if the link has none, or {@code -errno}
     * ({@code -EMSGSIZE} if {@code mac} is too short).
     */
    public int linkMac(int ifindex, byte[] mac) {
        int r = linkGet(ifindex);
        if (r < 0)
            return r;
        if (linkMacLength > mac.length)
            return -Errno.EMSGSIZE;
        System.arraycopy(linkMac, 0, mac, 0, linkMacLength);
        return linkMacLength;
    }

    /** The link-layer address of interface {@code ifindex} as a new array, or {@code null} on failure (setup path). */
    public byte[] linkMac(int ifindex) {
        int r = linkGet(ifindex);
        return r < 0 ? null : Arrays.copyOf(linkMac, linkMacLength);
    }

    /** Changes the flags selected by {@code change} to their values in {@code flags} ({@code IFF_*}). */
    public int linkSetFlags(int ifindex, int flags, int change) {
        int h = begin(RTM_NEWLINK, 0, IFINFOMSG_SIZE);
        send.putInt(h + 4, ifindex).putInt(h + 8, flags).putInt(h + 12, change);
        return transact(null);
    }

    /** Brings interface {@code ifindex} up. */
    public int linkUp(int ifindex) {
        return linkSetFlags(ifindex, IFF_UP, IFF_UP);
    }

    /** Takes interface {@code ifindex} down. */
    public int linkDown(int ifindex) {
        return linkSetFlags(ifindex, 0, IFF_UP);
    }

    /** Sets the MTU of interface {@code ifindex} ({@code -EINVAL} outside the device's range). */
    public int linkSetMtu(int ifindex, int mtu) {
        int h = begin(RTM_NEWLINK, 0, IFINFOMSG_SIZE);
        send.putInt(h + 4, ifindex);
        attrInt(IFLA_MTU, mtu);
        return transact(null);
    }

    /**
     * Sets the link-layer address of interface {@code ifindex}; the kernel
     * refuses a length other than the device's ({@code -EINVAL}) and a
     * multicast or zero Ethernet address ({@code -EADDRNOTAVAIL}).
     */
    public int linkSetMac(int ifindex, byte[] mac) {
        if (mac.length == 0 || mac.length > linkMac.length)
            return -Errno.EINVAL;
        int h = begin(RTM_NEWLINK, 0, IFINFOMSG_SIZE);
        send.putInt(h + 4, ifindex);
        attr(IFLA_ADDRESS, mac, mac.length);
        return transact(null);
    }

    /**
     * Creates a link of {@code kind} (an rtnetlink link kind that needs no
     * further attributes: "dummy", "bridge", "ifb" ...) called {@code name},
     * down; returns its index, or {@code -EEXIST} if the name is taken,
     * {@code -EOPNOTSUPP} if the kind is unknown (module missing), or another
     * {@code -errno}.
     */
    public int linkAdd(String name, String kind) {
        begin(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, IFINFOMSG_SIZE);
        if (!attrName(IFLA_IFNAME, name, IFNAME_MAX))
            return -Errno.EINVAL;
        int nest = nestBegin(IFLA_LINKINFO);
        if (!attrName(IFLA_INFO_KIND, kind, KIND_MAX))
            return -Errno.EINVAL;
        nestEnd(nest);
        int r = transact(null);
        return r < 0 ? r : linkIndex(name);
    }

    /** {@link #linkAdd linkAdd(name, "dummy")}: a device that drops what it is sent, for tests. */
    public int linkAddDummy(String name) {
        return linkAdd(name, "dummy");
    }

    /** Deletes interface {@code ifindex} (not possible for physical devices or loopback). */
    public int linkDelete(int ifindex) {
        int h = begin(RTM_DELLINK, 0, IFINFOMSG_SIZE);
        send.putInt(h + 4, ifindex);
        return transact(null);
    }

    /** All interfaces of the namespace (dump; {@code null} on failure, see {@link #lastDumpError()}). */
    public List<NetlinkLink> links() {
        List<NetlinkLink> out = new ArrayList<>();
        begin(RTM_GETLINK, NLM_F_DUMP, IFINFOMSG_SIZE);
        return finishDump(out, (b, off, len, type) -> {
            if (type != RTM_NEWLINK)
                return;
            int h = off + NLMSG_HDRLEN, end = off + len;
            int a = findAttr(b, h + IFINFOMSG_SIZE, end, IFLA_IFNAME);
            int m = findAttr(b, h + IFINFOMSG_SIZE, end, IFLA_MTU);
            int mac = findAttr(b, h + IFINFOMSG_SIZE, end, IFLA_ADDRESS);
            out.add(new NetlinkLink(b.getInt(h + 4), a < 0 ? "" : attrString(b, a), b.getInt(h + 8),
                    m < 0 ? 0 : b.getInt(m + 4), mac < 0 ? new byte[0] : attrBytes(b, mac)));
        });
    }

    // ------------------------------------------------------------ addresses

    /**
     * Adds {@code addr}/{@code prefixLen} to interface {@code ifindex}, scope
     * universe; IPv6 addresses get {@link #IFA_F_NODAD}, as in pasta, so they
     * are usable at once. {@code -EEXIST} if the address is already there.
     */
    public int addrAdd(int ifindex, byte[] addr, int prefixLen) {
        return addrAdd(ifindex, addr, prefixLen, addr.length == 16 ? IFA_F_NODAD : 0);
    }

    /** As {@link #addrAdd(int, byte[], int)} with explicit {@code IFA_F_*} flags. */
    public int addrAdd(int ifindex, byte[] addr, int prefixLen, int flags) {
        return address(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, ifindex, addr, prefixLen, flags);
    }

    /** Removes {@code addr}/{@code prefixLen} from interface {@code ifindex} ({@code -EADDRNOTAVAIL} if absent). */
    public int addrDelete(int ifindex, byte[] addr, int prefixLen) {
        return address(RTM_DELADDR, 0, ifindex, addr, prefixLen, 0);
    }

    private int address(int type, int nlFlags, int ifindex, byte[] addr, int prefixLen, int flags) {
        int family = family(addr);
        if (family < 0 || prefixLen < 0 || prefixLen > addr.length * 8)
            return -Errno.EINVAL;
        int h = begin(type, nlFlags, IFADDRMSG_SIZE);
        send.putByte(h, family).putByte(h + 1, prefixLen).putByte(h + 2, flags & 0xff)
                .putByte(h + 3, RT_SCOPE_UNIVERSE).putInt(h + 4, ifindex);
        // IPv4 names the local address twice (IFA_ADDRESS would be the peer
        // on a point-to-point link); IPv6 takes IFA_ADDRESS alone.
        if (family == Sockets.AF_INET)
            attr(IFA_LOCAL, addr, 4);
        attr(IFA_ADDRESS, addr, addr.length);
        // The header has 8 flag bits; newer flags only travel as IFA_FLAGS.
        if ((flags & ~0xff) != 0)
            attrInt(IFA_FLAGS, flags);
        return transact(null);
    }

    /**
     * All addresses of {@code family} ({@link Sockets#AF_INET},
     * {@link Sockets#AF_INET6}, or 0 for both) on all interfaces (dump;
     * {@code null} on failure, see {@link #lastDumpError()}).
     */
    public List<NetlinkAddress> addresses(int family) {
        List<NetlinkAddress> out = new ArrayList<>();
        int h = begin(RTM_GETADDR, NLM_F_DUMP, IFADDRMSG_SIZE);
        send.putByte(h, family);
        return finishDump(out, (b, off, len, type) -> {
            int p = off + NLMSG_HDRLEN, end = off + len;
            int fam = b.getByte(p) & 0xff;
            if (type != RTM_NEWADDR || !wanted(fam, family))
                return;
            int a = findAttr(b, p + IFADDRMSG_SIZE, end, IFA_LOCAL);
            if (a < 0)
                a = findAttr(b, p + IFADDRMSG_SIZE, end, IFA_ADDRESS);
            if (a < 0 || attrPayload(b, a) != addressLength(fam))
                return;
            int f = findAttr(b, p + IFADDRMSG_SIZE, end, IFA_FLAGS);
            int flags = f >= 0 && attrPayload(b, f) >= 4 ? b.getInt(f + 4) : b.getByte(p + 2) & 0xff;
            out.add(new NetlinkAddress(b.getInt(p + 4), fam, attrBytes(b, a), b.getByte(p + 1) & 0xff,
                    b.getByte(p + 3) & 0xff, flags));
        });
    }

    // --------------------------------------------------------------- routes

    /**
     * Adds a default route via {@code gateway} (4 or 16 bytes) on interface
     * {@code ifindex} to the main table, with the kernel's default metric.
     * {@code -EEXIST} if there is one already; {@code -ENETUNREACH} if the
     * gateway is not on a subnet of an up interface.
     */
    public int routeAddDefault(int ifindex, byte[] gateway) {
        if (gateway == null)
            return -Errno.EINVAL;
        return routeAdd(ifindex, new byte[gateway.length], 0, gateway, 0);
    }

    /**
     * Adds {@code dst}/{@code dstLen} on interface {@code ifindex} to the main
     * table (protocol boot, as pasta's), via {@code gateway} or on-link if it
     * is {@code null}, with metric {@code priority} (0: the kernel's default,
     * 0 for IPv4, 1024 for IPv6). On-link IPv4 routes get scope link, the rest
     * scope universe, as {@code ip route add} does.
     */
    public int routeAdd(int ifindex, byte[] dst, int dstLen, byte[] gateway, int priority) {
        return route(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, ifindex, dst, dstLen, gateway, priority);
    }

    /** Deletes the main-table route that {@link #routeAdd} with the same arguments would add ({@code -ESRCH} if absent). */
    public int routeDelete(int ifindex, byte[] dst, int dstLen, byte[] gateway, int priority) {
        return route(RTM_DELROUTE, 0, ifindex, dst, dstLen, gateway, priority);
    }

    private int route(int type, int nlFlags, int ifindex, byte[] dst, int dstLen, byte[] gateway, int priority) {
        int family = family(dst);
        if (family < 0 || dstLen < 0 || dstLen > dst.length * 8 || gateway != null && gateway.length != dst.length)
            return -Errno.EINVAL;
        int h = begin(type, nlFlags, RTMSG_SIZE);
        int scope = gateway == null && family == Sockets.AF_INET ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE;
        send.putByte(h, family).putByte(h + 1, dstLen).putByte(h + 4, RT_TABLE_MAIN)
                .putByte(h + 5, RTPROT_BOOT).putByte(h + 6, scope).putByte(h + 7, RTN_UNICAST);
        if (dstLen > 0)
            attr(RTA_DST, dst, dst.length);
        if (gateway != null)
            attr(RTA_GATEWAY, gateway, gateway.length);
        attrInt(RTA_OIF, ifindex);
        if (priority != 0)
            attrInt(RTA_PRIORITY, priority);
        return transact(null);
    }

    /** The main-table routes of {@code family} (or 0 for IPv4 and IPv6); {@link #routes(int, int)}. */
    public List<NetlinkRoute> routes(int family) {
        return routes(family, RT_TABLE_MAIN);
    }

    /**
     * The routes of {@code family} ({@link Sockets#AF_INET},
     * {@link Sockets#AF_INET6}, or 0 for both) in routing table {@code table}
     * ({@link #RT_TABLE_MAIN}, {@link #RT_TABLE_LOCAL}, ...; 0 for all tables),
     * cached routes excluded (dump; {@code null} on failure, see
     * {@link #lastDumpError()}).
     */
    public List<NetlinkRoute> routes(int family, int table) {
        List<NetlinkRoute> out = new ArrayList<>();
        // The table is filtered here rather than in the request: with strict
        // checking, a dump of both families filtered by a table that one of
        // them has not created yet (a fresh namespace) fails with ENOENT.
        int h = begin(RTM_GETROUTE, NLM_F_DUMP, RTMSG_SIZE);
        send.putByte(h, family);
        return finishDump(out, (b, off, len, type) -> {
            int p = off + NLMSG_HDRLEN, end = off + len;
            int fam = b.getByte(p) & 0xff;
            if (type != RTM_NEWROUTE || !wanted(fam, family))
                return;
            int first = p + RTMSG_SIZE;
            int t = findAttr(b, first, end, RTA_TABLE);
            int tab = t >= 0 ? b.getInt(t + 4) : b.getByte(p + 4) & 0xff;
            if (table != 0 && tab != table)
                return;
            int alen = addressLength(fam);
            int d = findAttr(b, first, end, RTA_DST);
            byte[] dst = d >= 0 && attrPayload(b, d) == alen ? attrBytes(b, d) : new byte[alen];
            int o = findAttr(b, first, end, RTA_OIF);
            int oif = o >= 0 ? b.getInt(o + 4) : 0;
            int pr = findAttr(b, first, end, RTA_PRIORITY);
            byte[] gw = gateway(b, first, end);
            int mp = findAttr(b, first, end, RTA_MULTIPATH);
            if (mp >= 0 && attrPayload(b, mp) >= 8) {
                // struct rtnexthop {u16 len; u8 flags; u8 hops; int ifindex}, then
                // its own attributes: report the first next hop.
                int nh = mp + 4, nhEnd = nh + Math.min(b.getShort(nh) & 0xffff, attrPayload(b, mp));
                if (oif == 0)
                    oif = b.getInt(nh + 4);
                if (gw == null)
                    gw = gateway(b, nh + 8, nhEnd);
            }
            out.add(new NetlinkRoute(fam, dst, b.getByte(p + 1) & 0xff, gw, oif, pr >= 0 ? b.getInt(pr + 4) : 0,
                    b.getByte(p + 5) & 0xff, b.getByte(p + 6) & 0xff, b.getByte(p + 7) & 0xff, tab));
        });
    }

    /**
     * The interface of the unicast default route of {@code family} (or 0 for
     * either) in the main table with the lowest metric (the first one on a
     * tie), {@code -ENOENT} if there is none, or the dump's {@code -errno}.
     */
    public int defaultRouteIfindex(int family) {
        List<NetlinkRoute> routes = routes(family);
        if (routes == null)
            return lastDumpError;
        int best = -Errno.ENOENT;
        long bestMetric = Long.MAX_VALUE;
        for (NetlinkRoute r : routes) {
            long metric = r.priority() & 0xffff_ffffL;
            if (r.isDefault() && r.type() == RTN_UNICAST && r.oif() > 0 && metric < bestMetric) {
                best = r.oif();
                bestMetric = metric;
            }
        }
        return best;
    }

    /** The {@code -errno} of the last dump that returned {@code null}, 0 after one that succeeded. */
    public int lastDumpError() {
        return lastDumpError;
    }

    private int lastDumpError;

    /** RTA_GATEWAY or RTA_VIA (struct rtvia: u16 family, then the address) among the attributes in [from, end). */
    private static byte[] gateway(NativeBuffer b, int from, int end) {
        int g = findAttr(b, from, end, RTA_GATEWAY);
        if (g >= 0)
            return attrBytes(b, g);
        int v = findAttr(b, from, end, RTA_VIA);
        if (v >= 0 && attrPayload(b, v) > 2) {
            byte[] a = new byte[attrPayload(b, v) - 2];
            b.get(v + 6, a, 0, a.length);
            return a;
        }
        return null;
    }

    // ------------------------------------------------------ request building

    /** NLMSG_ALIGN / RTA_ALIGN: everything in a netlink message starts on a 4-byte boundary. */
    static int align(int n) {
        return (n + 3) & ~3;
    }

    /**
     * Starts a request: the nlmsghdr and a zeroed family header of
     * {@code headerSize} bytes, whose offset is returned. Length and sequence
     * number are filled in by {@link #transact}.
     */
    private int begin(int type, int flags, int headerSize) {
        length = NLMSG_HDRLEN + align(headerSize);
        send.zero(0, length);
        send.putShort(4, type).putShort(6, NLM_F_REQUEST | NLM_F_ACK | flags);
        return NLMSG_HDRLEN;
    }

    /** Appends attribute {@code type} with {@code len} bytes of {@code data}, zero-padded. */
    private void attr(int type, byte[] data, int len) {
        int a = attrHeader(type, len);
        send.put(a + 4, data, 0, len);
    }

    private void attrInt(int type, int value) {
        int a = attrHeader(type, 4);
        send.putInt(a + 4, value);
    }

    /**
     * Appends a NUL-terminated name (interface name, link kind); false, with
     * nothing appended, if it is empty, longer than {@code max}, or not
     * printable ASCII. Written char by char so no byte array is needed.
     */
    private boolean attrName(int type, String name, int max) {
        int n = name == null ? 0 : name.length();
        if (n == 0 || n > max)
            return false;
        for (int i = 0; i < n; i++) {
            char c = name.charAt(i);
            if (c == 0 || c > 0x7e)
                return false;
        }
        int a = attrHeader(type, n + 1);
        for (int i = 0; i < n; i++)
            send.putByte(a + 4 + i, name.charAt(i));
        return true;
    }

    /** Opens a nested attribute; close it with {@link #nestEnd} once its members are appended. */
    private int nestBegin(int type) {
        return attrHeader(type | NLA_F_NESTED, 0);
    }

    private void nestEnd(int start) {
        send.putShort(start, length - start);
    }

    /** Writes an rtattr header for {@code payload} bytes at the end of the request and reserves its padded room. */
    private int attrHeader(int type, int payload) {
        int a = length, total = align(4 + payload);
        send.zero(a, total);
        send.putShort(a, 4 + payload).putShort(a + 2, type);
        length = a + total;
        return a;
    }

    // ------------------------------------------------------ request exchange

    /** Single-link GET (by index in the header or by name in IFLA_IFNAME), parsed by {@link #readLink}. */
    private int linkGet(int ifindex) {
        int h = begin(RTM_GETLINK, 0, IFINFOMSG_SIZE);
        send.putInt(h + 4, ifindex);
        return linkQuery();
    }

    private int linkQuery() {
        linkIndex = -Errno.ENODEV;
        linkMacLength = 0;
        int r = transact(linkVisitor);
        return r < 0 ? r : linkIndex < 0 ? linkIndex : 0;
    }

    private void readLink(NativeBuffer b, int off, int len, int type) {
        if (type != RTM_NEWLINK)
            return;
        int h = off + NLMSG_HDRLEN, end = off + len;
        linkIndex = b.getInt(h + 4);
        linkFlags = b.getInt(h + 8);
        int m = findAttr(b, h + IFINFOMSG_SIZE, end, IFLA_MTU);
        linkMtu = m >= 0 ? b.getInt(m + 4) : 0;
        int a = findAttr(b, h + IFINFOMSG_SIZE, end, IFLA_ADDRESS);
        linkMacLength = a >= 0 ? Math.min(attrPayload(b, a), linkMac.length) : 0;
        if (linkMacLength > 0)
            b.get(a + 4, linkMac, 0, linkMacLength);
    }

    /**
     * For {@link SockDiag}: starts a dump request of {@code type} whose family
     * header of {@code headerSize} bytes (zeroed) the caller fills in the
     * returned buffer at {@link #NLMSG_HDRLEN}, then sends with {@link #dump}.
     */
    NativeBuffer beginDump(int type, int headerSize) {
        begin(type, NLM_F_DUMP, headerSize);
        return send;
    }

    /** Sends the dump begun with {@link #beginDump}, repeated if interrupted: 0 or {@code -errno}. */
    int dump(Visitor v) {
        int r = 0;
        for (int attempt = 0; attempt < DUMP_ATTEMPTS && (attempt == 0 || r == -Errno.EINTR); attempt++)
            r = transact(v);
        return Math.min(r, 0);
    }

    /** Sends the dump request built so far, repeating it if interrupted; the list, or null with {@link #lastDumpError} set. */
    private <T> List<T> finishDump(List<T> out, Visitor v) {
        int r = 0;
        for (int attempt = 0; attempt < DUMP_ATTEMPTS; attempt++) {
            out.clear();
            r = transact(v);
            if (r != -Errno.EINTR)
                break;
        }
        lastDumpError = Math.min(r, 0);
        return r < 0 ? null : out;
    }

    /**
     * Sends the request in {@link #send} with a new sequence number and reads
     * replies until it is finished (see the class comment): 0 or a positive
     * result, or {@code -errno}. {@code -EINTR} means a dump was inconsistent.
     */
    private int transact(Visitor v) {
        lastError = null;
        if (++seq == 0)
            seq = 1;
        send.putInt(0, length).putInt(8, seq).putInt(12, 0);
        long n = Sys.send(fd, send.address(0, length), length, 0);
        send.keepAlive();
        if (n < 0)
            return (int) n;
        if (n != length)
            return -Errno.EMSGSIZE;
        boolean interrupted = false;
        for (;;) {
            int got = receive();
            if (got < 0)
                return got;
            NativeBuffer b = receive;
            for (int off = 0; off + NLMSG_HDRLEN <= got; ) {
                int len = b.getInt(off);
                if (len < NLMSG_HDRLEN || len > got - off)
                    return -Errno.EIO; // a malformed datagram: never sent by a sane kernel
                int type = b.getShort(off + 4) & 0xffff;
                int flags = b.getShort(off + 6) & 0xffff;
                if (b.getInt(off + 8) == seq) {
                    if (type == NLMSG_ERROR) {
                        int err = len >= NLMSG_HDRLEN + 4 ? b.getInt(off + NLMSG_HDRLEN) : -Errno.EIO;
                        if (err != 0)
                            lastError = extAckMessage(b, off, len, flags);
                        return err;
                    }
                    if (type == NLMSG_DONE) {
                        int err = len >= NLMSG_HDRLEN + 4 ? b.getInt(off + NLMSG_HDRLEN) : 0;
                        return err < 0 ? err : interrupted ? -Errno.EINTR : 0;
                    }
                    if ((flags & NLM_F_DUMP_INTR) != 0)
                        interrupted = true;
                    if (type != NLMSG_NOOP && type != NLMSG_OVERRUN && v != null)
                        v.message(b, off, len, type);
                }
                off += align(len);
            }
        }
    }

    /**
     * Reads the next datagram into {@link #receive}, first enlarging it if the
     * datagram would not fit; its length, or {@code -errno}
     * ({@code -ETIMEDOUT} after {@link #TIMEOUT_SECONDS} without one).
     */
    private int receive() {
        for (;;) {
            long size = Sys.recv(fd, receive.address(), 0, Sockets.MSG_PEEK | Sockets.MSG_TRUNC);
            if (size >= 0 && size > receive.size())
                receive = NativeBuffer.allocate(Integer.highestOneBit((int) size - 1) << 1);
            long n = size < 0 ? size : Sys.recv(fd, receive.address(), receive.size(), 0);
            receive.keepAlive();
            if (n == -Errno.EINTR)
                continue;
            if (n == -Errno.EAGAIN)
                return -Errno.ETIMEDOUT;
            return (int) n;
        }
    }

    /** The NLMSGERR_ATTR_MSG string of an NLMSG_ERROR at {@code off}, or null. */
    private static String extAckMessage(NativeBuffer b, int off, int len, int flags) {
        if ((flags & NLM_F_ACK_TLVS) == 0 || len < NLMSG_HDRLEN + 4 + NLMSG_HDRLEN)
            return null;
        // After the error code comes the request's header, or all of the
        // request unless NLM_F_CAPPED; then the attributes.
        int echoed = off + NLMSG_HDRLEN + 4;
        int tlv = echoed + ((flags & NLM_F_CAPPED) != 0 ? NLMSG_HDRLEN : align(b.getInt(echoed)));
        int a = findAttr(b, tlv, off + len, NLMSGERR_ATTR_MSG);
        return a < 0 ? null : attrString(b, a);
    }

    // ------------------------------------------------------ reply parsing

    /**
     * The offset of the first attribute of {@code type} among those in
     * {@code [from, end)}, or -1. The nested and byte-order flag bits of the
     * type are ignored; a truncated attribute ends the search.
     */
    static int findAttr(NativeBuffer b, int from, int end, int type) {
        for (int a = from; a + 4 <= end; ) {
            int len = b.getShort(a) & 0xffff;
            if (len < 4 || len > end - a)
                return -1;
            if ((b.getShort(a + 2) & 0x3fff) == type)
                return a;
            a += align(len);
        }
        return -1;
    }

    /** Payload length of the attribute at {@code a}. */
    static int attrPayload(NativeBuffer b, int a) {
        return (b.getShort(a) & 0xffff) - 4;
    }

    static byte[] attrBytes(NativeBuffer b, int a) {
        byte[] out = new byte[attrPayload(b, a)];
        b.get(a + 4, out, 0, out.length);
        return out;
    }

    /** The attribute's payload as a string, up to its NUL. */
    static String attrString(NativeBuffer b, int a) {
        int n = attrPayload(b, a), len = 0;
        while (len < n && b.getByte(a + 4 + len) != 0)
            len++;
        byte[] s = new byte[len];
        b.get(a + 4, s, 0, len);
        return new String(s, StandardCharsets.UTF_8);
    }

    // ------------------------------------------------------ addresses

    /** AF_INET or AF_INET6 by length, -1 for anything else (including null). */
    private static int family(byte[] addr) {
        return addr == null ? -1 : addr.length == 4 ? Sockets.AF_INET : addr.length == 16 ? Sockets.AF_INET6 : -1;
    }

    private static int addressLength(int family) {
        return family == Sockets.AF_INET ? 4 : 16;
    }

    /** Reply families kept by a dump for {@code requested} (0: IPv4 and IPv6, not e.g. the multicast-routing ones). */
    private static boolean wanted(int family, int requested) {
        return (family == Sockets.AF_INET || family == Sockets.AF_INET6) && (requested == 0 || family == requested);
    }

    /** Dotted-quad or RFC 5952-ish IPv6 text for log messages and toString (setup path). */
    static String formatAddress(byte[] a) {
        if (a == null)
            return "null";
        if (a.length != 4 && a.length != 16)
            return formatMac(a);
        try {
            return InetAddress.getByAddress(a).getHostAddress();
        } catch (UnknownHostException e) {
            throw new AssertionError(e); // only for other lengths, excluded above
        }
    }

    /** aa:bb:cc:dd:ee:ff. */
    static String formatMac(byte[] mac) {
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < mac.length; i++)
            s.append(i == 0 ? "" : ":").append(String.format("%02x", mac[i] & 0xff));
        return s.toString();
    }
}
