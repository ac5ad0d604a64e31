package io.penne.linux;

/**
 * A failed system call on a setup path, naming the call and the errno.
 *
 * <p>Theory of operation: thrown only by {@link Sys#check} and the setup
 * helpers built on it (creating an epoll, eventfd or timerfd, the kernel
 * probe). Data-path code never sees it: there, failures are {@code -errno}
 * return values, because exceptions allocate and {@code EAGAIN} is an
 * everyday result, not an error. Immutable and thread-safe.
 */
public final class SysException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final String call;
    private final int errno;

    public SysException(String call, int errno) {
        super(call + ": " + Errno.describe(errno));
        this.call = call;
        this.errno = Math.abs(errno);
    }

    /** What was called, as given to {@link Sys#check}. */
    public String call() {
        return call;
    }

    /** The (positive) errno. */
    public int errno() {
        return errno;
    }
}
