package io.penne.linux;

import java.nio.charset.StandardCharsets;

/**
 * Typed facade over {@link LibC}: every method returns the call's result, or
 * {@code -errno} (always negative) on failure.
 *
 * <p>Theory of operation: each method makes one {@link LibC} call and, only if
 * it returned -1, reads errno with {@link LibC#errno()} (the per-thread copy
 * the binding took right after the native call). Nothing here
 * throws, retries or allocates, except {@link #check}, which throws on
 * failure and is meant for setup code. {@code EAGAIN} and {@code EINTR} are
 * ordinary results the caller handles; nothing is retried behind its back.
 *
 * <p>Methods that need a small struct (epoll_event, itimerspec, an int option,
 * a socket address) build it in a caller-supplied {@link NativeBuffer}, which
 * must be owned by the calling thread and is overwritten. Methods taking raw
 * {@code long} addresses trust them: a wrong address corrupts memory or fails
 * with {@code -EFAULT}.
 *
 * <p>Use on hot paths:
 * <ul>
 * <li>Per packet / per event (allocation-free, designed for this):
 * {@link #epollWait}, {@link #read}, {@link #write}, {@link #readv},
 * {@link #writev}, {@link #send}, {@link #recv}, {@link #sendto},
 * {@link #recvfrom}, {@link #sendmsg}, {@link #recvmsg}, {@link #splice},
 * {@link #eventfdWrite}, {@link #eventfdRead}, {@link #timerfdSettime},
 * {@link #epollCtl}, {@link #setsockoptInt} (e.g. {@code SO_PEEK_OFF}).</li>
 * <li>Per connection (allocation-free but costlier syscalls): {@link #socket},
 * {@link #connect}, {@link #accept4}, {@link #bind}, {@link #listen},
 * {@link #getsockname}, {@link #getpeername}, {@link #getsockoptInt},
 * {@link #shutdown}, {@link #close}, {@link #pipe2}, {@link #fcntl}.</li>
 * <li>Setup only: {@link #check} (throws), {@link #dup}, {@link #dup2},
 * {@link #dup3}, {@link #epollCreate}, {@link #eventfd}, {@link #timerfdCreate},
 * {@link #open}, {@link #ioctl}, {@link #unshare}, {@link #setns},
 * {@link #getpid}, {@link #getuid}, {@link #getgid}, {@link #gettid}.</li>
 * </ul>
 *
 * <p>Thread-safe to the extent the kernel calls are; the NativeBuffer rules
 * above are the only shared-state concern.
 */
public final class Sys {
    // -- open flags --
    public static final int O_RDONLY = 0;
    public static final int O_WRONLY = 1;
    public static final int O_RDWR = 2;
    public static final int O_CREAT = 0x40;
    public static final int O_TRUNC = 0x200;

    // -- file descriptor flags --
    public static final int O_NONBLOCK = 0x800;
    public static final int O_CLOEXEC = 0x80000;
    public static final int F_GETFD = 1;
    public static final int F_SETFD = 2;
    public static final int F_GETFL = 3;
    public static final int F_SETFL = 4;
    public static final int FD_CLOEXEC = 1;
    public static final int F_SETPIPE_SZ = 1031;
    public static final int F_GETPIPE_SZ = 1032;

    // -- splice --
    public static final int SPLICE_F_MOVE = 1;
    public static final int SPLICE_F_NONBLOCK = 2;
    public static final int SPLICE_F_MORE = 4;

    // -- clocks, eventfd, timerfd, epoll_create1 --
    public static final int CLOCK_REALTIME = 0;
    public static final int CLOCK_MONOTONIC = 1;
    public static final int CLOCK_BOOTTIME = 7;
    public static final int EFD_SEMAPHORE = 1;
    public static final int EFD_NONBLOCK = O_NONBLOCK;
    public static final int EFD_CLOEXEC = O_CLOEXEC;
    public static final int TFD_NONBLOCK = O_NONBLOCK;
    public static final int TFD_CLOEXEC = O_CLOEXEC;
    public static final int TFD_TIMER_ABSTIME = 1;
    public static final int EPOLL_CLOEXEC = O_CLOEXEC;
    public static final int EPOLL_CTL_ADD = 1;
    public static final int EPOLL_CTL_DEL = 2;
    public static final int EPOLL_CTL_MOD = 3;

    // -- namespaces: unshare() flags and setns() nstype --
    public static final int CLONE_NEWNS = 0x0002_0000;
    public static final int CLONE_NEWCGROUP = 0x0200_0000;
    public static final int CLONE_NEWUTS = 0x0400_0000;
    public static final int CLONE_NEWIPC = 0x0800_0000;
    public static final int CLONE_NEWUSER = 0x1000_0000;
    public static final int CLONE_NEWPID = 0x2000_0000;
    public static final int CLONE_NEWNET = 0x4000_0000;

    // -- tun/tap and interface ioctls (see Tap) --
    /** {@code _IOW('T', 202, int)}: attach a /dev/net/tun fd to a (new) interface. */
    public static final long TUNSETIFF = 0x4004_54caL;
    /** {@code _IOW('T', 208, unsigned int)}: offloads the tap's reader handles; the argument is passed by value. */
    public static final long TUNSETOFFLOAD = 0x4004_54d0L;
    /** TUNSETOFFLOAD flags: partial checksums, UDP segmentation offload (Linux 6.2+) for IPv4 and IPv6. */
    public static final int TUN_F_CSUM = 0x01, TUN_F_USO4 = 0x20, TUN_F_USO6 = 0x40;
    /** Interface index by name (on any socket). */
    public static final long SIOCGIFINDEX = 0x8933L;
    /** Hardware address by name (on any socket). */
    public static final long SIOCGIFHWADDR = 0x8927L;
    /** TUNSETIFF {@code ifr_flags}: layer-2 device. */
    public static final int IFF_TUN = 0x0001;
    public static final int IFF_TAP = 0x0002;
    /** TUNSETIFF {@code ifr_flags}: no 4-byte packet-information header before each frame. */
    public static final int IFF_NO_PI = 0x1000;
    /** TUNSETIFF {@code ifr_flags}: a virtio_net_hdr before each frame. */
    public static final int IFF_VNET_HDR = 0x4000;
    /** Interface names are at most IFNAMSIZ - 1 bytes plus a NUL. */
    public static final int IFNAMSIZ = 16;
    /** Size of {@code struct ifreq}: the name, then a 24-byte union. */
    public static final int IFREQ_SIZE = 40;
    /** Offset of the union in {@code struct ifreq} (ifr_flags, ifr_ifindex, ifr_hwaddr). */
    public static final int IFREQ_UNION_OFFSET = IFNAMSIZ;

    /** Size of {@code struct itimerspec} on LP64 (two timespecs of two longs). */
    public static final int ITIMERSPEC_SIZE = 32;
    /**
     * {@link #getsockname}/{@link #getpeername}/{@link #accept4(int, NativeBuffer, int)}
     * put the address at offset 0 of the scratch buffer and the socklen_t at this
     * offset, just past room for a {@code sockaddr_storage}.
     */
    public static final int SOCKADDR_LEN_OFFSET = 128;
    /** Minimum scratch size for the address-returning calls. */
    public static final int SOCKADDR_SCRATCH_SIZE = SOCKADDR_LEN_OFFSET + 8;
    /** {@code struct msghdr} on LP64: name, namelen, iov, iovlen, control, controllen, flags. */
    public static final int MSGHDR_SIZE = 56;
    public static final int MSG_NAME = 0, MSG_NAMELEN = 8, MSG_IOV = 16, MSG_IOVLEN = 24, MSG_CONTROL = 32,
        MSG_CONTROLLEN = 40, MSG_FLAGS = 48;
    /** {@code struct mmsghdr}: a msghdr and the unsigned int msg_len, padded to 64 bytes. */
    public static final int MMSGHDR_SIZE = 64;
    public static final int MMSG_LEN_OFFSET = 56;

    private static final long NANOS = 1_000_000_000L;

    private Sys() {
    }

    /** -1 becomes {@code -errno}; anything else passes through. */
    private static int rc(int rc) {
        return rc == -1 ? -lastErrno() : rc;
    }

    private static long rc(long rc) {
        return rc == -1L ? -lastErrno() : rc;
    }

    /**
     * errno of the last failed call on this thread. A zero here would turn a
     * failure into an apparent success, so it is reported as EIO instead (never
     * observed; it would mean the binding lost errno).
     */
    private static int lastErrno() {
        int e = LibC.errno();
        return e > 0 ? e : Errno.EIO;
    }

    /**
     * Setup-path guard: returns {@code rc} if it is not negative, otherwise
     * throws a {@link SysException} naming {@code what} and the errno.
     */
    public static int check(int rc, String what) {
        if (rc < 0)
            throw new SysException(what, -rc);
        return rc;
    }

    /** {@link #check(int, String)} for {@code ssize_t} results. */
    public static long check(long rc, String what) {
        if (rc < 0)
            throw new SysException(what, (int) -rc);
        return rc;
    }

    // -- file descriptors --

    public static final int PROT_READ = 1;
    public static final int PROT_WRITE = 2;
    public static final int MAP_PRIVATE = 0x02;
    public static final int MAP_ANONYMOUS = 0x20;

    /** Maps {@code length} bytes of anonymous private memory: the address, or -errno. Setup path. */
    public static long mmapAnonymous(long length) {
        long a = LibC.mmap(0, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        return a == -1 ? -lastErrno() : a;
    }

    public static int munmap(long addr, long length) {
        return rc(LibC.munmap(addr, length));
    }

    public static int close(int fd) {
        return rc(LibC.close(fd));
    }

    public static long read(int fd, long addr, long len) {
        return rc(LibC.read(fd, addr, len));
    }

    /** Reads into {@code buf[offset, offset + len)}. */
    public static long read(int fd, NativeBuffer buf, int offset, int len) {
        long r = rc(LibC.read(fd, buf.address(offset, len), len));
        buf.keepAlive();
        return r;
    }

    public static long write(int fd, long addr, long len) {
        return rc(LibC.write(fd, addr, len));
    }

    /** Writes {@code buf[offset, offset + len)}. */
    public static long write(int fd, NativeBuffer buf, int offset, int len) {
        long r = rc(LibC.write(fd, buf.address(offset, len), len));
        buf.keepAlive();
        return r;
    }

    /** {@code iov} is the address of {@code iovcnt} iovecs (see {@link NativeBuffer#putIovec}). */
    public static long readv(int fd, long iov, int iovcnt) {
        return rc(LibC.readv(fd, iov, iovcnt));
    }

    public static long writev(int fd, long iov, int iovcnt) {
        return rc(LibC.writev(fd, iov, iovcnt));
    }

    public static int fcntl(int fd, int cmd, long arg) {
        return rc(LibC.fcntl(fd, cmd, arg));
    }

    /** Creates a pipe; on success returns 0 with the read end at int offset 0 and the write end at 4 of {@code scratch}. */
    public static int pipe2(NativeBuffer scratch, int flags) {
        int r = rc(LibC.pipe2(scratch.address(0, 8), flags));
        scratch.keepAlive();
        return r;
    }

    /** Offsets are not used (both null): for pipes and sockets. */
    public static long splice(int fdIn, int fdOut, long len, int flags) {
        return rc(LibC.splice(fdIn, 0L, fdOut, 0L, len, flags));
    }

    public static int dup(int fd) {
        return rc(LibC.dup(fd));
    }

    public static int dup2(int oldfd, int newfd) {
        return rc(LibC.dup2(oldfd, newfd));
    }

    public static int dup3(int oldfd, int newfd, int flags) {
        return rc(LibC.dup3(oldfd, newfd, flags));
    }

    /** {@code path} is the address of a NUL-terminated path. Setup path. */
    public static int open(long path, int flags, int mode) {
        return rc(LibC.open(path, flags, mode));
    }

    /**
     * Opens {@code path}, copied as UTF-8 with a NUL into {@code scratch} at
     * offset 0 (it needs the encoded length + 1 bytes). Setup path: encoding the
     * String allocates. Returns the fd or {@code -errno}.
     */
    public static int open(String path, int flags, int mode, NativeBuffer scratch) {
        int len = putCString(scratch, 0, path);
        int r = rc(LibC.open(scratch.address(0, len + 1), flags, mode));
        scratch.keepAlive();
        return r;
    }

    /**
     * Writes {@code s} as UTF-8 followed by a NUL at {@code offset}; returns the
     * length without the NUL. Rejects strings containing NUL, which C would
     * silently truncate. Setup path: allocates the encoded bytes.
     */
    public static int putCString(NativeBuffer b, int offset, String s) {
        byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
        for (byte x : bytes)
            if (x == 0)
                throw new IllegalArgumentException("NUL in C string");
        b.address(offset, bytes.length + 1); // bounds check
        b.put(offset, bytes, 0, bytes.length).putByte(offset + bytes.length, 0);
        return bytes.length;
    }

    /** Raw form: {@code argp} is an address or an integer, as {@code request} wants. */
    public static int ioctl(int fd, long request, long argp) {
        return rc(LibC.ioctl(fd, request, argp));
    }

    /** {@code ioctl} whose argument is {@code arg[offset, offset + len)} (e.g. an ifreq), read and/or written by the kernel. */
    public static int ioctl(int fd, long request, NativeBuffer arg, int offset, int len) {
        int r = rc(LibC.ioctl(fd, request, arg.address(offset, len)));
        arg.keepAlive();
        return r;
    }

    // -- namespaces: these move the calling thread only (or fail) --

    /** {@code unshare(flags)}: 0 or {@code -errno} (CLONE_NEWUSER gives -EINVAL in a multi-threaded process such as a JVM). */
    public static int unshare(int flags) {
        return rc(LibC.unshare(flags));
    }

    /** {@code setns(fd, nstype)}: 0 or {@code -errno} (-EPERM without CAP_SYS_ADMIN over the namespace's owner). */
    public static int setns(int fd, int nstype) {
        return rc(LibC.setns(fd, nstype));
    }

    // -- epoll --

    public static int epollCreate(int flags) {
        return rc(LibC.epoll_create1(flags));
    }

    /**
     * {@code epoll_ctl()} with the event built in {@code scratch} (at offset 0,
     * {@link Epoll#EVENT_SIZE} bytes, in this architecture's layout).
     */
    public static int epollCtl(int epfd, int op, int fd, int events, long data, NativeBuffer scratch) {
        long addr = scratch.address(0, Epoll.EVENT_SIZE);
        scratch.putInt(0, events).putLong(Epoll.DATA_OFFSET, data);
        int r = rc(LibC.epoll_ctl(epfd, op, fd, addr));
        scratch.keepAlive();
        return r;
    }

    /** {@code events} is the address of room for {@code maxEvents} events of {@link Epoll#EVENT_SIZE} bytes. */
    public static int epollWait(int epfd, long events, int maxEvents, int timeoutMs) {
        return rc(LibC.epoll_wait(epfd, events, maxEvents, timeoutMs));
    }

    // -- eventfd --

    public static int eventfd(int initval, int flags) {
        return rc(LibC.eventfd(initval, flags));
    }

    /** Adds {@code value} to the counter; needs no buffer, so any thread may call it. */
    public static int eventfdWrite(int fd, long value) {
        return rc(LibC.eventfd_write(fd, value));
    }

    /**
     * Reads and resets the counter (decrements by one with EFD_SEMAPHORE), using
     * 8 bytes of {@code scratch}: the value (&gt; 0), or {@code -EAGAIN} if it is zero
     * on a non-blocking eventfd. Counters of 2^63 or more read as Long.MAX_VALUE.
     */
    public static long eventfdRead(int fd, NativeBuffer scratch) {
        int r = rc(LibC.eventfd_read(fd, scratch.address(0, 8)));
        scratch.keepAlive();
        if (r < 0)
            return r;
        long v = scratch.getLong(0);
        return v < 0 ? Long.MAX_VALUE : v;
    }

    // -- timerfd --

    public static int timerfdCreate(int clockid, int flags) {
        return rc(LibC.timerfd_create(clockid, flags));
    }

    /**
     * Arms ({@code initialNanos} &gt; 0) or disarms ({@code initialNanos} == 0) a
     * timerfd, repeating every {@code intervalNanos} if that is &gt; 0. Builds the
     * itimerspec in {@code scratch} ({@link #ITIMERSPEC_SIZE} bytes).
     */
    public static int timerfdSettime(int fd, int flags, long initialNanos, long intervalNanos, NativeBuffer scratch) {
        long addr = scratch.address(0, ITIMERSPEC_SIZE);
        scratch.putLong(0, intervalNanos / NANOS).putLong(8, intervalNanos % NANOS)
                .putLong(16, initialNanos / NANOS).putLong(24, initialNanos % NANOS);
        int r = rc(LibC.timerfd_settime(fd, flags, addr, 0L));
        scratch.keepAlive();
        return r;
    }

    // -- sockets --

    public static int socket(int domain, int type, int protocol) {
        return rc(LibC.socket(domain, type, protocol));
    }

    public static int bind(int fd, long addr, int addrlen) {
        return rc(LibC.bind(fd, addr, addrlen));
    }

    public static int listen(int fd, int backlog) {
        return rc(LibC.listen(fd, backlog));
    }

    /** Raw form: {@code addr}/{@code addrlenPtr} may both be 0 to ignore the peer address. */
    public static int accept4(int fd, long addr, long addrlenPtr, int flags) {
        return rc(LibC.accept4(fd, addr, addrlenPtr, flags));
    }

    /**
     * Accepts a connection, leaving the peer address at offset 0 of {@code scratch}
     * (at least {@link #SOCKADDR_SCRATCH_SIZE} bytes) and its length at
     * {@link #SOCKADDR_LEN_OFFSET}. Returns the new fd or {@code -errno}.
     */
    public static int accept4(int fd, NativeBuffer scratch, int flags) {
        long base = scratch.address(0, SOCKADDR_SCRATCH_SIZE);
        scratch.putInt(SOCKADDR_LEN_OFFSET, SOCKADDR_LEN_OFFSET);
        int r = rc(LibC.accept4(fd, base, base + SOCKADDR_LEN_OFFSET, flags));
        scratch.keepAlive();
        return r;
    }

    public static int connect(int fd, long addr, int addrlen) {
        return rc(LibC.connect(fd, addr, addrlen));
    }

    public static int setsockopt(int fd, int level, int optname, long optval, int optlen) {
        return rc(LibC.setsockopt(fd, level, optname, optval, optlen));
    }

    /** Raw form: {@code optlenPtr} points at a socklen_t holding the room at {@code optval}, updated by the kernel. */
    public static int getsockopt(int fd, int level, int optname, long optval, long optlenPtr) {
        return rc(LibC.getsockopt(fd, level, optname, optval, optlenPtr));
    }

    /** Sets an int-valued option, using 4 bytes of {@code scratch}. */
    public static int setsockoptInt(int fd, int level, int optname, int value, NativeBuffer scratch) {
        long addr = scratch.address(0, 4);
        scratch.putInt(0, value);
        int r = rc(LibC.setsockopt(fd, level, optname, addr, 4));
        scratch.keepAlive();
        return r;
    }

    /**
     * Reads an int-valued option into {@code scratch} offset 0 (8 bytes used).
     * Returns 0 or {@code -errno}; the value is {@code scratch.getInt(0)}, kept
     * out of the return value because some options (SO_PEEK_OFF) are legitimately
     * negative.
     */
    public static int getsockoptInt(int fd, int level, int optname, NativeBuffer scratch) {
        long addr = scratch.address(0, 8);
        scratch.putInt(0, 0).putInt(4, 4);
        int r = rc(LibC.getsockopt(fd, level, optname, addr, addr + 4));
        scratch.keepAlive();
        return r;
    }

    /** Local address into {@code scratch} as for {@link #accept4(int, NativeBuffer, int)}; returns its length or {@code -errno}. */
    public static int getsockname(int fd, NativeBuffer scratch) {
        long base = scratch.address(0, SOCKADDR_SCRATCH_SIZE);
        scratch.putInt(SOCKADDR_LEN_OFFSET, SOCKADDR_LEN_OFFSET);
        int r = rc(LibC.getsockname(fd, base, base + SOCKADDR_LEN_OFFSET));
        scratch.keepAlive();
        return r < 0 ? r : scratch.getInt(SOCKADDR_LEN_OFFSET);
    }

    /** Peer address into {@code scratch} as for {@link #accept4(int, NativeBuffer, int)}; returns its length or {@code -errno}. */
    public static int getpeername(int fd, NativeBuffer scratch) {
        long base = scratch.address(0, SOCKADDR_SCRATCH_SIZE);
        scratch.putInt(SOCKADDR_LEN_OFFSET, SOCKADDR_LEN_OFFSET);
        int r = rc(LibC.getpeername(fd, base, base + SOCKADDR_LEN_OFFSET));
        scratch.keepAlive();
        return r < 0 ? r : scratch.getInt(SOCKADDR_LEN_OFFSET);
    }

    public static int shutdown(int fd, int how) {
        return rc(LibC.shutdown(fd, how));
    }

    public static long send(int fd, long buf, long len, int flags) {
        return rc(LibC.send(fd, buf, len, flags));
    }

    public static long recv(int fd, long buf, long len, int flags) {
        return rc(LibC.recv(fd, buf, len, flags));
    }

    public static long sendto(int fd, long buf, long len, int flags, long addr, int addrlen) {
        return rc(LibC.sendto(fd, buf, len, flags, addr, addrlen));
    }

    public static long recvfrom(int fd, long buf, long len, int flags, long addr, long addrlenPtr) {
        return rc(LibC.recvfrom(fd, buf, len, flags, addr, addrlenPtr));
    }

    /** {@code msghdr} is the address of a {@code struct msghdr} (56 bytes on LP64). */
    public static long sendmsg(int fd, long msghdr, int flags) {
        return rc(LibC.sendmsg(fd, msghdr, flags));
    }

    /**
     * Receives up to {@code vlen} datagrams into the {@code struct mmsghdr}
     * array at {@code msgvec} ({@link #MMSGHDR_SIZE} bytes each, the
     * received length at offset {@link #MMSG_LEN_OFFSET}); how many, or {@code -errno}.
     */
    public static int recvmmsg(int fd, long msgvec, int vlen, int flags) {
        return rc(LibC.recvmmsg(fd, msgvec, vlen, flags, 0L));
    }

    /** Sends up to {@code vlen} datagrams described by the {@code struct mmsghdr} array; how many, or {@code -errno}. */
    public static int sendmmsg(int fd, long msgvec, int vlen, int flags) {
        return rc(LibC.sendmmsg(fd, msgvec, vlen, flags));
    }

    public static long recvmsg(int fd, long msghdr, int flags) {
        return rc(LibC.recvmsg(fd, msghdr, flags));
    }

    // -- process identity (cannot fail) --

    public static int getpid() {
        return LibC.getpid();
    }

    public static int getuid() {
        return LibC.getuid();
    }

    public static int getgid() {
        return LibC.getgid();
    }

    /** The calling thread's kernel thread id (what /proc/self/task lists). */
    public static int gettid() {
        return LibC.gettid();
    }
}
