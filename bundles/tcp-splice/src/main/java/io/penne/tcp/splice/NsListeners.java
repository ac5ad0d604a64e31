package io.penne.tcp.splice;

import io.penne.api.EpollRef;
import io.penne.api.EventLoop;
import io.penne.api.GuestNamespace;
import io.penne.api.Instance;
import io.penne.api.ListenerPause;
import io.penne.api.PortSpec;
import io.penne.api.flow.InetAddr;
import io.penne.linux.Errno;
import io.penne.linux.NativeBuffer;
import io.penne.linux.ProcNetListeners;
import io.penne.linux.Sockets;
import io.penne.linux.Sys;
import java.io.IOException;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The listening sockets of pasta's {@code -T} (namespace loopback to host
 * loopback): opened inside the guest namespace, registered with the
 * instance's loop under {@link SpliceHandler#EVENT_LISTEN} with the host
 * port to connect to as payload.
 *
 * <p>Theory of operation: the instance property {@value #PROPERTY} holds
 * the {@code -T} specs ({@link PortSpec} syntax, joined with ';'), or
 * {@code none}, or {@code auto}; absent means {@code auto}, pasta's default.
 * Explicit specs are bound once, on the namespace's loopback addresses
 * (127.0.0.1 and ::1) unless the spec names an address, in one hand-off to
 * the namespace thread. {@code auto} follows what listens on the host: once
 * a second a scanner thread reads {@code /proc/net/tcp} and {@code tcp6} of
 * penne's own namespace (off the loop: on a busy host that takes
 * milliseconds); when the set changed, the loop gives every port in
 * LISTEN state there (except penne's own sockets, its {@code -t} listeners,
 * which would loop back: {@link ProcNetListeners} tells them apart by
 * inode) a listener on the namespace's
 * loopback and closes the listeners of ports that went away. A port the namespace already uses cannot be bound; it is
 * remembered and not retried until the host stops listening on it.
 *
 * <p>Listening sockets stay registered when the handler is detached, so a
 * replacement handler takes them over; an adopting {@code auto} handler
 * starts with an empty view and finds its predecessor's ports taken.
 * Loop thread only, except the scanner, which only reads /proc and queues
 * {@link #apply} on the loop.
 */
final class NsListeners {
    /** Instance property with the {@code -T} specs. */
    static final String PROPERTY = PortSpec.TCP_NS_PROPERTY;
    private static final long SCAN_MILLIS = 1000;
    private static final System.Logger LOG = System.getLogger(NsListeners.class.getName());

    private final Instance inst;
    private final int listenType;
    private final boolean v4, v6;
    private final NativeBuffer scratch = NativeBuffer.allocate(64);
    /** auto: host port to our listeners in the namespace ({-1, -1} when binding failed). */
    private final Map<Integer, int[]> auto = new HashMap<>();
    private BitSet excluded;
    /** auto: the host's listening sockets, read by the scanner thread (and once by start, before it runs). */
    private ProcNetListeners hostListeners;
    /** The auto scanner: reads /proc off the loop thread, hands changes to the loop. */
    private Thread scanner;
    private volatile boolean stopped;
    /** The handler's paused listeners: a socket closed here must not be resumed later. */
    private final ListenerPause paused;

    NsListeners(Instance inst, int listenType, boolean v4, boolean v6, ListenerPause paused) {
        this.inst = inst;
        this.paused = paused;
        this.listenType = listenType;
        this.v4 = v4;
        this.v6 = v6;
    }

    /** Opens the configured listeners (not when adopting: they are registered already) and starts auto scanning. */
    void start(boolean adopting) {
        Object p = inst.properties().get(PROPERTY);
        String spec = p == null ? "auto" : p.toString().trim();
        stopped = false;
        if (spec.equals("auto")) {
            excluded = new BitSet(65536);
            // Fixed -t ports only: -t auto listens on the host just for ports the namespace listens on,
            // which a -T listener there could not take anyway.
            for (PortSpec s : PortSpec.parseList(String.valueOf(inst.properties().getOrDefault(PortSpec.TCP_PROPERTY, ""))))
                if (!s.isAuto())
                    for (int port : s.ports())
                        excluded.set(port);
            try {
                hostListeners = ProcNetListeners.open("tcp", "tcp6");
            } catch (IOException e) {
                LOG.log(System.Logger.Level.ERROR, "instance " + inst.name() + ": -T auto: cannot read the host's"
                    + " listening sockets: " + e.getMessage());
                return;
            }
            BitSet first = hostPorts();
            apply(first);
            scanner = new Thread(this::scanLoop, "penne-splice-auto-" + inst.name());
            scanner.setDaemon(true);
            scanner.start();
            return;
        }
        if (!adopting)
            openSpecs(PortSpec.parseList(spec));
    }

    void stop() {
        stopped = true;
        if (scanner != null)
            scanner.interrupt();
    }

    // ---- explicit specs ----

    private void openSpecs(List<PortSpec> specs) {
        int[] eph = io.penne.linux.Sysctl.ephemeralPorts();
        for (PortSpec spec : specs) {
            long[] bind = spec.addressBits();
            List<int[]> wanted = new ArrayList<>(); // {port, target, family4 ? 1 : 0}
            for (int port : spec.ports()) {
                if (spec.skipsEphemeral(port, eph))
                    continue;
                for (int fam = 0; fam < 2; fam++) {
                    boolean four = fam == 0;
                    if (bind != null ? InetAddr.isV4(bind[0], bind[1]) != four : !(four ? v4 : v6))
                        continue;
                    wanted.add(new int[] {port, spec.target(port), four ? 1 : 0});
                }
            }
            int[] fds = open(wanted, bind, spec.iface());
            int bound = 0, failed = 0;
            String firstError = null;
            for (int i = 0; i < fds.length; i++) {
                int r = fds[i] < 0 ? fds[i] : register(fds[i], wanted.get(i)[1]);
                if (r >= 0) {
                    bound++;
                } else {
                    failed++;
                    if (firstError == null)
                        firstError = (wanted.get(i)[2] == 1 ? "IPv4" : "IPv6") + " port " + wanted.get(i)[0] + ": "
                            + Errno.describe(-r);
                }
            }
            if (!spec.isAll() && failed > 0)
                LOG.log(System.Logger.Level.ERROR, "instance " + inst.name() + ": -T " + spec.text() + ": " + failed
                    + " listening socket(s) in the namespace could not be opened, first " + firstError);
            else if (bound == 0)
                LOG.log(System.Logger.Level.ERROR, "instance " + inst.name() + ": -T " + spec.text()
                    + ": no port could be forwarded" + (firstError == null ? "" : ", first " + firstError));
        }
    }

    /** Registers a listening socket; its fd, or {@code -errno} (then it is closed). */
    private int register(int fd, int target) {
        int r = fd > EpollRef.MAX_FD ? -Errno.EMFILE
            : inst.loop().register(fd, EventLoop.EPOLLIN, EpollRef.of(listenType, fd, target));
        if (r < 0) {
            Sys.close(fd);
            return r;
        }
        return fd;
    }

    /** Where -T listens in the namespace when its spec names no address. */
    private static final long[] LOOPBACK4 = {InetAddr.V4_HI, InetAddr.v4Lo(Sockets.LOOPBACK4)};
    private static final long[] LOOPBACK6 = {Sockets.LOOPBACK6_HI, Sockets.LOOPBACK6_LO};

    /**
     * Opens listening sockets in the namespace, one hand-off for all of them:
     * for each {@code {port, target, family4}}, on {@code bind} or the
     * loopback address of the family, on interface {@code iface} if not null.
     * Returns an fd or {@code -errno} each.
     */
    private int[] open(List<int[]> wanted, long[] bind, String iface) {
        GuestNamespace ns = inst.namespace();
        if (ns == null || wanted.isEmpty())
            return new int[0];
        return ns.call(() -> {
            NativeBuffer b = NativeBuffer.forThread();
            int[] out = new int[wanted.size()];
            for (int i = 0; i < out.length; i++) {
                int[] w = wanted.get(i);
                boolean four = w[2] == 1;
                int s = Sockets.tcp(four ? Sockets.AF_INET : Sockets.AF_INET6);
                long[] at = bind != null ? bind : four ? LOOPBACK4 : LOOPBACK6;
                int r = s < 0 ? s : Sockets.bindForwarded(s, four, at, iface, w[0], false, b);
                if (r >= 0)
                    r = Sockets.listen(s, 128);
                if (r < 0 && s >= 0)
                    Sys.close(s);
                out[i] = r < 0 ? r : s;
            }
            return out;
        });
    }

    // ---- auto ----

    /**
     * The scanner thread: once a second, the host's listening ports; when
     * they changed, the loop applies them. Reading /proc/net/tcp can take
     * milliseconds on a busy host, which the loop must not spend.
     */
    private void scanLoop() {
        try {
            scanUntilStopped();
        } finally {
            hostListeners.close();
        }
    }

    private void scanUntilStopped() {
        BitSet last = null;
        while (!stopped) {
            try {
                Thread.sleep(SCAN_MILLIS);
            } catch (InterruptedException e) {
                return;
            }
            BitSet now = hostPorts();
            if (now.equals(last))
                continue;
            last = now;
            BitSet ports = now;
            inst.loop().execute(() -> {
                if (!stopped)
                    apply(ports);
            });
        }
    }

    /** Ports in LISTEN state on the host, except penne's own and the fixed -t ports. */
    private BitSet hostPorts() {
        BitSet host = new BitSet(65536);
        hostListeners.scan(host);
        host.andNot(excluded);
        return host;
    }

    /** On the loop: listeners for new host ports, none for ports gone. */
    private void apply(BitSet host) {
        try {
            List<Integer> gone = new ArrayList<>();
            for (Integer port : auto.keySet())
                if (!host.get(port))
                    gone.add(port);
            for (Integer port : gone)
                for (int fd : auto.remove(port))
                    if (fd >= 0) {
                        paused.forget(fd);
                        inst.loop().unregister(fd);
                        Sys.close(fd);
                    }
            List<int[]> wanted = new ArrayList<>();
            for (int port = host.nextSetBit(0); port >= 0; port = host.nextSetBit(port + 1)) {
                if (auto.containsKey(port))
                    continue;
                if (v4)
                    wanted.add(new int[] {port, port, 1});
                if (v6)
                    wanted.add(new int[] {port, port, 0});
                auto.put(port, new int[] {-1, -1});
            }
            int[] fds = open(wanted, null, null);
            for (int i = 0; i < fds.length; i++) {
                int[] w = wanted.get(i);
                if (fds[i] >= 0 && register(fds[i], w[1]) >= 0)
                    auto.get(w[0])[w[2] == 1 ? 0 : 1] = fds[i];
            }
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.DEBUG, "instance " + inst.name() + ": -T auto update failed", e);
        }
    }

    /** Ports auto currently listens on (for tests). */
    int[] autoPorts() {
        return auto.entrySet().stream().filter(e -> e.getValue()[0] >= 0 || e.getValue()[1] >= 0)
            .mapToInt(Map.Entry::getKey).sorted().toArray();
    }
}
