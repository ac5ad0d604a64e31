package io.penne.linux;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.function.IntSupplier;

/**
 * A dedicated daemon thread that lives in another network namespace, and runs
 * whatever must be created there: the tap device, netlink sockets, the
 * sockets of spliced loopback flows, and the command's process.
 *
 * <p>Theory of operation: {@code unshare(CLONE_NEWNET)} and
 * {@code setns(fd, CLONE_NEWNET)} change the network namespace of the
 * <em>calling thread</em> only (a thread's namespaces live in its own
 * {@code task_struct}); the other threads of the JVM stay where they are. So
 * the factories start one fresh thread, which first moves itself
 * ({@link #createNew}: into a new, empty namespace with only a down
 * {@code lo}; {@link #join}: into an existing one), then opens
 * {@code /proc/thread-self/ns/net} as {@link #nsFd()} (which also keeps the
 * namespace alive as long as this object is open), reports to the factory and
 * serves a queue of tasks until {@link #close}. If the move fails the thread
 * ends at once and the factory throws a {@link SysException} naming the call
 * and errno (EPERM without CAP_SYS_ADMIN over the namespace's owning user
 * namespace; EBADF/EINVAL for a bad fd; ENOENT for a bad path). The thread
 * never goes back; it dies with the namespace handle.
 *
 * <p>What "created on the thread" buys: a socket belongs for life to the
 * namespace of the thread that created it, whichever thread later reads,
 * writes or polls it; the same holds for a {@code NETLINK_ROUTE} socket and
 * for a tap fd (the interface is created in the creating thread's namespace).
 * So {@link #call} returns file descriptors that the event-loop thread uses
 * without ever switching namespace. Beware the converse: a thread
 * <em>started</em> from inside {@link #call} (or a JDK helper thread started
 * lazily there) also inherits the namespace, and will open its sockets in it
 * ({@code NetnsThreadTest} shows this); keep task bodies to system calls.
 *
 * <p>Processes: {@link #spawn} calls {@link ProcessBuilder#start()} on this
 * thread. The JDK forks from the calling thread (on Linux with glibc,
 * {@code posix_spawn}, i.e. {@code clone(CLONE_VM|CLONE_VFORK)} of the
 * calling task, then {@code jspawnhelper}; the older VFORK and FORK launch
 * mechanisms fork the calling thread too), and a child copies the namespaces
 * of the task that created it, so the command starts inside the namespace;
 * {@code NetnsThreadTest} checks this ({@code /proc/net/dev} of a child
 * spawned here lists the tap, one spawned from another thread does not). A
 * side effect: the first {@code start()} in a JVM may start the JDK's
 * "process reaper" thread from here, which then sits (in {@code waitpid}) in
 * this namespace and pins it until the reaper pool retires it; harmless, as
 * the reaper opens no sockets.
 *
 * <p>Rootless design (the full story is docs/namespaces.md): pasta enters a
 * new user namespace itself, but a JVM cannot, because
 * {@code unshare(CLONE_NEWUSER)} and {@code setns} into a user namespace are
 * refused (EINVAL) in a multi-threaded process, and a JVM has a dozen threads
 * before {@code main}. Network namespaces have no such rule. So an
 * unprivileged penne is started by {@code bin/penne} under
 * {@code unshare --user --map-root-user}: the whole JVM is root in its own
 * user namespace yet still in the host's network namespace (its ordinary
 * sockets reach the world), and this class then needs only
 * CAP_SYS_ADMIN in that user namespace to create the command's network
 * namespace. With {@code --netns PATH} (podman), the target namespace is
 * owned by the user namespace podman runs us in, so {@link #join} works the
 * same way; as real root nothing special is needed. This class never touches
 * user namespaces. (Checked by hand on kernel 6.18: a JVM run as uid 65534
 * under {@code unshare --user --map-root-user} gets a new namespace, a tap
 * in it and a spawned {@code ip}; without the user namespace,
 * {@link #createNew} fails with EPERM.)
 *
 * <p>Thread rules: all methods may be called from any thread. {@link #call}
 * and {@link #spawn} are serialised on the one namespace thread and block the
 * caller until done (interrupts are deferred until then, because an abandoned
 * task could leak the descriptor it creates). Called from the namespace thread
 * itself they run inline. Setup path only: each call allocates a task.
 */
public final class NetnsThread implements AutoCloseable {
    /** Queue marker that ends the loop; never run. */
    private static final FutureTask<Void> STOP = new FutureTask<>(() -> null);

    private final String name;
    private final Thread thread;
    private final BlockingQueue<FutureTask<?>> tasks = new LinkedBlockingQueue<>();
    private final CountDownLatch started = new CountDownLatch(1);
    private final IntSupplier enter;
    private final String enterCall;

    // Written by the namespace thread before started.countDown(), read after await().
    private int tid;
    private volatile int nsFd = -1;
    private String failedCall;
    private int failedErrno;
    private Throwable failedWith;

    private boolean closed; // guarded by this

    private NetnsThread(String name, IntSupplier enter, String enterCall) {
        this.name = name;
        this.enter = enter;
        this.enterCall = enterCall;
        this.thread = new Thread(this::run, "penne-netns-" + name);
        thread.setDaemon(true);
    }

    /**
     * Starts a thread in a new, empty network namespace
     * ({@code unshare(CLONE_NEWNET)}). {@code name} is for thread names and
     * messages. Throws {@link SysException} (EPERM when unprivileged) with no
     * thread left behind.
     */
    public static NetnsThread createNew(String name) {
        return start(new NetnsThread(name, () -> Sys.unshare(Sys.CLONE_NEWNET), "unshare(CLONE_NEWNET)"));
    }

    /**
     * Starts a thread in the network namespace {@code nsFd} refers to
     * ({@code setns(nsFd, CLONE_NEWNET)}). The caller keeps ownership of
     * {@code nsFd}; it may be closed once this returns. Throws
     * {@link SysException} naming setns (EBADF, EINVAL for an fd that is not a
     * network namespace, EPERM) with no thread left behind.
     */
    public static NetnsThread join(String name, int nsFd) {
        return start(new NetnsThread(name, () -> Sys.setns(nsFd, Sys.CLONE_NEWNET),
                "setns(" + nsFd + ", CLONE_NEWNET)"));
    }

    /**
     * As {@link #join(String, int)}, for a path such as
     * {@code /proc/PID/ns/net} or {@code /run/netns/NAME}. The path is opened
     * (read-only, close-on-exec) by the calling thread, so {@code thread-self}
     * paths mean the caller, and closed again once the thread has joined.
     * Throws {@link SysException} naming open (ENOENT, EACCES) or setns.
     */
    public static NetnsThread join(String name, String path) {
        int fd = Sys.check(Sys.open(path, Sys.O_RDONLY | Sys.O_CLOEXEC, 0, NativeBuffer.allocate(path.length() * 3 + 1)),
                "open(" + path + ")");
        try {
            return start(new NetnsThread(name, () -> Sys.setns(fd, Sys.CLONE_NEWNET),
                    "setns(" + path + ", CLONE_NEWNET)"));
        } finally {
            Sys.close(fd);
        }
    }

    private static NetnsThread start(NetnsThread t) {
        t.thread.start();
        boolean interrupted = false;
        while (true) {
            try {
                t.started.await();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (t.failedCall != null || t.failedWith != null) {
            // The thread has already returned from run(); wait for it so that
            // "no thread left running" holds when the exception arrives.
            interrupted |= joinUninterruptibly(t.thread);
            if (interrupted)
                Thread.currentThread().interrupt();
            if (t.failedWith instanceof RuntimeException e)
                throw e;
            if (t.failedWith instanceof Error e)
                throw e;
            if (t.failedWith != null)
                throw new CompletionException(t.failedWith);
            // Built here, so the stack trace shows the caller.
            throw new SysException(t.failedCall, t.failedErrno);
        }
        if (interrupted)
            Thread.currentThread().interrupt();
        return t;
    }

    /** The namespace thread's body: move, report, serve, exit. */
    private void run() {
        try {
            int r = enter.getAsInt();
            if (r < 0) {
                fail(enterCall, -r);
                return;
            }
            int fd = Namespaces.openThreadNetns(NativeBuffer.allocate(64));
            if (fd < 0) {
                fail("open(" + Namespaces.THREAD_NETNS + ")", -fd);
                return;
            }
            tid = Sys.gettid();
            nsFd = fd;
        } catch (Throwable t) {
            // E.g. LibC failing to load: the factory must not wait forever.
            failedWith = t;
            started.countDown();
            return;
        }
        started.countDown();
        while (true) {
            FutureTask<?> task;
            try {
                task = tasks.take();
            } catch (InterruptedException e) {
                continue; // only close() ends this thread
            }
            if (task == STOP)
                return;
            task.run(); // FutureTask keeps whatever the task throws for its caller
        }
    }

    private void fail(String call, int errno) {
        failedCall = call;
        failedErrno = errno;
        started.countDown();
    }

    /**
     * Runs {@code task} on the namespace thread and returns its result. What
     * the task throws is rethrown as is if unchecked (its stack trace is the
     * namespace thread's), an {@link IOException} wrapped in
     * {@link UncheckedIOException}, any other checked exception in
     * {@link CompletionException}. Throws {@link IllegalStateException} once
     * closed.
     */
    public <T> T call(Callable<T> task) {
        try {
            return invoke(task);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (Exception e) {
            throw new CompletionException(e);
        }
    }

    /**
     * Starts {@code pb}'s process from the namespace thread, so that it runs in
     * the namespace (see the class comment); {@link IOException}s from
     * {@link ProcessBuilder#start()} arrive unwrapped.
     */
    public Process spawn(ProcessBuilder pb) throws IOException {
        try {
            return invoke(pb::start);
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Exception e) {
            throw new CompletionException(e);
        }
    }

    private <T> T invoke(Callable<T> task) throws Exception {
        if (Thread.currentThread() == thread)
            return task.call();
        FutureTask<T> f = new FutureTask<>(task);
        synchronized (this) {
            // Checked and queued under the lock so nothing lands behind STOP.
            if (closed)
                throw new IllegalStateException(this + " is closed");
            tasks.add(f);
        }
        boolean interrupted = false;
        try {
            while (true) {
                try {
                    return f.get();
                } catch (InterruptedException e) {
                    interrupted = true;
                } catch (ExecutionException e) {
                    Throwable cause = e.getCause();
                    if (cause instanceof Exception ex)
                        throw ex;
                    if (cause instanceof Error err)
                        throw err;
                    throw e;
                }
            }
        } finally {
            if (interrupted)
                Thread.currentThread().interrupt();
        }
    }

    /**
     * A read-only, close-on-exec descriptor of the namespace, owned by this
     * object (valid until {@link #close}; do not close it). Give it to
     * {@link #join(String, int)} or to another process as {@code setns}
     * target. -1 after close.
     */
    public int nsFd() {
        return nsFd;
    }

    /** The kernel thread id of the namespace thread (an entry of /proc/self/task). */
    public int tid() {
        return tid;
    }

    /** The name given to the factory. */
    public String name() {
        return name;
    }

    /**
     * Lets queued tasks finish, ends the thread, waits for it (unless called
     * from it) and closes {@link #nsFd()}. Descriptors created through
     * {@link #call} are the caller's and stay open; the namespace lives on as
     * long as any of them (or a process in it) does. Idempotent.
     */
    @Override
    public void close() {
        synchronized (this) {
            if (closed)
                return;
            closed = true;
            tasks.add(STOP);
        }
        if (Thread.currentThread() != thread && joinUninterruptibly(thread))
            Thread.currentThread().interrupt();
        int fd = nsFd;
        nsFd = -1;
        if (fd >= 0)
            Sys.close(fd);
    }

    /** Joins {@code t}, deferring interrupts; returns whether one arrived. */
    private static boolean joinUninterruptibly(Thread t) {
        boolean interrupted = false;
        while (true) {
            try {
                t.join();
                return interrupted;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
    }

    @Override
    public String toString() {
        return "NetnsThread[" + name + ", tid " + tid + "]";
    }
}
