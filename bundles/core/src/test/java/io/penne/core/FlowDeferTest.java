package io.penne.core;

import static io.penne.core.TestSupport.await;
import static io.penne.core.TestSupport.counter;
import static io.penne.core.TestSupport.info;
import static io.penne.core.TestSupport.onLoop;
import static io.penne.core.TestSupport.onLoopRun;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.penne.api.HandlerInfo;
import io.penne.api.Instance;
import io.penne.api.flow.Flow;
import io.penne.api.flow.FlowState;
import io.penne.api.flow.FlowTable;
import io.penne.api.flow.FlowType;
import io.penne.api.flow.InetAddr;
import io.penne.api.flow.Pif;
import io.penne.core.TestSupport.EfdHandler;
import io.penne.core.TestSupport.FlowHandler;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The deferred flow scan as driven by the instance. */
class FlowDeferTest {
    private InstanceImpl inst;

    @BeforeEach
    void setUp() {
        inst = new InstanceImpl("flow-test", 128, Map.of());
        inst.start();
    }

    @AfterEach
    void tearDown() {
        inst.stop();
    }

    /** Builds and activates one flow of {@code type}; loop thread only. */
    static Flow newFlow(FlowTable t, FlowType type, int port) {
        Flow f = t.alloc();
        t.initiate(f, Pif.TAP, InetAddr.V4_HI, InetAddr.v4Lo(0x0a000002), port, InetAddr.V4_HI,
            InetAddr.v4Lo(0x0a000001), 80);
        t.target(f, Pif.HOST, InetAddr.V4_HI, InetAddr.v4Lo(0x7f000001), 80, InetAddr.V4_HI,
            InetAddr.v4Lo(0x7f000001), port);
        t.setType(f, type);
        t.activate(f);
        return f;
    }

    /**
     * A frame a handler queues from its timer call (a retransmission, say)
     * goes out in the same loop cycle: the instance flushes the guest device
     * after the deferred scan, not before it (it would otherwise wait for the
     * next wakeup, up to a second on an idle loop). The device is a pipe, so
     * the test sees exactly when the frame is written.
     */
    @Test
    void framesQueuedByTimerCallsLeaveInTheSameCycle() throws Exception {
        io.penne.linux.NativeBuffer fds = io.penne.linux.NativeBuffer.allocate(8);
        assertEquals(0, io.penne.linux.Sys.pipe2(fds, io.penne.linux.Sys.O_NONBLOCK | io.penne.linux.Sys.O_CLOEXEC));
        int readEnd = fds.getInt(0), writeEnd = fds.getInt(4);
        java.util.concurrent.ConcurrentLinkedQueue<Long> queuedAt = new java.util.concurrent.ConcurrentLinkedQueue<>();
        FlowHandler h = new FlowHandler("framer", FlowType.UDP) {
            @Override
            public boolean flowDefer(Instance instance, Flow flow, boolean timer, long now) {
                if (timer && queuedAt.isEmpty()) {
                    int off = instance.device().reserve(60);
                    instance.device().send(off, 60);
                    queuedAt.add(System.nanoTime());
                }
                return false;
            }
        };
        bound(h);
        assertEquals(0, (int) onLoop(inst, () -> inst.attachDevice(writeEnd, 1500)));
        onLoopRun(inst, () -> newFlow(inst.flows(), FlowType.UDP, 4000));
        await(() -> !queuedAt.isEmpty(), 5000, "a timer call queued a frame");
        io.penne.linux.NativeBuffer buf = io.penne.linux.NativeBuffer.allocate(128);
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(300);
        long got;
        while ((got = io.penne.linux.Sys.read(readEnd, buf, 0, 128)) < 0 && System.nanoTime() < deadline)
            Thread.sleep(1);
        assertEquals(60, got, "the frame was written within 300 ms of being queued, not at a later wakeup");
        io.penne.linux.Sys.close(readEnd);
    }

    private FlowHandler bound(FlowHandler h) {
        inst.bind(h, "test.flows", "1");
        await(() -> h.attaches.get() > 0, 5000, "attach");
        return h;
    }

    private void cycle(int n) {
        for (int i = 0; i < n; i++)
            onLoop(inst, () -> null);
    }

    /** Deferred calls so far, read on the loop (so every earlier cycle has finished its scan). */
    private int defers(FlowHandler h) {
        return onLoop(inst, h.deferCalls::get);
    }

    private int udpFlows() {
        return onLoop(inst, () -> inst.flows().count(FlowType.UDP));
    }

    @Test
    void deferredCallEveryCycleUntilDone() {
        FlowHandler h = bound(new FlowHandler("udp", FlowType.UDP));
        Flow f = onLoop(inst, () -> newFlow(inst.flows(), FlowType.UDP, 4000));
        assertEquals(FlowState.ACTIVE, onLoop(inst, f::state));
        int c0 = defers(h);
        cycle(5);
        int calls = defers(h) - c0;
        assertTrue(calls >= 5, "deferred calls " + calls + " in 5 cycles");
        assertSame(onLoop(inst, Thread::currentThread), h.thread);
        HandlerInfo hi = info(inst, "udp");
        assertEquals(1, hi.flows());
        assertEquals(List.of(FlowType.UDP), hi.flowTypes());

        h.finish = true;
        await(() -> udpFlows() == 0, 5000, "flow freed");
        assertEquals(FlowState.FREE, onLoop(inst, f::state));
        int c1 = defers(h);
        cycle(3);
        assertEquals(c1, defers(h), "deferred calls for a freed flow");
        assertEquals(0, info(inst, "udp").flows());
    }

    @Test
    void timerFlagAboutOncePerSecond() {
        FlowHandler h = bound(new FlowHandler("udp", FlowType.UDP));
        onLoopRun(inst, () -> newFlow(inst.flows(), FlowType.UDP, 4001));
        // The loop is otherwise idle: it must wake up on its own for the flow timer.
        await(() -> h.timerCalls.size() >= 2, 4000, "two timer calls");
        List<Long> t = new ArrayList<>(h.timerCalls);
        long gap = t.get(1) - t.get(0);
        assertTrue(gap >= TimeUnit.MILLISECONDS.toNanos(900) && gap <= TimeUnit.MILLISECONDS.toNanos(2500),
            "timer interval " + gap / 1_000_000 + " ms");
        h.finish = true;
        await(() -> udpFlows() == 0, 5000, "flow freed");
    }

    @Test
    void flowsOfAParkedHandlerAreKeptAndAdopted() {
        FlowHandler h1 = bound(new FlowHandler("udp", FlowType.UDP));
        onLoopRun(inst, () -> {
            newFlow(inst.flows(), FlowType.UDP, 5000);
            newFlow(inst.flows(), FlowType.UDP, 5001);
        });
        cycle(1);
        inst.unbind(h1);
        cycle(1);
        h1.finish = true; // would free them if it were still called
        int c1 = defers(h1);
        cycle(5);
        assertEquals(c1, defers(h1), "a parked handler got deferred calls");
        assertEquals(2, udpFlows());
        HandlerInfo hi = info(inst, "udp");
        assertFalse(hi.bound());
        assertEquals(2, hi.flows());

        FlowHandler h2 = bound(new FlowHandler("udp", FlowType.UDP));
        cycle(3);
        int adopted = defers(h2);
        assertTrue(adopted >= 2 * 3, "adopted flows not scanned: " + adopted);
        assertEquals(2, info(inst, "udp").flows());
        assertTrue(info(inst, "udp").bound());
        h2.finish = true;
        await(() -> udpFlows() == 0, 5000, "adopted flows freed");
        assertEquals(c1, defers(h1));
    }

    /**
     * A handler gone for good (not back within the grace period): its flows
     * are reset by the instance, their sockets closed with a RST the host
     * peer sees, and freed. Back within the grace period, it adopts them
     * (the test above).
     */
    @Test
    void flowsOfAHandlerGoneForGoodAreResetAfterTheGracePeriod() throws Exception {
        InstanceImpl g = new InstanceImpl("grace", 16, Map.of(InstanceImpl.GRACE_PROPERTY, "1"));
        g.start();
        try (java.net.ServerSocket ss = new java.net.ServerSocket(0, 1, java.net.InetAddress.getByName("127.0.0.1"))) {
            FlowHandler h = new FlowHandler("tcp", FlowType.TCP);
            g.bind(h, "test.flows", "1");
            await(() -> h.attaches.get() > 0, 5000, "attach");
            int s = io.penne.linux.Sockets.tcp(io.penne.linux.Sockets.AF_INET);
            io.penne.linux.Sockets.connect4(s, 0x7f000001, ss.getLocalPort(), io.penne.linux.NativeBuffer.allocate(64));
            java.net.Socket peer = ss.accept();
            onLoopRun(g, () -> {
                Flow f = newFlow(g.flows(), FlowType.TCP, 4000);
                f.data(io.penne.api.flow.TcpConn.class, io.penne.api.flow.TcpConn::new, true).sock = s;
            });
            g.unbind(h);
            long gone = System.nanoTime();
            Thread.sleep(500);
            assertEquals(1, (int) onLoop(g, () -> g.flows().count(FlowType.TCP)), "kept during the grace period");
            await(() -> onLoop(g, () -> g.flows().count(FlowType.TCP)) == 0, 5000, "flow reset after it");
            long waited = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - gone);
            assertTrue(waited >= 900, "not before the grace period: " + waited + " ms");
            assertEquals(1, counter(g, "flows.abandoned"));
            peer.setSoTimeout(5000);
            java.io.IOException e = org.junit.jupiter.api.Assertions.assertThrows(java.io.IOException.class,
                () -> peer.getInputStream().read());
            assertTrue(e.getMessage().contains("reset"), "the host peer sees a reset: " + e);
            peer.close();
        } finally {
            g.stop();
        }
        IllegalArgumentException bad = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
            () -> new InstanceImpl("bad", 16, Map.of(InstanceImpl.GRACE_PROPERTY, "soon")));
        assertTrue(bad.getMessage().contains(InstanceImpl.GRACE_PROPERTY), bad.getMessage());
    }

    @Test
    void flowDeferExceptionsAreCountedAndTheFlowKept() {
        AtomicInteger calls = new AtomicInteger();
        FlowHandler h = bound(new FlowHandler("udp", FlowType.UDP) {
            @Override
            public boolean flowDefer(Instance instance, Flow flow, boolean timer, long now) {
                calls.incrementAndGet();
                throw new IllegalStateException("flowDefer failure (expected by test)");
            }
        });
        long e0 = counter(inst, "handler.errors");
        onLoopRun(inst, () -> newFlow(inst.flows(), FlowType.UDP, 6000));
        cycle(3);
        long[] seen = onLoop(inst, () -> new long[] {calls.get(), inst.counters().snapshot().get("handler.errors")});
        assertTrue(seen[0] >= 3);
        assertEquals(seen[0], seen[1] - e0);
        assertEquals(1, udpFlows());
        assertEquals(7, onLoop(inst, () -> 7), "loop alive");
        inst.unbind(h);
        cycle(1);
    }

    /** Allocates a flow when its eventfd fires and throws before activating it. */
    static final class HalfSetup extends EfdHandler {
        HalfSetup() {
            super("half", "half.t");
        }

        @Override
        public void event(Instance instance, int eventType, long ref, int ev) {
            super.event(instance, eventType, ref, ev);
            Flow f = instance.flows().alloc();
            instance.flows().initiate(f, Pif.TAP, 0, InetAddr.v4Lo(1), 1, 0, InetAddr.v4Lo(2), 2);
            throw new IllegalStateException("failure in the middle of flow setup (expected by test)");
        }
    }

    @Test
    void aFlowLeftHalfSetUpByAFailingHandlerDoesNotKillTheLoop() {
        HalfSetup h = new HalfSetup();
        inst.bind(h, "t", "1");
        await(() -> h.attaches.get() == 1, 5000, "attach");
        long e0 = counter(inst, "handler.errors");
        h.signal();
        await(() -> h.events.get() == 1, 5000, "event");
        assertEquals(9, onLoop(inst, () -> 9), "loop alive");
        assertEquals(2, counter(inst, "handler.errors") - e0, "event error and abandoned flow");
        assertEquals(0, onLoop(inst, () -> inst.flows().count()));
        // The table is usable again.
        FlowHandler fh = bound(new FlowHandler("udp", FlowType.UDP));
        Flow f = onLoop(inst, () -> newFlow(inst.flows(), FlowType.UDP, 7000));
        assertNotNull(f);
        fh.finish = true;
        await(() -> udpFlows() == 0, 5000, "flow freed");
        h.close(inst);
    }
}
