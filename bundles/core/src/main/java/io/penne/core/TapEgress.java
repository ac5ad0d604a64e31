package io.penne.core;

import io.penne.api.Counters;
import io.penne.api.GuestDevice;
import io.penne.linux.Errno;
import io.penne.linux.NativeBuffer;
import io.penne.linux.Sys;
import io.penne.linux.Tap;
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
 * <p><b>UDP segmentation offload.</b> Where the kernel takes them (Linux
 * 6.2+, {@link Tap#acceptsUdpSegments}), {@link #sendUdpSegments} queues a
 * train of datagrams of one flow that {@link #flush} writes with one
 * {@code writev()}: the first frame whole (with a {@code GSO_UDP_L4} header),
 * then the payloads of the others from where they lie, so nothing is moved.
 * The kernel splits the train into the datagrams again on its way into the
 * namespace. A host sending many small datagrams then costs the loop one
 * system call per train instead of one per datagram. If the kernel refuses
 * a train after all, the train is dropped and counted, and trains are not
 * offered again. Not offered while frames are recorded ({@code --pcap}),
 * which shows what the guest receives.
 *
 * <p><b>Limits.</b> {@value #BUFFER_SIZE} bytes and {@value #MAX_QUEUED}
 * frames per batch; a reserve that does not fit flushes first. Trains of at
 * most {@value #MAX_SEGMENTS} datagrams (the kernel's {@code UDP_MAX_SEGMENTS}
 * before Linux 6.13).
 */
final class TapEgress implements GuestDevice {
    static final int BUFFER_SIZE = 8 << 20;
    static final int MAX_QUEUED = 1024;
    /** penne's MAC towards the guest: a locally administered address, as pasta's 9a:55:9a:55:9a:55. */
    static final long OUR_MAC = 0x9a559a559a55L;
    static final int MAX_SEGMENTS = 64;
    static final int VIRTIO_NET_HDR_GSO_UDP_L4 = 5;

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
    /** Per queued entry: datagrams in its train (0: a plain frame), and where the others' payloads lie. */
    private final int[] trainCount = new int[MAX_QUEUED];
    private final int[] trainStride = new int[MAX_QUEUED];
    private final int[] trainHlen = new int[MAX_QUEUED];
    private final int[] trainSegSize = new int[MAX_QUEUED];
    private final int[] trainLast = new int[MAX_QUEUED];
    private final NativeBuffer iov = NativeBuffer.allocate(MAX_SEGMENTS * 16);
    /** Trains the kernel takes: {@link #MAX_SEGMENTS}, or 0 (none). */
    private int maxSegments;
    private final Counters counters;
    private final int cFrames, cBytes, cDropped, cErrors, cTrains, cRefused;
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
        cTrains = counters.register("egress.udp_trains");
        cRefused = counters.register("egress.udp_trains_refused");
        maxSegments = hdrLen != 0 && Tap.acceptsUdpSegments(fd) ? MAX_SEGMENTS : 0;
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
            header(offset - hdrLen, 0, 0, 0, 0, 0, 0);
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
        header(offset - hdrLen, VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0, l4Start, csumField);
        queue(offset, length);
    }

    private void queue(int offset, int length) {
        offsets[queued] = offset - hdrLen;
        lengths[queued] = length + hdrLen;
        trainCount[queued] = 0;
        queued++;
        next = Math.max(next, (offset + length + 7) & ~7);
    }

    @Override
    public int udpSegments() {
        return pcap == null ? maxSegments : 0;
    }

    @Override
    public void sendUdpSegments(int offset, int hlen, int stride, int count, int segSize, int lastLen) {
        if (count < 2 || count > udpSegments() || lastLen < 1 || lastLen > segSize)
            throw new IllegalArgumentException("UDP train of " + count + " datagrams, last " + lastLen + " of " + segSize);
        // csum_start is the UDP header: it ends the frame's headers.
        header(offset - hdrLen, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_UDP_L4, hlen, segSize, hlen - 8, 6);
        int i = queued;
        trainCount[i] = count;
        trainStride[i] = stride;
        trainHlen[i] = hlen;
        trainSegSize[i] = segSize;
        trainLast[i] = lastLen;
        offsets[i] = offset - hdrLen;
        lengths[i] = hdrLen + hlen + segSize;
        queued++;
        next = Math.max(next, (offset + (count - 1) * stride + hlen + lastLen + 7) & ~7);
    }

    /** Writes queued entry {@code i}, a train: the first frame whole, then the other payloads where they lie. */
    private long writeTrain(int i) {
        int n = trainCount[i], first = offsets[i] + hdrLen;
        iov.putIovec(0, nbuf.address(offsets[i], lengths[i]), lengths[i]);
        for (int k = 1; k < n; k++) {
            int len = k == n - 1 ? trainLast[i] : trainSegSize[i];
            iov.putIovec(k * 16, nbuf.address(first + k * trainStride[i] + trainHlen[i], len), len);
        }
        long r = Sys.writev(fd, iov.address(), n);
        nbuf.keepAlive();
        return r;
    }

    /**
     * struct virtio_net_hdr, little-endian (the tap's byte order on x86
     * without TUNSETVNETLE/BE): flags, gso_type, hdr_len (0 outside a train:
     * the kernel works it out), gso_size, csum_start, csum_offset.
     */
    private void header(int at, int flags, int gsoType, int gsoHdrLen, int gsoSize, int csumStart, int csumOffset) {
        buf.put(at, (byte) flags).put(at + 1, (byte) gsoType);
        le16(at + 2, gsoHdrLen);
        le16(at + 4, gsoSize);
        le16(at + 6, csumStart);
        le16(at + 8, csumOffset);
    }

    private void le16(int at, int v) {
        buf.put(at, (byte) v).put(at + 1, (byte) (v >>> 8));
    }

    static final int VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;

    @Override
    public int flush() {
        int dropped = 0;
        for (int i = 0; i < queued; i++) {
            boolean train = trainCount[i] != 0;
            long r = train ? writeTrain(i) : Sys.write(fd, nbuf, offsets[i], lengths[i]);
            if (r == -Errno.EINTR) {
                i--;
                continue;
            }
            if (r == -Errno.EINVAL && train) {
                // A kernel that named USO but will not take this train: drop it, offer no more.
                maxSegments = 0;
                counters.inc(cRefused);
                counters.add(cDropped, trainCount[i]);
                dropped += trainCount[i];
                continue;
            }
            if (r < 0) {
                int lost = 0;
                for (int j = i; j < queued; j++)
                    lost += Math.max(1, trainCount[j]);
                dropped += lost;
                counters.add(cDropped, lost);
                if (r != -Errno.EAGAIN)
                    counters.inc(cErrors);
                break;
            }
            if (train) {
                counters.inc(cTrains);
                counters.add(cFrames, trainCount[i]);
            } else {
                counters.inc(cFrames);
            }
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
