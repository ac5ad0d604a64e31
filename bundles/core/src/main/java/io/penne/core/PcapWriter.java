package io.penne.core;

import io.penne.api.Counters;
import io.penne.linux.Errno;
import io.penne.linux.NativeBuffer;
import io.penne.linux.Sys;

/**
 * Packet capture of the guest's link (pasta's {@code -p}/{@code --pcap}):
 * every frame read from and written to the tap, in the classic libpcap
 * file format (pcap-savefile(5): version 2.4, microsecond timestamps,
 * link type Ethernet), which tcpdump and Wireshark read.
 *
 * <p><b>Theory of operation.</b> The file is opened (created or truncated,
 * mode 0600) when the instance starts, so a path that cannot be written
 * stops the start with a message naming it. Each frame then costs two
 * {@code write(2)} calls on the loop thread, as in passt: a 16-byte record
 * header from a preallocated native buffer, and the frame straight from the
 * receive or transmit buffer it is in. Nothing is allocated per frame. The
 * timestamp is the wall clock read once at open plus the monotonic time
 * since, so no clock object is made per frame either.
 *
 * <p><b>Limits.</b> Frames to the guest whose TCP or UDP checksum is left to
 * the kernel (virtio-net header, {@code NEEDS_CSUM}) are captured with the
 * partial checksum, as a capture on a host with checksum offload shows
 * them. A write error is counted ({@code pcap.errors}), never fatal; the
 * file is written synchronously, so capturing slows the data path, as it
 * does in pasta.
 */
final class PcapWriter implements AutoCloseable {
    static final int MAGIC = 0xa1b2c3d4;
    /** Largest frame recorded whole: an Ethernet header and penne's largest MTU, with room to spare. */
    static final int SNAPLEN = 65535;
    static final int LINKTYPE_ETHERNET = 1;

    private final int fd;
    private final String path;
    private final NativeBuffer header = NativeBuffer.allocate(24);
    private final long wallMicrosAtOpen, nanosAtOpen;
    private final Counters counters;
    private final int cFrames, cErrors;

    private PcapWriter(int fd, String path, Counters counters) {
        this.fd = fd;
        this.path = path;
        this.counters = counters;
        this.cFrames = counters.register("pcap.frames");
        this.cErrors = counters.register("pcap.errors");
        this.wallMicrosAtOpen = System.currentTimeMillis() * 1000;
        this.nanosAtOpen = System.nanoTime();
    }

    /** Opens {@code path} and writes the file header; IllegalArgumentException naming the path if it cannot. */
    static PcapWriter open(String path, Counters counters) {
        NativeBuffer scratch = NativeBuffer.allocate(path.length() * 3 + 1);
        int fd = Sys.open(path, Sys.O_WRONLY | Sys.O_CREAT | Sys.O_TRUNC | Sys.O_CLOEXEC, 0600, scratch);
        if (fd < 0)
            throw new IllegalArgumentException("cannot open the capture file " + path + " (--pcap): "
                + Errno.describe(-fd));
        PcapWriter w = new PcapWriter(fd, path, counters);
        // In the machine's byte order, as libpcap writes it: readers tell the order from the magic number.
        java.nio.ByteBuffer h = w.header.buffer();
        putNative(h, 0, MAGIC);
        boolean le = java.nio.ByteOrder.nativeOrder() == java.nio.ByteOrder.LITTLE_ENDIAN;
        putNative(h, 4, le ? 2 | 4 << 16 : 2 << 16 | 4); // two 16-bit fields: version 2, then 4
        putNative(h, 8, 0); // time zone offset
        putNative(h, 12, 0); // timestamp accuracy
        putNative(h, 16, SNAPLEN);
        putNative(h, 20, LINKTYPE_ETHERNET);
        if (Sys.write(fd, w.header, 0, 24) != 24) {
            w.close();
            throw new IllegalArgumentException("cannot write the capture file " + path + " (--pcap)");
        }
        return w;
    }

    String path() {
        return path;
    }

    /** Records the {@code len}-byte frame at {@code off} of {@code buf}. Loop thread only. */
    void frame(NativeBuffer buf, int off, int len) {
        long micros = wallMicrosAtOpen + (System.nanoTime() - nanosAtOpen) / 1000;
        int caplen = Math.min(len, SNAPLEN);
        java.nio.ByteBuffer h = header.buffer();
        putNative(h, 0, (int) (micros / 1_000_000));
        putNative(h, 4, (int) (micros % 1_000_000));
        putNative(h, 8, caplen);
        putNative(h, 12, len);
        if (Sys.write(fd, header, 0, 16) != 16 || Sys.write(fd, buf, off, caplen) != caplen) {
            counters.inc(cErrors);
            return;
        }
        counters.inc(cFrames);
    }

    /** An int in the machine's byte order, whatever order the shared buffer is set to. */
    private static void putNative(java.nio.ByteBuffer b, int at, int v) {
        b.putInt(at, b.order() == java.nio.ByteOrder.nativeOrder() ? v : Integer.reverseBytes(v));
    }

    @Override
    public void close() {
        Sys.close(fd);
    }
}
