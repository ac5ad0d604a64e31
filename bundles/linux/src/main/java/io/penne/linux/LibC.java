package io.penne.linux;

import com.sun.jna.Native;
import com.sun.jna.Pointer;
import java.nio.ByteBuffer;

/**
 * The C library functions penne calls: one static method per function, with
 * only {@code int} and {@code long} parameters and results.
 *
 * <p>Theory of operation: each method forwards to one of three bindings of
 * the same functions, chosen once when this class is initialised, first that
 * works:
 * <ol>
 * <li>{@link JniLibC}, penne's own JNI library {@code libpenne-libc.so}, built
 * with the bundle where a C compiler is present (about 15 ns per call above
 * C);</li>
 * <li>{@link FfmLibC}, the Foreign Function and Memory API, when the JVM is
 * 22 or later (about 60 ns above C, and it allocates on some call sites);</li>
 * <li>{@link JnaLibC}, JNA direct mapping (about 280 ns above C).</li>
 * </ol>
 * The system property {@code penne.native} ({@code jni}, {@code ffm} or
 * {@code jna}) asks for one; if it cannot load, the order above applies. The
 * choice is two {@code static final} booleans, so the JIT drops the branches.
 * {@link #backend()} names the binding in use ({@code penne:features} and the
 * tests show it).
 *
 * <p>Rules that keep calls allocation-free, for every binding:
 * <ul>
 * <li>Every pointer is a native address passed as {@code long} (take it from
 * {@link NativeBuffer#address}); no arrays, buffers or structures.</li>
 * <li>{@code size_t}/{@code ssize_t} are {@code long}; {@code socklen_t},
 * flags and file descriptors are {@code int}. This is only correct on LP64,
 * which the bindings insist on.</li>
 * <li>A failing call returns -1 and the caller reads errno with
 * {@link #errno()}. Every binding saves errno right after a failing call, in
 * a per-thread slot, so the JVM's own libc calls cannot change it on the way
 * back; but later calls may refresh the slot (FFM and JNA refresh it on
 * success too), so errno must be read right after the call that returned -1,
 * before any other call on the same thread ({@code ErrnoTest}).</li>
 * </ul>
 *
 * <p>{@code fcntl}, {@code open} and {@code ioctl} are variadic in C; they
 * are declared here with their one optional argument fixed ({@code long} for
 * fcntl's and ioctl's, {@code int} for open's mode). The JNI library calls
 * them from C, the FFM binding links them as variadic
 * ({@code firstVariadicArg}), and for JNA the fixed declaration is
 * call-compatible on the SysV x86_64 and Linux AArch64 ABIs (variadic integer
 * arguments travel in the same registers as fixed ones).
 *
 * <p>Callers outside this package should prefer {@link Sys}, which turns the
 * -1/errno convention into a single {@code -errno} result. All functions are
 * thread-safe as far as libc's are; the memory behind the address arguments
 * is the caller's business (see {@link NativeBuffer} for ownership rules).
 */
public final class LibC {
    private static final String ASKED = System.getProperty("penne.native", "");
    private static final boolean JNI, FFM;

    static {
        // Each binding is only initialised (and its library loaded) if it may be chosen.
        boolean ffmAsked = ASKED.equals("ffm") && FfmLibC.available();
        boolean jnaAsked = ASKED.equals("jna");
        JNI = !ffmAsked && !jnaAsked && JniLibC.available();
        FFM = !JNI && !jnaAsked && FfmLibC.available();
    }

    private LibC() {
    }

    /** "jni", "ffm" or "jna": the binding in use. */
    public static String backend() {
        return JNI ? "jni" : FFM ? "ffm" : "jna";
    }

    /** Which binding is in use and, when it is not the JNI library, why not. */
    public static String backendDetail() {
        if (JNI)
            return "JNI, libpenne-libc.so";
        String noJni = ASKED.equals("ffm") || ASKED.equals("jna") ? "penne.native=" + ASKED
                : JniLibC.unavailableReason();
        if (FFM)
            return "Foreign Function API, JDK " + Runtime.version().feature() + " (no JNI library: " + noJni + ")";
        String noFfm = ASKED.equals("jna") ? "penne.native=jna" : FfmLibC.unavailableReason();
        return "JNA direct mapping (no JNI library: " + noJni + "; no FFM: " + noFfm + ")";
    }

    /** errno saved by this thread's last failing call here (see the class comment for when it is valid). */
    public static int errno() {
        return JNI ? JniLibC.errno() : FFM ? FfmLibC.errno() : Native.getLastError();
    }

    /** The native address of a direct buffer's byte 0 (setup path). */
    static long addressOf(ByteBuffer direct) {
        return JNI ? JniLibC.address(direct) : Pointer.nativeValue(Native.getDirectBufferPointer(direct));
    }

    /** A direct buffer over {@code size} bytes of native memory at {@code address}, which the caller owns (setup path). */
    static ByteBuffer wrap(long address, int size) {
        return JNI ? JniLibC.wrap(address, size) : new Pointer(address).getByteBuffer(0, size);
    }

    // -- epoll, eventfd, timerfd --
    public static int epoll_create1(int flags) {
        return JNI ? JniLibC.epoll_create1(flags) : FFM ? FfmLibC.epoll_create1(flags) : JnaLibC.epoll_create1(flags);
    }

    public static int epoll_ctl(int epfd, int op, int fd, long event) {
        return JNI ? JniLibC.epoll_ctl(epfd, op, fd, event) : FFM ? FfmLibC.epoll_ctl(epfd, op, fd, event) : JnaLibC.epoll_ctl(epfd, op, fd, event);
    }

    public static int epoll_wait(int epfd, long events, int maxevents, int timeout) {
        return JNI ? JniLibC.epoll_wait(epfd, events, maxevents, timeout) : FFM ? FfmLibC.epoll_wait(epfd, events, maxevents, timeout) : JnaLibC.epoll_wait(epfd, events, maxevents, timeout);
    }

    /** {@code initval} is an unsigned int in C. */
    public static int eventfd(int initval, int flags) {
        return JNI ? JniLibC.eventfd(initval, flags) : FFM ? FfmLibC.eventfd(initval, flags) : JnaLibC.eventfd(initval, flags);
    }

    /** glibc helper: a write of the 8-byte {@code value}, taken by value, so no buffer is needed. */
    public static int eventfd_write(int fd, long value) {
        return JNI ? JniLibC.eventfd_write(fd, value) : FFM ? FfmLibC.eventfd_write(fd, value) : JnaLibC.eventfd_write(fd, value);
    }

    public static int eventfd_read(int fd, long valuePtr) {
        return JNI ? JniLibC.eventfd_read(fd, valuePtr) : FFM ? FfmLibC.eventfd_read(fd, valuePtr) : JnaLibC.eventfd_read(fd, valuePtr);
    }

    public static int timerfd_create(int clockid, int flags) {
        return JNI ? JniLibC.timerfd_create(clockid, flags) : FFM ? FfmLibC.timerfd_create(clockid, flags) : JnaLibC.timerfd_create(clockid, flags);
    }

    public static int timerfd_settime(int fd, int flags, long newValue, long oldValue) {
        return JNI ? JniLibC.timerfd_settime(fd, flags, newValue, oldValue) : FFM ? FfmLibC.timerfd_settime(fd, flags, newValue, oldValue) : JnaLibC.timerfd_settime(fd, flags, newValue, oldValue);
    }

    public static int timerfd_gettime(int fd, long curValue) {
        return JNI ? JniLibC.timerfd_gettime(fd, curValue) : FFM ? FfmLibC.timerfd_gettime(fd, curValue) : JnaLibC.timerfd_gettime(fd, curValue);
    }


    // -- file descriptors --
    public static int close(int fd) {
        return JNI ? JniLibC.close(fd) : FFM ? FfmLibC.close(fd) : JnaLibC.close(fd);
    }

    public static long mmap(long addr, long length, int prot, int flags, int fd, long offset) {
        return JNI ? JniLibC.mmap(addr, length, prot, flags, fd, offset) : FFM ? FfmLibC.mmap(addr, length, prot, flags, fd, offset) : JnaLibC.mmap(addr, length, prot, flags, fd, offset);
    }

    public static int munmap(long addr, long length) {
        return JNI ? JniLibC.munmap(addr, length) : FFM ? FfmLibC.munmap(addr, length) : JnaLibC.munmap(addr, length);
    }

    public static long read(int fd, long buf, long count) {
        return JNI ? JniLibC.read(fd, buf, count) : FFM ? FfmLibC.read(fd, buf, count) : JnaLibC.read(fd, buf, count);
    }

    public static long write(int fd, long buf, long count) {
        return JNI ? JniLibC.write(fd, buf, count) : FFM ? FfmLibC.write(fd, buf, count) : JnaLibC.write(fd, buf, count);
    }

    public static long readv(int fd, long iov, int iovcnt) {
        return JNI ? JniLibC.readv(fd, iov, iovcnt) : FFM ? FfmLibC.readv(fd, iov, iovcnt) : JnaLibC.readv(fd, iov, iovcnt);
    }

    public static long writev(int fd, long iov, int iovcnt) {
        return JNI ? JniLibC.writev(fd, iov, iovcnt) : FFM ? FfmLibC.writev(fd, iov, iovcnt) : JnaLibC.writev(fd, iov, iovcnt);
    }

    public static int fcntl(int fd, int cmd, long arg) {
        return JNI ? JniLibC.fcntl(fd, cmd, arg) : FFM ? FfmLibC.fcntl(fd, cmd, arg) : JnaLibC.fcntl(fd, cmd, arg);
    }

    public static int pipe2(long fds, int flags) {
        return JNI ? JniLibC.pipe2(fds, flags) : FFM ? FfmLibC.pipe2(fds, flags) : JnaLibC.pipe2(fds, flags);
    }

    public static long splice(int fdIn, long offIn, int fdOut, long offOut, long len, int flags) {
        return JNI ? JniLibC.splice(fdIn, offIn, fdOut, offOut, len, flags) : FFM ? FfmLibC.splice(fdIn, offIn, fdOut, offOut, len, flags) : JnaLibC.splice(fdIn, offIn, fdOut, offOut, len, flags);
    }

    public static int dup(int oldfd) {
        return JNI ? JniLibC.dup(oldfd) : FFM ? FfmLibC.dup(oldfd) : JnaLibC.dup(oldfd);
    }

    public static int dup2(int oldfd, int newfd) {
        return JNI ? JniLibC.dup2(oldfd, newfd) : FFM ? FfmLibC.dup2(oldfd, newfd) : JnaLibC.dup2(oldfd, newfd);
    }

    public static int dup3(int oldfd, int newfd, int flags) {
        return JNI ? JniLibC.dup3(oldfd, newfd, flags) : FFM ? FfmLibC.dup3(oldfd, newfd, flags) : JnaLibC.dup3(oldfd, newfd, flags);
    }

    /** {@code path} is the address of a NUL-terminated path; {@code mode} only matters with O_CREAT/O_TMPFILE. */
    public static int open(long path, int flags, int mode) {
        return JNI ? JniLibC.open(path, flags, mode) : FFM ? FfmLibC.open(path, flags, mode) : JnaLibC.open(path, flags, mode);
    }

    /** {@code request} is an unsigned long in C; {@code argp} an address or a plain integer, per request. */
    public static int ioctl(int fd, long request, long argp) {
        return JNI ? JniLibC.ioctl(fd, request, argp) : FFM ? FfmLibC.ioctl(fd, request, argp) : JnaLibC.ioctl(fd, request, argp);
    }


    // -- sockets --
    public static int socket(int domain, int type, int protocol) {
        return JNI ? JniLibC.socket(domain, type, protocol) : FFM ? FfmLibC.socket(domain, type, protocol) : JnaLibC.socket(domain, type, protocol);
    }

    public static int bind(int fd, long addr, int addrlen) {
        return JNI ? JniLibC.bind(fd, addr, addrlen) : FFM ? FfmLibC.bind(fd, addr, addrlen) : JnaLibC.bind(fd, addr, addrlen);
    }

    public static int listen(int fd, int backlog) {
        return JNI ? JniLibC.listen(fd, backlog) : FFM ? FfmLibC.listen(fd, backlog) : JnaLibC.listen(fd, backlog);
    }

    public static int accept4(int fd, long addr, long addrlenPtr, int flags) {
        return JNI ? JniLibC.accept4(fd, addr, addrlenPtr, flags) : FFM ? FfmLibC.accept4(fd, addr, addrlenPtr, flags) : JnaLibC.accept4(fd, addr, addrlenPtr, flags);
    }

    public static int connect(int fd, long addr, int addrlen) {
        return JNI ? JniLibC.connect(fd, addr, addrlen) : FFM ? FfmLibC.connect(fd, addr, addrlen) : JnaLibC.connect(fd, addr, addrlen);
    }

    public static int setsockopt(int fd, int level, int optname, long optval, int optlen) {
        return JNI ? JniLibC.setsockopt(fd, level, optname, optval, optlen) : FFM ? FfmLibC.setsockopt(fd, level, optname, optval, optlen) : JnaLibC.setsockopt(fd, level, optname, optval, optlen);
    }

    public static int getsockopt(int fd, int level, int optname, long optval, long optlenPtr) {
        return JNI ? JniLibC.getsockopt(fd, level, optname, optval, optlenPtr) : FFM ? FfmLibC.getsockopt(fd, level, optname, optval, optlenPtr) : JnaLibC.getsockopt(fd, level, optname, optval, optlenPtr);
    }

    public static int getsockname(int fd, long addr, long addrlenPtr) {
        return JNI ? JniLibC.getsockname(fd, addr, addrlenPtr) : FFM ? FfmLibC.getsockname(fd, addr, addrlenPtr) : JnaLibC.getsockname(fd, addr, addrlenPtr);
    }

    public static int getpeername(int fd, long addr, long addrlenPtr) {
        return JNI ? JniLibC.getpeername(fd, addr, addrlenPtr) : FFM ? FfmLibC.getpeername(fd, addr, addrlenPtr) : JnaLibC.getpeername(fd, addr, addrlenPtr);
    }

    public static int shutdown(int fd, int how) {
        return JNI ? JniLibC.shutdown(fd, how) : FFM ? FfmLibC.shutdown(fd, how) : JnaLibC.shutdown(fd, how);
    }

    public static long send(int fd, long buf, long len, int flags) {
        return JNI ? JniLibC.send(fd, buf, len, flags) : FFM ? FfmLibC.send(fd, buf, len, flags) : JnaLibC.send(fd, buf, len, flags);
    }

    public static long recv(int fd, long buf, long len, int flags) {
        return JNI ? JniLibC.recv(fd, buf, len, flags) : FFM ? FfmLibC.recv(fd, buf, len, flags) : JnaLibC.recv(fd, buf, len, flags);
    }

    public static long sendto(int fd, long buf, long len, int flags, long addr, int addrlen) {
        return JNI ? JniLibC.sendto(fd, buf, len, flags, addr, addrlen) : FFM ? FfmLibC.sendto(fd, buf, len, flags, addr, addrlen) : JnaLibC.sendto(fd, buf, len, flags, addr, addrlen);
    }

    public static long recvfrom(int fd, long buf, long len, int flags, long addr, long addrlenPtr) {
        return JNI ? JniLibC.recvfrom(fd, buf, len, flags, addr, addrlenPtr) : FFM ? FfmLibC.recvfrom(fd, buf, len, flags, addr, addrlenPtr) : JnaLibC.recvfrom(fd, buf, len, flags, addr, addrlenPtr);
    }

    public static long sendmsg(int fd, long msghdr, int flags) {
        return JNI ? JniLibC.sendmsg(fd, msghdr, flags) : FFM ? FfmLibC.sendmsg(fd, msghdr, flags) : JnaLibC.sendmsg(fd, msghdr, flags);
    }

    public static long recvmsg(int fd, long msghdr, int flags) {
        return JNI ? JniLibC.recvmsg(fd, msghdr, flags) : FFM ? FfmLibC.recvmsg(fd, msghdr, flags) : JnaLibC.recvmsg(fd, msghdr, flags);
    }

    /** {@code timeout} is a {@code struct timespec *} (0 for none). */
    public static int recvmmsg(int fd, long msgvec, int vlen, int flags, long timeout) {
        return JNI ? JniLibC.recvmmsg(fd, msgvec, vlen, flags, timeout) : FFM ? FfmLibC.recvmmsg(fd, msgvec, vlen, flags, timeout) : JnaLibC.recvmmsg(fd, msgvec, vlen, flags, timeout);
    }

    public static int sendmmsg(int fd, long msgvec, int vlen, int flags) {
        return JNI ? JniLibC.sendmmsg(fd, msgvec, vlen, flags) : FFM ? FfmLibC.sendmmsg(fd, msgvec, vlen, flags) : JnaLibC.sendmmsg(fd, msgvec, vlen, flags);
    }


    // -- namespaces (they act on the calling thread only, see NetnsThread) --
    public static int unshare(int flags) {
        return JNI ? JniLibC.unshare(flags) : FFM ? FfmLibC.unshare(flags) : JnaLibC.unshare(flags);
    }

    public static int setns(int fd, int nstype) {
        return JNI ? JniLibC.setns(fd, nstype) : FFM ? FfmLibC.setns(fd, nstype) : JnaLibC.setns(fd, nstype);
    }


    // -- process identity --
    public static int getpid() {
        return JNI ? JniLibC.getpid() : FFM ? FfmLibC.getpid() : JnaLibC.getpid();
    }

    public static int getuid() {
        return JNI ? JniLibC.getuid() : FFM ? FfmLibC.getuid() : JnaLibC.getuid();
    }

    public static int getgid() {
        return JNI ? JniLibC.getgid() : FFM ? FfmLibC.getgid() : JnaLibC.getgid();
    }

    /** glibc 2.30 and later. */
    public static int gettid() {
        return JNI ? JniLibC.gettid() : FFM ? FfmLibC.gettid() : JnaLibC.gettid();
    }
}
