package io.penne.linux;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import org.junit.jupiter.api.Test;

/**
 * Proves the data-path calls do not allocate: JNA direct dispatch with
 * primitive arguments, errno via Native.getLastError(), results read from
 * preallocated native memory.
 */
class AllocationTest {
    private static final int ROUNDS = 100_000;
    private static final long BOUND = 64 * 1024;

    private static long allocated() {
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        return mx.getThreadAllocatedBytes(Thread.currentThread().getId());
    }

    private static long loop(Epoll ep, EventFd e, TimerFd t, NativeBuffer scratch, int rounds) {
        long sum = 0;
        for (int i = 0; i < rounds; i++) {
            e.signal();
            int n = ep.waitEvents(0);
            for (int j = 0; j < n; j++)
                sum += ep.data(j) + ep.events(j);
            sum += e.drain();
            sum += e.drain(); // -EAGAIN: errno path
            sum += Sys.close(-1); // -EBADF
            sum += t.arm(1_000_000_000L, 0);
            sum += t.expirations(); // -EAGAIN
            sum += Sys.epollCtl(ep.fd(), Sys.EPOLL_CTL_MOD, e.fd(), Epoll.EPOLLIN, i, scratch);
        }
        return sum;
    }

    @Test
    void hotCallsDoNotAllocate() {
        try (Epoll ep = Epoll.create(16); EventFd e = EventFd.create(); TimerFd t = TimerFd.create()) {
            NativeBuffer scratch = NativeBuffer.allocate(64);
            assertEquals(0, ep.add(e.fd(), Epoll.EPOLLIN, 1));
            loop(ep, e, t, scratch, ROUNDS); // warm up: class init, JNA thread-local setup, JIT
            long before = allocated();
            long sum = loop(ep, e, t, scratch, ROUNDS);
            long delta = allocated() - before;
            assertTrue(sum != 0);
            assertTrue(delta < BOUND, "allocated " + delta + " bytes in " + ROUNDS + " rounds");
            System.out.println("AllocationTest: " + delta + " bytes allocated in " + ROUNDS + " rounds");
        }
    }
}
