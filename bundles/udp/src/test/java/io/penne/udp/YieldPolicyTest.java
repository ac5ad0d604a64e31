package io.penne.udp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class YieldPolicyTest {
    private static final long SHORT = 20_000, LONG = 3_000_000;

    /** Runs {@code handOffs} hand-offs whose yields take {@code nanos}; returns how many yielded. */
    private static int run(YieldPolicy p, int handOffs, long nanos) {
        int yields = 0;
        for (int i = 0; i < handOffs; i++) {
            if (p.shouldYield()) {
                yields++;
                p.yielded(nanos);
            }
        }
        return yields;
    }

    @Test
    void shortYieldsKeepEveryHandOffYielding() {
        YieldPolicy p = new YieldPolicy();
        assertEquals(10_000, run(p, 10_000, SHORT));
        assertFalse(p.heldBack());
    }

    @Test
    void anOccasionalLongYieldDoesNotHoldTheLoopBack() {
        YieldPolicy p = new YieldPolicy();
        // One in 30 long (the JIT, a moment of another process): 3%, well under the share.
        for (int i = 0; i < 3_000; i++) {
            assertTrue(p.shouldYield(), "hand-off " + i);
            p.yielded(i % 30 == 0 ? LONG : SHORT);
        }
        assertFalse(p.heldBack());
    }

    @Test
    void manyLongYieldsHoldTheLoopBackToOneTrialInTrialEvery() {
        YieldPolicy p = new YieldPolicy();
        int before = run(p, 20, LONG);
        assertTrue(p.heldBack(), "20 long yields in a row");
        assertTrue(before < 20, "held back within the run: " + before);
        // A CPU shared with a computation: the trials are long too, so it stays held back.
        int yields = run(p, 100 * YieldPolicy.TRIAL_EVERY, LONG);
        assertEquals(100, yields);
        assertTrue(p.heldBack());
    }

    @Test
    void shortTrialsInARowStartAfresh() {
        YieldPolicy p = new YieldPolicy();
        run(p, 20, LONG);
        assertTrue(p.heldBack());
        // Three short trials, then a long one: the count of short ones starts again.
        run(p, 3 * YieldPolicy.TRIAL_EVERY, SHORT);
        assertTrue(p.heldBack(), "three short trials are not enough");
        run(p, YieldPolicy.TRIAL_EVERY, LONG);
        run(p, (YieldPolicy.SHORT_TRIALS - 1) * YieldPolicy.TRIAL_EVERY, SHORT);
        assertTrue(p.heldBack(), "the long trial broke the run");
        run(p, YieldPolicy.TRIAL_EVERY, SHORT);
        assertFalse(p.heldBack(), YieldPolicy.SHORT_TRIALS + " short trials in a row");
        assertEquals(1_000, run(p, 1_000, SHORT), "every hand-off yields again");
    }

    @Test
    void theBoundaryIsLongNs() {
        YieldPolicy p = new YieldPolicy();
        assertFalse(p.yielded(YieldPolicy.LONG_NS - 1));
        assertTrue(p.yielded(YieldPolicy.LONG_NS));
    }
}
