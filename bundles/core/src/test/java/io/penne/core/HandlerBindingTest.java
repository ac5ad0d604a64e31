package io.penne.core;

import static io.penne.core.TestSupport.await;
import static io.penne.core.TestSupport.counter;
import static io.penne.core.TestSupport.cycles;
import static io.penne.core.TestSupport.info;
import static io.penne.core.TestSupport.onLoop;
import static io.penne.core.TestSupport.sleep;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.penne.api.EpollRef;
import io.penne.api.EventLoop;
import io.penne.api.HandlerInfo;
import io.penne.api.Instance;
import io.penne.core.TestSupport.EfdHandler;
import io.penne.core.TestSupport.Seen;
import io.penne.linux.EventFd;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Binding, parking, adoption and failure isolation of protocol handlers. */
class HandlerBindingTest {
    private InstanceImpl inst;
    private final List<EfdHandler> toClose = new ArrayList<>();

    @BeforeEach
    void setUp() {
        inst = new InstanceImpl("bind-test", 64, Map.of());
        inst.start();
    }

    @AfterEach
    void tearDown() {
        for (EfdHandler h : toClose)
            h.close(inst);
        inst.stop();
    }

    private EfdHandler bound(EfdHandler h) {
        inst.bind(h, "test.bundle", "1.2.3");
        toClose.add(h);
        await(() -> h.attaches.get() > 0, 5000, "attach of " + h.name);
        return h;
    }

    @Test
    void boundHandlerReceivesItsEvents() {
        EfdHandler h = bound(new EfdHandler("t", "t.x"));
        assertEquals(Boolean.FALSE, h.adopting);
        assertEquals(0, h.registerRc);
        int type = inst.eventType("t.x");
        assertTrue(type > EventTypes.TIMER, "type " + type);
        assertEquals("t.x", inst.eventTypeName(type));
        Thread loop = onLoop(inst, Thread::currentThread);

        for (int i = 1; i <= 3; i++) {
            h.signal();
            int n = i;
            await(() -> h.events.get() >= n, 5000, "event " + i);
        }
        assertEquals(3, h.events.get());
        for (Seen s : h.seen) {
            assertSame(loop, s.thread());
            assertEquals(type, s.type());
            assertEquals(type, EpollRef.type(s.ref()));
            assertEquals(h.fd(), EpollRef.fd(s.ref()));
            assertEquals(42, EpollRef.payload(s.ref()));
            assertEquals(EventLoop.EPOLLIN, s.events() & EventLoop.EPOLLIN);
        }
        assertEquals(3, counter(inst, "events.t.x"));
        assertEquals(0, counter(inst, "events.parked"));

        HandlerInfo hi = info(inst, "t");
        assertNotNull(hi);
        assertTrue(hi.bound());
        assertEquals("test.bundle", hi.bundle());
        assertEquals("1.2.3", hi.version());
        assertEquals(Map.of("t.x", type), hi.eventTypes());
        assertEquals(0, hi.flows());
    }

    @Test
    void unboundHandlerIsParkedAndTheLoopDoesNotSpin() {
        EfdHandler h = bound(new EfdHandler("t", "t.x"));
        h.signal();
        await(() -> h.events.get() == 1, 5000, "first event");
        inst.unbind(h);
        await(() -> h.detaches.get() == 1, 5000, "detach");
        HandlerInfo hi = info(inst, "t");
        assertFalse(hi.bound());
        assertEquals("-", hi.bundle());
        assertEquals("-", hi.version());
        assertEquals(Set.of("t.x"), hi.eventTypes().keySet());

        h.signal(); // readable, level-triggered, and nobody drains it
        h.signal();
        long c0 = cycles(inst);
        sleep(200);
        long c1 = cycles(inst);
        assertTrue(c1 - c0 < 10, "loop cycled " + (c1 - c0) + " times in 200 ms while parked");
        assertEquals(1, h.events.get(), "a parked handler was called");
        assertTrue(counter(inst, "events.parked") <= 2, "parked " + counter(inst, "events.parked"));
        // Unbinding again (e.g. a duplicate removal) changes nothing.
        inst.unbind(h);
        assertEquals(1, onLoop(inst, () -> h.detaches.get()));
    }

    @Test
    void rebindAdoptsTypesDescriptorsAndPendingReadiness() {
        AtomicReference<EventFd> shared = new AtomicReference<>();
        EfdHandler h1 = bound(new EfdHandler("t", "t.x", shared, 7));
        int type = inst.eventType("t.x");
        int fd = h1.fd();
        inst.unbind(h1);
        await(() -> h1.detaches.get() == 1, 5000, "detach");
        h1.signal(); // becomes readable while parked

        EfdHandler h2 = new EfdHandler("t", "t.x", shared, 7);
        inst.bind(h2, "?", "?");
        await(() -> h2.attaches.get() == 1, 5000, "attach of the replacement");
        assertEquals(Boolean.TRUE, h2.adopting);
        assertEquals(type, inst.eventType("t.x"));
        await(() -> h2.events.get() >= 1, 5000, "pending readiness delivered to the new handler");
        Seen s = h2.seen.peek();
        assertEquals(type, s.type());
        assertEquals(fd, EpollRef.fd(s.ref()));
        assertEquals(7, EpollRef.payload(s.ref()));
        assertEquals(0, h1.events.get(), "old handler object called after unbind");

        HandlerInfo hi = info(inst, "t");
        assertTrue(hi.bound());
        assertEquals("?", hi.bundle());
        assertEquals("?", hi.version());
        assertEquals(Map.of("t.x", type), hi.eventTypes());
        assertEquals(1, onLoop(inst, () -> inst.handlers().size()));
    }

    @Test
    void replacementBoundBeforeOldUnbindTakesOver() {
        AtomicReference<EventFd> shared = new AtomicReference<>();
        EfdHandler h1 = bound(new EfdHandler("t", "t.x", shared, 1));
        int type = inst.eventType("t.x");
        EfdHandler h2 = new EfdHandler("t", "t.x", shared, 1);
        inst.bind(h2, "test.bundle", "2.0.0"); // bundle update: new service first ...
        inst.unbind(h1);                       // ... old one goes away afterwards
        await(() -> h2.attaches.get() == 1, 5000, "attach of the replacement");
        assertEquals(Boolean.TRUE, h2.adopting);
        assertEquals(1, onLoop(inst, () -> h1.detaches.get()));
        assertEquals(0, h2.detaches.get());

        h2.signal();
        await(() -> h2.events.get() == 1, 5000, "event to the replacement");
        assertEquals(0, h1.events.get());
        assertEquals(type, h2.seen.peek().type());
        HandlerInfo hi = info(inst, "t");
        assertTrue(hi.bound());
        assertEquals("2.0.0", hi.version());
        // Binding the same object twice is a no-op.
        inst.bind(h2, "test.bundle", "2.0.0");
        assertEquals(1, onLoop(inst, () -> h2.attaches.get()));
    }

    @Test
    void handlerDeclaringAnotherHandlersTypeIsRefused() {
        EfdHandler a = bound(new EfdHandler("a", "shared.t"));
        EfdHandler b = new EfdHandler("b", "shared.t");
        inst.bind(b, "evil", "1");
        onLoop(inst, () -> null); // after the bind attempt
        assertEquals(0, b.attaches.get());
        HandlerInfo bi = info(inst, "b");
        assertTrue(bi == null || !bi.bound(), "b is bound: " + bi);
        assertTrue(info(inst, "a").bound());
        a.signal();
        await(() -> a.events.get() == 1, 5000, "a keeps working");
        assertEquals(0, b.events.get());
    }

    @Test
    void refusedReplacementLeavesTheBoundHandlerAlone() {
        EfdHandler a = bound(new EfdHandler("a", "a.t"));
        EfdHandler b = bound(new EfdHandler("b", "b.t"));
        // A new object named "a" that also declares b's type: refused, and the old "a" stays.
        EfdHandler a2 = new EfdHandler("a", "b.t");
        inst.bind(a2, "x", "2");
        onLoop(inst, () -> null);
        assertEquals(0, a2.attaches.get());
        assertEquals(0, a.detaches.get(), "the bound handler was detached for a refused replacement");
        assertTrue(info(inst, "a").bound());
        a.signal();
        b.signal();
        await(() -> a.events.get() == 1 && b.events.get() == 1, 5000, "both keep working");
    }

    /** Throws from event (after draining), attach or flowDefer, on demand. */
    static final class Faulty extends EfdHandler {
        volatile boolean throwInEvent = true;

        Faulty(String name, String type) {
            super(name, type);
        }

        @Override
        public void event(Instance instance, int eventType, long ref, int ev) {
            super.event(instance, eventType, ref, ev);
            if (throwInEvent)
                throw new IllegalStateException("event failure (expected by test)");
        }
    }

    @Test
    void handlerExceptionsAreCountedAndIsolated() {
        EfdHandler ok = bound(new EfdHandler("ok", "ok.t"));
        Faulty bad = (Faulty) bound(new Faulty("bad", "bad.t"));
        long errors0 = counter(inst, "handler.errors");
        for (int i = 1; i <= 5; i++) {
            bad.signal();
            ok.signal();
            int n = i;
            await(() -> bad.events.get() >= n && ok.events.get() >= n, 5000, "round " + i);
        }
        assertEquals(5, counter(inst, "handler.errors") - errors0);
        assertEquals(5, counter(inst, "events.bad.t"));
        assertEquals(5, counter(inst, "events.ok.t"));

        // attach failure: counted, the handler is still bound (its fd registered before the throw).
        EfdHandler attachFails = new EfdHandler("af", "af.t") {
            @Override
            public void attach(Instance instance, boolean adopting) {
                super.attach(instance, adopting);
                throw new IllegalStateException("attach failure (expected by test)");
            }
        };
        bound(attachFails);
        await(() -> counter(inst, "handler.errors") - errors0 == 6, 5000, "attach error counted");
        attachFails.signal();
        await(() -> attachFails.events.get() == 1, 5000, "events after a failed attach");

        // detach failure: counted, still parked.
        EfdHandler detachFails = new EfdHandler("df", "df.t") {
            @Override
            public void detach(Instance instance) {
                super.detach(instance);
                throw new IllegalStateException("detach failure (expected by test)");
            }
        };
        bound(detachFails);
        inst.unbind(detachFails);
        await(() -> counter(inst, "handler.errors") - errors0 == 7, 5000, "detach error counted");
        assertFalse(info(inst, "df").bound());

        ok.signal();
        await(() -> ok.events.get() == 6, 5000, "ok still served");
    }

    @Test
    void eventsArriveInTheSameCycleForSeveralHandlers() {
        List<EfdHandler> hs = new ArrayList<>();
        for (int i = 0; i < 20; i++)
            hs.add(bound(new EfdHandler("h" + i, "h" + i + ".t")));
        Set<Integer> typeNumbers = new java.util.HashSet<>();
        for (EfdHandler h : hs) {
            typeNumbers.add(inst.eventType(h.type));
            h.signal();
        }
        assertEquals(20, typeNumbers.size());
        for (EfdHandler h : hs)
            await(() -> h.events.get() == 1, 5000, h.name);
        for (EfdHandler h : hs)
            assertEquals(inst.eventType(h.type), h.seen.peek().type());
        assertNull(info(inst, "nope"));
    }
}
