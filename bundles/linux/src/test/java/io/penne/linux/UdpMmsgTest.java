package io.penne.linux;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** recvmmsg/sendmmsg batches on real loopback sockets, and the error queue after a refused datagram. */
class UdpMmsgTest {

    private static void msg(NativeBuffer v, int i, long iov, long name, int namelen) {
        int o = i * Sys.MMSGHDR_SIZE;
        v.zero(o, Sys.MMSGHDR_SIZE);
        v.putLong(o + Sys.MSG_NAME, name).putInt(o + Sys.MSG_NAMELEN, namelen)
            .putLong(o + Sys.MSG_IOV, iov).putLong(o + Sys.MSG_IOVLEN, 1);
    }

    @Test
    void batchesKeepDatagramBoundaries() {
        NativeBuffer scratch = NativeBuffer.allocate(256);
        int rx = Sockets.udp(Sockets.AF_INET);
        int tx = Sockets.udp(Sockets.AF_INET);
        try {
            assertEquals(0, Sockets.bind4(rx, Sockets.LOOPBACK4, 0, scratch));
            int port = Sockets.localPort(rx, scratch);
            assertEquals(0, Sockets.connect4(tx, Sockets.LOOPBACK4, port, scratch));
            int n = 8;
            NativeBuffer data = NativeBuffer.allocate(n * 2048);
            NativeBuffer iov = NativeBuffer.allocate(n * 16);
            NativeBuffer vec = NativeBuffer.allocate(n * Sys.MMSGHDR_SIZE);
            NativeBuffer names = NativeBuffer.allocate(n * 32);
            for (int i = 0; i < n; i++) {
                for (int k = 0; k < 100 + i; k++)
                    data.putByte(i * 2048 + k, i);
                iov.putIovec(i * 16, data.address() + i * 2048L, 100 + i);
                msg(vec, i, iov.address() + i * 16L, 0, 0);
            }
            assertEquals(n, Sys.sendmmsg(tx, vec.address(), n, 0));
            data.zero(0, n * 2048);
            for (int i = 0; i < n; i++) {
                iov.putIovec(i * 16, data.address() + i * 2048L, 2048);
                msg(vec, i, iov.address() + i * 16L, names.address() + i * 32L, 32);
            }
            int got = Sys.recvmmsg(rx, vec.address(), n, Sockets.MSG_DONTWAIT);
            assertEquals(n, got);
            int txPort = Sockets.localPort(tx, scratch);
            for (int i = 0; i < n; i++) {
                assertEquals(100 + i, vec.getInt(i * Sys.MMSGHDR_SIZE + Sys.MMSG_LEN_OFFSET));
                assertEquals(i, data.getByte(i * 2048 + 99 + i));
                assertEquals(txPort, Sockets.port(names, i * 32));
            }
            assertEquals(-Errno.EAGAIN, Sys.recvmmsg(rx, vec.address(), n, Sockets.MSG_DONTWAIT));
        } finally {
            Sys.close(rx);
            Sys.close(tx);
        }
    }

    @Test
    void refusedDatagramLandsOnTheErrorQueue() throws Exception {
        NativeBuffer scratch = NativeBuffer.allocate(256);
        int probe = Sockets.udp(Sockets.AF_INET);
        Sockets.bind4(probe, Sockets.LOOPBACK4, 0, scratch);
        int closedPort = Sockets.localPort(probe, scratch);
        Sys.close(probe);
        int s = Sockets.udp(Sockets.AF_INET);
        try {
            assertEquals(0, Sockets.setInt(s, Sockets.SOL_IP, Sockets.IP_RECVERR, 1, scratch));
            assertEquals(0, Sockets.connect4(s, Sockets.LOOPBACK4, closedPort, scratch));
            NativeBuffer b = NativeBuffer.allocate(512);
            b.putLong(0, 0x1122334455667788L);
            assertEquals(8, Sys.send(s, b.address(), 8, 0));
            Thread.sleep(50);
            // msghdr at 0, iovec at 64, control at 128 (256 bytes), data at 384
            b.zero(0, 384);
            b.putIovec(64, b.address() + 384, 64);
            b.putLong(Sys.MSG_IOV, b.address() + 64).putLong(Sys.MSG_IOVLEN, 1)
                .putLong(Sys.MSG_CONTROL, b.address() + 128).putLong(Sys.MSG_CONTROLLEN, 256);
            long r = Sys.recvmsg(s, b.address(), Sockets.MSG_ERRQUEUE | Sockets.MSG_DONTWAIT);
            assertEquals(8, r);
            // cmsghdr: len (8), level (4), type (4), then sock_extended_err: errno (4), origin, type, code
            assertEquals(Sockets.SOL_IP, b.getInt(128 + 8));
            assertEquals(Sockets.IP_RECVERR_CMSG, b.getInt(128 + 12));
            assertEquals(Errno.ECONNREFUSED, b.getInt(128 + 16));
            assertEquals(Sockets.SO_EE_ORIGIN_ICMP, b.getByte(128 + 20));
            assertEquals(3, b.getByte(128 + 21)); // destination unreachable
            assertEquals(3, b.getByte(128 + 22)); // port unreachable
        } finally {
            Sys.close(s);
        }
    }

    @Test
    void pingSocketWhereAllowed() {
        int s = Sockets.ping(Sockets.AF_INET);
        assertTrue(s >= 0 || s == -Errno.EACCES || s == -Errno.EPERM, "ping socket: " + s);
        if (s >= 0)
            Sys.close(s);
    }
}
