package io.penne.api;

import java.nio.ByteBuffer;

/**
 * The guest side of an instance (tap device now; stream socket and
 * vhost-user later), as handlers see it for sending: they never learn which
 * kind it is.
 *
 * <p>Sending is batched: a handler {@link #reserve reserves} room in the
 * transmit buffer, writes a complete Ethernet frame there (headers and
 * payload, e.g. straight from a socket read), and {@link #send queues} it.
 * Queued frames go out when the instance finishes its loop cycle, or when a
 * handler calls {@link #flush}, or when the buffer fills. Loop thread only.
 * Nothing here allocates.
 */
public interface GuestDevice {

    /** The transmit buffer (direct, big-endian; absolute indexing). */
    ByteBuffer buffer();

    /**
     * Room for one frame of up to {@code length} bytes.
     *
     * @return its offset in {@link #buffer()}, or -1 if {@code length} exceeds {@link #maxFrame()}
     */
    int reserve(int length);

    /**
     * Room for {@code count} frames of up to {@code length} bytes each, one
     * after the other {@link #stride(int)} apart, so that a batch receive
     * (e.g. {@code recvmmsg}) can read payloads straight into their final
     * frames. Each frame that is used is then {@link #send sent} at its
     * offset; unused ones cost nothing. Nothing else may be reserved until
     * the batch is sent.
     *
     * @return the offset of the first frame, or -1 if the batch cannot fit (use smaller batches)
     */
    default int reserve(int length, int count) {
        return count == 1 ? reserve(length) : -1;
    }

    /** Distance between the frames of a {@link #reserve(int, int)} batch. */
    default int stride(int length) {
        return (length + 7) & ~7;
    }

    /** Queues the frame of {@code length} bytes written at {@code offset} (from {@link #reserve}). */
    void send(int offset, int length);

    /**
     * Whether {@link #sendChecksumPending} is available: the device can have
     * a frame's TCP or UDP checksum completed after it (a tap with a
     * virtio-net header; virtio devices alike), so that handlers need not
     * sum the payload. For a frame delivered inside the guest's kernel the
     * checksum is then never computed at all.
     */
    default boolean checksumOffload() {
        return false;
    }

    /**
     * Queues a frame as {@link #send}, whose transport checksum field holds
     * only the pseudo-header sum (folded, not complemented): the rest is
     * summed by the device from {@code l4Start} (offset of the TCP or UDP
     * header in the frame), the result stored at {@code l4Start + csumField}.
     * Only if {@link #checksumOffload()}.
     */
    default void sendChecksumPending(int offset, int length, int l4Start, int csumField) {
        throw new UnsupportedOperationException("no checksum offload on this device");
    }

    /**
     * How many UDP datagrams {@link #sendUdpSegments} takes as one frame: 0
     * when the device cannot split frames again (no UDP segmentation
     * offload), and then handlers send each datagram on its own.
     */
    default int udpSegments() {
        return 0;
    }

    /**
     * Queues {@code count} UDP datagrams of one flow (2 to {@link
     * #udpSegments()}) to go to the guest as one frame that the device splits
     * again, so that the guest receives each datagram as if it had been sent
     * alone, for the cost of one write. The datagrams sit in consecutive
     * frames of a {@link #reserve(int, int)} batch from {@code offset},
     * {@code stride} apart, each payload {@code hlen} bytes into its frame
     * (behind the Ethernet, IP and UDP headers). All payloads are
     * {@code segSize} bytes long except the last, {@code lastLen} (1 to
     * {@code segSize}). Only the first frame's headers are read, and they
     * describe the whole train: the IP and UDP lengths cover all payloads
     * (the IP length at most 65535) and the UDP checksum field holds the
     * pseudo-header sum of that length, folded and not complemented, as for
     * {@link #sendChecksumPending}.
     */
    default void sendUdpSegments(int offset, int hlen, int stride, int count, int segSize, int lastLen) {
        throw new UnsupportedOperationException("no UDP segmentation offload on this device");
    }

    /** Writes the queued frames now. Returns how many the device did not take (dropped, counted). */
    int flush();

    /** Largest frame the device carries: MTU plus the Ethernet header. */
    int maxFrame();

    /** The MAC address penne uses towards the guest, as the low 48 bits of a long. */
    long ourMac();

    /** The guest's MAC address, learned from the frames it sends (0 until the first). */
    long guestMac();
}
