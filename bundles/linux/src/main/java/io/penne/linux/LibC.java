package io.penne.linux;

import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Platform;

/**
 * The C library functions penne calls, bound with JNA direct mapping.
 *
 * <p>Theory of operation: the static initializer calls {@link Native#register}
 * against the process's C library, which makes JNA bind every {@code static
 * native} method below to the symbol of the same name via JNI
 * {@code RegisterNatives}. A call then goes Java &rarr; JNA's generic direct
 * dispatch stub &rarr; libffi &rarr; libc, without the reflection, proxy and
 * argument {@code Object[]} that interface mapping costs on every call.
 *
 * <p>Rules that keep calls allocation-free:
 * <ul>
 * <li>Only {@code int} and {@code long} parameters and results. Every pointer
 * is a native address passed as {@code long} (take it from
 * {@link NativeBuffer#address}); no {@code Pointer}, {@code Structure},
 * {@code Buffer} or array arguments, which JNA would have to wrap, pin or
 * copy on each call.</li>
 * <li>{@code size_t}/{@code ssize_t} are {@code long}; {@code socklen_t},
 * flags and file descriptors are {@code int}. This is only correct on LP64,
 * which the static initializer insists on.</li>
 * <li>No {@code throws LastErrorException}: a failing call returns -1 and the
 * caller reads errno with {@link Native#getLastError()}. JNA's dispatch code
 * saves errno into a JNA thread-local immediately after every native call,
 * direct-mapped calls included, so the value survives whatever the JVM does
 * on the way back (verified by {@code ErrnoTest}: {@code close(-1)} leaves
 * {@code EBADF} there, still intact after allocation and a GC). But JNA
 * refreshes that copy after <em>every</em> call, successful ones included,
 * from the thread's errno at that moment, which the JVM's own libc calls have
 * usually changed (a successful {@code getpid()} after {@code close(-1)} was
 * observed to leave {@code ENOENT}). So errno must be read right after the
 * call that returned -1, before any other JNA call on the same thread.</li>
 * </ul>
 *
 * <p>{@code fcntl}, {@code open} and {@code ioctl} are variadic in C; they
 * are declared here with their one optional argument fixed ({@code long} for
 * fcntl's and ioctl's, {@code int} for open's mode), which is
 * call-compatible on the SysV x86_64 and Linux AArch64 ABIs (variadic integer
 * arguments travel in the same registers as fixed ones). The other calls are
 * not variadic.
 *
 * <p>Callers outside this package should prefer {@link Sys}, which turns the
 * -1/errno convention into a single {@code -errno} result. All functions are
 * thread-safe as far as libc's are; the memory behind the address arguments
 * is the caller's business (see {@link NativeBuffer} for ownership rules).
 */
public final class LibC {
    static {
        // The data-path layouts (epoll_event, itimerspec, iovec, long for
        // size_t) assume LP64 Linux; fail loudly rather than corrupt memory.
        if (!Platform.isLinux() || Native.LONG_SIZE != 8 || Native.POINTER_SIZE != 8)
            throw new UnsupportedOperationException(
                    "penne linux bundle needs 64-bit Linux, found " + System.getProperty("os.name") + "/" + Platform.ARCH);
        Native.register(LibC.class, NativeLibrary.getInstance(Platform.C_LIBRARY_NAME));
    }

    private LibC() {
    }

    // -- epoll, eventfd, timerfd --

    public static native int epoll_create1(int flags);

    public static native int epoll_ctl(int epfd, int op, int fd, long event);

    public static native int epoll_wait(int epfd, long events, int maxevents, int timeout);

    /** {@code initval} is an unsigned int in C. */
    public static native int eventfd(int initval, int flags);

    /** glibc helper: a write of the 8-byte {@code value}, taken by value, so no buffer is needed. */
    public static native int eventfd_write(int fd, long value);

    public static native int eventfd_read(int fd, long valuePtr);

    public static native int timerfd_create(int clockid, int flags);

    public static native int timerfd_settime(int fd, int flags, long newValue, long oldValue);

    public static native int timerfd_gettime(int fd, long curValue);

    // -- file descriptors --

    public static native int close(int fd);

    public static native long mmap(long addr, long length, int prot, int flags, int fd, long offset);

    public static native int munmap(long addr, long length);

    public static native long read(int fd, long buf, long count);

    public static native long write(int fd, long buf, long count);

    public static native long readv(int fd, long iov, int iovcnt);

    public static native long writev(int fd, long iov, int iovcnt);

    public static native int fcntl(int fd, int cmd, long arg);

    public static native int pipe2(long fds, int flags);

    public static native long splice(int fdIn, long offIn, int fdOut, long offOut, long len, int flags);

    public static native int dup(int oldfd);

    public static native int dup2(int oldfd, int newfd);

    public static native int dup3(int oldfd, int newfd, int flags);

    /** {@code path} is the address of a NUL-terminated path; {@code mode} only matters with O_CREAT/O_TMPFILE. */
    public static native int open(long path, int flags, int mode);

    /** {@code request} is an unsigned long in C; {@code argp} an address or a plain integer, per request. */
    public static native int ioctl(int fd, long request, long argp);

    // -- sockets --

    public static native int socket(int domain, int type, int protocol);

    public static native int bind(int fd, long addr, int addrlen);

    public static native int listen(int fd, int backlog);

    public static native int accept4(int fd, long addr, long addrlenPtr, int flags);

    public static native int connect(int fd, long addr, int addrlen);

    public static native int setsockopt(int fd, int level, int optname, long optval, int optlen);

    public static native int getsockopt(int fd, int level, int optname, long optval, long optlenPtr);

    public static native int getsockname(int fd, long addr, long addrlenPtr);

    public static native int getpeername(int fd, long addr, long addrlenPtr);

    public static native int shutdown(int fd, int how);

    public static native long send(int fd, long buf, long len, int flags);

    public static native long recv(int fd, long buf, long len, int flags);

    public static native long sendto(int fd, long buf, long len, int flags, long addr, int addrlen);

    public static native long recvfrom(int fd, long buf, long len, int flags, long addr, long addrlenPtr);

    public static native long sendmsg(int fd, long msghdr, int flags);

    public static native long recvmsg(int fd, long msghdr, int flags);

    /** {@code timeout} is a {@code struct timespec *} (0 for none). */
    public static native int recvmmsg(int fd, long msgvec, int vlen, int flags, long timeout);

    public static native int sendmmsg(int fd, long msgvec, int vlen, int flags);

    // -- namespaces (they act on the calling thread only, see NetnsThread) --

    public static native int unshare(int flags);

    public static native int setns(int fd, int nstype);

    // -- process identity --

    public static native int getpid();

    public static native int getuid();

    public static native int getgid();

    /** glibc 2.30 and later. */
    public static native int gettid();
}
