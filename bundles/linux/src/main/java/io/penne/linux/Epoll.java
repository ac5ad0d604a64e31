package io.penne.linux;

/**
 * One epoll instance with a preallocated result array: the heart of an event
 * loop.
 *
 * <p>Theory of operation: {@link #create} makes the epoll fd (close-on-exec)
 * and two native buffers, one for {@code maxEvents} results and one for the
 * single event {@code epoll_ctl()} takes, so that registering or changing an
 * fd while iterating over results does not overwrite them. {@link #waitEvents}
 * fills the result array; {@link #events(int)} and {@link #data(int)} read
 * entry {@code i} straight out of native memory. Nothing allocates after
 * {@link #create}.
 *
 * <p>Layout: {@code struct epoll_event} is {@code {u32 events; u64 data}}. On
 * x86_64 (and i386) the kernel declares it packed: 12 bytes, data at offset 4.
 * Everywhere else it has natural alignment: 16 bytes, data at offset 8.
 * {@link #EVENT_SIZE} and {@link #DATA_OFFSET} are chosen from
 * the JVM's {@code os.arch} once.
 *
 * <p>The 64-bit {@code data} is returned verbatim; callers encode whatever
 * they need in it (fd, flow index, type), all 64 bits are preserved.
 *
 * <p>Thread rules: an Epoll belongs to the thread that runs its loop. {@link
 * #waitEvents}, {@link #events}, {@link #data}, {@link #add}, {@link #mod} and
 * {@link #del} must only be called by that thread, because they use this
 * object's buffers. Other threads that need to change the interest list
 * call {@link Sys#epollCtl} on {@link #fd()} with their own scratch buffer
 * (the kernel serialises epoll_ctl itself); to wake the loop, signal an
 * {@link EventFd} registered here.
 */
public final class Epoll implements AutoCloseable {
    /** Size of {@code struct epoll_event} on this architecture. */
    public static final int EVENT_SIZE;
    /** Offset of {@code data} within {@code struct epoll_event}. */
    public static final int DATA_OFFSET;

    static {
        String arch = System.getProperty("os.arch");
        boolean packed = arch.equals("amd64") || arch.equals("x86_64") || arch.equals("x86") || arch.equals("i386");
        EVENT_SIZE = packed ? 12 : 16;
        DATA_OFFSET = packed ? 4 : 8;
    }

    public static final int EPOLLIN = 0x001;
    public static final int EPOLLPRI = 0x002;
    public static final int EPOLLOUT = 0x004;
    public static final int EPOLLERR = 0x008;
    public static final int EPOLLHUP = 0x010;
    public static final int EPOLLRDHUP = 0x2000;
    public static final int EPOLLEXCLUSIVE = 1 << 28;
    public static final int EPOLLWAKEUP = 1 << 29;
    public static final int EPOLLONESHOT = 1 << 30;
    public static final int EPOLLET = 1 << 31;

    private final int fd;
    private final int maxEvents;
    private final NativeBuffer events;
    private final long eventsAddress;
    private final NativeBuffer ctl;
    private boolean closed;

    private Epoll(int fd, int maxEvents) {
        this.fd = fd;
        this.maxEvents = maxEvents;
        this.events = NativeBuffer.allocate(maxEvents * EVENT_SIZE);
        this.eventsAddress = events.address();
        this.ctl = NativeBuffer.allocate(16);
    }

    /** Creates an epoll instance returning up to {@code maxEvents} per wait; throws {@link SysException}. */
    public static Epoll create(int maxEvents) {
        if (maxEvents <= 0 || maxEvents > (Integer.MAX_VALUE / 16))
            throw new IllegalArgumentException("maxEvents " + maxEvents);
        int fd = Sys.check(Sys.epollCreate(Sys.EPOLL_CLOEXEC), "epoll_create1");
        return new Epoll(fd, maxEvents);
    }

    /** The epoll file descriptor. */
    public int fd() {
        return fd;
    }

    /** Size of the result array. */
    public int maxEvents() {
        return maxEvents;
    }

    /** Registers {@code target} for {@code events}; 0 or {@code -errno} (e.g. -EEXIST). */
    public int add(int target, int events, long data) {
        return Sys.epollCtl(fd, Sys.EPOLL_CTL_ADD, target, events, data, ctl);
    }

    /** Changes the events and data of a registered fd; 0 or {@code -errno} (e.g. -ENOENT). */
    public int mod(int target, int events, long data) {
        return Sys.epollCtl(fd, Sys.EPOLL_CTL_MOD, target, events, data, ctl);
    }

    /** Removes {@code target}; 0 or {@code -errno}. */
    public int del(int target) {
        return Sys.epollCtl(fd, Sys.EPOLL_CTL_DEL, target, 0, 0L, ctl);
    }

    /**
     * Waits up to {@code timeoutMs} (-1: forever, 0: poll). Returns the number
     * of ready entries (readable with {@link #events}/{@link #data} until the next
     * wait), or {@code -errno}; a signal gives {@code -EINTR}, which callers
     * normally treat as "0 events".
     */
    public int waitEvents(int timeoutMs) {
        int n = Sys.epollWait(fd, eventsAddress, maxEvents, timeoutMs);
        events.keepAlive();
        return n;
    }

    /** The ready-event mask of result {@code i}. */
    public int events(int i) {
        return events.getInt(i * EVENT_SIZE);
    }

    /** The 64-bit data of result {@code i}, as registered. */
    public long data(int i) {
        return events.getLong(i * EVENT_SIZE + DATA_OFFSET);
    }

    /** Closes the epoll fd; idempotent. */
    @Override
    public void close() {
        if (!closed) {
            closed = true;
            Sys.close(fd);
        }
    }
}
