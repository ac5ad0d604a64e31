package io.penne.itest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.penne.itest.Dist.Result;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The {@code penne} and {@code penne-ctl} commands of the real distribution:
 * command line handling, the control socket, background start with
 * "returned means ready", clean exit on signals, rootless runs.
 */
class LauncherIT {
    @TempDir
    Path tmp;
    private final List<Process> started = new ArrayList<>();
    private final List<String> markers = new ArrayList<>();

    @BeforeEach
    void distributionIsBuilt() {
        assertTrue(Files.isExecutable(Dist.PENNE), "distribution not built at " + Dist.HOME);
    }

    /**
     * SIGKILL leaves penne no time to stop its command, which then outlives it, as a command
     * outlives a killed pasta: its processes are killed first (the command's unshare takes the
     * rest of its PID namespace along).
     */
    @AfterEach
    void killLeftovers() {
        for (Process p : started)
            killTree(p.toHandle());
        for (String m : markers)
            for (long pid : Dist.pennePids(m))
                ProcessHandle.of(pid).ifPresent(LauncherIT::killTree);
    }

    private static void killTree(ProcessHandle h) {
        h.descendants().forEach(ProcessHandle::destroyForcibly);
        h.destroyForcibly();
    }

    @Test
    void versionAndHelp() throws Exception {
        Result v = Dist.run(30, Dist.penne("--version"));
        assertEquals(0, v.status(), v.toString());
        assertTrue(v.out().matches("penne \\S+\\n"), v.toString());
        Result h = Dist.run(30, Dist.penne("--help"));
        assertEquals(0, h.status(), h.toString());
        assertTrue(h.out().contains("-c, --conf-path PATH"), h.toString());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "--bogus           | unrecognized option '--bogus'",
        "-x                | invalid option -- 'x'",
        "--dns-forward=127.0.0.1 | invalid --dns-forward value '127.0.0.1': not a usable address",
        "-u 80-70          | option '-u': bad port spec '80-70'",
        "-u %/80           | option '-u': bad port spec '%/80': '' is not an interface name",
        "-T 80,auto        | option '-T': bad port spec '80,auto': 'auto' combined with port ranges is not supported yet",
        "--no-splice --host-lo-to-ns-lo | option '--host-lo-to-ns-lo' is incompatible with '--no-splice'",
        "--splice-only --no-splice | option '--splice-only' is incompatible with '--no-splice'",
        "--fd 3            | option '--fd' is not supported yet",
        "--no-dhcp-dns     | option '--no-dhcp-dns' is for passt mode only",
        "-t 80-70          | option '-t': bad port spec '80-70'",
        "-t abc            | option '-t': bad port spec 'abc'",
        "--tcp-ports=80,,81 | option '--tcp-ports': bad port spec '80,,81'",
        "-t 70000          | option '-t': bad port spec '70000'",
        "--map-guest-addr x | invalid --map-guest-addr value 'x': not an IP address",
        "-a 10.0.0.300     | invalid -a value '10.0.0.300': not an IP address",
        "-g gateway.example | invalid -g value 'gateway.example': not an IP address",
        "--netns x -- true | both --netns and a command given",
        "-m 70000          | invalid -m value '70000': 0 to 65520",
        "-n 255.0.255.0    | invalid -n value '255.0.255.0': a prefix length or netmask",
        "-c                | option requires an argument -- 'c'",
        "--conf-path       | option '--conf-path' requires an argument",
        "--version=3       | option '--version' doesn't allow an argument",
        "--log-size abc    | invalid --log-size value 'abc'",
        "--no              | option '--no' is ambiguous",
    })
    void badOptionIsOneLineNamingItAndStatus2(String args, String message) throws Exception {
        Result r = Dist.run(30, Dist.penne(args.trim().split(" ")));
        assertEquals(2, r.status(), r.toString());
        assertEquals("", r.out(), r.toString());
        assertEquals(1, r.err().lines().count(), r.toString());
        assertTrue(r.err().startsWith("penne: " + message), r.toString());
    }

    @Test
    void instanceAnswersThroughControlSocketAndStopsCleanlyOnSigterm() throws Exception {
        Path sock = tmp.resolve("ctl.sock");
        Process p = startWithCommand(sock);
        Dist.awaitFile(sock, 30_000);
        assertEquals(Set.of("rw-------"), Set.of(PosixFilePermissions.toString(Files.getPosixFilePermissions(sock))));

        Result handlers = Dist.run(30, Dist.ctl(sock.toString(), "penne:handlers"));
        assertEquals(0, handlers.status(), handlers.toString());
        assertTrue(handlers.out().matches("(?s)NAME +STATE +BUNDLE +VERSION +FLOWS +FLOW TYPES +EVENT TYPES\n"
            + "addrconf +bound +io\\.penne\\.addrconf +\\S+ +0 +- +-\n.*"), handlers.toString());

        Result flows = Dist.run(30, Dist.ctl(sock.toString(), "penne:flows"));
        assertEquals(0, flows.status(), flows.toString());
        assertEquals("ID  TYPE  STATE  SIDE 0 (INITIATING)  SIDE 1 (TARGET)  AGE  INFO\n", flows.out());

        Result count = Dist.run(30, Dist.ctl(sock.toString(), "penne:flows", "-c"));
        assertEquals("0\n", count.out(), count.toString());

        Result inst = Dist.run(30, Dist.ctl(sock.toString(), "penne:instances"));
        assertTrue(inst.out().matches("(?s)NAME +FLOWS +CAPACITY +HANDLERS +UPTIME\\ndefault +0 +131071 +\\d+ +\\d.*"),
            inst.toString());

        Result bundles = Dist.run(30, Dist.ctl(sock.toString(), "lb"));
        assertEquals(0, bundles.status(), bundles.toString());
        for (String b : new String[] {"penne :: api", "penne :: core", "penne :: flow", "penne :: linux",
            "penne :: shell", "penne :: addrconf"})
            assertTrue(bundles.out().matches("(?s).*\\|Active *\\|.*" + b.replace("::", "::") + ".*"), bundles.toString());
        assertFalse(bundles.out().contains("Installed") || bundles.out().contains("Resolved "), bundles.toString());

        Result bad = Dist.run(30, Dist.ctl(sock.toString(), "penne:flow", "12"));
        assertEquals(1, bad.status(), bad.toString());
        assertEquals("flow 12 is free\n", bad.err());

        Result unknown = Dist.run(30, Dist.ctl(sock.toString(), "penne:nosuch"));
        assertEquals(1, unknown.status(), unknown.toString());
        assertTrue(unknown.err().contains("penne:nosuch"), unknown.toString());

        p.destroy(); // SIGTERM
        assertTrue(p.waitFor(15, TimeUnit.SECONDS), "penne did not exit on SIGTERM");
        assertFalse(Files.exists(sock), "control socket left behind");
        assertTrue(Dist.pennePids(sock.toString()).isEmpty(), "no penne process left");
        assertTrue(sleepers(sock).isEmpty(), "the command was stopped with penne");
    }

    /** Commands started by {@link #startWithCommand} (a sleep tagged with the socket path). */
    private static List<Long> sleepers(Path sock) {
        List<Long> pids = new ArrayList<>();
        ProcessHandle.allProcesses().forEach(ph -> {
            String line = ph.info().commandLine().orElse("");
            if (line.startsWith("sleep 600") || line.contains("sh -c sleep 600 #" + sock))
                pids.add(ph.pid());
        });
        return pids;
    }

    /**
     * As pasta's, the command is process 1 of a PID namespace of its own: what it leaves running
     * (here a background sleep) ends with it instead of outliving penne, and {@code /proc} inside
     * shows only the namespace's processes.
     */
    @Test
    void theCommandsLeftoversEndWithIt() throws Exception {
        String sleep = "sleep 600." + ProcessHandle.current().pid(); // a command line only this test runs
        Result r = Dist.run(60, Dist.penne("-t", "none", "-T", "none", "-u", "none", "-U", "none", "--", "sh", "-c",
            sleep + " & echo pid $$; ls /proc | grep -c '^[0-9]'; exit 3"));
        assertEquals(3, r.status(), r.toString());
        assertTrue(r.out().startsWith("pid 1\n"), r.toString());
        int seen = Integer.parseInt(r.out().split("\n")[1].trim());
        assertTrue(seen <= 4, "only the namespace's processes in its /proc: " + r);
        long deadline = System.currentTimeMillis() + 5000;
        List<Long> left;
        do {
            left = ProcessHandle.allProcesses().filter(ph -> ph.info().commandLine().orElse("").equals(sleep))
                .map(ProcessHandle::pid).collect(Collectors.toList());
        } while (!left.isEmpty() && System.currentTimeMillis() < deadline && sleepMs(100));
        left.forEach(pid -> ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly));
        assertTrue(left.isEmpty(), "left running: " + left);
    }

    private static boolean sleepMs(long ms) throws InterruptedException {
        Thread.sleep(ms);
        return true;
    }

    @Test
    void commandRunsInANamespaceWithTheHostsAddressesAndItsExitStatusIsPenne() throws Exception {
        Result r = Dist.run(60, Dist.penne("--", "sh", "-c", "ip -o addr show scope global; ip route; exit 7"));
        assertEquals(7, r.status(), r.toString());
        String host = new String(new ProcessBuilder("ip", "route", "show", "default").start().getInputStream()
            .readAllBytes()).trim();
        if (!host.isEmpty())
            assertTrue(r.out().contains("default via " + host.split("\\s+")[2]), "gateway copied: " + r);
        Result missing = Dist.run(60, Dist.penne("--", "/nonexistent/command"));
        assertEquals(127, missing.status(), missing.toString());
        assertTrue(missing.err().contains("cannot run '/nonexistent/command'"), missing.toString());
    }

    /**
     * pasta's -t end to end: a one-shot server in the namespace, a host
     * client on 127.0.0.1 (retrying until the server listens: before that
     * the guest's RST resets it), penne's exit status is the server's.
     */
    @Test
    void tcpPortForwardedIntoTheNamespace() throws Exception {
        forwardedPortAnswers("-t");
    }

    /** Without -t, as pasta: "auto", the ports something listens on in the namespace are forwarded. */
    @Test
    void withoutTcpPortsListeningPortsOfTheNamespaceAreForwarded() throws Exception {
        forwardedPortAnswers(null);
    }

    private void forwardedPortAnswers(String option) throws Exception {
        assumeTrue(Dist.run(10, List.of("sh", "-c", "command -v python3")).status() == 0, "no python3");
        // Below the ephemeral range: "auto" skips it, as pasta.
        int port = 0;
        java.util.Random rnd = new java.util.Random();
        while (port == 0) {
            int p = 20000 + rnd.nextInt(10000);
            try (java.net.ServerSocket probe = new java.net.ServerSocket(p)) {
                port = p;
            } catch (IOException e) {
                // taken: another
            }
        }
        String server = pongServer(port);
        List<String> cmd = option == null ? Dist.penne("--", "python3", "-c", server)
            : Dist.penne(option, String.valueOf(port), "--", "python3", "-c", server);
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(tmp.resolve("out").toFile())
            .start();
        started.add(p);
        String reply = pingUntilAnswered("127.0.0.1", port, 60, p::isAlive);
        assertEquals("pong ping", reply, "output: " + Files.readString(tmp.resolve("out")));
        assertTrue(p.waitFor(30, TimeUnit.SECONDS), "penne did not exit with its command");
        assertEquals(0, p.exitValue(), Files.readString(tmp.resolve("out")));
    }

    /** As pasta: an explicitly forwarded port that cannot be listened on stops penne at start (status 1). */
    @Test
    void forwardedPortInUseIsRefusedAtStart() throws Exception {
        try (java.net.ServerSocket taken = new java.net.ServerSocket(0, 1, java.net.InetAddress.getByName("0.0.0.0"))) {
            int port = taken.getLocalPort();
            long t0 = System.nanoTime();
            Dist.Result r = Dist.run(30, Dist.penne("-t", "1," + port, "--", "true"));
            assertEquals(1, r.status(), r.toString());
            assertTrue(r.err().contains("-t 1," + port + ": cannot listen on IPv4 TCP port " + port)
                && r.err().contains("Address already in use"), r.toString());
            assertEquals(1, r.err().lines().filter(l -> l.contains("cannot listen")).count(), "said once: " + r);
            assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(10), "refused at once");
        }
        // "all" skips what it cannot bind, as pasta.
        assertEquals(0, Dist.run(60, Dist.penne("-t", "~1-65000", "--", "true")).status());
    }

    /**
     * Attached to a namespace (podman's way), penne says it is ready (writes its pid file; a
     * daemon's parent returns) only once every protocol handler is attached, as pasta forks
     * only when its ports listen: podman starts the container then, and its first packets
     * must find the handlers. penne used to say so as soon as the instance was up, before
     * the ICMP, TCP, splice and UDP handlers were bound (its debug log showed "ready"
     * first), so a first datagram could be dropped.
     */
    @Test
    void readyOnlyOnceTheHandlersAreAttached() throws Exception {
        String ns = "ready-" + ProcessHandle.current().pid();
        assertEquals(0, Dist.run(30, List.of("ip", "netns", "add", ns)).status());
        Path pid = tmp.resolve("ready.pid");
        Path out = tmp.resolve("ready.out");
        Process p = new ProcessBuilder(Dist.penne("-f", "-d", "--config-net", "--netns", "/run/netns/" + ns,
            "-t", "none", "-u", "none", "-T", "none", "-U", "none", "--pid", pid.toString()))
            .redirectErrorStream(true).redirectOutput(out.toFile()).start();
        try {
            Dist.awaitFile(pid, 60_000);
            Thread.sleep(500); // anything bound late would be logged by now
            List<String> lines = Files.readAllLines(out);
            int ready = -1;
            List<String> bound = new ArrayList<>();
            for (int i = 0; i < lines.size(); i++) {
                if (lines.get(i).contains(": ready in "))
                    ready = i;
                if (lines.get(i).matches(".*instance default: bound \\S+ from .*"))
                    bound.add(i + " " + lines.get(i));
            }
            assertTrue(ready >= 0, String.join("\n", lines));
            assertEquals(5, bound.size(), "addrconf, icmp, tcp, tcp-splice, udp: " + String.join("\n", lines));
            for (String b : bound)
                assertTrue(Integer.parseInt(b.split(" ")[0]) < ready, "bound after ready: " + String.join("\n", lines));
        } finally {
            p.destroy();
            if (!p.waitFor(30, TimeUnit.SECONDS))
                p.destroyForcibly();
            Dist.run(30, List.of("ip", "netns", "del", ns));
        }
    }

    /**
     * As pasta ("Can't open enough sockets for port specifier"): forwards that need more
     * listening sockets than the open-files limit allows stop penne at start with a message
     * naming the spec and the limit, instead of taking every descriptor (penne then could not
     * even start its command); forwards that fit under the same limit run.
     */
    @Test
    void forwardsBeyondTheOpenFilesLimitAreRefusedAtStart() throws Exception {
        String penne = Dist.penne("-t", "~22", "-u", "none", "--", "echo", "ran").stream()
            .map(a -> "'" + a + "'").collect(Collectors.joining(" "));
        Dist.Result r = Dist.run(60, List.of("sh", "-c", "ulimit -n 3000 && exec " + penne));
        assertEquals(1, r.status(), r.toString());
        assertTrue(r.err().contains("cannot open enough sockets for the forwarded ports (-t ~22)")
            && r.err().contains("limit (RLIMIT_NOFILE, 'ulimit -n') of 3000"), r.toString());
        assertEquals(1, r.err().lines().filter(l -> l.contains("cannot open enough sockets")).count(), "said once: " + r);
        assertFalse(r.out().contains("ran"), r.toString());
        // 600 ports for TCP and UDP, both families: 2400 sockets, within the same limit.
        penne = Dist.penne("-t", "20000-20599", "-u", "20000-20599", "--", "echo", "ran").stream()
            .map(a -> "'" + a + "'").collect(Collectors.joining(" "));
        r = Dist.run(60, List.of("sh", "-c", "ulimit -n 3000 && exec " + penne));
        assertEquals(0, r.status(), r.toString());
        assertTrue(r.out().contains("ran"), r.toString());
    }

    /**
     * pasta's --freebind: a -t or -u address the host does not have is refused at start, unless
     * --freebind, and then the forward is there once the host gets the address.
     */
    @Test
    void freebindAllowsForwardsOnAnAddressTheHostDoesNotHaveYet() throws Exception {
        int port = 20000 + new java.util.Random().nextInt(10000);
        String absent = "198.51.100.77"; // TEST-NET-2: not configured here
        Dist.Result r = Dist.run(30, Dist.penne("-t", absent + "/" + port, "--", "true"));
        assertEquals(1, r.status(), r.toString());
        assertTrue(r.err().contains("Cannot assign requested address") || r.err().contains("EADDRNOTAVAIL"),
            r.toString());
        // With --freebind penne starts, and both sockets are bound to that address on the host.
        Process p = new ProcessBuilder(Dist.penne("--freebind", "-t", absent + "/" + port, "-u", absent + "/" + port,
            "--", "sleep", "30")).redirectErrorStream(true).redirectOutput(tmp.resolve("freebind.log").toFile())
            .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        started.add(p);
        String want = absent + ":" + port;
        String seen = "";
        for (int i = 0; i < 200 && !(seen.contains("tcp") && seen.contains("udp")); i++) {
            Thread.sleep(50);
            seen = Dist.run(10, List.of("ss", "-Hltun", "src", absent)).out();
        }
        assertTrue(seen.contains("tcp") && seen.contains("udp") && seen.contains(want),
            "TCP and UDP bound to " + want + ": " + seen + Files.readString(tmp.resolve("freebind.log")));
        p.destroy();
        assertTrue(p.waitFor(20, TimeUnit.SECONDS));
    }

    @Test
    void namespaceOptionsArePastas() throws Exception {
        Result r = Dist.run(60, Dist.penne("-I", "eth7", "-m", "1500", "-a", "10.9.8.7", "-n", "255.255.255.0",
            "-g", "10.9.8.1", "--ns-mac-addr", "9a:55:9a:55:9a:56", "-4", "--",
            "sh", "-c", "ip -o link show eth7; ip -o addr show dev eth7; ip route"));
        assertEquals(0, r.status(), r.toString());
        assertTrue(r.out().contains("mtu 1500"), r.toString());
        assertTrue(r.out().contains("9a:55:9a:55:9a:56"), r.toString());
        assertTrue(r.out().contains("inet 10.9.8.7/24"), r.toString());
        assertTrue(r.out().contains("default via 10.9.8.1 dev eth7"), r.toString());
        assertFalse(r.out().matches("(?s).*inet6 [0-9a-f:]+/\\d+ scope global.*"), "-4: no global IPv6: " + r);
    }

    @Test
    void namespaceResolvesItsGatewayToPenne() throws Exception {
        Result r = Dist.run(60, Dist.penne("--", "sh", "-c",
            "gw=$(ip route show default | awk '{print $3}'); [ -n \"$gw\" ] || exit 99;"
                + " timeout 1 bash -c \"exec 3<>/dev/tcp/$gw/9\" 2>/dev/null; ip neigh show $gw"));
        assumeTrue(r.status() != 99, "no IPv4 default route on this host");
        assertTrue(r.out().contains("lladdr 9a:55:9a:55:9a:55"), r.toString());
    }

    /** pasta's -M: penne answers the guest's ARP and sends its frames from that MAC. */
    @Test
    void macAddrIsPennesOwnTowardsTheGuest() throws Exception {
        Result r = Dist.run(60, Dist.penne("-M", "02:11:22:33:44:55", "--", "sh", "-c",
            "gw=$(ip route show default | awk '{print $3}'); [ -n \"$gw\" ] || exit 99;"
                + " timeout 1 bash -c \"exec 3<>/dev/tcp/$gw/9\" 2>/dev/null; ip neigh show $gw"));
        assumeTrue(r.status() != 99, "no IPv4 default route on this host");
        assertTrue(r.out().contains("lladdr 02:11:22:33:44:55"), r.toString());
        r = Dist.run(60, Dist.penne("-M", "01:00:5e:00:00:01", "--", "true"));
        assertEquals(1, r.status(), r.toString());
        assertTrue(r.err().contains("'mac'") && r.err().contains("unicast"), r.toString());
    }

    /**
     * passt's own tests reach the host "via tap" at the namespace's IPv6 gateway with a zone
     * ({@code [GW6%IFNAME]}), a link-local address when it comes from a router advertisement:
     * TCP and UDP to the host's link-local address reach the host, through its IPv6 interface.
     */
    @Test
    void linkLocalDestinationsReachTheHost() throws Exception {
        String route = Dist.run(30, List.of("ip", "-6", "route", "show", "default")).out().trim();
        assumeTrue(!route.isEmpty(), "no IPv6 default route on this host");
        String dev = route.split("\\s+")[4];
        String ll = Dist.run(30, List.of("sh", "-c", "ip -6 -o addr show dev " + dev
            + " scope link | awk '{print $4}' | cut -d/ -f1 | head -1")).out().trim();
        assumeTrue(!ll.isEmpty(), "no link-local address on " + dev);
        try (java.net.ServerSocket tcp = new java.net.ServerSocket(0, 1, java.net.InetAddress.getByName("::"));
             java.net.DatagramSocket udp = new java.net.DatagramSocket(0, java.net.InetAddress.getByName("::"))) {
            Thread server = new Thread(() -> {
                try (java.net.Socket c = tcp.accept()) {
                    c.getOutputStream().write("tcp-pong".getBytes());
                    java.net.DatagramPacket p = new java.net.DatagramPacket(new byte[64], 64);
                    udp.receive(p);
                    udp.send(new java.net.DatagramPacket("udp-pong".getBytes(), 8, p.getSocketAddress()));
                } catch (IOException e) {
                    // the client reports what did not arrive
                }
            });
            server.setDaemon(true);
            server.start();
            // The tap takes the upstream interface's name, so the zone is the same name inside.
            String py = "import socket\n"
                + "t=socket.create_connection(('" + ll + "%" + dev + "'," + tcp.getLocalPort() + "),5)\n"
                + "print(t.recv(100).decode())\n"
                + "u=socket.socket(socket.AF_INET6,socket.SOCK_DGRAM); u.settimeout(5)\n"
                + "u.sendto(b'ping',('" + ll + "%" + dev + "'," + udp.getLocalPort() + "))\n"
                + "print(u.recv(100).decode())\n";
            Result r = Dist.run(60, Dist.penne("--", "python3", "-c", py));
            assertEquals(0, r.status(), r.toString());
            assertEquals("tcp-pong\nudp-pong", r.out().trim(), r.toString());
        }
    }

    @Test
    void attachedToANamespaceGoesToBackgroundWhenReadyAndQuitsWhenItIsGone() throws Exception {
        assumeTrue(isRoot(), "creates a named namespace with ip netns");
        String name = "penne-it-" + ProcessHandle.current().pid();
        assertEquals(0, Dist.run(30, List.of("ip", "netns", "add", name)).status());
        Path sock = tmp.resolve("attach.sock");
        Path pid = tmp.resolve("attach.pid");
        markers.add(sock.toString());
        try {
            Result r = Dist.run(60, Dist.penne("--netns", name, "--config-net", "-c", sock.toString(), "-P",
                pid.toString()));
            assertEquals(0, r.status(), r.toString());
            assertTrue(Files.exists(sock) && Files.exists(pid), "ready when it returns");
            Result links = Dist.run(30, List.of("ip", "-n", name, "-o", "link", "show"));
            assertTrue(links.out().contains("state UP") || links.out().contains("UNKNOWN"), links.toString());
            // Only a namespace penne creates gets tcp_tw_reuse 1 (see NamespaceSpliceIT); this one keeps its own.
            Result reuse = Dist.run(30, List.of("ip", "netns", "exec", name, "cat", "/proc/sys/net/ipv4/tcp_tw_reuse"));
            assertEquals("2", reuse.out().trim(), reuse.toString());
            long p = Long.parseLong(Files.readString(pid).trim());
            assertEquals(0, Dist.run(30, List.of("ip", "netns", "del", name)).status());
            ProcessHandle.of(p).ifPresent(ph -> ph.onExit().orTimeout(10, TimeUnit.SECONDS).join());
            assertFalse(ProcessHandle.of(p).map(ProcessHandle::isAlive).orElse(false), "penne quit");
            assertFalse(Files.exists(sock), "control socket removed");
        } finally {
            Dist.run(30, List.of("ip", "netns", "del", name));
        }
    }

    /**
     * pasta's own test suite attaches without --config-net ("pasta -f -t PORT ... PID"): the tap is
     * left down and unconfigured, but -t listens on the host at once, and once the guest takes the
     * host's address itself (pasta would offer it by DHCP) a host client reaches its server.
     */
    @Test
    void attachedWithoutConfigNetLeavesTheTapAloneAndForwardsOnceTheGuestTakesTheAddress() throws Exception {
        assumeTrue(isRoot(), "creates a named namespace with ip netns");
        assumeTrue(Dist.run(10, List.of("sh", "-c", "command -v python3")).status() == 0, "no python3");
        String name = "penne-nc-" + ProcessHandle.current().pid();
        assertEquals(0, Dist.run(30, List.of("ip", "netns", "add", name)).status());
        Path sock = tmp.resolve("nc.sock");
        Path pid = tmp.resolve("nc.pid");
        markers.add(sock.toString());
        int port = 20000 + new java.util.Random().nextInt(10000);
        Process server = null;
        try {
            Result r = Dist.run(60, Dist.penne("--netns", name, "-t", String.valueOf(port), "-T", "none", "-u",
                "none", "-U", "none", "-c", sock.toString(), "-P", pid.toString()));
            assertEquals(0, r.status(), r.toString());
            assertEquals("", Dist.run(30, List.of("ip", "-n", name, "-o", "addr", "show", "scope", "global"))
                .out().trim(), "no address configured without --config-net");
            // The guest configures itself with the host's address, prefix and gateway.
            String route = Dist.run(30, List.of("ip", "-4", "route", "show", "default")).out().trim();
            String[] rw = route.split("\\s+");
            String gw = rw[2], dev = rw[4];
            String addr = Dist.run(30, List.of("sh", "-c", "ip -4 -o addr show dev " + dev
                + " scope global | awk '{print $4}' | head -1")).out().trim();
            assertEquals(0, Dist.run(30, List.of("ip", "-n", name, "link", "set", dev, "up")).status());
            assertEquals(0, Dist.run(30, List.of("ip", "-n", name, "addr", "add", addr, "dev", dev)).status());
            assertEquals(0, Dist.run(30, List.of("ip", "-n", name, "route", "add", "default", "via", gw)).status());
            server = new ProcessBuilder("ip", "netns", "exec", name, "python3", "-c", pongServer(port)).start();
            String host = addr.substring(0, addr.indexOf('/'));
            assertEquals("pong ping", pingUntilAnswered(host, port, 30, () -> true));
        } finally {
            if (server != null)
                server.destroyForcibly();
            if (Files.exists(pid))
                Dist.run(30, List.of("kill", Files.readString(pid).trim()));
            Dist.run(30, List.of("ip", "netns", "del", name));
        }
    }

    /**
     * --splice-only, as pasta: no tap device in the namespace; host loopback clients of -t and -u
     * reach the namespace's loopback (IPv4 and IPv6), clients from any other address are refused.
     */
    @Test
    void spliceOnlyForwardsLoopbackWithoutATap() throws Exception {
        assumeTrue(Dist.run(10, List.of("sh", "-c", "command -v python3")).status() == 0, "no python3");
        int port = 21000 + new java.util.Random().nextInt(9000);
        Path ready = tmp.resolve("so.ready"), done = tmp.resolve("so.done"), sock = tmp.resolve("so.sock");
        markers.add(sock.toString());
        Path py = tmp.resolve("so.py");
        Files.writeString(py, String.join("\n",
            "import socket, subprocess, sys, threading, time, os",
            "port = int(sys.argv[1])",
            "links = subprocess.run(['ip', '-o', 'link'], capture_output=True, text=True).stdout",
            "def tcp(fam, addr):",
            "    t = socket.socket(fam); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)",
            "    t.bind((addr, port)); t.listen()",
            "    while True:",
            "        c, a = t.accept(); c.sendall(b'tcp ' + addr.encode() + b' ' + c.recv(100)); c.close()",
            "u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(('127.0.0.1', port))",
            "def udp():",
            "    while True:",
            "        d, a = u.recvfrom(100); u.sendto(b'udp ' + d, a)",
            "for f in (lambda: tcp(socket.AF_INET, '127.0.0.1'), lambda: tcp(socket.AF_INET6, '::1'), udp):",
            "    threading.Thread(target=f, daemon=True).start()",
            "time.sleep(0.5)",
            "open(sys.argv[2], 'w').write(links)",
            "while not os.path.exists(sys.argv[3]): time.sleep(0.05)",
            ""));
        Process p = new ProcessBuilder(Dist.penne("--splice-only", "-t", String.valueOf(port), "-u", String.valueOf(port),
            "-T", "none", "-U", "none", "-c", sock.toString(), "--", "python3", py.toString(), String.valueOf(port),
            ready.toString(), done.toString())).redirectErrorStream(true)
            .redirectOutput(tmp.resolve("so.log").toFile()).start();
        started.add(p);
        Dist.awaitFile(ready, 30_000);
        Thread.sleep(200); // the file is written once the listeners are up; let its contents land
        String links = Files.readString(ready);
        assertTrue(links.contains("lo:") && links.trim().split("\n").length == 1, "only lo: " + links);
        for (String host : new String[] {"127.0.0.1", "::1"}) {
            try (java.net.Socket c = new java.net.Socket(host, port)) {
                c.getOutputStream().write("hi".getBytes());
                c.shutdownOutput();
                assertEquals("tcp " + host + " hi", new String(c.getInputStream().readAllBytes()));
            }
        }
        try (java.net.DatagramSocket u = new java.net.DatagramSocket()) {
            u.setSoTimeout(5000);
            byte[] x = "x".getBytes();
            u.send(new java.net.DatagramPacket(x, 1, java.net.InetAddress.getByName("127.0.0.1"), port));
            java.net.DatagramPacket in = new java.net.DatagramPacket(new byte[100], 100);
            u.receive(in);
            assertEquals("udp x", new String(in.getData(), 0, in.getLength()));
        }
        String own = Dist.run(30, List.of("sh", "-c", "ip -4 -o addr show scope global | awk '{print $4}' | cut -d/ -f1"
            + " | head -1")).out().trim();
        if (!own.isEmpty()) {
            try (java.net.Socket c = new java.net.Socket(own, port)) {
                c.setSoTimeout(5000);
                assertEquals(-1, c.getInputStream().read(), "nothing from a refused client");
            } catch (java.net.SocketException refused) {
                // reset at once, as pasta
            }
            String stats = Dist.run(30, Dist.ctl(sock.toString(), "penne:stats")).out();
            assertTrue(stats.matches("(?s).*tcp\\.refused\\.no_device\\s+1\\b.*"), stats);
        }
        Files.writeString(done, "");
        assertTrue(p.waitFor(30, java.util.concurrent.TimeUnit.SECONDS), "penne exits with its command");
        assertEquals(0, p.exitValue(), Files.readString(tmp.resolve("so.log")));
    }

    /**
     * -i/--interface, as pasta: the namespace copies the addresses of the named host interface (and
     * takes its name) instead of the default route's; an unknown name stops penne at start.
     */
    @Test
    void interfaceOptionPicksTheHostInterfaceToCopy() throws Exception {
        assumeTrue(isRoot(), "adds an interface to the host");
        String dummy = "pdum" + (ProcessHandle.current().pid() % 100000);
        // a dummy interface where the kernel has them, else a veth pair (deleting one end deletes both)
        if (Dist.run(30, List.of("ip", "link", "add", dummy, "type", "dummy")).status() != 0)
            assertEquals(0, Dist.run(30, List.of("ip", "link", "add", dummy, "type", "veth", "peer", "name",
                dummy + "p")).status());
        try {
            assertEquals(0, Dist.run(30, List.of("ip", "addr", "add", "198.51.100.7/24", "dev", dummy)).status());
            assertEquals(0, Dist.run(30, List.of("ip", "-6", "addr", "add", "2001:db8:77::7/64", "dev", dummy,
                "nodad")).status());
            assertEquals(0, Dist.run(30, List.of("ip", "link", "set", dummy, "up")).status());
            Result r = Dist.run(60, Dist.penne("-i", dummy, "-t", "none", "-T", "none", "-u", "none", "-U", "none",
                "--", "ip", "-o", "addr", "show", "scope", "global"));
            assertEquals(0, r.status(), r.toString());
            assertTrue(r.out().contains(dummy + "    inet 198.51.100.7/24"), r.toString());
            assertTrue(r.out().contains(dummy + "    inet6 2001:db8:77::7/64"), r.toString());
        } finally {
            Dist.run(30, List.of("ip", "link", "del", dummy));
        }
        Result refused = Dist.run(60, Dist.penne("-i", "nosuch0", "--", "true"));
        assertTrue(refused.status() != 0, refused.toString());
        assertTrue(refused.err().contains("no host interface 'nosuch0' (-i, --interface"), refused.toString());
    }

    /**
     * -o/--outbound and --outbound-if4, as pasta: the namespace's TCP connections and UDP flows to the
     * world leave from the given host address, or through the given host interface. The "world" is a
     * namespace behind a veth pair whose host end has two addresses; its servers report the peer.
     */
    @Test
    void outboundAddressAndInterfaceBindTheHostSockets() throws Exception {
        assumeTrue(isRoot(), "adds a veth pair and a namespace to the host");
        assumeTrue(Dist.run(10, List.of("sh", "-c", "command -v python3")).status() == 0, "no python3");
        String id = String.valueOf(ProcessHandle.current().pid() % 100000);
        String remote = "penne-rm-" + id, veth = "pob" + id;
        Process server = null;
        try {
            assertEquals(0, Dist.run(30, List.of("ip", "netns", "add", remote)).status());
            assertEquals(0, Dist.run(30, List.of("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0",
                "netns", remote)).status());
            for (List<String> cmd : List.of(
                List.of("ip", "addr", "add", "198.51.100.1/24", "dev", veth),
                List.of("ip", "addr", "add", "198.51.100.2/24", "dev", veth),
                List.of("ip", "link", "set", veth, "up"),
                List.of("ip", "-n", remote, "addr", "add", "198.51.100.10/24", "dev", "eth0"),
                List.of("ip", "-n", remote, "link", "set", "eth0", "up"),
                List.of("ip", "-n", remote, "link", "set", "lo", "up")))
                assertEquals(0, Dist.run(30, cmd).status(), cmd.toString());
            int port = 22000 + new java.util.Random().nextInt(9000);
            server = new ProcessBuilder("ip", "netns", "exec", remote, "python3", "-c", String.join("\n",
                "import socket, threading",
                "t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)",
                "t.bind(('198.51.100.10', " + port + ")); t.listen()",
                "u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(('198.51.100.10', " + port + "))",
                "def udp():",
                "    while True:",
                "        d, a = u.recvfrom(100); u.sendto(a[0].encode(), a)",
                "threading.Thread(target=udp, daemon=True).start()",
                "while True:",
                "    c, a = t.accept(); c.sendall(a[0].encode()); c.close()")).start();
            String client = String.join("\n",
                "import socket, time",
                "for i in range(50):",
                "    try:",
                "        print('tcp', socket.create_connection(('198.51.100.10', " + port + "), timeout=2).recv(100).decode()); break",
                "    except ConnectionRefusedError: time.sleep(0.1)",
                "    except OSError as e: print('tcp failed', e.__class__.__name__); break",
                "u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(2)",
                "u.sendto(b'x', ('198.51.100.10', " + port + "))",
                "try: print('udp', u.recv(100).decode())",
                "except OSError as e: print('udp failed', e.__class__.__name__)");
            List<String> base = List.of("-t", "none", "-T", "none", "-u", "none", "-U", "none");
            Result plain = Dist.run(60, Dist.penne(concat(base, "--", "python3", "-c", client)));
            assertTrue(plain.out().contains("tcp 198.51.100.1\n") && plain.out().contains("udp 198.51.100.1\n"),
                "the kernel's choice without -o: " + plain);
            Result bound = Dist.run(60, Dist.penne(concat(base, "-o", "198.51.100.2", "--", "python3", "-c", client)));
            assertTrue(bound.out().contains("tcp 198.51.100.2\n") && bound.out().contains("udp 198.51.100.2\n"),
                "-o 198.51.100.2: " + bound);
            String upstream = Dist.run(30, List.of("sh", "-c", "ip -4 route show default | awk '{print $5}'")).out().trim();
            Result viaVeth = Dist.run(60, Dist.penne(concat(base, "-i", upstream, "--outbound-if4", veth, "--",
                "python3", "-c", client)));
            assertTrue(viaVeth.out().contains("tcp 198.51.100.1\n"), "--outbound-if4 " + veth + ": " + viaVeth);
            Result viaLo = Dist.run(60, Dist.penne(concat(base, "-i", upstream, "--outbound-if4", "lo", "--",
                "python3", "-c", client)));
            assertTrue(viaLo.out().contains("tcp failed"), "--outbound-if4 lo cannot reach the world: " + viaLo);
        } finally {
            if (server != null)
                server.destroyForcibly();
            Dist.run(30, List.of("ip", "link", "del", veth));
            Dist.run(30, List.of("ip", "netns", "del", remote));
        }
    }

    private static String[] concat(List<String> first, String... rest) {
        List<String> all = new ArrayList<>(first);
        all.addAll(List.of(rest));
        return all.toArray(new String[0]);
    }

    /**
     * -p/--pcap, as pasta: the guest's frames both ways land in a libpcap file (here a datagram the
     * namespace sends, and the ARP reply it gets for its gateway); a file that cannot be written stops
     * penne at start with its name.
     */
    @Test
    void pcapCapturesTheGuestsFramesBothWays() throws Exception {
        assumeTrue(Dist.run(10, List.of("sh", "-c", "command -v python3")).status() == 0, "no python3");
        Path cap = tmp.resolve("guest.pcap");
        Result r = Dist.run(60, Dist.penne("-p", cap.toString(), "-t", "none", "-T", "none", "-u", "none", "-U",
            "none", "--", "python3", "-c", String.join("\n",
                "import socket, subprocess",
                "gw = subprocess.run(['ip', '-4', 'route', 'show', 'default'], capture_output=True, text=True).stdout.split()[2]",
                "socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'penne-pcap', (gw, 9))")));
        assertEquals(0, r.status(), r.toString());
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(Files.readAllBytes(cap));
        b.order(b.getInt(0) == 0xa1b2c3d4 ? java.nio.ByteOrder.BIG_ENDIAN : java.nio.ByteOrder.LITTLE_ENDIAN);
        assertEquals(0xa1b2c3d4, b.getInt(0));
        assertEquals(1, b.getInt(20), "Ethernet");
        boolean datagram = false, arpReply = false;
        for (int rec = 24; rec + 16 <= b.capacity(); rec += 16 + b.getInt(rec + 8)) {
            int len = b.getInt(rec + 8), f = rec + 16;
            java.nio.ByteBuffer fr = b.duplicate().order(java.nio.ByteOrder.BIG_ENDIAN);
            int type = fr.getShort(f + 12) & 0xffff;
            if (type == 0x0800 && fr.get(f + 23) == 17 && fr.getShort(f + 36) == 9
                && new String(Files.readAllBytes(cap), f + 42, len - 42, java.nio.charset.StandardCharsets.US_ASCII)
                    .equals("penne-pcap"))
                datagram = true;
            if (type == 0x0806 && fr.getShort(f + 20) == 2) // ARP reply: from penne to the guest
                arpReply = true;
        }
        assertTrue(datagram, "the namespace's datagram to port 9");
        assertTrue(arpReply, "penne's ARP reply to the namespace");

        Path bad = tmp.resolve("missing/dir/guest.pcap");
        Result refused = Dist.run(60, Dist.penne("-p", bad.toString(), "--", "true"));
        assertTrue(refused.status() != 0, refused.toString());
        assertTrue(refused.err().contains(bad.toString()), refused.toString());
    }

    /**
     * --no-udp and --no-icmp, as pasta: the namespace's UDP datagrams and pings to the host are
     * dropped and counted (drop.protocol_disabled), while TCP still works.
     */
    @Test
    void noUdpAndNoIcmpDropThoseProtocolsAndCountThem() throws Exception {
        assumeTrue(Dist.run(10, List.of("sh", "-c", "command -v python3")).status() == 0, "no python3");
        Path sock = tmp.resolve("noproto.sock");
        markers.add(sock.toString());
        Path py = tmp.resolve("noproto.py");
        Files.writeString(py, String.join("\n",
            "import socket, struct, subprocess, sys",
            "gw = subprocess.run(['ip', 'route', 'show', 'default'], capture_output=True, text=True).stdout.split()[2]",
            "u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)",
            "for i in range(5): u.sendto(b'x', (gw, 9))",
            "r = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP); r.settimeout(1)",
            "pkt = struct.pack('!BBHHH', 8, 0, 0, 0x5151, 1) + b'penne'",
            "b = pkt + b'\\0'; c = sum(struct.unpack('!%dH' % (len(b) // 2), b)); c = (c >> 16) + (c & 0xffff); c += c >> 16",
            "r.sendto(pkt[:2] + struct.pack('!H', ~c & 0xffff) + pkt[4:], (gw, 0))",
            "try:",
            "    while r.recv(2000)[20] != 0: pass",
            "    print('ping answered')",
            "except socket.timeout:",
            "    print('ping dropped')",
            "sys.stdout.flush()",
            "subprocess.run([sys.argv[1], sys.argv[2], 'penne:stats'])",
            ""));
        Result r = Dist.run(60, Dist.penne("-c", sock.toString(), "--no-udp", "--no-icmp", "-t", "none", "-T",
            "none", "--", "python3", py.toString(), Dist.CTL.toString(), sock.toString()));
        assertEquals(0, r.status(), r.toString());
        assertTrue(r.out().contains("ping dropped"), r.toString());
        // 5 datagrams and the ping, plus whatever ICMPv6 the namespace sends by itself (MLD reports)
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("drop\\.protocol_disabled\\s+(\\d+)").matcher(r.out());
        assertTrue(m.find() && Integer.parseInt(m.group(1)) >= 6, r.toString());
        // Without the switches the same ping is answered.
        Result on = Dist.run(60, Dist.penne("-c", sock.toString(), "-t", "none", "-T", "none", "--", "python3",
            py.toString(), Dist.CTL.toString(), sock.toString()));
        assertTrue(on.out().contains("ping answered"), on.toString());
    }

    @Test
    void stopFromShellEndsProcessAndCommand() throws Exception {
        Path sock = tmp.resolve("stop.sock");
        Process p = startWithCommand(sock);
        Dist.awaitFile(sock, 30_000);
        Dist.run(30, Dist.ctl(sock.toString(), "stop", "0"));
        assertTrue(p.waitFor(15, TimeUnit.SECONDS), "penne did not exit after 'stop 0'");
        assertEquals(0, p.exitValue());
        assertTrue(sleepers(sock).isEmpty(), "the command was stopped with penne");
    }

    @Test
    void consoleRunsLinesFromStandardInputAndCompletesCommandNames() throws Exception {
        Path sock = tmp.resolve("console.sock");
        startWithCommand(sock);
        awaitCtl(sock);
        // Without a terminal the console reads lines from standard input until EOF.
        Path input = tmp.resolve("input.txt");
        Files.writeString(input, "x = 7\npenne:flows -c\n");
        Process p = new ProcessBuilder(Dist.ctl(sock.toString())).redirectErrorStream(true)
            .redirectInput(input.toFile()).start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        assertTrue(out.contains("7") && out.matches("(?s).*\\b0\\s*\\n.*"), out);

        // Completion as the console asks for it: frame 'C' with the line so far.
        try (var ch = java.nio.channels.SocketChannel.open(java.net.UnixDomainSocketAddress.of(sock));
             var in = new java.io.DataInputStream(java.nio.channels.Channels.newInputStream(ch));
             var o = new java.io.DataOutputStream(java.nio.channels.Channels.newOutputStream(ch))) {
            assertEquals("penne-control 1", readFrame(in, 'H'));
            byte[] line = "penne:fl".getBytes(java.nio.charset.StandardCharsets.UTF_8);
            o.writeByte('C');
            o.writeInt(line.length);
            o.write(line);
            o.flush();
            assertEquals(List.of("penne:flow", "penne:flows"), List.of(readFrame(in, 'L').split("\n")));
        }
    }

    private static String readFrame(java.io.DataInputStream in, char type) throws IOException {
        assertEquals(type, (char) in.readUnsignedByte());
        byte[] b = new byte[in.readInt()];
        in.readFully(b);
        return new String(b, java.nio.charset.StandardCharsets.UTF_8);
    }

    @Test
    void ctlReportsConnectionErrorsWithStatus2() throws Exception {
        Result r = Dist.run(30, Dist.ctl(tmp.resolve("absent.sock").toString(), "penne:flows"));
        assertEquals(2, r.status(), r.toString());
        assertTrue(r.err().startsWith("penne-ctl: " + tmp.resolve("absent.sock")), r.toString());
        Result usage = Dist.run(30, Dist.ctl());
        assertEquals(2, usage.status(), usage.toString());
    }

    @Test
    void secondInstanceOnALiveSocketIsRefused() throws Exception {
        Path sock = tmp.resolve("busy.sock");
        startWithCommand(sock);
        Dist.awaitFile(sock, 30_000);
        Result r = Dist.run(60, Dist.penne("-c", sock.toString(), "--", "true"));
        assertEquals(1, r.status(), r.toString());
        assertTrue(r.err().contains("did not open"), r.toString());
        // The first instance is unaffected.
        assertEquals(0, Dist.run(30, Dist.ctl(sock.toString(), "penne:instances")).status());
    }

    @Test
    void staleSocketFileIsReplaced() throws Exception {
        Path sock = tmp.resolve("stale.sock");
        try (var ch = java.nio.channels.ServerSocketChannel.open(java.net.StandardProtocolFamily.UNIX)) {
            ch.bind(java.net.UnixDomainSocketAddress.of(sock)); // closed without unlink: stale
        }
        assertTrue(Files.exists(sock));
        startWithCommand(sock);
        awaitCtl(sock);
    }

    @Test
    void runsAsUnprivilegedUserFromReadOnlyInstallWithoutWritingToIt() throws Exception {
        assumeTrue(isRoot(), "needs root to switch to an unprivileged user");
        Path home = tmp.resolve("home");
        Files.createDirectories(home);
        Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.setPosixFilePermissions(home, PosixFilePermissions.fromString("rwxrwxrwx"));
        Set<String> before = listing(Dist.HOME);
        Path sock = home.resolve("nobody.sock");
        markers.add(sock.toString());
        assertEquals("rw-rw-rw-", PosixFilePermissions.toString(Files.getPosixFilePermissions(Path.of("/dev/net/tun"))),
            "rootless tap devices need /dev/net/tun at mode 0666 (Debian's default; .ci/run sets it)");
        List<String> cmd = new ArrayList<>(List.of("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
            "env", "-u", "XDG_RUNTIME_DIR", "HOME=" + home));
        // The command runs inside: it asks penne about itself over the control socket, then exits 5.
        cmd.addAll(Dist.penne("-c", sock.toString(), "--", "sh", "-c",
            "id -u; ip -o link show | grep -c UP; " + Dist.CTL + " " + sock + " penne:instances; exit 5"));
        Result r = Dist.run(60, cmd, Path.of("/"));
        assertEquals(5, r.status(), r.toString());
        assertTrue(r.out().startsWith("0\n"), "root inside its user namespace: " + r);
        assertTrue(r.out().contains("\ndefault "), "control socket reachable from inside: " + r);
        assertFalse(Files.exists(sock), "control socket removed");
        assertEquals(before, listing(Dist.HOME), "installation directory was written to");
    }

    /**
     * As pasta's spawn: the command has its own UTS namespace, named "pasta-" and the host's name
     * by default, or -H's; the host keeps its own name. Rootless too (sethostname in the user
     * namespace penne made).
     */
    @Test
    void theCommandHasItsOwnHostname() throws Exception {
        String host = Files.readString(Path.of("/proc/sys/kernel/hostname")).trim();
        Result r = Dist.run(60, Dist.penne("--", "hostname"));
        assertEquals(0, r.status(), r.toString());
        assertEquals("pasta-" + host, r.out().trim(), r.toString());
        r = Dist.run(60, Dist.penne("-H", "penne-box", "--", "sh", "-c", "hostname; exit 3"));
        assertEquals(3, r.status(), r.toString());
        assertEquals("penne-box", r.out().trim(), r.toString());
        assertEquals(host, Files.readString(Path.of("/proc/sys/kernel/hostname")).trim(), "host's name unchanged");
        assumeTrue(isRoot(), "needs root to switch to an unprivileged user");
        List<String> cmd = new ArrayList<>(List.of("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
            "env", "-u", "XDG_RUNTIME_DIR"));
        cmd.addAll(Dist.penne("-H", "rootless-box", "--", "hostname"));
        r = Dist.run(60, cmd, Path.of("/"));
        assertEquals(0, r.status(), r.toString());
        assertEquals("rootless-box", r.out().trim(), r.toString());
    }

    /**
     * passt's test/pasta_options/netns_only: inside "unshare -r", "--netns-only" creates no user
     * namespace of its own; the command's output arrives and -q keeps standard error empty.
     */
    @Test
    void netnsOnlyInsideAUserNamespaceMadeByTheCaller() throws Exception {
        assumeTrue(isRoot(), "needs root to switch to an unprivileged user");
        List<String> cmd = new ArrayList<>(List.of("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
            "env", "-u", "XDG_RUNTIME_DIR", "unshare", "-r", "--"));
        cmd.addAll(Dist.penne("-q", "--netns-only", "--", "echo", "TEST"));
        Result r = Dist.run(60, cmd, Path.of("/"));
        assertEquals(0, r.status(), r.toString());
        assertEquals("TEST", r.out().trim(), r.toString());
        assertEquals("", r.err(), r.toString());
    }

    /**
     * passt's own test setup, rootless: "unshare -rUnpf" holds a user and network namespace, and
     * penne is given its PID. penne must join that PID's user namespace (before its JVM starts)
     * to enter the network namespace, as pasta does; then it forwards -t into it.
     */
    @Test
    void rootlessAttachToAPidJoinsItsUserNamespace() throws Exception {
        assumeTrue(isRoot(), "needs root to switch to an unprivileged user");
        assumeTrue(Dist.run(10, List.of("sh", "-c", "command -v python3")).status() == 0, "no python3");
        Path dir = tmp.resolve("rootless-attach");
        Files.createDirectories(dir);
        Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxrwxrwx"));
        Path pid = dir.resolve("penne.pid");
        int port = 20000 + new java.util.Random().nextInt(10000);
        // As the unprivileged user: the holder, penne attached to it (in the background once ready,
        // -P written then), a server in the namespace on its loopback-free address, a client on the host.
        String script = "unshare -rUnpf sleep 600 & holder=$!; sleep 0.5;"
            + " h=$(pgrep -f '^sleep 600$' -u 65534 -n);"
            + " " + String.join(" ", Dist.penne("--config-net", "-t", String.valueOf(port), "-T", "none", "-u",
                "none", "-U", "none", "-P", pid.toString())) + " $h || exit 7;"
            + " [ -s " + pid + " ] || exit 8;"
            + " nsenter -t $h -U -n --preserve-credentials ip -o addr show scope global | grep -q inet || exit 9;"
            + " nsenter -t $h -U -n --preserve-credentials python3 -c \"" + pongServer(port).replace("\n", ";")
                .replace("\"", "\\\"") + "\" & sleep 1;"
            + " python3 -c \"import socket; s=socket.create_connection(('127.0.0.1'," + port + "),5);"
            + " s.sendall(b'ping'); s.shutdown(socket.SHUT_WR); print(s.recv(100).decode())\";"
            // The holder is its PID namespace's first process: only SIGKILL reaches it from outside.
            + " kill $(cat " + pid + "); kill -9 $h; wait";
        Result r = Dist.run(90, List.of("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
            "env", "-u", "XDG_RUNTIME_DIR", "sh", "-c", script), Path.of("/"));
        assertTrue(r.out().contains("pong ping"), r.toString());
    }

    @Test
    void twoInstancesOfOneUserDoNotShareScratchState() throws Exception {
        Path a = tmp.resolve("a.sock");
        Path b = tmp.resolve("b.sock");
        startWithCommand(a);
        startWithCommand(b);
        awaitCtl(a);
        awaitCtl(b);
        Set<String> dirs = new java.util.HashSet<>();
        for (Path s : List.of(a, b)) {
            for (long pid : Dist.pennePids(s.toString()))
                dirs.addAll(scratchDirsOf(pid));
        }
        assertEquals(2, dirs.size(), "each process has its own runtime directory: " + dirs);
    }

    // ---- helpers ----

    /** penne with a control socket and a long-running command in its namespace. */
    private Process startWithCommand(Path sock) throws IOException {
        markers.add(sock.toString());
        Process p = new ProcessBuilder(Dist.penne("-c", sock.toString(), "--", "sh", "-c", "sleep 600 #" + sock))
            .redirectErrorStream(true).redirectOutput(tmp.resolve(sock.getFileName() + ".log").toFile())
            .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        started.add(p);
        return p;
    }

    private static void awaitCtl(Path sock) throws Exception {
        Dist.awaitFile(sock, 30_000);
        for (int i = 0; i < 100; i++) {
            if (Dist.run(30, Dist.ctl(sock.toString(), "penne:instances")).status() == 0)
                return;
            Thread.sleep(50);
        }
        throw new AssertionError("instance at " + sock + " never answered");
    }

    /** A python server on {@code port} that answers one connection's bytes with "pong " and them. */
    private static String pongServer(int port) {
        return "import socket\n"
            + "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
            + "s.bind(('0.0.0.0'," + port + ")); s.listen(1)\n"
            + "c,a=s.accept(); d=c.recv(100); c.sendall(b'pong '+d); c.close()\n";
    }

    /**
     * Connects to {@code host}:{@code port}, sends "ping" and half-closes, every 100 ms until an
     * answer comes, {@code seconds} pass or {@code alive} turns false; the answer, or null.
     */
    private static String pingUntilAnswered(String host, int port, long seconds,
                                            java.util.function.BooleanSupplier alive) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (System.nanoTime() < deadline && alive.getAsBoolean()) {
            try (java.net.Socket s = new java.net.Socket()) {
                s.connect(new java.net.InetSocketAddress(host, port), 2000);
                s.setSoTimeout(5000);
                s.getOutputStream().write("ping".getBytes());
                s.shutdownOutput();
                String r = new String(s.getInputStream().readAllBytes());
                if (!r.isEmpty())
                    return r;
            } catch (IOException e) {
                // not listening yet (penne not up, or the server inside not yet): try again
            }
            Thread.sleep(100);
        }
        return null;
    }

    private static boolean isRoot() {
        try {
            return (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid") == 0;
        } catch (IOException e) {
            return false;
        }
    }

    private static Set<String> listing(Path dir) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            return s.map(p -> dir.relativize(p) + (Files.isDirectory(p) ? "/" : "")).collect(Collectors.toSet());
        }
    }

    /** Directories named penne-* that the process has open files in (its framework cache). */
    private static Set<String> scratchDirsOf(long pid) throws IOException {
        Set<String> dirs = new java.util.HashSet<>();
        try (Stream<Path> fds = Files.list(Path.of("/proc/" + pid + "/fd"))) {
            fds.forEach(fd -> {
                try {
                    String target = Files.readSymbolicLink(fd).toString();
                    java.util.regex.Matcher m = java.util.regex.Pattern.compile("(.*/penne-\\d+)/").matcher(target);
                    if (m.find())
                        dirs.add(m.group(1));
                } catch (IOException e) {
                    // fd closed meanwhile
                }
            });
        }
        try (Stream<String> maps = Files.lines(Path.of("/proc/" + pid + "/maps"))) {
            maps.forEach(l -> {
                java.util.regex.Matcher m = java.util.regex.Pattern.compile("(/\\S*/penne-\\d+)/").matcher(l);
                if (m.find())
                    dirs.add(m.group(1));
            });
        }
        return dirs;
    }
}
