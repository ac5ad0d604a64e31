package io.penne.core;

import static io.penne.core.TestSupport.await;
import static io.penne.core.TestSupport.onLoop;
import static io.penne.core.TestSupport.onLoopRun;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.penne.api.EpollRef;
import io.penne.api.EventLoop;
import io.penne.api.Instance;
import io.penne.api.ProtocolHandler;
import io.penne.api.flow.FlowType;
import io.penne.linux.EventFd;
import java.lang.management.ManagementFactory;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The dispatch path (epoll_wait, type lookup, counter, handler call, end of
 * cycle with an empty flow table) allocates nothing per event.
 */
class DispatchAllocationTest {
    private static final int EVENTS = 100_000;
    private static final long BOUND = 256 * 1024;

    private InstanceImpl inst;

    @BeforeEach
    void setUp() {
        inst = new InstanceImpl("alloc-test", 64, Map.of());
        inst.start();
    }

    @AfterEach
    void tearDown() {
        inst.stop();
    }

    /** Re-signals its own eventfd from each event, so the loop dispatches back to back. */
    static final class PingPong implements ProtocolHandler {
        private static final com.sun.management.ThreadMXBean MX =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        EventFd efd;
        int remaining;
        int dispatched;
        long allocStart;
        long allocEnd;
        CountDownLatch done;

        @Override
        public String name() {
            return "pingpong";
        }

        @Override
        public Set<String> eventTypes() {
            return Set.of("pingpong.efd");
        }

        @Override
        public Set<FlowType> flowTypes() {
            return Set.of();
        }

        @Override
        public void attach(Instance instance, boolean adopting) {
            efd = EventFd.create();
            instance.loop().register(efd.fd(), EventLoop.EPOLLIN,
                EpollRef.of(instance.eventType("pingpong.efd"), efd.fd(), 0));
        }

        /** Starts a run of {@code n} events; loop thread. */
        void start(int n, CountDownLatch latch) {
            remaining = n;
            done = latch;
            allocStart = MX.getCurrentThreadAllocatedBytes();
            efd.signal();
        }

        @Override
        public void event(Instance instance, int eventType, long ref, int events) {
            efd.drain();
            dispatched++;
            if (--remaining > 0) {
                efd.signal();
            } else {
                allocEnd = MX.getCurrentThreadAllocatedBytes();
                done.countDown();
            }
        }
    }

    private long run(PingPong h) throws InterruptedException {
        CountDownLatch latch = new CountDownLatch(1);
        onLoopRun(inst, () -> h.start(EVENTS, latch));
        assertTrue(latch.await(30, TimeUnit.SECONDS), "events did not all arrive");
        return onLoop(inst, () -> h.allocEnd - h.allocStart);
    }

    @Test
    void dispatchDoesNotAllocatePerEvent() throws Exception {
        PingPong h = new PingPong();
        inst.bind(h, "test", "1");
        await(() -> onLoop(inst, () -> h.efd != null), 5000, "attach");
        try {
            run(h); // warm-up: class init, JIT
            long cycles0 = onLoop(inst, inst::cycles);
            long bytes = run(h);
            long cycles = onLoop(inst, inst::cycles) - cycles0;
            System.out.println("DispatchAllocationTest: " + bytes + " bytes allocated on the loop thread for "
                + EVENTS + " events in " + cycles + " cycles");
            assertEquals(2 * EVENTS, onLoop(inst, () -> h.dispatched));
            assertTrue(cycles >= EVENTS, "cycles " + cycles);
            assertTrue(bytes < BOUND, "dispatch allocated " + bytes + " bytes for " + EVENTS + " events");
        } finally {
            onLoopRun(inst, () -> {
                inst.loop().unregister(h.efd.fd());
                h.efd.close();
            });
        }
    }
}
