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

    @AfterEach
    void killLeftovers() {
        for (Process p : started)
            p.destroyForcibly();
        for (String m : markers)
            for (long pid : Dist.pennePids(m))
                ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
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
        "--netns=/proc/1/ns/net | option '--netns' is not supported yet",
        "-t 80             | option '-t' (--tcp-ports) is not supported yet",
        "--config-net      | option '--config-net' is not supported yet",
        "-c                | option requires an argument -- 'c'",
        "--conf-path       | option '--conf-path' requires an argument",
        "--version=3       | option '--version' doesn't allow an argument",
        "--log-size abc    | invalid --log-size value 'abc'",
        "--no              | option '--no' is ambiguous",
        "-f sleep          | running a command or joining a PID's namespace ('sleep') is not supported yet",
    })
    void badOptionIsOneLineNamingItAndStatus2(String args, String message) throws Exception {
        Result r = Dist.run(30, Dist.penne(args.trim().split(" ")));
        assertEquals(2, r.status(), r.toString());
        assertEquals("", r.out(), r.toString());
        assertEquals(1, r.err().lines().count(), r.toString());
        assertTrue(r.err().startsWith("penne: " + message), r.toString());
    }

    @Test
    void foregroundInstanceAnswersThroughControlSocketAndStopsCleanlyOnSigterm() throws Exception {
        Path sock = tmp.resolve("ctl.sock");
        Process p = startForeground(sock);
        Dist.awaitFile(sock, 30_000);
        assertEquals(Set.of("rw-------"), Set.of(PosixFilePermissions.toString(Files.getPosixFilePermissions(sock))));

        Result handlers = Dist.run(30, Dist.ctl(sock.toString(), "penne:handlers"));
        assertEquals(0, handlers.status(), handlers.toString());
        assertTrue(handlers.out().startsWith("NAME  STATE  BUNDLE  VERSION  FLOWS  FLOW TYPES  EVENT TYPES\n"),
            handlers.toString());

        Result flows = Dist.run(30, Dist.ctl(sock.toString(), "penne:flows"));
        assertEquals(0, flows.status(), flows.toString());
        assertEquals("ID  TYPE  STATE  SIDE 0 (INITIATING)  SIDE 1 (TARGET)  AGE  INFO\n", flows.out());

        Result count = Dist.run(30, Dist.ctl(sock.toString(), "penne:flows", "-c"));
        assertEquals("0\n", count.out(), count.toString());

        Result inst = Dist.run(30, Dist.ctl(sock.toString(), "penne:instances"));
        assertTrue(inst.out().matches("(?s)NAME +FLOWS +CAPACITY +HANDLERS +UPTIME\\ndefault +0 +131071 +0 +\\d.*"),
            inst.toString());

        Result bundles = Dist.run(30, Dist.ctl(sock.toString(), "lb"));
        assertEquals(0, bundles.status(), bundles.toString());
        for (String b : new String[] {"penne :: api", "penne :: core", "penne :: flow", "penne :: linux",
            "penne :: shell"})
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
    }

    @Test
    void backgroundStartReturnsWhenReadyAndWritesPidFile() throws Exception {
        Path sock = tmp.resolve("bg.sock");
        Path pid = tmp.resolve("penne.pid");
        markers.add(sock.toString());
        Result r = Dist.run(60, Dist.penne("-c", sock.toString(), "-P", pid.toString()));
        assertEquals(0, r.status(), r.toString());
        // Returned means ready: no waiting here.
        assertTrue(Files.exists(sock), "control socket must exist when penne returns");
        long p = Long.parseLong(Files.readString(pid).trim());
        assertTrue(ProcessHandle.of(p).map(ProcessHandle::isAlive).orElse(false), "pid file names a live process");
        Result h = Dist.run(30, Dist.ctl(sock.toString(), "penne:instances"));
        assertEquals(0, h.status(), h.toString());
        // The background process must not hold the caller's output open.
        assertTrue(r.out().isEmpty(), r.toString());

        ProcessHandle ph = ProcessHandle.of(p).orElseThrow();
        ph.destroy();
        ph.onExit().get(15, TimeUnit.SECONDS);
        assertFalse(Files.exists(sock), "control socket left behind");
        assertFalse(Files.exists(pid), "pid file left behind");
    }

    @Test
    void stopFromShellEndsProcess() throws Exception {
        Path sock = tmp.resolve("stop.sock");
        Process p = startForeground(sock);
        Dist.awaitFile(sock, 30_000);
        Dist.run(30, Dist.ctl(sock.toString(), "stop", "0"));
        assertTrue(p.waitFor(15, TimeUnit.SECONDS), "penne did not exit after 'stop 0'");
        assertEquals(0, p.exitValue());
    }

    @Test
    void consoleRunsLinesFromStandardInputAndCompletesCommandNames() throws Exception {
        Path sock = tmp.resolve("console.sock");
        startForeground(sock);
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
        startForeground(sock);
        Dist.awaitFile(sock, 30_000);
        Result r = Dist.run(60, Dist.penne("-f", "-c", sock.toString()));
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
        startForeground(sock);
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
        List<String> cmd = new ArrayList<>(List.of("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
            "env", "-u", "XDG_RUNTIME_DIR", "HOME=" + home));
        cmd.addAll(Dist.penne("-c", sock.toString()));
        Result r = Dist.run(60, cmd, Path.of("/"));
        assertEquals(0, r.status(), r.toString());
        List<String> ctl = new ArrayList<>(List.of("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"));
        ctl.addAll(Dist.ctl(sock.toString(), "penne:instances"));
        Result c = Dist.run(30, ctl);
        assertEquals(0, c.status(), c.toString());
        assertTrue(c.out().contains("default"), c.toString());
        long owner = (Integer) Files.getAttribute(sock, "unix:uid");
        assertEquals(65534, owner, "socket owned by the unprivileged user");
        assertEquals(before, listing(Dist.HOME), "installation directory was written to");
        for (long pid : Dist.pennePids(sock.toString()))
            ProcessHandle.of(pid).ifPresent(ProcessHandle::destroy);
    }

    @Test
    void twoInstancesOfOneUserDoNotShareScratchState() throws Exception {
        Path a = tmp.resolve("a.sock");
        Path b = tmp.resolve("b.sock");
        startForeground(a);
        startForeground(b);
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

    private Process startForeground(Path sock) throws IOException {
        markers.add(sock.toString());
        Process p = new ProcessBuilder(Dist.penne("-f", "-c", sock.toString()))
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
