package io.penne.api;

/**
 * The 64-bit reference carried by every file descriptor registered with an
 * instance's epoll set (the {@code data.u64} of {@code struct epoll_event}):
 *
 * <pre>
 *  bits  0..7   event type  (small stable integer, see {@link Instance#eventType})
 *  bits  8..31  file descriptor (below 2^24)
 *  bits 32..63  payload: a flow side index ({@code Flow.sidx}) or other handler data
 * </pre>
 *
 * Because the type is a number that the dispatcher keeps for the life of the
 * instance, a reference stays valid when the handler that owns the type is
 * replaced.
 */
public final class EpollRef {
    /** Largest event type number. */
    public static final int MAX_TYPE = 255;
    /** Largest file descriptor a reference can hold. */
    public static final int MAX_FD = (1 << 24) - 1;

    private EpollRef() {
    }

    public static long of(int type, int fd, int payload) {
        if (type < 0 || type > MAX_TYPE)
            throw new IllegalArgumentException("event type out of range: " + type);
        if (fd < 0 || fd > MAX_FD)
            throw new IllegalArgumentException("fd out of range: " + fd);
        return (type & 0xffL) | ((long) fd << 8) | ((long) payload << 32);
    }

    public static int type(long ref) {
        return (int) (ref & 0xff);
    }

    public static int fd(long ref) {
        return (int) ((ref >>> 8) & MAX_FD);
    }

    public static int payload(long ref) {
        return (int) (ref >>> 32);
    }
}
