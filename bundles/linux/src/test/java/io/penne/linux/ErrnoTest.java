package io.penne.linux;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** errno handling of LibC calls (either binding): read without exceptions, preserved per thread. */
class ErrnoTest {

    @Test
    void rawCallReturnsMinusOneAndErrnoIsPreserved() {
        assertEquals(-1, LibC.close(-1));
        assertEquals(Errno.EBADF, LibC.errno());
        // The binding copied errno into a thread-local slot right after the call, so
        // Java work (allocation, even a GC) in between does not disturb it.
        byte[][] garbage = new byte[1000][];
        for (int i = 0; i < garbage.length; i++)
            garbage[i] = new byte[1024];
        System.gc();
        assertEquals(Errno.EBADF, LibC.errno());
        // But the binding refreshes its copy after EVERY call, successful ones included,
        // from whatever the thread's errno then is; the JVM's own libc calls
        // (GC, class loading) have changed that meanwhile (ENOENT was observed
        // here). So the value is only meaningful straight after a call that
        // returned -1, before any other call on the thread, which is how
        // Sys reads it.
        assertTrue(LibC.getpid() > 0);
        int stale = LibC.errno();
        assertTrue(stale >= 0, "whatever errno was: " + stale);
        // a later failing call replaces it
        assertEquals(-1, LibC.dup(-5));
        assertEquals(Errno.EBADF, LibC.errno());
        assertEquals(-1, LibC.epoll_create1(-1));
        assertEquals(Errno.EINVAL, LibC.errno());
    }

    @Test
    void errnoIsPerThread() throws Exception {
        assertEquals(-1, LibC.epoll_create1(-1));
        Thread t = new Thread(() -> LibC.close(-1));
        t.start();
        t.join();
        assertEquals(Errno.EINVAL, LibC.errno());
    }

    @Test
    void facadeReturnsNegativeErrno() {
        assertEquals(-Errno.EBADF, Sys.close(-1));
        assertEquals(-Errno.EBADF, Sys.read(-1, 0L, 0L));
        assertEquals(-Errno.EINVAL, Sys.epollCreate(-1));
        assertEquals(-Errno.EAFNOSUPPORT, Sys.socket(12345, Sockets.SOCK_STREAM, 0));
    }

    @Test
    void namesAndDescriptions() {
        assertEquals("EAGAIN", Errno.name(Errno.EAGAIN));
        assertEquals("EAGAIN", Errno.name(-Errno.EAGAIN));
        assertEquals("EAGAIN (Resource temporarily unavailable)", Errno.describe(11));
        assertEquals("EBADF (Bad file descriptor)", Errno.describe(-9));
        assertEquals("EINPROGRESS", Errno.name(115));
        assertEquals("ECONNREFUSED", Errno.name(111));
        assertEquals("ENOPROTOOPT", Errno.name(92));
        assertEquals("EADDRINUSE", Errno.name(98));
        assertEquals("errno 999", Errno.name(999));
        assertTrue(Errno.isKnown(Errno.EPIPE));
        assertFalse(Errno.isKnown(999));
        assertEquals(Errno.EAGAIN, Errno.EWOULDBLOCK);
    }

    @Test
    void checkThrowsOnlyOnFailure() {
        assertEquals(3, Sys.check(3, "x"));
        SysException e = assertThrows(SysException.class, () -> Sys.check(Sys.close(-1), "close(-1)"));
        assertEquals(Errno.EBADF, e.errno());
        assertEquals("close(-1): EBADF (Bad file descriptor)", e.getMessage());
    }

    @Test
    void identity() {
        assertEquals(ProcessHandle.current().pid(), Sys.getpid());
        assertTrue(Sys.getuid() >= 0);
        assertTrue(Sys.getgid() >= 0);
    }
}
