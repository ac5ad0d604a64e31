package io.penne.linux;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.reflect.Array;
import java.lang.reflect.Method;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Optional;

/**
 * The {@link LibC} functions bound with the Foreign Function and Memory API
 * of JDK 22 and later: the binding used when penne's JNI library
 * ({@link JniLibC}) was not built or cannot load and the JVM has the API.
 *
 * <p>Why: a JNA direct-mapped call costs about 280 ns more than the same call
 * from C on this project's machines (JNA's generic dispatch stub, libffi, and
 * its errno bookkeeping); an FFM downcall costs about 50 ns more. penne's data
 * path makes a handful of calls per packet or transaction, so on a
 * request/response exchange the difference is a few percent of the rate.
 *
 * <p>Theory of operation: penne is compiled for Java 17, where
 * {@code java.lang.foreign} does not exist, so the API is reached by
 * reflection once, in the static initializer: for every function a downcall
 * handle is made from a descriptor of {@code JAVA_INT}/{@code JAVA_LONG}
 * only (pointers travel as {@code long} addresses, exactly as with JNA, and
 * are passed in the same registers as the C pointer types). Calls then go
 * through {@code invokeExact} on {@code static final} handles, which the JIT
 * compiles to a direct native call; no reflection or allocation remains on
 * the call path.
 *
 * <p>errno: the JVM may change errno between a downcall's return and the
 * caller's next statement, so every handle is linked with
 * {@code captureCallState("errno")}, which copies errno into a small native
 * segment right after the call. The segment is per thread (a
 * {@link ThreadLocal}); the handle gets it by itself (the segment argument is
 * folded in with {@link MethodHandles#foldArguments}), so the functions here
 * keep JNA's signatures. As with JNA, the saved value is refreshed by every
 * call, successful or not: read it with {@link #errno()} right after the call
 * that returned -1.
 *
 * <p>Limits: no handle is {@code critical}, because some calls block
 * (epoll_wait, netlink receives), and a critical call would hold off every
 * safepoint of the JVM while it waits. If anything is missing (an older JDK,
 * a symbol, native access refused), {@link #available()} is false and
 * {@link LibC} stays on JNA.
 *
 * <p>Known defect: the JDK's errno capture slices the segment it is given on
 * every call ({@code SharedUtils.checkCaptureSegment}); in penne's loop the
 * JIT does not always remove that 40-byte object, so on this binding the
 * data path allocates (about 6 bytes per frame in {@code bench/alloc.sh}).
 * The JNI binding has no such cost, which is one reason it comes first.
 */
final class FfmLibC {
    private static final Class<?> I = int.class, J = long.class;

    /** Why the FFM API could not be set up (no initializer: {@link Setup#create} sets it during SETUP's). */
    private static String setupError;

    /** Reflective handles on the FFM API, or null when it is unusable; set up first. */
    private static final Setup SETUP = Setup.create();

    /** Per-thread errno capture: the segment passed to the calls and a buffer view to read it. */
    private static final ThreadLocal<ErrnoSlot> ERRNO = ThreadLocal.withInitial(ErrnoSlot::new);

    private static final MethodHandle EPOLL_CREATE1 = handle("epoll_create1", I, I);
    private static final MethodHandle EPOLL_CTL = handle("epoll_ctl", I, I, I, I, J);
    private static final MethodHandle EPOLL_WAIT = handle("epoll_wait", I, I, J, I, I);
    private static final MethodHandle EVENTFD = handle("eventfd", I, I, I);
    private static final MethodHandle EVENTFD_WRITE = handle("eventfd_write", I, I, J);
    private static final MethodHandle EVENTFD_READ = handle("eventfd_read", I, I, J);
    private static final MethodHandle TIMERFD_CREATE = handle("timerfd_create", I, I, I);
    private static final MethodHandle TIMERFD_SETTIME = handle("timerfd_settime", I, I, I, J, J);
    private static final MethodHandle TIMERFD_GETTIME = handle("timerfd_gettime", I, I, J);
    private static final MethodHandle CLOSE = handle("close", I, I);
    private static final MethodHandle MMAP = handle("mmap", J, J, J, I, I, I, J);
    private static final MethodHandle MUNMAP = handle("munmap", I, J, J);
    private static final MethodHandle READ = handle("read", J, I, J, J);
    private static final MethodHandle WRITE = handle("write", J, I, J, J);
    private static final MethodHandle READV = handle("readv", J, I, J, I);
    private static final MethodHandle WRITEV = handle("writev", J, I, J, I);
    private static final MethodHandle FCNTL = variadic("fcntl", 2, I, I, I, J);
    private static final MethodHandle PIPE2 = handle("pipe2", I, J, I);
    private static final MethodHandle SPLICE = handle("splice", J, I, J, I, J, J, I);
    private static final MethodHandle DUP = handle("dup", I, I);
    private static final MethodHandle DUP2 = handle("dup2", I, I, I);
    private static final MethodHandle DUP3 = handle("dup3", I, I, I, I);
    private static final MethodHandle OPEN = variadic("open", 2, I, J, I, I);
    private static final MethodHandle IOCTL = variadic("ioctl", 2, I, I, J, J);
    private static final MethodHandle SOCKET = handle("socket", I, I, I, I);
    private static final MethodHandle BIND = handle("bind", I, I, J, I);
    private static final MethodHandle LISTEN = handle("listen", I, I, I);
    private static final MethodHandle ACCEPT4 = handle("accept4", I, I, J, J, I);
    private static final MethodHandle CONNECT = handle("connect", I, I, J, I);
    private static final MethodHandle SETSOCKOPT = handle("setsockopt", I, I, I, I, J, I);
    private static final MethodHandle GETSOCKOPT = handle("getsockopt", I, I, I, I, J, J);
    private static final MethodHandle GETSOCKNAME = handle("getsockname", I, I, J, J);
    private static final MethodHandle GETPEERNAME = handle("getpeername", I, I, J, J);
    private static final MethodHandle SHUTDOWN = handle("shutdown", I, I, I);
    private static final MethodHandle SEND = handle("send", J, I, J, J, I);
    private static final MethodHandle RECV = handle("recv", J, I, J, J, I);
    private static final MethodHandle SENDTO = handle("sendto", J, I, J, J, I, J, I);
    private static final MethodHandle RECVFROM = handle("recvfrom", J, I, J, J, I, J, J);
    private static final MethodHandle SENDMSG = handle("sendmsg", J, I, J, I);
    private static final MethodHandle RECVMSG = handle("recvmsg", J, I, J, I);
    private static final MethodHandle RECVMMSG = handle("recvmmsg", I, I, J, I, I, J);
    private static final MethodHandle SENDMMSG = handle("sendmmsg", I, I, J, I, I);
    private static final MethodHandle UNSHARE = handle("unshare", I, I);
    private static final MethodHandle SETNS = handle("setns", I, I, I);
    private static final MethodHandle GETPID = handle("getpid", I);
    private static final MethodHandle GETUID = handle("getuid", I);
    private static final MethodHandle GETGID = handle("getgid", I);
    private static final MethodHandle GETTID = handle("gettid", I);

    private FfmLibC() {
    }

    /** Whether every function was bound; false leaves LibC on JNA. */
    static boolean available() {
        return SETUP != null && SETUP.failed == null;
    }

    /** Why {@link #available()} is false, for {@code penne:features}; null when it is true. */
    static String unavailableReason() {
        return SETUP == null ? setupError : SETUP.failed;
    }

    /** errno saved by this thread's last call through a handle here. */
    static int errno() {
        return ERRNO.get().view.getInt(SETUP.errnoOffset);
    }

    private static MethodHandle handle(String name, Class<?> ret, Class<?>... params) {
        return variadic(name, -1, ret, params);
    }

    /** A C function whose parameters from index {@code firstVariadic} on are the "..." (-1: none). */
    private static MethodHandle variadic(String name, int firstVariadic, Class<?> ret, Class<?>... params) {
        if (SETUP == null || SETUP.failed != null)
            return null;
        try {
            return SETUP.downcall(name, firstVariadic, ret, params);
        } catch (Throwable t) {
            SETUP.failed = "cannot bind " + name + ": " + t;
            return null;
        }
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException)
            return (RuntimeException) t;
        if (t instanceof Error)
            throw (Error) t;
        return new IllegalStateException(t);
    }

    /** Called by the folded handles: this thread's capture segment (a MemorySegment). */
    @SuppressWarnings("unused")
    private static Object errnoSegment() {
        return ERRNO.get().segment;
    }

    /** A thread's errno capture segment, freed by the GC with the thread's ThreadLocal entry. */
    private static final class ErrnoSlot {
        final Object segment;
        final ByteBuffer view;

        ErrnoSlot() {
            try {
                Object arena = SETUP.ofAuto.invoke(null);
                segment = SETUP.allocate.invoke(arena, SETUP.captureLayout);
                view = ((ByteBuffer) SETUP.asByteBuffer.invoke(segment)).order(ByteOrder.nativeOrder());
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException("cannot allocate an errno capture segment", e);
            }
        }
    }

    /** The reflective entry points into java.lang.foreign, found once. */
    private static final class Setup {
        final Object linker, lookup, captureOption, captureLayout, jint, jlong;
        final Class<?> memorySegment, memoryLayout, functionDescriptor, option;
        final Method find, downcallHandle, of, ofAuto, allocate, asByteBuffer, firstVariadicArg;
        final int errnoOffset;
        final MethodHandle errnoSegment;
        volatile String failed;

        private Setup() throws ReflectiveOperationException {
            Class<?> linkerC = Class.forName("java.lang.foreign.Linker");
            Class<?> lookupC = Class.forName("java.lang.foreign.SymbolLookup");
            Class<?> valueLayout = Class.forName("java.lang.foreign.ValueLayout");
            Class<?> arena = Class.forName("java.lang.foreign.Arena");
            Class<?> pathElement = Class.forName("java.lang.foreign.MemoryLayout$PathElement");
            memorySegment = Class.forName("java.lang.foreign.MemorySegment");
            memoryLayout = Class.forName("java.lang.foreign.MemoryLayout");
            functionDescriptor = Class.forName("java.lang.foreign.FunctionDescriptor");
            option = Class.forName("java.lang.foreign.Linker$Option");
            linker = linkerC.getMethod("nativeLinker").invoke(null);
            lookup = linkerC.getMethod("defaultLookup").invoke(linker);
            find = lookupC.getMethod("find", String.class);
            jint = valueLayout.getField("JAVA_INT").get(null);
            jlong = valueLayout.getField("JAVA_LONG").get(null);
            Class<?> layoutArray = Array.newInstance(memoryLayout, 0).getClass();
            of = functionDescriptor.getMethod("of", memoryLayout, layoutArray);
            captureOption = option.getMethod("captureCallState", String[].class).invoke(null, (Object) new String[] {"errno"});
            captureLayout = option.getMethod("captureStateLayout").invoke(null);
            firstVariadicArg = option.getMethod("firstVariadicArg", int.class);
            Object errnoPath = Array.newInstance(pathElement, 1);
            Array.set(errnoPath, 0, pathElement.getMethod("groupElement", String.class).invoke(null, "errno"));
            errnoOffset = (int) (long) memoryLayout.getMethod("byteOffset", errnoPath.getClass()).invoke(captureLayout, errnoPath);
            downcallHandle = linkerC.getMethod("downcallHandle", memorySegment, functionDescriptor,
                    Array.newInstance(option, 0).getClass());
            ofAuto = arena.getMethod("ofAuto");
            allocate = arena.getMethod("allocate", memoryLayout);
            asByteBuffer = memorySegment.getMethod("asByteBuffer");
            errnoSegment = MethodHandles.lookup().findStatic(FfmLibC.class, "errnoSegment", MethodType.methodType(Object.class))
                    .asType(MethodType.methodType(memorySegment));
        }

        static Setup create() {
            if (Runtime.version().feature() < 22) {
                setupError = "JDK " + Runtime.version().feature() + " (FFM needs 22+)";
                return null;
            }
            try {
                return new Setup();
            } catch (ReflectiveOperationException | RuntimeException e) {
                setupError = "FFM setup failed: " + e;
                return null;
            }
        }

        private Object layout(Class<?> type) {
            return type == long.class ? jlong : jint;
        }

        /** {@code name}'s downcall handle, of type (params)ret, errno captured into the thread's segment. */
        MethodHandle downcall(String name, int firstVariadic, Class<?> ret, Class<?>... params)
                throws ReflectiveOperationException {
            Object symbol = ((Optional<?>) find.invoke(lookup, name))
                    .orElseThrow(() -> new NoSuchMethodException("no symbol " + name));
            Object layouts = Array.newInstance(memoryLayout, params.length);
            for (int i = 0; i < params.length; i++)
                Array.set(layouts, i, layout(params[i]));
            Object descriptor = of.invoke(null, layout(ret), layouts);
            Object options = Array.newInstance(option, firstVariadic < 0 ? 1 : 2);
            Array.set(options, 0, captureOption);
            if (firstVariadic >= 0)
                Array.set(options, 1, firstVariadicArg.invoke(null, firstVariadic));
            MethodHandle raw = (MethodHandle) downcallHandle.invoke(linker, symbol, descriptor, options);
            // raw: (MemorySegment capture, params...) ret; supply the capture segment ourselves.
            return MethodHandles.foldArguments(raw, errnoSegment);
        }
    }


    // -- epoll, eventfd, timerfd --

    static int epoll_create1(int flags) {
        try {
            return (int) EPOLL_CREATE1.invokeExact(flags);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static int epoll_ctl(int epfd, int op, int fd, long event) {
        try {
            return (int) EPOLL_CTL.invokeExact(epfd, op, fd, event);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static int epoll_wait(int epfd, long events, int maxevents, int timeout) {
        try {
            return (int) EPOLL_WAIT.invokeExact(epfd, events, maxevents, timeout);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static int eventfd(int initval, int flags) {
        try {
            return (int) EVENTFD.invokeExact(initval, flags);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static int eventfd_write(int fd, long value) {
        try {
            return (int) EVENTFD_WRITE.invokeExact(fd, value);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static int eventfd_read(int fd, long valuePtr) {
        try {
            return (int) EVENTFD_READ.invokeExact(fd, valuePtr);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static int timerfd_create(int clockid, int flags) {
        try {
            return (int) TIMERFD_CREATE.invokeExact(clockid, flags);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static int timerfd_settime(int fd, int flags, long newValue, long oldValue) {
        try {
            return (int) TIMERFD_SETTIME.invokeExact(fd, flags, newValue, oldValue);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static int timerfd_gettime(int fd, long curValue) {
        try {
            return (int) TIMERFD_GETTIME.invokeExact(fd, curValue);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }


    // -- file descriptors --

    static int close(int fd) {
        try {
            return (int) CLOSE.invokeExact(fd);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static long mmap(long addr, long length, int prot, int flags, int fd, long offset) {
        try {
            return (long) MMAP.invokeExact(addr, length, prot, flags, fd, offset);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static int munmap(long addr, long length) {
        try {
            return (int) MUNMAP.invokeExact(addr, length);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static long read(int fd, long buf, long count) {
        try {
            return (long) READ.invokeExact(fd, buf, count);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static long write(int fd, long buf, long count) {
        try {
            return (long) WRITE.invokeExact(fd, buf, count);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static long readv(int fd, long iov, int iovcnt) {
        try {
            return (long) READV.invokeExact(fd, iov, iovcnt);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static long writev(int fd, long iov, int iovcnt) {
        try {
            return (long) WRITEV.invokeExact(fd, iov, iovcnt);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static int fcntl(int fd, int cmd, long arg) {
        try {
            return (int) FCNTL.invokeExact(fd, cmd, arg);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static int pipe2(long fds, int flags) {
        try {
            return (int) PIPE2.invokeExact(fds, flags);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static long splice(int fdIn, long offIn, int fdOut, long offOut, long len, int flags) {
        try {
            return (long) SPLICE.invokeExact(fdIn, offIn, fdOut, offOut, len, flags);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static int dup(int oldfd) {
        try {
            return (int) DUP.invokeExact(oldfd);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static int dup2(int oldfd, int newfd) {
        try {
            return (int) DUP2.invokeExact(oldfd, newfd);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static int dup3(int oldfd, int newfd, int flags) {
        try {
            return (int) DUP3.invokeExact(oldfd, newfd, flags);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static int open(long path, int flags, int mode) {
        try {
            return (int) OPEN.invokeExact(path, flags, mode);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static int ioctl(int fd, long request, long argp) {
        try {
            return (int) IOCTL.invokeExact(fd, request, argp);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }


    // -- sockets --

    static int socket(int domain, int type, int protocol) {
        try {
            return (int) SOCKET.invokeExact(domain, type, protocol);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static int bind(int fd, long addr, int addrlen) {
        try {
            return (int) BIND.invokeExact(fd, addr, addrlen);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static int listen(int fd, int backlog) {
        try {
            return (int) LISTEN.invokeExact(fd, backlog);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static int accept4(int fd, long addr, long addrlenPtr, int flags) {
        try {
            return (int) ACCEPT4.invokeExact(fd, addr, addrlenPtr, flags);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static int connect(int fd, long addr, int addrlen) {
        try {
            return (int) CONNECT.invokeExact(fd, addr, addrlen);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static int setsockopt(int fd, int level, int optname, long optval, int optlen) {
        try {
            return (int) SETSOCKOPT.invokeExact(fd, level, optname, optval, optlen);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static int getsockopt(int fd, int level, int optname, long optval, long optlenPtr) {
        try {
            return (int) GETSOCKOPT.invokeExact(fd, level, optname, optval, optlenPtr);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static int getsockname(int fd, long addr, long addrlenPtr) {
        try {
            return (int) GETSOCKNAME.invokeExact(fd, addr, addrlenPtr);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static int getpeername(int fd, long addr, long addrlenPtr) {
        try {
            return (int) GETPEERNAME.invokeExact(fd, addr, addrlenPtr);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static int shutdown(int fd, int how) {
        try {
            return (int) SHUTDOWN.invokeExact(fd, how);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static long send(int fd, long buf, long len, int flags) {
        try {
            return (long) SEND.invokeExact(fd, buf, len, flags);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static long recv(int fd, long buf, long len, int flags) {
        try {
            return (long) RECV.invokeExact(fd, buf, len, flags);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static long sendto(int fd, long buf, long len, int flags, long addr, int addrlen) {
        try {
            return (long) SENDTO.invokeExact(fd, buf, len, flags, addr, addrlen);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static long recvfrom(int fd, long buf, long len, int flags, long addr, long addrlenPtr) {
        try {
            return (long) RECVFROM.invokeExact(fd, buf, len, flags, addr, addrlenPtr);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static long sendmsg(int fd, long msghdr, int flags) {
        try {
            return (long) SENDMSG.invokeExact(fd, msghdr, flags);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static long recvmsg(int fd, long msghdr, int flags) {
        try {
            return (long) RECVMSG.invokeExact(fd, msghdr, flags);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static int recvmmsg(int fd, long msgvec, int vlen, int flags, long timeout) {
        try {
            return (int) RECVMMSG.invokeExact(fd, msgvec, vlen, flags, timeout);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static int sendmmsg(int fd, long msgvec, int vlen, int flags) {
        try {
            return (int) SENDMMSG.invokeExact(fd, msgvec, vlen, flags);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }


    // -- namespaces (they act on the calling thread only, see NetnsThread) --

    static int unshare(int flags) {
        try {
            return (int) UNSHARE.invokeExact(flags);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static int setns(int fd, int nstype) {
        try {
            return (int) SETNS.invokeExact(fd, nstype);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }


    // -- process identity --

    static int getpid() {
        try {
            return (int) GETPID.invokeExact();
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static int getuid() {
        try {
            return (int) GETUID.invokeExact();
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static int getgid() {
        try {
            return (int) GETGID.invokeExact();
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static int gettid() {
        try {
            return (int) GETTID.invokeExact();
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }
}
