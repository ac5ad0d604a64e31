package io.penne.linux;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.BitSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

/**
 * The ports that something other than penne listens on (TCP) or is bound to
 * without a peer (UDP) in one network namespace, the sockets its
 * {@code /proc/net/tcp}, {@code tcp6}, {@code udp} and {@code udp6} list:
 * what pasta's {@code auto} port forwarding follows (passt's
 * {@code procfs_scan_listen()}). The name stays from when procfs was the
 * only way; socket diagnostics come first now.
 *
 * <p><b>Theory of operation.</b> {@link #open} is called once on a thread
 * inside the namespace. It asks the kernel through {@link SockDiag}
 * ({@code NETLINK_SOCK_DIAG}, as {@code ss -l}) where it can: a netlink
 * socket keeps the namespace it was made in, and a dump of listening sockets
 * costs microseconds where reading {@code /proc/net/tcp} walks the whole
 * established-connections hash (about 5 ms per file, see {@link SockDiag}),
 * which would stall the loop thread that scans every second. Where the
 * kernel has no socket diagnostics for a protocol, it reads procfs as pasta
 * does: a file under {@code /proc/thread-self/net} shows the namespace of
 * the thread that opened it, and is then re-read from the start, from any
 * thread, at every {@link #scan}. Each line is parsed from the bytes,
 * without strings: the local port, the state
 * ({@value #TCP_LISTEN} for a listening TCP socket, {@value #UDP_UNCONNECTED}
 * for a UDP socket bound but not connected) and the inode. Sockets penne
 * itself holds (its own forwarding listeners, on either side) must not
 * count, or each direction would forward the other's ports back: a socket
 * seen for the first time is looked up among penne's descriptors
 * ({@code /proc/self/fd}), which is listed only when such a socket shows up,
 * and the verdict is kept by inode while the socket lives.
 *
 * <p>Limits: a file that cannot be read, or a dump that fails, counts as
 * empty for that scan. The system property {@code penne.procfsListeners=true}
 * makes {@link #open} read procfs anyway (to compare the two). Not
 * thread-safe: one owner calls {@link #scan}.
 */
public final class ProcNetListeners implements AutoCloseable {
    /** {@code st} of a TCP socket in LISTEN. */
    public static final int TCP_LISTEN = 0x0A;
    /** {@code st} of a UDP socket that is not connected (TCP_CLOSE in the kernel's numbering). */
    public static final int UDP_UNCONNECTED = 0x07;

    /** procfs files, one per name; null when {@link #diag} answers for all. */
    private final FileChannel[] files;
    private final int[] states;
    /** Socket diagnostics, or null: then {@link #files}. */
    private final SockDiag diag;
    private final int[] families, protocols;
    /** The scan in progress, for {@link #socket}. */
    private BitSet scanFound;
    private boolean scanUnknown;
    private final SockDiag.SocketVisitor visitor = (port, inode) -> {
        if (port > 0)
            scanUnknown |= socket(port, inode, scanFound);
    };
    private final ByteBuffer buf = ByteBuffer.allocate(1 << 16);
    /** The file's contents, grown as needed. */
    private byte[] text = new byte[1 << 16];
    /** Sockets seen so far, by inode: whether they are penne's own. */
    private final Map<Long, Boolean> seen = new HashMap<>();
    private final Set<Long> liveInodes = new HashSet<>();
    /** Sockets seen for the first time in this scan, to be classified: inode to port. */
    private final Map<Long, Integer> pendingPorts = new HashMap<>();
    private int parsedPort;
    private long parsedInode;

    private ProcNetListeners(FileChannel[] files, int[] states, SockDiag diag, int[] families, int[] protocols) {
        this.files = files;
        this.states = states;
        this.diag = diag;
        this.families = families;
        this.protocols = protocols;
    }

    /**
     * Watches the sockets of each name ({@code tcp}, {@code tcp6},
     * {@code udp}, {@code udp6}, as under {@code /proc/net}) in the calling
     * thread's network namespace; {@code tcp} names are scanned for
     * {@link #TCP_LISTEN}, {@code udp} ones for {@link #UDP_UNCONNECTED}.
     * Through socket diagnostics if the kernel answers them for every name,
     * else by opening {@code /proc/thread-self/net/NAME} for each.
     *
     * @throws IOException if a procfs file is needed and cannot be opened (the others are closed)
     */
    public static ProcNetListeners open(String... names) throws IOException {
        int[] states = new int[names.length], families = new int[names.length], protocols = new int[names.length];
        for (int i = 0; i < names.length; i++) {
            boolean udp = names[i].startsWith("udp");
            states[i] = udp ? UDP_UNCONNECTED : TCP_LISTEN;
            families[i] = names[i].endsWith("6") ? Sockets.AF_INET6 : Sockets.AF_INET;
            protocols[i] = udp ? Sockets.IPPROTO_UDP : Sockets.IPPROTO_TCP;
        }
        SockDiag diag = openDiag(states, families, protocols);
        if (diag != null)
            return new ProcNetListeners(null, states, diag, families, protocols);
        FileChannel[] files = new FileChannel[names.length];
        try {
            for (int i = 0; i < names.length; i++)
                files[i] = FileChannel.open(Path.of("/proc/thread-self/net", names[i]));
        } catch (IOException | RuntimeException e) {
            for (FileChannel f : files)
                if (f != null)
                    f.close();
            throw e;
        }
        return new ProcNetListeners(files, states, null, null, null);
    }

    /** A SockDiag that answers a dump for every name, or null (no socket, or a protocol it has no diagnostics for). */
    private static SockDiag openDiag(int[] states, int[] families, int[] protocols) {
        if (Boolean.getBoolean("penne.procfsListeners")) // to compare the two ways
            return null;
        SockDiag d;
        try {
            d = SockDiag.open();
        } catch (RuntimeException e) {
            return null;
        }
        for (int i = 0; i < states.length; i++) {
            if (d.sockets(families[i], protocols[i], 1 << states[i], (port, inode) -> { }) < 0) {
                d.close();
                return null;
            }
        }
        return d;
    }

    /** Over files already open (tests give files in the procfs format); {@code states[i]} is file i's. */
    public static ProcNetListeners of(FileChannel[] files, int[] states) {
        return new ProcNetListeners(files.clone(), states.clone(), null, null, null);
    }

    /** Whether the kernel's socket diagnostics answer the scans (else procfs is read). */
    public boolean usesSockDiag() {
        return diag != null;
    }

    /** One scan: sets in {@code ports} the local port of every matching socket that is not penne's. */
    public void scan(BitSet ports) {
        liveInodes.clear();
        boolean unknown = false;
        if (diag != null) {
            scanFound = ports;
            scanUnknown = false;
            for (int i = 0; i < states.length; i++)
                diag.sockets(families[i], protocols[i], 1 << states[i], visitor); // one that fails counts as empty
            unknown = scanUnknown;
            scanFound = null;
        } else {
            for (int i = 0; i < files.length; i++)
                unknown |= read(files[i], states[i], ports);
        }
        if (unknown)
            classify(ports);
        seen.keySet().retainAll(liveInodes);
    }

    @Override
    public void close() {
        if (diag != null) {
            diag.close();
            return;
        }
        for (FileChannel f : files) {
            try {
                f.close();
            } catch (IOException e) {
                // nothing to do
            }
        }
    }

    /** Reads one file; @return whether a socket not seen before was found (its owner is then unknown). */
    private boolean read(FileChannel f, int state, BitSet found) {
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
            if (!header && parseLine(lineStart, end, state))
                unknown |= socket(parsedPort, parsedInode, found);
            header = false;
            lineStart = end + 1;
        }
        return unknown;
    }

    /** A socket in the wanted state; @return whether it was not seen before (its owner is then unknown). */
    private boolean socket(int port, long inode, BitSet found) {
        liveInodes.add(inode);
        Boolean own = seen.get(inode);
        if (own == null) {
            pendingPorts.put(inode, port); // classified once the scan is complete
            return true;
        }
        if (!own)
            found.set(port);
        return false;
    }

    /**
     * One line: "sl local rem st ... inode ..." with the local address as
     * HEXADDR:HEXPORT, the state in hex and the inode in decimal as the tenth
     * field (the same layout for TCP and UDP).
     *
     * @return whether the socket is in {@code want}; its port and inode then in the parsed fields
     */
    private boolean parseLine(int p, int end, int want) {
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
        if (field < 9 || state != want || port <= 0 || port > 65535 || inode < 0)
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

    /** Sorts newly seen sockets into penne's own and others, by penne's descriptors. */
    private void classify(BitSet found) {
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
            if (!mine)
                found.set(e.getValue());
        }
        pendingPorts.clear();
    }
}
