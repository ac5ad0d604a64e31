package io.penne.linux;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Real network namespaces (needs CAP_SYS_ADMIN, i.e. root or root in a user
 * namespace; skipped otherwise).
 */
class NetnsThreadTest {
    private final NativeBuffer scratch = NativeBuffer.allocate(256);

    @BeforeEach
    void needRoot() {
        Assumptions.assumeTrue(Sys.getuid() == 0, "needs root (or root in a user namespace)");
    }

    @Test
    void createNewMovesOnlyItsThread() {
        long host = Namespaces.netnsInode();
        try (NetnsThread ns = NetnsThread.createNew("own")) {
            long inside = ns.call(Namespaces::netnsInode);
            assertNotEquals(host, inside);
            assertEquals(host, Namespaces.netnsInode(), "the calling thread did not move");
            assertEquals(inside, Namespaces.nsInodeOfFd(ns.nsFd()));
            assertEquals(ns.tid(), (int) ns.call(Sys::gettid));
            assertTrue(Files.exists(Path.of("/proc/self/task/" + ns.tid())));
        }
    }

    @Test
    void socketsBelongToTheNamespaceTheyWereCreatedIn() throws Exception {
        // Reserve a port on the host: bound, not listening, so connects there are refused.
        int reserve = Sockets.tcp(Sockets.AF_INET);
        int listener = -1, inner = -1, outer = -1, accepted = -1;
        try (NetnsThread ns = NetnsThread.createNew("sock")) {
            assertEquals(0, Sockets.bind4(reserve, Sockets.LOOPBACK4, 0, scratch));
            int port = Sockets.localPort(reserve, scratch);
            assertEquals(0, run(ns, "ip", "link", "set", "lo", "up").exit());

            NativeBuffer nsScratch = NativeBuffer.allocate(256);
            listener = ns.call(() -> {
                int l = Sockets.tcp(Sockets.AF_INET);
                Sys.check(Sockets.bind4(l, Sockets.LOOPBACK4, port, nsScratch), "bind");
                Sys.check(Sockets.listen(l, 8), "listen");
                return l;
            });

            // From the host namespace: nothing listens on 127.0.0.1:port.
            outer = Sockets.tcp(Sockets.AF_INET);
            assertEquals(Errno.ECONNREFUSED, connectResult(outer, port));

            // From inside (socket created on the namespace thread, used here).
            inner = ns.call(() -> Sockets.tcp(Sockets.AF_INET));
            assertEquals(0, connectResult(inner, port));
            accepted = Sockets.accept(listener, scratch);
            assertTrue(accepted >= 0, Errno.name(accepted));
        } finally {
            for (int fd : new int[] {reserve, listener, inner, outer, accepted})
                if (fd >= 0)
                    Sys.close(fd);
        }
    }

    @Test
    void joinByFdAndByPathReachTheSameNamespace() {
        try (NetnsThread a = NetnsThread.createNew("a");
                NetnsThread b = NetnsThread.join("b", a.nsFd());
                NetnsThread c = NetnsThread.join("c", "/proc/self/task/" + a.tid() + "/ns/net")) {
            long ns = a.call(Namespaces::netnsInode);
            assertEquals(ns, b.call(Namespaces::netnsInode));
            assertEquals(ns, c.call(Namespaces::netnsInode));
            assertEquals(ns, Namespaces.nsInodeOfFd(b.nsFd()));
            assertNotEquals(a.nsFd(), b.nsFd());
        }
    }

    @Test
    void joinFailuresThrowAndLeaveNoThread() {
        SysException badFd = assertThrows(SysException.class, () -> NetnsThread.join("bogus", 999_999));
        assertTrue(badFd.call().startsWith("setns"), badFd.call());
        assertEquals(Errno.EBADF, badFd.errno());

        SysException noPath = assertThrows(SysException.class, () -> NetnsThread.join("bogus", "/nonexistent/ns/net"));
        assertTrue(noPath.call().startsWith("open"), noPath.call());
        assertEquals(Errno.ENOENT, noPath.errno());

        // A file that is not a namespace.
        SysException notNs = assertThrows(SysException.class, () -> NetnsThread.join("bogus", "/dev/null"));
        assertTrue(notNs.call().startsWith("setns"), notNs.call());
        assertEquals(Errno.EINVAL, notNs.errno());

        for (Thread t : Thread.getAllStackTraces().keySet())
            assertFalse(t.getName().startsWith("penne-netns-bogus"), t + " left running");
    }

    @Test
    void closeEndsTheThread() throws Exception {
        NetnsThread ns = NetnsThread.createNew("closing");
        Path task = Path.of("/proc/self/task/" + ns.tid());
        assertTrue(Files.exists(task));
        ns.close();
        ns.close(); // idempotent
        assertEquals(-1, ns.nsFd());
        // The Java thread has been joined; the kernel task goes a moment later.
        long deadline = System.nanoTime() + 2_000_000_000L;
        while (Files.exists(task) && System.nanoTime() < deadline)
            Thread.sleep(10);
        assertFalse(Files.exists(task), "namespace thread still running");
        assertThrows(IllegalStateException.class, () -> ns.call(() -> 1));
    }

    @Test
    void callRethrowsAndNests() {
        try (NetnsThread ns = NetnsThread.createNew("calls")) {
            IllegalArgumentException iae = new IllegalArgumentException("x");
            assertSame(iae, assertThrows(IllegalArgumentException.class, () -> ns.call(() -> {
                throw iae;
            })));
            IOException io = new IOException("y");
            assertSame(io, assertThrows(UncheckedIOException.class, () -> ns.call(() -> {
                throw io;
            })).getCause());
            Exception checked = new Exception("z");
            assertSame(checked, assertThrows(CompletionException.class, () -> ns.call(() -> {
                throw checked;
            })).getCause());
            // A call from the namespace thread runs inline instead of deadlocking.
            assertEquals(42, (int) ns.call(() -> ns.call(() -> 42)));
            // The thread survives failed tasks.
            assertEquals(ns.tid(), (int) ns.call(Sys::gettid));
        }
    }

    /** Documented pitfall: threads started on the namespace thread are in the namespace too. */
    @Test
    void threadsStartedInsideInheritTheNamespace() {
        try (NetnsThread ns = NetnsThread.createNew("inherit")) {
            long inside = ns.call(Namespaces::netnsInode);
            long[] seen = new long[1];
            ns.call(() -> {
                Thread t = new Thread(() -> seen[0] = Namespaces.netnsInode());
                t.start();
                t.join();
                return null;
            });
            assertEquals(inside, seen[0]);
        }
    }

    /**
     * The assumption behind spawn(): ProcessBuilder forks from the calling
     * thread, so a child started on the namespace thread is in the namespace.
     */
    @Test
    void spawnedProcessInheritsTheThreadsNamespace() throws Exception {
        try (NetnsThread ns = NetnsThread.createNew("spawn");
                Tap tap = ns.call(() -> Tap.open("tap0"))) {
            long inside = ns.call(Namespaces::netnsInode);
            assertEquals("net:[" + inside + "]", run(ns, "readlink", "/proc/self/ns/net").out().trim());

            Set<String> nsIfs = interfaces(run(ns, "cat", "/proc/net/dev").out());
            assertEquals(Set.of("lo", "tap0"), nsIfs);

            Set<String> hostIfs = interfaces(run(null, "cat", "/proc/net/dev").out());
            assertFalse(hostIfs.contains("tap0"), hostIfs.toString());
            assertTrue(hostIfs.contains("lo"), hostIfs.toString());
            assertEquals("net:[" + Namespaces.netnsInode() + "]", run(null, "readlink", "/proc/self/ns/net").out().trim());
        }
    }

    // -- helpers --

    record Result(int exit, String out) {
    }

    /** Runs a command to completion, spawned via {@code ns} (or from this thread if null), stderr merged. */
    static Result run(NetnsThread ns, String... cmd) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        Process p = ns == null ? pb.start() : ns.spawn(pb);
        String out;
        try (InputStream in = p.getInputStream()) {
            p.getOutputStream().close();
            out = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        int exit = p.waitFor();
        p.getErrorStream().close();
        return new Result(exit, out);
    }

    /** Interface names from /proc/net/dev. */
    static Set<String> interfaces(String procNetDev) {
        Set<String> names = new TreeSet<>();
        for (String line : procNetDev.split("\n")) {
            int colon = line.indexOf(':');
            if (line.contains("|") || colon < 0)
                continue;
            names.add(line.substring(0, colon).trim());
        }
        return names;
    }

    /** Connects non-blocking {@code fd} to 127.0.0.1:port and waits: 0 or the positive errno. */
    private int connectResult(int fd, int port) {
        int r = Sockets.connect4(fd, Sockets.LOOPBACK4, port, scratch);
        if (r == 0)
            return 0;
        if (r != -Errno.EINPROGRESS)
            return -r;
        try (Epoll ep = Epoll.create(1)) {
            assertEquals(0, ep.add(fd, Epoll.EPOLLOUT, 1));
            assertEquals(1, ep.waitEvents(5000));
        }
        return Sockets.soError(fd, scratch);
    }
}
