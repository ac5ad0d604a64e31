package io.penne.linux;

import java.lang.ref.Reference;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Preallocated native memory for system call arguments and results: epoll
 * event arrays, {@code itimerspec}, socket addresses, iovec arrays, option
 * values, and data buffers.
 *
 * <p>Theory of operation: the memory is a direct {@link ByteBuffer} in native
 * byte order, so Java reads and writes it with the JIT-intrinsified absolute
 * {@code get/put} methods (bounds-checked, no allocation), and its native
 * address is obtained once through {@link LibC} at construction and handed to
 * {@link LibC}/{@link Sys} as a plain {@code long}. Creating a NativeBuffer
 * allocates; using it does not.
 *
 * <p>Lifetime: the memory is freed by the JDK's cleaner once the NativeBuffer
 * (and its ByteBuffer) become unreachable. An address held in a {@code long}
 * does not keep it alive, so keep the NativeBuffer in a field for as long as
 * the kernel may use the address, and call {@link #keepAlive()} after native
 * calls made through a local variable.
 *
 * <p>Thread rules: a NativeBuffer is plain memory with no synchronisation.
 * Each event-loop thread owns its own scratch buffers and never shares them;
 * a helper that takes a NativeBuffer argument may overwrite any of it.
 * {@link #forThread()} gives every thread one general-purpose scratch buffer
 * for setup code that has none of its own.
 *
 * <p>Multi-byte values are in native byte order unless the method name says
 * {@code BE} (network order, for ports and addresses in socket addresses).
 */
public final class NativeBuffer {
    /** Size of {@link #forThread()} buffers: room for a sockaddr_storage, a few iovecs and option values. */
    public static final int THREAD_SCRATCH_SIZE = 512;

    private static final ThreadLocal<NativeBuffer> PER_THREAD =
            ThreadLocal.withInitial(() -> allocate(THREAD_SCRATCH_SIZE));
    private static final boolean LITTLE = ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN;

    private final ByteBuffer buf;
    private final long address;
    private final int size;

    private NativeBuffer(ByteBuffer buf) {
        this.buf = buf;
        this.size = buf.capacity();
        this.address = addressOf(buf);
    }

    /**
     * Maps {@code size} bytes of anonymous memory, zero as far as the program
     * can tell, but costing resident memory only for the pages actually
     * written. For large packet buffers: {@link #allocate} zero-fills and so
     * touches every page up front. Release with {@link #unmap}; the buffer
     * must not be used afterwards. Setup path; throws {@link SysException}.
     */
    public static NativeBuffer mapAnonymous(int size) {
        if (size <= 0)
            throw new IllegalArgumentException("size " + size);
        long a = Sys.check(Sys.mmapAnonymous(size), "mmap");
        ByteBuffer b = LibC.wrap(a, size).order(ByteOrder.nativeOrder());
        return new NativeBuffer(b);
    }

    /** Unmaps a buffer made by {@link #mapAnonymous}. */
    public void unmap() {
        Sys.munmap(address, size);
    }

    /** Allocates {@code size} bytes of zeroed native memory (setup path: allocates). */
    public static NativeBuffer allocate(int size) {
        if (size <= 0)
            throw new IllegalArgumentException("size " + size);
        return new NativeBuffer(ByteBuffer.allocateDirect(size).order(ByteOrder.nativeOrder()));
    }

    /**
     * Wraps an existing direct buffer (e.g. a packet buffer shared with another
     * component) from index 0 to its capacity; the wrapper uses native byte order
     * whatever the order of {@code direct}.
     */
    public static NativeBuffer wrap(ByteBuffer direct) {
        if (!direct.isDirect())
            throw new IllegalArgumentException("not a direct buffer");
        return new NativeBuffer(direct.duplicate().clear().order(ByteOrder.nativeOrder()));
    }

    /**
     * The calling thread's general-purpose scratch buffer, allocated on first use
     * and reused afterwards ({@link ThreadLocal#get()} does not allocate then).
     * Any helper handed this buffer may overwrite it, so do not keep data in it
     * across calls.
     */
    public static NativeBuffer forThread() {
        return PER_THREAD.get();
    }

    /** The native address of a direct buffer's index 0 (setup path: JNA, if that is the binding, allocates). */
    public static long addressOf(ByteBuffer direct) {
        if (!direct.isDirect())
            throw new IllegalArgumentException("not a direct buffer");
        return LibC.addressOf(direct);
    }

    /** The native address of byte 0. */
    public long address() {
        return address;
    }

    /** The native address of byte {@code offset}, checking that {@code length} bytes fit from there. */
    public long address(int offset, int length) {
        if (offset < 0 || length < 0 || offset > size - length)
            throw new IndexOutOfBoundsException("offset " + offset + " length " + length + " size " + size);
        return address + offset;
    }

    /** Capacity in bytes. */
    public int size() {
        return size;
    }

    /**
     * The underlying buffer, for bulk transfers. Use absolute methods only: its
     * position and limit are not meaningful and other users do not reset them.
     */
    public ByteBuffer buffer() {
        return buf;
    }

    /** Keeps this buffer reachable up to this point, for use after a native call given its address. */
    public void keepAlive() {
        Reference.reachabilityFence(this);
    }

    public byte getByte(int offset) {
        return buf.get(offset);
    }

    public NativeBuffer putByte(int offset, int value) {
        buf.put(offset, (byte) value);
        return this;
    }

    public short getShort(int offset) {
        return buf.getShort(offset);
    }

    public NativeBuffer putShort(int offset, int value) {
        buf.putShort(offset, (short) value);
        return this;
    }

    public int getInt(int offset) {
        return buf.getInt(offset);
    }

    public NativeBuffer putInt(int offset, int value) {
        buf.putInt(offset, value);
        return this;
    }

    public long getLong(int offset) {
        return buf.getLong(offset);
    }

    public NativeBuffer putLong(int offset, long value) {
        buf.putLong(offset, value);
        return this;
    }

    /** An unsigned 16-bit value stored in network byte order (ports). */
    public int getShortBE(int offset) {
        short v = buf.getShort(offset);
        return (LITTLE ? Short.reverseBytes(v) : v) & 0xffff;
    }

    /** Stores the low 16 bits of {@code value} in network byte order (ports). */
    public NativeBuffer putShortBE(int offset, int value) {
        short v = (short) value;
        buf.putShort(offset, LITTLE ? Short.reverseBytes(v) : v);
        return this;
    }

    /** A 32-bit value stored in network byte order (IPv4 addresses). */
    public int getIntBE(int offset) {
        int v = buf.getInt(offset);
        return LITTLE ? Integer.reverseBytes(v) : v;
    }

    /** Stores {@code value} in network byte order (IPv4 addresses). */
    public NativeBuffer putIntBE(int offset, int value) {
        buf.putInt(offset, LITTLE ? Integer.reverseBytes(value) : value);
        return this;
    }

    /** A 64-bit value stored in network byte order (halves of IPv6 addresses). */
    public long getLongBE(int offset) {
        long v = buf.getLong(offset);
        return LITTLE ? Long.reverseBytes(v) : v;
    }

    /** Stores {@code value} in network byte order (halves of IPv6 addresses). */
    public NativeBuffer putLongBE(int offset, long value) {
        buf.putLong(offset, LITTLE ? Long.reverseBytes(value) : value);
        return this;
    }

    /** Copies {@code length} bytes from {@code src[srcOffset..]} to {@code offset}. */
    public NativeBuffer put(int offset, byte[] src, int srcOffset, int length) {
        buf.put(offset, src, srcOffset, length);
        return this;
    }

    /** Copies {@code length} bytes at {@code offset} into {@code dst[dstOffset..]}. */
    public NativeBuffer get(int offset, byte[] dst, int dstOffset, int length) {
        buf.get(offset, dst, dstOffset, length);
        return this;
    }

    /** Zeroes {@code length} bytes from {@code offset}. */
    public NativeBuffer zero(int offset, int length) {
        if (offset < 0 || length < 0 || offset > size - length)
            throw new IndexOutOfBoundsException("offset " + offset + " length " + length + " size " + size);
        int i = offset, end = offset + length;
        for (; i + 8 <= end; i += 8)
            buf.putLong(i, 0L);
        for (; i < end; i++)
            buf.put(i, (byte) 0);
        return this;
    }

    /**
     * Writes one {@code struct iovec} (16 bytes on LP64: base address, length)
     * at {@code offset}; an iovec array is consecutive entries.
     */
    public NativeBuffer putIovec(int offset, long base, long length) {
        buf.putLong(offset, base);
        buf.putLong(offset + 8, length);
        return this;
    }

    @Override
    public String toString() {
        return "NativeBuffer[" + size + " bytes @0x" + Long.toHexString(address) + "]";
    }
}
