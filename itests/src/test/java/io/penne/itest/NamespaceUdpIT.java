package io.penne.itest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.penne.itest.Dist.Result;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * UDP, ICMP echo and DNS through the real distribution: {@code penne [options]
 * -- python3 SCRIPT}, with a python helper on the host's loopback
 * ({@code udp/host.py}: UDP echo and commands on port {@value #ECHO}, a DNS
 * responder on 127.0.0.53:53 and [::1]:53). The namespace side
 * ({@code udp/ns.py}) drives every path, IPv4 and IPv6: the tap path (the
 * gateway stands for the host; {@code -u} to the host's own address) and the
 * loopback path ({@code -U}; {@code -u} from the host's loopback), each
 * with a single echo, a 60 KiB datagram and a burst of 1,000 counted at the
 * receiver; an ICMP port unreachable relayed to the guest; DNS over UDP and
 * TCP through {@code --dns-forward}; ping and ping -6 to the gateway.
 */
class NamespaceUdpIT {
    static final int ECHO = 7100, FWD = 7110, NSFWD = 7120;
    @TempDir
    Path tmp;
    private Process host;

    @BeforeEach
    void prerequisites() throws Exception {
        assumeTrue(new ProcessBuilder("sh", "-c", "command -v python3").start().waitFor() == 0,
            "python3 runs both ends (.ci/run installs it)");
        Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
        host = new ProcessBuilder("python3", script("host.py").toString(), String.valueOf(ECHO))
            .redirectErrorStream(true).start();
        BufferedReader r = new BufferedReader(new InputStreamReader(host.getInputStream(), StandardCharsets.UTF_8));
        String first = r.readLine();
        assertEquals("READY", first, "host helper did not start (are 127.0.0.53:53 and [::1]:53 free?)");
    }

    @AfterEach
    void stop() throws Exception {
        if (host != null) {
            host.destroy();
            host.waitFor(5, TimeUnit.SECONDS);
        }
    }

    private Path script(String name) throws IOException {
        Path p = tmp.resolve(name);
        try (InputStream in = NamespaceUdpIT.class.getResourceAsStream("/udp/" + name)) {
            Files.copy(in, p);
        }
        Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rw-r--r--"));
        return p;
    }

    /** Runs a namespace script under penne with the environment the scripts expect. */
    private Result inNamespace(String name, long timeout, String... penneOptions) throws Exception {
        Path sock = tmp.resolve("ctl.sock");
        List<String> cmd = new ArrayList<>(List.of("-c", sock.toString()));
        cmd.addAll(List.of(penneOptions));
        cmd.addAll(List.of("--", "sh", "-c",
            "export GW4=$(ip -4 route show default | awk '{print $3}');"
                + " export GW6=$(ip -6 route show default | awk '{print $3}');"
                + " export IFNAME=$(ip -4 route show default | awk '{print $5}');"
                + " export ADDR4=$(ip -4 -o addr show scope global | awk '{print $4}' | cut -d/ -f1 | head -1);"
                + " export ADDR6=$(ip -6 -o addr show scope global | awk '{print $4}' | cut -d/ -f1 | head -1);"
                + " export ECHO=" + ECHO + " FWD=" + FWD + " NSFWD=" + NSFWD
                + " DNS4=169.254.1.1 DNS6=fd53::53 CTL=" + sock + " PENNE_CTL=" + Dist.CTL + ";"
                + " exec python3 " + script(name)));
        return Dist.run(timeout, Dist.penne(cmd.toArray(new String[0])));
    }

    private static Map<String, String> results(Result r) {
        Map<String, String> m = new LinkedHashMap<>();
        for (String line : r.out().split("\n")) {
            int sp = line.indexOf(' ');
            if (sp > 0 && !line.startsWith("flow "))
                m.put(line.substring(0, sp), line.substring(sp + 1));
        }
        return m;
    }

    private static boolean pingSocketsAllowed() throws IOException {
        String[] range = Files.readAllLines(Path.of("/proc/sys/net/ipv4/ping_group_range")).get(0).trim().split("\\s+");
        long gid = ((Number) Files.getAttribute(Path.of("/proc/self"), "unix:gid")).longValue();
        return Long.parseLong(range[0]) <= gid && gid <= Long.parseLong(range[1]);
    }

    @Test
    void everyPathBothFamiliesDnsAndPing() throws Exception {
        Result r = inNamespace("ns.py", 180, "-u", String.valueOf(FWD), "-U", NSFWD + ":" + ECHO,
            "--dns-forward", "169.254.1.1", "--dns-forward", "fd53::53", "--dns-host", "127.0.0.53", "--dns-host", "::1");
        assertEquals(0, r.status(), r.toString());
        Map<String, String> m = results(r);
        // A single datagram from the host that needed another try is reported, not failed (UDP).
        for (String line : r.out().split("\n"))
            if (line.startsWith("retried "))
                System.out.println("NamespaceUdpIT: " + line);
        for (String v : new String[] {"4", "6"}) {
            for (String path : new String[] {"tap.out", "lo.out", "tap.in", "lo.in"}) {
                assertEquals("OK", m.get(path + "." + v + ".single"), path + " v" + v + "\n" + r);
                assertEquals("OK", m.get(path + "." + v + ".60k"), path + " v" + v + " 60 KiB\n" + r);
                int burst = Integer.parseInt(m.get(path + "." + v + ".burst"));
                // Loopback path: nothing may be lost. Tap path: the tap queue may drop under a burst; report it.
                if (path.startsWith("lo"))
                    assertEquals(1000, burst, path + " v" + v + " burst\n" + r);
                else
                    assertTrue(burst >= 950, path + " v" + v + " burst: " + burst + " of 1000\n" + r);
                System.out.println(path + " v" + v + " burst: " + burst + " of 1000 received");
            }
            assertEquals("ConnectionRefusedError", m.get("tap.out." + v + ".closed"), r.toString());
        }
        assertEquals("10.9.8.7 from 169.254.1.1", m.get("dns.udp.4"), r.toString());
        assertEquals("10.9.8.7", m.get("dns.tcp.4"), r.toString());
        assertEquals("fd00::9:8:7 from fd53::53", m.get("dns.udp.6"), r.toString());
        assertEquals("fd00::9:8:7", m.get("dns.tcp.6"), r.toString());
        if (pingSocketsAllowed()) {
            assertEquals("3", m.get("ping.4"), r.toString());
            assertEquals("3", m.get("ping.6"), r.toString());
            assertTrue(r.out().matches("(?s).*flow \\d+ +PING4 +ACTIVE .*requests 3 replies 3.*"), r.toString());
            assertTrue(r.out().matches("(?s).*flow \\d+ +PING6 +ACTIVE .*requests 3 replies 3.*"), r.toString());
        } else {
            assertEquals("0", m.get("ping.4"), r.toString());
            assertTrue(r.err().contains("ping sockets v4 not permitted"), r.toString());
        }
        // penne:flows shows UDP flows with their datagram counts, both paths.
        assertTrue(r.out().matches("(?s).*flow \\d+ +UDP +ACTIVE +TAP \\S+ -> \\S+ +HOST \\S+ -> \\S+ .*dgrams 1000/0 .*"),
            r.toString());
        assertTrue(r.out().matches("(?s).*flow \\d+ +UDP +ACTIVE +SPLICE \\S+ -> \\S+ +HOST .*dgrams 1000/0 .*"),
            r.toString());
        assertTrue(r.out().matches("(?s).*flow \\d+ +UDP +ACTIVE +HOST \\S+ -> \\S+:" + FWD + " +SPLICE .*dgrams 1/1 .*replied.*"),
            r.toString());
    }

    /**
     * Podman's command line (PEERS.md §2), against a namespace of our own:
     * accepted, and --map-guest-addr reaches the host's own address over
     * UDP and TCP while --no-map-gw leaves the gateway unmapped.
     */
    @Test
    void podmansCommandLineWorks() throws Exception {
        String ns = "udp-pod-" + ProcessHandle.current().pid();
        assertEquals(0, Dist.run(30, List.of("ip", "netns", "add", ns)).status());
        Path pid = tmp.resolve("penne.pid");
        try (java.net.DatagramSocket u = new java.net.DatagramSocket(0);
             java.net.ServerSocket t = new java.net.ServerSocket(0)) {
            Thread server = new Thread(() -> {
                try {
                    java.net.DatagramPacket p = new java.net.DatagramPacket(new byte[100], 100);
                    u.receive(p);
                    byte[] a = ("you are " + p.getAddress().getHostAddress()).getBytes(StandardCharsets.UTF_8);
                    u.send(new java.net.DatagramPacket(a, a.length, p.getSocketAddress()));
                    try (java.net.Socket c = t.accept()) {
                        c.getOutputStream().write(("you are " + c.getInetAddress().getHostAddress())
                            .getBytes(StandardCharsets.UTF_8));
                    }
                } catch (IOException e) {
                    // the client reports what it saw
                }
            });
            server.start();
            Result start = Dist.run(60, Dist.penne("--config-net", "--dns-forward", "169.254.1.1", "--no-map-gw",
                "--quiet", "--netns", "/run/netns/" + ns, "--map-guest-addr", "169.254.1.2", "-t", "none", "-u", "none",
                "-T", "none", "-U", "none", "--pid", pid.toString()));
            assertEquals(0, start.status(), start.toString());
            Result r = Dist.run(60, List.of("ip", "netns", "exec", ns, "sh", "-c",
                "exec python3 " + script("pod.py") + " 169.254.1.2 $(ip -4 route show default | awk '{print $3}') "
                    + u.getLocalPort() + " " + t.getLocalPort()));
            assertEquals(0, r.status(), r.toString());
            assertTrue(r.out().matches("(?s)udp you are \\S+ from 169\\.254\\.1\\.2\ntcp you are \\S+\ngateway not mapped\n"),
                r.toString());
            server.join(5000);
        } finally {
            if (Files.exists(pid))
                Dist.run(30, List.of("kill", Files.readString(pid).trim()));
            Dist.run(30, List.of("ip", "netns", "del", ns));
        }
    }

    private static long stat(String stats, String name) {
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(name) + " +(\\d+)$").matcher(stats);
        return m.find() ? Long.parseLong(m.group(1)) : 0;
    }

    /**
     * Host to guest over the tap, on a flow the namespace opened and through
     * {@code -u}: a burst of datagrams of mixed sizes (runs of 1472 and 300
     * bytes, shorter ones between them, an empty one, one of 65000) arrives
     * datagram by datagram, each whole and in order, IPv4 and IPv6. Where the
     * kernel takes UDP segmentation offload frames (Linux 6.2+), runs went to
     * the guest as trains ({@code egress.udp_trains}), which the kernel split
     * again. Batches of 32 KiB and more (the 65000-byte datagram at least)
     * were handed off: written at once, before the rest ({@code udp.handoffs}).
     */
    @Test
    void datagramTrainsToTheGuestKeepEveryBoundary() throws Exception {
        Result r = inNamespace("train.py", 90, "-u", String.valueOf(FWD));
        assertEquals(0, r.status(), r.toString());
        Map<String, String> m = results(r);
        for (String v : new String[] {"4", "6", "in.4", "in.6"}) {
            String got = m.get("train." + v);
            assertTrue(got != null && got.matches("\\d+/\\d+"), "v" + v + ": " + got + "\n" + r);
            String[] n = got.split("/");
            // The tap path may drop under a burst (as the bursts above); what arrives must be exact.
            assertTrue(Integer.parseInt(n[0]) >= Integer.parseInt(n[1]) * 95 / 100, "v" + v + ": " + got + "\n" + r);
            System.out.println("NamespaceUdpIT: train v" + v + " " + got + " datagrams received");
        }
        long trains = stat(r.out(), "egress.udp_trains");
        System.out.println("NamespaceUdpIT: " + trains + " datagram trains");
        if (kernelAtLeast(6, 2))
            assertTrue(trains >= 1, r.toString());
        assertEquals(0, stat(r.out(), "egress.udp_trains_refused"), r.toString());
        assertTrue(stat(r.out(), "udp.handoffs") >= 2, r.toString()); // one per path at least
    }

    /**
     * A {@code -u} peer at a link-local address on a host with more than one
     * interface: the guest's reply leaves through the host's IPv6 upstream
     * interface, as passt scopes link-local host addresses, not through
     * whichever interface's fe80::/64 route comes first (penne runs in a
     * namespace of its own here, whose upstream is a veth to the peer's).
     */
    @Test
    void repliesReachALinkLocalPeerThroughTheUpstreamInterface() throws Exception {
        assumeTrue((Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid") == 0, "creates namespaces with ip netns");
        Result r = Dist.run(90, List.of("bash", script("linklocal-peer.sh").toString(), Dist.PENNE.toString()));
        assertEquals(0, r.status(), r.toString());
        assertTrue(r.out().contains("peer got pong from fe80::"), r.toString());
    }

    private static boolean kernelAtLeast(int major, int minor) {
        Matcher v = Pattern.compile("^(\\d+)\\.(\\d+)").matcher(System.getProperty("os.version"));
        return v.find() && (Integer.parseInt(v.group(1)) > major
            || Integer.parseInt(v.group(1)) == major && Integer.parseInt(v.group(2)) >= minor);
    }

    @Test
    void malformedAndUnexpectedFramesAreDroppedCountedAndPenneAnswers() throws Exception {
        Result r = inNamespace("bad.py", 120);
        assertEquals(0, r.status(), r.toString());
        String out = r.out();
        assertTrue(out.contains("echo 4 still there?"), r.toString());
        assertTrue(out.contains("echo 6 still there?"), r.toString());
        assertTrue(stat(out, "drop.udp.short") >= 2, r.toString());      // v4 and v6 headers cut short
        assertTrue(stat(out, "drop.udp.length") >= 3, r.toString());     // lying UDP length fields
        assertTrue(stat(out, "drop.ipv4.length") >= 1, r.toString());    // lying IP total length
        assertTrue(stat(out, "drop.icmp.short") >= 1, r.toString());     // ICMP header cut short
        assertTrue(stat(out, "udp.drop.port_zero") >= 1, r.toString());
        assertTrue(stat(out, "icmp.drop.short") >= 1, r.toString());     // echo request without identifier
        assertTrue(stat(out, "icmp.drop.type") >= 3, r.toString());      // timestamp, echo reply, unreachable
    }

    /**
     * pasta's defaults, -u auto and -U auto: a port bound in the namespace is
     * reachable from the host (its loopback and its own address) within a
     * second, and released once the namespace closes it; a port bound on the
     * host's loopback is reachable on the namespace's.
     */
    @Test
    void autoForwardingFollowsBoundPorts() throws Exception {
        int auto = FWD + 20;
        Path done = tmp.resolve("done"), out = tmp.resolve("auto.out");
        Path sock = tmp.resolve("ctl.sock");
        Process penne = new ProcessBuilder(Dist.penne("-c", sock.toString(), "--", "sh", "-c",
            "export ECHO=" + ECHO + "; exec python3 " + script("auto.py") + " " + auto + " " + done))
            .redirectErrorStream(true).redirectOutput(out.toFile()).start();
        try {
            waitFor(out, "BOUND", penne);
            java.net.InetAddress own = java.util.Collections.list(java.net.NetworkInterface.getNetworkInterfaces()).stream()
                .filter(i -> !i.getName().equals("lo"))
                .flatMap(i -> java.util.Collections.list(i.getInetAddresses()).stream())
                .filter(a -> a instanceof java.net.Inet4Address).findFirst().orElseThrow();
            for (String to : new String[] {"127.0.0.1", "::1", own.getHostAddress()})
                assertEquals("echo " + to, roundTrip(to, auto, "echo " + to), "host -> namespace port " + auto + " via " + to);
            try (java.net.DatagramSocket q = new java.net.DatagramSocket()) {
                byte[] b = "quit".getBytes(StandardCharsets.UTF_8);
                q.send(new java.net.DatagramPacket(b, b.length, java.net.InetAddress.getLoopbackAddress(), auto));
            }
            waitFor(out, "CLOSED", penne);
            // Within a scan or two penne lets go of the port: the host can bind it without SO_REUSEADDR.
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            boolean free = false;
            while (!free && System.nanoTime() < deadline) {
                try (java.nio.channels.DatagramChannel ch = java.nio.channels.DatagramChannel.open(
                        java.net.StandardProtocolFamily.INET)) {
                    ch.bind(new java.net.InetSocketAddress(auto));
                    free = true;
                } catch (java.net.BindException e) {
                    Thread.sleep(200);
                }
            }
            assertTrue(free, "port " + auto + " still held after the namespace closed it\n" + Files.readString(out));
            Files.writeString(done, "x");
            assertTrue(penne.waitFor(30, TimeUnit.SECONDS));
            String text = Files.readString(out);
            assertEquals(0, penne.exitValue(), text);
            assertTrue(text.contains("U.4 OK\n") && text.contains("U.6 OK\n"), "-U auto: " + text);
            assertTrue(text.matches("(?s).*SERVED [3-9]\\n.*"), text);
        } finally {
            Files.writeString(done, "x");
            if (!penne.waitFor(30, TimeUnit.SECONDS))
                penne.destroyForcibly();
        }
    }

    /**
     * As with pasta, what auto forwarding finds at start is forwarded before
     * the command runs: the first datagram a command sends at once (bash, with
     * no interpreter start-up to hide a late scan) to the host's loopback echo
     * service, through -U auto, gets its echo, over IPv4 and IPv6. (A port that
     * is not forwarded yet answers "connection refused": no echo.)
     */
    @Test
    void autoForwardedHostPortsAreThereWhenTheCommandStarts() throws Exception {
        for (String addr : new String[] {"127.0.0.1", "::1"}) {
            Result r = Dist.run(30, Dist.penne("--", "bash", "-c", "exec 3<>/dev/udp/" + addr + "/" + ECHO
                + "; echo first >&3; echo got $(timeout 5 head -n 1 <&3)"));
            assertEquals(0, r.status(), addr + ": " + r);
            assertTrue(r.out().contains("got first"), addr + ": " + r);
        }
    }

    /**
     * pasta's ADDRESS%INTERFACE/PORTS and %INTERFACE/PORTS (podman's
     * "Interface-bound ... port forwarding" tests): -t and -u bound to the
     * loopback interface forward (and translate the port), over IPv4 and
     * IPv6; a port bound to the upstream interface alone refuses a client
     * that comes through the loopback interface, so the binding took effect.
     */
    @Test
    void portsBoundToAnInterface() throws Exception {
        int port = FWD + 40, inside = FWD + 41, upstreamOnly = FWD + 42;
        String upstream = Dist.run(30, List.of("sh", "-c", "ip -4 route show default | awk '{print $5; exit}'")).out().trim();
        assumeTrue(!upstream.isEmpty(), "needs a default route");
        Path out = tmp.resolve("ifbound.out");
        String ns = String.join("\n",
            "import socket, sys",
            "l = socket.create_server(('', " + inside + "), family=socket.AF_INET6, dualstack_ipv6=True)",
            "u4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u4.bind(('0.0.0.0', " + inside + "))",
            "u6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)",
            "u6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1); u6.bind(('::', " + inside + "))",
            "print('READY', flush=True)",
            "for _ in range(2):",
            "    c, peer = l.accept(); print('ACCEPTED', peer[0], flush=True)",
            "    print('TCP', c.recv(100).decode(), flush=True); c.close()",
            "for u in (u4, u6):",
            "    print('UDP', u.recv(100).decode(), flush=True)");
        Path ctl = tmp.resolve("ifbound.sock");
        // -d: a failed splice connect says why in the output, which a failed wait reports.
        Process penne = new ProcessBuilder(Dist.penne("-d", "-c", ctl.toString(), "-t", "none", "-u", "none", "-T", "none",
            "-U", "none", "-t", "127.0.0.1%lo/" + port + ":" + inside, "-t", "::1%lo/" + port + ":" + inside,
            "-u", "127.0.0.1%lo/" + port + ":" + inside, "-u", "::1%lo/" + port + ":" + inside,
            "-t", "%" + upstream + "/" + upstreamOnly, "--", "python3", "-c", ns))
            .redirectErrorStream(true).redirectOutput(out.toFile()).start();
        try {
            waitFor(out, "READY", penne, ctl);
            // While the command runs (it ends after the last datagram, and penne with it).
            assertThrows(java.net.ConnectException.class, () -> new java.net.Socket("127.0.0.1", upstreamOnly).close(),
                "-t %" + upstream + "/" + upstreamOnly + " must not take a client from the loopback interface");
            for (String addr : new String[] {"127.0.0.1", "::1"}) {
                try (java.net.Socket t = new java.net.Socket(addr, port)) {
                    t.getOutputStream().write(("tcp " + addr).getBytes(StandardCharsets.UTF_8));
                }
                waitFor(out, "TCP tcp " + addr, penne, ctl);
            }
            for (String addr : new String[] {"127.0.0.1", "::1"}) {
                try (java.net.DatagramSocket d = new java.net.DatagramSocket()) {
                    byte[] b = ("udp " + addr).getBytes(StandardCharsets.UTF_8);
                    d.send(new java.net.DatagramPacket(b, b.length, java.net.InetAddress.getByName(addr), port));
                }
                waitFor(out, "UDP udp " + addr, penne, ctl);
            }
            assertTrue(penne.waitFor(30, TimeUnit.SECONDS));
            assertEquals(0, penne.exitValue(), Files.readString(out));
        } finally {
            // After a failed assertion the command still waits; like pasta's, it would outlive a killed penne.
            penne.descendants().forEach(ProcessHandle::destroyForcibly);
            penne.destroyForcibly();
        }
    }

    /**
     * Out of descriptors: a namespace that opens UDP flows to 2,000 host ports under a low
     * open-files limit takes every descriptor penne has (each flow holds a socket until it
     * expires; datagrams that find none are dropped, counted in udp.drop.socket). A
     * control client that arrives meanwhile waits, and penne neither spins (the control
     * socket's accept once failed in a loop at full CPU, logging each failure) nor says it
     * more than once; it stays up.
     */
    @Test
    void runningOutOfDescriptorsNeitherSpinsNorFloodsTheLog() throws Exception {
        Path out = tmp.resolve("nofd.out");
        Path ctl = tmp.resolve("nofd.sock");
        String ns = String.join("\n",
            "import socket, subprocess, time",
            "gw = subprocess.check_output(\"ip -4 route show default | awk '{print $3}'\", shell=True).decode().strip()",
            "u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)",
            "for p in range(30000, 32000): u.sendto(b'x', (gw, p))",
            "print('FLOODED', flush=True)",
            "time.sleep(60)");
        String penne = Dist.penne("-c", ctl.toString(), "-t", "none", "-u", "none", "-T", "none", "-U", "none", "--",
            "python3", "-c", ns).stream().map(a -> "'" + a.replace("'", "'\\''") + "'")
            .collect(java.util.stream.Collectors.joining(" "));
        Process p = new ProcessBuilder("sh", "-c", "ulimit -n 700 && exec " + penne).redirectErrorStream(true)
            .redirectOutput(out.toFile()).start();
        Process client = null;
        try {
            waitFor(out, "FLOODED", p);
            long pid = Dist.pennePids(ctl.toString()).get(0);
            client = new ProcessBuilder(Dist.ctl(ctl.toString(), "penne:stats")).redirectErrorStream(true).start();
            Thread.sleep(1000);
            long cpu0 = Dist.cpuTicks(pid);
            Thread.sleep(2000);
            long spent = Dist.cpuTicks(pid) - cpu0;
            String text = Files.readString(out);
            long said = text.lines().filter(l -> l.contains("control socket accept failed")).count();
            assertEquals(1, said, "the failed accept said once: " + text);
            assertTrue(spent < 50, "penne used " + spent + " ticks of CPU in 2 s without descriptors: " + text);
            assertTrue(p.isAlive(), text);
        } finally {
            if (client != null)
                client.destroyForcibly();
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
        }
    }

    /** Sends {@code text} to {@code addr}:{@code port} every 200 ms until the answer comes (10 s at most). */
    private static String roundTrip(String addr, int port, String text) throws IOException {
        java.net.InetAddress a = java.net.InetAddress.getByName(addr);
        try (java.net.DatagramSocket s = new java.net.DatagramSocket(0, a.isLoopbackAddress() ? a : null)) {
            s.setSoTimeout(200);
            byte[] b = text.getBytes(StandardCharsets.UTF_8);
            for (int i = 0; i < 50; i++) {
                s.send(new java.net.DatagramPacket(b, b.length, a, port));
                java.net.DatagramPacket p = new java.net.DatagramPacket(new byte[100], 100);
                try {
                    s.receive(p);
                    return new String(p.getData(), 0, p.getLength(), StandardCharsets.UTF_8);
                } catch (java.net.SocketTimeoutException | java.net.PortUnreachableException e) {
                    // not forwarded yet
                }
            }
            return "no answer";
        }
    }

    private static void waitFor(Path out, String line, Process penne) throws Exception {
        waitFor(out, line, penne, null);
    }

    /** As above; on failure the message also carries penne's counters and flows from control socket {@code ctl}. */
    private static void waitFor(Path out, String line, Process penne, Path ctl) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            if (Files.exists(out) && Files.readString(out).contains(line + "\n"))
                return;
            if (!penne.isAlive())
                break;
            Thread.sleep(100);
        }
        String seen = Files.exists(out) ? Files.readString(out) : "(no output)";
        if (ctl != null && penne.isAlive()) {
            seen += Dist.run(30, Dist.ctl(ctl.toString(), "penne:flows")).out()
                + Dist.run(30, Dist.ctl(ctl.toString(), "penne:stats")).out();
            // The namespace as its command sees it: addresses, routes (the local table too), neighbours.
            java.util.Optional<ProcessHandle> cmd = penne.descendants()
                .filter(ph -> ph.info().command().orElse("").contains("python")).findFirst();
            if (cmd.isPresent())
                seen += Dist.run(30, List.of("nsenter", "-t", String.valueOf(cmd.get().pid()), "-n", "sh", "-c",
                    "ip addr; ip -6 route show table all; ip -6 neigh")).out();
        }
        throw new AssertionError("no " + line + " (penne " + (penne.isAlive() ? "running" : "gone") + "): " + seen);
    }

    @Test
    void flowsExpireAfterTheirTimeouts() throws Exception {
        Result r = inNamespace("expiry.py", 150);
        assertEquals(0, r.status(), r.toString());
        String quiet = "UDP +ACTIVE +TAP \\S+ -> \\S+:" + (ECHO + 98) + " ";
        String talk = "UDP +ACTIVE +TAP \\S+ -> \\S+:" + ECHO + " .*replied";
        String ping = "PING4 +ACTIVE ";
        String out = r.out();
        boolean pings = pingSocketsAllowed();
        for (String[] expect : new String[][] {
            {"t0", quiet, "true"}, {"t0", talk, "true"}, {"t0", ping, "true"},
            {"t36", quiet, "false"}, {"t36", talk, "true"}, {"t36", ping, "true"},
            {"t66", quiet, "false"}, {"t66", talk, "true"}, {"t66", ping, "false"}}) {
            if (expect[1].equals(ping) && !pings)
                continue;
            boolean present = Pattern.compile("(?m)^" + expect[0] + " \\d+ +" + expect[1]).matcher(out).find();
            if (expect[2].equals("true"))
                assertTrue(present, expect[0] + ": expected a flow matching " + expect[1] + "\n" + r);
            else
                assertFalse(present, expect[0] + ": flow matching " + expect[1] + " should have expired\n" + r);
        }
    }
}
