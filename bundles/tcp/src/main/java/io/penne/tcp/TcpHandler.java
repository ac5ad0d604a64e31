package io.penne.tcp;

import io.penne.api.AutoForward;
import io.penne.api.Counters;
import io.penne.api.EpollRef;
import io.penne.api.EventLoop;
import io.penne.api.GuestDevice;
import io.penne.api.Instance;
import io.penne.api.ListenerPause;
import io.penne.api.PacketBatch;
import io.penne.api.PortSpec;
import io.penne.api.ProtocolHandler;
import io.penne.api.flow.Flow;
import io.penne.api.flow.FlowSide;
import io.penne.api.flow.FlowState;
import io.penne.api.flow.FlowTable;
import io.penne.api.flow.FlowType;
import io.penne.api.flow.InetAddr;
import io.penne.api.flow.Pif;
import io.penne.api.flow.TcpConn;
import io.penne.linux.Errno;
import io.penne.linux.KernelFeatures;
import io.penne.linux.NativeBuffer;
import io.penne.linux.ProcNetListeners;
import io.penne.linux.Sockets;
import io.penne.linux.Sys;
import java.nio.ByteBuffer;
import java.security.SecureRandom;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.osgi.service.component.annotations.Component;

import static io.penne.api.flow.TcpConn.*;
import static io.penne.tcp.TcpFrames.ACK;
import static io.penne.tcp.TcpFrames.FIN;
import static io.penne.tcp.TcpFrames.PSH;
import static io.penne.tcp.TcpFrames.RST;
import static io.penne.tcp.TcpFrames.SYN;

/**
 * TCP from the guest to the host: the guest's segments are mapped onto
 * ordinary host sockets, with no TCP stack in between (passt's tcp.c).
 *
 * <p><b>Theory of operation.</b> The guest's kernel and the host's kernel do
 * TCP; penne translates between them and mirrors one side's state into the
 * other, so that each sees a well-behaved peer:
 * <ul>
 * <li><i>Handshake.</i> A SYN from the guest allocates a flow (TAP side:
 * guest address and port to the destination it asked for; HOST side: what
 * the socket connects to) and starts a non-blocking {@code connect()}. A
 * destination equal to the guest's gateway means the host itself and is
 * connected to loopback (pasta's default {@code --map-host-loopback}). Only
 * when the host socket is connected does the guest get its SYN, ACK, with
 * an MSS from our MTU and a window scale (a loopback {@code connect()} has
 * usually completed by the time it returns: {@code TCP_INFO}'s state tells,
 * and the SYN, ACK goes out in the same cycle instead of waiting for
 * {@code EPOLLOUT}); a refused connection becomes a RST
 * to the guest, so the guest's {@code connect()} fails just as fast as a
 * local one.</li>
 * <li><i>Guest to host.</i> Payload goes straight from the receive batch to
 * {@code send()}. Only what the socket took is acknowledged; the window we
 * advertise is the room left in the socket's send buffer (from
 * {@code SO_MEMINFO} and {@code SIOCOUTQ}, as passt's
 * {@code tcp_wnd_from_sndbuf}), so a well-behaved guest does not send what
 * cannot be written. If it does anyway (the estimate is approximate), the
 * rest is not acknowledged, the ACK is duplicated so the guest retransmits
 * promptly, and {@code EPOLLOUT} brings a window update once the socket
 * drains.</li>
 * <li><i>Host to guest.</i> Data stays in the socket until the guest
 * acknowledges it: it is read with {@code MSG_PEEK} (from
 * {@code SO_PEEK_OFF}, so that only new bytes are copied, when the kernel
 * has it; otherwise already-sent bytes are peeked into a discard buffer)
 * straight into frames reserved in the guest device's transmit buffer,
 * in segments of min(MSS, window left). A guest ACK then drops the acked
 * bytes from the socket with {@code recv(MSG_TRUNC)}. Retransmitting is
 * peeking again from the acked offset. Sockets are edge-triggered once
 * established: acknowledged-but-unsent data would otherwise keep
 * {@code EPOLLIN} ready forever.</li>
 * <li><i>Close.</i> A FIN from the guest is {@code shutdown(SHUT_WR)}; end
 * of stream on the socket is a FIN to the guest once every byte before it
 * was sent. A RST from the guest closes the socket with {@code SO_LINGER}
 * 0 (a RST to the host peer); a socket error is a RST to the guest. The
 * flow is freed by the deferred scan once both directions are closed or
 * after a reset.</li>
 * </ul>
 *
 * <p>The handler keeps no per-flow state: everything is in the flow's
 * {@link TcpConn}, so a replacement handler adopts open connections. What it
 * keeps per instance is derived (counter ids, scratch buffers, configuration
 * parsed once) and rebuilt by {@link #attach}.
 *
 * <p><b>Timers.</b> Each connection has a retransmission deadline in its
 * {@link TcpConn} ({@code rtoAt}; values and backoff in {@link TcpTimeouts}),
 * running while something sent to the guest is unacknowledged or its window
 * is zero. Instead of passt's timerfd per connection, one timerfd per
 * instance is kept armed at the earliest deadline: the deferred scan, which
 * visits every flow each loop cycle anyway, handles expired deadlines and
 * re-arms the timerfd for the others, so a connection costs no descriptor
 * and no system call for its timer. On expiry: the handshake segment again,
 * or the data from the last acknowledged byte (a one-byte window probe if
 * the window is zero), with exponential backoff, and a reset after too many.
 * Keepalives and the inactivity timeout ride on the instance's one-second
 * flow timer.
 *
 * <p><b>Gaps against passt</b>: no out-of-order queueing within a batch (out
 * of order segments are dropped with a duplicate ACK); no ACKing only what
 * the peer acked ({@code tcpi_bytes_acked}); no RTT-based delayed ACK timer
 * (ACKs go out at the end of each batch instead); no socket pools.
 *
 * <p><b>Inbound</b> (pasta's {@code -t}, instance property
 * {@code tcp.forward}, see {@link PortSpec}): listening host sockets are
 * opened on the first attach and stay registered across detach (event type
 * {@code tcp.listen}, payload the guest port). An accepted connection is a
 * flow whose INI side is HOST and TGT side TAP, and a SYN to the guest;
 * its SYN, ACK establishes the connection, after which everything above
 * applies unchanged (the guest-facing side is found with {@code tapSide}).
 * A RST from the guest, or no answer to our SYN and its retransmissions,
 * resets the client ({@code SO_LINGER} 0).
 */
@Component(service = ProtocolHandler.class)
public final class TcpHandler implements ProtocolHandler {
    static final String EVENT_SOCK = "tcp.sock";
    /** Offset of the checksum in the TCP header. */
    static final int TCP_CSUM_FIELD = 16;
    static final String EVENT_TIMER = "tcp.timer";
    /** Listening sockets of forwarded ports; the reference's payload is the guest port to forward to. */
    static final String EVENT_LISTEN = "tcp.listen";
    private static final System.Logger LOG = System.getLogger(TcpHandler.class.getName());
    /** Delay of a window re-check for flows whose advertised window is limited by the socket buffer. */
    static final long WND_WATCH_NANOS = TimeUnit.MICROSECONDS.toNanos(100);
    /** Re-checks without a window update before a flow leaves the watch list. */
    static final int WND_WATCH_MAX = 50;
    /** Largest window we advertise to the guest, bytes. */
    static final int MAX_WINDOW = 8 << 20;
    /** Window scale we announce when the guest offers scaling (MAX_WINDOW >> 8 fits in 16 bits). */
    static final int WS_TO_TAP = 8;
    /** Largest window of the guest we use when peeking without SO_PEEK_OFF: the discard buffer size. */
    static final int DISCARD_SIZE = 4 << 20;
    /** Instance property: "false" disables SO_PEEK_OFF even where the kernel has it (tests of the fallback). */
    static final String PEEK_OFFSET_PROPERTY = "tcp.peek_offset";
    /** Initial window to the guest before the socket tells us better (passt's WINDOW_DEFAULT). */
    static final int WINDOW_DEFAULT = 14600;
    /** MSS assumed when the guest's SYN has none (RFC 1122). */
    static final int MSS_DEFAULT = 536;
    /** Duplicate ACKs from the guest that trigger a fast retransmission. */
    static final int DUP_ACK_THRESHOLD = 2;

    private final Map<Instance, Ctx> contexts = new ConcurrentHashMap<>();

    @Override
    public String name() {
        return "tcp";
    }

    @Override
    public Set<String> eventTypes() {
        return Set.of(EVENT_SOCK, EVENT_TIMER, EVENT_LISTEN);
    }

    @Override
    public Set<FlowType> flowTypes() {
        return Set.of(FlowType.TCP);
    }

    @Override
    public int[] packetTypes() {
        return new int[] {6};
    }

    @Override
    public void attach(Instance instance, boolean adopting) {
        Ctx c = new Ctx(instance);
        // The window timer is ours alone (closed in detach), so even when adopting it is created anew.
        c.timer = io.penne.linux.TimerFd.create();
        int type = instance.eventType(EVENT_TIMER);
        Sys.check(instance.loop().register(c.timer.fd(), EventLoop.EPOLLIN, EpollRef.of(type, c.timer.fd(), 0)),
            "register the TCP window timer");
        c.rtoTimer = io.penne.linux.TimerFd.create();
        Sys.check(instance.loop().register(c.rtoTimer.fd(), EventLoop.EPOLLIN, EpollRef.of(type, c.rtoTimer.fd(), 0)),
            "register the TCP retransmission timer");
        contexts.put(instance, c);
        // Listening sockets stay registered across detach, so an adopting handler finds them in place.
        Object fwd = instance.properties().get(PortSpec.TCP_PROPERTY);
        List<PortSpec> specs = fwd == null ? List.of() : PortSpec.parseList(fwd.toString());
        if (!adopting)
            listen(c, instance, specs.stream().filter(s -> !s.isAuto()).toList());
        List<PortSpec> auto = specs.stream().filter(PortSpec::isAuto).toList();
        if (!auto.isEmpty() && instance.namespace() != null)
            startAutoForward(c, instance, auto);
    }

    /** pasta's -t auto: host listeners for the ports listening in the namespace ({@link AutoForward}); scans at once, then every second. */
    private void startAutoForward(Ctx c, Instance inst, List<PortSpec> auto) {
        try {
            c.autoScanner = inst.namespace().call(() -> ProcNetListeners.open("tcp", "tcp6"));
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.ERROR, "instance " + inst.name() + ": -t auto: cannot read the namespace's"
                + " listening sockets: " + e.getMessage());
            return;
        }
        c.auto = new AutoForward(auto, c.nat.hasGuest(true), c.nat.hasGuest(false), io.penne.linux.Sysctl.ephemeralPorts(),
            new java.util.BitSet());
        // The first scan runs now, in attach: the command starts only once the handlers are attached
        // (InstanceComponent), so, as with pasta, ports found now are forwarded before it runs.
        autoScan(c, inst);
    }

    private void autoScan(Ctx c, Instance inst) {
        if (c.auto == null)
            return;
        int type = inst.eventType(EVENT_LISTEN);
        c.autoPorts.clear();
        c.autoScanner.scan(c.autoPorts);
        c.auto.sync(c.autoPorts, (v4, bind, port, target) -> listenOne(c, inst, type, v4, bind, null, port, target),
            fd -> closeListener(c, inst, fd));
        c.autoTask = inst.loop().schedule(TimeUnit.SECONDS.toNanos(1), () -> autoScan(c, inst));
    }

    private static void closeListener(Ctx c, Instance inst, int fd) {
        c.paused.forget(fd);
        inst.loop().unregister(fd);
        Sys.close(fd);
    }

    // ------------------------------------------------------------------
    // Inbound: listening sockets for forwarded ports (pasta's -t)
    // ------------------------------------------------------------------

    /**
     * Opens a non-blocking listening socket per forwarded port: on the spec's
     * address, or on the IPv4 and IPv6 wildcards (for the families the guest
     * has an address in). Ports from {@code all} skip the ephemeral range and
     * fail silently (as pasta). An explicit port that cannot be bound stops
     * the instance from starting (core's ForwardCheck tries them first, as
     * pasta refuses to start); one taken in the moment since is an error in
     * the log and a counter, and the other ports still work.
     */
    private void listen(Ctx c, Instance inst, List<PortSpec> specs) {
        int type = inst.eventType(EVENT_LISTEN);
        int[] eph = io.penne.linux.Sysctl.ephemeralPorts();
        for (PortSpec spec : specs) {
            long[] bind = spec.addressBits();
            int bound = 0, failed = 0;
            String firstError = null;
            for (int port : spec.ports()) {
                if (spec.skipsEphemeral(port, eph))
                    continue;
                for (int fam = 0; fam < 2; fam++) {
                    boolean v4 = fam == 0;
                    if (bind != null ? InetAddr.isV4(bind[0], bind[1]) != v4 : !c.nat.hasGuest(v4))
                        continue;
                    int r = listenOne(c, inst, type, v4, bind, spec.iface(), port, spec.target(port));
                    if (r >= 0) {
                        bound++;
                    } else {
                        failed++;
                        if (firstError == null)
                            firstError = (v4 ? "IPv4" : "IPv6") + " port " + port + ": " + Errno.describe(-r);
                    }
                }
            }
            if (!spec.isAll() && failed > 0) {
                c.counters.add(c.cListenFailed, failed);
                LOG.log(System.Logger.Level.ERROR, "instance " + inst.name() + ": -t " + spec.text() + ": "
                    + failed + " listening socket(s) could not be opened, first " + firstError);
            } else if (bound == 0) {
                LOG.log(System.Logger.Level.ERROR, "instance " + inst.name() + ": -t " + spec.text()
                    + ": no port could be forwarded" + (firstError == null ? "" : ", first " + firstError));
            }
            LOG.log(System.Logger.Level.DEBUG, "instance " + inst.name() + ": -t " + spec.text() + ": "
                + bound + " listening socket(s)");
        }
    }

    /** One listening socket, on interface {@code iface} if not null; its fd, or {@code -errno}. */
    private int listenOne(Ctx c, Instance inst, int type, boolean v4, long[] bind, String iface, int port, int target) {
        int s = Sockets.tcp(v4 ? Sockets.AF_INET : Sockets.AF_INET6);
        if (s < 0)
            return s;
        int r = s > EpollRef.MAX_FD ? -Errno.EMFILE
            : Sockets.bindForwarded(s, v4, bind, iface, port, c.freebind, c.scratch);
        if (r == 0)
            r = Sockets.listen(s, 128);
        if (r == 0)
            r = inst.loop().register(s, EventLoop.EPOLLIN, EpollRef.of(type, s, target));
        if (r < 0) {
            Sys.close(s);
            return r;
        }
        return s;
    }

    /**
     * A connection pending on a listening socket: a SYN to the guest, or a
     * spliced flow. One per event, as pasta: the listening socket is
     * level-triggered, so further pending connections raise the event
     * again, and the usual case, one connection at a time, saves the
     * accept() that would only say EAGAIN (a system call per connection).
     */
    private void accept(Ctx c, Instance inst, long ref) {
        int s = Sockets.accept(EpollRef.fd(ref), c.addr);
        if (s == -Errno.EAGAIN || s == -Errno.EWOULDBLOCK)
            return;
        if (ListenerPause.outOfDescriptors(s)) {
            // The client stays in the backlog; retried once descriptors may be free (no spinning meanwhile).
            c.inc(c.cAcceptNoFd);
            c.paused.pause(EpollRef.fd(ref), ref);
            return;
        }
        if (s < 0) {
            c.inc(c.cSockErrors);
            return;
        }
        int target = EpollRef.payload(ref);
        if (!spliceFromSock(c, inst, s, target))
            connFromSock(c, inst, s, target);
    }

    /** Closes an accepted socket with a RST to the client. */
    private void refuse(Ctx c, int s, int counter) {
        Sockets.setLinger(s, true, 0, c.scratch);
        Sys.close(s);
        c.inc(counter);
    }

    /**
     * An accepted host connection: a flow (HOST side: the client and our
     * local address; TAP side: the guest's address and the target port, and
     * the client's address as the guest sees it) and a SYN to the guest. The
     * client's own address is kept, except where the guest could not answer
     * it: loopback and the guest's own address (the host's) become the
     * gateway, as pasta's default --map-host-loopback.
     */
    private void connFromSock(Ctx c, Instance inst, int s, int target) {
        GuestDevice dev = inst.device();
        NativeBuffer a = c.addr;
        boolean v4 = Sockets.family(a, 0) == Sockets.AF_INET;
        long eHi = v4 ? InetAddr.V4_HI : Sockets.addr6Hi(a, 0);
        long eLo = v4 ? InetAddr.v4Lo(Sockets.addr4(a, 0)) : Sockets.addr6Lo(a, 0);
        int ePort = Sockets.port(a, 0);
        if (dev == null) { // no tap (--splice-only): only loopback clients, spliced, are served, as in pasta
            refuse(c, s, c.cNoDevice);
            return;
        }
        if (s > EpollRef.MAX_FD || Sys.getsockname(s, a) < 0) {
            refuse(c, s, c.cSockErrors);
            return;
        }
        long oHi = v4 ? InetAddr.V4_HI : Sockets.addr6Hi(a, 0);
        long oLo = v4 ? InetAddr.v4Lo(Sockets.addr4(a, 0)) : Sockets.addr6Lo(a, 0);
        int oPort = Sockets.port(a, 0);
        v4 = InetAddr.isV4(eHi, eLo); // a v4-mapped client on a dual-stack socket counts as IPv4
        if (!c.nat.hasGuest(v4)) {
            refuse(c, s, c.cNoGuestAddr);
            return;
        }
        long gHi = c.nat.guestHi(v4), gLo = c.nat.guestLo(v4);
        // ---- address translation (io.penne.api.flow.Nat, shared with UDP and ICMP) ----
        if (!c.nat.inbound(eHi, eLo)) {
            refuse(c, s, c.cNoGuestAddr);
            return;
        }
        long srcHi = c.nat.hi, srcLo = c.nat.lo;
        // ---- end of address translation ----
        FlowTable flows = inst.flows();
        if (flows.lookup(6, Pif.TAP, gHi, gLo, target, srcHi, srcLo, ePort) >= 0) {
            refuse(c, s, c.cInboundClash); // another client already maps onto the same guest 4-tuple
            return;
        }
        Flow f = flows.alloc();
        if (f == null) {
            refuse(c, s, c.cTableFull);
            return;
        }
        flows.initiate(f, Pif.HOST, eHi, eLo, ePort, oHi, oLo, oPort);
        flows.target(f, Pif.TAP, gHi, gLo, target, srcHi, srcLo, ePort);
        flows.setType(f, FlowType.TCP);
        TcpConn conn = f.data(TcpConn.class, TcpConn::new, true);
        conn.sock = s;
        conn.events = SOCK_ACCEPTED;
        conn.mss = dev.maxFrame() - TcpFrames.l3l4Offset(v4) - TcpFrames.TCP_HLEN;
        conn.wsToTap = WS_TO_TAP; // offered in our SYN; dropped if the guest does not scale
        int isn = c.isn(gHi, gLo, target, srcHi, srcLo, ePort, inst.loop().now());
        conn.seqInitToTap = isn;
        conn.seqAckFromTap = isn;
        conn.seqToTap = isn + 1;
        conn.seqMaxToTap = isn + 1;
        if (c.peekOffset)
            conn.flags |= PEEK_OFFSET;
        flows.activate(f);
        flows.hashInsert(Flow.sidx(f.index(), Flow.TGT));
        conn.epollEvents = EventLoop.EPOLLRDHUP | EventLoop.EPOLLET;
        if (inst.loop().register(s, conn.epollEvents, EpollRef.of(c.eventType, s, sockSidx(f))) < 0) {
            c.inc(c.cSockErrors);
            conn.epollEvents = 0;
            closeSocket(c, inst, conn, true);
            conn.events |= CLOSED;
            return;
        }
        conn.wndToTap = Math.max(windowToTap(c, conn), WINDOW_DEFAULT);
        sendSyn(dev, f, conn, SYN, 0, true);
        long now = inst.loop().now();
        conn.activeNanos = conn.tapActiveNanos = now;
        conn.flags |= ACK_FROM_TAP_DUE;
        armRto(c, conn, now);
        c.inc(c.cAccepted);
    }

    /** Inbound, handshake: the guest's answer to our SYN. */
    private void synAckFromTap(Ctx c, Instance inst, Flow f, TcpConn conn, ByteBuffer b, int l4, int doff,
                               int tflags, int seq, int ack, int wnd) {
        if ((tflags & (SYN | ACK)) != (SYN | ACK)) {
            c.inc(c.cEarly);
            return;
        }
        if (ack != conn.seqInitToTap + 1) {
            c.inc(c.cBadAck);
            return;
        }
        synOptions(c, b, l4, doff);
        conn.events |= TAP_SYN_RCVD | ESTABLISHED;
        conn.seqInitFromTap = seq;
        conn.seqFromTap = seq + 1;
        conn.wndFromTap = wnd; // never scaled in a SYN
        if (c.optWs >= 0) {
            conn.flags |= WS_OK;
            conn.wsFromTap = Math.min(c.optWs, 14);
            conn.wsToTap = WS_TO_TAP;
        } else {
            conn.wsFromTap = 0;
            conn.wsToTap = 0;
        }
        conn.mss = Math.min(c.optMss > 0 ? c.optMss : MSS_DEFAULT, conn.mss);
        conn.seqAckFromTap = conn.seqInitToTap + 1;
        conn.flags &= ~ACK_FROM_TAP_DUE;
        conn.retries = 0;
        conn.rtoAt = 0;
        if ((conn.flags & PEEK_OFFSET) != 0 && Sockets.setPeekOffset(conn.sock, 0, c.scratch) < 0)
            conn.flags &= ~PEEK_OFFSET;
        // The handshake's ACK goes out at the end of the batch, then whatever the client sent already.
        conn.flags |= ACK_TO_TAP_DUE | STALLED;
        updateEpoll(c, inst, f, conn);
        c.inc(c.cInboundEstablished);
    }

    /** The side of a flow that faces the guest: INI for outbound flows, TGT for inbound ones. */
    private static int tapSide(Flow f) {
        return f.pif(Flow.INI) == Pif.TAP ? Flow.INI : Flow.TGT;
    }

    /** Side index of the host socket's side, the payload of its epoll reference. */
    private static int sockSidx(Flow f) {
        return Flow.sidx(f.index(), 1 - tapSide(f));
    }

    @Override
    public void detach(Instance instance) {
        Ctx c = contexts.remove(instance);
        if (c == null)
            return;
        // Listening sockets stay for an adopting handler: watched, whatever the open-files limit says now.
        c.paused.resumeAll();
        if (c.auto != null) {
            instance.loop().cancel(c.autoTask);
            c.auto.closeAll(fd -> closeListener(c, instance, fd));
            c.auto = null;
            c.autoScanner.close();
        }
        for (io.penne.linux.TimerFd t : new io.penne.linux.TimerFd[] {c.timer, c.rtoTimer}) {
            if (t != null) {
                instance.loop().unregister(t.fd());
                t.close();
            }
        }
    }

    // ------------------------------------------------------------------
    // Guest segments
    // ------------------------------------------------------------------

    @Override
    public void packets(Instance instance, PacketBatch batch) {
        Ctx c = contexts.get(instance);
        GuestDevice dev = instance.device();
        if (c == null || dev == null)
            return;
        ByteBuffer b = batch.buffer();
        long base = c.rxAddr.of(b);
        FlowTable flows = instance.flows();
        c.now = instance.loop().now();
        c.touchedCount = 0;
        for (int i = 0; i < batch.size(); i++) {
            int l4 = batch.l4Offset(i);
            int l4len = batch.l4Length(i);
            int doff = ((b.get(l4 + 12) & 0xff) >>> 4) * 4;
            int tflags = b.get(l4 + 13) & 0x3f;
            int sport = b.getShort(l4) & 0xffff;
            int dport = b.getShort(l4 + 2) & 0xffff;
            long sHi = batch.srcHi(i), sLo = batch.srcLo(i), dHi = batch.dstHi(i), dLo = batch.dstLo(i);
            int sidx = flows.lookup(6, Pif.TAP, sHi, sLo, sport, dHi, dLo, dport);
            if (sidx < 0) {
                if ((tflags & (SYN | ACK | RST | FIN)) == SYN)
                    connFromTap(c, instance, batch, i, l4, doff, sHi, sLo, sport, dHi, dLo, dport);
                else if ((tflags & RST) == 0) {
                    c.inc(c.cNoFlow);
                    rstNoConn(c, dev, batch, i, l4, l4len - doff, tflags);
                } else
                    c.inc(c.cRstNoFlow);
                continue;
            }
            Flow f = flows.get(Flow.sidxFlow(sidx));
            if (!(f.data() instanceof TcpConn conn))
                continue;
            segment(c, instance, dev, f, conn, b, base, l4, doff, l4len - doff, tflags);
            if ((conn.flags & IN_BATCH) == 0 && c.touchedCount < c.touched.length) {
                conn.flags |= IN_BATCH;
                c.touched[c.touchedCount++] = f.index();
            }
        }
        for (int k = 0; k < c.touchedCount; k++) {
            Flow f = flows.get(c.touched[k]);
            if (f.data() instanceof TcpConn conn) {
                conn.flags &= ~IN_BATCH;
                endOfBatch(c, instance, dev, f, conn);
            }
        }
        c.touchedCount = 0;
    }

    /** One segment of an existing flow. */
    private void segment(Ctx c, Instance inst, GuestDevice dev, Flow f, TcpConn conn, ByteBuffer b, long base,
                         int l4, int doff, int plen, int tflags) {
        if (conn.has(CLOSED))
            return;
        int seq = b.getInt(l4 + 4);
        int ack = b.getInt(l4 + 8);
        int wnd = b.getShort(l4 + 14) & 0xffff;
        conn.tapActiveNanos = conn.activeNanos = c.now;

        if ((tflags & RST) != 0) {
            c.inc(c.cRstFromTap);
            sockRst(c, inst, conn);
            return;
        }
        if (conn.has(SOCK_ACCEPTED) && !conn.has(ESTABLISHED)) {
            synAckFromTap(c, inst, f, conn, b, l4, doff, tflags, seq, ack, wnd);
            return;
        }
        if ((tflags & SYN) != 0) {
            if (!conn.has(ESTABLISHED) && (tflags & ACK) == 0 && seq == conn.seqInitFromTap) {
                // The guest retransmitted its SYN: answer again if we already did.
                c.inc(c.cDupSyn);
                if (conn.has(TAP_SYN_ACK_SENT))
                    sendSynAck(c, dev, f, conn);
            } else {
                c.inc(c.cBadSyn);
                conn.flags |= ACK_TO_TAP_DUE; // challenge ACK (RFC 5961 3.2)
            }
            return;
        }
        if (!conn.has(ESTABLISHED)) {
            if (!conn.has(TAP_SYN_ACK_SENT) || (tflags & ACK) == 0) {
                c.inc(c.cEarly);
                return;
            }
            if (ack != conn.seqInitToTap + 1) {
                c.inc(c.cBadAck);
                return;
            }
            established(c, inst, f, conn);
        }

        if ((tflags & ACK) != 0)
            ackFromTap(c, inst, conn, ack, wnd, plen == 0 && (tflags & FIN) == 0);
        if (plen <= 1 && seqLt(seq, conn.seqFromTap) && (tflags & (FIN | SYN)) == 0)
            keepaliveFromTap(c, conn);

        boolean complete = true;
        if (plen > 0)
            complete = dataFromTap(c, inst, f, conn, base + l4 + doff, seq, plen);
        if (conn.has(CLOSED))
            return;
        if ((tflags & FIN) != 0 && complete) {
            if (seq + plen == conn.seqFromTap && !conn.has(TAP_FIN_RCVD)) {
                conn.seqFromTap++;
                conn.events |= TAP_FIN_RCVD;
                if (Sys.shutdown(conn.sock, Sockets.SHUT_WR) == 0)
                    conn.events |= SOCK_FIN_SENT;
                conn.flags |= ACK_TO_TAP_DUE;
            } else if (conn.has(TAP_FIN_RCVD)) {
                conn.flags |= ACK_TO_TAP_DUE; // retransmitted FIN: our ACK was lost
            }
        }
    }

    /** ACK number and window from the guest. */
    private void ackFromTap(Ctx c, Instance inst, TcpConn conn, int ack, int wnd, boolean pureAck) {
        int wndBytes = (int) Math.min((long) wnd << conn.wsFromTap, Integer.MAX_VALUE);
        if (seqLt(conn.seqToTap, ack)) {
            c.inc(c.cBadAck); // acknowledges what we never sent
            return;
        }
        if (seqLt(conn.seqAckFromTap, ack)) {
            int dataEnd = conn.has(TAP_FIN_SENT) ? conn.seqToTap - 1 : conn.seqToTap;
            int consume = (seqLt(dataEnd, ack) ? dataEnd : ack) - conn.seqAckFromTap;
            if (consume > 0) {
                long r = Sys.recv(conn.sock, 0L, consume, Sockets.MSG_TRUNC | Sockets.MSG_DONTWAIT);
                if (r < 0) {
                    c.inc(c.cSockErrors);
                    return; // pretend there was no ACK; try again with the next one
                }
            }
            conn.seqAckFromTap = ack;
            conn.dupAcks = 0;
            conn.retries = 0;
            if (ack == conn.seqToTap) {
                conn.flags &= ~ACK_FROM_TAP_DUE;
                conn.rtoAt = 0;
                if (conn.has(TAP_FIN_SENT))
                    conn.events |= TAP_FIN_ACKED;
            } else {
                conn.rtoAt = 0;
                armRto(c, conn, c.now); // RFC 6298 5.3: restart on new data acknowledged
            }
        } else if (pureAck && ack == conn.seqAckFromTap && ack != conn.seqToTap && wndBytes == conn.wndFromTap) {
            if (++conn.dupAcks == DUP_ACK_THRESHOLD) {
                c.inc(c.cFastRetransmit);
                rewind(c, conn);
                conn.flags |= STALLED; // send again at the end of the batch
            }
        }
        if (wndBytes != conn.wndFromTap) {
            if (wndBytes > conn.wndFromTap)
                conn.flags |= STALLED; // more room: try sending at the end of the batch
            conn.wndFromTap = wndBytes;
        }
        if (wndBytes == 0 && conn.has(ESTABLISHED))
            armRto(c, conn, c.now); // zero window: probe it when the timer expires
    }

    /**
     * A keepalive from the guest (a segment one byte behind, RFC 9293
     * 3.8.4): answer it with an ACK, and let the host peer see keepalives
     * too, since the guest wants them.
     */
    private void keepaliveFromTap(Ctx c, TcpConn conn) {
        conn.flags |= ACK_TO_TAP_DUE;
        if ((conn.flags & SOCK_KEEPALIVE) == 0 && conn.sock >= 0) {
            conn.flags |= SOCK_KEEPALIVE;
            Sockets.setInt(conn.sock, Sockets.SOL_SOCKET, Sockets.SO_KEEPALIVE, 1, c.scratch);
        }
        c.inc(c.cKeepaliveFromTap);
    }

    /**
     * Payload from the guest to the socket.
     *
     * @return whether all of it was accepted (so a FIN on the same segment counts)
     */
    private boolean dataFromTap(Ctx c, Instance inst, Flow f, TcpConn conn, long addr, int seq, int plen) {
        int skip = conn.seqFromTap - seq;
        if (skip < 0) {
            c.inc(c.cOutOfOrder);
            conn.flags |= ACK_TO_TAP_DUE | DUP_ACK;
            return false;
        }
        conn.flags |= ACK_TO_TAP_DUE;
        if (skip >= plen)
            return true; // all of it seen before: re-ACK
        if (conn.has(TAP_FIN_RCVD)) {
            c.inc(c.cAfterFin);
            return false;
        }
        int len = plen - skip;
        long n = Sys.send(conn.sock, addr + skip, len, Sockets.MSG_DONTWAIT | Sockets.MSG_NOSIGNAL);
        if (n == -Errno.EINTR)
            n = Sys.send(conn.sock, addr + skip, len, Sockets.MSG_DONTWAIT | Sockets.MSG_NOSIGNAL);
        if (n == -Errno.EAGAIN)
            n = 0;
        if (n < 0) {
            c.inc(c.cSockErrors);
            tapRst(c, inst.device(), inst, f, conn);
            return false;
        }
        conn.seqFromTap += (int) n;
        conn.bytesFromTap += n;
        if (n < len) {
            // The socket is full: what it did not take stays unacknowledged.
            c.inc(c.cPartialSend);
            conn.flags |= SNDBUF_FULL | DUP_ACK;
            updateEpoll(c, inst, f, conn);
            return false;
        }
        return true;
    }

    /** After all segments of a batch: owed ACKs, and sending where the guest's window opened. */
    private void endOfBatch(Ctx c, Instance inst, GuestDevice dev, Flow f, TcpConn conn) {
        if (conn.has(CLOSED))
            return;
        if (conn.has(TAP_FIN_RCVD) && (conn.flags & STALLED) != 0 && conn.has(ESTABLISHED)) {
            // The guest sends no more data, so the window it is told does not matter: data or our FIN,
            // if any, carry the acknowledgement and a separate ACK is only needed without them.
            dataFromSock(c, inst, dev, f, conn);
            if ((conn.flags & (ACK_TO_TAP_DUE | DUP_ACK)) != 0 || conn.seqAckToTap != conn.seqFromTap)
                sendAck(c, inst, dev, f, conn);
            return;
        }
        if ((conn.flags & ACK_TO_TAP_DUE) != 0 || conn.seqAckToTap != conn.seqFromTap)
            sendAck(c, inst, dev, f, conn);
        if ((conn.flags & STALLED) != 0 && conn.has(ESTABLISHED))
            dataFromSock(c, inst, dev, f, conn);
    }

    // ------------------------------------------------------------------
    // Connection setup
    // ------------------------------------------------------------------

    private void connFromTap(Ctx c, Instance inst, PacketBatch batch, int i, int l4, int doff,
                             long sHi, long sLo, int sport, long dHi, long dLo, int dport) {
        ByteBuffer b = batch.buffer();
        GuestDevice dev = inst.device();
        boolean v4 = InetAddr.isV4(sHi, sLo);
        if (sport == 0 || dport == 0 || !unicast(v4, dHi, dLo) || !unicast(v4, sHi, sLo)) {
            c.inc(c.cBadDst);
            return;
        }
        synOptions(c, b, l4, doff);
        int mssOpt = c.optMss, wsOpt = c.optWs;

        // ---- address translation (io.penne.api.flow.Nat, shared with UDP and ICMP) ----
        // Where the socket connects: the gateway means the host itself, --map-guest-addr the host's
        // address, the --dns-forward address (ports 53 and 853) the host's resolver.
        c.nat.outbound(6, dHi, dLo, dport);
        long tHi = c.nat.hi, tLo = c.nat.lo;
        // ---- end of address translation ----

        int seq = b.getInt(l4 + 4);
        FlowTable flows = inst.flows();
        Flow f = flows.alloc();
        if (f == null) {
            c.inc(c.cTableFull);
            rstNoConn(c, dev, batch, i, l4, batch.l4Length(i) - doff, SYN);
            return;
        }
        flows.initiate(f, Pif.TAP, sHi, sLo, sport, dHi, dLo, dport);
        flows.target(f, Pif.HOST, tHi, tLo, dport, 0, 0, 0);
        flows.setType(f, FlowType.TCP);
        TcpConn conn = f.data(TcpConn.class, TcpConn::new, true);

        int s = Sockets.tcp(v4 ? Sockets.AF_INET : Sockets.AF_INET6);
        if (s < 0 || s > EpollRef.MAX_FD) {
            if (s >= 0)
                Sys.close(s);
            c.inc(c.cSockErrors);
            flows.cancel(f);
            rstNoConn(c, dev, batch, i, l4, batch.l4Length(i) - doff, SYN);
            return;
        }
        // -o, --outbound-if: not towards the host's loopback, which no outside address or interface reaches
        boolean toLoopback = InetAddr.isLoopback(tHi, tLo);
        if (!toLoopback && c.outbound.apply(s, v4, 0, c.scratch) < 0)
            c.inc(c.cOutboundBind); // best effort, as pasta: the connection goes ahead unbound
        int r = v4 ? Sockets.connect4(s, InetAddr.v4(tLo), dport, c.scratch)
            : Sockets.connect6(s, tHi, tLo, dport, c.nat.scope(tHi, tLo), c.scratch);
        if (r < 0 && r != -Errno.EINPROGRESS) {
            Sys.close(s);
            c.inc(r == -Errno.ECONNREFUSED ? c.cRefused : c.cSockErrors);
            flows.cancel(f);
            rstNoConn(c, dev, batch, i, l4, batch.l4Length(i) - doff, SYN);
            return;
        }
        if (r == -Errno.EINPROGRESS && tcpEstablished(c, s))
            r = 0; // loopback: the handshake already completed, answer the guest now rather than next cycle
        conn.sock = s;
        conn.events = TAP_SYN_RCVD;
        conn.tapActiveNanos = conn.activeNanos = c.now;
        conn.seqInitFromTap = seq;
        conn.seqFromTap = seq + 1;
        conn.seqAckToTap = seq + 1;
        conn.wndFromTap = b.getShort(l4 + 14) & 0xffff; // never scaled in a SYN
        if (wsOpt >= 0) {
            conn.flags |= WS_OK;
            conn.wsFromTap = Math.min(wsOpt, 14);
            conn.wsToTap = WS_TO_TAP;
        }
        int ourMss = dev.maxFrame() - TcpFrames.l3l4Offset(v4) - TcpFrames.TCP_HLEN;
        conn.mss = Math.min(mssOpt > 0 ? mssOpt : MSS_DEFAULT, ourMss);
        int isn = c.isn(sHi, sLo, sport, dHi, dLo, dport, inst.loop().now());
        conn.seqInitToTap = isn;
        conn.seqToTap = isn;
        conn.seqAckFromTap = isn;
        if (c.peekOffset)
            conn.flags |= PEEK_OFFSET;
        flows.activate(f);
        flows.hashInsert(Flow.sidx(f.index(), Flow.INI));
        // Connected already: register the mask connected() would switch to, saving an epoll_ctl.
        conn.epollEvents = r == 0 ? EventLoop.EPOLLIN | EventLoop.EPOLLRDHUP | EventLoop.EPOLLET
            : EventLoop.EPOLLOUT | EventLoop.EPOLLRDHUP;
        int rr = inst.loop().register(s, conn.epollEvents, EpollRef.of(c.eventType, s, Flow.sidx(f.index(), Flow.TGT)));
        if (rr < 0) {
            c.inc(c.cSockErrors);
            conn.epollEvents = 0;
            tapRst(c, dev, inst, f, conn);
            return;
        }
        c.inc(c.cOpened);
        if (r == 0)
            connected(c, inst, dev, f, conn);
    }

    /** Whether the connecting socket {@code s} is in TCP_ESTABLISHED (tcpi_state, the first byte of TCP_INFO). */
    private static boolean tcpEstablished(Ctx c, int s) {
        NativeBuffer m = c.scratch;
        long base = m.address(0, 64);
        m.putInt(0, 0);
        m.putInt(48, 8);
        int r = Sys.getsockopt(s, Sockets.SOL_TCP, Sockets.TCP_INFO, base, base + 48);
        return r == 0 && (m.getInt(0) & 0xff) == 1;
    }

    /** Options of a SYN from the guest: MSS and window scale into {@code c.optMss}, {@code c.optWs} (-1: none). */
    private static void synOptions(Ctx c, ByteBuffer b, int l4, int doff) {
        int mssOpt = -1, wsOpt = -1;
        int o = l4 + TcpFrames.TCP_HLEN, end = l4 + doff;
        while (o < end) {
            int kind = b.get(o) & 0xff;
            if (kind == TcpFrames.OPT_EOL)
                break;
            if (kind == TcpFrames.OPT_NOP) {
                o++;
                continue;
            }
            if (o + 1 >= end) {
                c.inc(c.cBadOption);
                break;
            }
            int olen = b.get(o + 1) & 0xff;
            if (olen < 2 || o + olen > end) {
                c.inc(c.cBadOption);
                break;
            }
            if (kind == TcpFrames.OPT_MSS && olen == 4)
                mssOpt = b.getShort(o + 2) & 0xffff;
            else if (kind == TcpFrames.OPT_WS && olen == 3)
                wsOpt = b.get(o + 2) & 0xff;
            o += olen;
        }
        c.optMss = mssOpt;
        c.optWs = wsOpt;
    }

    /** The host socket is connected: answer the guest's SYN. */
    private void connected(Ctx c, Instance inst, GuestDevice dev, Flow f, TcpConn conn) {
        conn.events |= TAP_SYN_ACK_SENT;
        conn.wndToTap = Math.max(windowToTap(c, conn), WINDOW_DEFAULT);
        sendSynAck(c, dev, f, conn);
        conn.seqToTap = conn.seqInitToTap + 1;
        conn.seqMaxToTap = conn.seqToTap;
        conn.flags |= ACK_FROM_TAP_DUE;
        armRto(c, conn, inst.loop().now());
        updateEpoll(c, inst, f, conn);
    }

    /** The guest acknowledged our SYN, ACK. */
    private void established(Ctx c, Instance inst, Flow f, TcpConn conn) {
        conn.events |= ESTABLISHED;
        conn.seqAckFromTap = conn.seqInitToTap + 1;
        conn.flags &= ~ACK_FROM_TAP_DUE;
        conn.retries = 0;
        conn.rtoAt = 0;
        if ((conn.flags & PEEK_OFFSET) != 0 && Sockets.setPeekOffset(conn.sock, 0, c.scratch) < 0)
            conn.flags &= ~PEEK_OFFSET;
        conn.flags |= STALLED; // the host may have sent data already: look at the end of the batch
        updateEpoll(c, inst, f, conn);
    }

    // ------------------------------------------------------------------
    // Socket events
    // ------------------------------------------------------------------

    @Override
    public void event(Instance instance, int eventType, long ref, int events) {
        Ctx c = contexts.get(instance);
        if (c == null)
            return;
        if (eventType == c.timerType) {
            if (EpollRef.fd(ref) == c.rtoTimer.fd()) {
                // Expired deadlines are handled by the deferred scan at the end of this cycle.
                c.rtoTimer.expirations();
                c.rtoArmedAt = 0;
                return;
            }
            c.timer.expirations();
            windowWatch(c, instance);
            return;
        }
        if (eventType == c.listenType) {
            accept(c, instance, ref);
            return;
        }
        int sidx = EpollRef.payload(ref);
        Flow f = instance.flows().get(Flow.sidxFlow(sidx));
        if (f == null || f.state() != FlowState.ACTIVE || f.type() != FlowType.TCP
            || !(f.data() instanceof TcpConn conn) || conn.sock != EpollRef.fd(ref)) {
            c.inc(c.cStale);
            return;
        }
        if (conn.has(CLOSED))
            return;
        GuestDevice dev = instance.device();
        if (dev == null)
            return;
        conn.activeNanos = instance.loop().now();
        if (!conn.has(TAP_SYN_ACK_SENT) && !conn.has(SOCK_ACCEPTED)) {
            int err = Sockets.soError(conn.sock, c.scratch);
            if (err != 0 || (events & (EventLoop.EPOLLERR | EventLoop.EPOLLHUP)) != 0) {
                c.inc(err == Errno.ECONNREFUSED ? c.cRefused : c.cConnectFailed);
                tapRst(c, dev, instance, f, conn);
                return;
            }
            if ((events & EventLoop.EPOLLOUT) != 0)
                connected(c, instance, dev, f, conn);
            return;
        }
        if ((events & EventLoop.EPOLLERR) != 0) {
            int err = Sockets.soError(conn.sock, c.scratch);
            if (err != 0) {
                c.inc(c.cSockErrors);
                tapRst(c, dev, instance, f, conn);
                return;
            }
        }
        if ((events & (EventLoop.EPOLLRDHUP | EventLoop.EPOLLHUP)) != 0)
            conn.events |= SOCK_FIN_RCVD;
        if (!conn.has(ESTABLISHED))
            return; // data waits in the socket until the handshake with the guest completes
        if ((events & EventLoop.EPOLLOUT) != 0 && (conn.flags & SNDBUF_FULL) != 0 && windowToTap(c, conn) > 0) {
            conn.flags &= ~SNDBUF_FULL;
            updateEpoll(c, instance, f, conn);
            sendAck(c, instance, dev, f, conn); // window update: the guest may retransmit what we refused
        }
        if ((events & (EventLoop.EPOLLIN | EventLoop.EPOLLRDHUP | EventLoop.EPOLLHUP)) != 0)
            dataFromSock(c, instance, dev, f, conn);
    }

    /**
     * Sends socket data the guest has not seen, within its window, and a FIN
     * at end of stream.
     */
    private void dataFromSock(Ctx c, Instance inst, GuestDevice dev, Flow f, TcpConn conn) {
        conn.flags &= ~STALLED;
        if (!conn.has(ESTABLISHED) || conn.has(TAP_FIN_SENT) || conn.has(CLOSED))
            return;
        if (seqLt(conn.seqToTap, conn.seqAckFromTap)) {
            conn.seqToTap = conn.seqAckFromTap;
            setPeekOffset(c, conn, 0);
        }
        FlowSide tap = f.side(tapSide(f));
        boolean v4 = tap.isV4();
        int hlen = TcpFrames.l3l4Offset(v4) + TcpFrames.TCP_HLEN;
        long wnd = conn.wndFromTap & 0xffff_ffffL;
        boolean peekOff = (conn.flags & PEEK_OFFSET) != 0;
        if (!peekOff)
            wnd = Math.min(wnd, DISCARD_SIZE);
        ByteBuffer tx = dev.buffer();
        long txBase = c.txAddr.of(tx);
        long guestMac = dev.guestMac(), ourMac = dev.ourMac();
        boolean offload = dev.checksumOffload();
        while (true) {
            int sent = conn.seqToTap - conn.seqAckFromTap;
            long room = wnd - sent;
            if (room <= 0) {
                conn.flags |= STALLED;
                // Window full or zero: the timer retransmits, or probes a zero window (passt sets
                // ACK_FROM_TAP_DUE for the same reason).
                armRto(c, conn, inst.loop().now());
                break;
            }
            int seg = (int) Math.min(conn.mss, room);
            int off = dev.reserve(hlen + seg);
            if (off < 0)
                break;
            long n = peek(c, conn, txBase + off + hlen, seg, sent, peekOff);
            if (n == -Errno.EAGAIN)
                break;
            if (n < 0) {
                c.inc(c.cSockErrors);
                tapRst(c, dev, inst, f, conn);
                return;
            }
            boolean retransmit = seqLt(conn.seqToTap, conn.seqMaxToTap);
            if (n == 0) {
                // End of stream with every byte before it sent: FIN.
                conn.events |= SOCK_FIN_RCVD | TAP_FIN_SENT;
                int len = TcpFrames.headers(tx, off, guestMac, ourMac, v4, tap.oaddrHi(), tap.oaddrLo(),
                    tap.eaddrHi(), tap.eaddrLo(), tap.oport(), tap.eport(), conn.seqToTap, conn.seqFromTap,
                    FIN | ACK, scaledWindow(conn), 0, 0);
                TcpFrames.checksums(tx, off, len, v4);
                dev.send(off, len);
                conn.seqAckToTap = conn.seqFromTap;
                conn.seqToTap++;
                conn.flags |= ACK_FROM_TAP_DUE;
                conn.flags &= ~ACK_TO_TAP_DUE;
                armRto(c, conn, inst.loop().now());
                break;
            }
            int len = TcpFrames.headers(tx, off, guestMac, ourMac, v4, tap.oaddrHi(), tap.oaddrLo(),
                tap.eaddrHi(), tap.eaddrLo(), tap.oport(), tap.eport(), conn.seqToTap, conn.seqFromTap,
                n < seg ? ACK | PSH : ACK, scaledWindow(conn), 0, (int) n);
            if (offload) {
                // The payload is not summed here: the guest's kernel takes it as verified.
                TcpFrames.checksumsPartial(tx, off, len, v4);
                dev.sendChecksumPending(off, len, TcpFrames.l3l4Offset(v4), TCP_CSUM_FIELD);
            } else {
                TcpFrames.checksums(tx, off, len, v4);
                dev.send(off, len);
            }
            if (retransmit)
                conn.bytesRetransmitted += n;
            else
                conn.bytesToTap += n;
            armRto(c, conn, inst.loop().now());
            conn.seqToTap += (int) n;
            conn.seqAckToTap = conn.seqFromTap;
            conn.flags |= ACK_FROM_TAP_DUE;
            conn.flags &= ~ACK_TO_TAP_DUE;
            if (seqLt(conn.seqMaxToTap, conn.seqToTap))
                conn.seqMaxToTap = conn.seqToTap;
            if (n < seg && (conn.events & SOCK_FIN_RCVD) == 0)
                break; // drained; the next data is a new edge
        }
    }

    /** Peeks up to {@code len} new bytes into {@code addr}; {@code sent} bytes from the head were sent already. */
    private long peek(Ctx c, TcpConn conn, long addr, int len, int sent, boolean peekOff) {
        int flags = Sockets.MSG_PEEK | Sockets.MSG_DONTWAIT;
        if (peekOff)
            return Sys.recv(conn.sock, addr, len, flags);
        NativeBuffer m = c.msg;
        long discard = c.discard().address();
        m.putIovec(Ctx.IOV_OFF, discard, sent).putIovec(Ctx.IOV_OFF + 16, addr, len);
        m.putLong(0, 0).putLong(8, 0).putLong(16, m.address() + Ctx.IOV_OFF).putLong(24, sent == 0 ? 1 : 2)
            .putLong(32, 0).putLong(40, 0).putLong(48, 0);
        if (sent == 0)
            m.putIovec(Ctx.IOV_OFF, addr, len);
        long r = Sys.recvmsg(conn.sock, m.address(), flags);
        m.keepAlive();
        if (r <= 0 || sent == 0)
            return r;
        if (r < sent)
            return -Errno.EIO; // data we sent vanished from the socket
        return r - sent == 0 && (conn.events & SOCK_FIN_RCVD) == 0 ? -Errno.EAGAIN : r - sent;
    }

    private void setPeekOffset(Ctx c, TcpConn conn, int off) {
        if ((conn.flags & PEEK_OFFSET) != 0 && Sockets.setPeekOffset(conn.sock, off, c.scratch) < 0)
            conn.flags &= ~PEEK_OFFSET;
    }

    /** Go back to the last byte the guest acknowledged: the next send repeats everything after it. */
    private void rewind(Ctx c, TcpConn conn) {
        if (conn.has(TAP_FIN_SENT) && !conn.has(TAP_FIN_ACKED))
            conn.events &= ~TAP_FIN_SENT;
        int dataAcked = conn.seqAckFromTap;
        conn.seqToTap = dataAcked;
        setPeekOffset(c, conn, 0);
    }

    // ------------------------------------------------------------------
    // Flags to the guest
    // ------------------------------------------------------------------

    private void sendSynAck(Ctx c, GuestDevice dev, Flow f, TcpConn conn) {
        sendSyn(dev, f, conn, SYN | ACK, conn.seqFromTap, (conn.flags & WS_OK) != 0);
        conn.seqAckToTap = conn.seqFromTap;
    }

    /** A SYN (inbound, {@code ack} unused) or SYN, ACK to the guest, with our MSS and, if {@code ws}, window scale. */
    private void sendSyn(GuestDevice dev, Flow f, TcpConn conn, int flags, int ack, boolean ws) {
        FlowSide tap = f.side(tapSide(f));
        boolean v4 = tap.isV4();
        int optLen = ws ? 8 : 4;
        int hlen = TcpFrames.l3l4Offset(v4) + TcpFrames.TCP_HLEN + optLen;
        int off = dev.reserve(hlen);
        if (off < 0)
            return;
        ByteBuffer tx = dev.buffer();
        int len = TcpFrames.headers(tx, off, dev.guestMac(), dev.ourMac(), v4, tap.oaddrHi(), tap.oaddrLo(),
            tap.eaddrHi(), tap.eaddrLo(), tap.oport(), tap.eport(), conn.seqInitToTap, ack,
            flags, Math.min(conn.wndToTap, 0xffff), optLen, 0);
        int o = off + hlen - optLen;
        int ourMss = dev.maxFrame() - TcpFrames.l3l4Offset(v4) - TcpFrames.TCP_HLEN;
        tx.put(o, (byte) TcpFrames.OPT_MSS).put(o + 1, (byte) 4).putShort(o + 2, (short) Math.min(ourMss, 0xffff));
        if (ws)
            tx.put(o + 4, (byte) TcpFrames.OPT_NOP).put(o + 5, (byte) TcpFrames.OPT_WS).put(o + 6, (byte) 3)
                .put(o + 7, (byte) WS_TO_TAP);
        TcpFrames.checksums(tx, off, len, v4);
        dev.send(off, len);
    }

    /** An ACK with the current sequence, acknowledgement and a fresh window (twice if a duplicate is owed). */
    private void sendAck(Ctx c, Instance inst, GuestDevice dev, Flow f, TcpConn conn) {
        if (!conn.has(ESTABLISHED))
            return;
        if (!conn.has(TAP_FIN_RCVD))
            conn.wndToTap = windowToTap(c, conn); // after the guest's FIN its window is moot
        if (conn.wndToTap == 0 && (conn.flags & SNDBUF_FULL) == 0) {
            conn.flags |= SNDBUF_FULL;
            updateEpoll(c, inst, f, conn);
        }
        if (conn.wndToTap < MAX_WINDOW / 2 && !conn.has(TAP_FIN_RCVD) && mayGrow(c, conn))
            watch(c, inst, f, conn);
        int copies = (conn.flags & DUP_ACK) != 0 ? 2 : 1;
        conn.flags &= ~(ACK_TO_TAP_DUE | DUP_ACK);
        conn.seqAckToTap = conn.seqFromTap;
        for (int k = 0; k < copies; k++)
            sendFlags(dev, f, conn, ACK, conn.seqToTap, conn.seqAckToTap);
    }

    private void sendFlags(GuestDevice dev, Flow f, TcpConn conn, int flags, int seq, int ack) {
        FlowSide tap = f.side(tapSide(f));
        boolean v4 = tap.isV4();
        int hlen = TcpFrames.l3l4Offset(v4) + TcpFrames.TCP_HLEN;
        int off = dev.reserve(hlen);
        if (off < 0)
            return;
        ByteBuffer tx = dev.buffer();
        int len = TcpFrames.headers(tx, off, dev.guestMac(), dev.ourMac(), v4, tap.oaddrHi(), tap.oaddrLo(),
            tap.eaddrHi(), tap.eaddrLo(), tap.oport(), tap.eport(), seq, ack, flags, scaledWindow(conn), 0, 0);
        TcpFrames.checksums(tx, off, len, v4);
        dev.send(off, len);
    }

    private static int scaledWindow(TcpConn conn) {
        return Math.min(conn.wndToTap >>> conn.wsToTap, 0xffff);
    }

    /**
     * RST for a segment that matches no flow (RFC 9293 3.10.7.1): with an
     * ACK, the RST takes its sequence from it; without, it acknowledges the
     * segment.
     */
    private void rstNoConn(Ctx c, GuestDevice dev, PacketBatch batch, int i, int l4, int plen, int tflags) {
        if (dev == null)
            return;
        ByteBuffer b = batch.buffer();
        boolean v4 = batch.ipVersion(i) == 4;
        int hlen = TcpFrames.l3l4Offset(v4) + TcpFrames.TCP_HLEN;
        int off = dev.reserve(hlen);
        if (off < 0)
            return;
        int seq = b.getInt(l4 + 4);
        int ack = b.getInt(l4 + 8);
        int fo = batch.frameOffset(i);
        long srcMac = ((long) (b.getShort(fo + 6) & 0xffff) << 32) | (b.getInt(fo + 8) & 0xffff_ffffL);
        int rseq, rack, rflags;
        if ((tflags & ACK) != 0) {
            rseq = ack;
            rack = 0;
            rflags = RST;
        } else {
            rseq = 0;
            rack = seq + plen + ((tflags & SYN) != 0 ? 1 : 0) + ((tflags & FIN) != 0 ? 1 : 0);
            rflags = RST | ACK;
        }
        ByteBuffer tx = dev.buffer();
        int len = TcpFrames.headers(tx, off, srcMac, dev.ourMac(), v4, batch.dstHi(i), batch.dstLo(i),
            batch.srcHi(i), batch.srcLo(i), b.getShort(l4 + 2) & 0xffff, b.getShort(l4) & 0xffff,
            rseq, rack, rflags, 0, 0, 0);
        TcpFrames.checksums(tx, off, len, v4);
        dev.send(off, len);
        c.inc(c.cRstToTap);
    }

    /** Resets the guest's side and closes the socket; the flow is freed at the next deferred scan. */
    private void tapRst(Ctx c, GuestDevice dev, Instance inst, Flow f, TcpConn conn) {
        if (conn.has(CLOSED))
            return;
        if (dev != null) {
            boolean synSent = conn.has(SOCK_ACCEPTED) && !conn.has(ESTABLISHED);
            int flags = synSent ? RST : RST | ACK; // inbound: nothing of the guest's to acknowledge yet
            int seq = conn.has(TAP_SYN_ACK_SENT) || conn.has(SOCK_ACCEPTED) ? conn.seqToTap : 0;
            sendFlags(dev, f, conn, flags, seq, synSent ? 0 : conn.seqFromTap);
            c.inc(c.cRstToTap);
        }
        closeSocket(c, inst, conn, true);
        conn.events |= CLOSED;
    }

    /** The guest reset the connection: reset the host peer too (SO_LINGER 0, close). */
    private void sockRst(Ctx c, Instance inst, TcpConn conn) {
        closeSocket(c, inst, conn, true);
        conn.events |= CLOSED;
    }

    private void closeSocket(Ctx c, Instance inst, TcpConn conn, boolean reset) {
        if (conn.sock < 0)
            return;
        if (conn.epollEvents != 0)
            inst.loop().unregister(conn.sock);
        if (reset)
            Sockets.setLinger(conn.sock, true, 0, c.scratch);
        Sys.close(conn.sock);
        conn.sock = -1;
        conn.epollEvents = 0;
    }

    // ------------------------------------------------------------------
    // Window and epoll bookkeeping
    // ------------------------------------------------------------------

    /**
     * Room in the socket's send buffer, as a window for the guest (passt's
     * tcp_wnd_from_sndbuf): send buffer minus what is queued, with queued
     * bytes' overhead per segment accounted; below one MSS with data
     * queued it is zero, so the guest does not dribble (silly window).
     */
    private int windowToTap(Ctx c, TcpConn conn) {
        c.lastSndbuf = Long.MAX_VALUE;
        NativeBuffer m = c.scratch;
        long base = m.address(0, 64);
        m.putInt(48, 36);
        int r = Sys.getsockopt(conn.sock, Sockets.SOL_SOCKET, Sockets.SO_MEMINFO, base, base + 48);
        if (r < 0)
            return WINDOW_DEFAULT;
        long sndbuf = m.getInt(Sockets.SK_MEMINFO_SNDBUF * 4) & 0xffff_ffffL;
        c.lastSndbuf = sndbuf;
        long wmemq = m.getInt(Sockets.SK_MEMINFO_WMEM_QUEUED * 4) & 0xffff_ffffL;
        long sendq = 0;
        // Nothing queued (as after a loopback send the peer acked at once): no overhead to account for.
        if (wmemq != 0 && Sys.ioctl(conn.sock, Sockets.SIOCOUTQ, m, 56, 4) == 0)
            sendq = m.getInt(56) & 0xffff_ffffL;
        long limit;
        int mss = Math.max(conn.mss, 1);
        if (wmemq >= sndbuf)
            limit = 0;
        else if (sendq == 0 || wmemq <= sendq)
            limit = sndbuf - wmemq;
        else {
            // Queued memory costs more than its payload: scale the free room by payload / (payload + overhead).
            long usedSegs = Math.max(sendq / mss, 1);
            long overhead = (wmemq - sendq) / usedSegs;
            limit = (sndbuf - wmemq) * mss / (mss + overhead);
        }
        return (int) Math.min(limit, MAX_WINDOW);
    }

    /**
     * Whether the window just computed by {@link #windowToTap} could still grow
     * enough for {@link #windowWatch} to send an update: it never exceeds the
     * send buffer, so a window already within an update's threshold of the
     * buffer size (nothing much queued, as in request/response traffic) is not
     * worth a timer. A send buffer that autotunes upwards does so while data is
     * queued, when the window is small and watched anyway.
     */
    private static boolean mayGrow(Ctx c, TcpConn conn) {
        int w = conn.wndToTap;
        if (w == 0)
            return true;
        long cap = Math.min(c.lastSndbuf, MAX_WINDOW);
        return cap - w >= Math.max(conn.mss, w / 2);
    }

    /**
     * Puts a flow whose window is limited by its socket buffer on the watch
     * list. The window goes out with each ACK, computed right after the
     * guest's data was written, when the buffer is at its fullest; as the
     * host peer reads, room opens up, but nothing would tell the guest until
     * its next segment, which a window-limited guest does not send. A
     * shared timerfd re-checks listed flows every {@value #WND_WATCH_NANOS}
     * ns and sends a window update once the window has grown enough (a
     * shared form of passt's ACK_TO_TAP_DUE timer).
     */
    private void watch(Ctx c, Instance inst, Flow f, TcpConn conn) {
        conn.wndChecks = 0;
        if ((conn.flags & WND_WATCH) != 0 || c.watchCount == c.watch.length)
            return;
        conn.flags |= WND_WATCH;
        c.watch[c.watchCount++] = f.index();
        if (!c.timerArmed && c.timer.oneShot(WND_WATCH_NANOS) == 0)
            c.timerArmed = true;
    }

    private void windowWatch(Ctx c, Instance inst) {
        c.timerArmed = false;
        int[] list = c.watch;
        int n = c.watchCount;
        c.watch = c.watchNext;
        c.watchNext = list;
        c.watchCount = 0;
        GuestDevice dev = inst.device();
        FlowTable flows = inst.flows();
        for (int i = 0; i < n; i++) {
            Flow f = flows.get(list[i]);
            if (f == null || f.state() != FlowState.ACTIVE || !(f.data() instanceof TcpConn conn))
                continue;
            conn.flags &= ~WND_WATCH;
            if (conn.has(CLOSED) || !conn.has(ESTABLISHED) || conn.sock < 0 || dev == null)
                continue;
            int w = windowToTap(c, conn);
            if (w - conn.wndToTap >= Math.max(conn.mss, conn.wndToTap / 2) || (conn.wndToTap == 0 && w > 0)) {
                if ((conn.flags & SNDBUF_FULL) != 0) {
                    conn.flags &= ~SNDBUF_FULL;
                    updateEpoll(c, inst, f, conn);
                }
                sendAck(c, inst, dev, f, conn); // re-watches if still limited
            } else if (++conn.wndChecks < WND_WATCH_MAX && c.watchCount < c.watch.length) {
                conn.flags |= WND_WATCH;
                c.watch[c.watchCount++] = f.index();
            }
        }
        if (c.watchCount > 0 && !c.timerArmed && c.timer.oneShot(WND_WATCH_NANOS) == 0)
            c.timerArmed = true;
    }

    private void updateEpoll(Ctx c, Instance inst, Flow f, TcpConn conn) {
        if (conn.sock < 0)
            return;
        int ev;
        if (!conn.has(TAP_SYN_ACK_SENT) && !conn.has(SOCK_ACCEPTED))
            ev = EventLoop.EPOLLOUT | EventLoop.EPOLLRDHUP;
        else
            // Before the guest's ACK, socket data is ignored by event(), and established() looks for it
            // (STALLED): asking for EPOLLIN already saves switching the mask on every handshake.
            ev = EventLoop.EPOLLIN | EventLoop.EPOLLRDHUP | EventLoop.EPOLLET
                | ((conn.flags & SNDBUF_FULL) != 0 ? EventLoop.EPOLLOUT : 0);
        if (ev == conn.epollEvents)
            return;
        conn.epollEvents = ev;
        inst.loop().modify(conn.sock, ev, EpollRef.of(c.eventType, conn.sock, sockSidx(f)));
    }

    // ------------------------------------------------------------------
    // Deferred and timer work
    // ------------------------------------------------------------------

    @Override
    public boolean flowDefer(Instance instance, Flow flow, boolean timer, long now) {
        if (!(flow.data() instanceof TcpConn conn))
            return true;
        Ctx c = contexts.get(instance);
        if (c == null)
            return false;
        if (!conn.has(CLOSED) && conn.has(TAP_FIN_ACKED) && conn.has(SOCK_FIN_SENT)) {
            closeSocket(c, instance, conn, false);
            conn.events |= CLOSED;
        }
        if (conn.has(CLOSED)) {
            closeSocket(c, instance, conn, true);
            c.inc(c.cClosed);
            return true;
        }
        GuestDevice dev = instance.device();
        if (dev == null)
            return false;
        if (conn.rtoAt != 0) {
            if (now - conn.rtoAt >= 0)
                rtoExpired(c, instance, dev, flow, conn, now);
            if (conn.rtoAt != 0 && !conn.has(CLOSED))
                armTimerFor(c, conn.rtoAt, now);
        }
        if (timer && !conn.has(CLOSED))
            timer(c, instance, dev, flow, conn, now);
        return false;
    }

    /** Starts the retransmission timer unless it is running (RFC 6298 5.1: it times the oldest segment). */
    private static void armRto(Ctx c, TcpConn conn, long now) {
        if (conn.rtoAt != 0)
            return;
        long at = now + c.timeouts.rto(conn.retries, conn.has(ESTABLISHED), (conn.flags & SYN_RETRIED) != 0);
        conn.rtoAt = at == 0 ? 1 : at;
    }

    /**
     * Makes sure the instance's retransmission timerfd fires by
     * {@code deadline}: re-armed if it is not armed, or armed for later, or
     * its expiry is being delivered now. Called for every running deadline
     * by the deferred scan, so it ends each cycle armed at the earliest.
     */
    private static void armTimerFor(Ctx c, long deadline, long now) {
        if (c.rtoArmedAt != 0 && c.rtoArmedAt - deadline <= 0 && c.rtoArmedAt - now > 0)
            return;
        long delay = Math.max(deadline - now, 1000);
        if (c.rtoTimer.oneShot(delay) == 0)
            c.rtoArmedAt = now + delay;
    }

    /**
     * The retransmission timer expired: the guest did not acknowledge our
     * SYN (inbound), our SYN, ACK (outbound) or data and FIN in time, or its
     * window stayed zero. Send again with the timeout doubled, or give up and
     * reset both sides (passt's tcp_timer_handler).
     */
    private void rtoExpired(Ctx c, Instance inst, GuestDevice dev, Flow f, TcpConn conn, long now) {
        conn.rtoAt = 0;
        if (conn.has(CLOSED))
            return;
        boolean established = conn.has(ESTABLISHED);
        if (!established) {
            if (!conn.has(SOCK_ACCEPTED) && !conn.has(TAP_SYN_ACK_SENT))
                return; // connecting to the host: the kernel times the connect() out
            if (conn.retries >= c.timeouts.maxRetries(false)) {
                c.inc(c.cTimeouts);
                tapRst(c, dev, inst, f, conn);
                return;
            }
            c.inc(c.cSynRetransmit);
            if (conn.has(SOCK_ACCEPTED))
                sendSyn(dev, f, conn, SYN, 0, true);
            else
                sendSynAck(c, dev, f, conn);
            conn.retries++;
            conn.flags |= SYN_RETRIED;
            armRto(c, conn, now);
            return;
        }
        boolean zeroWindow = conn.wndFromTap == 0;
        if (conn.seqToTap == conn.seqAckFromTap && !zeroWindow)
            return; // acknowledged meanwhile
        if (conn.retries >= c.timeouts.maxRetries(true)) {
            c.inc(c.cTimeouts);
            tapRst(c, dev, inst, f, conn);
            return;
        }
        if (zeroWindow)
            conn.wndFromTap = 1; // a one-byte window probe (RFC 9293 3.8.6.1)
        conn.retries++;
        rewind(c, conn);
        dataFromSock(c, inst, dev, f, conn); // arms the timer again if it sent anything
        if (conn.seqToTap == conn.seqAckFromTap)
            conn.retries--; // nothing to send after all (an empty socket behind a zero window)
        else
            c.inc(zeroWindow ? c.cWindowProbe : c.cRetransmitTimeout);
    }

    /**
     * Once a second: inactivity, keepalives, and window updates the socket
     * did not wake us for.
     */
    private void timer(Ctx c, Instance inst, GuestDevice dev, Flow f, TcpConn conn, long now) {
        if (now - conn.activeNanos >= c.timeouts.inactivity) {
            c.inc(c.cInactive);
            tapRst(c, dev, inst, f, conn);
            return;
        }
        if (!conn.has(ESTABLISHED))
            return;
        if (now - conn.tapActiveNanos >= c.timeouts.keepalive && now - conn.keepaliveNanos >= c.timeouts.keepalive
            && !conn.has(TAP_FIN_ACKED)) {
            // One byte behind what the guest has seen: it must answer with an ACK, or a RST if it
            // forgot the connection (passt's KEEPALIVE flag).
            sendFlags(dev, f, conn, ACK, conn.seqToTap - 1, conn.seqFromTap);
            conn.keepaliveNanos = now;
            c.inc(c.cKeepaliveToTap);
        }
        if (conn.wndToTap == 0 || (conn.flags & SNDBUF_FULL) != 0) {
            int w = windowToTap(c, conn);
            if (w > 0) {
                conn.flags &= ~SNDBUF_FULL;
                updateEpoll(c, inst, f, conn);
                sendAck(c, inst, dev, f, conn);
            }
        }
        if ((conn.flags & STALLED) != 0)
            dataFromSock(c, inst, dev, f, conn);
    }

    private static boolean unicast(boolean v4, long hi, long lo) {
        if (v4) {
            int a = InetAddr.v4(lo);
            int top = a >>> 24;
            return a != 0 && a != -1 && top < 224;
        }
        return (hi >>> 56) != 0xff && (hi | lo) != 0;
    }

    // ------------------------------------------------------------------
    // Loopback clients of -t: handed to the splice handler (io.penne.tcp.splice)
    // ------------------------------------------------------------------

    /** The splice handler's socket event type: declared while it is (or was) bound. */
    static final String SPLICE_EVENT = "splice.sock";

    /**
     * A client on the host's loopback is spliced to the namespace instead of
     * going through the tap (pasta's fwd_nat_from_host), unless splicing is
     * off ({@code tcp.splice=false}, pasta's --no-splice) or no handler of
     * TCP_SPLICE flows is bound. The flow goes ACTIVE with the accepted socket
     * as side 0 (HOST) and the namespace endpoint as side 1 (SPLICE): the
     * guest's address of the client's family, or with
     * {@code splice.host_lo_to_ns_lo} the loopback address the client used.
     * The splice handler connects in its deferred call, in this loop cycle.
     *
     * @return true if the socket was taken (spliced or refused)
     */
    private boolean spliceFromSock(Ctx c, Instance inst, int s, int target) {
        NativeBuffer a = c.addr;
        boolean v4 = Sockets.family(a, 0) == Sockets.AF_INET;
        long eHi = v4 ? InetAddr.V4_HI : Sockets.addr6Hi(a, 0);
        long eLo = v4 ? InetAddr.v4Lo(Sockets.addr4(a, 0)) : Sockets.addr6Lo(a, 0);
        boolean loToLo = "true".equals(String.valueOf(inst.properties().get("splice.host_lo_to_ns_lo")));
        if (!InetAddr.isLoopback(eHi, eLo) || inst.namespace() == null
            || "false".equals(String.valueOf(inst.properties().get("tcp.splice")))
            || (!loToLo && !c.nat.hasGuest(v4)) || !spliceBound(inst))
            return false;
        int ePort = Sockets.port(a, 0);
        if (s > EpollRef.MAX_FD || Sys.getsockname(s, a) < 0) {
            refuse(c, s, c.cSockErrors);
            return true;
        }
        long oHi = v4 ? InetAddr.V4_HI : Sockets.addr6Hi(a, 0);
        long oLo = v4 ? InetAddr.v4Lo(Sockets.addr4(a, 0)) : Sockets.addr6Lo(a, 0);
        int oPort = Sockets.port(a, 0);
        FlowTable flows = inst.flows();
        Flow f = flows.alloc();
        if (f == null) {
            refuse(c, s, c.cTableFull);
            return true;
        }
        flows.initiate(f, Pif.HOST, eHi, eLo, ePort, oHi, oLo, oPort);
        flows.target(f, Pif.SPLICE, loToLo ? oHi : c.nat.guestHi(v4), loToLo ? oLo : c.nat.guestLo(v4),
            target, v4 ? InetAddr.V4_HI : 0, v4 ? InetAddr.v4Lo(0) : 0, 0);
        flows.setType(f, FlowType.TCP_SPLICE);
        io.penne.api.flow.SpliceConn d = f.data(io.penne.api.flow.SpliceConn.class,
            io.penne.api.flow.SpliceConn::new, true);
        d.sock[0] = s;
        d.flowIndex = f.index();
        flows.activate(f);
        return true;
    }

    private static boolean spliceBound(Instance inst) {
        if (inst.eventType(SPLICE_EVENT) < 0)
            return false;
        for (io.penne.api.HandlerInfo h : inst.handlers())
            if (h.bound() && h.flowTypes().contains(FlowType.TCP_SPLICE))
                return true;
        return false;
    }

    // ------------------------------------------------------------------
    // Per-instance derived state
    // ------------------------------------------------------------------

    /**
     * What the handler derives for one instance: counter ids, its event type
     * number, scratch memory, the gateway addresses, the ISN secret. Loop
     * thread only after construction.
     */
    static final class Ctx {
        static final int IOV_OFF = 64;
        final Counters counters;
        final int eventType;
        final NativeBuffer scratch = NativeBuffer.allocate(128);
        final NativeBuffer msg = NativeBuffer.allocate(128);
        final boolean peekOffset;
        /** pasta's --freebind (property {@code freebind}): -t may bind addresses the host does not have. */
        final boolean freebind;
        final io.penne.api.flow.Nat nat;
        /** -o, --outbound-if4/6: what sockets towards the world are bound to. */
        final io.penne.linux.OutboundBind outbound;
        final long k0, k1;
        final int[] touched = new int[1024];
        int touchedCount;
        final int timerType;
        final int listenType;
        /** Socket addresses from accept() and getsockname(). */
        final NativeBuffer addr = NativeBuffer.allocate(Sys.SOCKADDR_SCRATCH_SIZE);
        /** Options of the SYN being looked at (see synOptions). */
        int optMss, optWs;
        io.penne.linux.TimerFd timer;
        boolean timerArmed;
        /** Retransmission timer, armed for the earliest {@code TcpConn.rtoAt} (see armTimerFor). */
        io.penne.linux.TimerFd rtoTimer;
        /** When {@link #rtoTimer} expires, 0 if not armed. */
        long rtoArmedAt;
        final TcpTimeouts timeouts;
        /** The loop's time for the packet batch being handled. */
        long now;
        /** -t auto, if configured: its sockets, the namespace's listeners, the ports found, the scheduled task. */
        AutoForward auto;
        ProcNetListeners autoScanner;
        final java.util.BitSet autoPorts = new java.util.BitSet(65536);
        long autoTask;
        /** Listening sockets unwatched for a moment after accept() found no free descriptor. */
        final ListenerPause paused;
        /** Send buffer size seen by the last {@link #windowToTap}, {@code Long.MAX_VALUE} if unknown. */
        long lastSndbuf = Long.MAX_VALUE;
        int[] watch = new int[1024], watchNext = new int[1024];
        int watchCount;
        NativeBuffer discard;
        final io.penne.linux.BufferAddress rxAddr = new io.penne.linux.BufferAddress();
        final io.penne.linux.BufferAddress txAddr = new io.penne.linux.BufferAddress();

        final int cOpened, cRefused, cConnectFailed, cClosed, cRstToTap, cRstFromTap, cNoFlow, cRstNoFlow,
            cBadSyn, cDupSyn, cBadAck, cBadOption, cBadDst, cEarly, cOutOfOrder, cAfterFin, cPartialSend,
            cFastRetransmit, cRetransmitTimeout, cTimeouts, cSockErrors, cStale, cTableFull,
            cAccepted, cInboundEstablished, cNoGuestAddr, cNoDevice, cOutboundBind, cInboundClash, cListenFailed,
            cSynRetransmit, cWindowProbe, cInactive, cKeepaliveToTap, cKeepaliveFromTap, cAcceptNoFd;

        Ctx(Instance inst) {
            counters = inst.counters();
            timeouts = TcpTimeouts.of(inst.properties());
            eventType = inst.eventType(EVENT_SOCK);
            timerType = inst.eventType(EVENT_TIMER);
            listenType = inst.eventType(EVENT_LISTEN);
            // "tcp.peek_offset=false" takes the path of kernels without SO_PEEK_OFF for TCP (before
            // 6.10, e.g. Debian 12's 6.1), so tests can cover it on a newer one.
            peekOffset = KernelFeatures.probe().has(KernelFeatures.SO_PEEK_OFF)
                && !"false".equals(String.valueOf(inst.properties().get(PEEK_OFFSET_PROPERTY)));
            // address translation and the guest's addresses (inbound connections go there), shared with UDP and ICMP
            nat = io.penne.api.flow.Nat.of(inst.properties());
            outbound = io.penne.linux.OutboundBind.of(inst.properties());
            freebind = "true".equals(String.valueOf(inst.properties().get("freebind")));
            SecureRandom rnd = new SecureRandom();
            k0 = rnd.nextLong();
            k1 = rnd.nextLong();
            cOpened = counters.register("tcp.conn.opened");
            cRefused = counters.register("tcp.conn.refused");
            cConnectFailed = counters.register("tcp.conn.connect_failed");
            cClosed = counters.register("tcp.conn.freed");
            cRstToTap = counters.register("tcp.rst.to_guest");
            cRstFromTap = counters.register("tcp.rst.from_guest");
            cNoFlow = counters.register("tcp.drop.no_flow");
            cRstNoFlow = counters.register("tcp.drop.rst_no_flow");
            cBadSyn = counters.register("tcp.drop.syn_in_conn");
            cDupSyn = counters.register("tcp.dup_syn");
            cBadAck = counters.register("tcp.drop.bad_ack");
            cBadOption = counters.register("tcp.bad_option");
            cBadDst = counters.register("tcp.drop.bad_address");
            cEarly = counters.register("tcp.drop.before_handshake");
            cOutOfOrder = counters.register("tcp.drop.out_of_order");
            cAfterFin = counters.register("tcp.drop.data_after_fin");
            cPartialSend = counters.register("tcp.partial_send");
            cFastRetransmit = counters.register("tcp.retransmit.fast");
            cRetransmitTimeout = counters.register("tcp.retransmit.timeout");
            cTimeouts = counters.register("tcp.conn.timed_out");
            cSockErrors = counters.register("tcp.socket_errors");
            cStale = counters.register("tcp.events.stale");
            cTableFull = counters.register("tcp.drop.table_full");
            cAccepted = counters.register("tcp.conn.accepted");
            cInboundEstablished = counters.register("tcp.conn.inbound_established");
            cNoGuestAddr = counters.register("tcp.refused.no_guest_address");
            cNoDevice = counters.register("tcp.refused.no_device");
            cOutboundBind = counters.register("tcp.outbound_bind_failed");
            cInboundClash = counters.register("tcp.refused.tuple_in_use");
            cListenFailed = counters.register("tcp.listen.failed");
            cAcceptNoFd = counters.register("tcp.accept.no_descriptor");
            paused = new ListenerPause(inst.loop(), EventLoop.EPOLLIN);
            cSynRetransmit = counters.register("tcp.retransmit.syn");
            cWindowProbe = counters.register("tcp.window_probe");
            cInactive = counters.register("tcp.conn.inactive");
            cKeepaliveToTap = counters.register("tcp.keepalive.to_guest");
            cKeepaliveFromTap = counters.register("tcp.keepalive.from_guest");
        }

        void inc(int id) {
            counters.inc(id);
        }



        NativeBuffer discard() {
            if (discard == null)
                discard = NativeBuffer.allocate(DISCARD_SIZE);
            return discard;
        }

        /** RFC 6528: a 4 µs clock plus a keyed hash of the connection's addresses and ports. */
        int isn(long sHi, long sLo, int sport, long dHi, long dLo, int dport, long nanos) {
            long h = mix(k0 ^ sHi);
            h = mix(h ^ sLo);
            h = mix(h ^ dHi ^ k1);
            h = mix(h ^ dLo);
            h = mix(h ^ ((long) sport << 16 | dport));
            return (int) (h ^ (h >>> 32)) + (int) (nanos / 4000);
        }

        private static long mix(long z) {
            z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
            z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
            return z ^ (z >>> 31);
        }
    }
}
