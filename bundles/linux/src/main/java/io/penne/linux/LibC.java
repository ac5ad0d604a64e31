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
 * <li>penne's own JNI library {@code libpenne-libc.so} ({@link JniLibC}),
 * built with the bundle where a C compiler is present, which binds the
 * natives of {@link LibCNatives} (188 ns for a failing {@code splice()},
 * which takes 131 from C);</li>
 * <li>{@link FfmLibC}, the Foreign Function and Memory API, when the JVM is
 * 22 or later (182 ns, but it allocates on some call sites);</li>
 * <li>JNA direct mapping of the same {@link LibCNatives} (440 ns).</li>
 * </ol>
 * The system property {@code penne.native} ({@code jni}, {@code ffm} or
 * {@code jna}) asks for one; if it cannot load, the order above applies. The
 * choice is made once, in {@code static final} flags, so the JIT drops the
 * branch in each method.
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
        if (!JNI && !FFM)
            LibCNatives.registerWithJna();
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
        return FFM ? FfmLibC.epoll_create1(flags) : LibCNatives.epoll_create1(flags);
    }

    public static int epoll_ctl(int epfd, int op, int fd, long event) {
        return FFM ? FfmLibC.epoll_ctl(epfd, op, fd, event) : LibCNatives.epoll_ctl(epfd, op, fd, event);
    }

    public static int epoll_wait(int epfd, long events, int maxevents, int timeout) {
        return FFM ? FfmLibC.epoll_wait(epfd, events, maxevents, timeout) : LibCNatives.epoll_wait(epfd, events, maxevents, timeout);
    }

    /** {@code initval} is an unsigned int in C. */
    public static int eventfd(int initval, int flags) {
        return FFM ? FfmLibC.eventfd(initval, flags) : LibCNatives.eventfd(initval, flags);
    }

    /** glibc helper: a write of the 8-byte {@code value}, taken by value, so no buffer is needed. */
    public static int eventfd_write(int fd, long value) {
        return FFM ? FfmLibC.eventfd_write(fd, value) : LibCNatives.eventfd_write(fd, value);
    }

    public static int eventfd_read(int fd, long valuePtr) {
        return FFM ? FfmLibC.eventfd_read(fd, valuePtr) : LibCNatives.eventfd_read(fd, valuePtr);
    }

    public static int timerfd_create(int clockid, int flags) {
        return FFM ? FfmLibC.timerfd_create(clockid, flags) : LibCNatives.timerfd_create(clockid, flags);
    }

    public static int timerfd_settime(int fd, int flags, long newValue, long oldValue) {
        return FFM ? FfmLibC.timerfd_settime(fd, flags, newValue, oldValue) : LibCNatives.timerfd_settime(fd, flags, newValue, oldValue);
    }

    public static int timerfd_gettime(int fd, long curValue) {
        return FFM ? FfmLibC.timerfd_gettime(fd, curValue) : LibCNatives.timerfd_gettime(fd, curValue);
    }


    // -- file descriptors --
    public static int close(int fd) {
        return FFM ? FfmLibC.close(fd) : LibCNatives.close(fd);
    }

    public static long mmap(long addr, long length, int prot, int flags, int fd, long offset) {
        return FFM ? FfmLibC.mmap(addr, length, prot, flags, fd, offset) : LibCNatives.mmap(addr, length, prot, flags, fd, offset);
    }

    public static int munmap(long addr, long length) {
        return FFM ? FfmLibC.munmap(addr, length) : LibCNatives.munmap(addr, length);
    }

    public static long read(int fd, long buf, long count) {
        return FFM ? FfmLibC.read(fd, buf, count) : LibCNatives.read(fd, buf, count);
    }

    public static long write(int fd, long buf, long count) {
        return FFM ? FfmLibC.write(fd, buf, count) : LibCNatives.write(fd, buf, count);
    }

    public static long readv(int fd, long iov, int iovcnt) {
        return FFM ? FfmLibC.readv(fd, iov, iovcnt) : LibCNatives.readv(fd, iov, iovcnt);
    }

    public static long writev(int fd, long iov, int iovcnt) {
        return FFM ? FfmLibC.writev(fd, iov, iovcnt) : LibCNatives.writev(fd, iov, iovcnt);
    }

    public static int fcntl(int fd, int cmd, long arg) {
        return FFM ? FfmLibC.fcntl(fd, cmd, arg) : LibCNatives.fcntl(fd, cmd, arg);
    }

    public static int pipe2(long fds, int flags) {
        return FFM ? FfmLibC.pipe2(fds, flags) : LibCNatives.pipe2(fds, flags);
    }

    public static long splice(int fdIn, long offIn, int fdOut, long offOut, long len, int flags) {
        return FFM ? FfmLibC.splice(fdIn, offIn, fdOut, offOut, len, flags) : LibCNatives.splice(fdIn, offIn, fdOut, offOut, len, flags);
    }

    public static int dup(int oldfd) {
        return FFM ? FfmLibC.dup(oldfd) : LibCNatives.dup(oldfd);
    }

    public static int dup2(int oldfd, int newfd) {
        return FFM ? FfmLibC.dup2(oldfd, newfd) : LibCNatives.dup2(oldfd, newfd);
    }

    public static int dup3(int oldfd, int newfd, int flags) {
        return FFM ? FfmLibC.dup3(oldfd, newfd, flags) : LibCNatives.dup3(oldfd, newfd, flags);
    }

    /** {@code path} is the address of a NUL-terminated path; {@code mode} only matters with O_CREAT/O_TMPFILE. */
    public static int open(long path, int flags, int mode) {
        return FFM ? FfmLibC.open(path, flags, mode) : LibCNatives.open(path, flags, mode);
    }

    /** {@code request} is an unsigned long in C; {@code argp} an address or a plain integer, per request. */
    public static int ioctl(int fd, long request, long argp) {
        return FFM ? FfmLibC.ioctl(fd, request, argp) : LibCNatives.ioctl(fd, request, argp);
    }


    // -- sockets --
    public static int socket(int domain, int type, int protocol) {
        return FFM ? FfmLibC.socket(domain, type, protocol) : LibCNatives.socket(domain, type, protocol);
    }

    public static int bind(int fd, long addr, int addrlen) {
        return FFM ? FfmLibC.bind(fd, addr, addrlen) : LibCNatives.bind(fd, addr, addrlen);
    }

    public static int listen(int fd, int backlog) {
        return FFM ? FfmLibC.listen(fd, backlog) : LibCNatives.listen(fd, backlog);
    }

    public static int accept4(int fd, long addr, long addrlenPtr, int flags) {
        return FFM ? FfmLibC.accept4(fd, addr, addrlenPtr, flags) : LibCNatives.accept4(fd, addr, addrlenPtr, flags);
    }

    public static int connect(int fd, long addr, int addrlen) {
        return FFM ? FfmLibC.connect(fd, addr, addrlen) : LibCNatives.connect(fd, addr, addrlen);
    }

    public static int setsockopt(int fd, int level, int optname, long optval, int optlen) {
        return FFM ? FfmLibC.setsockopt(fd, level, optname, optval, optlen) : LibCNatives.setsockopt(fd, level, optname, optval, optlen);
    }

    public static int getsockopt(int fd, int level, int optname, long optval, long optlenPtr) {
        return FFM ? FfmLibC.getsockopt(fd, level, optname, optval, optlenPtr) : LibCNatives.getsockopt(fd, level, optname, optval, optlenPtr);
    }

    public static int getsockname(int fd, long addr, long addrlenPtr) {
        return FFM ? FfmLibC.getsockname(fd, addr, addrlenPtr) : LibCNatives.getsockname(fd, addr, addrlenPtr);
    }

    public static int getpeername(int fd, long addr, long addrlenPtr) {
        return FFM ? FfmLibC.getpeername(fd, addr, addrlenPtr) : LibCNatives.getpeername(fd, addr, addrlenPtr);
    }

    public static int shutdown(int fd, int how) {
        return FFM ? FfmLibC.shutdown(fd, how) : LibCNatives.shutdown(fd, how);
    }

    public static long send(int fd, long buf, long len, int flags) {
        return FFM ? FfmLibC.send(fd, buf, len, flags) : LibCNatives.send(fd, buf, len, flags);
    }

    public static long recv(int fd, long buf, long len, int flags) {
        return FFM ? FfmLibC.recv(fd, buf, len, flags) : LibCNatives.recv(fd, buf, len, flags);
    }

    public static long sendto(int fd, long buf, long len, int flags, long addr, int addrlen) {
        return FFM ? FfmLibC.sendto(fd, buf, len, flags, addr, addrlen) : LibCNatives.sendto(fd, buf, len, flags, addr, addrlen);
    }

    public static long recvfrom(int fd, long buf, long len, int flags, long addr, long addrlenPtr) {
        return FFM ? FfmLibC.recvfrom(fd, buf, len, flags, addr, addrlenPtr) : LibCNatives.recvfrom(fd, buf, len, flags, addr, addrlenPtr);
    }

    public static long sendmsg(int fd, long msghdr, int flags) {
        return FFM ? FfmLibC.sendmsg(fd, msghdr, flags) : LibCNatives.sendmsg(fd, msghdr, flags);
    }

    public static long recvmsg(int fd, long msghdr, int flags) {
        return FFM ? FfmLibC.recvmsg(fd, msghdr, flags) : LibCNatives.recvmsg(fd, msghdr, flags);
    }

    /** {@code timeout} is a {@code struct timespec *} (0 for none). */
    public static int recvmmsg(int fd, long msgvec, int vlen, int flags, long timeout) {
        return FFM ? FfmLibC.recvmmsg(fd, msgvec, vlen, flags, timeout) : LibCNatives.recvmmsg(fd, msgvec, vlen, flags, timeout);
    }

    public static int sendmmsg(int fd, long msgvec, int vlen, int flags) {
        return FFM ? FfmLibC.sendmmsg(fd, msgvec, vlen, flags) : LibCNatives.sendmmsg(fd, msgvec, vlen, flags);
    }


    // -- namespaces (they act on the calling thread only, see NetnsThread) --
    public static int unshare(int flags) {
        return FFM ? FfmLibC.unshare(flags) : LibCNatives.unshare(flags);
    }

    public static int setns(int fd, int nstype) {
        return FFM ? FfmLibC.setns(fd, nstype) : LibCNatives.setns(fd, nstype);
    }


    // -- process identity --
    public static int getpid() {
        return FFM ? FfmLibC.getpid() : LibCNatives.getpid();
    }

    public static int getuid() {
        return FFM ? FfmLibC.getuid() : LibCNatives.getuid();
    }

    public static int getgid() {
        return FFM ? FfmLibC.getgid() : LibCNatives.getgid();
    }

    /** glibc 2.30 and later. */
    public static int gettid() {
        return FFM ? FfmLibC.gettid() : LibCNatives.gettid();
    }
}
