package io.penne.tcp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class TcpTimeoutsTest {
    private static final long S = TimeUnit.SECONDS.toNanos(1);
    /** The kernel's defaults: tcp_syn_retries 6, tcp_syn_linear_timeouts 4, tcp_rto_max_ms 120000. */
    private final TcpTimeouts t = new TcpTimeouts(6, 4, 120 * S, 30 * S, 7200 * S);

    @Test
    void handshakeTimeoutsAreLinearFirstThenDouble() {
        long[] expected = {1, 1, 1, 1, 1, 2, 4};
        for (int r = 0; r < expected.length; r++)
            assertEquals(expected[r] * S, t.rto(r, false, false), "retry " + r);
        assertEquals(7, t.maxRetries(false), "min(7, syn_retries + linear timeouts)");
        assertEquals(3, new TcpTimeouts(1, 2, 120 * S, S, S).maxRetries(false));
    }

    @Test
    void dataTimeoutsDoubleFromOneSecondUpToTheMaximum() {
        for (int r = 0; r <= 6; r++)
            assertEquals((1L << r) * S, t.rto(r, true, false), "retry " + r);
        assertEquals(120 * S, t.rto(7, true, false), "capped by tcp_rto_max_ms");
        assertEquals(120 * S, t.rto(100, true, false), "no overflow");
        assertEquals(7, t.maxRetries(true));
        long total = 0;
        for (int r = 0; r <= t.maxRetries(true); r++)
            total += t.rto(r, true, false);
        assertTrue(total >= 127 * S && total <= 300 * S, "an unresponsive guest is given up on in minutes: " + total);
    }

    @Test
    void afterSynRetriesDataTimeoutsStartAtThreeSeconds() {
        assertEquals(3 * S, t.rto(0, true, true));
        assertEquals(6 * S, t.rto(1, true, true));
    }

    @Test
    void intervalsComeFromPropertiesAndBadValuesAreRefusedByName() {
        assertEquals(30, TcpTimeouts.seconds(Map.of(), TcpTimeouts.KEEPALIVE_PROPERTY, 30));
        assertEquals(5, TcpTimeouts.seconds(Map.of(TcpTimeouts.KEEPALIVE_PROPERTY, " 5 "), TcpTimeouts.KEEPALIVE_PROPERTY, 30));
        for (String bad : new String[] {"0", "-1", "x", "", "1.5"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TcpTimeouts.seconds(
                Map.of(TcpTimeouts.INACTIVITY_PROPERTY, bad), TcpTimeouts.INACTIVITY_PROPERTY, 7200));
            assertTrue(e.getMessage().contains(TcpTimeouts.INACTIVITY_PROPERTY), e.getMessage());
        }
        TcpTimeouts fromHost = TcpTimeouts.of(Map.of(TcpTimeouts.INACTIVITY_PROPERTY, "9"));
        assertEquals(9 * S, fromHost.inactivity);
        assertEquals(30 * S, fromHost.keepalive);
        assertTrue(fromHost.rtoMax >= S);
    }
}
