package io.penne.flow.impl;

import io.penne.api.flow.Flow;
import io.penne.api.flow.FlowState;
import io.penne.api.flow.FlowType;
import io.penne.api.flow.Pif;

/**
 * A flow table slot as the table sees it: the public {@link Flow} plus the
 * bookkeeping only the table may touch.
 *
 * <p>Theory of operation. An entry is created the first time its slot is
 * needed and then lives as long as the table, so indexes stay stable and a
 * reused slot costs no allocation. While the slot is FREE and heads a run of
 * free slots ("free cluster"), {@link #freeN} is the length of that run and
 * {@link #freeNext} the index of the next cluster's head (capacity if none);
 * every other FREE slot keeps both at 0. {@link #home} records, per side, the
 * hash bucket the side was hashed to, or -1 while the side is not indexed: it
 * doubles as the "hashed" flag, lets the table drop hash entries when a flow is
 * freed, and spares the hash index from recomputing keyed hashes while
 * shifting entries on removal. {@link #toFree} carries the deferred
 * handler's verdict from the first pass of the scan to the second.
 *
 * <p>The wrappers exist because the mutators of {@link Flow} are protected
 * and so unreachable from the table class itself.
 */
final class FlowEntry extends Flow {
    int freeN;
    int freeNext;
    final int[] home = {-1, -1};
    boolean toFree;

    FlowEntry(int index) {
        super(index);
    }

    void move(FlowState to) {
        moveTo(to);
    }

    void created(long nanos) {
        setCreated(nanos);
    }

    void assignType(FlowType t) {
        setType(t);
    }

    void assignSide(int s, Pif p, long eHi, long eLo, int ePort, long oHi, long oLo, int oPort) {
        setSide(s, p, eHi, eLo, ePort, oHi, oLo, oPort);
    }

    void clear() {
        clearCommon();
    }

    boolean hashed(int s) {
        return home[s] >= 0;
    }
}
