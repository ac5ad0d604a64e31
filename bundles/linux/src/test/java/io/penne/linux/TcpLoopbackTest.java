package io.penne.linux;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** Real TCP over loopback, driven entirely through the bundle's helpers. */
class TcpLoopbackTest {
    private final NativeBuffer scratch = NativeBuffer.allocate(256);
    private final NativeBuffer data = NativeBuffer.allocate(64 * 1024);

    @Test
    void ipv4() {
        roundTrip(Sockets.AF_INET);
    }

    @Test
    void ipv6() {
        roundTrip(Sockets.AF_INET6);
    }

    private int listenLoopback(int family) {
        int l = Sockets.tcp(family);
        assertTrue(l >= 0, Errno.name(l));
        assertEquals(0, Sockets.setReuseAddr(l, true, scratch));
        int r = family == Sockets.AF_INET ? Sockets.bind4(l, Sockets.LOOPBACK4, 0, scratch)
                : Sockets.bind6(l, Sockets.LOOPBACK6_HI, Sockets.LOOPBACK6_LO, 0, scratch);
        assertEquals(0, r, Errno.name(r));
        assertEquals(0, Sockets.listen(l, 16));
        return l;
    }

    private void roundTrip(int family) {
        int l = listenLoopback(family);
        int c = -1, a = -1;
        try (Epoll ep = Epoll.create(8)) {
            int port = Sockets.localPort(l, scratch);
            assertTrue(port > 0 && port < 65536, "port " + port);
            assertEquals(family, Sockets.family(scratch, 0));
            if (family == Sockets.AF_INET)
                assertEquals(Sockets.LOOPBACK4, Sockets.addr4(scratch, 0));
            else
                assertEquals(Sockets.LOOPBACK6_LO, Sockets.addr6Lo(scratch, 0));

            // nothing pending yet
            assertEquals(-Errno.EAGAIN, Sockets.accept(l, scratch));

            c = Sockets.tcp(family);
            assertTrue(c >= 0);
            int r = family == Sockets.AF_INET ? Sockets.connect4(c, Sockets.LOOPBACK4, port, scratch)
                    : Sockets.connect6(c, new byte[] {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, port, scratch);
            assertTrue(r == 0 || r == -Errno.EINPROGRESS, Errno.name(r));
            assertEquals(0, ep.add(c, Epoll.EPOLLOUT, 0xc0ffee_0000_0001L));
            assertEquals(0, ep.add(l, Epoll.EPOLLIN, 0xc0ffee_0000_0002L));
            boolean connected = false, acceptable = false;
            long deadline = System.nanoTime() + 5_000_000_000L;
            while ((!connected || !acceptable) && System.nanoTime() < deadline) {
                int n = ep.waitEvents(1000);
                for (int i = 0; i < n; i++) {
                    if (ep.data(i) == 0xc0ffee_0000_0001L && (ep.events(i) & Epoll.EPOLLOUT) != 0)
                        connected = true;
                    if (ep.data(i) == 0xc0ffee_0000_0002L && (ep.events(i) & Epoll.EPOLLIN) != 0)
                        acceptable = true;
                }
            }
            assertTrue(connected && acceptable);
            assertEquals(0, Sockets.soError(c, scratch));
            assertEquals(0, Sockets.setNoDelay(c, true, scratch));

            a = Sockets.accept(l, scratch);
            assertTrue(a >= 0, Errno.name(a));
            assertEquals(family, Sockets.family(scratch, 0));
            assertEquals(Sockets.localPort(c, NativeBuffer.allocate(256)), Sockets.port(scratch, 0));

            // nothing to read yet: EAGAIN as a value
            assertEquals(-Errno.EAGAIN, Sys.read(a, data, 0, 100));
            assertEquals(-Errno.EAGAIN, Sys.recv(a, data.address(), 100, 0));

            // write/read exact bytes
            byte[] msg = "hello, penne".getBytes(StandardCharsets.US_ASCII);
            data.put(0, msg, 0, msg.length);
            assertEquals(msg.length, Sys.write(c, data, 0, msg.length));
            assertEquals(0, ep.add(a, Epoll.EPOLLIN, 3));
            waitFor(ep, 3);
            data.zero(0, 64);
            assertEquals(msg.length, Sys.read(a, data, 1000, 100));
            byte[] got = new byte[msg.length];
            data.get(1000, got, 0, got.length);
            assertArrayEquals(msg, got);

            // writev from three pieces, readv into two
            byte[] p1 = "abc".getBytes(StandardCharsets.US_ASCII), p2 = "defgh".getBytes(StandardCharsets.US_ASCII),
                    p3 = "ij".getBytes(StandardCharsets.US_ASCII);
            data.put(2000, p1, 0, 3).put(3000, p2, 0, 5).put(4000, p3, 0, 2);
            scratch.putIovec(0, data.address(2000, 3), 3).putIovec(16, data.address(3000, 5), 5)
                    .putIovec(32, data.address(4000, 2), 2);
            assertEquals(10, Sys.writev(c, scratch.address(), 3));
            waitFor(ep, 3);
            scratch.putIovec(0, data.address(5000, 4), 4).putIovec(16, data.address(6000, 100), 100);
            assertEquals(10, Sys.readv(a, scratch.address(), 2));
            byte[] first = new byte[4], second = new byte[6];
            data.get(5000, first, 0, 4).get(6000, second, 0, 6);
            assertEquals("abcd", new String(first, StandardCharsets.US_ASCII));
            assertEquals("efghij", new String(second, StandardCharsets.US_ASCII));

            // peer close: read returns 0
            assertEquals(0, Sys.shutdown(c, Sockets.SHUT_WR));
            waitFor(ep, 3);
            assertEquals(0, Sys.read(a, data, 0, 100));
        } finally {
            Sys.close(l);
            if (c >= 0)
                Sys.close(c);
            if (a >= 0)
                Sys.close(a);
        }
    }

    private static void waitFor(Epoll ep, long tag) {
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (System.nanoTime() < deadline) {
            int n = ep.waitEvents(1000);
            for (int i = 0; i < n; i++)
                if (ep.data(i) == tag)
                    return;
        }
        throw new AssertionError("no event for " + tag);
    }

    @Test
    void refusedConnectionReportsEconnrefused() {
        int l = listenLoopback(Sockets.AF_INET);
        int port = Sockets.localPort(l, scratch);
        Sys.close(l); // nobody listens on port any more
        int c = Sockets.tcp(Sockets.AF_INET);
        try (Epoll ep = Epoll.create(2)) {
            int r = Sockets.connect4(c, Sockets.LOOPBACK4, port, scratch);
            if (r == -Errno.EINPROGRESS) {
                assertEquals(0, ep.add(c, Epoll.EPOLLOUT, 1));
                assertEquals(1, ep.waitEvents(5000));
                assertTrue((ep.events(0) & (Epoll.EPOLLERR | Epoll.EPOLLHUP)) != 0);
                assertEquals(Errno.ECONNREFUSED, Sockets.soError(c, scratch));
            } else {
                assertEquals(-Errno.ECONNREFUSED, r);
            }
        } finally {
            Sys.close(c);
        }
    }

    @Test
    void addressInUse() {
        int l = listenLoopback(Sockets.AF_INET);
        int port = Sockets.localPort(l, scratch);
        int s = Sockets.tcp(Sockets.AF_INET);
        try {
            assertEquals(-Errno.EADDRINUSE, Sockets.bind4(s, Sockets.LOOPBACK4, port, scratch));
        } finally {
            Sys.close(s);
            Sys.close(l);
        }
    }

    @Test
    void socketOptions() {
        int s = Sockets.tcp(Sockets.AF_INET);
        try {
            assertEquals(0, Sys.getsockoptInt(s, Sockets.SOL_SOCKET, Sockets.SO_PEEK_OFF, scratch));
            assertEquals(-1, scratch.getInt(0), "SO_PEEK_OFF starts disabled");
            assertEquals(0, Sockets.setPeekOffset(s, 0, scratch));
            assertEquals(0, Sys.getsockoptInt(s, Sockets.SOL_SOCKET, Sockets.SO_PEEK_OFF, scratch));
            assertEquals(0, scratch.getInt(0));
            assertEquals(0, Sockets.setLinger(s, true, 0, scratch));
            assertEquals(-Errno.ENOPROTOOPT, Sockets.setInt(s, Sockets.SOL_SOCKET, 9999, 1, scratch));
            assertEquals(0, Sockets.setInt(s, Sockets.SOL_SOCKET, Sockets.SO_RCVBUF, 65536, scratch));
        } finally {
            Sys.close(s);
        }
    }

    @Test
    void udpV4() {
        int a = Sockets.udp(Sockets.AF_INET), b = Sockets.udp(Sockets.AF_INET);
        try {
            assertEquals(0, Sockets.bind4(a, Sockets.LOOPBACK4, 0, scratch));
            int port = Sockets.localPort(a, scratch);
            int len = Sockets.sockaddrIn(scratch, 0, Sockets.ipv4(127, 0, 0, 1), port);
            data.putLong(0, 0x0102030405060708L);
            assertEquals(8, Sys.sendto(b, data.address(), 8, 0, scratch.address(0, len), len));
            long r;
            long deadline = System.nanoTime() + 5_000_000_000L;
            while ((r = Sys.recv(a, data.address(100, 64), 64, 0)) == -Errno.EAGAIN && System.nanoTime() < deadline)
                Thread.onSpinWait();
            assertEquals(8, r);
            assertEquals(0x0102030405060708L, data.getLong(100));
        } finally {
            Sys.close(a);
            Sys.close(b);
        }
    }

    @Test
    void pipeAndSplice() {
        assertEquals(0, Sys.pipe2(scratch, Sys.O_NONBLOCK | Sys.O_CLOEXEC));
        int r1 = scratch.getInt(0), w1 = scratch.getInt(4);
        assertEquals(0, Sys.pipe2(scratch, Sys.O_NONBLOCK | Sys.O_CLOEXEC));
        int r2 = scratch.getInt(0), w2 = scratch.getInt(4);
        try {
            assertEquals(-Errno.EAGAIN, Sys.read(r1, data, 0, 10));
            data.putLong(0, 0x1122334455667788L);
            assertEquals(8, Sys.write(w1, data, 0, 8));
            assertEquals(8, Sys.splice(r1, w2, 8, Sys.SPLICE_F_NONBLOCK | Sys.SPLICE_F_MOVE));
            assertEquals(8, Sys.read(r2, data, 16, 8));
            assertEquals(0x1122334455667788L, data.getLong(16));
            assertTrue(Sys.fcntl(w1, Sys.F_GETPIPE_SZ, 0) > 0);
            assertTrue((Sys.fcntl(r1, Sys.F_GETFL, 0) & Sys.O_NONBLOCK) != 0);
            assertEquals(Sys.FD_CLOEXEC, Sys.fcntl(r1, Sys.F_GETFD, 0));
            int d = Sys.dup(r1);
            assertTrue(d >= 0);
            assertEquals(0, Sys.close(d));
            assertEquals(-Errno.EBADF, Sys.close(d));
        } finally {
            Sys.close(r1);
            Sys.close(w1);
            Sys.close(r2);
            Sys.close(w2);
        }
    }
}
