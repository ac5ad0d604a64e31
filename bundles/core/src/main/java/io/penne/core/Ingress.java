package io.penne.core;

import io.penne.api.Counters;
import io.penne.api.PacketBatch;
import io.penne.api.ProtocolHandler;
import io.penne.linux.Errno;
import io.penne.linux.NativeBuffer;
import io.penne.linux.Sys;
import java.nio.ByteBuffer;

/**
 * The guest-to-penne direction of a device: read frames in batches, parse
 * them, hand each protocol's packets to its handler.
 *
 * <p><b>Theory of operation.</b> On readiness of the device descriptor, frames
 * are read one {@code read()} each (a tap device returns one frame per read)
 * into consecutive slots of one preallocated direct buffer, until the device
 * has no more ({@code EAGAIN}), the buffer cannot take a maximum-size frame,
 * or {@value #MAX_FRAMES} frames are in. Then every frame is parsed
 * ({@link FrameParser}) and its slot appended to the list of its packet
 * type, preserving order within a type; finally each non-empty list goes to
 * the handler that owns the type, in one call. Packets of a type nobody owns
 * (no handler, or its handler is parked) are counted as
 * {@code drop.no_handler}; TCP retransmission covers them across a handler
 * update. The device is level-triggered, so stopping at a full buffer loses
 * nothing: the next cycle reads on.
 *
 * <p><b>Limits.</b> Frames up to {@value #MAX_FRAME} bytes (the largest
 * Ethernet frame with a 65535-byte MTU); {@value #BUFFER_SIZE} bytes of
 * buffer. Loop thread only. Nothing is allocated per frame or per batch.
 */
final class Ingress {
    static final int MAX_FRAME = 65535 + FrameParser.ETH_HLEN;
    static final int MAX_FRAMES = 1024;
    static final int BUFFER_SIZE = 8 << 20;

    /** Where sorted packets go: the instance, which knows the owners and counts their errors. */
    interface Sink {
        void deliver(int type, PacketBatch batch);
    }

    // Mapped, not allocated: only the pages that frames actually reach become resident.
    private final NativeBuffer nbuf = NativeBuffer.mapAnonymous(BUFFER_SIZE);
    private final ByteBuffer buf = nbuf.buffer().duplicate().order(java.nio.ByteOrder.BIG_ENDIAN); // network order
    private final ParsedFrames frames = new ParsedFrames(buf, MAX_FRAMES);
    private final TypedBatch[] byType = new TypedBatch[PacketBatch.TYPES];
    private final int[] seenTypes = new int[PacketBatch.TYPES];
    private final FrameParser parser;
    private final Counters counters;
    private PcapWriter pcap;
    private final int cFrames, cBytes, cBatches, cReadErrors;
    /** Bytes of virtio-net header the device puts before each frame (nothing in it to act on: no offloads). */
    private int hdrLen;

    Ingress(Counters counters) {
        this.counters = counters;
        this.parser = new FrameParser(counters);
        cFrames = counters.register("ingress.frames");
        cBytes = counters.register("ingress.bytes");
        cBatches = counters.register("ingress.batches");
        cReadErrors = counters.register("ingress.read_errors");
    }

    void headerLength(int n) {
        hdrLen = n;
    }

    /** Frames read from now on are also recorded to {@code w} (--pcap); null stops it. */
    void capture(PcapWriter w) {
        pcap = w;
    }

    /**
     * Reads what the device has, up to one batch, and delivers it.
     *
     * @return frames read, or a negative errno if the device failed before any frame
     *         ({@code -EAGAIN} is not a failure and returns 0)
     */
    int readAndDeliver(int fd, Sink sink, TapEgress egress) {
        int n = 0;
        int off = 0;
        long bytes = 0;
        int h = hdrLen;
        while (n < MAX_FRAMES && off <= BUFFER_SIZE - MAX_FRAME - 16) {
            // With a header, read so that the frame itself starts 8-byte aligned (the header before it).
            int at = h == 0 ? off : off + 16 - h;
            long r = Sys.read(fd, nbuf, at, MAX_FRAME + h);
            if (r == -Errno.EINTR)
                continue;
            if (r <= 0) {
                if (r != -Errno.EAGAIN && n == 0) {
                    counters.inc(cReadErrors);
                    return r == 0 ? -Errno.EIO : (int) r;
                }
                break;
            }
            if (r < h) {
                counters.inc(cReadErrors);
                continue;
            }
            frames.frameOff[n] = at + h;
            frames.frameLen[n] = (int) r - h;
            n++;
            bytes += r - h;
            off = (int) ((at + r + 7) & ~7); // keep frames 8-byte aligned for the header reads
        }
        frames.count = n;
        if (pcap != null)
            for (int i = 0; i < n; i++)
                pcap.frame(nbuf, frames.frameOff[i], frames.frameLen[i]);
        if (n > 0) {
            // The guest's MAC, as pasta learns it: the source of what it sends (last frame wins).
            if (egress != null && frames.frameLen[n - 1] >= FrameParser.ETH_HLEN)
                egress.learnGuestMac(mac48(frames.frameOff[n - 1] + 6));
            counters.add(cFrames, n);
            counters.add(cBytes, bytes);
            counters.inc(cBatches);
            deliver(sink);
        }
        return n;
    }

    /** Parses and delivers frames already placed in the buffer (also used by tests). */
    void deliver(Sink sink) {
        int seen = 0;
        for (int i = 0; i < frames.count; i++) {
            int type = parser.parse(frames, i);
            if (type < 0)
                continue;
            TypedBatch tb = byType[type];
            if (tb == null)
                tb = byType[type] = new TypedBatch(frames); // once per type for the instance's life
            if (tb.size == 0)
                seenTypes[seen++] = type;
            tb.slots[tb.size++] = i;
        }
        for (int k = 0; k < seen; k++) {
            TypedBatch tb = byType[seenTypes[k]];
            sink.deliver(seenTypes[k], tb);
            tb.size = 0;
        }
    }

    private long mac48(int at) {
        return ((buf.getShort(at) & 0xffffL) << 32) | (buf.getInt(at + 2) & 0xffff_ffffL);
    }

    /** For tests: the buffer frames are parsed from, and the slot table to fill. */
    ParsedFrames frames() {
        return frames;
    }

    /** Releases the buffer; only once the loop that used it has stopped. */
    void close() {
        nbuf.unmap();
    }
}
