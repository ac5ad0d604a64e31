package io.penne.flow.impl;

import java.security.SecureRandom;
import java.util.function.Consumer;
import java.util.function.LongSupplier;

import io.penne.api.flow.Flow;
import io.penne.api.flow.FlowState;
import io.penne.api.flow.FlowStateException;
import io.penne.api.flow.FlowTable;
import io.penne.api.flow.FlowType;
import io.penne.api.flow.Pif;

/**
 * The flow table: a fixed number of slots, a chain of free clusters for
 * lowest-index allocation, a hash index, and the deferred scan.
 *
 * <p>Theory of operation. FREE slots form maximal or near-maximal runs
 * ("free clusters"); the head of each run knows its length and the next
 * run's head, and the chain runs in increasing index order starting at
 * {@link #firstFree} ({@code capacity} when the table is full). Allocation
 * takes the head of the first run, which is the lowest free index, in O(1).
 * Slots are freed only in two ways that keep the chain ordered: cancelling
 * the single flow being set up (it was the lowest free slot, so it becomes a
 * one-slot run in front of the chain), and the second pass of the deferred
 * scan, which walks the table in index order anyway and rebuilds the whole
 * chain, merging neighbouring runs. Both the scan and {@link #forEachActive}
 * jump over a run in one step, so they cost O(active flows + runs), not
 * O(capacity).
 *
 * <p>Because the lowest free slot is always taken, the slots ever used form
 * a prefix of the table; entries are created when first needed (the head of
 * a run must exist to carry its length) and then reused for the life of the
 * table, so an idle table of the default size costs only its slot and bucket
 * arrays.
 *
 * <p>At most one flow is being set up (NEW to TYPED) at a time, and never
 * across a return to the loop: {@link #alloc} refuses a second one and
 * {@link #runDeferred} refuses to run while one exists. Every state change is
 * made by {@link Flow}'s checked mutator; the preconditions passt asserts are
 * checked here too and reported as {@link FlowStateException}s, before
 * anything is modified.
 *
 * <p>A deferred handler that throws is counted ({@link #deferErrors}) and its
 * flow kept, so one faulty handler cannot leave the free chain half rebuilt.
 * Flows may not be allocated from inside the scan's callbacks.
 *
 * <p>Not thread-safe: the owning loop thread is the only user.
 */
public final class FlowTableImpl implements FlowTable {
    private final int capacity;
    private final FlowEntry[] slots;
    private final FlowHash hash;
    private final LongSupplier clock;
    private final int[] activeByType = new int[FlowType.values().length];

    private int firstFree;
    private FlowEntry pending;
    private int count;
    private long refusedFull;
    private long deferErrors;
    private RuntimeException lastDeferError;
    private boolean scanning;
    private int lastScanVisited;

    public FlowTableImpl(int capacity, LongSupplier clock) {
        this(capacity, clock, new SecureRandom());
    }

    private FlowTableImpl(int capacity, LongSupplier clock, SecureRandom rnd) {
        this(capacity, clock, rnd.nextLong(), rnd.nextLong());
    }

    /** With a fixed hash key, for tests that need reproducible bucket layouts. */
    public FlowTableImpl(int capacity, LongSupplier clock, long k0, long k1) {
        if (capacity < 1)
            throw new IllegalArgumentException("flow table capacity must be at least 1, not " + capacity);
        this.capacity = capacity;
        this.clock = clock;
        this.slots = new FlowEntry[capacity];
        this.hash = new FlowHash(slots, k0, k1);
        FlowEntry first = entry(0);
        first.freeN = capacity;
        first.freeNext = capacity;
        firstFree = 0;
    }

    private FlowEntry entry(int index) {
        FlowEntry f = slots[index];
        if (f == null)
            slots[index] = f = new FlowEntry(index);
        return f;
    }

    @Override
    public int capacity() {
        return capacity;
    }

    @Override
    public int count() {
        return count;
    }

    @Override
    public int count(FlowType type) {
        return type == null ? 0 : activeByType[type.ordinal()];
    }

    @Override
    public Flow get(int index) {
        return index < 0 || index >= capacity ? null : entry(index);
    }

    @Override
    public Flow alloc() {
        if (pending != null)
            throw new FlowStateException("flow " + pending.index() + " is still being set up (" + pending.state()
                + "); it must be activated or cancelled before another flow is allocated");
        if (scanning)
            throw new FlowStateException("flows cannot be allocated during the deferred scan");
        if (firstFree >= capacity) {
            refusedFull++;
            return null;
        }
        FlowEntry f = slots[firstFree];
        if (f.state() != FlowState.FREE || f.freeN < 1 || firstFree + f.freeN > capacity)
            throw new IllegalStateException("flow table corrupt: free chain head " + firstFree + " is " + f.state()
                + " with run length " + f.freeN);
        if (f.freeN > 1) {
            FlowEntry next = entry(firstFree + 1);
            next.freeN = f.freeN - 1;
            next.freeNext = f.freeNext;
            firstFree++;
        } else {
            firstFree = f.freeNext;
        }
        f.freeN = f.freeNext = 0;
        f.move(FlowState.NEW);
        f.created(clock.getAsLong());
        pending = f;
        count++;
        return f;
    }

    /** Checks that {@code f} is this table's flow under setup and may now move to {@code to}. */
    private FlowEntry setup(Flow f, FlowState to, String op) {
        FlowEntry e = own(f);
        FlowState.check(e.index(), e.state(), to);
        if (e != pending)
            throw new FlowStateException("flow " + e.index() + ": " + op + " on a flow that is not being set up");
        return e;
    }

    private FlowEntry own(Flow f) {
        if (f == null)
            throw new IllegalArgumentException("flow is null");
        int i = f.index();
        if (i < 0 || i >= capacity || slots[i] != f)
            throw new IllegalArgumentException(f + " does not belong to this flow table");
        return slots[i];
    }

    private static void checkPif(FlowEntry e, Pif pif, String op) {
        if (pif == null || pif == Pif.NONE)
            throw new FlowStateException("flow " + e.index() + ": " + op + " needs an interface, got " + pif);
    }

    private static void checkPorts(FlowEntry e, int ePort, int oPort) {
        if ((ePort & ~0xffff) != 0 || (oPort & ~0xffff) != 0)
            throw new IllegalArgumentException("flow " + e.index() + ": port out of range: " + ePort + ", " + oPort);
    }

    @Override
    public void initiate(Flow f, Pif pif, long eHi, long eLo, int ePort, long oHi, long oLo, int oPort) {
        FlowEntry e = setup(f, FlowState.INI, "initiate");
        checkPif(e, pif, "initiate");
        checkPorts(e, ePort, oPort);
        e.assignSide(Flow.INI, pif, eHi, eLo, ePort, oHi, oLo, oPort);
        e.move(FlowState.INI);
    }

    @Override
    public void target(Flow f, Pif pif, long eHi, long eLo, int ePort, long oHi, long oLo, int oPort) {
        FlowEntry e = setup(f, FlowState.TGT, "target");
        checkPif(e, pif, "target");
        checkPorts(e, ePort, oPort);
        if (e.pif(Flow.INI) == Pif.NONE || e.pif(Flow.TGT) != Pif.NONE)
            throw new FlowStateException("flow " + e.index() + ": target with interfaces " + e.pif(Flow.INI)
                + "/" + e.pif(Flow.TGT));
        e.assignSide(Flow.TGT, pif, eHi, eLo, ePort, oHi, oLo, oPort);
        e.move(FlowState.TGT);
    }

    @Override
    public void setType(Flow f, FlowType type) {
        FlowEntry e = setup(f, FlowState.TYPED, "setType");
        if (type == null || type == FlowType.NONE)
            throw new FlowStateException("flow " + e.index() + ": setType needs a type, got " + type);
        if (e.type() != FlowType.NONE)
            throw new FlowStateException("flow " + e.index() + ": already typed " + e.type());
        e.assignType(type);
        e.move(FlowState.TYPED);
    }

    @Override
    public void activate(Flow f) {
        FlowEntry e = setup(f, FlowState.ACTIVE, "activate");
        if (e.type() == FlowType.NONE || e.pif(Flow.INI) == Pif.NONE || e.pif(Flow.TGT) == Pif.NONE)
            throw new FlowStateException("flow " + e.index() + ": activate of an incomplete flow: type " + e.type()
                + ", interfaces " + e.pif(Flow.INI) + "/" + e.pif(Flow.TGT));
        e.move(FlowState.ACTIVE);
        activeByType[e.type().ordinal()]++;
        pending = null;
    }

    @Override
    public void cancel(Flow f) {
        FlowEntry e = own(f);
        FlowState.check(e.index(), e.state(), FlowState.FREE);
        if (e != pending)
            throw new FlowStateException("flow " + e.index() + ": cancel of a " + e.state()
                + " flow; only the flow being set up can be cancelled, active flows are freed by the deferred scan");
        if (firstFree <= e.index())
            throw new IllegalStateException("flow table corrupt: flow " + e.index()
                + " being cancelled is not below the first free slot " + firstFree);
        release(e);
        // The cancelled slot was the lowest free one when allocated, so a
        // one-slot run at the front keeps the chain ordered; the next scan
        // merges it with its neighbours.
        e.freeN = 1;
        e.freeNext = firstFree;
        firstFree = e.index();
        pending = null;
    }

    /** Common part of freeing: drop index entries, clear fields, move to FREE. */
    private void release(FlowEntry e) {
        for (int s = Flow.INI; s <= Flow.TGT; s++)
            if (e.hashed(s))
                hash.remove(Flow.sidx(e.index(), s));
        e.clear();
        e.move(FlowState.FREE);
        count--;
    }

    private FlowEntry sideEntry(int sidx) {
        int i = Flow.sidxFlow(sidx);
        if (sidx < 0 || i >= capacity)
            throw new IllegalArgumentException("side index " + sidx + " out of range for capacity " + capacity);
        return slots[i];
    }

    @Override
    public void hashInsert(int sidx) {
        FlowEntry e = sideEntry(sidx);
        int s = Flow.sidxSide(sidx);
        if (e == null || (e.state() != FlowState.TYPED && e.state() != FlowState.ACTIVE))
            throw new FlowStateException("flow " + Flow.sidxFlow(sidx) + ": hash insert in state "
                + (e == null ? FlowState.FREE : e.state()) + "; the flow must be TYPED or ACTIVE");
        if (e.pif(s) == Pif.NONE)
            throw new FlowStateException("flow " + e.index() + ": hash insert of side " + s + " without interface");
        if (e.hashed(s))
            throw new FlowStateException("flow " + e.index() + ": side " + s + " is already indexed");
        hash.insert(sidx);
    }

    @Override
    public void hashRemove(int sidx) {
        FlowEntry e = sideEntry(sidx);
        if (e != null && e.hashed(Flow.sidxSide(sidx)))
            hash.remove(sidx);
    }

    @Override
    public int lookup(int ipProtocol, Pif pif, long eHi, long eLo, int ePort, long oHi, long oLo, int oPort) {
        if (pif == null || pif == Pif.NONE)
            return -1;
        return hash.find(ipProtocol, pif, eHi, eLo, ePort, oHi, oLo, oPort);
    }

    @Override
    public void forEachActive(Consumer<Flow> action) {
        for (int i = 0; i < capacity; ) {
            FlowEntry f = slots[i];
            if (f.state() == FlowState.FREE) {
                i += runLength(f);
                continue;
            }
            if (f.state() == FlowState.ACTIVE)
                action.accept(f);
            i++;
        }
    }

    private static int runLength(FlowEntry head) {
        if (head.freeN < 1)
            throw new IllegalStateException("flow table corrupt: free slot " + head.index() + " is not a run head");
        return head.freeN;
    }

    @Override
    public void runDeferred(long now, boolean timer, DeferredHandler handler) {
        if (pending != null)
            throw new FlowStateException("flow " + pending.index() + " left in state " + pending.state()
                + " at the end of a loop cycle; flows must be activated or cancelled within one event");
        if (scanning)
            throw new FlowStateException("deferred scan re-entered from a deferred handler");
        scanning = true;
        try {
            askHandlers(now, timer, handler);
        } finally {
            scanning = false;
        }
        freeAndRebuild();
    }

    /**
     * First pass: only records verdicts, since freeing now would reshape the
     * free chain under the iteration.
     */
    private void askHandlers(long now, boolean timer, DeferredHandler handler) {
        for (int i = 0; i < capacity; ) {
            FlowEntry f = slots[i];
            if (f.state() == FlowState.FREE) {
                i += runLength(f);
                continue;
            }
            boolean done;
            try {
                done = handler.defer(f, timer, now);
            } catch (RuntimeException ex) {
                deferErrors++;
                lastDeferError = ex;
                done = false;
            }
            f.toFree = done;
            i++;
        }
    }

    /**
     * Second pass: frees the flows reported done and relinks every free run,
     * growing the current run while consecutive slots are free.
     */
    private void freeAndRebuild() {
        FlowEntry run = null;
        FlowEntry lastHead = null;
        int visited = 0;
        for (int i = 0; i < capacity; ) {
            FlowEntry f = slots[i];
            visited++;
            if (f.state() == FlowState.FREE) {
                int n = runLength(f);
                if (run != null) {
                    run.freeN += n;
                    f.freeN = f.freeNext = 0;
                } else {
                    run = f;
                    lastHead = link(lastHead, f);
                }
                i += n;
                continue;
            }
            if (f.state() != FlowState.ACTIVE)
                throw new IllegalStateException("flow table corrupt: flow " + i + " in state " + f.state()
                    + " during the deferred scan");
            if (f.toFree) {
                f.toFree = false;
                activeByType[f.type().ordinal()]--;
                release(f);
                if (run != null) {
                    run.freeN++;
                    f.freeN = f.freeNext = 0;
                } else {
                    run = f;
                    f.freeN = 1;
                    lastHead = link(lastHead, f);
                }
            } else {
                run = null;
            }
            i++;
        }
        if (lastHead == null)
            firstFree = capacity;
        else
            lastHead.freeNext = capacity;
        lastScanVisited = visited;
    }

    /** Appends {@code head} to the chain after {@code last} (or as its start). */
    private FlowEntry link(FlowEntry last, FlowEntry head) {
        if (last == null)
            firstFree = head.index();
        else
            last.freeNext = head.index();
        return head;
    }

    @Override
    public Flow pending() {
        return pending;
    }

    @Override
    public long refusedFull() {
        return refusedFull;
    }

    /** Deferred handler calls that threw; their flows were kept. */
    public long deferErrors() {
        return deferErrors;
    }

    /** The most recent exception thrown by a deferred handler, or null. */
    public RuntimeException lastDeferError() {
        return lastDeferError;
    }

    /** Slots examined by the second pass of the last scan: active flows plus free runs. */
    public int lastScanVisited() {
        return lastScanVisited;
    }

    /** Index of the first free slot, capacity if full; for tests and diagnostics. */
    public int firstFree() {
        return firstFree;
    }

    /** Number of indexed flow sides. */
    public int hashEntries() {
        return hash.entries();
    }

    /** Number of hash buckets. */
    public int hashSize() {
        return hash.size();
    }

    /**
     * Full self-check, O(capacity): the free chain is ordered, its runs
     * cover exactly the FREE slots, counters agree with the slots, and the
     * hash index is well formed. For tests.
     *
     * @return null if consistent, else a description of the first defect
     */
    String verify() {
        boolean[] inRun = new boolean[capacity];
        int prevEnd = -1;
        for (int h = firstFree; h != capacity; ) {
            if (h < 0 || h > capacity || h < prevEnd)
                return "free chain goes to " + h + " after a run ending at " + prevEnd;
            FlowEntry head = slots[h];
            if (head == null || head.state() != FlowState.FREE || head.freeN < 1 || h + head.freeN > capacity)
                return "bad run head " + h;
            for (int i = h; i < h + head.freeN; i++) {
                if (slots[i] != null && slots[i].state() != FlowState.FREE)
                    return "slot " + i + " inside the run at " + h + " is " + slots[i].state();
                inRun[i] = true;
            }
            prevEnd = h + head.freeN;
            h = head.freeNext;
        }
        int used = 0;
        int[] byType = new int[activeByType.length];
        for (int i = 0; i < capacity; i++) {
            FlowEntry f = slots[i];
            boolean free = f == null || f.state() == FlowState.FREE;
            if (free != inRun[i])
                return "slot " + i + (free ? " is FREE but in no run" : " is in use but inside a run");
            if (!free) {
                used++;
                if (f.state() == FlowState.ACTIVE)
                    byType[f.type().ordinal()]++;
            } else if (f != null && (f.hashed(0) || f.hashed(1)))
                return "free slot " + i + " still indexed";
        }
        if (used != count)
            return "count " + count + " but " + used + " slots in use";
        if (!java.util.Arrays.equals(byType, activeByType))
            return "per-type counts " + java.util.Arrays.toString(activeByType) + " but slots say "
                + java.util.Arrays.toString(byType);
        return hash.verify();
    }

    /** Entries created so far (lazily); for memory tests. */
    public int createdEntries() {
        int n = 0;
        for (FlowEntry f : slots)
            if (f != null)
                n++;
        return n;
    }
}
