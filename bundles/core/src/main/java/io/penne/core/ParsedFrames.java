package io.penne.core;

import java.nio.ByteBuffer;

/**
 * Results of parsing one receive batch, as parallel arrays (one slot per
 * frame) so that parsing and handing packets to handlers allocate nothing.
 * The receive buffer and these arrays are reused for every batch.
 */
final class ParsedFrames {
    final ByteBuffer buf;
    final int capacity;
    final int[] frameOff, frameLen, l3Off, l4Off, l4Len, version, protocol;
    final long[] srcHi, srcLo, dstHi, dstLo;
    int count;

    ParsedFrames(ByteBuffer buf, int capacity) {
        this.buf = buf;
        this.capacity = capacity;
        frameOff = new int[capacity];
        frameLen = new int[capacity];
        l3Off = new int[capacity];
        l4Off = new int[capacity];
        l4Len = new int[capacity];
        version = new int[capacity];
        protocol = new int[capacity];
        srcHi = new long[capacity];
        srcLo = new long[capacity];
        dstHi = new long[capacity];
        dstLo = new long[capacity];
    }
}
