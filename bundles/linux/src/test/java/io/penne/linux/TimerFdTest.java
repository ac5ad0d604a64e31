package io.penne.linux;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class TimerFdTest {
    private static final long MS = 1_000_000L;

    @Test
    void oneShotFiresOnce() {
        try (Epoll ep = Epoll.create(2); TimerFd t = TimerFd.create()) {
            assertEquals(0, ep.add(t.fd(), Epoll.EPOLLIN, 7));
            assertEquals(-Errno.EAGAIN, t.expirations());
            long t0 = System.nanoTime();
            assertEquals(0, t.oneShot(30 * MS));
            assertEquals(1, ep.waitEvents(5000));
            long elapsed = System.nanoTime() - t0;
            assertEquals(7, ep.data(0));
            assertTrue(elapsed >= 29 * MS, "fired early: " + elapsed);
            assertTrue(elapsed < 2000 * MS, "fired late: " + elapsed);
            assertEquals(1, t.expirations());
            assertEquals(0, ep.waitEvents(60));
            assertEquals(-Errno.EAGAIN, t.expirations());
        }
    }

    @Test
    void periodicFiresRepeatedlyAndDisarmStops() throws Exception {
        try (Epoll ep = Epoll.create(2); TimerFd t = TimerFd.create()) {
            assertEquals(0, ep.add(t.fd(), Epoll.EPOLLIN, 1));
            assertEquals(0, t.periodic(10 * MS));
            long total = 0;
            for (int i = 0; i < 3; i++) {
                assertEquals(1, ep.waitEvents(5000));
                long n = t.expirations();
                assertTrue(n >= 1, "expirations " + n);
                total += n;
            }
            assertTrue(total >= 3);
            Thread.sleep(35);
            assertTrue(t.expirations() >= 2, "late reads coalesce expirations");
            assertEquals(0, t.disarm());
            t.expirations(); // anything counted before the disarm
            assertEquals(0, ep.waitEvents(50));
            assertEquals(-Errno.EAGAIN, t.expirations());
        }
    }

    @Test
    void negativeTimeIsEinval() {
        try (TimerFd t = TimerFd.create()) {
            assertEquals(-Errno.EINVAL, t.oneShot(-5));
        }
    }
}
