package io.penne.linux;

import java.nio.ByteBuffer;

/**
 * The native address of a direct buffer, remembered: a handler is given the
 * same receive and transmit buffers batch after batch, so the lookup is made
 * once per buffer rather than once per packet. Loop thread only.
 */
public final class BufferAddress {
    private ByteBuffer buf;
    private long addr;

    /** The address of {@code b}'s first byte. */
    public long of(ByteBuffer b) {
        if (b != buf) {
            buf = b;
            addr = NativeBuffer.addressOf(b);
        }
        return addr;
    }
}
