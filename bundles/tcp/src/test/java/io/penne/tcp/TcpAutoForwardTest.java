package io.penne.tcp;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.penne.api.PortSpec;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** -t auto's scan, from /proc/net/tcp-format files: what gets a host listener and what loses it. */
class TcpAutoForwardTest {
    private static final String HEADER = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
        + "timeout inode\n";

    private static String line(int sl, String local, String state, long inode) {
        return String.format("%4d: %s 00000000:0000 %s 00000000:00000000 00:00000000 00000000     0        0 %d 1 "
            + "0000000000000000 100 0 0 10 0%n", sl, local, state, inode);
    }

    @TempDir
    Path tmp;

    @Test
    void listeningPortsOfTheNamespaceGetHostListenersAndLoseThemWhenGone() throws Exception {
        Path tcp = tmp.resolve("tcp"), tcp6 = tmp.resolve("tcp6");
        Files.writeString(tcp, HEADER + line(0, "00000000:1F90", "0A", 90001) // 8080 listening
            + line(1, "0100007F:0016", "0A", 90002) // 22 listening on loopback
            + line(2, "0100007F:1388", "01", 90003) // 5000 established: not forwarded
            + line(3, "00000000:9C40", "0A", 90004) // 40000: ephemeral, skipped by "auto" alone
            + "   4: garbage\n");
        Files.writeString(tcp6, HEADER + line(0, "00000000000000000000000000000000:0050", "0A", 90005)); // 80
        List<String> opened = new ArrayList<>();
        List<Integer> closed = new ArrayList<>();
        int[] next = {100};
        TcpAutoForward.Opener opener = (v4, bind, port, target) -> {
            opened.add((v4 ? "4:" : "6:") + port + ">" + target);
            return next[0]++;
        };
        try (FileChannel f4 = FileChannel.open(tcp); FileChannel f6 = FileChannel.open(tcp6)) {
            TcpAutoForward auto = new TcpAutoForward(List.of(PortSpec.parse("auto")), new FileChannel[] {f4, f6},
                true, true, new int[] {32768, 60999});
            auto.scan(opener, closed::add);
            assertEquals(new TreeSet<>(List.of("4:22>22", "6:22>22", "4:80>80", "6:80>80", "4:8080>8080",
                "6:8080>8080")), new TreeSet<>(opened));
            assertEquals(6, auto.count());
            auto.scan(opener, closed::add);
            assertEquals(6, opened.size(), "nothing new, nothing opened again");

            Files.writeString(tcp, HEADER + line(1, "0100007F:0016", "0A", 90002));
            auto.scan(opener, closed::add);
            assertEquals(2, closed.size(), "8080's two listeners closed: " + closed);
            assertEquals(4, auto.count());
            auto.closeAll(closed::add);
            assertEquals(6, closed.size());
        }
    }
}
