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
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Hashtable;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import javax.inject.Inject;
import org.junit.After;
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
 * The TCP handler's timers, watched from the guest's side: a raw-frame peer
 * in the namespace (rawguest.py) opens a connection to a server on the host
 * and then answers only when the test wants it to, printing when each of
 * penne's segments arrived. Retransmission timing with backoff and the retry
 * limit, the zero-window probe, keepalives both ways and the inactivity
 * timeout are checked against those timestamps and penne's counters.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class TcpTimersIT {
    private static final String NAME = "timersit";
    private static final int SYN = 2, RST = 4, ACK = 16;

    @Inject
    private BundleContext context;
    @Inject
    private ConfigurationAdmin configAdmin;

    private org.osgi.service.cm.Configuration config;
    private Instance instance;
    private Function<ProcessBuilder, Process> spawner;
    private final List<ServerSocket> servers = new ArrayList<>();

    @Configuration
    public Option[] config() {
        return PennePax.runtime("tcp");
    }

    private void start(Map<String, String> extra) throws Exception {
        config = configAdmin.getFactoryConfiguration("io.penne.instance", NAME, "?");
        Hashtable<String, Object> props = new Hashtable<>(extra);
        props.put("name", NAME);
        props.put("netns", "new");
        props.put("flow.capacity", "64");
        config.update(props);
        instance = await(() -> PennePax.service(context, Instance.class, "(name=" + NAME + ")"), "instance", 20);
        spawner = await(() -> PennePax.service(context, Function.class, "(penne.namespace.spawner=" + NAME + ")"),
            "spawner", 20);
        waitFor(() -> PennePax.onLoop(instance, () -> instance.handlers().stream()
            .anyMatch(h -> h.name().equals("tcp") && h.bound())), "tcp handler bound");
    }

    @After
    public void stop() throws Exception {
        for (ServerSocket s : servers)
            s.close();
        if (config != null)
            config.delete();
        waitFor(() -> PennePax.service(context, Instance.class, "(name=" + NAME + ")") == null, "instance gone");
    }

    /** A host server that writes {@code reply} to each connection and then waits for it to end; the outcome says how it ended. */
    private int serve(byte[] reply, CompletableFuture<String> outcome) throws Exception {
        ServerSocket ss = new ServerSocket(0, 10, InetAddress.getByName("127.0.0.1"));
        servers.add(ss);
        CompletableFuture.runAsync(() -> {
            try (Socket s = ss.accept()) {
                s.getOutputStream().write(reply);
                s.getOutputStream().flush();
                outcome.complete(s.getInputStream().read() < 0 ? "eof" : "data");
            } catch (Exception e) {
                outcome.complete(e.getMessage());
            }
        });
        return ss.getLocalPort();
    }

    private record Seg(double t, int flags, long seq, int len) {
    }

    private record Run(List<Seg> segs, String out, String err, int exit) {
    }

    /** Runs rawguest.py in the namespace against the host's {@code port}. */
    private Run guest(int port, String mode, int timeoutSeconds) throws Exception {
        Path script = Files.createTempFile("rawguest", ".py");
        try (InputStream in = TcpTimersIT.class.getResourceAsStream("/rawguest.py")) {
            assertNotNull("rawguest.py on the test class path", in);
            Files.write(script, in.readAllBytes());
        }
        String gw4 = (String) instance.properties().get("guest.gateway4");
        String ifname = (String) instance.properties().get("ns.ifname");
        Process p = spawner.apply(new ProcessBuilder("python3", script.toString(), ifname, gw4,
            Integer.toString(port), mode));
        CompletableFuture<String> out = CompletableFuture.supplyAsync(() -> drain(p.getInputStream()));
        CompletableFuture<String> err = CompletableFuture.supplyAsync(() -> drain(p.getErrorStream()));
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError(mode + ": timed out; so far: " + out.getNow("?") + err.getNow("?"));
        }
        Files.deleteIfExists(script);
        List<Seg> segs = new ArrayList<>();
        String o = out.get(5, TimeUnit.SECONDS);
        for (String line : o.split("\n")) {
            String[] f = line.split(" ");
            if (f[0].equals("seg"))
                segs.add(new Seg(Double.parseDouble(f[1]), Integer.parseInt(f[2]), Long.parseLong(f[3]),
                    Integer.parseInt(f[5])));
        }
        return new Run(segs, o, err.get(5, TimeUnit.SECONDS), p.exitValue());
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

    private long counter(String name) {
        return PennePax.onLoop(instance, () -> instance.counters().snapshot().getOrDefault(name, 0L));
    }

    private int tcpFlows() {
        return PennePax.onLoop(instance, () -> instance.flows().count(FlowType.TCP));
    }

    private static void near(String what, double expected, double actual) {
        assertTrue(what + ": expected about " + expected + " s, was " + actual, Math.abs(actual - expected) <= 0.6);
    }

    @Test
    public void unansweredSynAckIsRetransmittedWithBackoffThenReset() throws Exception {
        start(Map.of());
        CompletableFuture<String> host = new CompletableFuture<>();
        Run r = guest(serve(new byte[0], host), "synack", 60);
        assertEquals(r.err, 0, r.exit);
        List<Seg> synAcks = r.segs.stream().filter(s -> (s.flags & (SYN | ACK)) == (SYN | ACK)).toList();
        List<Seg> rsts = r.segs.stream().filter(s -> (s.flags & RST) != 0).toList();
        // tcp_syn_linear_timeouts (4) timeouts of a second, then doubling: the first answer and its
        // seven retransmissions at 1, 2, 3, 4, 5, 7, 11 s, then the reset at 19 s.
        assertEquals(r.out, 8, synAcks.size());
        double[] at = {0, 1, 2, 3, 4, 5, 7, 11};
        double t0 = synAcks.get(0).t;
        for (int i = 1; i < at.length; i++)
            near("SYN, ACK " + i + " in " + r.out, at[i], synAcks.get(i).t - t0);
        assertEquals(r.out, 1, rsts.size());
        near("reset in " + r.out, 19, rsts.get(0).t - t0);
        assertEquals("the host's side is reset too", "Connection reset", host.get(5, TimeUnit.SECONDS));
        assertEquals(7, counter("tcp.retransmit.syn"));
        assertEquals(1, counter("tcp.conn.timed_out"));
        waitFor(() -> tcpFlows() == 0, "flow freed");
    }

    @Test
    public void unacknowledgedDataIsRetransmittedWithBackoffUntilAcknowledged() throws Exception {
        start(Map.of());
        CompletableFuture<String> host = new CompletableFuture<>();
        Run r = guest(serve(new byte[1000], host), "data", 30);
        assertEquals(r.err, 0, r.exit);
        List<Seg> data = r.segs.stream().filter(s -> s.len > 0).toList();
        // Sent, then again after 1, 2 and 4 more seconds; after the ACK at 9 s, nothing more.
        assertEquals(r.out, 4, data.size());
        double[] at = {0, 1, 3, 7};
        for (int i = 1; i < at.length; i++) {
            near("data " + i + " in " + r.out, at[i], data.get(i).t - data.get(0).t);
            assertEquals("same bytes again", data.get(0).seq, data.get(i).seq);
            assertEquals(1000, data.get(i).len);
        }
        assertTrue(r.out, r.out.contains("acked 1000"));
        assertEquals(3, counter("tcp.retransmit.timeout"));
        assertEquals("the connection survived", 0, counter("tcp.conn.timed_out"));
        assertEquals("the guest's RST at the end reaches the host", "Connection reset", host.get(5, TimeUnit.SECONDS));
    }

    /**
     * Kernels before 6.10 (Debian 12's 6.1) have no SO_PEEK_OFF for TCP: data
     * already sent is peeked into a discard buffer again each time. The
     * retransmission from the acknowledged byte and a 16 MiB transfer must
     * be exact on that path too.
     */
    @Test
    public void withoutPeekOffsetRetransmissionAndBulkDataAreExact() throws Exception {
        start(Map.of("tcp.peek_offset", "false"));
        CompletableFuture<String> host = new CompletableFuture<>();
        int dataPort = serve(new byte[1000], host);
        CompletableFuture<Run> running = CompletableFuture.supplyAsync(() -> {
            try {
                return guest(dataPort, "data", 30);
            } catch (Exception e) {
                throw new java.util.concurrent.CompletionException(e);
            }
        });
        String flags = await(() -> PennePax.onLoop(instance, () -> {
            String[] seen = {null};
            instance.flows().forEachActive(f -> {
                if (f.data() instanceof io.penne.api.flow.TcpConn c && c.has(io.penne.api.flow.TcpConn.ESTABLISHED)) {
                    Map<String, String> m = new java.util.HashMap<>();
                    c.describe(m);
                    seen[0] = m.get("tcp.flags");
                }
            });
            return seen[0];
        }), "an established TCP flow", 10);
        assertTrue("the fallback path is used: " + flags, !flags.contains("PEEK_OFFSET"));
        Run r = running.get(40, TimeUnit.SECONDS);
        assertEquals(r.err, 0, r.exit);
        List<Seg> data = r.segs.stream().filter(s -> s.len > 0).toList();
        assertEquals(r.out, 4, data.size());
        for (Seg s : data)
            assertEquals(data.get(0).seq + "/1000", s.seq + "/" + s.len);

        byte[] bulk = new byte[16 << 20];
        new java.util.Random(7).nextBytes(bulk);
        String expected = java.util.HexFormat.of().formatHex(
            java.security.MessageDigest.getInstance("SHA-256").digest(bulk));
        CompletableFuture<String> done = new CompletableFuture<>();
        int port = serve(bulk, done);
        String gw4 = (String) instance.properties().get("guest.gateway4");
        String ifname = (String) instance.properties().get("ns.ifname");
        // No ARP responder in this runtime (tcp only): tell the namespace where the gateway is.
        assertEquals(0, spawner.apply(new ProcessBuilder("ip", "neigh", "replace", gw4, "lladdr", "9a:55:9a:55:9a:55",
            "dev", ifname, "nud", "permanent")).waitFor());
        Process p = spawner.apply(new ProcessBuilder("python3", "-c", "import socket,hashlib\n"
            + "s=socket.create_connection(('" + gw4 + "'," + port + ")); h=hashlib.sha256(); n=0\n"
            + "while n < " + bulk.length + ":\n    b=s.recv(1<<20)\n    if not b: break\n    h.update(b); n+=len(b)\n"
            + "print(h.hexdigest(), n)\n"));
        CompletableFuture<String> out = CompletableFuture.supplyAsync(() -> drain(p.getInputStream()));
        CompletableFuture<String> err = CompletableFuture.supplyAsync(() -> drain(p.getErrorStream()));
        assertTrue("transfer finished", p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(err.get(5, TimeUnit.SECONDS) + PennePax.onLoop(instance, () -> instance.counters().snapshot()),
            expected + " " + bulk.length, out.get(5, TimeUnit.SECONDS).trim());
    }

    @Test
    public void zeroWindowIsProbedThenDataFlows() throws Exception {
        start(Map.of());
        CompletableFuture<String> host = new CompletableFuture<>();
        Run r = guest(serve(new byte[100], host), "zerowin", 30);
        assertEquals(r.err + r.out, 0, r.exit);
        Seg probe = r.segs.stream().filter(s -> s.len > 0).findFirst().orElseThrow();
        assertEquals(1, probe.len);
        near("probe", 1, probe.t);
        assertTrue(r.out, r.out.contains("received 100"));
        assertEquals(1, counter("tcp.window_probe"));
    }

    @Test
    public void idleGuestGetsKeepalivesAndItsOwnAreAnswered() throws Exception {
        start(Map.of("tcp.keepalive_interval", "2", "tcp.inactivity_timeout", "4"));
        CompletableFuture<String> host = new CompletableFuture<>();
        Run r = guest(serve(new byte[0], host), "keepalive", 30);
        assertEquals(r.err + r.out, 0, r.exit);
        long keepalives = r.segs.stream().filter(s -> s.len == 0 && (s.flags & ACK) != 0 && s.t < 7).count();
        assertTrue("keepalives every 2 s while idle: " + r.out, keepalives >= 2);
        assertTrue("answered keepalives keep an idle connection past the 4 s inactivity timeout: " + r.out,
            r.segs.stream().noneMatch(s -> (s.flags & RST) != 0));
        assertTrue(r.out, r.out.contains("answered"));
        assertTrue(counter("tcp.keepalive.to_guest") >= 2);
        assertEquals(1, counter("tcp.keepalive.from_guest"));
    }

    @Test
    public void silentConnectionIsResetAfterTheInactivityTimeout() throws Exception {
        start(Map.of("tcp.inactivity_timeout", "3"));
        CompletableFuture<String> host = new CompletableFuture<>();
        Run r = guest(serve(new byte[0], host), "inactive", 30);
        assertEquals(r.err + r.out, 0, r.exit);
        List<Seg> rsts = r.segs.stream().filter(s -> (s.flags & RST) != 0).toList();
        assertEquals(r.out, 1, rsts.size());
        assertTrue("reset between 3 and 4.5 s: " + r.out, rsts.get(0).t >= 2.9 && rsts.get(0).t <= 4.6);
        assertEquals("Connection reset", host.get(5, TimeUnit.SECONDS));
        assertEquals(1, counter("tcp.conn.inactive"));
        waitFor(() -> tcpFlows() == 0, "flow freed");
    }
}
