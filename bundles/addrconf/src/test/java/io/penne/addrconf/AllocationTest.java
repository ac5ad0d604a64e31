package io.penne.addrconf;

import static io.penne.addrconf.Frames.OUR_MAC;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.util.function.LongSupplier;
import org.junit.jupiter.api.Test;

/** The responders must not allocate: 100k replies each stay under 64 KiB (JIT and measuring noise). */
class AllocationTest {
    static final int N = 100_000;
    static final long LIMIT = 64 * 1024;

    /**
     * Runs {@code work} twice on this thread, the first time to let the JIT
     * compile it (compilation allocates too), and returns what the second run
     * returned and the bytes it allocated; the test is skipped where the JVM
     * cannot count a thread's allocations.
     */
    static long[] measure(LongSupplier work) {
        java.lang.management.ThreadMXBean std = ManagementFactory.getThreadMXBean();
        assumeTrue(std instanceof com.sun.management.ThreadMXBean, "no per-thread allocation counter");
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) std;
        assumeTrue(mx.isThreadAllocatedMemorySupported());
        mx.setThreadAllocatedMemoryEnabled(true);
        work.getAsLong();
        long before = mx.getCurrentThreadAllocatedBytes();
        long result = work.getAsLong();
        return new long[] {result, mx.getCurrentThreadAllocatedBytes() - before};
    }

    @Test
    void repliesDoNotAllocate() {
        ByteBuffer arpIn = Frames.at(Frames.arpRequest("0a00020f", "0a000202"), 0, 64);
        ByteBuffer ndpIn = Frames.at(Frames.icmp6(NdpResponderTest.GUEST_LL, NdpResponderTest.SOLICITED_NODE, 255,
            NdpResponderTest.ns(NdpResponderTest.TARGET, NdpResponderTest.SLLAO)), 0, 128);
        ByteBuffer out = ByteBuffer.allocateDirect(128);
        long[] m = measure(() -> run(arpIn, ndpIn, out, N));
        assertEquals((long) N * (42 + 86), m[0]);
        assertTrue(m[1] < LIMIT, m[1] + " bytes allocated for " + N + " ARP and " + N + " NDP replies");
    }

    private static long run(ByteBuffer arpIn, ByteBuffer ndpIn, ByteBuffer out, int n) {
        long total = 0;
        for (int i = 0; i < n; i++) {
            total += ArpResponder.reply(arpIn, 0, 14, 42, out, 0, 42, OUR_MAC, 0x0a00020fL);
            total += NdpResponder.reply(ndpIn, 0, 14, 54, 32, out, 0, 86, OUR_MAC, 0, 0, 0, 0);
        }
        return total;
    }
}
