package io.penne.core;

import io.penne.api.EpollRef;
import io.penne.api.EventLoop;
import io.penne.linux.Epoll;
import io.penne.linux.Errno;
import io.penne.linux.EventFd;
import io.penne.linux.Sys;
import io.penne.linux.TimerFd;
import java.lang.System.Logger.Level;
import java.util.HashMap;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The loop thread of one instance.
 *
 * <p><b>Theory of operation.</b> One thread waits in {@code epoll_wait} on an
 * epoll set that holds, besides the handlers' file descriptors, two of its
 * own: an eventfd that other threads signal after queueing a task, and a
 * timerfd armed for the earliest scheduled task. A cycle is: wait; dispatch
 * every ready event to the {@link Sink} (the instance) by the type in its
 * reference; run queued tasks; run due scheduled tasks; let the sink do its
 * end-of-cycle work (the flow table's deferred scan); re-arm the timer.
 *
 * <p>The loop keeps, per file descriptor, the reference and event mask that
 * were registered, so that the instance can park all descriptors of a type
 * (when its handler goes away) and restore them later without the handler's
 * help. A parked descriptor is left in the epoll set with an empty, one-shot
 * mask: level-triggered readiness then cannot spin the loop, and the
 * always-reported EPOLLHUP/EPOLLERR fire at most once. When the loop stops,
 * every descriptor still registered is closed: they belong to the instance.
 *
 * <p><b>Limits.</b> At most {@value #MAX_EVENTS} events per wait; file
 * descriptors below 2^24 (see {@link EpollRef}); scheduled tasks are for
 * control work and allocate, per-packet timing uses timerfds of its own.
 */
final class EventLoopImpl implements EventLoop, Runnable {
    static final int MAX_EVENTS = 256;
    private static final System.Logger LOG = System.getLogger(EventLoopImpl.class.getName());

    /** What the loop calls back into: the instance. */
    interface Sink {
        void dispatch(int type, long ref, int events);

        void endOfCycle(long now);
    }

    private final String name;
    private final Sink sink;
    private final Epoll epoll;
    private final EventFd wake;
    private final TimerFd timer;
    private final ConcurrentLinkedQueue<Runnable> tasks = new ConcurrentLinkedQueue<>();
    private final AtomicBoolean wakePending = new AtomicBoolean();
    private final PriorityQueue<Scheduled> scheduled = new PriorityQueue<>();
    private final Map<Long, Scheduled> scheduledById = new HashMap<>();
    private final CountDownLatch started = new CountDownLatch(1);
    private final CountDownLatch stopped = new CountDownLatch(1);
    private long nextId = 1;
    private long armedDeadline = Long.MAX_VALUE;
    private volatile boolean running = true;
    private volatile Thread thread;
    /** Guards {@link #wake} against being signalled after it is closed (its number may be reused). */
    private final Object wakeLock = new Object();
    private boolean wakeClosed;
    private long now = System.nanoTime();
    private long cycles;

    // Registration bookkeeping, indexed by fd.
    private long[] refs = new long[1024];
    private int[] masks = new int[1024];
    private boolean[] registered = new boolean[1024];
    private boolean[] parked = new boolean[1024];

    EventLoopImpl(String name, Sink sink) {
        this.name = name;
        this.sink = sink;
        this.epoll = Epoll.create(MAX_EVENTS);
        this.wake = EventFd.create();
        this.timer = TimerFd.create();
        check(epoll.add(wake.fd(), EPOLLIN, EpollRef.of(EventTypes.WAKE, wake.fd(), 0)), "register eventfd");
        check(epoll.add(timer.fd(), EPOLLIN, EpollRef.of(EventTypes.TIMER, timer.fd(), 0)), "register timerfd");
    }

    private static void check(int rc, String what) {
        if (rc < 0)
            throw new IllegalStateException(what + ": " + Errno.describe(-rc));
    }

    void start() {
        Thread t = new Thread(this, "penne-loop-" + name);
        t.setDaemon(true);
        thread = t;
        t.start();
        try {
            started.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Stops the loop after its current cycle, waits for it, and closes its descriptors. */
    void stop() {
        running = false;
        signalWake();
        if (thread != null && Thread.currentThread() != thread) {
            try {
                stopped.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        synchronized (wakeLock) {
            wakeClosed = true;
            wake.close();
        }
        epoll.close();
        timer.close();
        closeRegistered();
        failLeftovers();
    }

    /**
     * Closes descriptors still registered when the loop stops. Handlers leave
     * theirs registered on detach (so a replacement can adopt them); once the
     * instance itself goes, nobody else will ever close them.
     */
    private void closeRegistered() {
        for (int fd = 0; fd < registered.length; fd++) {
            if (registered[fd]) {
                registered[fd] = false;
                Sys.close(fd);
            }
        }
    }

    private void signalWake() {
        synchronized (wakeLock) {
            if (!wakeClosed)
                wake.signal();
        }
    }

    /** Completes the futures of submitted tasks that will never run. */
    private void failLeftovers() {
        Runnable r;
        while ((r = tasks.poll()) != null)
            if (r instanceof SubmitTask)
                ((SubmitTask<?>) r).future.completeExceptionally(
                    new IllegalStateException("instance " + name + " is stopped"));
    }

    long cycles() {
        return cycles;
    }

    @Override
    public void run() {
        started.countDown();
        try {
            while (running) {
                int n = epoll.waitEvents(tasks.isEmpty() ? -1 : 0);
                now = System.nanoTime();
                cycles++;
                if (n < 0) {
                    if (n != -Errno.EINTR)
                        LOG.log(Level.ERROR, "epoll_wait: " + Errno.describe(-n));
                    continue;
                }
                for (int i = 0; i < n; i++) {
                    long ref = epoll.data(i);
                    int type = EpollRef.type(ref);
                    if (type == EventTypes.WAKE) {
                        wake.drain();
                        wakePending.set(false);
                    } else if (type == EventTypes.TIMER) {
                        timer.expirations();
                        armedDeadline = Long.MAX_VALUE;
                    } else {
                        sink.dispatch(type, ref, epoll.events(i));
                    }
                }
                runTasks();
                runDue();
                sink.endOfCycle(now);
                rearm();
            }
        } catch (Throwable t) {
            LOG.log(Level.ERROR, "loop of instance " + name + " died", t);
            throw t;
        } finally {
            running = false;
            stopped.countDown();
        }
    }

    private void runTasks() {
        // Only what was queued before we started, so a task that re-queues cannot starve epoll.
        for (int budget = tasks.size(); budget > 0; budget--) {
            Runnable r = tasks.poll();
            if (r == null)
                break;
            runSafely(r);
        }
    }

    private void runDue() {
        Scheduled s;
        while ((s = scheduled.peek()) != null && s.deadline - now <= 0) {
            scheduled.poll();
            scheduledById.remove(s.id);
            runSafely(s.task);
        }
    }

    private static void runSafely(Runnable r) {
        try {
            r.run();
        } catch (RuntimeException | Error e) {
            LOG.log(Level.WARNING, "task failed", e);
        }
    }

    private void rearm() {
        Scheduled s = scheduled.peek();
        long deadline = s == null ? Long.MAX_VALUE : s.deadline;
        if (deadline == armedDeadline)
            return;
        armedDeadline = deadline;
        if (deadline == Long.MAX_VALUE)
            timer.disarm();
        else
            timer.oneShot(Math.max(1, deadline - System.nanoTime()));
    }

    // ---- EventLoop ----

    @Override
    public boolean inLoop() {
        return Thread.currentThread() == thread;
    }

    @Override
    public void execute(Runnable task) {
        tasks.add(task);
        if (!inLoop() && wakePending.compareAndSet(false, true))
            signalWake();
    }

    @Override
    public <T> CompletableFuture<T> submit(Callable<T> task) {
        CompletableFuture<T> f = new CompletableFuture<>();
        if (!running) {
            f.completeExceptionally(new IllegalStateException("instance " + name + " is stopped"));
            return f;
        }
        execute(new SubmitTask<>(task, f));
        if (!running && wakeClosedNow())
            failLeftovers(); // raced with stop(): nobody will run it
        return f;
    }

    private boolean wakeClosedNow() {
        synchronized (wakeLock) {
            return wakeClosed;
        }
    }

    private static final class SubmitTask<T> implements Runnable {
        final Callable<T> task;
        final CompletableFuture<T> future;

        SubmitTask(Callable<T> task, CompletableFuture<T> future) {
            this.task = task;
            this.future = future;
        }

        @Override
        public void run() {
            try {
                future.complete(task.call());
            } catch (Throwable e) {
                future.completeExceptionally(e);
            }
        }
    }

    @Override
    public long now() {
        return now;
    }

    @Override
    public long schedule(long delayNanos, Runnable task) {
        assertLoop();
        // From the time of the call, not of the cycle start: a long cycle must not shorten the delay.
        Scheduled s = new Scheduled(System.nanoTime() + Math.max(0, delayNanos), nextId++, task);
        scheduled.add(s);
        scheduledById.put(s.id, s);
        return s.id;
    }

    @Override
    public boolean cancel(long id) {
        assertLoop();
        Scheduled s = scheduledById.remove(id);
        return s != null && scheduled.remove(s);
    }

    @Override
    public int register(int fd, int events, long ref) {
        assertLoop();
        int rc = epoll.add(fd, events, ref);
        if (rc == 0) {
            grow(fd);
            refs[fd] = ref;
            masks[fd] = events;
            registered[fd] = true;
            parked[fd] = false;
        }
        return rc;
    }

    @Override
    public int modify(int fd, int events, long ref) {
        assertLoop();
        if (fd < registered.length && parked[fd]) {
            // Keep it quiet until adopted; remember what the caller wants.
            refs[fd] = ref;
            masks[fd] = events;
            return 0;
        }
        int rc = epoll.mod(fd, events, ref);
        if (rc == 0) {
            grow(fd);
            refs[fd] = ref;
            masks[fd] = events;
        }
        return rc;
    }

    @Override
    public int unregister(int fd) {
        assertLoop();
        int rc = epoll.del(fd);
        if (fd < registered.length) {
            registered[fd] = false;
            parked[fd] = false;
        }
        return rc;
    }

    /** Silences every descriptor of {@code type}; returns how many. */
    int park(int type) {
        int count = 0;
        for (int fd = 0; fd < registered.length; fd++) {
            if (registered[fd] && !parked[fd] && EpollRef.type(refs[fd]) == type) {
                epoll.mod(fd, EPOLLONESHOT, refs[fd]);
                parked[fd] = true;
                count++;
            }
        }
        return count;
    }

    /** Parks a single descriptor that fired while its type had no handler. */
    void parkOne(int fd) {
        if (fd < registered.length && registered[fd] && !parked[fd]) {
            epoll.mod(fd, EPOLLONESHOT, refs[fd]);
            parked[fd] = true;
        }
    }

    /** Restores the registered masks of every parked descriptor of {@code type}; returns how many. */
    int unpark(int type) {
        int count = 0;
        for (int fd = 0; fd < registered.length; fd++) {
            if (registered[fd] && parked[fd] && EpollRef.type(refs[fd]) == type) {
                epoll.mod(fd, masks[fd], refs[fd]);
                parked[fd] = false;
                count++;
            }
        }
        return count;
    }

    /** Number of registered descriptors of {@code type}. */
    int registeredCount(int type) {
        int count = 0;
        for (int fd = 0; fd < registered.length; fd++)
            if (registered[fd] && EpollRef.type(refs[fd]) == type)
                count++;
        return count;
    }

    private void grow(int fd) {
        if (fd < registered.length)
            return;
        int n = Math.max(registered.length * 2, fd + 1);
        refs = java.util.Arrays.copyOf(refs, n);
        masks = java.util.Arrays.copyOf(masks, n);
        registered = java.util.Arrays.copyOf(registered, n);
        parked = java.util.Arrays.copyOf(parked, n);
    }

    private void assertLoop() {
        if (!inLoop())
            throw new IllegalStateException("must be called on the loop thread of instance " + name);
    }

    private static final class Scheduled implements Comparable<Scheduled> {
        final long deadline;
        final long id;
        final Runnable task;

        Scheduled(long deadline, long id, Runnable task) {
            this.deadline = deadline;
            this.id = id;
            this.task = task;
        }

        @Override
        public int compareTo(Scheduled o) {
            int c = Long.compare(deadline - o.deadline, 0);
            return c != 0 ? c : Long.compare(id, o.id);
        }
    }
}
