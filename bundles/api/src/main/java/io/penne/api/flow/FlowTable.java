package io.penne.api.flow;

import java.util.function.Consumer;

/**
 * The flow table of one instance: a fixed-capacity array of {@link Flow}
 * entries with a hash index from (protocol, interface, addresses, ports) to
 * a flow side. Used only on the instance's loop thread.
 *
 * <p>A flow is built within the handling of one event:
 * {@link #alloc} (NEW), {@link #initiate} (INI), {@link #target} (TGT),
 * {@link #setType} (TYPED), {@link #activate} (ACTIVE), or {@link #cancel}
 * at any point before ACTIVE. An active flow is freed only by the deferred
 * scan, when its handler's deferred or timer call says it is done.
 */
public interface FlowTable {

    /** Maximum number of flows. */
    int capacity();

    /** Number of entries that are not FREE. */
    int count();

    /** Number of ACTIVE flows of a type. */
    int count(FlowType type);

    /** The entry at {@code index} whatever its state, or null if out of range. */
    Flow get(int index);

    /**
     * Takes the lowest free entry and moves it to NEW.
     *
     * @return the entry, or null if the table is full (counted, not thrown)
     * @throws FlowStateException if another flow is still being set up
     */
    Flow alloc();

    /** NEW to INI: records the initiating side. */
    void initiate(Flow f, Pif pif, long eHi, long eLo, int ePort, long oHi, long oLo, int oPort);

    /** INI to TGT: records the target side. */
    void target(Flow f, Pif pif, long eHi, long eLo, int ePort, long oHi, long oLo, int oPort);

    /** TGT to TYPED. */
    void setType(Flow f, FlowType type);

    /** TYPED to ACTIVE: the flow is complete and visible to the deferred scan. */
    void activate(Flow f);

    /** NEW, INI, TGT or TYPED back to FREE; removes any hash entries of the flow. */
    void cancel(Flow f);

    /** Indexes one side of a flow under its protocol, interface, addresses and ports. */
    void hashInsert(int sidx);

    /** Removes one side of a flow from the index (no-op if absent). */
    void hashRemove(int sidx);

    /**
     * Finds the flow side with these keys.
     *
     * @return the side index ({@link Flow#sidx}), or -1 if there is none
     */
    int lookup(int ipProtocol, Pif pif, long eHi, long eLo, int ePort, long oHi, long oLo, int oPort);

    /** Calls {@code action} for every ACTIVE flow, in index order. */
    void forEachActive(Consumer<Flow> action);

    /**
     * The deferred scan, run by the loop once per cycle: calls
     * {@code handler} for every ACTIVE flow, then frees those it reported done
     * and rebuilds the free clusters. {@code timer} is true once per timer
     * interval, when handlers also get their periodic call.
     */
    void runDeferred(long now, boolean timer, DeferredHandler handler);

    /**
     * The flow allocated but neither activated nor cancelled yet (NEW, INI,
     * TGT or TYPED), or null. The instance checks this after each event, so a
     * handler that fails half-way through setting up a flow cannot block the
     * table.
     */
    Flow pending();

    /** Number of allocations refused because the table was full. */
    long refusedFull();

    /** The per-flow deferred and timer calls, as made by {@link #runDeferred}. */
    @FunctionalInterface
    interface DeferredHandler {
        /** @return true if the flow is finished and its entry may be freed */
        boolean defer(Flow flow, boolean timer, long now);
    }
}
