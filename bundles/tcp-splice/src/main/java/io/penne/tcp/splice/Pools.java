package io.penne.tcp.splice;

import io.penne.api.Counters;
import io.penne.api.GuestNamespace;
import io.penne.linux.NativeBuffer;
import io.penne.linux.Sockets;
import io.penne.linux.Sys;

/**
 * Descriptors a new spliced connection needs, opened ahead of time (passt's
 * socket and pipe pools in {@code tcp_splice.c}).
 *
 * <p>Theory of operation: a socket that must live in the guest namespace
 * can only be created by a thread inside it, and handing work to that thread
 * costs tens of microseconds; so sockets are made there {@value #SIZE} at a
 * time, one hand-off per batch, and taken one per connection from the loop
 * thread. A pool that falls below half is refilled after the current event
 * (see {@link SpliceHandler}); an empty one is refilled on the spot. Pipes
 * have no namespace, but {@code pipe2} and {@code F_SETPIPE_SZ} are two
 * system calls per pipe that an accept need not pay, so they are pooled too.
 * A closed connection's pipe goes back to the pool only if it is empty, by
 * penne's count and by {@code FIONREAD}; one that still holds bytes is
 * closed (draining it could block), as passt closes all of them.
 *
 * <p>The pipe size is probed once per JVM, as passt does: the largest size
 * up to {@value #MAX_PIPE_SIZE} that {@value #SIZE} pipes in a row accept
 * ({@code /proc/sys/fs/pipe-max-size} and the per-user pipe page limits bound
 * it for unprivileged users). Loop thread only, except the probe.
 */
final class Pools {
    /** Descriptors per pool (passt's TCP_SPLICE_PIPE_POOL_SIZE, TCP_SOCK_POOL_SIZE). */
    static final int SIZE = 32;
    /** Refill when fewer than this many are left. */
    static final int LOW = SIZE / 2;
    /** ioctl: bytes readable now (asm-generic/ioctls.h). */
    private static final long FIONREAD = 0x541B;
    /** Largest pipe size tried (passt's MAX_PIPE_SIZE). */
    static final int MAX_PIPE_SIZE = 8 << 20;

    private static volatile int pipeSize;

    private final GuestNamespace ns;
    private final boolean v4, v6;
    private final NativeBuffer scratch = NativeBuffer.allocate(64);
    private final int[] sock4 = new int[SIZE], sock6 = new int[SIZE];
    private int n4, n6;
    private final int[] pipeR = new int[SIZE], pipeW = new int[SIZE];
    private int nPipes;
    final int pipeSizeBytes;
    /** Gauges: descriptors in the pools now (so fd counts can be checked from outside). */
    private final Counters counters;
    private final int gPipes, gSock4, gSock6, cRecycled;
    private int shownPipes, shownSock4, shownSock6;

    Pools(GuestNamespace ns, boolean v4, boolean v6, Counters counters) {
        this.ns = ns;
        this.v4 = v4;
        this.v6 = v6;
        this.pipeSizeBytes = pipeSize();
        this.counters = counters;
        gPipes = counters.register("splice.pool.pipes");
        gSock4 = counters.register("splice.pool.sockets4");
        gSock6 = counters.register("splice.pool.sockets6");
        cRecycled = counters.register("splice.pipes.recycled");
    }

    /** Brings the gauges up to date. */
    void publish() {
        if (nPipes != shownPipes) {
            counters.add(gPipes, nPipes - shownPipes);
            shownPipes = nPipes;
        }
        if (n4 != shownSock4) {
            counters.add(gSock4, n4 - shownSock4);
            shownSock4 = n4;
        }
        if (n6 != shownSock6) {
            counters.add(gSock6, n6 - shownSock6);
            shownSock6 = n6;
        }
    }

    /** The probed pipe size in bytes. */
    static int pipeSize() {
        int s = pipeSize;
        if (s == 0)
            pipeSize = s = probePipeSize();
        return s;
    }

    private static int probePipeSize() {
        NativeBuffer b = NativeBuffer.allocate(16);
        int[] fds = new int[2 * SIZE];
        for (int size = MAX_PIPE_SIZE; size >= 4096; size /= 2) {
            int opened = 0;
            boolean ok = true;
            for (int i = 0; i < SIZE && ok; i++) {
                if (Sys.pipe2(b, Sys.O_CLOEXEC) < 0) {
                    ok = false;
                    break;
                }
                fds[2 * i] = b.getInt(0);
                fds[2 * i + 1] = b.getInt(4);
                opened++;
                ok = Sys.fcntl(fds[2 * i], Sys.F_SETPIPE_SZ, size) >= size;
            }
            for (int i = 0; i < 2 * opened; i++)
                Sys.close(fds[i]);
            if (ok)
                return size;
        }
        return 65536;
    }

    /** A socket of the family in the namespace, or {@code -errno}. */
    int takeNsSocket(boolean family4) {
        if ((family4 ? n4 : n6) == 0)
            refillSockets();
        if (family4)
            return n4 == 0 ? -io.penne.linux.Errno.EMFILE : sock4[--n4];
        return n6 == 0 ? -io.penne.linux.Errno.EMFILE : sock6[--n6];
    }

    /** Whether a pool is below its refill mark. */
    boolean low() {
        return (v4 && n4 < LOW) || (v6 && n6 < LOW) || nPipes < LOW;
    }

    /** Tops every pool up (one namespace hand-off for the sockets). */
    void refill() {
        if ((v4 && n4 < LOW) || (v6 && n6 < LOW))
            refillSockets();
        refillPipes();
    }

    private void refillSockets() {
        int want4 = v4 ? SIZE - n4 : 0, want6 = v6 ? SIZE - n6 : 0;
        if (want4 == 0 && want6 == 0 || ns == null)
            return;
        int[] got = ns.call(() -> {
            int[] out = new int[want4 + want6];
            for (int i = 0; i < out.length; i++)
                out[i] = Sockets.tcp(i < want4 ? Sockets.AF_INET : Sockets.AF_INET6);
            return out;
        });
        for (int i = 0; i < got.length; i++) {
            if (got[i] < 0)
                continue;
            if (i < want4)
                sock4[n4++] = got[i];
            else
                sock6[n6++] = got[i];
        }
    }

    /**
     * A pipe for one direction: read end in {@code r[i]}, write end in
     * {@code w[i]}; false if none could be made.
     */
    boolean takePipe(int[] r, int[] w, int i) {
        if (nPipes == 0)
            refillPipes();
        if (nPipes == 0)
            return false;
        nPipes--;
        r[i] = pipeR[nPipes];
        w[i] = pipeW[nPipes];
        return true;
    }

    private void refillPipes() {
        while (nPipes < SIZE) {
            if (Sys.pipe2(scratch, Sys.O_NONBLOCK | Sys.O_CLOEXEC) < 0)
                return;
            int r = scratch.getInt(0), w = scratch.getInt(4);
            // A smaller pipe still works, only with more splice calls: no error.
            Sys.fcntl(r, Sys.F_SETPIPE_SZ, pipeSizeBytes);
            pipeR[nPipes] = r;
            pipeW[nPipes] = w;
            nPipes++;
        }
    }

    /**
     * Takes back the pipe of a closed connection if it is empty, by penne's count ({@code pending}
     * 0) and by the kernel's ({@code FIONREAD} 0), and the pool has room: one ioctl instead of the
     * pipe2, F_SETPIPE_SZ and two closes (and the kernel's buffer ring allocation) that replacing it
     * costs. False if the caller must close it.
     */
    boolean recyclePipe(int r, int w, long pending) {
        if (pending != 0 || nPipes >= SIZE)
            return false;
        if (Sys.ioctl(r, FIONREAD, scratch, 0, 4) < 0 || scratch.getInt(0) != 0)
            return false;
        pipeR[nPipes] = r;
        pipeW[nPipes] = w;
        nPipes++;
        counters.inc(cRecycled);
        return true;
    }

    /** Closes everything still pooled. */
    void close() {
        while (n4 > 0)
            Sys.close(sock4[--n4]);
        while (n6 > 0)
            Sys.close(sock6[--n6]);
        while (nPipes > 0) {
            nPipes--;
            Sys.close(pipeR[nPipes]);
            Sys.close(pipeW[nPipes]);
        }
        publish();
    }

    int sockets(boolean family4) {
        return family4 ? n4 : n6;
    }

    int pipes() {
        return nPipes;
    }
}
