package io.penne.udp;

import io.penne.api.AutoForward;
import io.penne.api.GuestNamespace;
import io.penne.api.Instance;
import io.penne.api.PortSpec;
import io.penne.linux.NativeBuffer;
import io.penne.linux.ProcNetListeners;
import java.io.IOException;
import java.util.BitSet;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * pasta's {@code -u auto} and {@code -U auto}, its defaults in a namespace:
 * UDP ports are forwarded only while something uses them on the other side.
 *
 * <p><b>Theory of operation.</b> Once a second, on the loop thread, each
 * direction reads the other side's sockets ({@link ProcNetListeners}): for
 * {@code -u auto} the namespace's {@code /proc/net/udp}, {@code udp6},
 * {@code tcp} and {@code tcp6} (opened once on the namespace's thread), for
 * {@code -U auto} the host's. A port counts when a UDP socket is bound to it
 * without a peer, or a TCP socket listens on it (as passt: some protocols,
 * iperf3 for one, set up UDP on their TCP control port). penne's own
 * sockets never count. {@link AutoForward} then opens a forwarding listener
 * for each new port (on the host, or on the namespace's loopback through a
 * hand-off to the namespace's thread) and closes those whose port went
 * away; flows that answered through a closed listener are freed
 * ({@link UdpHandler#closeListener}). Ports that fixed forwarding holds are
 * never opened twice.
 *
 * <p>Limits: a new port is noticed within a second, as with pasta. The
 * scans read the files whole on the loop thread (as pasta does on its only
 * thread): on a host with tens of thousands of sockets that is milliseconds
 * a second of delay for packets (-T auto scans on a thread of its own for
 * that reason; this does not yet). Listeners made here are closed when the
 * handler detaches, with the flows using them; the next handler opens them
 * again at its first scan.
 */
final class UdpAuto {
    /** What each side is scanned for: UDP sockets bound without a peer, and TCP listeners. */
    private static final String[] FILES = {"udp", "udp6", "tcp", "tcp6"};

    private final UdpCtx c;
    private final Instance inst;
    private final AutoForward toNs, toHost;
    private final ProcNetListeners nsSockets, hostSockets;
    private final BitSet ports = new BitSet(65536);
    long task = -1;

    private UdpAuto(UdpCtx c, Instance inst, AutoForward toNs, ProcNetListeners nsSockets, AutoForward toHost,
                    ProcNetListeners hostSockets) {
        this.c = c;
        this.inst = inst;
        this.toNs = toNs;
        this.nsSockets = nsSockets;
        this.toHost = toHost;
        this.hostSockets = hostSockets;
    }

    /**
     * Starts scanning for the {@code auto} specs of {@code -u} ({@code host})
     * and {@code -U} ({@code ns}); {@code takenHost} and {@code takenNs} are
     * the ports fixed forwarding listens on. Problems reading either side are
     * logged and that direction stays off.
     */
    static void start(UdpCtx c, Instance inst, List<PortSpec> host, List<PortSpec> ns, BitSet takenHost, BitSet takenNs) {
        GuestNamespace gns = inst.namespace();
        int[] eph = io.penne.linux.Sysctl.ephemeralPorts();
        AutoForward toNs = null, toHost = null;
        ProcNetListeners nsSockets = null, hostSockets = null;
        if (!host.isEmpty()) {
            try {
                nsSockets = gns.call(() -> ProcNetListeners.open(FILES)); // IOException arrives unchecked
                toNs = new AutoForward(host, c.nat.hasGuest(true), c.nat.hasGuest(false), eph, takenHost);
            } catch (RuntimeException e) {
                log(inst, "-u auto", e);
            }
        }
        if (!ns.isEmpty()) {
            try {
                hostSockets = ProcNetListeners.open(FILES);
                toHost = new AutoForward(ns, true, true, eph, takenNs);
            } catch (IOException | RuntimeException e) {
                log(inst, "-U auto", e);
            }
        }
        if (toNs == null && toHost == null)
            return;
        c.auto = new UdpAuto(c, inst, toNs, nsSockets, toHost, hostSockets);
        // The first scan runs now, in attach, so that (as with pasta) the ports bound at this moment are
        // forwarded before the command starts: it starts once the handlers are attached (InstanceComponent).
        c.auto.scan();
    }

    private static void log(Instance inst, String what, Exception e) {
        System.getLogger(UdpAuto.class.getName()).log(System.Logger.Level.ERROR, "instance " + inst.name() + ": " + what
            + ": cannot read the other side's sockets: " + e.getMessage());
    }

    private void scan() {
        if (toNs != null) {
            ports.clear();
            nsSockets.scan(ports);
            toNs.sync(ports, (v4, bind, port, target) -> UdpHandler.register(c, inst,
                UdpHandler.listenSocket(c.scratch, v4, bind, null, port, false), false, port, target), this::close);
        }
        if (toHost != null) {
            ports.clear();
            hostSockets.scan(ports);
            toHost.sync(ports, (v4, bind, port, target) -> UdpHandler.register(c, inst,
                inst.namespace().call(() -> UdpHandler.nsListenSocket(NativeBuffer.forThread(), v4, port, null)), true, port,
                target), this::close);
        }
        task = inst.loop().schedule(TimeUnit.SECONDS.toNanos(1), this::scan);
    }

    private void close(int fd) {
        UdpHandler.closeListener(inst, fd);
    }

    /** Number of listeners open now, both directions. */
    int count() {
        return (toNs == null ? 0 : toNs.count()) + (toHost == null ? 0 : toHost.count());
    }

    /** Stops scanning and closes every listener made here (at detach, on the loop thread). */
    void stop() {
        if (task >= 0)
            inst.loop().cancel(task);
        for (AutoForward a : new AutoForward[] {toNs, toHost})
            if (a != null)
                a.closeAll(this::close);
        for (ProcNetListeners p : new ProcNetListeners[] {nsSockets, hostSockets})
            if (p != null)
                p.close();
    }
}
