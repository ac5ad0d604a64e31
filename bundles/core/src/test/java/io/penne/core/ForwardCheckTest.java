package io.penne.core;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The open-files check: forwards that cannot all get a listening socket are refused up front. */
class ForwardCheckTest {
    private static Map<String, Object> props(String tcp, String udp) {
        Map<String, Object> p = new HashMap<>();
        p.put("guest.address4", "192.0.2.2");
        p.put("guest.address6", "2001:db8::2");
        if (tcp != null)
            p.put("tcp.forward", tcp);
        if (udp != null)
            p.put("udp.forward", udp);
        return p;
    }

    @Test
    void exclusionsOnlyNeedMoreSocketsThanALowLimitAllows() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
            () -> ForwardCheck.checkDescriptors(props("~22", null), 20000, 40));
        assertTrue(e.getMessage().contains("-t ~22") && e.getMessage().contains("20000")
            && e.getMessage().contains("ulimit -n"), e.getMessage());
        // The same spec fits under a usual hard limit (the JVM raises the soft limit to it).
        assertDoesNotThrow(() -> ForwardCheck.checkDescriptors(props("~22", null), 524288, 40));
    }

    @Test
    void socketsAreCountedPerFamilyAcrossOptions() {
        // 1000 ports, two families each, for TCP and for UDP: 4000 sockets.
        Map<String, Object> p = props("1000-1999", "1000-1999");
        assertDoesNotThrow(() -> ForwardCheck.checkDescriptors(p, 4000 + ForwardCheck.RESERVE + 10, 10));
        assertThrows(IllegalArgumentException.class,
            () -> ForwardCheck.checkDescriptors(p, 4000 + ForwardCheck.RESERVE + 10, 11));
        // One address: one socket per port.
        assertDoesNotThrow(() -> ForwardCheck.checkDescriptors(props("127.0.0.1/1000-1999", null),
            1000 + ForwardCheck.RESERVE, 0));
        // IPv4 only (no guest IPv6 address): one socket per port.
        Map<String, Object> v4 = props("1000-1999", null);
        v4.remove("guest.address6");
        assertDoesNotThrow(() -> ForwardCheck.checkDescriptors(v4, 1000 + ForwardCheck.RESERVE, 0));
    }

    @Test
    void autoAndNoneOpenNothingUpFront() {
        assertDoesNotThrow(() -> ForwardCheck.checkDescriptors(props("auto", "none"), ForwardCheck.RESERVE, 0));
        // Unknown limit: no check.
        assertDoesNotThrow(() -> ForwardCheck.checkDescriptors(props("~22", "~53"), -1, 0));
    }

    @Test
    void thisProcessHasALimitAndDescriptors() {
        // The open-files limit is never unlimited on Linux, so it must have been read.
        long open = ForwardCheck.openDescriptors();
        assertTrue(open >= 3 && ForwardCheck.openFilesLimit() > open, ForwardCheck.openFilesLimit() + " / " + open);
    }
}
