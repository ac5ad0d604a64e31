package io.penne.flow.impl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

import org.junit.jupiter.api.Test;

import io.penne.api.flow.Flow;
import io.penne.api.flow.FlowStateException;
import io.penne.api.flow.FlowType;
import io.penne.api.flow.InetAddr;
import io.penne.api.flow.Pif;

class FlowHashTest {

    @Test
    void sipHash24MatchesReferenceVectors() {
        long k0 = 0x0706050403020100L, k1 = 0x0f0e0d0c0b0a0908L;
        // Outputs for the empty message and for bytes 00..07 from the SipHash paper's vectors.
        assertEquals(0x726fdb47dd0e0e31L, FlowHash.siphash(k0, k1, 2, 4, new long[0], 0));
        assertEquals(0x93f5f5799a932462L, FlowHash.siphash(k0, k1, 2, 4, new long[] {0x0706050403020100L}, 1));
    }

    @Test
    void bucketCountIsAPowerOfTwoAboveTwicePerFlowAtSeventyPercent() {
        for (int cap : new int[] {1, 2, 3, 64, 1000, 4096, 131071}) {
            int size = FlowHash.sizeFor(cap);
            assertEquals(1, Integer.bitCount(size), "power of two");
            assertTrue(size > 2L * cap, "room for an empty bucket");
            assertTrue(size * 70L >= 2L * cap * 100, "load at most 70%");
        }
        assertEquals(1 << 19, FlowHash.sizeFor(131071));
        assertEquals(1 << 26, FlowHash.sizeFor((1 << 24) - 2));
    }

    /** A table with every slot ACTIVE and both sides set, nothing indexed yet. */
    private static FlowTableImpl filled(int cap, long seed) {
        FlowTableImpl t = new FlowTableImpl(cap, () -> 0, seed, ~seed);
        for (int i = 0; i < cap; i++) {
            Flow f = t.alloc();
            // Alternate IPv4-mapped and IPv6 endpoints; keys differ by index.
            if (i % 2 == 0)
                t.initiate(f, Pif.TAP, InetAddr.V4_HI, InetAddr.v4Lo(0x0a000000 + i), i & 0xffff, 0,
                    InetAddr.v4Lo(0x0a000001), 80);
            else
                t.initiate(f, Pif.TAP, 0x2001_0db8_0000_0000L, i, i & 0xffff, 0x2001_0db8_0000_0000L, 1, 443);
            t.target(f, Pif.HOST, 0xfe80_0000_0000_0000L, i, 443, 0xfe80_0000_0000_0000L, 2, (i * 7) & 0xffff);
            t.setType(f, i % 3 == 0 ? FlowType.UDP : FlowType.TCP);
            t.activate(f);
        }
        return t;
    }

    private static int lookupSide(FlowTableImpl t, int sidx) {
        Flow f = t.get(Flow.sidxFlow(sidx));
        int s = Flow.sidxSide(sidx);
        var side = f.side(s);
        return t.lookup(f.type().ipProtocol(), f.pif(s), side.eaddrHi(), side.eaddrLo(), side.eport(),
            side.oaddrHi(), side.oaddrLo(), side.oport());
    }

    @Test
    void insertLookupRemoveWithBackwardShift() {
        // 5720 sides in 8192 buckets, the 70% maximum load: long probe runs,
        // so removals shift a lot.
        int cap = 2860;
        FlowTableImpl t = filled(cap, 12345);
        List<Integer> sides = new ArrayList<>();
        for (int sidx = 0; sidx < 2 * cap; sidx++) {
            t.hashInsert(sidx);
            sides.add(sidx);
        }
        assertEquals(8192, t.hashSize());
        assertNull(t.verify());
        for (int sidx : sides)
            assertEquals(sidx, lookupSide(t, sidx));

        Random rnd = new Random(7);
        Collections.shuffle(sides, rnd);
        List<Integer> removed = new ArrayList<>();
        for (int k = 0; k < sides.size(); k++) {
            int sidx = sides.get(k);
            t.hashRemove(sidx);
            t.hashRemove(sidx); // a second remove is a no-op
            removed.add(sidx);
            if (k % 500 == 0 || k > sides.size() - 20) {
                assertNull(t.verify());
                for (int j = k + 1; j < sides.size(); j++)
                    assertEquals(sides.get(j), lookupSide(t, sides.get(j)), "lost after removing " + k);
                for (int r : removed)
                    assertEquals(-1, lookupSide(t, r));
            }
        }
        assertEquals(0, t.hashEntries());

        // Reinsert after everything was removed.
        for (int sidx : sides)
            t.hashInsert(sidx);
        assertNull(t.verify());
        for (int sidx : sides)
            assertEquals(sidx, lookupSide(t, sidx));
    }

    @Test
    void churnKeepsEveryOtherEntryFindable() {
        int cap = 512;
        FlowTableImpl t = filled(cap, 99);
        boolean[] in = new boolean[2 * cap];
        Random rnd = new Random(3);
        for (int op = 0; op < 50_000; op++) {
            int sidx = rnd.nextInt(2 * cap);
            if (in[sidx])
                t.hashRemove(sidx);
            else
                t.hashInsert(sidx);
            in[sidx] = !in[sidx];
            if (op % 5000 == 0) {
                assertNull(t.verify());
                for (int s = 0; s < 2 * cap; s++)
                    assertEquals(in[s] ? s : -1, lookupSide(t, s));
            }
        }
    }

    @Test
    void absentKeysAreNotFound() {
        FlowTableImpl t = filled(200, 5);
        for (int sidx = 0; sidx < 400; sidx++)
            t.hashInsert(sidx);
        long gw = InetAddr.v4Lo(0x0a000001);
        assertEquals(-1, t.lookup(6, Pif.TAP, 0, InetAddr.v4Lo(0x0a000000 + 200), 200, 0, gw, 80), "no such flow");
        assertEquals(-1, t.lookup(6, Pif.TAP, 0, InetAddr.v4Lo(0x0a000002), 2, 0, gw, 81), "other port");
        assertEquals(-1, t.lookup(6, Pif.HOST, 0, InetAddr.v4Lo(0x0a000002), 2, 0, gw, 80), "other pif");
        assertEquals(-1, t.lookup(6, Pif.NONE, 0, InetAddr.v4Lo(0x0a000002), 2, 0, gw, 80), "pif NONE");
        assertEquals(-1, t.lookup(6, null, 0, InetAddr.v4Lo(0x0a000002), 2, 0, gw, 80), "pif null");
        // Flow 2 is TCP (2 % 3 != 0) over IPv4; the same numbers as UDP or as IPv6 are other keys.
        assertEquals(Flow.sidx(2, 0), t.lookup(6, Pif.TAP, 0, InetAddr.v4Lo(0x0a000002), 2, 0, gw, 80));
        assertEquals(-1, t.lookup(17, Pif.TAP, 0, InetAddr.v4Lo(0x0a000002), 2, 0, gw, 80));
        assertEquals(-1, t.lookup(6, Pif.TAP, 1, InetAddr.v4Lo(0x0a000002), 2, 0, gw, 80));
    }

    @Test
    void duplicateKeysAreRefused() {
        FlowTableImpl t = new FlowTableImpl(4, () -> 0, 1, 2);
        long a = InetAddr.v4Lo(0x7f000001);
        for (int i = 0; i < 2; i++) {
            Flow f = t.alloc();
            t.initiate(f, Pif.SPLICE, 0, a, 1234, 0, a, 80);
            t.target(f, Pif.HOST, 0, a, 80, 0, a, 2000 + i);
            t.setType(f, FlowType.TCP_SPLICE);
            t.hashInsert(Flow.sidx(f.index(), Flow.TGT));
            if (i == 0) {
                t.hashInsert(Flow.sidx(f.index(), Flow.INI));
                FlowStateException again = assertThrows(FlowStateException.class,
                    () -> t.hashInsert(Flow.sidx(f.index(), Flow.INI)));
                assertTrue(again.getMessage().contains("already indexed"), again.getMessage());
            } else {
                FlowStateException dup = assertThrows(FlowStateException.class,
                    () -> t.hashInsert(Flow.sidx(f.index(), Flow.INI)));
                assertTrue(dup.getMessage().contains("flow 0 side 0"), dup.getMessage());
            }
            t.activate(f);
        }
        assertEquals(3, t.hashEntries());
        assertEquals(Flow.sidx(0, 0), t.lookup(6, Pif.SPLICE, 0, a, 1234, 0, a, 80));
        // Once the holder is freed, the key may be taken.
        t.runDeferred(0, false, (f, timer, now) -> f.index() == 0);
        assertEquals(1, t.hashEntries());
        t.hashInsert(Flow.sidx(1, 0));
        assertEquals(Flow.sidx(1, 0), t.lookup(6, Pif.SPLICE, 0, a, 1234, 0, a, 80));
        assertNull(t.verify());
    }

    @Test
    void differentKeysGiveDifferentLayouts() {
        // The bucket of a key depends on the table's secret.
        FlowHash ha = new FlowHash(new FlowEntry[1024], 1, 2);
        FlowHash hb = new FlowHash(new FlowEntry[1024], 3, 4);
        int same = 0;
        for (int i = 0; i < 1000; i++)
            if (ha.home(6, Pif.TAP, 0, i, 1, 0, 0, 2) == hb.home(6, Pif.TAP, 0, i, 1, 0, 0, 2))
                same++;
        assertTrue(same < 20, "layouts nearly identical: " + same);
    }
}
