package io.penne.flow.impl;

import io.penne.api.flow.Flow;
import io.penne.api.flow.FlowStateException;
import io.penne.api.flow.Pif;

/**
 * The hash index from (IP protocol, interface, endpoint address and port, our
 * address and port) to a flow side.
 *
 * <p>Theory of operation. An open-addressing table of {@code int} buckets,
 * each holding {@code sidx + 1} or 0 for empty, so that the whole index is one
 * primitive array allocated up front and no operation allocates. Keys are not
 * stored: they are read back from the flow entries, which never move. Buckets
 * are probed linearly (upwards, wrapping), and removal shifts later members of
 * the probe run back into the hole instead of leaving tombstones, so lookups
 * never slow down as flows come and go. The table has more than twice as
 * many buckets as the flow table has entries (two sides per flow) and at most
 * a 70% load, which bounds probe runs and guarantees an empty bucket exists.
 *
 * <p>Flow keys partly come from the network, so the bucket is chosen by
 * SipHash-1-3 keyed with a secret drawn per table: an outsider cannot
 * precompute colliding keys to degrade lookups to linear scans. Each indexed
 * side remembers its home bucket ({@link FlowEntry#home}), so removal never
 * recomputes a hash and lookups can reject most non-matching members of a run
 * by comparing home buckets before comparing keys.
 *
 * <p>Single-threaded: the scratch buffer for hash input makes concurrent use
 * unsafe, which the flow table contract already rules out.
 */
final class FlowHash {
    private static final int LOAD_PERCENT = 70;

    private final FlowEntry[] slots;
    private final int[] buckets;
    private final int mask;
    private final long k0;
    private final long k1;
    private final long[] words = new long[6];
    private int entries;

    FlowHash(FlowEntry[] slots, long k0, long k1) {
        this.slots = slots;
        this.buckets = new int[sizeFor(slots.length)];
        this.mask = buckets.length - 1;
        this.k0 = k0;
        this.k1 = k1;
    }

    /** A power of two above both two buckets per flow and 100/70 of that. */
    static int sizeFor(int capacity) {
        long need = Math.max((2L * capacity * 100 + LOAD_PERCENT - 1) / LOAD_PERCENT, 2L * capacity + 1);
        int size = 4;
        while (size < need)
            size <<= 1;
        return size;
    }

    int size() {
        return buckets.length;
    }

    /** Number of indexed sides. */
    int entries() {
        return entries;
    }

    /** The home bucket of a key. */
    int home(int proto, Pif pif, long eHi, long eLo, int ePort, long oHi, long oLo, int oPort) {
        long[] m = words;
        m[0] = eHi;
        m[1] = eLo;
        m[2] = oHi;
        m[3] = oLo;
        m[4] = (ePort & 0xffff_ffffL) | ((long) oPort << 32);
        m[5] = (proto & 0xffff_ffffL) | ((long) pif.ordinal() << 32);
        return (int) siphash(k0, k1, 1, 3, m, 6) & mask;
    }

    /** The side indexed under this key, or -1. */
    int find(int proto, Pif pif, long eHi, long eLo, int ePort, long oHi, long oLo, int oPort) {
        int h = home(proto, pif, eHi, eLo, ePort, oHi, oLo, oPort);
        for (int b = h; ; b = (b + 1) & mask) {
            int v = buckets[b];
            if (v == 0)
                return -1;
            int sidx = v - 1;
            int s = Flow.sidxSide(sidx);
            FlowEntry f = slots[Flow.sidxFlow(sidx)];
            if (f.home[s] == h && f.pif(s) == pif && f.type().ipProtocol() == proto
                && f.side(s).matches(eHi, eLo, ePort, oHi, oLo, oPort))
                return sidx;
        }
    }

    /**
     * Indexes a side under the key its entry currently holds.
     *
     * @throws FlowStateException if another side already holds that key
     */
    void insert(int sidx) {
        int s = Flow.sidxSide(sidx);
        FlowEntry f = slots[Flow.sidxFlow(sidx)];
        Pif pif = f.pif(s);
        int proto = f.type().ipProtocol();
        var side = f.side(s);
        long eHi = side.eaddrHi(), eLo = side.eaddrLo(), oHi = side.oaddrHi(), oLo = side.oaddrLo();
        int ePort = side.eport(), oPort = side.oport();
        int h = home(proto, pif, eHi, eLo, ePort, oHi, oLo, oPort);
        int b = h;
        for (int v; (v = buckets[b]) != 0; b = (b + 1) & mask) {
            int o = v - 1;
            int os = Flow.sidxSide(o);
            FlowEntry of = slots[Flow.sidxFlow(o)];
            if (of.home[os] == h && of.pif(os) == pif && of.type().ipProtocol() == proto
                && of.side(os).matches(eHi, eLo, ePort, oHi, oLo, oPort))
                throw new FlowStateException("flow " + f.index() + " side " + s + ": key " + pif + " proto " + proto
                    + " " + side.format() + " is already indexed by flow " + of.index() + " side " + os);
        }
        buckets[b] = sidx + 1;
        f.home[s] = h;
        entries++;
    }

    /** Drops an indexed side, closing the gap so every other run stays contiguous. */
    void remove(int sidx) {
        int s = Flow.sidxSide(sidx);
        FlowEntry f = slots[Flow.sidxFlow(sidx)];
        int want = sidx + 1;
        int b = f.home[s];
        while (buckets[b] != want) {
            if (buckets[b] == 0)
                throw new IllegalStateException("flow " + f.index() + " side " + s + " marked indexed but not found");
            b = (b + 1) & mask;
        }
        // b is the hole. A later member of the run may fill it unless its home
        // lies cyclically in (hole, member], where moving it back would place
        // it before its home and make it unreachable.
        for (int j = (b + 1) & mask; buckets[j] != 0; j = (j + 1) & mask) {
            int o = buckets[j] - 1;
            int oh = slots[Flow.sidxFlow(o)].home[Flow.sidxSide(o)];
            if (((j - oh) & mask) >= ((j - b) & mask)) {
                buckets[b] = buckets[j];
                b = j;
            }
        }
        buckets[b] = 0;
        f.home[s] = -1;
        entries--;
    }

    /**
     * Checks the structural invariant: every member is reachable from its home
     * bucket without crossing an empty one, and the member count is right.
     *
     * @return null if consistent, else a description of the first defect
     */
    String verify() {
        int n = 0;
        for (int b = 0; b < buckets.length; b++) {
            if (buckets[b] == 0)
                continue;
            n++;
            int sidx = buckets[b] - 1;
            int h = slots[Flow.sidxFlow(sidx)].home[Flow.sidxSide(sidx)];
            if (h < 0)
                return "side " + sidx + " in bucket " + b + " is not marked indexed";
            for (int j = h; j != b; j = (j + 1) & mask)
                if (buckets[j] == 0)
                    return "side " + sidx + " in bucket " + b + " is cut off from its home " + h;
        }
        return n == entries ? null : "counted " + n + " members, expected " + entries;
    }

    /**
     * SipHash-c-d of a message made of whole 64-bit little-endian words
     * {@code m[0..n)}; general in c and d so that it can be checked against the
     * published SipHash-2-4 vectors.
     */
    static long siphash(long k0, long k1, int c, int d, long[] m, int n) {
        long v0 = k0 ^ 0x736f6d6570736575L;
        long v1 = k1 ^ 0x646f72616e646f6dL;
        long v2 = k0 ^ 0x6c7967656e657261L;
        long v3 = k1 ^ 0x7465646279746573L;
        for (int i = 0; i <= n; i++) {
            // The last block carries only the length in bytes, in its top byte.
            long w = i < n ? m[i] : (long) (n * 8) << 56;
            v3 ^= w;
            for (int r = 0; r < c; r++) {
                v0 += v1; v1 = Long.rotateLeft(v1, 13); v1 ^= v0; v0 = Long.rotateLeft(v0, 32);
                v2 += v3; v3 = Long.rotateLeft(v3, 16); v3 ^= v2;
                v0 += v3; v3 = Long.rotateLeft(v3, 21); v3 ^= v0;
                v2 += v1; v1 = Long.rotateLeft(v1, 17); v1 ^= v2; v2 = Long.rotateLeft(v2, 32);
            }
            v0 ^= w;
        }
        v2 ^= 0xff;
        for (int r = 0; r < d; r++) {
            v0 += v1; v1 = Long.rotateLeft(v1, 13); v1 ^= v0; v0 = Long.rotateLeft(v0, 32);
            v2 += v3; v3 = Long.rotateLeft(v3, 16); v3 ^= v2;
            v0 += v3; v3 = Long.rotateLeft(v3, 21); v3 ^= v0;
            v2 += v1; v1 = Long.rotateLeft(v1, 17); v1 ^= v2; v2 = Long.rotateLeft(v2, 32);
        }
        return v0 ^ v1 ^ v2 ^ v3;
    }
}
