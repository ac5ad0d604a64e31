package io.penne.linux;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.BufferedReader;
import java.io.FileReader;
import org.junit.jupiter.api.Test;

/** /proc/sys values read whole, compared with a line reader (which procfs serves correctly). */
class SysctlTest {
    private static String line(String name) throws Exception {
        try (BufferedReader r = new BufferedReader(new FileReader("/proc/sys/" + name))) {
            return r.readLine().trim();
        }
    }

    @Test
    void valuesAreReadWhole() throws Exception {
        assertEquals(line("net/ipv4/tcp_syn_retries"), Sysctl.read("net/ipv4/tcp_syn_retries"));
        assertEquals(Integer.parseInt(line("net/ipv4/tcp_syn_retries")), Sysctl.readInt("net/ipv4/tcp_syn_retries", -1));
        assertEquals(-7, Sysctl.readInt("net/ipv4/no_such_value", -7));
    }

    @Test
    void ephemeralPortsAreTheHostsRange() throws Exception {
        String[] p = line("net/ipv4/ip_local_port_range").split("\\s+");
        assertArrayEquals(new int[] {Integer.parseInt(p[0]), Integer.parseInt(p[1])}, Sysctl.ephemeralPorts());
    }
}
