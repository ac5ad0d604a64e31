package io.penne.linux;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.channels.DatagramChannel;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.BitSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What auto forwarding sees of a namespace: listening TCP and unconnected UDP sockets, not penne's own. */
class ProcNetListenersTest {
    private static final String HEADER = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
        + "timeout inode\n";

    private static String line(int sl, String local, String state, long inode) {
        return String.format("%4d: %s 00000000:0000 %s 00000000:00000000 00:00000000 00000000     0        0 %d 1 "
            + "0000000000000000 100 0 0 10 0%n", sl, local, state, inode);
    }

    @TempDir
    Path tmp;

    @Test
    void listeningTcpAndUnconnectedUdpPortsFromProcfsFiles() throws Exception {
        Path tcp = tmp.resolve("tcp"), udp6 = tmp.resolve("udp6");
        Files.writeString(tcp, HEADER + line(0, "00000000:1F90", "0A", 90001) // 8080 listening
            + line(1, "0100007F:0016", "0A", 90002) // 22 listening on loopback
            + line(2, "0100007F:1388", "01", 90003) // 5000 established: not a listener
            + "   4: garbage\n"
            + line(5, "0100007F:FFFFF", "0A", 90004)); // port out of range
        Files.writeString(udp6, HEADER + line(0, "00000000000000000000000000000000:0035", "07", 90005) // 53 bound
            + line(1, "00000000000000000000000000000000:1389", "01", 90006) // 5001 connected: a flow's, not bound
            + line(2, "00000000000000000000000000000000:0050", "0A", 90007)); // state of TCP LISTEN in a UDP file
        BitSet ports = new BitSet();
        try (FileChannel t = FileChannel.open(tcp); FileChannel u = FileChannel.open(udp6)) {
            ProcNetListeners p = ProcNetListeners.of(new FileChannel[] {t, u},
                new int[] {ProcNetListeners.TCP_LISTEN, ProcNetListeners.UDP_UNCONNECTED});
            p.scan(ports);
            assertEquals("{22, 53, 8080}", ports.toString());
            // Re-read from the start each time: a socket gone is gone.
            Files.writeString(tcp, HEADER + line(1, "0100007F:0016", "0A", 90002));
            ports.clear();
            p.scan(ports);
            assertEquals("{22, 53}", ports.toString());
        }
    }

    @Test
    void penneOwnSocketsAreLeftOutOthersAreNot() throws Exception {
        // This JVM plays penne: its own sockets must not count. A child process's socket must.
        try (ServerSocket mine = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
             DatagramChannel myUdp = DatagramChannel.open().bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
             ProcNetListeners p = ProcNetListeners.open("tcp", "tcp6", "udp", "udp6")) {
            Process other = new ProcessBuilder("python3", "-c",
                "import socket,sys,time\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind(('127.0.0.1',0))\n"
                    + "print(s.getsockname()[1],flush=True)\ntime.sleep(30)").start();
            try {
                int otherPort = Integer.parseInt(new java.io.BufferedReader(new java.io.InputStreamReader(other.getInputStream())).readLine().trim());
                BitSet ports = new BitSet();
                p.scan(ports);
                assertFalse(ports.get(mine.getLocalPort()), "own TCP listener left out");
                assertFalse(ports.get(((InetSocketAddress) myUdp.getLocalAddress()).getPort()), "own UDP socket left out");
                assertTrue(ports.get(otherPort), "another process's UDP socket counts: " + otherPort);
                // The verdicts are kept: a second scan gives the same answer.
                BitSet again = new BitSet();
                p.scan(again);
                assertEquals(ports, again);
            } finally {
                other.destroyForcibly();
            }
        }
    }

    /**
     * Socket diagnostics and procfs must see the same: another process's
     * listening TCP sockets (IPv4, IPv6) and bound UDP socket count; its
     * established TCP connection and connected UDP socket do not.
     */
    @Test
    void socketDiagnosticsSeeWhatProcfsSees() throws Exception {
        Process other = new ProcessBuilder("python3", "-c", String.join("\n",
            "import socket, time",
            "l4 = socket.socket(); l4.bind(('127.0.0.1', 0)); l4.listen()",
            "l6 = socket.socket(socket.AF_INET6); l6.bind(('::1', 0)); l6.listen()",
            "c = socket.create_connection(l4.getsockname()); a, _ = l4.accept()",
            "u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); u.bind(('::', 0))",
            "cu = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); cu.connect(('127.0.0.1', 9))",
            "print(l4.getsockname()[1], l6.getsockname()[1], u.getsockname()[1], c.getsockname()[1],"
                + " cu.getsockname()[1], flush=True)",
            "time.sleep(30)")).start();
        try {
            String[] p = new java.io.BufferedReader(new java.io.InputStreamReader(other.getInputStream())).readLine().trim()
                .split(" ");
            int l4 = Integer.parseInt(p[0]), l6 = Integer.parseInt(p[1]), udp = Integer.parseInt(p[2]);
            int established = Integer.parseInt(p[3]), connectedUdp = Integer.parseInt(p[4]);
            BitSet viaDiag = new BitSet(), viaProcfs = new BitSet();
            try (ProcNetListeners d = ProcNetListeners.open("tcp", "tcp6", "udp", "udp6")) {
                org.junit.jupiter.api.Assumptions.assumeTrue(d.usesSockDiag(), "the kernel has no tcp_diag/udp_diag");
                d.scan(viaDiag);
            }
            System.setProperty("penne.procfsListeners", "true");
            try (ProcNetListeners f = ProcNetListeners.open("tcp", "tcp6", "udp", "udp6")) {
                assertFalse(f.usesSockDiag());
                f.scan(viaProcfs);
            } finally {
                System.clearProperty("penne.procfsListeners");
            }
            for (int port : new int[] {l4, l6, udp})
                assertTrue(viaDiag.get(port), port + " in " + viaDiag);
            for (int port : new int[] {established, connectedUdp})
                assertFalse(viaDiag.get(port), port + " in " + viaDiag);
            // Other processes on the machine may open or close sockets between the two scans; compare ours.
            for (int port : new int[] {l4, l6, udp, established, connectedUdp})
                assertEquals(viaProcfs.get(port), viaDiag.get(port), "port " + port);
        } finally {
            other.destroyForcibly();
        }
    }
}
