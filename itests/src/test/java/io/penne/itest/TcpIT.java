package io.penne.itest;

import static io.penne.itest.PennePax.await;
import static io.penne.itest.PennePax.waitFor;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;

import io.penne.api.Instance;
import io.penne.api.flow.FlowType;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Hashtable;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import javax.inject.Inject;
import org.junit.After;
import org.junit.Before;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.framework.BundleContext;
import org.osgi.service.cm.ConfigurationAdmin;

/**
 * The TCP handler end to end: an instance with a new network namespace, a
 * client inside it (bash's /dev/tcp, python3 for bulk transfers) talking to
 * Java servers on the host's loopback through the guest's gateway address.
 * Runs as root (namespace creation).
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class TcpIT {
    private static final String NAME = "tcpit";
    private static final int BULK = 16 << 20;
    private static final String OUR_MAC = "9a:55:9a:55:9a:55";

    @Inject
    private BundleContext context;
    @Inject
    private ConfigurationAdmin configAdmin;

    private org.osgi.service.cm.Configuration config;
    private Instance instance;
    private Function<ProcessBuilder, Process> spawner;
    private String gw4, gw6, ifname;
    /** Host port forwarded to the same port in the namespace ("tcp.forward", pasta's -t). */
    private int fwdPort;

    @Configuration
    public Option[] config() {
        return PennePax.runtime("tcp");
    }


    @SuppressWarnings("unchecked")
    @Before
    public void startInstance() throws Exception {
        config = configAdmin.getFactoryConfiguration("io.penne.instance", NAME, "?");
        Hashtable<String, Object> props = new Hashtable<>();
        props.put("name", NAME);
        props.put("netns", "new");
        props.put("flow.capacity", "1024");
        try (ServerSocket probe = new ServerSocket(0)) {
            fwdPort = probe.getLocalPort();
        }
        props.put("tcp.forward", String.valueOf(fwdPort));
        config.update(props);
        instance = await(() -> service(Instance.class, "(name=" + NAME + ")"), "instance " + NAME, 20);
        spawner = await(() -> service(Function.class, "(penne.namespace.spawner=" + NAME + ")"), "spawner", 20);
        waitFor(() -> onLoop(() -> instance.handlers().stream().anyMatch(h -> h.name().equals("tcp") && h.bound())),
            "tcp handler bound");
        gw4 = (String) instance.properties().get("guest.gateway4");
        gw6 = (String) instance.properties().get("guest.gateway6");
        ifname = (String) instance.properties().get("ns.ifname");
        assertNotNull("guest.gateway4 discovered", gw4);
        assertNotNull("ns.ifname", ifname);
        // No ARP/NDP responder in this test: tell the namespace where the gateway is.
        StringBuilder setup = new StringBuilder("set -e; ip neigh replace " + gw4 + " lladdr " + OUR_MAC + " dev "
            + ifname + " nud permanent;");
        if (gw6 != null)
            setup.append(" ip -6 neigh replace ").append(gw6).append(" lladdr ").append(OUR_MAC).append(" dev ")
                .append(ifname).append(" nud permanent;")
                .append(" for i in $(seq 60); do [ -z \"$(ip -6 addr show dev ").append(ifname)
                .append(" tentative)\" ] && break; sleep 0.1; done");
        Result r = run(setup.toString(), 15);
        assertEquals("namespace setup: " + r.err, 0, r.exit);
    }

    @After
    public void stopInstance() throws Exception {
        if (config != null)
            config.delete();
        waitFor(() -> service(Instance.class, "(name=" + NAME + ")") == null, "instance gone");
    }

    @Test
    public void echoIpv4AndIpv6ThenBulkBothWaysAndRefused() throws Exception {
        // 1. Echo through the IPv4 gateway to 127.0.0.1.
        try (ServerSocket ss = new ServerSocket(0, 50, InetAddress.getByName("127.0.0.1"))) {
            CompletableFuture<Void> srv = echoServer(ss);
            Result r = run("exec 3<>/dev/tcp/" + gw4 + "/" + ss.getLocalPort() + "; printf hello >&3; head -c 5 <&3", 15);
            assertEquals("echo v4 stderr: " + r.err, "hello", r.out);
            srv.get(10, TimeUnit.SECONDS);
        }
        waitFor(() -> tcpFlows() == 0, "v4 echo flow freed");

        // 2. Echo through the IPv6 gateway to ::1.
        if (gw6 != null) {
            try (ServerSocket ss = new ServerSocket(0, 50, InetAddress.getByName("::1"))) {
                CompletableFuture<Void> srv = echoServer(ss);
                Result r = run("exec 3<>/dev/tcp/" + gw6 + "/" + ss.getLocalPort() + "; printf hello >&3; head -c 5 <&3",
                    15);
                assertEquals("echo v6 stderr: " + r.err, "hello", r.out);
                srv.get(10, TimeUnit.SECONDS);
            }
            waitFor(() -> tcpFlows() == 0, "v6 echo flow freed");
        }

        // 3. Connection refused: a port nobody listens on.
        int closedPort;
        try (ServerSocket ss = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            closedPort = ss.getLocalPort();
        }
        long t0 = System.nanoTime();
        Result refused = run("exec 3<>/dev/tcp/" + gw4 + "/" + closedPort, 15);
        long refusedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        assertTrue("refused: " + refused.err, refused.exit != 0 && refused.err.contains("Connection refused"));
        assertTrue("refused quickly: " + refusedMs + " ms", refusedMs < 3000);
        System.out.println("TcpIT: connection refused after " + refusedMs + " ms (including process start)");

        String py = run("command -v python3 || true", 10).out.trim();
        if (py.isEmpty()) {
            System.out.println("TcpIT: no python3 in the namespace; bulk transfers skipped");
            return;
        }

        // 4. 16 MiB namespace -> host.
        try (ServerSocket ss = new ServerSocket(0, 50, InetAddress.getByName("127.0.0.1"))) {
            AtomicInteger flowsSeen = new AtomicInteger(-1);
            CompletableFuture<String> srv = CompletableFuture.supplyAsync(() -> {
                try (Socket s = ss.accept()) {
                    flowsSeen.set(tcpFlows());
                    MessageDigest md = MessageDigest.getInstance("SHA-256");
                    InputStream in = s.getInputStream();
                    byte[] buf = new byte[1 << 16];
                    long total = 0;
                    for (int n; (n = in.read(buf)) > 0; total += n)
                        md.update(buf, 0, n);
                    String hex = HexFormat.of().formatHex(md.digest());
                    s.getOutputStream().write((hex + " " + total).getBytes(StandardCharsets.US_ASCII));
                    return hex + " " + total;
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            String script = "import socket,hashlib,os,time\n"
                + "d=os.urandom(" + BULK + ")\n"
                + "s=socket.create_connection(('" + gw4 + "'," + ss.getLocalPort() + "))\n"
                + "t=time.time(); s.sendall(d); s.shutdown(socket.SHUT_WR)\n"
                + "r=b''\n"
                + "while True:\n"
                + "  x=s.recv(4096)\n"
                + "  if not x: break\n"
                + "  r+=x\n"
                + "e=time.time()-t\n"
                + "print(hashlib.sha256(d).hexdigest(), len(d), r.decode(), '%.3f' % e)\n";
            Result r = run(py + " -c \"$1\"", script, 40);
            assertEquals("upload exit, stderr: " + r.err, 0, r.exit);
            String server = srv.get(10, TimeUnit.SECONDS);
            String[] p = r.out.trim().split(" ");
            assertEquals("upload digest (client view)", p[0] + " " + p[1], server);
            assertEquals("upload digest echoed back", server, p[2] + " " + p[3]);
            double secs = Double.parseDouble(p[4]);
            System.out.printf("TcpIT: 16 MiB namespace->host in %.3f s (%.1f MB/s)%n", secs, BULK / 1e6 / secs);
            assertTrue("a TCP flow exists during the transfer: " + flowsSeen.get(), flowsSeen.get() >= 1);
        }
        waitFor(() -> tcpFlows() == 0, "upload flow freed");

        // 5. 16 MiB host -> namespace.
        try (ServerSocket ss = new ServerSocket(0, 50, InetAddress.getByName("127.0.0.1"))) {
            byte[] data = new byte[BULK];
            new Random(42).nextBytes(data);
            String expected = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
            AtomicInteger flowsSeen = new AtomicInteger(-1);
            CompletableFuture<Void> srv = CompletableFuture.runAsync(() -> {
                try (Socket s = ss.accept()) {
                    flowsSeen.set(tcpFlows());
                    OutputStream out = s.getOutputStream();
                    out.write(data);
                    out.flush();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            String script = "import socket,hashlib,time\n"
                + "s=socket.create_connection(('" + gw4 + "'," + ss.getLocalPort() + "))\n"
                + "h=hashlib.sha256(); n=0; t=time.time()\n"
                + "while True:\n"
                + "  x=s.recv(1<<20)\n"
                + "  if not x: break\n"
                + "  h.update(x); n+=len(x)\n"
                + "e=time.time()-t\n"
                + "print(h.hexdigest(), n, '%.3f' % e)\n";
            Result r = run(py + " -c \"$1\"", script, 40);
            assertEquals("download exit, stderr: " + r.err, 0, r.exit);
            srv.get(10, TimeUnit.SECONDS);
            String[] p = r.out.trim().split(" ");
            assertEquals("download digest", expected + " " + BULK, p[0] + " " + p[1]);
            double secs = Double.parseDouble(p[2]);
            System.out.printf("TcpIT: 16 MiB host->namespace in %.3f s (%.1f MB/s)%n", secs, BULK / 1e6 / secs);
            assertTrue("a TCP flow exists during the transfer: " + flowsSeen.get(), flowsSeen.get() >= 1);
        }
        waitFor(() -> tcpFlows() == 0, "download flow freed");

        java.util.Map<String, Long> counters = onLoop(() -> instance.counters().snapshot());
        StringBuilder sb = new StringBuilder();
        counters.forEach((k, v) -> {
            if ((k.startsWith("tcp.") || k.startsWith("egress.") || k.equals("handler.errors")) && v != 0)
                sb.append(' ').append(k).append('=').append(v);
        });
        System.out.println("TcpIT: counters" + sb);
        assertEquals("handler errors", Long.valueOf(0), counters.getOrDefault("handler.errors", 0L));
    }

    /**
     * Inbound (pasta's -t): host clients connect to a forwarded port, a
     * server in the namespace answers. Nothing listening inside first (the
     * guest's RST resets the client), then an echo server that first sends
     * the peer address it sees: through the host's own address and loopback
     * (both seen as the gateway, as pasta maps them), from a non-loopback
     * source address (seen as itself), IPv6 likewise, and 16 MiB echoed both
     * ways at once, compared by SHA-256.
     */
    @Test
    public void inboundForwardedPort() throws Exception {
        String py = run("command -v python3 || true", 10).out.trim();
        if (py.isEmpty()) {
            System.out.println("TcpIT: no python3 in the namespace; inbound test skipped");
            return;
        }
        String guest4 = (String) instance.properties().get("guest.address4");
        String guest6 = (String) instance.properties().get("guest.address6");
        assertNotNull("guest.address4 discovered", guest4);

        // 1. Nothing listens in the namespace: the client is reset, quickly.
        long t0 = System.nanoTime();
        try (Socket s = new Socket()) {
            int r;
            try {
                s.connect(new java.net.InetSocketAddress("127.0.0.1", fwdPort), 5000);
                s.setSoTimeout(5000);
                r = s.getInputStream().read();
            } catch (java.net.SocketException e) {
                // The reset may already be there when the JDK polls its non-blocking connect (penne
                // accepted, the guest answered RST, penne reset the client). A refusal is not a reset.
                if (e instanceof java.net.ConnectException || !String.valueOf(e.getMessage()).contains("reset"))
                    throw e;
                r = -2; // connection reset
            }
            assertTrue("closed or reset, got " + r, r < 0);
        }
        long resetMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        assertTrue("reset quickly: " + resetMs + " ms", resetMs < 3000);
        System.out.println("TcpIT: inbound without a server inside: closed after " + resetMs + " ms");
        waitFor(() -> tcpFlows() == 0, "refused inbound flow freed");

        // 2. Echo server inside: first line is the peer address it saw, then echo.
        String server = "import socket,sys,threading\n"
            + "P=int(sys.argv[1])\n"
            + "s=socket.socket(socket.AF_INET6)\n"
            + "s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
            + "s.setsockopt(socket.IPPROTO_IPV6,socket.IPV6_V6ONLY,0)\n"
            + "s.bind(('::',P)); s.listen(16)\n"
            + "def serve(c,a):\n"
            + "  h=a[0]\n"
            + "  if h.startswith('::ffff:'): h=h[7:]\n"
            + "  c.sendall((h+'\\n').encode())\n"
            + "  while True:\n"
            + "    d=c.recv(1<<20)\n"
            + "    if not d: break\n"
            + "    c.sendall(d)\n"
            + "  c.shutdown(socket.SHUT_WR); c.close()\n"
            + "print('ready',flush=True)\n"
            + "while True:\n"
            + "  c,a=s.accept()\n"
            + "  threading.Thread(target=serve,args=(c,a),daemon=True).start()\n";
        Process srv = spawner.apply(new ProcessBuilder(py, "-c", server, String.valueOf(fwdPort)));
        try {
            java.io.BufferedReader ready = new java.io.BufferedReader(
                new java.io.InputStreamReader(srv.getInputStream(), StandardCharsets.US_ASCII));
            assertEquals("server ready", "ready", CompletableFuture.supplyAsync(() -> {
                try {
                    return ready.readLine();
                } catch (Exception e) {
                    return e.toString();
                }
            }).get(15, TimeUnit.SECONDS));

            byte[] hello = "hello, namespace".getBytes(StandardCharsets.US_ASCII);
            assertEquals("via the host's address (seen as the gateway)", gw4 + " " + hex(hello),
                echo(guest4, null, hello));
            assertEquals("via 127.0.0.1 (seen as the gateway)", gw4 + " " + hex(hello), echo("127.0.0.1", null, hello));
            String extra = "198.51.100.7";
            boolean added = host("ip addr add " + extra + "/32 dev lo") == 0;
            try {
                if (added)
                    assertEquals("from " + extra + " (seen as itself)", extra + " " + hex(hello),
                        echo(guest4, extra, hello));
                else
                    System.out.println("TcpIT: cannot add " + extra + " to the host's lo; real-source case skipped");
            } finally {
                if (added)
                    host("ip addr del " + extra + "/32 dev lo");
            }
            if (guest6 != null && gw6 != null) {
                String g6 = InetAddress.getByName(gw6).getHostAddress().replaceAll("%.*", "");
                String seen6 = echo(guest6, null, hello);
                String[] p6 = seen6.split(" ");
                assertEquals("IPv6 via the host's address: echo", hex(hello), p6[1]);
                assertEquals("IPv6 via the host's address: seen as the gateway",
                    InetAddress.getByName(g6), InetAddress.getByName(p6[0]));
                assertEquals("IPv6 via ::1: echo", hex(hello), echo("::1", null, hello).split(" ")[1]);
            }

            // 3. 16 MiB each way at once, through the echo.
            byte[] data = new byte[BULK];
            new Random(7).nextBytes(data);
            long b0 = System.nanoTime();
            String bulk = echo(guest4, null, data);
            double secs = (System.nanoTime() - b0) / 1e9;
            assertEquals("16 MiB echoed, SHA-256", gw4 + " " + hex(data), bulk);
            System.out.printf("TcpIT: inbound 16 MiB echoed (host->ns->host) in %.3f s (%.1f MB/s each way)%n",
                secs, BULK / 1e6 / secs);
        } finally {
            srv.destroy();
            srv.waitFor(5, TimeUnit.SECONDS);
        }
        waitFor(() -> tcpFlows() == 0, "inbound flows freed");
        java.util.Map<String, Long> counters = onLoop(() -> instance.counters().snapshot());
        StringBuilder sb = new StringBuilder();
        counters.forEach((k, v) -> {
            if (k.startsWith("tcp.") && v != 0)
                sb.append(' ').append(k).append('=').append(v);
        });
        System.out.println("TcpIT: inbound counters" + sb);
        assertEquals("handler errors", Long.valueOf(0), counters.getOrDefault("handler.errors", 0L));
        assertTrue("accepted counted", counters.getOrDefault("tcp.conn.accepted", 0L) >= 5);
    }

    /**
     * Connects to {@code host}:fwdPort (from {@code source} if given), sends
     * {@code data} while reading, and returns "PEER SHA256" where PEER is the
     * address the server saw and SHA256 the digest of what came back.
     */
    private String echo(String host, String source, byte[] data) throws Exception {
        try (Socket s = new Socket()) {
            if (source != null)
                s.bind(new java.net.InetSocketAddress(source, 0));
            s.connect(new java.net.InetSocketAddress(host, fwdPort), 5000);
            s.setSoTimeout(30_000);
            CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
                try {
                    OutputStream out = s.getOutputStream();
                    for (int off = 0; off < data.length; off += 1 << 16)
                        out.write(data, off, Math.min(1 << 16, data.length - off));
                    s.shutdownOutput();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            InputStream in = s.getInputStream();
            StringBuilder peer = new StringBuilder();
            for (int ch; (ch = in.read()) != '\n'; ) {
                if (ch < 0)
                    throw new AssertionError("connection closed before the peer line, got '" + peer + "'");
                peer.append((char) ch);
            }
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[1 << 16];
            long total = 0;
            for (int n; (n = in.read(buf)) > 0; total += n)
                md.update(buf, 0, n);
            writer.get(30, TimeUnit.SECONDS);
            assertEquals("bytes echoed", data.length, total);
            return peer + " " + HexFormat.of().formatHex(md.digest());
        }
    }

    private static String hex(byte[] data) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
    }

    /** Runs a command on the host; its exit status. */
    private static int host(String cmd) throws Exception {
        Process p = new ProcessBuilder("sh", "-c", cmd).redirectErrorStream(true).start();
        p.getInputStream().transferTo(OutputStream.nullOutputStream());
        return p.waitFor(10, TimeUnit.SECONDS) ? p.exitValue() : -1;
    }

    // ---- helpers ----

    private static CompletableFuture<Void> echoServer(ServerSocket ss) {
        return CompletableFuture.runAsync(() -> {
            try (Socket s = ss.accept()) {
                InputStream in = s.getInputStream();
                OutputStream out = s.getOutputStream();
                byte[] buf = new byte[4096];
                for (int n; (n = in.read(buf)) > 0; )
                    out.write(buf, 0, n);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
    }

    private int tcpFlows() {
        return onLoop(() -> instance.flows().count(FlowType.TCP));
    }

    record Result(int exit, String out, String err) {
    }

    private Result run(String script, int timeoutSeconds) throws Exception {
        return run(script, null, timeoutSeconds);
    }

    /** Runs {@code bash -c script [arg]} inside the namespace. */
    private Result run(String script, String arg, int timeoutSeconds) throws Exception {
        ProcessBuilder pb = arg == null ? new ProcessBuilder("bash", "-c", script)
            : new ProcessBuilder("bash", "-c", script, "bash", arg);
        Process p = spawner.apply(pb);
        CompletableFuture<String> out = CompletableFuture.supplyAsync(() -> drain(p.getInputStream()));
        CompletableFuture<String> err = CompletableFuture.supplyAsync(() -> drain(p.getErrorStream()));
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("timed out after " + timeoutSeconds + " s: " + script + "\nstderr: "
                + err.getNow("?") + "\ncounters: " + onLoop(() -> instance.counters().snapshot()));
        }
        return new Result(p.exitValue(), out.get(5, TimeUnit.SECONDS), err.get(5, TimeUnit.SECONDS));
    }

    private static String drain(InputStream in) {
        try {
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            in.transferTo(b);
            return b.toString(StandardCharsets.UTF_8);
        } catch (Exception e) {
            return "<" + e + ">";
        }
    }

    private <T> T service(Class<T> type, String filter) {
        return PennePax.service(context, type, filter);
    }

    private <T> T onLoop(Callable<T> c) {
        return PennePax.onLoop(instance, c);
    }

}
