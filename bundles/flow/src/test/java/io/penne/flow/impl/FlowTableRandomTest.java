package io.penne.flow.impl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import io.penne.api.flow.Flow;
import io.penne.api.flow.FlowState;
import io.penne.api.flow.FlowStateException;
import io.penne.api.flow.FlowType;
import io.penne.api.flow.InetAddr;
import io.penne.api.flow.Pif;

/** Random operation sequences checked against a trivially correct model. */
class FlowTableRandomTest {
    private static final FlowType[] TYPES = {FlowType.TCP, FlowType.TCP_SPLICE, FlowType.PING4, FlowType.PING6, FlowType.UDP};
    private static final Pif[] PIFS = {Pif.HOST, Pif.TAP, Pif.SPLICE};

    private record Key(int proto, Pif pif, long eHi, long eLo, int ePort, long oHi, long oLo, int oPort) {
    }

    /** The reference: sets and maps, no cleverness. */
    private static final class Model {
        final TreeSet<Integer> free = new TreeSet<>();
        final Map<Integer, FlowType> active = new HashMap<>();
        final Map<Key, Integer> index = new HashMap<>();
        final Map<Integer, Key> keyOf = new HashMap<>();

        Model(int cap) {
            for (int i = 0; i < cap; i++)
                free.add(i);
        }

        void unindex(int sidx) {
            Key k = keyOf.remove(sidx);
            if (k != null)
                index.remove(k);
        }
    }

    private final class Run {
        final Random rnd;
        final int cap;
        final FlowTableImpl t;
        final Model m;
        long allocs, cancels, frees, dups;

        Run(long seed, int cap) {
            this.rnd = new Random(seed);
            this.cap = cap;
            this.t = new FlowTableImpl(cap, () -> 0, seed * 31, seed * 17 + 1);
            this.m = new Model(cap);
        }

        /** Addresses from a small pool, so that keys collide and repeat. */
        long[] addr() {
            int k = rnd.nextInt(6);
            return k < 3 ? new long[] {InetAddr.V4_HI, InetAddr.v4Lo(0x0a000001 + k)}
                : new long[] {0x2001_0db8_0000_0000L, k};
        }

        Key key(FlowType type, Pif pif) {
            long[] e = addr(), o = addr();
            return new Key(type.ipProtocol(), pif, e[0], e[1], rnd.nextInt(8), o[0], o[1], rnd.nextInt(4));
        }

        void hashInsert(int sidx, Key k) {
            if (m.index.containsKey(k)) {
                assertThrows(FlowStateException.class, () -> t.hashInsert(sidx));
                dups++;
            } else {
                t.hashInsert(sidx);
                m.index.put(k, sidx);
                m.keyOf.put(sidx, k);
            }
        }

        void newFlow() {
            Flow f = t.alloc();
            if (m.free.isEmpty()) {
                assertNull(f);
                return;
            }
            allocs++;
            assertNotNull(f, "alloc refused with free slots");
            assertEquals(m.free.first(), f.index(), "not the lowest free index");
            m.free.remove(f.index());
            FlowType type = TYPES[rnd.nextInt(TYPES.length)];
            Key ini = key(type, PIFS[rnd.nextInt(PIFS.length)]);
            Key tgt = key(type, PIFS[rnd.nextInt(PIFS.length)]);
            int stop = rnd.nextInt(10); // 0..3: cancel at NEW..TYPED; otherwise activate
            if (stop >= 1)
                t.initiate(f, ini.pif, ini.eHi, ini.eLo, ini.ePort, ini.oHi, ini.oLo, ini.oPort);
            if (stop >= 2)
                t.target(f, tgt.pif, tgt.eHi, tgt.eLo, tgt.ePort, tgt.oHi, tgt.oLo, tgt.oPort);
            if (stop >= 3) {
                t.setType(f, type);
                if (rnd.nextBoolean())
                    hashInsert(Flow.sidx(f.index(), Flow.INI), ini);
                if (rnd.nextBoolean())
                    hashInsert(Flow.sidx(f.index(), Flow.TGT), tgt);
            }
            if (stop <= 3) {
                t.cancel(f);
                cancels++;
                m.unindex(Flow.sidx(f.index(), Flow.INI));
                m.unindex(Flow.sidx(f.index(), Flow.TGT));
                m.free.add(f.index());
                assertEquals(FlowState.FREE, f.state());
            } else {
                t.activate(f);
                m.active.put(f.index(), type);
            }
        }

        void scan(double pFree) {
            Set<Integer> done = new HashSet<>();
            for (int i : m.active.keySet())
                if (rnd.nextDouble() < pFree)
                    done.add(i);
            List<Integer> called = new ArrayList<>();
            boolean timer = rnd.nextBoolean();
            t.runDeferred(42, timer, (f, tm, now) -> {
                assertEquals(timer, tm);
                assertEquals(FlowState.ACTIVE, f.state());
                called.add(f.index());
                return done.contains(f.index());
            });
            List<Integer> expect = new ArrayList<>(new TreeSet<>(m.active.keySet()));
            assertEquals(expect, called, "handler calls differ from active flows in index order");
            for (int i : done) {
                m.active.remove(i);
                m.unindex(Flow.sidx(i, Flow.INI));
                m.unindex(Flow.sidx(i, Flow.TGT));
                m.free.add(i);
                frees++;
            }
            check();
        }

        void check() {
            assertEquals(cap - m.free.size(), t.count());
            for (FlowType type : FlowType.values()) {
                long n = m.active.values().stream().filter(x -> x == type).count();
                assertEquals(n, t.count(type), type.name());
            }
            assertEquals(m.free.isEmpty() ? cap : m.free.first(), t.firstFree());
            assertEquals(m.index.size(), t.hashEntries());
            for (var e : m.index.entrySet()) {
                Key k = e.getKey();
                assertEquals(e.getValue(), t.lookup(k.proto, k.pif, k.eHi, k.eLo, k.ePort, k.oHi, k.oLo, k.oPort));
            }
        }

        void probe() {
            FlowType type = TYPES[rnd.nextInt(TYPES.length)];
            Key k = key(type, PIFS[rnd.nextInt(PIFS.length)]);
            assertEquals(m.index.getOrDefault(k, -1), t.lookup(k.proto, k.pif, k.eHi, k.eLo, k.ePort, k.oHi, k.oLo, k.oPort));
        }

        void removeSide() {
            if (m.keyOf.isEmpty())
                return;
            List<Integer> sides = new ArrayList<>(m.keyOf.keySet());
            int sidx = sides.get(rnd.nextInt(sides.size()));
            t.hashRemove(sidx);
            m.unindex(sidx);
        }

        void run(int ops) {
            // Phases that fill up and drain, so the table sees full, sparse and empty states.
            double pFree = 0.1;
            for (int op = 0; op < ops; op++) {
                if (op % 2000 == 0)
                    pFree = new double[] {0.0, 0.05, 0.3, 0.9}[rnd.nextInt(4)];
                int r = rnd.nextInt(100);
                if (r < 55)
                    newFlow();
                else if (r < 75)
                    scan(pFree);
                else if (r < 90)
                    probe();
                else
                    removeSide();
                if (op % 997 == 0)
                    assertNull(t.verify());
            }
            scan(1.0);
            assertNull(t.verify());
            assertEquals(0, t.count());
            assertEquals(0, t.hashEntries());
            // After a full drain the chain has merged back into one run.
            scan(0);
            assertEquals(1, t.lastScanVisited());
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {64, 4096})
    void randomSequencesMatchModel(int cap) {
        long allocs = 0, cancels = 0, frees = 0, dups = 0;
        for (long seed = 1; seed <= 20; seed++) {
            Run run = new Run(seed, cap);
            run.run(20_000);
            allocs += run.allocs;
            cancels += run.cancels;
            frees += run.frees;
            dups += run.dups;
        }
        // Make sure the mix exercised every path in meaningful numbers.
        assertTrue(allocs > 100_000 && cancels > 30_000 && frees > 10_000 && dups > 50,
            "allocs " + allocs + " cancels " + cancels + " frees " + frees + " dups " + dups);
    }

    @Test
    void scanVisitsActiveFlowsAndRunsOnly() {
        int cap = 4096;
        FlowTableImpl t = new FlowTableImpl(cap, () -> 0, 1, 2);
        t.runDeferred(0, false, (f, timer, now) -> false);
        assertEquals(1, t.lastScanVisited(), "an empty table is one run");
        for (int i = 0; i < cap; i++) {
            Flow f = t.alloc();
            t.initiate(f, Pif.TAP, 0, i, 1, 0, 0, 2);
            t.target(f, Pif.HOST, 0, i, 1, 0, 0, 2);
            t.setType(f, FlowType.UDP);
            t.activate(f);
        }
        t.runDeferred(0, false, (f, timer, now) -> false);
        assertEquals(cap, t.lastScanVisited());
        // Keep every 64th flow: 64 active flows separating 64 runs of 63 free slots.
        t.runDeferred(0, false, (f, timer, now) -> f.index() % 64 != 0);
        assertEquals(64, t.count());
        int[] calls = {0};
        t.runDeferred(0, false, (f, timer, now) -> {
            calls[0]++;
            return false;
        });
        assertEquals(64, calls[0]);
        assertEquals(64 + 64, t.lastScanVisited());
        List<Flow> active = new ArrayList<>();
        t.forEachActive(active::add);
        assertEquals(64, active.size());
        assertNull(t.verify());

        // A cancelled allocation leaves a one-slot run that the next scan merges back.
        Flow f = t.alloc();
        assertEquals(1, f.index());
        t.cancel(f);
        t.runDeferred(0, false, (g, timer, now) -> false);
        assertEquals(129, t.lastScanVisited(), "the extra visit is the merge of the two runs");
        t.runDeferred(0, false, (g, timer, now) -> false);
        assertEquals(128, t.lastScanVisited());
        assertEquals(1, t.firstFree());
        assertNull(t.verify());
    }

    @Test
    void entriesAreCreatedLazily() {
        FlowTableImpl t = new FlowTableImpl(131071, () -> 0, 1, 2);
        assertEquals(1, t.createdEntries());
        for (int i = 0; i < 3; i++) {
            Flow f = t.alloc();
            t.initiate(f, Pif.TAP, 0, i, 1, 0, 0, 2);
            t.target(f, Pif.HOST, 0, i, 1, 0, 0, 2);
            t.setType(f, FlowType.TCP);
            t.activate(f);
        }
        // The three flows plus the head of the remaining run.
        assertEquals(4, t.createdEntries());
        t.runDeferred(0, false, (f, timer, now) -> true);
        assertEquals(4, t.createdEntries());
    }

    @Test
    void steadyStateDoesNotAllocate() {
        var mx = ManagementFactory.getThreadMXBean();
        if (!(mx instanceof com.sun.management.ThreadMXBean sun) || !sun.isThreadAllocatedMemorySupported())
            return;
        FlowTableImpl t = new FlowTableImpl(256, () -> 0, 1, 2);
        FlowTableImpl.DeferredHandler freeOdd = (f, timer, now) -> (f.index() & 1) == 1;
        Runnable cycle = () -> {
            for (int i = 0; i < 200; i++) {
                Flow f = t.alloc();
                if (f == null)
                    break;
                t.initiate(f, Pif.TAP, 0, i, 1000 + i, 0, 1, 80);
                t.target(f, Pif.HOST, 0, i, 80, 0, 2, 2000 + i);
                t.setType(f, FlowType.TCP);
                if (t.lookup(6, Pif.TAP, 0, i, 1000 + i, 0, 1, 80) < 0)
                    t.hashInsert(Flow.sidx(f.index(), Flow.INI));
                t.activate(f);
            }
            t.runDeferred(0, true, freeOdd);
        };
        for (int i = 0; i < 2000; i++)
            cycle.run();
        long tid = Thread.currentThread().getId();
        long before = sun.getThreadAllocatedBytes(tid);
        for (int i = 0; i < 200; i++)
            cycle.run();
        long allocated = sun.getThreadAllocatedBytes(tid) - before;
        assertTrue(allocated < 4096, "steady state allocated " + allocated + " bytes");
    }
}
