package io.penne.linux;

/**
 * A non-blocking, close-on-exec {@code CLOCK_MONOTONIC} timerfd: the event
 * loop's timer, firing as an {@code EPOLLIN} event.
 *
 * <p>Theory of operation: {@link #arm} builds the {@code itimerspec} in this
 * object's own buffer and calls {@code timerfd_settime()} with a relative
 * expiry; {@link #expirations()} reads the 8-byte expiration count, which the
 * kernel resets on read. A periodic timer that the loop services late
 * reports several expirations in one read rather than queueing events.
 * Nothing allocates after {@link #create()}.
 *
 * <p>Limits: a relative initial expiry of 0 means "disarm" to the kernel, so
 * {@link #arm} rounds it up to 1 ns; negative times give {@code -EINVAL}.
 *
 * <p>Thread rules: all methods are for the owning loop thread only (they share
 * one buffer).
 */
public final class TimerFd implements AutoCloseable {
    private final int fd;
    private final NativeBuffer scratch = NativeBuffer.allocate(Sys.ITIMERSPEC_SIZE);
    private boolean closed;

    private TimerFd(int fd) {
        this.fd = fd;
    }

    /** Creates a disarmed timer, {@code TFD_NONBLOCK|TFD_CLOEXEC}; throws {@link SysException}. */
    public static TimerFd create() {
        return new TimerFd(Sys.check(Sys.timerfdCreate(Sys.CLOCK_MONOTONIC, Sys.TFD_NONBLOCK | Sys.TFD_CLOEXEC),
                "timerfd_create"));
    }

    public int fd() {
        return fd;
    }

    /**
     * Arms the timer to fire {@code initialNanos} from now and then every
     * {@code intervalNanos} (0: once). Replaces any previous setting. 0 or
     * {@code -errno}.
     */
    public int arm(long initialNanos, long intervalNanos) {
        return Sys.timerfdSettime(fd, 0, initialNanos == 0 ? 1 : initialNanos, intervalNanos, scratch);
    }

    /** Fires once, {@code nanos} from now. */
    public int oneShot(long nanos) {
        return arm(nanos, 0);
    }

    /** Fires every {@code nanos}, starting {@code nanos} from now. */
    public int periodic(long nanos) {
        return arm(nanos, nanos);
    }

    /** Stops the timer; expirations already counted remain readable. */
    public int disarm() {
        return Sys.timerfdSettime(fd, 0, 0, 0, scratch);
    }

    /** Expirations since the last read (resetting the count), or {@code -EAGAIN} if none. */
    public long expirations() {
        long n = Sys.read(fd, scratch, 0, 8);
        return n < 0 ? n : scratch.getLong(0);
    }

    /** Closes the fd; idempotent. */
    @Override
    public void close() {
        if (!closed) {
            closed = true;
            Sys.close(fd);
        }
    }
}
