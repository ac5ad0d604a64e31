package io.penne.api;

import java.util.concurrent.TimeUnit;

/**
 * Listening sockets whose {@code accept()} ran out of descriptors, left
 * unwatched for a moment.
 *
 * <p>Theory of operation: listening sockets are level-triggered, so while
 * connections wait in the backlog epoll reports them on every wait. When
 * {@code accept()} fails with {@code EMFILE} or {@code ENFILE} (the
 * open-files limit of the process or of the system) the connection stays in
 * the backlog and the loop would spin at full speed on the same event without
 * ever serving anything. Instead the handler calls {@link #pause}: the
 * socket's interest mask goes to zero, and after {@link #PAUSE_NANOS} every
 * paused socket is watched again in one loop task. Waiting clients stay in
 * the backlog and are served once descriptors are free again (a connection
 * closes); none is reset by penne. A handler must {@link #forget} a socket
 * before closing it, so that the task never touches a descriptor number that
 * was reused, and {@link #resumeAll} when it detaches, so that a handler that
 * adopts the sockets finds them watched.
 *
 * <p>Loop thread only. No allocation except when the table of paused sockets
 * grows (once per doubling).
 */
public final class ListenerPause {
    /** How long a socket stays unwatched: ten retries a second cost nothing and keep the wait short. */
    public static final long PAUSE_NANOS = TimeUnit.MILLISECONDS.toNanos(100);

    private final EventLoop loop;
    private final int events;
    private int[] fds = new int[4];
    private long[] refs = new long[4];
    private int count;
    private long task = -1;
    private final Runnable resume = this::resumeAll;

    /**
     * @param loop   the loop the sockets are registered with
     * @param events the interest mask a resumed socket gets back (usually {@link EventLoop#EPOLLIN})
     */
    public ListenerPause(EventLoop loop, int events) {
        this.loop = loop;
        this.events = events;
    }

    /** errno values (asm-generic/errno-base.h; the api bundle does not depend on the linux one). */
    static final int ENFILE = 23, EMFILE = 24;

    /** Whether {@code -errno} from {@code accept()} means no descriptor was free. */
    public static boolean outOfDescriptors(int negErrno) {
        return negErrno == -EMFILE || negErrno == -ENFILE;
    }

    /** Stops watching {@code fd} (registered with {@code ref}) until the next resume. */
    public void pause(int fd, long ref) {
        for (int i = 0; i < count; i++)
            if (fds[i] == fd)
                return;
        if (count == fds.length) {
            fds = java.util.Arrays.copyOf(fds, count * 2);
            refs = java.util.Arrays.copyOf(refs, count * 2);
        }
        loop.modify(fd, 0, ref);
        fds[count] = fd;
        refs[count] = ref;
        count++;
        if (task < 0)
            task = loop.schedule(PAUSE_NANOS, resume);
    }

    /** Drops {@code fd} (about to be closed) if it is paused; it is not touched again. */
    public void forget(int fd) {
        for (int i = 0; i < count; i++) {
            if (fds[i] == fd) {
                count--;
                fds[i] = fds[count];
                refs[i] = refs[count];
                return;
            }
        }
    }

    /** Watches every paused socket again, now. */
    public void resumeAll() {
        if (task >= 0) {
            loop.cancel(task);
            task = -1;
        }
        for (int i = 0; i < count; i++)
            loop.modify(fds[i], events, refs[i]);
        count = 0;
    }

    /** Sockets paused now. */
    public int paused() {
        return count;
    }
}
