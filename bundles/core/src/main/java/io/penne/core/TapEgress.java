package io.penne.core;

import io.penne.api.Counters;
import io.penne.api.GuestDevice;
import io.penne.linux.Errno;
import io.penne.linux.NativeBuffer;
import io.penne.linux.Sys;
import java.nio.ByteBuffer;

/**
 * Frames to the guest through a tap device.
 *
 * <p><b>Theory of operation.</b> Handlers build frames in place in one
 * preallocated direct buffer: {@link #reserve} hands out the next 8-byte
 * aligned region, {@link #send} appends (offset, length) to the queue. A
 * tap device takes exactly one frame per {@code write()}, so {@link #flush}
 * writes the queued frames one by one, in order, and rewinds the buffer.
 * The instance flushes at the end of every loop cycle, which is what batches
 * the frames produced by one round of events. If the device refuses a frame
 * ({@code EAGAIN}: its queue towards the guest is full) the rest of the
 * batch is dropped and counted; the protocols above recover (TCP
 * retransmits from the host socket, which still holds the data).
 *
 * <p><b>Limits.</b> {@value #BUFFER_SIZE} bytes and {@value #MAX_QUEUED}
 * frames per batch; a reserve that does not fit flushes first.
 */
final class TapEgress implements GuestDevice {
    static final int BUFFER_SIZE = 8 << 20;
    static final int MAX_QUEUED = 1024;
    /** penne's MAC towards the guest: a locally administered address, as pasta's 9a:55:9a:55:9a:55. */
    static final long OUR_MAC = 0x9a559a559a55L;

    private final int fd;
    private final int maxFrame;
    // Mapped, not allocated: only the pages that frames actually reach become resident.
    private final NativeBuffer nbuf = NativeBuffer.mapAnonymous(BUFFER_SIZE);
    private final ByteBuffer buf = nbuf.buffer().duplicate().order(java.nio.ByteOrder.BIG_ENDIAN); // network order
    private final int[] offsets = new int[MAX_QUEUED];
    private final int[] lengths = new int[MAX_QUEUED];
    private final Counters counters;
    private final int cFrames, cBytes, cDropped, cErrors;
    private int queued;
    private int next;
    private long guestMac;

    TapEgress(int fd, int mtu, Counters counters) {
        this.fd = fd;
        this.maxFrame = mtu + FrameParser.ETH_HLEN;
        this.counters = counters;
        cFrames = counters.register("egress.frames");
        cBytes = counters.register("egress.bytes");
        cDropped = counters.register("egress.dropped");
        cErrors = counters.register("egress.errors");
    }

    int fd() {
        return fd;
    }

    void learnGuestMac(long mac) {
        guestMac = mac;
    }

    @Override
    public ByteBuffer buffer() {
        return buf;
    }

    @Override
    public int reserve(int length) {
        if (length > maxFrame || length <= 0)
            return -1;
        if (queued == MAX_QUEUED || next + length > BUFFER_SIZE)
            flush();
        return next;
    }

    @Override
    public int reserve(int length, int count) {
        int stride = stride(length);
        if (length > maxFrame || length <= 0 || count <= 0 || count > MAX_QUEUED || (long) stride * count > BUFFER_SIZE)
            return -1;
        if (queued + count > MAX_QUEUED || next + (long) stride * count > BUFFER_SIZE)
            flush();
        return next;
    }

    @Override
    public void send(int offset, int length) {
        offsets[queued] = offset;
        lengths[queued] = length;
        queued++;
        next = Math.max(next, (offset + length + 7) & ~7);
    }

    @Override
    public int flush() {
        int dropped = 0;
        for (int i = 0; i < queued; i++) {
            long r = Sys.write(fd, nbuf, offsets[i], lengths[i]);
            if (r == -Errno.EINTR) {
                i--;
                continue;
            }
            if (r < 0) {
                dropped = queued - i;
                counters.add(cDropped, dropped);
                if (r != -Errno.EAGAIN)
                    counters.inc(cErrors);
                break;
            }
            counters.inc(cFrames);
            counters.add(cBytes, r);
        }
        queued = 0;
        next = 0;
        return dropped;
    }

    @Override
    public int maxFrame() {
        return maxFrame;
    }

    @Override
    public long ourMac() {
        return OUR_MAC;
    }

    @Override
    public long guestMac() {
        return guestMac;
    }

    /** Releases the buffer; only once the loop that used it has stopped. */
    void close() {
        nbuf.unmap();
    }
}
