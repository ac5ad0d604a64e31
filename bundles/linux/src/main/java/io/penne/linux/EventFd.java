package io.penne.linux;

/**
 * A non-blocking, close-on-exec eventfd: the wake-up line into an event loop.
 *
 * <p>Theory of operation: {@link #signal()} adds 1 to the kernel counter with
 * glibc's {@code eventfd_write()}, which takes the value as an argument rather
 * than through memory, so it needs no buffer and any thread may call it
 * concurrently. The loop registers {@link #fd()} with its {@link Epoll} for
 * {@code EPOLLIN} and calls {@link #drain()}, which reads and resets the
 * counter into this object's own 8-byte buffer. Nothing allocates after
 * {@link #create()}.
 *
 * <p>Thread rules: {@link #signal()} from any thread; {@link #drain()} and
 * {@link #close()} only from the owning loop thread.
 */
public final class EventFd implements AutoCloseable {
    private final int fd;
    private final NativeBuffer scratch = NativeBuffer.allocate(8);
    private volatile boolean closed;

    private EventFd(int fd) {
        this.fd = fd;
    }

    /** Creates an eventfd with counter 0, {@code EFD_NONBLOCK|EFD_CLOEXEC}; throws {@link SysException}. */
    public static EventFd create() {
        return new EventFd(Sys.check(Sys.eventfd(0, Sys.EFD_NONBLOCK | Sys.EFD_CLOEXEC), "eventfd"));
    }

    public int fd() {
        return fd;
    }

    /**
     * Makes the fd readable: 0, or {@code -errno}. {@code -EAGAIN} only if the
     * counter is about to overflow, which means the loop already has a wake-up
     * pending, so callers may ignore it.
     */
    public int signal() {
        return Sys.eventfdWrite(fd, 1L);
    }

    /** Reads and resets the counter: the number of signals since the last drain, or {@code -EAGAIN} if none. */
    public long drain() {
        return Sys.eventfdRead(fd, scratch);
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
