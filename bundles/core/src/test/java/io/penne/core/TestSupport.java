package io.penne.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import io.penne.api.EpollRef;
import io.penne.api.EventLoop;
import io.penne.api.HandlerInfo;
import io.penne.api.Instance;
import io.penne.api.ProtocolHandler;
import io.penne.api.flow.Flow;
import io.penne.api.flow.FlowType;
import io.penne.linux.EventFd;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;

/** Helpers and small handlers shared by the dispatcher tests. */
final class TestSupport {
    private TestSupport() {
    }

    /** Runs {@code c} on the loop of {@code inst} and waits for its result. */
    static <T> T onLoop(InstanceImpl inst, Callable<T> c) {
        try {
            return inst.loop().submit(c).get(5, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new AssertionError("loop task failed", e);
        }
    }

    static void onLoopRun(InstanceImpl inst, Runnable r) {
        onLoop(inst, () -> {
            r.run();
            return null;
        });
    }

    /** Polls {@code cond} every millisecond until it holds, failing after {@code timeoutMs}. */
    static void await(BooleanSupplier cond, long timeoutMs, String what) {
        long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        while (!cond.getAsBoolean()) {
            if (System.nanoTime() - end > 0)
                fail("timed out waiting for " + what);
            sleep(1);
        }
    }

    static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    static long counter(InstanceImpl inst, String name) {
        Long v = onLoop(inst, () -> inst.counters().snapshot().get(name));
        return v == null ? 0 : v;
    }

    static HandlerInfo info(InstanceImpl inst, String name) {
        List<HandlerInfo> all = onLoop(inst, inst::handlers);
        for (HandlerInfo h : all)
            if (h.name().equals(name))
                return h;
        return null;
    }

    static long cycles(InstanceImpl inst) {
        return onLoop(inst, inst::cycles);
    }

    /** One event as seen by a handler. */
    record Seen(Thread thread, int type, long ref, int events) {
    }

    /**
     * A handler owning one event type, for which it keeps one eventfd. The
     * eventfd lives in a holder shared by successive handler objects of the
     * same name, as the real handlers keep their descriptors in instance
     * state rather than in the handler object.
     */
    static class EfdHandler implements ProtocolHandler {
        final String name;
        final String type;
        final AtomicReference<EventFd> efd;
        final int payload;
        final ConcurrentLinkedQueue<Seen> seen = new ConcurrentLinkedQueue<>();
        final AtomicInteger events = new AtomicInteger();
        final AtomicInteger attaches = new AtomicInteger();
        final AtomicInteger detaches = new AtomicInteger();
        volatile Boolean adopting;
        volatile boolean drain = true;
        volatile int registerRc = Integer.MIN_VALUE;
        volatile Set<FlowType> flowTypes = Set.of();

        EfdHandler(String name, String type, AtomicReference<EventFd> efd, int payload) {
            this.name = name;
            this.type = type;
            this.efd = efd;
            this.payload = payload;
        }

        EfdHandler(String name, String type) {
            this(name, type, new AtomicReference<>(), 42);
        }

        @Override
        public String name() {
            return name;
        }

        @Override
        public Set<String> eventTypes() {
            return Set.of(type);
        }

        @Override
        public Set<FlowType> flowTypes() {
            return flowTypes;
        }

        @Override
        public void attach(Instance instance, boolean adopting) {
            this.adopting = adopting;
            if (!adopting) {
                EventFd e = EventFd.create();
                efd.set(e);
                registerRc = instance.loop().register(e.fd(), EventLoop.EPOLLIN,
                    EpollRef.of(instance.eventType(type), e.fd(), payload));
            }
            // Last: tests wait for this count, then use the eventfd (a loaded machine showed the race).
            attaches.incrementAndGet();
        }

        @Override
        public void detach(Instance instance) {
            detaches.incrementAndGet();
        }

        @Override
        public void event(Instance instance, int eventType, long ref, int ev) {
            seen.add(new Seen(Thread.currentThread(), eventType, ref, ev));
            events.incrementAndGet();
            if (drain)
                efd.get().drain();
        }

        int fd() {
            return efd.get().fd();
        }

        void signal() {
            assertEquals(0, efd.get().signal());
        }

        /** Unregisters and closes the eventfd; on the loop. */
        void close(InstanceImpl inst) {
            EventFd e = efd.get();
            if (e != null)
                onLoopRun(inst, () -> {
                    inst.loop().unregister(e.fd());
                    e.close();
                });
        }
    }

    /** A handler owning a flow type, whose deferred calls are counted. */
    static class FlowHandler implements ProtocolHandler {
        final String name;
        final FlowType flowType;
        final AtomicInteger deferCalls = new AtomicInteger();
        final ConcurrentLinkedQueue<Long> timerCalls = new ConcurrentLinkedQueue<>();
        final AtomicInteger attaches = new AtomicInteger();
        volatile boolean finish;
        volatile Thread thread;

        FlowHandler(String name, FlowType flowType) {
            this.name = name;
            this.flowType = flowType;
        }

        @Override
        public String name() {
            return name;
        }

        @Override
        public Set<String> eventTypes() {
            return Set.of();
        }

        @Override
        public Set<FlowType> flowTypes() {
            return Set.of(flowType);
        }

        @Override
        public void attach(Instance instance, boolean adopting) {
            attaches.incrementAndGet();
        }

        @Override
        public void event(Instance instance, int eventType, long ref, int events) {
        }

        @Override
        public boolean flowDefer(Instance instance, Flow flow, boolean timer, long now) {
            thread = Thread.currentThread();
            deferCalls.incrementAndGet();
            if (timer)
                timerCalls.add(System.nanoTime());
            return finish;
        }
    }
}
