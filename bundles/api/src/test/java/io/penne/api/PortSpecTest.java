package io.penne.api;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.penne.api.flow.InetAddr;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class PortSpecTest {

    @Test
    void none() {
        PortSpec p = PortSpec.parse("none");
        assertTrue(p.isNone());
        assertEquals(0, p.count());
        assertEquals(0, p.target(80));
    }

    @Test
    void singlePort() {
        PortSpec p = PortSpec.parse("80");
        assertArrayEquals(new int[] {80}, p.ports());
        assertEquals(80, p.target(80));
        assertEquals(0, p.target(81));
        assertFalse(p.isAll());
        assertNull(p.address());
        assertNull(p.addressBits());
    }

    @Test
    void rangeAndList() {
        PortSpec p = PortSpec.parse("22,80,443,8000-8002");
        assertArrayEquals(new int[] {22, 80, 443, 8000, 8001, 8002}, p.ports());
        assertEquals(8001, p.target(8001));
    }

    @Test
    void mapping() {
        PortSpec p = PortSpec.parse("8080:80");
        assertArrayEquals(new int[] {8080}, p.ports());
        assertEquals(80, p.target(8080));
        PortSpec r = PortSpec.parse("8000-8010:9000-9010");
        assertEquals(11, r.count());
        assertEquals(9000, r.target(8000));
        assertEquals(9010, r.target(8010));
        PortSpec s = PortSpec.parse("8000-8010:9000");
        assertEquals(9005, s.target(8005));
    }

    @Test
    void exclusions() {
        PortSpec p = PortSpec.parse("2000-5000,~3000-3010");
        assertEquals(3001 - 11, p.count());
        assertEquals(2999, p.target(2999));
        assertEquals(0, p.target(3000));
        assertEquals(0, p.target(3010));
        assertEquals(3011, p.target(3011));
        assertFalse(p.isAll());
        // Exclusions first work too: they win over includes wherever they are.
        assertEquals(0, PortSpec.parse("~25,20-30").target(25));
    }

    @Test
    void exclusionsOnlyMeansAll() {
        PortSpec p = PortSpec.parse("~22");
        assertTrue(p.isAll());
        assertEquals(65534, p.count());
        assertEquals(0, p.target(22));
        assertEquals(23, p.target(23));
        PortSpec q = PortSpec.parse("~1000-2000");
        assertEquals(65535 - 1001, q.count());
    }

    @Test
    void all() {
        PortSpec p = PortSpec.parse("all");
        assertTrue(p.isAll());
        assertEquals(65535, p.count());
        assertEquals(1, p.target(1));
        assertEquals(65535, p.target(65535));
        PortSpec q = PortSpec.parse("all,~22");
        assertEquals(0, q.target(22));
        assertEquals(65534, q.count());
    }

    @Test
    void address() {
        PortSpec p = PortSpec.parse("192.0.2.1/22");
        assertEquals("192.0.2.1", p.address());
        assertArrayEquals(InetAddr.parse("192.0.2.1"), p.addressBits());
        assertEquals(22, p.target(22));
        PortSpec q = PortSpec.parse("::1/all");
        assertEquals("::1", q.address());
        assertTrue(q.isAll());
        PortSpec r = PortSpec.parse("192.0.2.1/20-30,~25");
        assertEquals(10, r.count());
        assertEquals(0, r.target(25));
    }

    @Test
    void list() {
        List<PortSpec> l = PortSpec.parseList("80;none; ;127.0.0.1/8080:80");
        assertEquals(2, l.size());
        assertEquals("80", l.get(0).text());
        assertEquals("127.0.0.1", l.get(1).address());
        assertTrue(PortSpec.parseList(null).isEmpty());
        assertTrue(PortSpec.parseList("none").isEmpty());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
            () -> PortSpec.parseList("80;90-70"));
        assertTrue(e.getMessage().contains("'90-70'"), e.getMessage());
    }

    @Test
    void autoForwardsOnlyWhatIsBoundAndMayBeLimitedByRanges() {
        PortSpec a = PortSpec.parse("auto");
        assertTrue(a.isAuto() && a.isAll(), "auto alone: any port, skipped silently where it cannot be bound");
        assertEquals(8080, a.target(8080));
        PortSpec r = PortSpec.parse("8000-8010,auto");
        assertTrue(r.isAuto() && !r.isAll());
        assertEquals(11, r.count());
        assertEquals(0, r.target(8080));
        PortSpec x = PortSpec.parse("::1/~22,auto");
        assertTrue(x.isAuto() && x.isAll());
        assertEquals(0, x.target(22));
        assertEquals("::1", x.address());
        assertTrue(!PortSpec.parse("80").isAuto());
    }

    /** pasta's ADDRESS%INTERFACE/PORTS and %INTERFACE/PORTS (podman's "Interface-bound" tests use the first). */
    @Test
    void anInterfaceWithOrWithoutAnAddress() {
        PortSpec a = PortSpec.parse("192.0.2.1%eth0/80");
        assertEquals("192.0.2.1", a.address());
        assertEquals("eth0", a.iface());
        assertEquals(1, a.count());
        assertEquals(80, a.target(80));
        PortSpec b = PortSpec.parse("%lo/22-23:32-33");
        assertEquals(null, b.address());
        assertEquals(null, b.addressBits());
        assertEquals("lo", b.iface());
        assertEquals(33, b.target(23));
        PortSpec c = PortSpec.parse("::1%lo/8000");
        assertEquals("::1", c.address());
        assertEquals("lo", c.iface());
        assertEquals(null, PortSpec.parse("192.0.2.1/80").iface());
        assertEquals("%lo/22-23:32-33", b.text());
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "abc", "80-70", "0", "65536", "70000", "80,", ",80", "80,,81", "8080:",
        ":80", "80-", "-80", "~", "~abc", "8000-8010:9000-9005", "65530-65535:65534", "80,80", "79-81,80",
        "all,80", "all,all", "none,80", "auto,auto", "eth0%/80", "%/80", "192.0.2.1%/80", "1.2.3%eth0/80",
        "%eth0/auto", "%an-interface-name-too-long/80", "%eth 0/80", "/80", "1.2.3/80",
        "foo/80", "192.0.2.1/", "80:192.0.2.5/90", "80:192.0.2.5", "~1-65535", "8o", "+80", " 80 x"})
    void malformedSpecsAreRefusedNamingTheSpec(String spec) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> PortSpec.parse(spec));
        assertTrue(e.getMessage().startsWith("bad port spec '" + spec + "'"), e.getMessage());
    }

    @Test
    void onlyAllAndExclusionsLeaveTheEphemeralRangeOut() {
        int[] eph = {32768, 60999};
        for (String all : new String[] {"all", "~22"}) {
            PortSpec p = PortSpec.parse(all);
            assertTrue(p.skipsEphemeral(32768, eph) && p.skipsEphemeral(60999, eph), all);
            assertFalse(p.skipsEphemeral(32767, eph) || p.skipsEphemeral(61000, eph), all);
        }
        // Ports named explicitly are bound even inside the range.
        assertFalse(PortSpec.parse("40000-40010").skipsEphemeral(40005, eph));
    }
}
