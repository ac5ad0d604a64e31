package io.penne.itest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.penne.itest.Dist.Result;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
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
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * TCP through the real distribution, as a user runs it: {@code penne -- CLIENT}
 * where the client (python3) runs in the new namespace and talks to servers
 * of this test on the host's loopback through the namespace's gateway
 * address (mapped to the host, as pasta maps it). Exactness is checked with
 * SHA-256 at both ends.
 */
class NamespaceTcpIT {
    private static final int MIB = 1 << 20;
    @TempDir
    Path tmp;
    private final List<ServerSocket> servers = new ArrayList<>();
    private final ExecutorService pool = Executors.newCachedThreadPool();

    @BeforeEach
    void prerequisites() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/python3")) || onPath("python3"),
            "python3 runs the clients in the namespace (.ci/run installs it)");
    }

    @AfterEach
    void stop() throws IOException {
        for (ServerSocket s : servers)
            s.close();
        pool.shutdownNow();
    }

    private static boolean onPath(String cmd) throws Exception {
        return new ProcessBuilder("sh", "-c", "command -v " + cmd).start().waitFor() == 0;
    }

    /** A server on the host loopback; each connection is handed to {@code handler}. */
    private int serve(String address, Handler handler) throws IOException {
        ServerSocket ss = new ServerSocket(0, 512, InetAddress.getByName(address));
        servers.add(ss);
        pool.submit(() -> {
            while (!ss.isClosed()) {
                try {
                    Socket s = ss.accept();
                    pool.submit(() -> {
                        try (s) {
                            handler.handle(s);
                        } catch (Exception e) {
                            // the client reports what it saw
                        }
                        return null;
                    });
                } catch (IOException e) {
                    return null;
                }
            }
            return null;
        });
        return ss.getLocalPort();
    }

    interface Handler {
        void handle(Socket s) throws Exception;
    }

    /** Runs python code in a new penne namespace; GW4/GW6 hold its gateway addresses. */
    private Result python(String code, String... penneOptions) throws Exception {
        Path script = tmp.resolve("client.py");
        Files.writeString(script, "import os\nGW4 = os.environ.get('GW4')\nGW6 = os.environ.get('GW6')\n" + code);
        Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rw-r--r--"));
        List<String> cmd = new ArrayList<>(List.of(penneOptions));
        cmd.addAll(List.of("--", "sh", "-c", "export GW4=$(ip -4 route show default | awk '{print $3}');"
            + " export GW6=$(ip -6 route show default | awk '{print $3}'); exec python3 " + script));
        return Dist.run(240, Dist.penne(cmd.toArray(new String[0])));
    }

    private static String sha256(byte[] b) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    }

    @Test
    void sixtyFourMebibytesEachWayAreExactOverIpv4AndIpv6() throws Exception {
        byte[] down = new byte[64 * MIB];
        new Random(42).nextBytes(down);
        String downSum = sha256(down);
        Handler h = s -> {
            // First byte says the direction: 'D' send the blob, 'U' read to EOF and answer its hash.
            InputStream in = s.getInputStream();
            OutputStream out = s.getOutputStream();
            int dir = in.read();
            if (dir == 'D') {
                out.write(down);
                s.shutdownOutput();
                in.read();
            } else {
                MessageDigest md = MessageDigest.getInstance("SHA-256");
                byte[] buf = new byte[1 << 16];
                int n;
                while ((n = in.read(buf)) > 0)
                    md.update(buf, 0, n);
                out.write(HexFormat.of().formatHex(md.digest()).getBytes(StandardCharsets.US_ASCII));
            }
        };
        int p4 = serve("127.0.0.1", h);
        int p6 = serve("::1", h);
        Result r = python(String.join("\n",
            "import socket, hashlib",
            "def run(fam, gw, port):",
            "    c = socket.create_connection((gw, port)); c.sendall(b'D'); md = hashlib.sha256(); n = 0",
            "    while True:",
            "        b = c.recv(1 << 16)",
            "        if not b: break",
            "        md.update(b); n += len(b)",
            "    c.close(); print('down', fam, n, md.hexdigest())",
            "    data = os.urandom(64 << 20)",
            "    c = socket.create_connection((gw, port)); c.sendall(b'U' + data); c.shutdown(socket.SHUT_WR)",
            "    answer = b''",
            "    while True:",
            "        b = c.recv(100)",
            "        if not b: break",
            "        answer += b",
            "    print('up', fam, answer.decode() == hashlib.sha256(data).hexdigest())",
            "run(4, GW4, " + p4 + ")",
            "if GW6: run(6, GW6, " + p6 + ")",
            ""));
        assertEquals(0, r.status(), r.toString());
        assertTrue(r.out().contains("down 4 " + (64 * MIB) + " " + downSum), r.toString());
        assertTrue(r.out().contains("up 4 True"), r.toString());
        if (r.out().contains("down 6"))
            assertTrue(r.out().contains("down 6 " + (64 * MIB) + " " + downSum) && r.out().contains("up 6 True"),
                r.toString());
    }

    @Test
    void twoHundredConcurrentConnectionsAndHalfClose() throws Exception {
        int echo = serve("127.0.0.1", s -> s.getInputStream().transferTo(s.getOutputStream()));
        // Half-close: read everything the client sends (it shuts its side), answer the count, close.
        int half = serve("127.0.0.1", s -> {
            long n = s.getInputStream().transferTo(OutputStream.nullOutputStream());
            s.getOutputStream().write(("got " + n).getBytes(StandardCharsets.US_ASCII));
        });
        Result r = python(String.join("\n",
            "import socket, threading",
            "ok = [0]; lock = threading.Lock()",
            "def one(i):",
            "    c = socket.create_connection((GW4, " + echo + "), timeout=30)",
            "    msg = (b'%05d' % i) * 200",
            "    c.sendall(msg); got = b''",
            "    while len(got) < len(msg):",
            "        b = c.recv(65536)",
            "        if not b: break",
            "        got += b",
            "    c.close()",
            "    if got == msg:",
            "        with lock: ok[0] += 1",
            "ts = [threading.Thread(target=one, args=(i,)) for i in range(200)]",
            "[t.start() for t in ts]; [t.join() for t in ts]",
            "print('concurrent ok', ok[0])",
            "c = socket.create_connection((GW4, " + half + "))",
            "c.sendall(b'x' * 100000); c.shutdown(socket.SHUT_WR)",
            "ans = b''",
            "while True:",
            "    b = c.recv(100)",
            "    if not b: break",
            "    ans += b",
            "print('half', ans.decode())",
            ""));
        assertEquals(0, r.status(), r.toString());
        assertTrue(r.out().contains("concurrent ok 200"), r.toString());
        assertTrue(r.out().contains("half got 100000"), r.toString());
    }

    @Test
    void synFloodAndMalformedFramesFromTheNamespaceLeavePenneServing() throws Exception {
        int echo = serve("127.0.0.1", s -> s.getInputStream().transferTo(s.getOutputStream()));
        Path sock = tmp.resolve("flood.sock");
        // From inside: 5,000 SYNs with random source ports to one port, then frames with bad
        // header lengths, bad TCP data offsets, lying lengths and bogus TCP options, written raw onto
        // the tap; then an ordinary echo must still work, and penne's counters must show the drops.
        Result r = python(String.join("\n",
            "import socket, struct, random, subprocess",
            "ifname = subprocess.check_output(['sh', '-c', \"ip -4 route show default | awk '{print $5}'\"]).decode().strip()",
            "src = subprocess.check_output(['sh', '-c', \"ip -4 -o addr show dev %s | awk '{print $4}' | cut -d/ -f1\" % ifname]).decode().strip()",
            "raw = socket.socket(socket.AF_PACKET, socket.SOCK_RAW); raw.bind((ifname, 0))",
            "gwmac = bytes.fromhex('9a559a559a55'); mymac = raw.getsockname()[4]",
            "def csum(b):",
            "    if len(b) % 2: b += b'\\0'",
            "    s = sum(struct.unpack('!%dH' % (len(b) // 2), b)); s = (s >> 16) + (s & 0xffff); s += s >> 16",
            "    return ~s & 0xffff",
            "def frame(tcp, ihl=5, tot=None, proto=6):",
            "    tot = tot if tot is not None else 20 + len(tcp)",
            "    ip = struct.pack('!BBHHHBBH4s4s', 0x40 | ihl, 0, tot, 1, 0x4000, 64, proto, 0, socket.inet_aton(src), socket.inet_aton(GW4))",
            "    ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]",
            "    return gwmac + mymac + b'\\x08\\x00' + ip + tcp",
            "def tcp(sport, dport, flags=0x02, doff=5, opts=b''):",
            "    h = struct.pack('!HHIIBBHHH', sport, dport, random.getrandbits(32), 0, doff << 4, flags, 65535, 0, 0) + opts",
            "    pseudo = socket.inet_aton(src) + socket.inet_aton(GW4) + struct.pack('!BBH', 0, 6, len(h))",
            "    return h[:16] + struct.pack('!H', csum(pseudo + h)) + h[18:]",
            "import time",
            "def paced(frames):  # the tap's queue towards penne holds ~1000 frames: don't outrun it",
            "    for i, f in enumerate(frames):",
            "        raw.send(f)",
            "        if i % 200 == 199: time.sleep(0.02)",
            "bad = [frame(tcp(4000, 9), ihl=4), frame(tcp(4000, 9), ihl=15), frame(tcp(4000, 9), tot=2000),",
            "       frame(tcp(4000, 9, doff=2)), frame(tcp(4000, 9, doff=15)), frame(tcp(4000, 9)[:10], tot=30),",
            "       frame(tcp(4001, 9, doff=6, opts=b'\\x02\\x01\\xff\\xff')), frame(tcp(4002, 9, doff=7, opts=b'\\x03\\x00\\x00\\x00\\x08\\xff\\x00\\x00'))]",
            "paced(bad * 50)",
            "paced([frame(tcp(random.randint(1024, 65535), 9)) for i in range(5000)])",
            "time.sleep(0.5)",
            "c = socket.create_connection((GW4, " + echo + "), timeout=30); c.sendall(b'still alive'); print('echo', c.recv(100).decode()); c.close()",
            "print(subprocess.check_output(['" + Dist.CTL + "', '" + sock + "', 'penne:stats']).decode())",
            ""), "-c", sock.toString());
        assertEquals(0, r.status(), r.toString());
        assertTrue(r.out().contains("echo still alive"), r.toString());
        assertTrue(r.out().matches("(?s).*drop\\.ipv4\\.ihl\\s+100\\n.*"), r.toString());
        assertTrue(r.out().matches("(?s).*drop\\.ipv4\\.length\\s+50\\n.*"), r.toString());
        assertTrue(r.out().matches("(?s).*drop\\.tcp\\.short\\s+50\\n.*"), r.toString());
        assertTrue(r.out().matches("(?s).*drop\\.tcp\\.doff\\s+100\\n.*"), r.toString());
        java.util.regex.Matcher refused = java.util.regex.Pattern.compile("tcp\\.conn\\.refused\\s+(\\d+)")
            .matcher(r.out());
        assertTrue(refused.find() && Integer.parseInt(refused.group(1)) >= 4900,
            "the SYN flood reached penne and was answered (refused: closed port): " + r);
        assertTrue(r.out().matches("(?s).*handler\\.errors\\s+.*") == false, "no handler errors: " + r);
    }

    @Test
    void mapHostLoopbackChoosesTheAddressThatMeansTheHost() throws Exception {
        int echo = serve("127.0.0.1", s -> s.getInputStream().transferTo(s.getOutputStream()));
        // 192.0.2.77 is routed through the gateway like any remote address; mapped, it means the host.
        Result r = python(String.join("\n",
            "import socket",
            "c = socket.create_connection(('192.0.2.77', " + echo + "), timeout=10); c.sendall(b'mapped')",
            "print('echo', c.recv(100).decode())",
            ""), "--no-map-gw", "--map-host-loopback", "192.0.2.77", "-4");
        assertEquals(0, r.status(), r.toString());
        assertTrue(r.out().contains("echo mapped"), r.toString());
        Result bad = Dist.run(60, Dist.penne("--map-host-loopback", "not-an-address", "--", "true"));
        assertEquals(2, bad.status(), bad.toString());
        assertTrue(bad.err().startsWith("penne: invalid --map-host-loopback value 'not-an-address'"), bad.toString());
    }

    @Test
    void unprivilegedUserGetsWorkingTcp() throws Exception {
        assumeTrue((Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid") == 0,
            "needs root to switch to an unprivileged user");
        int echo = serve("127.0.0.1", s -> s.getInputStream().transferTo(s.getOutputStream()));
        Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
        Result r = Dist.run(120, List.of("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "env", "-u",
            "XDG_RUNTIME_DIR", Dist.PENNE.toString(), "--", "bash", "-c",
            "gw=$(ip -4 route show default | awk '{print $3}'); exec 3<>/dev/tcp/$gw/" + echo
                + "; printf rootless >&3; head -c 8 <&3"), Path.of("/"));
        assertEquals(0, r.status(), r.toString());
        assertEquals("rootless", r.out(), r.toString());
    }
}
