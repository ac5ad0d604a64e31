package io.penne.core;

import io.penne.api.PacketBatch;
import java.nio.ByteBuffer;

/** The packets of one type within a {@link ParsedFrames} batch: a list of slot indices over it. */
final class TypedBatch implements PacketBatch {
    private final ParsedFrames f;
    final int[] slots;
    int size;

    TypedBatch(ParsedFrames f) {
        this.f = f;
        this.slots = new int[f.capacity];
    }

    @Override public int size() { return size; }
    @Override public ByteBuffer buffer() { return f.buf; }
    @Override public int frameOffset(int i) { return f.frameOff[slots[i]]; }
    @Override public int frameLength(int i) { return f.frameLen[slots[i]]; }
    @Override public int l3Offset(int i) { return f.l3Off[slots[i]]; }
    @Override public int l4Offset(int i) { return f.l4Off[slots[i]]; }
    @Override public int l4Length(int i) { return f.l4Len[slots[i]]; }
    @Override public int ipVersion(int i) { return f.version[slots[i]]; }
    @Override public int protocol(int i) { return f.protocol[slots[i]]; }
    @Override public long srcHi(int i) { return f.srcHi[slots[i]]; }
    @Override public long srcLo(int i) { return f.srcLo[slots[i]]; }
    @Override public long dstHi(int i) { return f.dstHi[slots[i]]; }
    @Override public long dstLo(int i) { return f.dstLo[slots[i]]; }
}
