package io.penne.itest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.penne.itest.Dist.Result;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Loopback splicing through the real distribution: {@code -T} (a client on
 * the namespace's loopback reaches a server on the host's loopback) and the
 * loopback half of {@code -t} (a client on the host's loopback reaches a
 * server in the namespace), IPv4 and IPv6. Both ends speak one small
 * protocol, chosen by the first byte the client sends: {@code E} echo,
 * {@code D} the server sends 256 MiB and then their SHA-256, {@code U} the
 * server answers the SHA-256 of everything the client sent, {@code H} the
 * server answers the byte count after the client's half-close, {@code B} the
 * server answers 64 MiB and their SHA-256 after the client's half-close and
 * closes (the client reads late, so the server's FIN arrives while bytes
 * still wait in the pipe), {@code S} the
 * server streams until the connection breaks. Ports 6200-6299.
 */
class NamespaceSpliceIT {
    private static final int MIB = 1 << 20;
    private static final int BIG = 256 * MIB;
    @TempDir
    Path tmp;
    private final List<ServerSocket> servers = new ArrayList<>();
    private final ExecutorService pool = Executors.newCachedThreadPool();
    private final CountDownLatch streamBroken = new CountDownLatch(1);

    /** The same protocol for the servers python runs in the namespace. */
    private static final String PY_PROTOCOL = String.join("\n",
        "import socket, hashlib, os, threading, subprocess, sys, time, signal",
        "def readall(c):",
        "    out = []",
        "    while True:",
        "        b = c.recv(1 << 20)",
        "        if not b: return b''.join(out)",
        "        out.append(b)",
        "def handle(c):",
        "    try:",
        "        op = c.recv(1)",
        "        if op == b'E':",
        "            while True:",
        "                b = c.recv(65536)",
        "                if not b: break",
        "                c.sendall(b)",
        "        elif op == b'D':",
        "            md = hashlib.sha256()",
        "            for i in range(256):",
        "                b = os.urandom(1 << 20); md.update(b); c.sendall(b)",
        "            c.sendall(md.digest()); c.shutdown(socket.SHUT_WR); c.recv(1)",
        "        elif op == b'U':",
        "            md = hashlib.sha256()",
        "            while True:",
        "                b = c.recv(1 << 20)",
        "                if not b: break",
        "                md.update(b)",
        "            c.sendall(md.hexdigest().encode())",
        "        elif op == b'H':",
        "            c.sendall(b'got %d' % len(readall(c)))",
        "        elif op in (b'B', b'F'):",
        "            readall(c); md = hashlib.sha256()",
        "            for i in range(64 if op == b'B' else 8):",
        "                b = os.urandom(1 << 20); md.update(b); c.sendall(b)",
        "            c.sendall(md.digest())",
        "        elif op == b'S':",
        "            b = b'z' * 65536",
        "            while True: c.sendall(b)",
        "    except OSError:",
        "        pass",
        "    finally:",
        "        c.close()",
        "def serve(fam, port, host=None):",
        "    s = socket.socket(socket.AF_INET if fam == 4 else socket.AF_INET6)",
        "    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)",
        "    if fam == 6: s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)",
        "    s.bind((host or ('0.0.0.0' if fam == 4 else '::'), port)); s.listen(1024)",
        "    def loop():",
        "        while True:",
        "            c, _ = s.accept()",
        "            threading.Thread(target=handle, args=(c,), daemon=True).start()",
        "    threading.Thread(target=loop, daemon=True).start()",
        "def conn(fam, port):",
        "    return socket.create_connection(('127.0.0.1' if fam == 4 else '::1', port), timeout=120)",
        "def client_checks(port, fams):",
        "    for fam in fams:",
        "        c = conn(fam, port); c.sendall(b'Ehello splice'); got = b''",
        "        while len(got) < 12: got += c.recv(100)",
        "        c.close(); print('echo', fam, got.decode(), flush=True)",
        "        c = conn(fam, port); c.sendall(b'D'); md = hashlib.sha256(); tail = b''; n = 0",
        "        while True:",
        "            b = c.recv(1 << 20)",
        "            if not b: break",
        "            n += len(b); tail += b",
        "            if len(tail) > 32: md.update(tail[:-32]); tail = tail[-32:]",
        "        c.close(); print('down', fam, n - 32, md.digest() == tail, flush=True)",
        "        c = conn(fam, port); c.sendall(b'U'); md = hashlib.sha256()",
        "        for i in range(256):",
        "            b = os.urandom(1 << 20); md.update(b); c.sendall(b)",
        "        c.shutdown(socket.SHUT_WR); ans = readall(c); c.close()",
        "        print('up', fam, ans.decode() == md.hexdigest(), flush=True)",
        "    c = conn(4, port); c.sendall(b'B'); c.shutdown(socket.SHUT_WR); time.sleep(1); d = readall(c); c.close()",
        "    print('late reader', len(d) - 32, hashlib.sha256(d[:-32]).digest() == d[-32:], flush=True)",
        "    c = conn(4, port); c.sendall(b'F'); c.shutdown(socket.SHUT_WR); time.sleep(1); d = readall(c); c.close()",
        "    print('late reader of a closed stream', len(d) - 32, hashlib.sha256(d[:-32]).digest() == d[-32:], flush=True)",
        "    c = conn(4, port); c.sendall(b'H' + b'x' * 100000); c.shutdown(socket.SHUT_WR)",
        "    print('half', readall(c).decode(), flush=True); c.close()",
        "    ok = [0]; lock = threading.Lock()",
        "    def one(i):",
        "        try:",
        "            c = conn(4 if i % 2 else fams[-1], port); msg = b'E' + (b'%05d' % i) * 200; c.sendall(msg); got = b''",
        "            while len(got) < len(msg) - 1:",
        "                b = c.recv(65536)",
        "                if not b: break",
        "                got += b",
        "            c.close()",
        "            if got == msg[1:]:",
        "                with lock: ok[0] += 1",
        "        except OSError as e:",
        "            print('concurrent error', e, flush=True)",
        "    ts = [threading.Thread(target=one, args=(i,)) for i in range(500)]",
        "    [t.start() for t in ts]; [t.join() for t in ts]",
        "    print('concurrent ok', ok[0], flush=True)",
        "def closed_port(port):",
        "    try:",
        "        c = conn(4, port); c.sendall(b'x'); r = c.recv(10)",
        "        return 'eof' if r == b'' else 'data'",
        "    except (ConnectionResetError, ConnectionRefusedError, BrokenPipeError):",
        "        return 'reset'",
        "");

    @BeforeEach
    void prerequisites() throws Exception {
        assumeTrue(new ProcessBuilder("sh", "-c", "command -v python3").start().waitFor() == 0,
            "python3 runs the namespace side (.ci/run installs it)");
    }

    @AfterEach
    void stop() throws IOException {
        for (ServerSocket s : servers)
            s.close();
        pool.shutdownNow();
    }

    /** A host server of the protocol on {@code address}:{@code port}. */
    private void serve(String address, int port) throws IOException {
        ServerSocket ss = new ServerSocket();
        ss.setReuseAddress(true);
        ss.bind(new InetSocketAddress(InetAddress.getByName(address), port), 1024);
        servers.add(ss);
        pool.submit(() -> {
            while (!ss.isClosed()) {
                Socket s;
                try {
                    s = ss.accept();
                } catch (IOException e) {
                    return null;
                }
                pool.submit(() -> {
                    try (s) {
                        handle(s);
                    } catch (Exception e) {
                        // the client reports what it saw
                    }
                    return null;
                });
            }
            return null;
        });
    }

    private void handle(Socket s) throws Exception {
        InputStream in = s.getInputStream();
        OutputStream out = s.getOutputStream();
        int op = in.read();
        switch (op) {
            case 'E' -> in.transferTo(out);
            case 'D' -> {
                MessageDigest md = MessageDigest.getInstance("SHA-256");
                byte[] b = new byte[MIB];
                for (int i = 0; i < BIG / MIB; i++) {
                    ThreadLocalRandom.current().nextBytes(b);
                    md.update(b);
                    out.write(b);
                }
                out.write(md.digest());
                s.shutdownOutput();
                in.read();
            }
            case 'U' -> {
                MessageDigest md = MessageDigest.getInstance("SHA-256");
                byte[] b = new byte[MIB];
                int n;
                while ((n = in.read(b)) > 0)
                    md.update(b, 0, n);
                out.write(HexFormat.of().formatHex(md.digest()).getBytes(StandardCharsets.US_ASCII));
            }
            case 'H' -> out.write(("got " + in.transferTo(OutputStream.nullOutputStream()))
                .getBytes(StandardCharsets.US_ASCII));
            case 'B', 'F' -> {
                // B: 64 MiB after the client's half-close; F: 8 MiB, which the sockets and pipes on the
                // way hold, so the server's FIN arrives while a client that waits to read fills them.
                int mib = op == 'B' ? 64 : 8;
                in.transferTo(OutputStream.nullOutputStream());
                MessageDigest md = MessageDigest.getInstance("SHA-256");
                byte[] b = new byte[MIB];
                for (int i = 0; i < mib; i++) {
                    ThreadLocalRandom.current().nextBytes(b);
                    md.update(b);
                    out.write(b);
                }
                out.write(md.digest());
            }
            case 'S' -> {
                byte[] b = new byte[65536];
                try {
                    while (true)
                        out.write(b);
                } catch (IOException e) {
                    streamBroken.countDown();
                }
            }
            default -> { }
        }
    }

    private Path script(String name, String code) throws IOException {
        Path p = tmp.resolve(name);
        Files.writeString(p, PY_PROTOCOL + code);
        Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rw-r--r--"));
        return p;
    }

    private static void assertChecks(String out, boolean v6) {
        for (String fam : v6 ? new String[] {"4", "6"} : new String[] {"4"}) {
            assertTrue(out.contains("echo " + fam + " hello splice"), out);
            assertTrue(out.contains("down " + fam + " " + BIG + " True"), out);
            assertTrue(out.contains("up " + fam + " True"), out);
        }
        assertTrue(out.contains("half got 100000"), out);
        assertTrue(out.contains("late reader " + (64 * MIB) + " True"), out);
        assertTrue(out.contains("late reader of a closed stream " + (8 * MIB) + " True"), out);
        assertTrue(out.contains("concurrent ok 500"), out);
    }

    private static boolean hostHasIpv6Loopback() {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("::1"))) {
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /** -T: namespace loopback clients reach host loopback servers, spliced; a closed port resets; a killed client ends the stream. */
    @Test
    void namespaceToHostLoopbackIsSplicedExactlyOverIpv4AndIpv6() throws Exception {
        boolean v6 = hostHasIpv6Loopback();
        serve("127.0.0.1", 6201);
        serve("127.0.0.1", 6203);
        if (v6)
            serve("::1", 6201);
        Path sock = tmp.resolve("ctl.sock");
        String ctl = "['" + Dist.CTL + "', '" + sock + "'";
        Path py = script("ns.py", String.join("\n",
            "client_checks(6201, [4, 6] if " + (v6 ? "True" : "False") + " else [4])",
            "print('closed', closed_port(6202), flush=True)",
            "c = conn(4, 6201); c.sendall(b'E' + b'y' * 1000); got = b''",
            "while len(got) < 1000: got += c.recv(2000)",
            "print(subprocess.check_output(" + ctl + ", 'penne:flows']).decode(), flush=True)",
            "print('tap flows', subprocess.check_output(" + ctl + ", 'penne:flows', '-t', 'TCP', '-c']).decode().strip(), flush=True)",
            "c.close()",
            // a client killed while it receives a stream: the host server must see the connection end
            "k = subprocess.Popen([sys.executable, '-c', 'import socket\\nc = socket.create_connection((\"127.0.0.1\", 6203))\\nc.sendall(b\"S\")\\nwhile True: c.recv(65536)'])",
            "time.sleep(1); k.kill(); k.wait()",
            "for i in range(50):",
            "    n = subprocess.check_output(" + ctl + ", 'penne:flows', '-c']).decode().strip()",
            "    if n == '0': break",
            "    time.sleep(0.2)",
            "print('flows left', n, flush=True)",
            "print(subprocess.check_output(" + ctl + ", 'penne:stats']).decode(), flush=True)",
            ""));
        Result r = Dist.run(400, Dist.penne("-c", sock.toString(), "-t", "none", "-T", "6201-6203", "--",
            "python3", py.toString()));
        assertEquals(0, r.status(), r.toString());
        String out = r.out();
        assertChecks(out, v6);
        assertTrue(out.contains("closed reset") || out.contains("closed eof"), out);
        assertTrue(out.matches("(?s).*\\n\\d+ +TCP_SPLICE +ACTIVE +SPLICE 127\\.0\\.0\\.1:\\d+ -> 127\\.0\\.0\\.1:6201 +HOST "
            + "127\\.0\\.0\\.1:6201 -> 127\\.0\\.0\\.1:0 .*ESTABLISHED 0>1=1001 1>0=1000 .*"), out);
        assertTrue(out.contains("tap flows 0"), out);
        assertTrue(streamBroken.await(20, TimeUnit.SECONDS), "the host server saw the killed client's connection end");
        assertTrue(out.contains("flows left 0"), out);
        assertTrue(out.matches("(?s).*splice\\.conn\\.connect_failed\\s+1\\n.*"), out);
        assertTrue(!out.matches("(?s).*tcp\\.conn\\.opened\\s+[1-9].*"), "nothing went through the tap: " + out);
    }

    /** The loopback half of -t: host loopback clients reach namespace servers, spliced, with no fd left behind. */
    @Test
    void hostToNamespaceLoopbackIsSplicedExactlyOverIpv4AndIpv6() throws Exception {
        boolean v6 = hostHasIpv6Loopback();
        Path sock = tmp.resolve("ctl.sock");
        Path ready = tmp.resolve("ready");
        Path done = tmp.resolve("done");
        // The streamer is killed from inside the namespace, on request: the command runs in a PID
        // namespace of its own, so its process ids mean nothing on the host.
        Path killStreamer = tmp.resolve("kill-streamer");
        Path py = script("ns.py", String.join("\n",
            "serve(4, 6211); serve(6, 6211)",
            "st = subprocess.Popen([sys.executable, '-c', open(__file__).read().split('# END PROTOCOL')[0] + "
                + "'\\nserve(4, 6213)\\nwhile True: time.sleep(1)'])",
            "time.sleep(0.5); open('" + ready + "', 'w').write('x')",
            "while not os.path.exists('" + done + "'):",
            "    if os.path.exists('" + killStreamer + "') and st.poll() is None: st.kill()",
            "    time.sleep(0.05)",
            "st.kill()",
            ""));
        Files.writeString(py, Files.readString(py).replace("serve(4, 6211); serve(6, 6211)",
            "# END PROTOCOL\nserve(4, 6211); serve(6, 6211)"));
        Process penne = new ProcessBuilder(Dist.penne("-c", sock.toString(), "-t", "6211-6213", "-T", "none", "--",
            "python3", py.toString())).redirectErrorStream(true).redirectOutput(tmp.resolve("penne.out").toFile())
            .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        try {
            Dist.awaitFile(ready, 60_000);
            long pid = Dist.pennePids(sock.toString()).get(0);
            // warm-up: one spliced connection, so lazily opened descriptors exist before counting
            assertEquals("hello", echo("127.0.0.1", 6211, "hello"));
            assertEquals(0, flowsAfterDraining(sock), "flows left after the warm-up");
            int fdsBefore = fds(pid) - pooled(sock);

            // the python client library runs on the host side too
            Path hostPy = script("host.py", "client_checks(6211, [4, 6] if " + (v6 ? "True" : "False")
                + " else [4])\nprint('closed', closed_port(6212), flush=True)\n");
            Result r = Dist.run(400, List.of("python3", hostPy.toString()));
            assertEquals(0, r.status(), r.toString());
            assertChecks(r.out(), v6);
            assertTrue(r.out().contains("closed reset") || r.out().contains("closed eof"), r.toString());

            try (Socket held = new Socket("127.0.0.1", 6211)) {
                held.getOutputStream().write("Eabc".getBytes(StandardCharsets.US_ASCII));
                held.getInputStream().readNBytes(3);
                Result flows = Dist.run(30, Dist.ctl(sock.toString(), "penne:flows", "-t", "TCP_SPLICE"));
                assertTrue(flows.out().matches("(?s).*\\n\\d+ +TCP_SPLICE +ACTIVE +HOST 127\\.0\\.0\\.1:\\d+ -> "
                    + "127\\.0\\.0\\.1:6211 +SPLICE \\S+:6211 -> 0\\.0\\.0\\.0:0 .*ESTABLISHED 0>1=4 1>0=3 .*"),
                    flows.toString());
                assertEquals("0\n", Dist.run(30, Dist.ctl(sock.toString(), "penne:flows", "-t", "TCP", "-c")).out(),
                    "no TAP flow");
            }

            // the namespace server is killed while it streams: the host client sees the end
            try (Socket s = new Socket("127.0.0.1", 6213)) {
                s.setSoTimeout(20_000);
                s.getOutputStream().write('S');
                InputStream in = s.getInputStream();
                byte[] b = new byte[65536];
                long n = 0;
                while (n < 10 * MIB)
                    n += in.read(b);
                Files.writeString(killStreamer, "");
                long until = System.currentTimeMillis() + 30_000; // the stream is endless until the kill
                try {
                    while (in.read(b) >= 0)
                        assertTrue(System.currentTimeMillis() < until, "the killed server's stream did not end");
                } catch (IOException e) {
                    // a reset is an end too
                }
            }

            assertEquals(0, flowsAfterDraining(sock), "flows left");
            int fdsAfter = fds(pid) - pooled(sock);
            assertEquals(fdsBefore, fdsAfter, "descriptors besides the pools, before and after");
            Result stats = Dist.run(30, Dist.ctl(sock.toString(), "penne:stats"));
            assertTrue(!stats.out().matches("(?s).*tcp\\.conn\\.accepted\\s+[1-9].*"), "no tap path: " + stats);
            assertTrue(stats.out().matches("(?s).*splice\\.conn\\.connect_failed\\s+1\\n.*"), stats.toString());
            // Emptied pipes of closed connections went back to the pool (the killed stream's did not).
            assertTrue(stats.out().matches("(?s).*splice\\.pipes\\.recycled\\s+[1-9].*"), stats.toString());
        } finally {
            Files.writeString(done, "x");
            if (!penne.waitFor(30, TimeUnit.SECONDS))
                penne.destroyForcibly();
        }
        assertEquals(0, penne.exitValue(), Files.readString(tmp.resolve("penne.out")));
    }

    /** -T absent is pasta's auto: host loopback ports listening now or later are reachable, -t's own ports are not. */
    @Test
    void tcpNsAutoFollowsTheHostsListeningPorts() throws Exception {
        serve("127.0.0.1", 6231);
        Path later = tmp.resolve("later");
        Path py = script("auto.py", String.join("\n",
            "def echo(port, text):",
            "    for i in range(50):",
            "        try:",
            "            c = conn(4, port); c.sendall(b'E' + text); r = c.recv(10).decode(); c.close()",
            "            if r: return r",
            "        except OSError: pass",
            "        time.sleep(0.2)",
            "print('now', echo(6231, b'auto'), flush=True)",
            "s = socket.socket(); s.bind(('127.0.0.1', 6233)); s.close(); print('own -t port free in the namespace', flush=True)",
            "open('" + later + "', 'w').write('x')",
            "print('later', echo(6232, b'later'), flush=True)",
            ""));
        pool.submit(() -> {
            Dist.awaitFile(later, 120_000);
            serve("127.0.0.1", 6232);
            return null;
        });
        Result r = Dist.run(120, Dist.penne("-t", "6233", "--", "python3", py.toString()));
        assertEquals(0, r.status(), r.toString());
        assertTrue(r.out().contains("now auto"), r.toString());
        assertTrue(r.out().contains("own -t port free in the namespace"), r.toString());
        assertTrue(r.out().contains("later later"), r.toString());
    }

    /**
     * A splice from the host's loopback connects inside the namespace to the guest's own address,
     * and penne's socket there closes first, so each connection leaves a TIME_WAIT on one of the
     * namespace's ephemeral ports. penne's namespace lets connect() reuse those after a second
     * (tcp_tw_reuse 1); with the kernel's default (loopback destinations only) the range runs out.
     * The namespace narrows its range to 200 ports, and 320 connections at 80 a second must all work.
     */
    @Test
    void splicedConnectionsReuseTheirTimeWaitPortsInTheNamespace() throws Exception {
        Path ready = tmp.resolve("ready-tw");
        Path done = tmp.resolve("done-tw");
        Path py = script("tw.py", String.join("\n",
            "open('/proc/sys/net/ipv4/ip_local_port_range', 'w').write('40000 40199')",
            "print('tw_reuse', open('/proc/sys/net/ipv4/tcp_tw_reuse').read().strip(), flush=True)",
            "serve(4, 6241)",
            "open('" + ready + "', 'w').write('x')",
            "while not os.path.exists('" + done + "'): time.sleep(0.1)",
            ""));
        Process penne = new ProcessBuilder(Dist.penne("-t", "6241", "-T", "none", "-4", "--", "python3",
            py.toString())).redirectErrorStream(true).redirectOutput(tmp.resolve("penne-tw.out").toFile())
            .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        int ok = 0;
        try {
            Dist.awaitFile(ready, 60_000);
            long start = System.nanoTime();
            for (int i = 0; i < 320; i++) {
                long due = start + i * 12_500_000L;
                long wait = due - System.nanoTime();
                if (wait > 0)
                    Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
                try {
                    if (echo("127.0.0.1", 6241, "tw").equals("tw"))
                        ok++;
                } catch (IOException e) {
                    // counted as a failure below
                }
            }
        } finally {
            Files.writeString(done, "x");
            if (!penne.waitFor(30, TimeUnit.SECONDS))
                penne.destroyForcibly();
        }
        String out = Files.readString(tmp.resolve("penne-tw.out"));
        assertEquals(320, ok, "spliced connections that worked; " + out);
        assertTrue(out.contains("tw_reuse 1"), out);
    }

    /** --host-lo-to-ns-lo: a service bound to the namespace's loopback only is reachable; without it, it is not. */
    @Test
    void hostLoopbackToNamespaceLoopbackOnlyWhenAsked() throws Exception {
        for (boolean loToLo : new boolean[] {false, true}) {
            Path ready = tmp.resolve("ready" + loToLo);
            Path done = tmp.resolve("done" + loToLo);
            Path py = script("lo" + loToLo + ".py", String.join("\n",
                "serve(4, 6221, '127.0.0.1')",
                "open('" + ready + "', 'w').write('x')",
                "while not os.path.exists('" + done + "'): time.sleep(0.1)",
                ""));
            List<String> cmd = new ArrayList<>(List.of("-t", "6221", "-T", "none", "-4"));
            if (loToLo)
                cmd.add("--host-lo-to-ns-lo");
            cmd.addAll(List.of("--", "python3", py.toString()));
            Process penne = new ProcessBuilder(Dist.penne(cmd.toArray(new String[0]))).redirectErrorStream(true)
                .redirectOutput(tmp.resolve("penne" + loToLo + ".out").toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
            try {
                Dist.awaitFile(ready, 60_000);
                String got;
                try {
                    got = echo("127.0.0.1", 6221, "lo");
                } catch (IOException e) {
                    got = "error";
                }
                assertEquals(loToLo ? "lo" : "", got.equals("error") ? "" : got, "host-lo-to-ns-lo " + loToLo);
            } finally {
                Files.writeString(done, "x");
                if (!penne.waitFor(30, TimeUnit.SECONDS))
                    penne.destroyForcibly();
            }
        }
    }

    private static String echo(String host, int port, String text) throws IOException {
        try (Socket s = new Socket(host, port)) {
            s.setSoTimeout(20_000);
            s.getOutputStream().write(("E" + text).getBytes(StandardCharsets.US_ASCII));
            byte[] b = s.getInputStream().readNBytes(text.length());
            return new String(b, StandardCharsets.US_ASCII);
        }
    }

    /**
     * Out of descriptors (a low open-files limit and many clients at once): penne
     * neither spins on the listening socket whose accept() fails with EMFILE nor
     * drops the clients waiting in its backlog; once connections end and free
     * descriptors, every waiting client is served.
     */
    @Test
    void clientsBeyondTheOpenFilesLimitWaitAndAreServedWithoutSpinning() throws Exception {
        int port = 6251, clients = 150;
        Path sock = tmp.resolve("ctl.sock");
        Path py = script("ns.py", String.join("\n",
            "n = [0]",
            "def serve(c):",
            "    while c.recv(100): pass",
            "    c.close(); n[0] += 1; print('served', n[0], flush=True)",
            "l = socket.create_server(('', " + port + "), family=socket.AF_INET6, dualstack_ipv6=True, backlog=1024)",
            "print('READY', flush=True)",
            "while True:",
            "    c, _ = l.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()",
            ""));
        String penne = Dist.penne("-c", sock.toString(), "-t", String.valueOf(port), "-u", "none", "-T", "none",
            "-U", "none", "--", "python3", py.toString()).stream().map(a -> "'" + a + "'")
            .collect(java.util.stream.Collectors.joining(" "));
        // About 300 descriptors are the JVM's own; each spliced connection takes four more.
        Process p = new ProcessBuilder("sh", "-c", "ulimit -n 700 && exec " + penne).redirectErrorStream(true)
            .redirectOutput(tmp.resolve("penne.out").toFile()).start();
        List<Socket> open = new java.util.ArrayList<>();
        try {
            long ready = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (!Files.readString(tmp.resolve("penne.out")).contains("READY\n") && System.nanoTime() < ready)
                Thread.sleep(100);
            long pid = Dist.pennePids(sock.toString()).get(0);
            for (int i = 0; i < clients; i++)
                open.add(new Socket("127.0.0.1", port));
            Thread.sleep(1000);
            long cpu0 = Dist.cpuTicks(pid);
            Thread.sleep(2000);
            long spent = Dist.cpuTicks(pid) - cpu0;
            String stats = Dist.run(30, Dist.ctl(sock.toString(), "penne:stats")).out();
            assertTrue(stat(stats, "tcp.accept.no_descriptor") > 0, "the limit was reached: " + stats);
            assertTrue(spent < 50, "penne used " + spent + " ticks of CPU in 2 s while clients waited: " + stats);
            for (Socket s : open)
                s.close();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (!Files.readString(tmp.resolve("penne.out")).contains("served " + clients + "\n")
                && System.nanoTime() < deadline)
                Thread.sleep(200);
            assertTrue(Files.readString(tmp.resolve("penne.out")).contains("served " + clients + "\n"),
                "every waiting client served: " + Dist.run(30, Dist.ctl(sock.toString(), "penne:stats")).out());
        } finally {
            for (Socket s : open)
                s.close();
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
        }
    }

    /** The flow count once it reached 0, or the last one seen within 10 s. */
    private static int flowsAfterDraining(Path sock) throws Exception {
        int n = -1;
        for (int i = 0; i < 50 && n != 0; i++) {
            n = Integer.parseInt(Dist.run(30, Dist.ctl(sock.toString(), "penne:flows", "-c")).out().trim());
            if (n != 0)
                Thread.sleep(200);
        }
        return n;
    }

    private static int fds(long pid) throws IOException {
        try (var s = Files.list(Path.of("/proc/" + pid + "/fd"))) {
            return (int) s.count();
        }
    }

    /** Descriptors in the splice pools, from penne:stats: two per pipe, one per socket. */
    private static int pooled(Path sock) throws Exception {
        String stats = Dist.run(30, Dist.ctl(sock.toString(), "penne:stats")).out();
        return 2 * stat(stats, "splice.pool.pipes") + stat(stats, "splice.pool.sockets4") + stat(stats, "splice.pool.sockets6");
    }

    private static int stat(String stats, String name) {
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(name) + "\\s+(-?\\d+)$").matcher(stats);
        return m.find() ? Integer.parseInt(m.group(1)) : 0;
    }

    @SuppressWarnings("unused")
    private static Future<?> unused;
}
