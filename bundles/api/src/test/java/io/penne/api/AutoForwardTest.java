package io.penne.api;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/** auto forwarding's bookkeeping: which ports get sockets, which lose them, and what is left out. */
class AutoForwardTest {
    private final List<String> opened = new ArrayList<>();
    private final List<Integer> closed = new ArrayList<>();
    private int next = 100;

    private int open(boolean v4, long[] bind, int port, int target) {
        opened.add((v4 ? "4:" : "6:") + port + ">" + target);
        return next++;
    }

    private static BitSet ports(int... p) {
        BitSet b = new BitSet();
        for (int x : p)
            b.set(x);
        return b;
    }

    @Test
    void boundPortsGetSocketsPerFamilyAndLoseThemWhenGone() {
        AutoForward auto = new AutoForward(List.of(PortSpec.parse("auto")), true, true, new int[] {32768, 60999}, new BitSet());
        auto.sync(ports(22, 80, 8080, 40000), this::open, closed::add);
        // 40000 is ephemeral: "auto" alone leaves that range out, as pasta.
        assertEquals(new TreeSet<>(List.of("4:22>22", "6:22>22", "4:80>80", "6:80>80", "4:8080>8080", "6:8080>8080")),
            new TreeSet<>(opened));
        assertEquals(6, auto.count());
        auto.sync(ports(22, 80, 8080), this::open, closed::add);
        assertEquals(6, opened.size(), "nothing new, nothing opened again");
        auto.sync(ports(22), this::open, closed::add);
        assertEquals(4, closed.size(), "80's and 8080's sockets closed: " + closed);
        assertEquals(2, auto.count());
        auto.closeAll(closed::add);
        assertEquals(6, closed.size());
        assertEquals(0, auto.count());
    }

    @Test
    void rangesMappingsAddressesAndFailuresFollowTheSpec() {
        // 8000-8002 only if bound, mapped to 9000-9002; IPv4 only because the spec names an address.
        AutoForward auto = new AutoForward(List.of(PortSpec.parse("127.0.0.1/8000-8002:9000-9002,auto")), true, true,
            new int[] {32768, 60999}, new BitSet());
        auto.sync(ports(9001, 8000, 40000), this::open, closed::add);
        assertEquals(List.of("4:8001>9001"), opened);
        // A port that cannot be opened is tried again at the next sync.
        AutoForward failing = new AutoForward(List.of(PortSpec.parse("auto")), false, true, new int[] {32768, 60999}, new BitSet());
        failing.sync(ports(53), (v4, bind, port, target) -> -98, closed::add);
        assertEquals(0, failing.count());
        failing.sync(ports(53), this::open, closed::add);
        assertEquals(List.of("4:8001>9001", "6:53>53"), opened, "IPv6 only: the guest has no IPv4 address");
        // Ports that fixed forwarding holds are never opened.
        AutoForward withFixed = new AutoForward(List.of(PortSpec.parse("auto")), true, false, new int[] {32768, 60999},
            ports(5353));
        withFixed.sync(ports(5353, 5354), this::open, closed::add);
        assertEquals("4:5354>5354", opened.get(opened.size() - 1));
        assertEquals(1, withFixed.count());
    }
}
