package io.penne.linux;

/**
 * Minimal socket helpers: non-blocking TCP/UDP sockets, IPv4/IPv6 socket
 * addresses built in native memory, bind/connect/listen/accept and integer
 * socket options.
 *
 * <p>Theory of operation: every helper writes its {@code sockaddr_in} /
 * {@code sockaddr_in6} or option value into a caller-supplied
 * {@link NativeBuffer} at offset 0 and makes one {@link Sys} call, returning
 * its result or {@code -errno}; nothing allocates or throws. Sockets are
 * always created with {@code SOCK_NONBLOCK|SOCK_CLOEXEC}, so {@link #connect4}
 * and {@link #connect6} normally return {@code -EINPROGRESS} and completion is
 * an {@code EPOLLOUT} event followed by {@link #soError}.
 *
 * <p>Address forms (no dependency on the api bundle, but the same conventions
 * as its {@code InetAddr}): an IPv4 address is an {@code int} in host order
 * whose most significant byte is the first octet ({@code 127.0.0.1} is
 * {@code 0x7f000001}); an IPv6 address is either a 16-byte array in network
 * order or two longs, {@code hi} holding bytes 0-7 and {@code lo} bytes 8-15,
 * each most significant byte first. Ports are host-order ints 0-65535.
 *
 * <p>Thread rules: stateless; the scratch buffer must belong to the calling
 * thread and is overwritten (it needs {@link Sys#SOCKADDR_SCRATCH_SIZE} bytes
 * for {@link #accept} and {@link #localPort}, fewer for the rest).
 */
public final class Sockets {
    public static final int AF_UNSPEC = 0;
    public static final int AF_UNIX = 1;
    public static final int AF_INET = 2;
    public static final int AF_INET6 = 10;

    public static final int SOCK_STREAM = 1;
    public static final int SOCK_DGRAM = 2;
    public static final int SOCK_RAW = 3;
    public static final int SOCK_NONBLOCK = Sys.O_NONBLOCK;
    public static final int SOCK_CLOEXEC = Sys.O_CLOEXEC;

    public static final int IPPROTO_IP = 0;
    public static final int IPPROTO_ICMP = 1;
    public static final int IPPROTO_TCP = 6;
    public static final int IPPROTO_UDP = 17;
    public static final int IPPROTO_IPV6 = 41;
    public static final int IPPROTO_ICMPV6 = 58;

    public static final int SOL_SOCKET = 1;
    public static final int SOL_TCP = IPPROTO_TCP;
    public static final int SO_REUSEADDR = 2;
    public static final int SO_ERROR = 4;
    public static final int SO_SNDBUF = 7;
    public static final int SO_RCVBUF = 8;
    public static final int SO_KEEPALIVE = 9;
    public static final int SO_LINGER = 13;
    public static final int SO_REUSEPORT = 15;
    public static final int SO_RCVLOWAT = 18;
    public static final int SO_SNDLOWAT = 19;
    public static final int SO_BINDTODEVICE = 25;
    public static final int SO_PEEK_OFF = 42;
    /** As SO_SNDBUF/SO_RCVBUF, past the sysctl limits, with CAP_NET_ADMIN. */
    public static final int SO_SNDBUFFORCE = 32;
    public static final int SO_RCVBUFFORCE = 33;
    /** {@code SO_MEMINFO}: nine u32 {@code SK_MEMINFO_*} values (sndbuf at index 3, wmem_queued at 5). */
    public static final int SO_MEMINFO = 55;
    /** Index of {@code SK_MEMINFO_SNDBUF} in the {@link #SO_MEMINFO} array. */
    public static final int SK_MEMINFO_SNDBUF = 3;
    /** Index of {@code SK_MEMINFO_WMEM_QUEUED} in the {@link #SO_MEMINFO} array. */
    public static final int SK_MEMINFO_WMEM_QUEUED = 5;
    /** ioctl: bytes in a TCP socket's send queue, unsent plus unacknowledged ({@code TIOCOUTQ}). */
    public static final long SIOCOUTQ = 0x5411L;

    public static final int TCP_NODELAY = 1;
    public static final int TCP_MAXSEG = 2;
    public static final int TCP_CORK = 3;
    public static final int TCP_INFO = 11;
    public static final int TCP_QUICKACK = 12;
    public static final int TCP_USER_TIMEOUT = 18;
    public static final int IPV6_V6ONLY = 26;
    /** Bind to an address not (yet) configured on the host (SOL_IP / SOL_IPV6). */
    public static final int IP_FREEBIND = 15;
    public static final int IPV6_FREEBIND = 78;

    public static final int SHUT_RD = 0;
    public static final int SHUT_WR = 1;
    public static final int SHUT_RDWR = 2;

    public static final int MSG_PEEK = 2;
    public static final int MSG_TRUNC = 0x20;
    public static final int MSG_DONTWAIT = 0x40;
    public static final int MSG_WAITALL = 0x100;
    public static final int MSG_NOSIGNAL = 0x4000;
    public static final int MSG_MORE = 0x8000;
    public static final int MSG_ERRQUEUE = 0x2000;
    public static final int MSG_CTRUNC = 0x8;

    public static final int SOL_IP = 0;
    public static final int SOL_IPV6 = 41;
    /** Queue ICMP errors on the socket's error queue ({@link #MSG_ERRQUEUE}) rather than only failing the next call. */
    public static final int IP_RECVERR = 11;
    public static final int IPV6_RECVERR = 25;
    /** Control message types of the error queue (cmsg_type of an IP_RECVERR message). */
    public static final int IP_RECVERR_CMSG = 11;
    public static final int IPV6_RECVERR_CMSG = 25;
    /** {@code sock_extended_err.ee_origin} values. */
    public static final int SO_EE_ORIGIN_ICMP = 2;
    public static final int SO_EE_ORIGIN_ICMP6 = 3;

    public static final int SOCKADDR_IN_SIZE = 16;
    public static final int SOCKADDR_IN6_SIZE = 28;

    /** 127.0.0.1 in the int form. */
    public static final int LOOPBACK4 = 0x7f00_0001;
    /** ::1 as (hi, lo). */
    public static final long LOOPBACK6_HI = 0L;
    public static final long LOOPBACK6_LO = 1L;

    private Sockets() {
    }

    /** The int form of {@code a.b.c.d}. */
    public static int ipv4(int a, int b, int c, int d) {
        return (a & 0xff) << 24 | (b & 0xff) << 16 | (c & 0xff) << 8 | (d & 0xff);
    }

    /** A non-blocking, close-on-exec socket of {@code family} and {@code type}; fd or {@code -errno}. */
    public static int socket(int family, int type, int protocol) {
        return Sys.socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
    }

    /** Non-blocking TCP socket ({@link #AF_INET} or {@link #AF_INET6}); fd or {@code -errno}. */
    public static int tcp(int family) {
        return socket(family, SOCK_STREAM, IPPROTO_TCP);
    }

    /** Non-blocking UDP socket; fd or {@code -errno}. */
    public static int udp(int family) {
        return socket(family, SOCK_DGRAM, IPPROTO_UDP);
    }

    /**
     * Non-blocking "ping" socket ({@code SOCK_DGRAM}, {@code IPPROTO_ICMP} or
     * {@code IPPROTO_ICMPV6}): the kernel fills in the echo identifier from the
     * socket's port; fd or {@code -errno} ({@code -EACCES} outside
     * {@code net.ipv4.ping_group_range}).
     */
    public static int ping(int family) {
        return socket(family, SOCK_DGRAM, family == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6);
    }

    // -- socket addresses --

    /** Writes a {@code sockaddr_in} at {@code off}; returns its length. */
    public static int sockaddrIn(NativeBuffer b, int off, int addr, int port) {
        b.zero(off, SOCKADDR_IN_SIZE);
        b.putShort(off, AF_INET).putShortBE(off + 2, port).putIntBE(off + 4, addr);
        return SOCKADDR_IN_SIZE;
    }

    /** Writes a {@code sockaddr_in6} at {@code off} from (hi, lo); returns its length. */
    public static int sockaddrIn6(NativeBuffer b, int off, long hi, long lo, int port, int scopeId) {
        b.putShort(off, AF_INET6).putShortBE(off + 2, port).putInt(off + 4, 0)
                .putLongBE(off + 8, hi).putLongBE(off + 16, lo).putInt(off + 24, scopeId);
        return SOCKADDR_IN6_SIZE;
    }

    /** Writes a {@code sockaddr_in6} at {@code off} from 16 network-order bytes; returns its length. */
    public static int sockaddrIn6(NativeBuffer b, int off, byte[] addr, int port, int scopeId) {
        if (addr.length != 16)
            throw new IllegalArgumentException("IPv6 address needs 16 bytes, got " + addr.length);
        b.putShort(off, AF_INET6).putShortBE(off + 2, port).putInt(off + 4, 0)
                .put(off + 8, addr, 0, 16).putInt(off + 24, scopeId);
        return SOCKADDR_IN6_SIZE;
    }

    /** The {@code sa_family} of the socket address at {@code off}. */
    public static int family(NativeBuffer b, int off) {
        return b.getShort(off) & 0xffff;
    }

    /** The port of the sockaddr_in/sockaddr_in6 at {@code off}. */
    public static int port(NativeBuffer b, int off) {
        return b.getShortBE(off + 2);
    }

    /** The address of the sockaddr_in at {@code off}, in int form. */
    public static int addr4(NativeBuffer b, int off) {
        return b.getIntBE(off + 4);
    }

    /** Bytes 0-7 of the address of the sockaddr_in6 at {@code off}. */
    public static long addr6Hi(NativeBuffer b, int off) {
        return b.getLongBE(off + 8);
    }

    /** Bytes 8-15 of the address of the sockaddr_in6 at {@code off}. */
    public static long addr6Lo(NativeBuffer b, int off) {
        return b.getLongBE(off + 16);
    }

    // -- bind, connect, listen, accept --

    public static int bind4(int fd, int addr, int port, NativeBuffer scratch) {
        int len = sockaddrIn(scratch, 0, addr, port);
        int r = Sys.bind(fd, scratch.address(0, len), len);
        scratch.keepAlive();
        return r;
    }

    public static int bind6(int fd, long hi, long lo, int port, NativeBuffer scratch) {
        int len = sockaddrIn6(scratch, 0, hi, lo, port, 0);
        int r = Sys.bind(fd, scratch.address(0, len), len);
        scratch.keepAlive();
        return r;
    }

    public static int bind6(int fd, byte[] addr, int port, NativeBuffer scratch) {
        int len = sockaddrIn6(scratch, 0, addr, port, 0);
        int r = Sys.bind(fd, scratch.address(0, len), len);
        scratch.keepAlive();
        return r;
    }

    /** 0 if connected at once, {@code -EINPROGRESS} if under way (the usual case), other {@code -errno} on failure. */
    public static int connect4(int fd, int addr, int port, NativeBuffer scratch) {
        int len = sockaddrIn(scratch, 0, addr, port);
        int r = Sys.connect(fd, scratch.address(0, len), len);
        scratch.keepAlive();
        return r;
    }

    /** As {@link #connect4}, for IPv6. */
    public static int connect6(int fd, long hi, long lo, int port, NativeBuffer scratch) {
        return connect6(fd, hi, lo, port, 0, scratch);
    }

    /** As {@link #connect6(int, long, long, int, NativeBuffer)}, with a scope (interface index) for link-local addresses. */
    public static int connect6(int fd, long hi, long lo, int port, int scopeId, NativeBuffer scratch) {
        int len = sockaddrIn6(scratch, 0, hi, lo, port, scopeId);
        int r = Sys.connect(fd, scratch.address(0, len), len);
        scratch.keepAlive();
        return r;
    }

    /** As {@link #connect4}, for IPv6 given as 16 bytes. */
    public static int connect6(int fd, byte[] addr, int port, NativeBuffer scratch) {
        int len = sockaddrIn6(scratch, 0, addr, port, 0);
        int r = Sys.connect(fd, scratch.address(0, len), len);
        scratch.keepAlive();
        return r;
    }

    public static int listen(int fd, int backlog) {
        return Sys.listen(fd, backlog);
    }

    /**
     * Accepts a connection as a non-blocking, close-on-exec socket: the fd or
     * {@code -errno} ({@code -EAGAIN} when none is pending). The peer address
     * is left at offset 0 of {@code scratch}.
     */
    public static int accept(int fd, NativeBuffer scratch) {
        return Sys.accept4(fd, scratch, SOCK_NONBLOCK | SOCK_CLOEXEC);
    }

    /** The local port of a bound socket, or {@code -errno}. */
    public static int localPort(int fd, NativeBuffer scratch) {
        int r = Sys.getsockname(fd, scratch);
        return r < 0 ? r : port(scratch, 0);
    }

    // -- options --

    public static int setInt(int fd, int level, int option, int value, NativeBuffer scratch) {
        return Sys.setsockoptInt(fd, level, option, value, scratch);
    }

    /**
     * Asks for {@code bytes} of receive and send buffer: past
     * {@code net.core.rmem_max}/{@code wmem_max} where the process may
     * ({@code SO_RCVBUFFORCE}), else as much as the limits allow. Best effort.
     */
    public static void setBuffers(int fd, int bytes, NativeBuffer scratch) {
        if (setInt(fd, SOL_SOCKET, SO_RCVBUFFORCE, bytes, scratch) < 0)
            setInt(fd, SOL_SOCKET, SO_RCVBUF, bytes, scratch);
        if (setInt(fd, SOL_SOCKET, SO_SNDBUFFORCE, bytes, scratch) < 0)
            setInt(fd, SOL_SOCKET, SO_SNDBUF, bytes, scratch);
    }

    public static int setReuseAddr(int fd, boolean on, NativeBuffer scratch) {
        return setInt(fd, SOL_SOCKET, SO_REUSEADDR, on ? 1 : 0, scratch);
    }

    /** IP_FREEBIND or IPV6_FREEBIND: binding an address the host does not have (yet) succeeds (pasta's --freebind). */
    public static int setFreebind(int fd, boolean v4, NativeBuffer scratch) {
        return v4 ? setInt(fd, SOL_IP, IP_FREEBIND, 1, scratch) : setInt(fd, SOL_IPV6, IPV6_FREEBIND, 1, scratch);
    }

    /**
     * Binds the socket of a forwarded port (TCP or UDP, {@code -t}, {@code -u}
     * and the like) as pasta does: {@code SO_REUSEADDR}, IPv6 only on an IPv6
     * socket, {@link #setFreebind} with {@code freebind} when an address is
     * given, then {@code bind()} to {@code bind} ({hi, lo}: an IPv6 address,
     * or an IPv4 one in lo's low 32 bits) or, when null, to any address.
     *
     * @return 0 or {@code -errno}
     */
    public static int bindForwarded(int fd, boolean v4, long[] bind, int port, boolean freebind, NativeBuffer scratch) {
        return bindForwarded(fd, v4, bind, null, port, freebind, scratch);
    }

    /**
     * {@link #bindForwarded(int, boolean, long[], int, boolean, NativeBuffer)},
     * first binding the socket to interface {@code iface} if not null
     * ({@code SO_BINDTODEVICE}: pasta's {@code ADDRESS%INTERFACE/PORTS};
     * unprivileged since Linux 5.7). A link-local address then needs no
     * scope: the interface is the scope.
     */
    public static int bindForwarded(int fd, boolean v4, long[] bind, String iface, int port, boolean freebind,
                                    NativeBuffer scratch) {
        int r = iface == null ? 0 : bindToDevice(fd, iface, scratch);
        if (r == 0)
            r = setReuseAddr(fd, true, scratch);
        if (r == 0 && !v4)
            r = setInt(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1, scratch);
        if (r == 0 && freebind && bind != null)
            r = setFreebind(fd, v4, scratch);
        if (r == 0)
            r = v4 ? bind4(fd, bind == null ? 0 : (int) bind[1], port, scratch)
                : bind6(fd, bind == null ? 0 : bind[0], bind == null ? 0 : bind[1], port, scratch);
        return r;
    }

    /** {@code SO_BINDTODEVICE} to {@code iface} (at most 15 bytes, as IFNAMSIZ allows); 0 or {@code -errno}. */
    public static int bindToDevice(int fd, String iface, NativeBuffer scratch) {
        if (iface.isEmpty() || iface.length() > 15 || iface.length() * 3 + 1 > scratch.size())
            return -Errno.EINVAL;
        int len = Sys.putCString(scratch, 0, iface) + 1;
        if (len > 16)
            return -Errno.EINVAL;
        int r = Sys.setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, scratch.address(0, len), len);
        scratch.keepAlive();
        return r;
    }

    public static int setNoDelay(int fd, boolean on, NativeBuffer scratch) {
        return setInt(fd, SOL_TCP, TCP_NODELAY, on ? 1 : 0, scratch);
    }

    /** Sets {@code SO_PEEK_OFF} (-1 disables peeking with an offset). */
    public static int setPeekOffset(int fd, int offset, NativeBuffer scratch) {
        return setInt(fd, SOL_SOCKET, SO_PEEK_OFF, offset, scratch);
    }

    /** Sets {@code SO_LINGER}; {@code on} with 0 seconds makes close() send a RST. */
    public static int setLinger(int fd, boolean on, int seconds, NativeBuffer scratch) {
        long addr = scratch.address(0, 8);
        scratch.putInt(0, on ? 1 : 0).putInt(4, seconds);
        int r = Sys.setsockopt(fd, SOL_SOCKET, SO_LINGER, addr, 8);
        scratch.keepAlive();
        return r;
    }

    /**
     * The pending socket error, clearing it: 0 if none, a positive errno (e.g.
     * {@code ECONNREFUSED} after a failed non-blocking connect), or {@code -errno}
     * if the query itself failed.
     */
    public static int soError(int fd, NativeBuffer scratch) {
        int r = Sys.getsockoptInt(fd, SOL_SOCKET, SO_ERROR, scratch);
        return r < 0 ? r : scratch.getInt(0);
    }
}
