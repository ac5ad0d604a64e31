package io.penne.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/** The bookkeeping of paused listeners, against a loop that only records what it is asked (pure logic). */
class ListenerPauseTest {
    /** Interest masks by fd, and the scheduled tasks. */
    static final class RecordingLoop implements EventLoop {
        final Map<Integer, Integer> masks = new HashMap<>();
        final List<Runnable> tasks = new ArrayList<>();
        final List<Long> delays = new ArrayList<>();
        int cancelled;

        @Override public boolean inLoop() { return true; }
        @Override public void execute(Runnable task) { task.run(); }
        @Override public <T> CompletableFuture<T> submit(Callable<T> task) { throw new UnsupportedOperationException(); }
        @Override public int register(int fd, int events, long ref) { masks.put(fd, events); return 0; }
        @Override public int modify(int fd, int events, long ref) {
            assertEquals(EpollRef.fd(ref), fd, "the reference goes with its socket");
            masks.put(fd, events);
            return 0;
        }
        @Override public int unregister(int fd) { masks.remove(fd); return 0; }
        @Override public long now() { return 0; }
        @Override public long schedule(long delayNanos, Runnable task) { delays.add(delayNanos); tasks.add(task); return tasks.size(); }
        @Override public boolean cancel(long id) { cancelled++; return true; }
    }

    @Test
    void pausedListenersAreWatchedAgainAfterThePauseInOneTask() {
        RecordingLoop loop = new RecordingLoop();
        ListenerPause p = new ListenerPause(loop, EventLoop.EPOLLIN);
        for (int fd = 10; fd < 16; fd++)
            loop.register(fd, EventLoop.EPOLLIN, EpollRef.of(3, fd, fd * 2));
        for (int fd = 10; fd < 16; fd++)
            p.pause(fd, EpollRef.of(3, fd, fd * 2));
        p.pause(12, EpollRef.of(3, 12, 24)); // again, while paused: no second entry, no second task
        assertEquals(6, p.paused());
        assertEquals(1, loop.tasks.size());
        assertEquals(ListenerPause.PAUSE_NANOS, loop.delays.get(0));
        for (int fd = 10; fd < 16; fd++)
            assertEquals(0, loop.masks.get(fd), "fd " + fd + " unwatched");
        loop.tasks.get(0).run();
        assertEquals(0, p.paused());
        for (int fd = 10; fd < 16; fd++)
            assertEquals(EventLoop.EPOLLIN, loop.masks.get(fd), "fd " + fd + " watched again");
        // A later pause schedules a new task.
        p.pause(11, EpollRef.of(3, 11, 22));
        assertEquals(2, loop.tasks.size());
    }

    @Test
    void aForgottenSocketIsNeverTouchedAgain() {
        RecordingLoop loop = new RecordingLoop();
        ListenerPause p = new ListenerPause(loop, EventLoop.EPOLLIN);
        p.pause(20, EpollRef.of(1, 20, 0));
        p.pause(21, EpollRef.of(1, 21, 0));
        p.forget(20);
        loop.masks.remove(20); // closed; the number may be reused by anything
        p.resumeAll();
        assertFalse(loop.masks.containsKey(20));
        assertEquals(EventLoop.EPOLLIN, loop.masks.get(21));
        assertEquals(1, loop.cancelled, "resuming early cancels the pending task");
    }

    @Test
    void onlyDescriptorShortagesPause() {
        assertTrue(ListenerPause.outOfDescriptors(-24)); // EMFILE
        assertTrue(ListenerPause.outOfDescriptors(-23)); // ENFILE
        assertFalse(ListenerPause.outOfDescriptors(-11)); // EAGAIN
        assertFalse(ListenerPause.outOfDescriptors(-103)); // ECONNABORTED
        assertFalse(ListenerPause.outOfDescriptors(5));
    }
}
