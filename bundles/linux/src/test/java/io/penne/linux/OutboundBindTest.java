package io.penne.linux;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;

class OutboundBindTest {
    final NativeBuffer scratch = NativeBuffer.allocate(Sys.SOCKADDR_SCRATCH_SIZE);

    @Test
    void bindsTheSourceAddressAndKeepsThePortWhereFree() {
        OutboundBind ob = OutboundBind.of(Map.of("outbound.address4", "127.0.0.2"));
        int v6 = Sockets.udp(Sockets.AF_INET6);
        try {
            assertEquals(0, ob.apply(v6, false, 0, scratch));
            assertEquals(0, Sockets.localPort(v6, scratch), "an IPv4 address leaves IPv6 sockets alone");
        } finally {
            Sys.close(v6);
        }
        int s = Sockets.udp(Sockets.AF_INET);
        try {
            assertEquals(0, ob.apply(s, true, 0, scratch));
            assertTrue(Sys.getsockname(s, scratch) >= 0);
            assertEquals(0x7f000002, Sockets.addr4(scratch, 0));
        } finally {
            Sys.close(s);
        }
        int t = Sockets.udp(Sockets.AF_INET);
        try {
            assertEquals(0, ob.apply(t, true, 40999, scratch));
            assertEquals(40999, Sockets.localPort(t, scratch));
        } finally {
            Sys.close(t);
        }
    }

    @Test
    void anAddressTheHostLacksIsReportedAndTheSocketStaysUsable() {
        OutboundBind ob = OutboundBind.of(Map.of("outbound.address4", "203.0.113.254"));
        int s = Sockets.udp(Sockets.AF_INET);
        try {
            assertEquals(-Errno.EADDRNOTAVAIL, ob.apply(s, true, 41001, scratch));
            assertEquals(41001, Sockets.localPort(s, scratch), "still bound to the port, any address");
        } finally {
            Sys.close(s);
        }
    }

    @Test
    void nothingConfiguredBindsNothing() {
        OutboundBind ob = OutboundBind.of(Map.of());
        int s = Sockets.udp(Sockets.AF_INET6);
        try {
            assertEquals(0, ob.apply(s, false, 0, scratch));
            assertEquals(0, Sockets.localPort(s, scratch), "left unbound");
        } finally {
            Sys.close(s);
        }
    }

    @Test
    void badPropertiesAreRefusedByName() {
        for (Map<String, Object> p : new Map[] {Map.of("outbound.address4", "2001:db8::1"),
            Map.of("outbound.address6", "192.0.2.1"), Map.of("outbound.address4", "example.com"),
            Map.of("outbound.if4", "a/b"), Map.of("outbound.if6", "x".repeat(16))}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> OutboundBind.of(p));
            assertTrue(e.getMessage().contains("'" + p.keySet().iterator().next() + "'"), e.getMessage());
        }
    }
}
