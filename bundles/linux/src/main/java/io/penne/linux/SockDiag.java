package io.penne.linux;

/**
 * Lists the sockets of one network namespace in a given state (listening
 * TCP, unconnected UDP) through {@code NETLINK_SOCK_DIAG}, as {@code ss -l}
 * does: the fast way for {@link ProcNetListeners} to follow what pasta reads
 * from {@code /proc/net/tcp} and {@code udp}.
 *
 * <p><b>Why not procfs.</b> Reading {@code /proc/net/tcp} makes the kernel
 * walk every bucket of the established-connections hash table, which is
 * sized by memory and shared by all namespaces: 262,144 buckets on a 24 GiB
 * machine, about 5 ms per file even in an empty namespace, so 10 ms for
 * {@code tcp} and {@code tcp6} on every scan (once a second per direction of
 * {@code auto} forwarding). A dump that asks only for listening sockets walks
 * only the listening hash and costs microseconds.
 *
 * <p><b>Theory of operation.</b> {@link #open} creates the netlink socket in
 * the calling thread's namespace (a netlink socket acts on that namespace
 * for its whole life, from any thread; see {@link Netlink}, whose transport
 * this shares). {@link #sockets} sends one {@code SOCK_DIAG_BY_FAMILY} dump
 * ({@code inet_diag_req_v2}: family, protocol, a bitmask of states, no
 * other filter) and hands each reply's local port and inode to the visitor.
 * Needs no privilege; the {@code tcp_diag} and {@code udp_diag} parts of the
 * kernel may be missing (modules not loaded and not loadable), in which case
 * the dump fails with {@code -ENOENT} and the caller reads procfs instead.
 * Not thread-safe: one owner.
 */
public final class SockDiag implements AutoCloseable {
    static final int NETLINK_SOCK_DIAG = 4;
    static final int SOCK_DIAG_BY_FAMILY = 20;
    /** {@code struct inet_diag_req_v2}: family, protocol, ext, pad, states (u32), then the 48-byte socket id. */
    static final int REQ_V2_SIZE = 56;
    /** {@code struct inet_diag_msg}: 4 bytes, the socket id (source port first, big-endian), expires, queues, uid, inode. */
    static final int MSG_SIZE = 72;
    static final int MSG_SPORT = 4;
    static final int MSG_INODE = 68;
    /** Replies are small (72 bytes and a few attributes each); many fit one datagram. */
    private static final int RECEIVE_SIZE = 32 * 1024;

    /** One socket of a dump. */
    @FunctionalInterface
    public interface SocketVisitor {
        void socket(int port, long inode);
    }

    private final Netlink nl;
    private SocketVisitor current;
    private final Netlink.Visitor reply = this::reply;

    private SockDiag(Netlink nl) {
        this.nl = nl;
    }

    /**
     * Opens the socket in the calling thread's network namespace.
     *
     * @throws SysException if it cannot be created
     */
    public static SockDiag open() {
        return new SockDiag(Netlink.open(NETLINK_SOCK_DIAG, RECEIVE_SIZE));
    }

    /**
     * Every socket of {@code family} ({@code AF_INET}, {@code AF_INET6}) and
     * {@code protocol} ({@code IPPROTO_TCP}, {@code IPPROTO_UDP}) whose state
     * is in the bitmask {@code states} (bit n: kernel state n, as in
     * {@code /proc/net/tcp}'s {@code st} column), to {@code v}.
     *
     * @return 0, or {@code -errno} ({@code -ENOENT}: the kernel has no
     *         diagnostics for this protocol); sockets already visited stay visited
     */
    public int sockets(int family, int protocol, int states, SocketVisitor v) {
        NativeBuffer b = nl.beginDump(SOCK_DIAG_BY_FAMILY, REQ_V2_SIZE);
        int h = Netlink.NLMSG_HDRLEN;
        b.putByte(h, family).putByte(h + 1, protocol).putInt(h + 4, states);
        current = v;
        try {
            return nl.dump(reply);
        } finally {
            current = null;
        }
    }

    private void reply(NativeBuffer b, int off, int len, int type) {
        if (type != SOCK_DIAG_BY_FAMILY || len < Netlink.NLMSG_HDRLEN + MSG_SIZE)
            return;
        int m = off + Netlink.NLMSG_HDRLEN;
        current.socket(b.getShortBE(m + MSG_SPORT), b.getInt(m + MSG_INODE) & 0xffff_ffffL);
    }

    @Override
    public void close() {
        nl.close();
    }
}
