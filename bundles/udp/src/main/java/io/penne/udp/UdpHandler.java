package io.penne.udp;

import io.penne.api.EpollRef;
import io.penne.api.EventLoop;
import io.penne.api.GuestDevice;
import io.penne.api.GuestNamespace;
import io.penne.api.Instance;
import io.penne.api.IpFrames;
import io.penne.api.PacketBatch;
import io.penne.api.PortSpec;
import io.penne.api.ProtocolHandler;
import io.penne.api.flow.Flow;
import io.penne.api.flow.FlowSide;
import io.penne.api.flow.FlowTable;
import io.penne.api.flow.FlowType;
import io.penne.api.flow.InetAddr;
import io.penne.api.flow.Pif;
import io.penne.api.flow.UdpFlow;
import io.penne.linux.Errno;
import io.penne.linux.NativeBuffer;
import io.penne.linux.Sockets;
import io.penne.linux.Sys;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.osgi.service.component.annotations.Component;

/**
 * UDP between the guest and host sockets (passt's {@code udp.c} and
 * {@code udp_flow.c}).
 *
 * <p><b>Theory of operation.</b> UDP has no connections, so penne makes
 * pseudo-connections: a flow (type UDP) per pair of endpoints, created by
 * the first datagram in either direction and forgotten after it has been idle
 * for {@code udp.timeout} seconds (30), or {@code udp.timeout_replied} (120)
 * once a datagram went back towards the side that started it. Each side of
 * a flow is either the guest's Layer 2 (TAP) or a socket:
 * <ul>
 * <li><i>Guest to host.</i> A datagram from the guest with no flow opens one
 * with a socket of its own on the host, bound to the guest's source port
 * where that port is free (any port otherwise) and connected to the
 * destination after address translation ({@link io.penne.api.flow.Nat}:
 * the gateway means host loopback, {@code --map-guest-addr}, DNS
 * forwarding). Payloads go from the receive batch to the socket, runs of
 * datagrams for one socket in one {@code sendmmsg()}.</li>
 * <li><i>Host to guest.</i> The socket is read with {@code recvmmsg()}
 * straight into frames reserved in the guest device's buffer, behind room
 * for the Ethernet, IP and UDP headers, which are written afterwards: one
 * copy from the socket to the frame, datagram boundaries kept by
 * construction. Where the device splits frames again (UDP segmentation
 * offload, {@link GuestDevice#sendUdpSegments}), a run of datagrams of one
 * size (and a shorter last one) goes out as one train: a bulk sender's
 * small datagrams then cost one write per train instead of one each.</li>
 * <li><i>Forwarded ports</i> ({@code -u}, {@code udp.forward}; {@code -U},
 * {@code udp.ns_forward}). Listening sockets, shared by all flows through
 * them, on the host or, for {@code -U}, on the namespace's loopback. A
 * datagram from a new peer opens a flow whose initiating side is the
 * listener (replies leave through it with {@code sendto()} to the peer).
 * Its target is the guest over Layer 2 (the peer's address translated as
 * the guest can answer it), or, when the peer is on the host's loopback,
 * a socket inside the namespace connected to the guest's address, so that
 * loopback traffic never touches Layer 2 (pasta's splice path; the
 * datagram goes socket to socket through one receive buffer). {@code -U}
 * datagrams go to a host socket connected to the host's loopback. When
 * {@code -u} is not given, the ports of {@code -t} are forwarded for UDP
 * too, without translation, as pasta does. {@code auto} specs, the default
 * for both in a namespace, open and close listeners as ports are bound on
 * the other side ({@link UdpAuto}).</li>
 * <li><i>ICMP errors.</i> Host sockets have {@code IP_RECVERR}
 * ({@code IPV6_RECVERR}): an ICMP error about a datagram (port
 * unreachable, ...) waits on the socket's error queue and raises
 * {@code EPOLLERR}; for flows the guest started it becomes an ICMP or
 * ICMPv6 error to the guest quoting the original datagram
 * ({@link IcmpErrors}), others are counted.</li>
 * </ul>
 *
 * <p><b>Hand-off.</b> After a batch of at least {@link #HANDOFF_BYTES} to
 * the guest, the loop writes it at once and yields its CPU: see there why.
 *
 * <p>Per-flow state is {@link UdpFlow} in the API bundle, so a replacement
 * handler adopts flows; listeners stay registered across detach.
 */
@Component(service = ProtocolHandler.class)
public final class UdpHandler implements ProtocolHandler {
    static final String EVENT_SOCK = "udp.sock";
    static final String EVENT_LISTEN = "udp.listen";
    static final String EVENT_LISTEN_NS = "udp.listen_ns";
    /** Datagrams per recvmmsg/sendmmsg. */
    static final int BATCH = 32;
    /** Receive batches per event before giving other events a turn (the socket stays ready). */
    static final int ROUNDS = 8;
    /**
     * Socket buffers asked for: a burst from a fast sender waits in the
     * kernel while the loop is busy elsewhere, instead of being dropped at
     * the default ~200 KiB (a few hundred small datagrams, given per-packet
     * overhead).
     */
    static final int SOCK_BUFFER = 4 << 20;
    /**
     * Payload bytes per receive batch towards the guest, going by the largest
     * datagram of the batch before ({@link UdpCtx#recentDgram}). Each payload is
     * written by {@code recvmmsg()} and read again by the device's write;
     * when a batch stays within the CPU's cache the second pass costs
     * little, and with 32 datagrams of 64 KiB (2 MiB) it does not: measured
     * on this project's machine (512 KiB of L2 per core), host to guest at
     * MTU 65520 took 17-18 us of loop time per datagram in batches of 32 and
     * 14-15 us in batches of 1-4, pasta's level (it reads one at a time).
     */
    static final int BATCH_BYTES = 256 << 10;
    /**
     * Payload bytes of one batch to the guest after which the loop writes the
     * batch at once and yields the CPU ({@code Thread.yield()}, which HotSpot
     * implements as {@code sched_yield()} on Linux). The write has just woken
     * the guest's reader. Where busy threads outnumber CPUs it often waits
     * for the loop's own CPU, and meanwhile its socket buffer (a few large
     * datagrams) fills, so that what the loop forwards next is dropped in the
     * namespace: work done for nothing, and taken from the reader. The yield
     * lets threads that are ready on the loop's CPU run first; with none, it
     * returns at once (one system call per batch of 32 KiB or more).
     * Yields that go to a thread that computes instead cost the loop its
     * throughput (with two busy loops on the same two CPUs, 64 KiB host to
     * namespace fell from 3.2-3.3 to 1.2 Gbit/s), so {@link YieldPolicy}
     * holds them back while many take long.
     * Measured host to namespace ({@code iperf3 -u -b 0 -R}, this project's
     * 2-CPU machine, same runs), with a yield after every hand-off: 64 KiB
     * datagrams 15.1-15.8 Gbit/s before, 21.4-22.2 after (pasta 16.5-16.8); 1472-byte 1.38-1.55 before,
     * 2.43-2.55 after (pasta 0.70-0.80); the reader's wait for a CPU fell
     * from ~300 to ~50 ms per second. With {@link YieldPolicy}, in an hour
     * when the VM was slower: 64 KiB 8.98-11.24 before, 12.81-14.68 after
     * (pasta 11.84-14.27); 1472-byte 0.92-0.93 before, 1.30-1.47 after
     * (pasta 0.54-0.60); beside two busy loops 64 KiB 3.36-3.37 before,
     * 3.10-3.39 after (pasta 3.37-3.71). Not done after datagrams to host
     * sockets: there the CPU went to the namespace's sender instead (64 KiB
     * namespace to host fell from 17.2-18.5 to 13.3-13.5 Gbit/s).
     */
    static final int HANDOFF_BYTES = 32 << 10;
    private static final System.Logger LOG = System.getLogger(UdpHandler.class.getName());

    private final Map<Instance, UdpCtx> contexts = new ConcurrentHashMap<>();

    @Override
    public String name() {
        return "udp";
    }

    @Override
    public Set<String> eventTypes() {
        return Set.of(EVENT_SOCK, EVENT_LISTEN, EVENT_LISTEN_NS);
    }

    @Override
    public Set<FlowType> flowTypes() {
        return Set.of(FlowType.UDP);
    }

    @Override
    public int[] packetTypes() {
        return new int[] {17};
    }

    @Override
    public void attach(Instance instance, boolean adopting) {
        UdpCtx c = new UdpCtx(instance);
        contexts.put(instance, c);
        LOG.log(System.Logger.Level.DEBUG, "instance " + instance.name() + ": udp " + c.nat);
        Object u = instance.properties().get(PortSpec.UDP_PROPERTY);
        Object t = instance.properties().get(PortSpec.TCP_PROPERTY);
        Object ns = instance.properties().get(PortSpec.UDP_NS_PROPERTY);
        // pasta: in a namespace, -u and -U default to auto; without -u, the fixed -t ports go for UDP too.
        boolean namespace = instance.namespace() != null;
        List<PortSpec> host = u != null ? PortSpec.parseList(u.toString()) : namespace ? List.of(AUTO) : List.of();
        List<PortSpec> fromTcp = u == null && t != null
            ? PortSpec.parseList(t.toString()).stream().filter(p -> !p.isAuto()).toList() : List.of();
        List<PortSpec> inNs = ns != null ? PortSpec.parseList(ns.toString()) : namespace ? List.of(AUTO) : List.of();
        // Listening sockets stay registered across detach (flows use them), so an adopting handler keeps them.
        if (!adopting) {
            listen(c, instance, fixed(host), false, false);
            listen(c, instance, fromTcp, false, true);
            listen(c, instance, fixed(inNs), true, false);
        }
        List<PortSpec> autoHost = host.stream().filter(PortSpec::isAuto).toList();
        List<PortSpec> autoNs = inNs.stream().filter(PortSpec::isAuto).toList();
        if (namespace && (!autoHost.isEmpty() || !autoNs.isEmpty())) {
            BitSet takenHost = ports(fixed(host));
            takenHost.or(ports(fromTcp));
            UdpAuto.start(c, instance, autoHost, autoNs, takenHost, ports(fixed(inNs)));
        }
    }

    private static final PortSpec AUTO = PortSpec.parse("auto");

    private static List<PortSpec> fixed(List<PortSpec> specs) {
        return specs.stream().filter(p -> !p.isAuto()).toList();
    }

    /** The ports the specs listen on. */
    private static BitSet ports(List<PortSpec> specs) {
        BitSet b = new BitSet(65536);
        for (PortSpec spec : specs)
            if (!spec.isNone())
                for (int port : spec.ports())
                    b.set(port);
        return b;
    }

    @Override
    public void detach(Instance instance) {
        UdpCtx c = contexts.remove(instance);
        if (c == null)
            return;
        if (c.auto != null)
            c.auto.stop();
        c.rxData.unmap(); // the receive area is mapped, not garbage collected; the loop is past its last use
    }

    // ------------------------------------------------------------------
    // Listeners (-u on the host, -U in the namespace)
    // ------------------------------------------------------------------

    private void listen(UdpCtx c, Instance inst, List<PortSpec> specs, boolean inNs, boolean fromTcp) {
        GuestNamespace gns = inst.namespace();
        if (inNs && gns == null) {
            if (specs.stream().anyMatch(p -> !p.isNone()))
                LOG.log(System.Logger.Level.ERROR, "instance " + inst.name() + ": -U needs a namespace");
            return;
        }
        int[] eph = io.penne.linux.Sysctl.ephemeralPorts();
        for (PortSpec spec : specs) {
            if (spec.isNone())
                continue;
            long[] bind = spec.addressBits();
            List<int[]> want = new ArrayList<>(); // {v4 ? 1 : 0, port, target}
            for (int port : spec.ports()) {
                if (spec.skipsEphemeral(port, eph))
                    continue;
                int target = fromTcp ? port : spec.target(port);
                for (int fam = 0; fam < 2; fam++) {
                    boolean v4 = fam == 0;
                    if (bind != null ? InetAddr.isV4(bind[0], bind[1]) != v4 : !c.nat.hasGuest(v4))
                        continue;
                    want.add(new int[] {v4 ? 1 : 0, port, target});
                }
            }
            // Namespace listeners are opened on the namespace's thread in one hand-off, on its loopback.
            int[] fds = new int[want.size()];
            if (inNs) {
                int[] r = gns.call(() -> {
                    NativeBuffer s = NativeBuffer.allocate(Sys.SOCKADDR_SCRATCH_SIZE);
                    int[] out = new int[want.size()];
                    for (int i = 0; i < out.length; i++) {
                        int[] w = want.get(i);
                        out[i] = nsListenSocket(s, w[0] == 1, w[1], spec.iface());
                    }
                    return out;
                });
                System.arraycopy(r, 0, fds, 0, r.length);
            } else {
                for (int i = 0; i < fds.length; i++) {
                    int[] w = want.get(i);
                    fds[i] = listenSocket(c.scratch, w[0] == 1, bind, spec.iface(), w[1], c.freebind);
                }
            }
            int bound = 0, failed = 0;
            String firstError = null;
            for (int i = 0; i < fds.length; i++) {
                int[] w = want.get(i);
                int s = register(c, inst, fds[i], inNs, w[1], w[2]);
                if (s >= 0) {
                    bound++;
                } else {
                    failed++;
                    if (firstError == null)
                        firstError = (w[0] == 1 ? "IPv4" : "IPv6") + " port " + w[1] + ": " + Errno.describe(-s);
                }
            }
            String opt = inNs ? "-U" : fromTcp ? "-t (UDP)" : "-u";
            if (!spec.isAll() && !fromTcp && failed > 0) {
                c.counters.add(c.cListenFailed, failed);
                LOG.log(System.Logger.Level.ERROR, "instance " + inst.name() + ": " + opt + " " + spec.text() + ": "
                    + failed + " socket(s) could not be opened, first " + firstError);
            }
            LOG.log(System.Logger.Level.DEBUG, "instance " + inst.name() + ": " + opt + " " + spec.text() + ": "
                + bound + " listening socket(s)");
        }
    }

    /**
     * Registers a listening socket ({@code s}, or {@code -errno} passed through) for datagrams to
     * {@code port}, forwarded to {@code target}: {@code s}, or {@code -errno} with the socket closed.
     */
    static int register(UdpCtx c, Instance inst, int s, boolean inNs, int port, int target) {
        if (s < 0)
            return s;
        int type = inNs ? c.listenNsType : c.listenType;
        int r = inst.loop().register(s, EventLoop.EPOLLIN, EpollRef.of(type, s, port | (target << 16)));
        if (r < 0) {
            Sys.close(s);
            return r;
        }
        return s;
    }

    /**
     * Closes a listening socket; flows whose first datagram came through it,
     * and whose replies leave through it, lose it and are freed by the
     * deferred flow handler.
     */
    static void closeListener(Instance inst, int fd) {
        inst.loop().unregister(fd);
        inst.flows().forEachActive(f -> {
            if (f.data() instanceof UdpFlow u)
                for (int s = 0; s < 2; s++)
                    if (u.sock[s] == fd && u.shared(s)) {
                        u.sock[s] = -1;
                        u.flags |= UdpFlow.CLOSED;
                    }
        });
        Sys.close(fd);
    }

    /** A listening socket on the namespace's loopback (for -U), on {@code iface} if not null; call on the namespace's thread. */
    static int nsListenSocket(NativeBuffer scratch, boolean v4, int port, String iface) {
        return listenSocket(scratch, v4, v4 ? new long[] {InetAddr.V4_HI, InetAddr.v4Lo(Sockets.LOOPBACK4)}
            : new long[] {0, 1}, iface, port, false);
    }

    /**
     * A bound, non-blocking UDP socket for a forwarded port, on interface {@code iface} if not null
     * (pasta's ADDRESS%INTERFACE); its fd or {@code -errno}. With {@code freebind} (pasta's
     * --freebind) an explicit {@code bind} address need not be the host's yet.
     */
    static int listenSocket(NativeBuffer scratch, boolean v4, long[] bind, String iface, int port, boolean freebind) {
        int s = Sockets.udp(v4 ? Sockets.AF_INET : Sockets.AF_INET6);
        if (s < 0)
            return s;
        int r = s > EpollRef.MAX_FD ? -Errno.EMFILE : recvErr(s, v4, scratch);
        if (r == 0)
            Sockets.setBuffers(s, SOCK_BUFFER, scratch);
        if (r == 0)
            r = Sockets.bindForwarded(s, v4, bind, iface, port, freebind, scratch);
        if (r < 0) {
            Sys.close(s);
            return r;
        }
        return s;
    }

    private static int recvErr(int s, boolean v4, NativeBuffer scratch) {
        return v4 ? Sockets.setInt(s, Sockets.SOL_IP, Sockets.IP_RECVERR, 1, scratch)
            : Sockets.setInt(s, Sockets.SOL_IPV6, Sockets.IPV6_RECVERR, 1, scratch);
    }

    /**
     * A flow's own socket: bound to {@code sport} where that port is free
     * (UDP keeps the source port, as passt), else to any, and connected to
     * ({@code hi}, {@code lo}) port {@code dport}. Its fd or {@code -errno}.
     */
    static int flowSocket(NativeBuffer scratch, boolean v4, int sport, long hi, long lo, int dport) {
        return flowSocket(scratch, v4, sport, hi, lo, dport, null, 0);
    }

    /**
     * As above, bound as {@code outbound} says (-o, --outbound-if) if not null, connected with
     * {@code scope} (the interface of a link-local destination, see Nat.scope).
     */
    static int flowSocket(NativeBuffer scratch, boolean v4, int sport, long hi, long lo, int dport,
                          io.penne.linux.OutboundBind outbound, int scope) {
        int s = Sockets.udp(v4 ? Sockets.AF_INET : Sockets.AF_INET6);
        if (s < 0)
            return s;
        int r = s > EpollRef.MAX_FD ? -Errno.EMFILE : recvErr(s, v4, scratch);
        if (r == 0)
            Sockets.setBuffers(s, SOCK_BUFFER, scratch);
        if (r == 0 && outbound != null) {
            outbound.apply(s, v4, sport, scratch); // best effort, as pasta: the flow goes ahead however bound
        } else if (r == 0) {
            r = v4 ? Sockets.bind4(s, 0, sport, scratch) : Sockets.bind6(s, 0, 0, sport, scratch);
            if (r < 0)
                r = v4 ? Sockets.bind4(s, 0, 0, scratch) : Sockets.bind6(s, 0, 0, 0, scratch);
        }
        if (r == 0)
            r = v4 ? Sockets.connect4(s, InetAddr.v4(lo), dport, scratch)
                : Sockets.connect6(s, hi, lo, dport, scope, scratch);
        if (r < 0) {
            Sys.close(s);
            return r;
        }
        return s;
    }

    // ------------------------------------------------------------------
    // Datagrams from the guest
    // ------------------------------------------------------------------

    @Override
    public void packets(Instance instance, PacketBatch batch) {
        UdpCtx c = contexts.get(instance);
        if (c == null)
            return;
        FlowTable flows = instance.flows();
        ByteBuffer b = batch.buffer();
        long base = c.pktAddr.of(b);
        long now = instance.loop().now();
        for (int i = 0; i < batch.size(); i++) {
            int l4 = batch.l4Offset(i);
            int l4len = batch.l4Length(i);
            int sport = b.getShort(l4) & 0xffff;
            int dport = b.getShort(l4 + 2) & 0xffff;
            long sHi = batch.srcHi(i), sLo = batch.srcLo(i), dHi = batch.dstHi(i), dLo = batch.dstLo(i);
            if (sport == 0 || dport == 0) {
                c.inc(c.cPortZero);
                continue;
            }
            int sidx = flows.lookup(17, Pif.TAP, sHi, sLo, sport, dHi, dLo, dport);
            if (sidx < 0)
                sidx = openFromTap(c, instance, sHi, sLo, sport, dHi, dLo, dport, now);
            if (sidx < 0)
                continue;
            Flow f = flows.get(Flow.sidxFlow(sidx));
            if (!(f.data() instanceof UdpFlow u))
                continue;
            int from = Flow.sidxSide(sidx), to = 1 - from;
            int fd = u.sock[to];
            if (fd < 0) {
                c.inc(c.cNoSock);
                continue;
            }
            FlowSide t = f.side(to);
            c.queue(fd, base + l4 + IpFrames.UDP_HLEN, l4len - IpFrames.UDP_HLEN, u.shared(to),
                t.eaddrHi(), t.eaddrLo(), t.eport());
            seen(u, from, l4len - IpFrames.UDP_HLEN, now);
            c.inc(c.cFromGuest);
        }
        c.flush();
    }

    private static void seen(UdpFlow u, int from, int len, long now) {
        u.datagrams[from]++;
        u.bytes[from] += len;
        u.lastNanos = now;
        if (from == Flow.TGT)
            u.flags |= UdpFlow.REPLIED;
    }

    /** A first datagram from the guest: a flow with a connected host socket. Its TAP side index, or -1. */
    private int openFromTap(UdpCtx c, Instance inst, long sHi, long sLo, int sport, long dHi, long dLo, int dport,
                            long now) {
        boolean v4 = InetAddr.isV4(sHi, sLo);
        if (!unicast(v4, dHi, dLo) || !unicast(v4, sHi, sLo)) {
            c.inc(c.cBadAddr);
            return -1;
        }
        c.nat.outbound(17, dHi, dLo, dport);
        long tHi = c.nat.hi, tLo = c.nat.lo;
        FlowTable flows = inst.flows();
        Flow f = flows.alloc();
        if (f == null) {
            c.inc(c.cTableFull);
            return -1;
        }
        flows.initiate(f, Pif.TAP, sHi, sLo, sport, dHi, dLo, dport);
        boolean toLoopback = InetAddr.isLoopback(tHi, tLo);
        int s = flowSocket(c.scratch, v4, sport, tHi, tLo, dport, toLoopback ? null : c.outbound,
            c.nat.scope(tHi, tLo));
        int oport = s < 0 ? -1 : Sockets.localPort(s, c.scratch);
        if (oport < 0) {
            if (s >= 0)
                Sys.close(s);
            c.inc(c.cSockFail);
            flows.cancel(f);
            return -1;
        }
        flows.target(f, Pif.HOST, tHi, tLo, dport, v4 ? InetAddr.V4_HI : 0, v4 ? InetAddr.v4Lo(0) : 0, oport);
        return finish(c, inst, f, s, Flow.TGT, false, now) ? Flow.sidx(f.index(), Flow.INI) : -1;
    }

    /**
     * Completes a flow whose sides are set: UDP state, indexed both ways,
     * {@code sock} registered as side {@code sockSide}'s own socket.
     */
    private boolean finish(UdpCtx c, Instance inst, Flow f, int sock, int sockSide, boolean sharedIni, long now) {
        FlowTable flows = inst.flows();
        flows.setType(f, FlowType.UDP);
        UdpFlow u = f.data(UdpFlow.class, UdpFlow::new, true);
        u.lastNanos = now;
        if (sock >= 0) {
            int r = inst.loop().register(sock, EventLoop.EPOLLIN, EpollRef.of(c.sockType, sock, Flow.sidx(f.index(), sockSide)));
            if (r < 0) {
                Sys.close(sock);
                c.inc(c.cSockFail);
                flows.cancel(f);
                return false;
            }
            u.sock[sockSide] = sock;
        }
        flows.activate(f);
        flows.hashInsert(Flow.sidx(f.index(), Flow.INI));
        flows.hashInsert(Flow.sidx(f.index(), Flow.TGT));
        c.inc(c.cOpened);
        return true;
    }

    private static boolean unicast(boolean v4, long hi, long lo) {
        if (v4) {
            int a = InetAddr.v4(lo);
            return a != 0 && a != -1 && (a >>> 24) < 224;
        }
        return (hi >>> 56) != 0xff && (hi | lo) != 0;
    }

    // ------------------------------------------------------------------
    // Socket events
    // ------------------------------------------------------------------

    @Override
    public void event(Instance instance, int eventType, long ref, int events) {
        UdpCtx c = contexts.get(instance);
        if (c == null)
            return;
        if (eventType == c.sockType) {
            int sidx = EpollRef.payload(ref);
            Flow f = instance.flows().get(Flow.sidxFlow(sidx));
            int side = Flow.sidxSide(sidx);
            if (f == null || !(f.data() instanceof UdpFlow u) || u.sock[side] != EpollRef.fd(ref)) {
                c.inc(c.cStale);
                instance.loop().unregister(EpollRef.fd(ref)); // a late event for a socket that is gone
                return;
            }
            if ((events & EventLoop.EPOLLERR) != 0)
                IcmpErrors.drain(c, instance, f, u, side);
            if ((events & EventLoop.EPOLLIN) != 0)
                fromFlowSocket(c, instance, f, u, side);
        } else if (eventType == c.listenType || eventType == c.listenNsType) {
            int fd = EpollRef.fd(ref);
            if ((events & EventLoop.EPOLLERR) != 0)
                IcmpErrors.discard(c, fd);
            if ((events & EventLoop.EPOLLIN) != 0)
                fromListener(c, instance, fd, EpollRef.payload(ref), eventType == c.listenNsType);
        }
    }

    /** Datagrams on a flow's own socket, for the flow's other side. */
    private void fromFlowSocket(UdpCtx c, Instance inst, Flow f, UdpFlow u, int side) {
        int to = 1 - side;
        int fd = u.sock[side];
        long now = inst.loop().now();
        if (f.pif(to) == Pif.TAP) {
            GuestDevice dev = inst.device();
            if (dev == null) {
                drainDrop(c, fd);
                return;
            }
            FlowSide t = f.side(to);
            boolean v4 = t.isV4();
            int hlen = IpFrames.l4Offset(v4) + IpFrames.UDP_HLEN;
            int max = dev.maxFrame();
            int stride = dev.stride(max);
            int slots = Math.max(1, Math.min(BATCH, BATCH_BYTES / Math.max(1, c.recentDgram)));
            for (int round = 0; round < ROUNDS; round++) {
                int off = dev.reserve(max, slots);
                if (off < 0) {
                    drainDrop(c, fd);
                    return;
                }
                long txBase = c.txAddr.of(dev.buffer());
                for (int k = 0; k < slots; k++)
                    c.rxSlot(k, txBase + off + (long) k * stride + hlen, max - hlen, false);
                int n = Sys.recvmmsg(fd, c.rxVec.address(), slots, Sockets.MSG_DONTWAIT);
                if (n <= 0)
                    return;
                int largest = 0, bytes = 0;
                for (int k = 0; k < n; k++) {
                    if (c.rxTruncated(k)) {
                        c.inc(c.cTruncated);
                        continue;
                    }
                    c.slotSide[k] = t;
                    largest = Math.max(largest, c.rxLen(k));
                    bytes += c.rxLen(k);
                    seen(u, side, c.rxLen(k), now);
                }
                c.recentDgram = largest;
                toGuest(c, dev, off, stride, n);
                if (bytes >= HANDOFF_BYTES)
                    handOff(c, dev);
                else if (slots < BATCH)
                    dev.flush(); // while the payloads are still in the cache
                if (n < slots)
                    return;
            }
            return;
        }
        // Socket to socket (the loopback path): one receive buffer, then one sendmmsg.
        FlowSide t = f.side(to);
        int out = u.sock[to];
        boolean named = u.shared(to);
        for (int round = 0; round < ROUNDS; round++) {
            int n = receiveIntoData(c, fd, false);
            if (n <= 0)
                return;
            for (int k = 0; k < n; k++) {
                int len = c.rxLen(k);
                if (out < 0)
                    c.inc(c.cNoSock);
                else
                    c.queue(out, c.rxData.address() + (long) k * UdpCtx.MAX_DGRAM, len, named,
                        t.eaddrHi(), t.eaddrLo(), t.eport());
                seen(u, side, len, now);
                c.inc(c.cSpliced);
            }
            c.flush();
            if (n < BATCH)
                return;
        }
    }

    /**
     * Writes what is queued for the guest and lets its reader have the CPU
     * ({@link #HANDOFF_BYTES}), as far as {@link YieldPolicy} allows.
     */
    private static void handOff(UdpCtx c, GuestDevice dev) {
        dev.flush();
        c.inc(c.cHandOffs);
        if (!c.yieldPolicy.shouldYield())
            return;
        long t0 = System.nanoTime();
        Thread.yield();
        c.inc(c.cYields);
        if (c.yieldPolicy.yielded(System.nanoTime() - t0))
            c.inc(c.cLongYields);
    }

    /**
     * Queues to the guest the datagrams of a receive batch that sit in the
     * frames of a {@link GuestDevice#reserve(int, int)} batch at {@code off}:
     * frame k holds receive slot k's payload, {@code c.rxLen(k)} bytes behind
     * room for the headers, for guest side {@code c.slotSide[k]} (null: no
     * datagram for the guest there). Writes the headers; consecutive frames
     * for one side go as trains where the device takes them.
     */
    private static void toGuest(UdpCtx c, GuestDevice dev, int off, int stride, int n) {
        ByteBuffer tx = dev.buffer();
        long mac = dev.guestMac(), ours = dev.ourMac();
        int segMax = dev.udpSegments();
        boolean offload = dev.checksumOffload();
        for (int k = 0; k < n; ) {
            FlowSide t = c.slotSide[k];
            if (t == null) {
                k++;
                continue;
            }
            boolean v4 = t.isV4();
            int hlen = IpFrames.l4Offset(v4) + IpFrames.UDP_HLEN;
            int len = c.rxLen(k), fo = off + k * stride;
            int count = segMax == 0 ? 1 : trainLength(c, k, n, len, segMax);
            if (count > 1) {
                int last = c.rxLen(k + count - 1);
                udpFrame(tx, fo, mac, ours, v4, t, (count - 1) * len + last, true);
                dev.sendUdpSegments(fo, hlen, stride, count, len, last);
            } else if (offload && !v4) {
                udpFrame(tx, fo, mac, ours, v4, t, len, true);
                dev.sendChecksumPending(fo, hlen + len, hlen - IpFrames.UDP_HLEN, 6);
            } else {
                udpFrame(tx, fo, mac, ours, v4, t, len, false);
                dev.send(fo, hlen + len);
            }
            c.counters.add(c.cToGuest, count);
            for (int j = k; j < k + count; j++)
                c.slotSide[j] = null; // no flow kept reachable from here
            k += count;
        }
    }

    /**
     * How many datagrams from receive slot {@code k} on (of {@code n}) go to
     * the guest as one train ({@link GuestDevice#sendUdpSegments}): slot
     * {@code k}'s datagram of {@code len} bytes, then those for the same side
     * of the same length, then at most one shorter one, while they fit one IP
     * packet. 1 when no train can start (an empty datagram, which a train
     * cannot carry).
     */
    static int trainLength(UdpCtx c, int k, int n, int len, int segMax) {
        if (len == 0)
            return 1;
        int end = k + 1;
        long total = len;
        while (end < n && end - k < segMax && c.slotSide[end] == c.slotSide[k]) {
            int l = c.rxLen(end);
            if (l == 0 || l > len || total + l > MAX_TRAIN_PAYLOAD)
                break;
            total += l;
            end++;
            if (l < len)
                break;
        }
        return end - k;
    }

    /** Payload bytes of a train: the IP packet (IPv4 header, UDP header, payloads) stays within 65535 bytes. */
    static final int MAX_TRAIN_PAYLOAD = 65535 - IpFrames.IPV4_HLEN - IpFrames.UDP_HLEN;

    /**
     * Writes the Ethernet, IP and UDP headers of {@code len} payload bytes to
     * the guest side {@code t}. The UDP checksum: with {@code partial}, only
     * the pseudo-header sum, for a device that completes it; otherwise 0 for
     * IPv4 (optional there, and the kernel's own loopback leaves it out too)
     * and summed here for IPv6, where it is mandatory.
     */
    static void udpFrame(ByteBuffer tx, int fo, long mac, long ours, boolean v4, FlowSide t, int len, boolean partial) {
        int l4len = IpFrames.UDP_HLEN + len;
        int l4 = IpFrames.ethIp(tx, fo, mac, ours, v4, 17, t.oaddrHi(), t.oaddrLo(), t.eaddrHi(), t.eaddrLo(), l4len);
        tx.putShort(l4, (short) t.oport());
        tx.putShort(l4 + 2, (short) t.eport());
        tx.putShort(l4 + 4, (short) l4len);
        tx.putShort(l4 + 6, (short) 0);
        int ip = l4 - (v4 ? IpFrames.IPV4_HLEN : IpFrames.IPV6_HLEN);
        if (partial) {
            tx.putShort(l4 + 6, (short) (~IpFrames.fold(IpFrames.pseudo(tx, ip, v4, 17, l4len)) & 0xffff));
        } else if (!v4) {
            int sum = IpFrames.fold(IpFrames.sum(tx, l4, l4len, IpFrames.pseudo(tx, ip, false, 17, l4len)));
            tx.putShort(l4 + 6, (short) (sum == 0 ? 0xffff : sum));
        }
    }

    private static void drainDrop(UdpCtx c, int fd) {
        int n = receiveIntoData(c, fd, false);
        if (n > 0)
            c.counters.add(c.cNoDevice, n);
    }

    /**
     * Up to {@link #BATCH} datagrams from {@code fd} into the context's receive area, datagram
     * {@code k} at {@code rxData + k * MAX_DGRAM} (with the sender's name if {@code names});
     * returns recvmmsg's count or {@code -errno}.
     */
    private static int receiveIntoData(UdpCtx c, int fd, boolean names) {
        for (int k = 0; k < BATCH; k++)
            c.rxSlot(k, c.rxData.address() + (long) k * UdpCtx.MAX_DGRAM, UdpCtx.MAX_DGRAM, names);
        return Sys.recvmmsg(fd, c.rxVec.address(), BATCH, Sockets.MSG_DONTWAIT);
    }

    /**
     * Datagrams on a forwarding listener: each to the flow of its sender,
     * opened on the first one. {@code payload}: listening port, target port
     * in the high half.
     */
    private void fromListener(UdpCtx c, Instance inst, int fd, int payload, boolean inNs) {
        int lport = payload & 0xffff, target = payload >>> 16;
        FlowTable flows = inst.flows();
        long now = inst.loop().now();
        Pif pif = inNs ? Pif.SPLICE : Pif.HOST;
        GuestDevice dev = inst.device();
        int max = dev == null ? 0 : dev.maxFrame(), stride = dev == null ? 0 : dev.stride(max);
        for (int round = 0; round < ROUNDS; round++) {
            int n = receiveIntoData(c, fd, true);
            if (n <= 0)
                return;
            // Frames for datagrams to the guest, one per receive slot; unused ones cost nothing.
            int off = dev == null ? -1 : dev.reserve(max, BATCH);
            int guestBytes = 0;
            for (int k = 0; k < n; k++) {
                int len = c.rxLen(k);
                int no = k * UdpCtx.NAME_SIZE;
                boolean v4 = Sockets.family(c.rxNames, no) == Sockets.AF_INET;
                long eHi = v4 ? InetAddr.V4_HI : Sockets.addr6Hi(c.rxNames, no);
                long eLo = v4 ? InetAddr.v4Lo(Sockets.addr4(c.rxNames, no)) : Sockets.addr6Lo(c.rxNames, no);
                int ePort = Sockets.port(c.rxNames, no);
                long anyHi = v4 ? InetAddr.V4_HI : 0, anyLo = v4 ? InetAddr.v4Lo(0) : 0;
                int sidx = flows.lookup(17, pif, eHi, eLo, ePort, anyHi, anyLo, lport);
                if (sidx < 0)
                    sidx = openFromListener(c, inst, fd, inNs, v4, eHi, eLo, ePort, lport, target, now);
                if (sidx < 0)
                    continue;
                Flow f = flows.get(Flow.sidxFlow(sidx));
                if (!(f.data() instanceof UdpFlow u))
                    continue;
                int from = Flow.sidxSide(sidx), to = 1 - from;
                long addr = c.rxData.address() + (long) k * UdpCtx.MAX_DGRAM;
                FlowSide t = f.side(to);
                if (f.pif(to) == Pif.TAP) {
                    int hlen = IpFrames.l4Offset(t.isV4()) + IpFrames.UDP_HLEN;
                    if (off < 0) {
                        c.inc(c.cNoDevice);
                    } else if (hlen + len > max) {
                        c.inc(c.cTruncated); // larger than the guest's MTU
                    } else {
                        dev.buffer().put(off + k * stride + hlen, c.rxDataBuf, k * UdpCtx.MAX_DGRAM, len);
                        c.slotSide[k] = t;
                        guestBytes += len;
                    }
                } else if (u.sock[to] >= 0) {
                    c.queue(u.sock[to], addr, len, u.shared(to), t.eaddrHi(), t.eaddrLo(), t.eport());
                    c.inc(c.cSpliced);
                } else {
                    c.inc(c.cNoSock);
                }
                seen(u, from, len, now);
            }
            if (off >= 0)
                toGuest(c, dev, off, stride, n);
            c.flush();
            if (guestBytes >= HANDOFF_BYTES)
                handOff(c, dev);
            if (n < BATCH)
                return;
        }
    }

    /** The first datagram from a peer on a listener: a flow towards the guest or a socket. Its side index, or -1. */
    private int openFromListener(UdpCtx c, Instance inst, int lfd, boolean inNs, boolean v4, long eHi, long eLo,
                                 int ePort, int lport, int target, long now) {
        FlowTable flows = inst.flows();
        boolean loopback = InetAddr.isLoopback(eHi, eLo);
        GuestNamespace gns = inst.namespace();
        // pasta's --host-lo-to-ns-lo (implied by --splice-only): host loopback peers reach the namespace's loopback
        boolean loToLo = loopback && gns != null
            && "true".equals(String.valueOf(inst.properties().get("splice.host_lo_to_ns_lo")));
        if (!inNs && !loToLo && !c.nat.hasGuest(v4)) {
            c.inc(c.cNoGuestAddr);
            return -1;
        }
        long srcHi = 0, srcLo = 0;
        boolean splice = inNs || (loopback && gns != null);
        if (!splice) {
            if (!c.nat.inbound(eHi, eLo)) {
                c.inc(c.cNoGuestAddr);
                return -1;
            }
            srcHi = c.nat.hi;
            srcLo = c.nat.lo;
            // Two host peers can look the same to the guest (127.0.0.1 and the host's address both become
            // the gateway): the second would be indistinguishable, so it is refused, as TCP does.
            if (flows.lookup(17, Pif.TAP, c.nat.guestHi(v4), c.nat.guestLo(v4), target, srcHi, srcLo, ePort) >= 0) {
                c.inc(c.cClash);
                return -1;
            }
        }
        Flow f = flows.alloc();
        if (f == null) {
            c.inc(c.cTableFull);
            return -1;
        }
        long anyHi = v4 ? InetAddr.V4_HI : 0, anyLo = v4 ? InetAddr.v4Lo(0) : 0;
        flows.initiate(f, inNs ? Pif.SPLICE : Pif.HOST, eHi, eLo, ePort, anyHi, anyLo, lport);
        int s = -1;
        if (!splice) {
            flows.target(f, Pif.TAP, c.nat.guestHi(v4), c.nat.guestLo(v4), target, srcHi, srcLo, ePort);
        } else {
            // Loopback both ways: -U goes to the host's loopback, -u from host loopback to the guest's own
            // address (or, with --host-lo-to-ns-lo, to the namespace's loopback).
            boolean toLoopback = inNs || loToLo;
            long dHi = toLoopback ? (v4 ? InetAddr.V4_HI : 0) : c.nat.guestHi(v4);
            long dLo = toLoopback ? (v4 ? InetAddr.v4Lo(Sockets.LOOPBACK4) : 1) : c.nat.guestLo(v4);
            // -U's sockets live on the host, -u's in the namespace (made by its thread, with its scratch)
            s = inNs ? flowSocket(c.scratch, v4, ePort, dHi, dLo, target)
                : gns.call(() -> flowSocket(NativeBuffer.forThread(), v4, ePort, dHi, dLo, target));
            int oport = s < 0 ? -1 : Sockets.localPort(s, c.scratch);
            if (oport < 0) {
                if (s >= 0)
                    Sys.close(s);
                c.inc(c.cSockFail);
                flows.cancel(f);
                return -1;
            }
            flows.target(f, inNs ? Pif.HOST : Pif.SPLICE, dHi, dLo, target, anyHi, anyLo, oport);
        }
        if (!finish(c, inst, f, s, Flow.TGT, true, now))
            return -1;
        UdpFlow u = (UdpFlow) f.data();
        u.sock[Flow.INI] = lfd;
        u.flags |= UdpFlow.SHARED0;
        return Flow.sidx(f.index(), Flow.INI);
    }

    // ------------------------------------------------------------------
    // Expiry
    // ------------------------------------------------------------------

    @Override
    public boolean flowDefer(Instance instance, Flow flow, boolean timer, long now) {
        if (!(flow.data() instanceof UdpFlow u))
            return true;
        if ((u.flags & UdpFlow.CLOSED) == 0) {
            if (!timer)
                return false;
            UdpCtx c = contexts.get(instance);
            long idle = c == null ? 30_000_000_000L : (u.flags & UdpFlow.REPLIED) != 0 ? c.repliedNanos : c.idleNanos;
            if (now - u.lastNanos < idle)
                return false;
        }
        for (int s = 0; s < 2; s++) {
            if (u.sock[s] >= 0 && !u.shared(s)) {
                instance.loop().unregister(u.sock[s]);
                Sys.close(u.sock[s]);
            }
            u.sock[s] = -1;
        }
        instance.flows().hashRemove(Flow.sidx(flow.index(), Flow.INI));
        instance.flows().hashRemove(Flow.sidx(flow.index(), Flow.TGT));
        UdpCtx c = contexts.get(instance);
        if (c != null)
            c.inc(c.cExpired);
        return true;
    }
}
