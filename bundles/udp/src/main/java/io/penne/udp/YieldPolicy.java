package io.penne.udp;

/**
 * Whether the loop yields its CPU after a hand-off to the guest
 * ({@link UdpHandler#HANDOFF_BYTES}), judged by how long its recent yields
 * took.
 *
 * <p><b>Theory of operation.</b> A yield is meant for the guest's reader,
 * which the hand-off has just woken: it drains its socket and gives the CPU
 * back within microseconds. A thread that only computes keeps the CPU for a
 * whole time slice, milliseconds, and yielding to it costs the loop its
 * throughput. So every yield is timed, and a moving average keeps the share
 * of long ones ({@link #LONG_NS}, over about {@link #WINDOW} yields). Two
 * states:
 * <ul>
 * <li><i>Yielding</i> (share at most {@link #HOLD_BACK_SHARE}): every
 * hand-off yields.</li>
 * <li><i>Held back</i> (share above): one hand-off in {@link #TRIAL_EVERY}
 * yields as a trial; {@link #SHORT_TRIALS} short trials in a row mean the
 * CPU is shared with readers again, and the record starts afresh.</li>
 * </ul>
 * A long yield now and then (the JIT compiler, another process's moment)
 * does not hold the loop back; a CPU shared with a busy computation does,
 * and then costs one trial in {@link #TRIAL_EVERY} hand-offs. One instance
 * per loop; not thread-safe.
 */
final class YieldPolicy {
    /**
     * A yield this long most likely went to a thread that computes rather
     * than to a reader. Measured host to namespace at 64 KiB and 1472 bytes
     * ({@code iperf3 -u -b 0 -R}): without other load 0.6-1.5% of yields took
     * 1 ms or more (most of those 2 ms or more) and 98-99% less than 500 us;
     * with two busy loops on the machine's two CPUs 36-39% took 2 ms or more.
     */
    static final long LONG_NS = 1_000_000;
    static final int WINDOW = 64;
    static final double HOLD_BACK_SHARE = 0.1;
    static final int TRIAL_EVERY = 256;
    static final int SHORT_TRIALS = 4;

    private double longShare;
    private int untilTrial;
    private int shortTrials;

    /** Whether this hand-off yields; if so, {@link #yielded} must follow with how long the yield took. */
    boolean shouldYield() {
        if (!heldBack())
            return true;
        if (--untilTrial > 0)
            return false;
        untilTrial = TRIAL_EVERY;
        return true;
    }

    /** Records a yield of {@code nanos}; returns whether it was long. */
    boolean yielded(long nanos) {
        boolean trial = heldBack();
        boolean isLong = nanos >= LONG_NS;
        longShare += ((isLong ? 1 : 0) - longShare) / WINDOW;
        if (trial) {
            shortTrials = isLong ? 0 : shortTrials + 1;
            if (shortTrials == SHORT_TRIALS) {
                longShare = 0;
                shortTrials = 0;
            }
        }
        return isLong;
    }

    boolean heldBack() {
        return longShare > HOLD_BACK_SHARE;
    }
}
