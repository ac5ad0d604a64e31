package io.penne.tcp;

import io.penne.api.PortSpec;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.BitSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

/**
 * pasta's {@code -t auto} (its default for -t): host ports are forwarded to
 * the namespace only while something listens on them there.
 *
 * <p><b>Theory of operation.</b> The namespace's {@code /proc/net/tcp} and
 * {@code tcp6} are opened once from the namespace's thread (a procfs file
 * shows the network namespace of whoever opened it), and re-read from the
 * start every second on the loop thread. Each port in LISTEN state there,
 * within an {@code auto} spec, gets a listening socket on the host, made by
 * the TCP handler as for a fixed {@code -t} port; a port that cannot be bound
 * on the host (in use, privileged) is skipped silently and tried again at
 * the next scan, as pasta's "auto" rules are weak. A port no longer listened
 * on in the namespace loses its host socket. Sockets penne itself listens on
 * in the namespace (for {@code -T} or {@code -U}) are not counted, or each
 * direction would forward the other's ports: they are recognised by their
 * inode among penne's own descriptors ({@code /proc/self/fd}, listed only
 * when a listening socket not seen before shows up).
 *
 * <p>Limits: new listeners are noticed within a second, as pasta. Host
 * sockets made here are closed when the handler detaches (a replacement
 * opens them again at its first scan, so a hot swap refuses connections to
 * auto-forwarded ports for that moment).
 */
final class TcpAutoForward {
    /** Opens a host listening socket for the guest port {@code target}: its fd, or {@code -errno}. */
    interface Opener {
        int open(boolean v4, long[] bind, int port, int target);
    }

    /** Closes a listening socket made by the opener. */
    interface Closer {
        void close(int fd);
    }

    private final List<PortSpec> specs;
    private final int[][] fds; // per spec: host listener per (port << 1 | family), fd + 1, 0 for none
    private final boolean v4ok, v6ok;
    private final int[] ephemeral;
    private final FileChannel[] files;
    private final ByteBuffer buf = ByteBuffer.allocate(1 << 16);
    /** The file's contents, grown as needed. */
    private byte[] text = new byte[1 << 16];
    private final BitSet listening = new BitSet(65536);
    /** Listening sockets of the namespace seen so far, by inode: whether they are penne's own. */
    private final Map<Long, Boolean> seen = new HashMap<>();
    private final Set<Long> liveInodes = new HashSet<>();
    /** Listening sockets seen for the first time in this scan, to be classified: inode to port. */
    private final Map<Long, Integer> pendingPorts = new HashMap<>();

    TcpAutoForward(List<PortSpec> specs, FileChannel[] nsProcNetTcp, boolean v4ok, boolean v6ok, int[] ephemeral) {
        this.specs = specs;
        this.fds = new int[specs.size()][65536 * 2];
        this.files = nsProcNetTcp;
        this.v4ok = v4ok;
        this.v6ok = v6ok;
        this.ephemeral = ephemeral;
    }

    /** One scan: host listeners for namespace ports that appeared, none for those gone. */
    void scan(Opener opener, Closer closer) {
        listening.clear();
        liveInodes.clear();
        boolean unknown = false;
        for (FileChannel f : files)
            unknown |= read(f);
        if (unknown)
            classify();
        seen.keySet().retainAll(liveInodes);
        for (int i = 0; i < specs.size(); i++) {
            PortSpec spec = specs.get(i);
            long[] bind = spec.addressBits();
            int[] mine = fds[i];
            for (int port = 1; port < 65536; port++) {
                int target = spec.target(port);
                boolean want = target != 0 && listening.get(target)
                    && !(spec.isAll() && port >= ephemeral[0] && port <= ephemeral[1]);
                for (int fam = 0; fam < 2; fam++) {
                    int slot = port << 1 | fam;
                    boolean v4 = fam == 0;
                    if (want && mine[slot] == 0
                        && (bind != null ? io.penne.api.flow.InetAddr.isV4(bind[0], bind[1]) == v4 : v4 ? v4ok : v6ok)) {
                        int fd = opener.open(v4, bind, port, target);
                        if (fd >= 0)
                            mine[slot] = fd + 1;
                    } else if (!want && mine[slot] != 0) {
                        closer.close(mine[slot] - 1);
                        mine[slot] = 0;
                    }
                }
            }
        }
    }

    /** Closes every host listener made here. */
    void closeAll(Closer closer) {
        for (int[] mine : fds)
            for (int slot = 0; slot < mine.length; slot++)
                if (mine[slot] != 0) {
                    closer.close(mine[slot] - 1);
                    mine[slot] = 0;
                }
    }

    /** Number of host listeners open now. */
    int count() {
        int n = 0;
        for (int[] mine : fds)
            for (int v : mine)
                if (v != 0)
                    n++;
        return n;
    }

    /**
     * Reads one /proc/net/tcp* file: LISTEN (state 0A) sockets that are not
     * penne's set their local port in {@link #listening}.
     *
     * @return whether a socket not seen before was found (its owner is then unknown)
     */
    private boolean read(FileChannel f) {
        // Parsed from the bytes, without strings: this runs on the loop thread every second.
        int len = 0;
        try {
            while (true) {
                buf.clear();
                int n = f.read(buf, len);
                if (n <= 0)
                    break;
                if (len + n > text.length)
                    text = java.util.Arrays.copyOf(text, Math.max(text.length * 2, len + n));
                System.arraycopy(buf.array(), 0, text, len, n);
                len += n;
            }
        } catch (IOException e) {
            return false;
        }
        boolean unknown = false;
        int lineStart = 0;
        boolean header = true;
        while (lineStart < len) {
            int end = lineStart;
            while (end < len && text[end] != '\n')
                end++;
            if (!header && parseLine(lineStart, end)) {
                long inode = parsedInode;
                int port = parsedPort;
                liveInodes.add(inode);
                Boolean own = seen.get(inode);
                if (own == null) {
                    unknown = true;
                    seen.put(inode, null);
                    listening.set(port); // classified below; cleared again if it is ours
                    pendingPorts.put(inode, port);
                } else if (!own) {
                    listening.set(port);
                }
            }
            header = false;
            lineStart = end + 1;
        }
        return unknown;
    }

    private int parsedPort;
    private long parsedInode;

    /**
     * One line of /proc/net/tcp*: "sl local rem st ... inode ..." with the
     * local address as HEXADDR:HEXPORT, the state in hex (0A is LISTEN) and
     * the inode in decimal as the tenth field.
     *
     * @return whether it is a LISTEN socket; its port and inode then in the parsed fields
     */
    private boolean parseLine(int p, int end) {
        int field = -1;
        long port = -1, state = -1, inode = -1;
        while (p < end) {
            while (p < end && text[p] == ' ')
                p++;
            if (p >= end)
                break;
            int fs = p;
            while (p < end && text[p] != ' ')
                p++;
            field++;
            if (field == 1) {
                int colon = p - 1;
                while (colon > fs && text[colon] != ':')
                    colon--;
                port = number(colon + 1, p, 16);
            } else if (field == 3) {
                state = number(fs, p, 16);
            } else if (field == 9) {
                inode = number(fs, p, 10);
                break;
            }
        }
        if (field < 9 || state != 0x0A || port <= 0 || port > 65535 || inode < 0)
            return false;
        parsedPort = (int) port;
        parsedInode = inode;
        return true;
    }

    /** The number in {@code text[from, to)} in {@code radix}, or -1 if it is not one. */
    private long number(int from, int to, int radix) {
        if (from >= to || to - from > 18)
            return -1;
        long v = 0;
        for (int k = from; k < to; k++) {
            int d = Character.digit(text[k], radix);
            if (d < 0)
                return -1;
            v = v * radix + d;
        }
        return v;
    }

    /** Sorts newly seen listening sockets into penne's own and others, by penne's descriptors. */
    private void classify() {
        Set<Long> own = new HashSet<>();
        try (Stream<Path> fdLinks = Files.list(Path.of("/proc/self/fd"))) {
            fdLinks.forEach(p -> {
                try {
                    String l = Files.readSymbolicLink(p).toString();
                    if (l.startsWith("socket:["))
                        own.add(Long.parseLong(l.substring(8, l.length() - 1)));
                } catch (IOException | RuntimeException e) {
                    // closed meanwhile
                }
            });
        } catch (IOException e) {
            // cannot tell: treat them as not ours
        }
        for (Map.Entry<Long, Integer> e : pendingPorts.entrySet()) {
            boolean mine = own.contains(e.getKey());
            seen.put(e.getKey(), mine);
            if (mine)
                listening.clear(e.getValue());
        }
        pendingPorts.clear();
    }
}
