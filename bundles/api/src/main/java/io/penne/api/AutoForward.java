package io.penne.api;

import io.penne.api.flow.InetAddr;
import java.util.BitSet;
import java.util.List;

/**
 * The sockets of pasta's {@code auto} port forwarding ({@code -t}, {@code -T},
 * {@code -u}, {@code -U} with {@code auto} in the spec): a forwarding socket
 * exists for a port only while something is bound to its target port on the
 * other side.
 *
 * <p><b>Theory of operation.</b> The owner scans the other side (for
 * example with {@code io.penne.linux.ProcNetListeners}) and hands the set of
 * ports found to {@link #sync}. For every {@code auto} spec, every port
 * whose target is in the set gets a socket per address family (the spec's
 * family if it names an address, else each family the guest has an address
 * in) through the owner's {@link Opener}; a socket whose target left the set
 * is handed to the {@link Closer}. A port that cannot be opened (in use,
 * privileged) is skipped silently and tried again at the next sync, as
 * pasta's auto rules are weak. A spec of all ports ({@code auto} alone)
 * leaves out the ephemeral range, as pasta.
 *
 * <p>A sync with the same set as the last one, when every socket wanted
 * then could be opened, returns at once: the owner scans every second, and
 * walking 65535 ports of every spec each time would be the scan's largest
 * cost (and, in the interpreter at startup, tens of milliseconds).
 *
 * <p>State: per spec, the socket of each (port, family), so memory is fixed
 * at 512 KiB per spec. Not thread-safe: the owner's loop calls it.
 */
public final class AutoForward {
    /** Opens a forwarding socket on {@code port} for the target port {@code target}: its fd, or {@code -errno}. */
    public interface Opener {
        int open(boolean v4, long[] bind, int port, int target);
    }

    /** Closes a socket made by the opener. */
    public interface Closer {
        void close(int fd);
    }

    private final List<PortSpec> specs;
    private final int[][] fds; // per spec: socket per (port << 1 | family), fd + 1, 0 for none
    private final boolean v4ok, v6ok;
    private final int[] ephemeral;
    private final BitSet taken;
    /** The set of the last sync (null before the first), and whether a socket it wanted failed to open. */
    private BitSet last;
    private boolean retry;

    /**
     * @param specs the {@code auto} specs
     * @param v4ok whether to open IPv4 sockets for specs without an address
     * @param v6ok the same for IPv6
     * @param ephemeral the ephemeral port range, {first, last}
     * @param taken ports never to open because fixed forwarding holds them already (copied); UDP
     *     sockets with {@code SO_REUSEADDR} could otherwise bind a port twice
     */
    public AutoForward(List<PortSpec> specs, boolean v4ok, boolean v6ok, int[] ephemeral, BitSet taken) {
        this.specs = List.copyOf(specs);
        this.fds = new int[specs.size()][65536 * 2];
        this.v4ok = v4ok;
        this.v6ok = v6ok;
        this.ephemeral = ephemeral.clone();
        this.taken = (BitSet) taken.clone();
    }

    /** Sockets for ports whose target is in {@code bound} and not yet open; none for those gone. */
    public void sync(BitSet bound, Opener opener, Closer closer) {
        if (!retry && bound.equals(last))
            return;
        last = (BitSet) bound.clone();
        retry = false;
        for (int i = 0; i < specs.size(); i++) {
            PortSpec spec = specs.get(i);
            long[] bind = spec.addressBits();
            int[] mine = fds[i];
            for (int port = 1; port < 65536; port++) {
                int target = spec.target(port);
                boolean want = target != 0 && bound.get(target) && !taken.get(port)
                    && !spec.skipsEphemeral(port, ephemeral);
                for (int fam = 0; fam < 2; fam++) {
                    int slot = port << 1 | fam;
                    boolean v4 = fam == 0;
                    if (want && mine[slot] == 0
                        && (bind != null ? InetAddr.isV4(bind[0], bind[1]) == v4 : v4 ? v4ok : v6ok)) {
                        int fd = opener.open(v4, bind, port, target);
                        if (fd >= 0)
                            mine[slot] = fd + 1;
                        else
                            retry = true;
                    } else if (!want && mine[slot] != 0) {
                        closer.close(mine[slot] - 1);
                        mine[slot] = 0;
                    }
                }
            }
        }
    }

    /** Closes every socket made here. */
    public void closeAll(Closer closer) {
        last = null;
        for (int[] mine : fds)
            for (int slot = 0; slot < mine.length; slot++)
                if (mine[slot] != 0) {
                    closer.close(mine[slot] - 1);
                    mine[slot] = 0;
                }
    }

    /** Number of sockets open now. */
    public int count() {
        int n = 0;
        for (int[] mine : fds)
            for (int v : mine)
                if (v != 0)
                    n++;
        return n;
    }
}
