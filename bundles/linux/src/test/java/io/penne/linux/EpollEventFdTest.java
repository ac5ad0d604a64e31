package io.penne.linux;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.jna.Platform;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class EpollEventFdTest {

    @Test
    void eventLayoutMatchesArchitecture() {
        if ("x86-64".equals(Platform.ARCH)) {
            assertEquals(12, Epoll.EVENT_SIZE);
            assertEquals(4, Epoll.DATA_OFFSET);
        } else if (Platform.is64Bit()) {
            assertEquals(16, Epoll.EVENT_SIZE);
            assertEquals(8, Epoll.DATA_OFFSET);
        }
    }

    @Test
    void emptyEventFdGivesEagain() {
        try (EventFd e = EventFd.create()) {
            assertEquals(-Errno.EAGAIN, e.drain());
            assertEquals(0, e.signal());
            assertEquals(0, e.signal());
            assertEquals(2, e.drain());
            assertEquals(-Errno.EAGAIN, e.drain());
        }
    }

    @Test
    void waitTimesOutWithZero() {
        try (Epoll ep = Epoll.create(4); EventFd e = EventFd.create()) {
            assertEquals(0, ep.add(e.fd(), Epoll.EPOLLIN, 1));
            assertEquals(0, ep.waitEvents(0));
            long t0 = System.nanoTime();
            assertEquals(0, ep.waitEvents(20));
            assertTrue(System.nanoTime() - t0 >= 15_000_000L);
        }
    }

    @Test
    void wakeupFromAnotherThreadCarriesData() throws Exception {
        long data = 0xfedc_ba98_7654_3210L; // high bit set: must survive as all 64 bits
        try (Epoll ep = Epoll.create(8); EventFd e = EventFd.create()) {
            assertEquals(0, ep.add(e.fd(), Epoll.EPOLLIN, data));
            CountDownLatch started = new CountDownLatch(1);
            Thread t = new Thread(() -> {
                started.countDown();
                try {
                    Thread.sleep(50);
                } catch (InterruptedException ex) {
                    return;
                }
                e.signal();
            });
            t.start();
            assertTrue(started.await(5, TimeUnit.SECONDS));
            int n = ep.waitEvents(5000);
            t.join();
            assertEquals(1, n);
            assertEquals(Epoll.EPOLLIN, ep.events(0));
            assertEquals(data, ep.data(0));
            assertEquals(1, e.drain());
            assertEquals(0, ep.waitEvents(0));
        }
    }

    @Test
    void manyFdsWithDistinctData() {
        int count = 5;
        EventFd[] fds = new EventFd[count];
        long[] data = {-1L, Long.MIN_VALUE, Long.MAX_VALUE, 0L, 0x8000_0001_0000_0002L};
        try (Epoll ep = Epoll.create(count)) {
            for (int i = 0; i < count; i++) {
                fds[i] = EventFd.create();
                assertEquals(0, ep.add(fds[i].fd(), Epoll.EPOLLIN | Epoll.EPOLLET, data[i]));
                fds[i].signal();
            }
            int n = ep.waitEvents(1000);
            assertEquals(count, n);
            java.util.Set<Long> seen = new java.util.HashSet<>();
            for (int i = 0; i < n; i++) {
                assertEquals(Epoll.EPOLLIN, ep.events(i));
                seen.add(ep.data(i));
            }
            for (long d : data)
                assertTrue(seen.contains(d), Long.toHexString(d));
            // mod replaces the data word, del removes the fd
            assertEquals(0, ep.mod(fds[0].fd(), Epoll.EPOLLIN, 42L));
            assertEquals(1, ep.waitEvents(0));
            assertEquals(42L, ep.data(0));
            assertEquals(0, ep.del(fds[0].fd()));
        } finally {
            for (EventFd f : fds)
                if (f != null)
                    f.close();
        }
    }

    @Test
    void ctlErrorsAreReturned() {
        try (Epoll ep = Epoll.create(2); EventFd e = EventFd.create()) {
            assertEquals(-Errno.ENOENT, ep.mod(e.fd(), Epoll.EPOLLIN, 0));
            assertEquals(-Errno.ENOENT, ep.del(e.fd()));
            assertEquals(0, ep.add(e.fd(), Epoll.EPOLLIN, 0));
            assertEquals(-Errno.EEXIST, ep.add(e.fd(), Epoll.EPOLLIN, 0));
            assertEquals(-Errno.EBADF, ep.add(-1, Epoll.EPOLLIN, 0));
        }
    }
}
