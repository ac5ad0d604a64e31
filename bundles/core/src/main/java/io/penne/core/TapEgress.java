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
 * <p><b>Virtio-net header.</b> The namespace's tap is opened with
 * {@code IFF_VNET_HDR}: each frame is written with a 10-byte {@code struct
 * virtio_net_hdr} before it, in room {@link #reserve} keeps free (frames stay
 * 8-byte aligned). Usually the header is empty; {@link #sendChecksumPending}
 * marks it {@code NEEDS_CSUM}, so that a handler leaves the TCP checksum to
 * the kernel, which computes none for a frame delivered inside the
 * namespace. Without a header (a plain fd, in tests) frames go as they are.
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
    /** --pcap: frames written are also recorded here, or null. */
    PcapWriter pcap;
    private final int maxFrame;
    /** Bytes of virtio-net header written before each frame (0: none), and the room kept for it. */
    private final int hdrLen, hdrRoom;
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
    /** pasta's -M/--mac-addr, else {@link #OUR_MAC}; set before the first frame. */
    private long ourMac = OUR_MAC;

    TapEgress(int fd, int mtu, Counters counters) {
        this(fd, mtu, 0, counters);
    }

    TapEgress(int fd, int mtu, int hdrLen, Counters counters) {
        this.fd = fd;
        this.hdrLen = hdrLen;
        this.hdrRoom = hdrLen == 0 ? 0 : 16; // frames stay 8-byte aligned, the header just before each
        this.maxFrame = mtu + FrameParser.ETH_HLEN;
        this.counters = counters;
        cFrames = counters.register("egress.frames");
        cBytes = counters.register("egress.bytes");
        cDropped = counters.register("egress.dropped");
        cErrors = counters.register("egress.errors");
    }

    /** Sets penne's own MAC towards the guest (pasta's -M); before any frame goes out. */
    void ourMac(long mac) {
        ourMac = mac;
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
        if (queued == MAX_QUEUED || next + hdrRoom + length > BUFFER_SIZE)
            flush();
        return next + hdrRoom;
    }

    @Override
    public int reserve(int length, int count) {
        int stride = stride(length);
        if (length > maxFrame || length <= 0 || count <= 0 || count > MAX_QUEUED || (long) stride * count > BUFFER_SIZE)
            return -1;
        if (queued + count > MAX_QUEUED || next + hdrRoom + (long) stride * count > BUFFER_SIZE)
            flush();
        return next + hdrRoom;
    }

    /** Frames of a batch keep room for the virtio-net header before each. */
    @Override
    public int stride(int length) {
        return ((length + 7) & ~7) + hdrRoom;
    }

    @Override
    public void send(int offset, int length) {
        if (hdrLen != 0)
            header(offset - hdrLen, 0, 0, 0);
        queue(offset, length);
    }

    @Override
    public boolean checksumOffload() {
        return hdrLen != 0;
    }

    @Override
    public void sendChecksumPending(int offset, int length, int l4Start, int csumField) {
        if (hdrLen == 0)
            throw new UnsupportedOperationException("no virtio-net header on this tap");
        header(offset - hdrLen, VIRTIO_NET_HDR_F_NEEDS_CSUM, l4Start, csumField);
        queue(offset, length);
    }

    private void queue(int offset, int length) {
        offsets[queued] = offset - hdrLen;
        lengths[queued] = length + hdrLen;
        queued++;
        next = Math.max(next, (offset + length + 7) & ~7);
    }

    /**
     * struct virtio_net_hdr, little-endian (the tap's byte order on x86
     * without TUNSETVNETLE/BE): flags, gso_type (none), hdr_len (0: the
     * kernel works it out), gso_size, csum_start, csum_offset.
     */
    private void header(int at, int flags, int csumStart, int csumOffset) {
        buf.putLong(at, 0);
        buf.putShort(at + 8, (short) 0);
        buf.put(at, (byte) flags);
        buf.put(at + 6, (byte) csumStart).put(at + 7, (byte) (csumStart >>> 8));
        buf.put(at + 8, (byte) csumOffset).put(at + 9, (byte) (csumOffset >>> 8));
    }

    static final int VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;

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
            if (pcap != null)
                pcap.frame(nbuf, offsets[i] + hdrLen, lengths[i] - hdrLen);
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
        return ourMac;
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
