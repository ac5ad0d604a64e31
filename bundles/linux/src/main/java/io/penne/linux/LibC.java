package io.penne.linux;

import com.sun.jna.Native;

/**
 * The C library functions penne calls: one static method per function, with
 * only {@code int} and {@code long} parameters and results.
 *
 * <p>Theory of operation: each method forwards to one of two bindings of the
 * same functions, chosen once when this class is initialised:
 * <ul>
 * <li>{@link FfmLibC}, the Foreign Function and Memory API, when the JVM is
 * 22 or later (about 50 ns per call above C);</li>
 * <li>{@link JnaLibC}, JNA direct mapping, on older JVMs (about 280 ns per
 * call above C), or when the system property {@code penne.native} is
 * {@code jna}.</li>
 * </ul>
 * The choice is a {@code static final} boolean, so the JIT drops the branch.
 * {@link #backend()} names the one in use ({@code penne:stats} and the tests
 * show it).
 *
 * <p>Rules that keep calls allocation-free, for both bindings:
 * <ul>
 * <li>Every pointer is a native address passed as {@code long} (take it from
 * {@link NativeBuffer#address}); no arrays, buffers or structures.</li>
 * <li>{@code size_t}/{@code ssize_t} are {@code long}; {@code socklen_t},
 * flags and file descriptors are {@code int}. This is only correct on LP64,
 * which {@link JnaLibC} insists on.</li>
 * <li>A failing call returns -1 and the caller reads errno with
 * {@link #errno()}. Both bindings save errno right after every call, in a
 * per-thread slot, so the JVM's own libc calls cannot change it on the way
 * back; but every call refreshes the slot, successful ones included, so
 * errno must be read right after the call that returned -1, before any other
 * call on the same thread ({@code ErrnoTest}).</li>
 * </ul>
 *
 * <p>{@code fcntl}, {@code open} and {@code ioctl} are variadic in C; they
 * are declared here with their one optional argument fixed ({@code long} for
 * fcntl's and ioctl's, {@code int} for open's mode), which is
 * call-compatible on the SysV x86_64 and Linux AArch64 ABIs (variadic integer
 * arguments travel in the same registers as fixed ones) for JNA; the FFM
 * binding links them as variadic ({@code firstVariadicArg}). The other calls
 * are not variadic.
 *
 * <p>Callers outside this package should prefer {@link Sys}, which turns the
 * -1/errno convention into a single {@code -errno} result. All functions are
 * thread-safe as far as libc's are; the memory behind the address arguments
 * is the caller's business (see {@link NativeBuffer} for ownership rules).
 */
public final class LibC {
    private static final boolean FFM = !"jna".equals(System.getProperty("penne.native"))
            && FfmLibC.available();

    private LibC() {
    }

    /** "ffm" or "jna": the binding in use. */
    public static String backend() {
        return FFM ? "ffm" : "jna";
    }

    /** Which binding is in use and, for JNA, why FFM is not. */
    public static String backendDetail() {
        if (FFM)
            return "Foreign Function API, JDK " + Runtime.version().feature();
        String why = "jna".equals(System.getProperty("penne.native")) ? "penne.native=jna"
                : FfmLibC.unavailableReason();
        return "JNA direct mapping: " + why;
    }

    /** errno saved by this thread's last call here (see the class comment for when it is valid). */
    public static int errno() {
        return FFM ? FfmLibC.errno() : Native.getLastError();
    }

    // -- epoll, eventfd, timerfd --
    public static int epoll_create1(int flags) {
        return FFM ? FfmLibC.epoll_create1(flags) : JnaLibC.epoll_create1(flags);
    }

    public static int epoll_ctl(int epfd, int op, int fd, long event) {
        return FFM ? FfmLibC.epoll_ctl(epfd, op, fd, event) : JnaLibC.epoll_ctl(epfd, op, fd, event);
    }

    public static int epoll_wait(int epfd, long events, int maxevents, int timeout) {
        return FFM ? FfmLibC.epoll_wait(epfd, events, maxevents, timeout) : JnaLibC.epoll_wait(epfd, events, maxevents, timeout);
    }

    /** {@code initval} is an unsigned int in C. */
    public static int eventfd(int initval, int flags) {
        return FFM ? FfmLibC.eventfd(initval, flags) : JnaLibC.eventfd(initval, flags);
    }

    /** glibc helper: a write of the 8-byte {@code value}, taken by value, so no buffer is needed. */
    public static int eventfd_write(int fd, long value) {
        return FFM ? FfmLibC.eventfd_write(fd, value) : JnaLibC.eventfd_write(fd, value);
    }

    public static int eventfd_read(int fd, long valuePtr) {
        return FFM ? FfmLibC.eventfd_read(fd, valuePtr) : JnaLibC.eventfd_read(fd, valuePtr);
    }

    public static int timerfd_create(int clockid, int flags) {
        return FFM ? FfmLibC.timerfd_create(clockid, flags) : JnaLibC.timerfd_create(clockid, flags);
    }

    public static int timerfd_settime(int fd, int flags, long newValue, long oldValue) {
        return FFM ? FfmLibC.timerfd_settime(fd, flags, newValue, oldValue) : JnaLibC.timerfd_settime(fd, flags, newValue, oldValue);
    }

    public static int timerfd_gettime(int fd, long curValue) {
        return FFM ? FfmLibC.timerfd_gettime(fd, curValue) : JnaLibC.timerfd_gettime(fd, curValue);
    }


    // -- file descriptors --
    public static int close(int fd) {
        return FFM ? FfmLibC.close(fd) : JnaLibC.close(fd);
    }

    public static long mmap(long addr, long length, int prot, int flags, int fd, long offset) {
        return FFM ? FfmLibC.mmap(addr, length, prot, flags, fd, offset) : JnaLibC.mmap(addr, length, prot, flags, fd, offset);
    }

    public static int munmap(long addr, long length) {
        return FFM ? FfmLibC.munmap(addr, length) : JnaLibC.munmap(addr, length);
    }

    public static long read(int fd, long buf, long count) {
        return FFM ? FfmLibC.read(fd, buf, count) : JnaLibC.read(fd, buf, count);
    }

    public static long write(int fd, long buf, long count) {
        return FFM ? FfmLibC.write(fd, buf, count) : JnaLibC.write(fd, buf, count);
    }

    public static long readv(int fd, long iov, int iovcnt) {
        return FFM ? FfmLibC.readv(fd, iov, iovcnt) : JnaLibC.readv(fd, iov, iovcnt);
    }

    public static long writev(int fd, long iov, int iovcnt) {
        return FFM ? FfmLibC.writev(fd, iov, iovcnt) : JnaLibC.writev(fd, iov, iovcnt);
    }

    public static int fcntl(int fd, int cmd, long arg) {
        return FFM ? FfmLibC.fcntl(fd, cmd, arg) : JnaLibC.fcntl(fd, cmd, arg);
    }

    public static int pipe2(long fds, int flags) {
        return FFM ? FfmLibC.pipe2(fds, flags) : JnaLibC.pipe2(fds, flags);
    }

    public static long splice(int fdIn, long offIn, int fdOut, long offOut, long len, int flags) {
        return FFM ? FfmLibC.splice(fdIn, offIn, fdOut, offOut, len, flags) : JnaLibC.splice(fdIn, offIn, fdOut, offOut, len, flags);
    }

    public static int dup(int oldfd) {
        return FFM ? FfmLibC.dup(oldfd) : JnaLibC.dup(oldfd);
    }

    public static int dup2(int oldfd, int newfd) {
        return FFM ? FfmLibC.dup2(oldfd, newfd) : JnaLibC.dup2(oldfd, newfd);
    }

    public static int dup3(int oldfd, int newfd, int flags) {
        return FFM ? FfmLibC.dup3(oldfd, newfd, flags) : JnaLibC.dup3(oldfd, newfd, flags);
    }

    /** {@code path} is the address of a NUL-terminated path; {@code mode} only matters with O_CREAT/O_TMPFILE. */
    public static int open(long path, int flags, int mode) {
        return FFM ? FfmLibC.open(path, flags, mode) : JnaLibC.open(path, flags, mode);
    }

    /** {@code request} is an unsigned long in C; {@code argp} an address or a plain integer, per request. */
    public static int ioctl(int fd, long request, long argp) {
        return FFM ? FfmLibC.ioctl(fd, request, argp) : JnaLibC.ioctl(fd, request, argp);
    }


    // -- sockets --
    public static int socket(int domain, int type, int protocol) {
        return FFM ? FfmLibC.socket(domain, type, protocol) : JnaLibC.socket(domain, type, protocol);
    }

    public static int bind(int fd, long addr, int addrlen) {
        return FFM ? FfmLibC.bind(fd, addr, addrlen) : JnaLibC.bind(fd, addr, addrlen);
    }

    public static int listen(int fd, int backlog) {
        return FFM ? FfmLibC.listen(fd, backlog) : JnaLibC.listen(fd, backlog);
    }

    public static int accept4(int fd, long addr, long addrlenPtr, int flags) {
        return FFM ? FfmLibC.accept4(fd, addr, addrlenPtr, flags) : JnaLibC.accept4(fd, addr, addrlenPtr, flags);
    }

    public static int connect(int fd, long addr, int addrlen) {
        return FFM ? FfmLibC.connect(fd, addr, addrlen) : JnaLibC.connect(fd, addr, addrlen);
    }

    public static int setsockopt(int fd, int level, int optname, long optval, int optlen) {
        return FFM ? FfmLibC.setsockopt(fd, level, optname, optval, optlen) : JnaLibC.setsockopt(fd, level, optname, optval, optlen);
    }

    public static int getsockopt(int fd, int level, int optname, long optval, long optlenPtr) {
        return FFM ? FfmLibC.getsockopt(fd, level, optname, optval, optlenPtr) : JnaLibC.getsockopt(fd, level, optname, optval, optlenPtr);
    }

    public static int getsockname(int fd, long addr, long addrlenPtr) {
        return FFM ? FfmLibC.getsockname(fd, addr, addrlenPtr) : JnaLibC.getsockname(fd, addr, addrlenPtr);
    }

    public static int getpeername(int fd, long addr, long addrlenPtr) {
        return FFM ? FfmLibC.getpeername(fd, addr, addrlenPtr) : JnaLibC.getpeername(fd, addr, addrlenPtr);
    }

    public static int shutdown(int fd, int how) {
        return FFM ? FfmLibC.shutdown(fd, how) : JnaLibC.shutdown(fd, how);
    }

    public static long send(int fd, long buf, long len, int flags) {
        return FFM ? FfmLibC.send(fd, buf, len, flags) : JnaLibC.send(fd, buf, len, flags);
    }

    public static long recv(int fd, long buf, long len, int flags) {
        return FFM ? FfmLibC.recv(fd, buf, len, flags) : JnaLibC.recv(fd, buf, len, flags);
    }

    public static long sendto(int fd, long buf, long len, int flags, long addr, int addrlen) {
        return FFM ? FfmLibC.sendto(fd, buf, len, flags, addr, addrlen) : JnaLibC.sendto(fd, buf, len, flags, addr, addrlen);
    }

    public static long recvfrom(int fd, long buf, long len, int flags, long addr, long addrlenPtr) {
        return FFM ? FfmLibC.recvfrom(fd, buf, len, flags, addr, addrlenPtr) : JnaLibC.recvfrom(fd, buf, len, flags, addr, addrlenPtr);
    }

    public static long sendmsg(int fd, long msghdr, int flags) {
        return FFM ? FfmLibC.sendmsg(fd, msghdr, flags) : JnaLibC.sendmsg(fd, msghdr, flags);
    }

    public static long recvmsg(int fd, long msghdr, int flags) {
        return FFM ? FfmLibC.recvmsg(fd, msghdr, flags) : JnaLibC.recvmsg(fd, msghdr, flags);
    }

    /** {@code timeout} is a {@code struct timespec *} (0 for none). */
    public static int recvmmsg(int fd, long msgvec, int vlen, int flags, long timeout) {
        return FFM ? FfmLibC.recvmmsg(fd, msgvec, vlen, flags, timeout) : JnaLibC.recvmmsg(fd, msgvec, vlen, flags, timeout);
    }

    public static int sendmmsg(int fd, long msgvec, int vlen, int flags) {
        return FFM ? FfmLibC.sendmmsg(fd, msgvec, vlen, flags) : JnaLibC.sendmmsg(fd, msgvec, vlen, flags);
    }


    // -- namespaces (they act on the calling thread only, see NetnsThread) --
    public static int unshare(int flags) {
        return FFM ? FfmLibC.unshare(flags) : JnaLibC.unshare(flags);
    }

    public static int setns(int fd, int nstype) {
        return FFM ? FfmLibC.setns(fd, nstype) : JnaLibC.setns(fd, nstype);
    }


    // -- process identity --
    public static int getpid() {
        return FFM ? FfmLibC.getpid() : JnaLibC.getpid();
    }

    public static int getuid() {
        return FFM ? FfmLibC.getuid() : JnaLibC.getuid();
    }

    public static int getgid() {
        return FFM ? FfmLibC.getgid() : JnaLibC.getgid();
    }

    /** glibc 2.30 and later. */
    public static int gettid() {
        return FFM ? FfmLibC.gettid() : JnaLibC.gettid();
    }
}
