package io.penne.linux;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * The {@link LibC} functions bound through penne's own JNI library,
 * {@code libpenne-libc.so} ({@code src/main/c/penne_libc.c}): the fastest
 * binding, used whenever the library was built and loads.
 *
 * <p>Why: every function here is a JNI static native with only {@code int}
 * and {@code long} arguments, which HotSpot calls through a compiled native
 * wrapper at a few tens of nanoseconds above a call from C. JNA's direct
 * mapping costs about 280 ns above C and the FFM API about 60 ns (and
 * allocates for its errno capture on some call sites); penne makes 7 to 30
 * calls per request/response transaction or connection.
 *
 * <p>Theory of operation: the library is a resource of this bundle under
 * {@code native/linux-ARCH/}, built by {@code src/main/c/build.sh} when the
 * build machine has a C compiler. The static initializer copies it to a new
 * private file in penne's scratch directory (the {@code penne.native.tmpdir}
 * property, which the launcher points at the per-user runtime directory,
 * else {@code java.io.tmpdir}), loads it with {@link System#load}, and
 * deletes the file at once: the mapping stays, nothing is left behind, and a
 * bundle refreshed into a new class loader loads its own copy (the JVM binds
 * a library file to one class loader). The library's {@code JNI_OnLoad}
 * registers every native below, so a mismatch fails the load rather than a
 * later call. If anything fails, {@link #available()} is false and
 * {@link #unavailableReason()} says why; {@link LibC} then uses FFM or JNA.
 *
 * <p>errno: the C side copies errno into a per-thread slot when a call
 * fails; {@link #errno()} reads it. Successful calls leave the slot alone.
 */
final class JniLibC {
    private static final String LIBRARY = "libpenne-libc.so";

    /** Null once the library is loaded, else why it is not. */
    private static final String UNAVAILABLE = load();

    private JniLibC() {
    }

    static boolean available() {
        return UNAVAILABLE == null;
    }

    /** Why {@link #available()} is false, for {@code penne:features}; null when it is true. */
    static String unavailableReason() {
        return UNAVAILABLE;
    }

    private static String load() {
        if (!"Linux".equals(System.getProperty("os.name")) || !"64".equals(System.getProperty("sun.arch.data.model")))
            return "needs 64-bit Linux";
        String resource = "/native/linux-" + System.getProperty("os.arch") + "/" + LIBRARY;
        try (InputStream in = JniLibC.class.getResourceAsStream(resource)) {
            if (in == null)
                return LIBRARY + " was not built (no C compiler or jni.h where penne was built)";
            String dir = System.getProperty("penne.native.tmpdir", System.getProperty("java.io.tmpdir"));
            Path copy = Files.createTempFile(Path.of(dir), "libpenne-libc", ".so");
            try {
                Files.copy(in, copy, StandardCopyOption.REPLACE_EXISTING);
                System.load(copy.toString());
            } finally {
                Files.deleteIfExists(copy);
            }
            return null;
        } catch (IOException | RuntimeException | UnsatisfiedLinkError e) {
            return "cannot load " + LIBRARY + ": " + e.getMessage();
        }
    }

    /** This thread's errno as saved by its last failing call here. */
    static native int errno();

    /** The address of a direct buffer's byte 0: JNI GetDirectBufferAddress. */
    static native long address(ByteBuffer direct);

    /** A direct buffer over memory the caller owns: JNI NewDirectByteBuffer. */
    static native ByteBuffer wrap(long address, int size);

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
