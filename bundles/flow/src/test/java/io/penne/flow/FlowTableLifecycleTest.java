package io.penne.flow;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import io.penne.api.flow.Flow;
import io.penne.api.flow.FlowState;
import io.penne.api.flow.FlowStateException;
import io.penne.api.flow.FlowTable;
import io.penne.api.flow.FlowType;
import io.penne.api.flow.InetAddr;
import io.penne.api.flow.Pif;
import io.penne.flow.impl.FlowTableImpl;

class FlowTableLifecycleTest {
    private static final long GUEST = InetAddr.v4Lo(0x0a000002);
    private static final long GW = InetAddr.v4Lo(0x0a000001);
    private static final long HOST = InetAddr.v4Lo(0xc0a80001);
    private static final FlowTable.DeferredHandler KEEP = (f, timer, now) -> false;
    private static final FlowTable.DeferredHandler FREE_ALL = (f, timer, now) -> true;

    private final AtomicLong clock = new AtomicLong(1000);
    private final FlowTable t = FlowTables.create(16, clock::get);

    private void initiate(Flow f, int port) {
        t.initiate(f, Pif.TAP, 0, GUEST, port, 0, GW, 80);
    }

    private void target(Flow f, int port) {
        t.target(f, Pif.HOST, 0, HOST, 80, 0, 0, port);
    }

    /** A fresh flow driven from NEW to {@code s}; FREE gives a slot freed by the scan. */
    private Flow driveTo(FlowState s) {
        Flow f = t.alloc();
        assertNotNull(f);
        int port = 1000 + f.index();
        if (s == FlowState.FREE) {
            t.cancel(f);
            return f;
        }
        if (s.ordinal() >= FlowState.INI.ordinal())
            initiate(f, port);
        if (s.ordinal() >= FlowState.TGT.ordinal())
            target(f, port);
        if (s.ordinal() >= FlowState.TYPED.ordinal())
            t.setType(f, FlowType.TCP);
        if (s == FlowState.ACTIVE)
            t.activate(f);
        assertEquals(s, f.state());
        return f;
    }

    /** Attempts, on {@code f}, the operation whose effect is moving to {@code to}. */
    private void attempt(Flow f, FlowState to) {
        switch (to) {
            case NEW -> {
                Flow g = t.alloc();
                // alloc never hands out a slot that is in use; if nothing was
                // pending it took another slot, which we give back.
                assertFalse(f == g, "alloc returned a flow already in use");
                t.cancel(g);
                throw new FlowStateException("alloc did not touch " + f);
            }
            case INI -> initiate(f, 1);
            case TGT -> target(f, 1);
            case TYPED -> t.setType(f, FlowType.UDP);
            case ACTIVE -> t.activate(f);
            case FREE -> t.cancel(f);
        }
    }

    @Test
    void everyIllegalTransitionIsRefused() {
        int checked = 0;
        for (FlowState from : FlowState.values()) {
            for (FlowState to : FlowState.values()) {
                if (from.canMoveTo(to))
                    continue;
                Flow f = driveTo(from);
                int count = t.count();
                FlowStateException e = assertThrows(FlowStateException.class, () -> attempt(f, to), from + " -> " + to);
                assertNotNull(e.getMessage());
                assertEquals(from, f.state(), "state changed by refused " + from + " -> " + to);
                assertEquals(count, t.count());
                if (from.pending())
                    t.cancel(f);
                t.runDeferred(0, false, FREE_ALL);
                assertEquals(0, t.count());
                assertEquals(0, t.alloc().index(), "table not back to empty after " + from + " -> " + to);
                t.cancel(t.get(0));
                checked++;
            }
        }
        // 36 pairs minus 5 forward moves and 5 moves to FREE.
        assertEquals(26, checked);
    }

    @Test
    void illegalTransitionMessageNamesFlowAndStates() {
        Flow f = driveTo(FlowState.NEW);
        FlowStateException e = assertThrows(FlowStateException.class, () -> t.activate(f));
        assertTrue(e.getMessage().contains("flow " + f.index()), e.getMessage());
        assertTrue(e.getMessage().contains("NEW -> ACTIVE"), e.getMessage());
    }

    @Test
    void wrongStateOperationsAreRefused() {
        Flow a = driveTo(FlowState.ACTIVE);
        assertThrows(FlowStateException.class, () -> t.cancel(a), "cancel of ACTIVE");
        assertEquals(FlowState.ACTIVE, a.state());

        Flow f = t.alloc();
        assertThrows(FlowStateException.class, () -> t.activate(f), "activate on NEW");
        assertThrows(FlowStateException.class, () -> target(f, 1), "target before initiate");
        assertThrows(FlowStateException.class, () -> t.setType(f, FlowType.TCP), "setType before target");
        assertThrows(FlowStateException.class, t::alloc, "alloc while pending");
        assertThrows(FlowStateException.class, () -> t.runDeferred(0, false, KEEP), "scan while pending");
        assertThrows(FlowStateException.class, () -> t.initiate(f, Pif.NONE, 0, GUEST, 1, 0, GW, 2), "pif NONE");
        assertThrows(FlowStateException.class, () -> t.initiate(f, null, 0, GUEST, 1, 0, GW, 2), "pif null");
        assertThrows(IllegalArgumentException.class, () -> t.initiate(f, Pif.TAP, 0, GUEST, 70000, 0, GW, 2));
        assertEquals(FlowState.NEW, f.state());
        initiate(f, 5);
        assertThrows(FlowStateException.class, () -> t.target(f, Pif.NONE, 0, HOST, 1, 0, 0, 2));
        assertThrows(FlowStateException.class, () -> t.hashInsert(Flow.sidx(f.index(), Flow.INI)), "hash before typed");
        target(f, 5);
        assertThrows(FlowStateException.class, () -> t.setType(f, FlowType.NONE));
        assertThrows(FlowStateException.class, () -> t.setType(f, null));
        assertEquals(FlowState.TGT, f.state());
        t.setType(f, FlowType.UDP);
        t.activate(f);

        // Operations on flows of another table are refused.
        FlowTable other = FlowTables.create(4);
        Flow foreign = other.alloc();
        assertThrows(IllegalArgumentException.class, () -> t.cancel(foreign));
        assertThrows(IllegalArgumentException.class, () -> t.initiate(foreign, Pif.TAP, 0, GUEST, 1, 0, GW, 2));
        assertThrows(IllegalArgumentException.class, () -> t.hashInsert(-1));
        assertThrows(IllegalArgumentException.class, () -> t.hashRemove(Flow.sidx(16, 0)));
        assertThrows(FlowStateException.class, () -> t.hashInsert(Flow.sidx(15, 0)), "hash of a free slot");
        assertEquals(2, t.count());
    }

    @Test
    void fullLifecycle() {
        clock.set(4242);
        Flow f = t.alloc();
        assertEquals(0, f.index());
        assertEquals(FlowState.NEW, f.state());
        assertEquals(4242, f.createdNanos());
        assertEquals(1, t.count());
        initiate(f, 4000);
        assertEquals(Pif.TAP, f.pif(Flow.INI));
        assertEquals(4000, f.side(Flow.INI).eport());
        assertEquals("10.0.0.2:4000 -> 10.0.0.1:80", f.side(Flow.INI).format());
        target(f, 5000);
        assertEquals(Pif.HOST, f.pif(Flow.TGT));
        t.setType(f, FlowType.TCP);
        assertEquals(0, t.count(FlowType.TCP), "TYPED flows are not counted as active");
        t.hashInsert(Flow.sidx(0, Flow.INI));
        t.hashInsert(Flow.sidx(0, Flow.TGT));
        t.activate(f);
        assertEquals(FlowState.ACTIVE, f.state());
        assertEquals(1, t.count(FlowType.TCP));
        assertEquals(0, t.count(FlowType.UDP));
        assertEquals(0, t.count(FlowType.NONE));
        assertEquals(Flow.sidx(0, Flow.INI), t.lookup(6, Pif.TAP, 0, GUEST, 4000, 0, GW, 80));
        assertEquals(Flow.sidx(0, Flow.TGT), t.lookup(6, Pif.HOST, 0, HOST, 80, 0, 0, 5000));
        assertEquals(-1, t.lookup(17, Pif.TAP, 0, GUEST, 4000, 0, GW, 80), "other protocol");
        assertEquals(-1, t.lookup(6, Pif.SPLICE, 0, GUEST, 4000, 0, GW, 80), "other pif");

        List<Flow> seen = new ArrayList<>();
        t.runDeferred(7, true, (fl, timer, now) -> {
            assertTrue(timer);
            assertEquals(7, now);
            seen.add(fl);
            return false;
        });
        assertEquals(List.of(f), seen);
        assertEquals(FlowState.ACTIVE, f.state());

        t.runDeferred(8, false, FREE_ALL);
        assertEquals(FlowState.FREE, f.state());
        assertEquals(FlowType.NONE, f.type());
        assertEquals(Pif.NONE, f.pif(Flow.INI));
        assertEquals(0, f.createdNanos());
        assertEquals(0, t.count());
        assertEquals(0, t.count(FlowType.TCP));
        assertEquals(-1, t.lookup(6, Pif.TAP, 0, GUEST, 4000, 0, GW, 80), "freed flow left in the index");
        assertEquals(-1, t.lookup(6, Pif.HOST, 0, HOST, 80, 0, 0, 5000));
        assertSame(f, t.alloc(), "the slot is reused, entry and all");
    }

    @ParameterizedTest
    @EnumSource(value = FlowState.class, names = {"NEW", "INI", "TGT", "TYPED"})
    void cancelReturnsSlotAndLowestIndexIsReused(FlowState s) {
        Flow a = driveTo(FlowState.ACTIVE);
        Flow b = driveTo(FlowState.ACTIVE);
        Flow c = driveTo(FlowState.ACTIVE);
        t.runDeferred(0, false, (f, timer, now) -> f == b);
        assertEquals(FlowState.FREE, b.state());

        Flow f = driveTo(s);
        assertEquals(1, f.index(), "lowest free index");
        if (s == FlowState.TYPED) {
            t.hashInsert(Flow.sidx(1, Flow.INI));
            t.hashInsert(Flow.sidx(1, Flow.TGT));
        }
        t.cancel(f);
        assertEquals(FlowState.FREE, f.state());
        assertEquals(FlowType.NONE, f.type());
        assertEquals(Pif.NONE, f.pif(Flow.INI));
        assertEquals(2, t.count());
        assertEquals(-1, t.lookup(6, Pif.TAP, 0, GUEST, 1001, 0, GW, 80), "cancel left a hash entry");
        assertEquals(0, ((FlowTableImpl) t).hashEntries());

        Flow g = t.alloc();
        assertSame(f, g);
        t.cancel(g);
        Flow h = driveTo(FlowState.ACTIVE);
        assertEquals(1, h.index());
        assertEquals(3, driveTo(FlowState.ACTIVE).index());
        t.runDeferred(0, false, KEEP);
        assertEquals(List.of(a, h, c, t.get(3)), active());
    }

    private List<Flow> active() {
        List<Flow> out = new ArrayList<>();
        t.forEachActive(out::add);
        return out;
    }

    @Test
    void fullTableRefusesAndCounts() {
        FlowTable small = FlowTables.create(5);
        for (int i = 0; i < 5; i++) {
            Flow f = small.alloc();
            assertEquals(i, f.index());
            small.initiate(f, Pif.TAP, 0, GUEST, i, 0, GW, 80);
            small.target(f, Pif.HOST, 0, HOST, 80, 0, 0, i);
            small.setType(f, FlowType.UDP);
            small.activate(f);
        }
        assertEquals(5, small.count());
        assertNull(small.alloc());
        assertEquals(1, small.refusedFull());
        assertNull(small.alloc());
        assertEquals(2, small.refusedFull());
        small.runDeferred(0, false, (f, timer, now) -> f.index() == 3);
        assertEquals(3, small.alloc().index());
        assertEquals(2, small.refusedFull());
    }

    @Test
    void capacityOne() {
        FlowTable one = FlowTables.create(1);
        Flow f = one.alloc();
        assertNull(one.get(1));
        one.cancel(f);
        assertSame(f, one.alloc());
        one.initiate(f, Pif.TAP, 0, GUEST, 1, 0, GW, 2);
        one.target(f, Pif.HOST, 0, HOST, 1, 0, 0, 2);
        one.setType(f, FlowType.PING4);
        one.hashInsert(0);
        one.hashInsert(1);
        one.activate(f);
        assertNull(one.alloc());
        assertEquals(1, one.count(FlowType.PING4));
        one.runDeferred(0, false, FREE_ALL);
        assertEquals(-1, one.lookup(1, Pif.TAP, 0, GUEST, 1, 0, GW, 2));
        assertSame(f, one.alloc());
    }

    @Test
    void factoryValidatesCapacity() {
        for (int bad : new int[] {0, -1, FlowTables.MAX_CAPACITY + 1, Integer.MAX_VALUE, Integer.MIN_VALUE}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> FlowTables.create(bad));
            assertTrue(e.getMessage().contains(String.valueOf(bad)), e.getMessage());
        }
        assertEquals(1, FlowTables.create(1).capacity());
        assertEquals(131071, FlowTables.DEFAULT_CAPACITY);
        assertEquals(FlowTables.DEFAULT_CAPACITY, FlowTables.create(FlowTables.DEFAULT_CAPACITY).capacity());
    }

    @Test
    void getBoundsAndNeverUsedSlots() {
        assertNull(t.get(-1));
        assertNull(t.get(16));
        Flow never = t.get(15);
        assertEquals(15, never.index());
        assertEquals(FlowState.FREE, never.state());
        assertSame(never, t.get(15));
        assertEquals(0, t.alloc().index(), "peeking at a slot does not disturb allocation");
    }

    @Test
    void throwingHandlerKeepsFlowAndTableConsistent() {
        Flow a = driveTo(FlowState.ACTIVE);
        Flow b = driveTo(FlowState.ACTIVE);
        Flow c = driveTo(FlowState.ACTIVE);
        RuntimeException boom = new RuntimeException("boom");
        t.runDeferred(0, false, (f, timer, now) -> {
            if (f == b)
                throw boom;
            return true;
        });
        FlowTableImpl impl = (FlowTableImpl) t;
        assertEquals(1, impl.deferErrors());
        assertSame(boom, impl.lastDeferError());
        assertEquals(FlowState.FREE, a.state());
        assertEquals(FlowState.ACTIVE, b.state());
        assertEquals(FlowState.FREE, c.state());
        assertEquals(1, t.count());
        assertEquals(0, t.alloc().index());
        t.cancel(a);
    }

    @Test
    void handlerMayNotAllocateOrReenter() {
        driveTo(FlowState.ACTIVE);
        List<RuntimeException> errors = new ArrayList<>();
        Consumer<Runnable> capture = r -> {
            try {
                r.run();
            } catch (RuntimeException e) {
                errors.add(e);
            }
        };
        t.runDeferred(0, false, (f, timer, now) -> {
            capture.accept(t::alloc);
            capture.accept(() -> t.runDeferred(0, false, KEEP));
            return false;
        });
        assertEquals(2, errors.size());
        assertTrue(errors.stream().allMatch(e -> e instanceof FlowStateException));
        assertEquals(1, t.count());
        assertEquals(1, t.alloc().index());
    }

    @Test
    void forEachActiveSkipsPendingAndFree() {
        Flow a = driveTo(FlowState.ACTIVE);
        Flow b = driveTo(FlowState.ACTIVE);
        t.runDeferred(0, false, (f, timer, now) -> f == a);
        Flow p = driveTo(FlowState.TYPED);
        assertEquals(0, p.index());
        assertEquals(List.of(b), active());
        t.activate(p);
        assertEquals(List.of(p, b), active());
    }

    @Test
    void perTypeCounts() {
        Set<FlowType> types = Set.of(FlowType.TCP, FlowType.UDP, FlowType.PING6);
        for (FlowType type : types) {
            for (int i = 0; i < 3; i++) {
                Flow f = t.alloc();
                initiate(f, f.index());
                target(f, f.index());
                t.setType(f, type);
                t.activate(f);
            }
        }
        for (FlowType type : FlowType.values())
            assertEquals(types.contains(type) ? 3 : 0, t.count(type), type.name());
        t.runDeferred(0, false, (f, timer, now) -> f.type() == FlowType.UDP && f.index() % 2 == 0);
        assertNotEquals(3, t.count(FlowType.UDP));
        int udp = 0;
        for (int i = 0; i < 16; i++)
            if (t.get(i).state() == FlowState.ACTIVE && t.get(i).type() == FlowType.UDP)
                udp++;
        assertEquals(udp, t.count(FlowType.UDP));
        assertEquals(3, t.count(FlowType.TCP));
        assertEquals(6 + udp, t.count());
    }
}
