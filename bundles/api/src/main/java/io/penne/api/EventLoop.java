package io.penne.api;

import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;

/**
 * The single thread of an instance, around {@code epoll_wait}. Everything
 * that touches flows runs on it; other threads hand it work through
 * {@link #execute} or {@link #submit}, which wake it through an eventfd.
 *
 * <p>Registration methods must be called on the loop thread. They return 0
 * or a negative errno, never throw for a system call failure.
 */
public interface EventLoop {
    /** epoll event bits, as in {@code <sys/epoll.h>}. */
    int EPOLLIN = 0x001;
    int EPOLLPRI = 0x002;
    int EPOLLOUT = 0x004;
    int EPOLLERR = 0x008;
    int EPOLLHUP = 0x010;
    int EPOLLRDHUP = 0x2000;
    int EPOLLONESHOT = 1 << 30;
    int EPOLLET = 1 << 31;

    /** Whether the caller is the loop thread. */
    boolean inLoop();

    /** Runs {@code task} on the loop thread soon; safe from any thread. */
    void execute(Runnable task);

    /** Runs {@code task} on the loop thread and completes with its result. */
    <T> CompletableFuture<T> submit(Callable<T> task);

    /** Adds {@code fd} to the epoll set with {@code events} and {@code ref} (see {@link EpollRef}). */
    int register(int fd, int events, long ref);

    /** Changes the events and reference of a registered fd. */
    int modify(int fd, int events, long ref);

    /** Removes {@code fd} from the epoll set (before closing it). */
    int unregister(int fd);

    /** {@link System#nanoTime()} taken when the current loop cycle began. */
    long now();

    /**
     * Runs {@code task} on the loop after {@code delayNanos}; for timers that are
     * not per packet (per-flow timers use their own timerfds).
     *
     * @return an id for {@link #cancel}
     */
    long schedule(long delayNanos, Runnable task);

    /** Cancels a scheduled task; false if it already ran or was cancelled. */
    boolean cancel(long id);
}
