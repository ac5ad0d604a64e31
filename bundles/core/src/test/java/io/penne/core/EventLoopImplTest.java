package io.penne.core;

import static io.penne.core.TestSupport.await;
import static io.penne.core.TestSupport.onLoop;
import static io.penne.core.TestSupport.onLoopRun;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.penne.linux.EventFd;
import java.io.File;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import io.penne.api.EventLoop;
import io.penne.api.EpollRef;
import org.junit.jupiter.api.Test;

/** The loop itself: task queue, scheduled tasks, stop. */
class EventLoopImplTest {
    private InstanceImpl inst;

    @BeforeEach
    void setUp() {
        inst = new InstanceImpl("loop-test", 64, Map.of());
        inst.start();
    }

    @AfterEach
    void tearDown() {
        inst.stop();
    }

    private Thread loopThread() {
        return onLoop(inst, Thread::currentThread);
    }

    @Test
    void tasksRunOnLoopThreadInOrder() throws Exception {
        Thread loop = loopThread();
        assertNotSame(Thread.currentThread(), loop);
        assertFalse(inst.loop().inLoop());
        assertTrue(onLoop(inst, () -> inst.loop().inLoop()));
        ConcurrentLinkedQueue<Integer> order = new ConcurrentLinkedQueue<>();
        CopyOnWriteArrayList<Thread> threads = new CopyOnWriteArrayList<>();
        for (int i = 0; i < 1000; i++) {
            int n = i;
            inst.loop().execute(() -> {
                order.add(n);
                threads.add(Thread.currentThread());
            });
        }
        onLoop(inst, () -> null);
        List<Integer> got = new ArrayList<>(order);
        assertEquals(1000, got.size());
        for (int i = 0; i < 1000; i++)
            assertEquals(i, got.get(i));
        for (Thread t : threads)
            assertSame(loop, t);
    }

    @Test
    void submitCompletesWithValueOrException() throws Exception {
        assertEquals("v", inst.loop().submit(() -> "v").get(5, TimeUnit.SECONDS));
        CompletableFuture<Object> f = inst.loop().submit(() -> {
            throw new IOException("boom");
        });
        ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(5, TimeUnit.SECONDS));
        assertInstanceOf(IOException.class, e.getCause());
        assertEquals("boom", e.getCause().getMessage());
        // A failing execute() task does not hurt the loop either.
        inst.loop().execute(() -> {
            throw new IllegalStateException("task failure (expected by test)");
        });
        assertEquals(7, inst.loop().submit(() -> 7).get(5, TimeUnit.SECONDS));
    }

    @Test
    void concurrentSubmittersAllRunExactlyOnce() throws Exception {
        int threads = 4;
        int per = 10_000;
        int[] runs = new int[threads * per]; // loop-confined
        Thread loop = loopThread();
        AtomicInteger wrongThread = new AtomicInteger();
        CountDownLatch go = new CountDownLatch(1);
        List<Thread> ts = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int base = t * per;
            Thread th = new Thread(() -> {
                try {
                    go.await();
                } catch (InterruptedException e) {
                    return;
                }
                for (int i = 0; i < per; i++) {
                    int id = base + i;
                    if ((i & 1) == 0) {
                        inst.loop().execute(() -> {
                            if (Thread.currentThread() != loop)
                                wrongThread.incrementAndGet();
                            runs[id]++;
                        });
                    } else {
                        inst.loop().submit(() -> runs[id]++);
                    }
                }
            });
            th.start();
            ts.add(th);
        }
        go.countDown();
        for (Thread th : ts) {
            th.join(10_000);
            assertFalse(th.isAlive());
        }
        int[] copy = onLoop(inst, runs::clone); // queued after every task above
        for (int i = 0; i < copy.length; i++)
            assertEquals(1, copy[i], "task " + i);
        assertEquals(0, wrongThread.get());
    }

    @Test
    void tasksQueuedFromTheLoopRunWithoutStarvingIt() throws Exception {
        CompletableFuture<Integer> done = new CompletableFuture<>();
        AtomicInteger hops = new AtomicInteger();
        Runnable[] hop = new Runnable[1];
        hop[0] = () -> {
            if (hops.incrementAndGet() == 1000)
                done.complete(1000);
            else
                inst.loop().execute(hop[0]);
        };
        inst.loop().execute(hop[0]);
        assertEquals(1000, done.get(5, TimeUnit.SECONDS));
    }

    @Test
    void scheduledTaskRunsAfterItsDelayNotBefore() throws Exception {
        long delay = TimeUnit.MILLISECONDS.toNanos(50);
        CompletableFuture<Long> ran = new CompletableFuture<>();
        AtomicLong calledAt = new AtomicLong();
        onLoopRun(inst, () -> {
            calledAt.set(System.nanoTime());
            inst.loop().schedule(delay, () -> ran.complete(System.nanoTime()));
        });
        long elapsed = ran.get(5, TimeUnit.SECONDS) - calledAt.get();
        assertTrue(elapsed >= delay, "ran after " + elapsed + " ns");
        assertTrue(elapsed < TimeUnit.SECONDS.toNanos(1), "ran after " + elapsed + " ns");
    }

    @Test
    void delayCountsFromTheCallNotFromTheCycleStart() throws Exception {
        long delay = TimeUnit.MILLISECONDS.toNanos(20);
        CompletableFuture<Long> ran = new CompletableFuture<>();
        AtomicLong calledAt = new AtomicLong();
        onLoopRun(inst, () -> {
            long spinUntil = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(40); // a long cycle
            while (System.nanoTime() - spinUntil < 0)
                Thread.onSpinWait();
            calledAt.set(System.nanoTime());
            inst.loop().schedule(delay, () -> ran.complete(System.nanoTime()));
        });
        long elapsed = ran.get(5, TimeUnit.SECONDS) - calledAt.get();
        assertTrue(elapsed >= delay, "ran " + elapsed + " ns after schedule()");
    }

    @Test
    void cancelPreventsAScheduledTask() throws Exception {
        AtomicInteger ran = new AtomicInteger();
        CompletableFuture<Void> marker = new CompletableFuture<>();
        long id = onLoop(inst, () -> inst.loop().schedule(TimeUnit.MILLISECONDS.toNanos(30), ran::incrementAndGet));
        assertTrue(onLoop(inst, () -> inst.loop().cancel(id)));
        assertFalse(onLoop(inst, () -> inst.loop().cancel(id)), "second cancel");
        onLoopRun(inst, () -> inst.loop().schedule(TimeUnit.MILLISECONDS.toNanos(60), () -> marker.complete(null)));
        marker.get(5, TimeUnit.SECONDS);
        assertEquals(0, ran.get());
        // Cancelling a task that already ran says so.
        CompletableFuture<Void> ran2 = new CompletableFuture<>();
        long id2 = onLoop(inst, () -> inst.loop().schedule(0, () -> ran2.complete(null)));
        ran2.get(5, TimeUnit.SECONDS);
        assertFalse(onLoop(inst, () -> inst.loop().cancel(id2)));
        // Scheduling and cancelling are for the loop thread only.
        assertThrows(IllegalStateException.class, () -> inst.loop().schedule(1, () -> { }));
        assertThrows(IllegalStateException.class, () -> inst.loop().cancel(id2));
    }

    @Test
    void severalDeadlinesRunInDeadlineOrder() throws Exception {
        ConcurrentLinkedQueue<String> order = new ConcurrentLinkedQueue<>();
        CountDownLatch all = new CountDownLatch(5);
        onLoopRun(inst, () -> {
            long ms = TimeUnit.MILLISECONDS.toNanos(1);
            inst.loop().schedule(60 * ms, () -> { order.add("60"); all.countDown(); });
            inst.loop().schedule(20 * ms, () -> { order.add("20"); all.countDown(); });
            inst.loop().schedule(40 * ms, () -> { order.add("40a"); all.countDown(); });
            inst.loop().schedule(40 * ms + 1, () -> { order.add("40b"); all.countDown(); });
            long c = inst.loop().schedule(30 * ms, () -> order.add("cancelled"));
            inst.loop().schedule(10 * ms, () -> { order.add("10"); all.countDown(); });
            inst.loop().cancel(c);
        });
        assertTrue(all.await(5, TimeUnit.SECONDS));
        assertEquals(List.of("10", "20", "40a", "40b", "60"), new ArrayList<>(order));
    }

    @Test
    void stopEndsTheLoopAndLaterSubmitsFail() throws Exception {
        InstanceImpl other = new InstanceImpl("stopper", 16, Map.of());
        other.start();
        Thread t = onLoop(other, Thread::currentThread);
        assertTrue(t.isAlive());
        other.stop();
        t.join(5000);
        assertFalse(t.isAlive());
        CompletableFuture<Integer> f = other.loop().submit(() -> 1);
        ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(5, TimeUnit.SECONDS));
        assertInstanceOf(IllegalStateException.class, e.getCause());
        other.stop(); // idempotent
    }

    @Test
    void wakeupsAfterStopDoNotWriteToReusedDescriptors() {
        InstanceImpl other = new InstanceImpl("stale", 16, Map.of());
        other.start();
        other.stop();
        // The loop's epoll, eventfd and timerfd numbers are free again: take them.
        List<EventFd> fresh = new ArrayList<>();
        for (int i = 0; i < 4; i++)
            fresh.add(EventFd.create());
        try {
            other.loop().execute(() -> { });
            other.unbind(new TestSupport.EfdHandler("x", "x.t"));
            other.loop().submit(() -> 1);
            for (EventFd e : fresh)
                assertTrue(e.drain() < 0, "a stopped loop signalled fd " + e.fd());
        } finally {
            fresh.forEach(EventFd::close);
        }
    }

    private static int openFds() {
        String[] l = new File("/proc/self/fd").list();
        return l == null ? -1 : l.length;
    }

    @Test
    void stopClosesTheLoopsDescriptors() {
        for (int i = 0; i < 2; i++) { // warm up whatever the JVM opens lazily
            InstanceImpl w = new InstanceImpl("warm" + i, 16, Map.of());
            w.start();
            onLoop(w, () -> null);
            w.stop();
        }
        int before = openFds();
        for (int i = 0; i < 20; i++) {
            InstanceImpl w = new InstanceImpl("fd" + i, 16, Map.of());
            w.start();
            onLoop(w, () -> null);
            w.stop();
        }
        int after = openFds();
        assertTrue(after <= before + 2, "open fds went from " + before + " to " + after);
    }

    @Test
    void stopClosesDescriptorsHandlersLeftRegistered() {
        int before = openFds();
        for (int i = 0; i < 20; i++) {
            InstanceImpl w = new InstanceImpl("left" + i, 16, Map.of());
            w.start();
            onLoopRun(w, () -> {
                EventFd e = EventFd.create(); // registered, never closed by its owner
                w.loop().register(e.fd(), EventLoop.EPOLLIN, EpollRef.of(10, e.fd(), 0));
            });
            w.stop();
        }
        int after = openFds();
        assertTrue(after <= before + 2, "open fds went from " + before + " to " + after);
    }

    @Test
    void countersRegisterAndSnapshot() {
        CountersImpl c = new CountersImpl();
        int a = c.register("a");
        assertEquals(a, c.register("a"));
        int[] ids = new int[200];
        for (int i = 0; i < ids.length; i++)
            ids[i] = c.register("n" + i); // grows the array
        for (int i = 0; i < ids.length; i++)
            c.add(ids[i], i);
        c.inc(a);
        Map<String, Long> snap = c.snapshot();
        assertEquals(201, snap.size());
        assertEquals(1L, snap.get("a"));
        assertEquals(199L, snap.get("n199"));
        assertEquals("a", snap.keySet().iterator().next());
    }

    @Test
    void eventTypesAreStableAndCoreTypesReserved() {
        EventTypes t = new EventTypes();
        assertEquals(EventTypes.WAKE, t.lookup("core.wake"));
        assertEquals(EventTypes.TIMER, t.lookup("core.timer"));
        assertEquals(EventTypes.TAP, t.lookup("core.tap"));
        int x = t.idFor("x");
        assertEquals(4, x);
        assertEquals(x, t.idFor("x"));
        assertEquals("x", t.name(x));
        assertEquals(-1, t.lookup("nope"));
        for (int i = t.limit(); i <= 255; i++)
            t.idFor("fill" + i);
        assertThrows(IllegalStateException.class, () -> t.idFor("one.too.many"));
    }
}
