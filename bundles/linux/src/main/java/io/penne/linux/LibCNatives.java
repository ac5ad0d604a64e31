package io.penne.linux;

import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Platform;

/**
 * The {@link LibC} functions as {@code static native} methods, bound once
 * per JVM by one of two means ({@link LibC} chooses):
 * <ul>
 * <li>penne's JNI library: its {@code JNI_OnLoad} registers its own C
 * wrappers for every method here ({@link JniLibC} loads it);</li>
 * <li>JNA direct mapping, the last resort ({@link #registerWithJna}):
 * {@link Native#register} binds every method to the C library symbol of
 * the same name via JNI {@code RegisterNatives}. A call then goes Java
 * &rarr; JNA's generic direct dispatch stub &rarr; libffi &rarr; libc,
 * without the reflection, proxy and argument {@code Object[]} that
 * interface mapping costs on every call. JNA's dispatch code saves errno
 * into a JNA thread-local right after every native call, which
 * {@link Native#getLastError()} reads (verified by {@code ErrnoTest}).</li>
 * </ul>
 * One set of declarations serves both, so the two bindings cannot drift
 * apart. The class has no static initializer: binding is its user's act.
 */
final class LibCNatives {
    private LibCNatives() {
    }

    /** Binds every method here to libc through JNA (once per JVM, only if the JNI library did not). */
    static void registerWithJna() {
        // The data-path layouts (epoll_event, itimerspec, iovec, long for
        // size_t) assume LP64 Linux; fail loudly rather than corrupt memory.
        if (!Platform.isLinux() || Native.LONG_SIZE != 8 || Native.POINTER_SIZE != 8)
            throw new UnsupportedOperationException(
                    "penne linux bundle needs 64-bit Linux, found " + System.getProperty("os.name") + "/" + Platform.ARCH);
        Native.register(LibCNatives.class, NativeLibrary.getInstance(Platform.C_LIBRARY_NAME));
    }

    // -- epoll, eventfd, timerfd --
    static native int epoll_create1(int flags);
    static native int epoll_ctl(int epfd, int op, int fd, long event);
    static native int epoll_wait(int epfd, long events, int maxevents, int timeout);
    static native int eventfd(int initval, int flags);
    static native int eventfd_write(int fd, long value);
    static native int eventfd_read(int fd, long valuePtr);
    static native int timerfd_create(int clockid, int flags);
    static native int timerfd_settime(int fd, int flags, long newValue, long oldValue);
    static native int timerfd_gettime(int fd, long curValue);

    // -- file descriptors --
    static native int close(int fd);
    static native long mmap(long addr, long length, int prot, int flags, int fd, long offset);
    static native int munmap(long addr, long length);
    static native long read(int fd, long buf, long count);
    static native long write(int fd, long buf, long count);
    static native long readv(int fd, long iov, int iovcnt);
    static native long writev(int fd, long iov, int iovcnt);
    static native int fcntl(int fd, int cmd, long arg);
    static native int pipe2(long fds, int flags);
    static native long splice(int fdIn, long offIn, int fdOut, long offOut, long len, int flags);
    static native int dup(int oldfd);
    static native int dup2(int oldfd, int newfd);
    static native int dup3(int oldfd, int newfd, int flags);
    static native int open(long path, int flags, int mode);
    static native int ioctl(int fd, long request, long argp);

    // -- sockets --
    static native int socket(int domain, int type, int protocol);
    static native int bind(int fd, long addr, int addrlen);
    static native int listen(int fd, int backlog);
    static native int accept4(int fd, long addr, long addrlenPtr, int flags);
    static native int connect(int fd, long addr, int addrlen);
    static native int setsockopt(int fd, int level, int optname, long optval, int optlen);
    static native int getsockopt(int fd, int level, int optname, long optval, long optlenPtr);
    static native int getsockname(int fd, long addr, long addrlenPtr);
    static native int getpeername(int fd, long addr, long addrlenPtr);
    static native int shutdown(int fd, int how);
    static native long send(int fd, long buf, long len, int flags);
    static native long recv(int fd, long buf, long len, int flags);
    static native long sendto(int fd, long buf, long len, int flags, long addr, int addrlen);
    static native long recvfrom(int fd, long buf, long len, int flags, long addr, long addrlenPtr);
    static native long sendmsg(int fd, long msghdr, int flags);
    static native long recvmsg(int fd, long msghdr, int flags);
    static native int recvmmsg(int fd, long msgvec, int vlen, int flags, long timeout);
    static native int sendmmsg(int fd, long msgvec, int vlen, int flags);

    // -- namespaces (they act on the calling thread only, see NetnsThread) --
    static native int unshare(int flags);
    static native int setns(int fd, int nstype);

    // -- process identity --
    static native int getpid();
    static native int getuid();
    static native int getgid();
    static native int gettid();
}
