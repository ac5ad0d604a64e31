package io.penne.icmp;

import io.penne.api.Counters;
import io.penne.api.EpollRef;
import io.penne.api.EventLoop;
import io.penne.api.GuestDevice;
import io.penne.api.Instance;
import io.penne.api.IpFrames;
import io.penne.api.PacketBatch;
import io.penne.api.ProtocolHandler;
import io.penne.api.flow.Flow;
import io.penne.api.flow.FlowSide;
import io.penne.api.flow.FlowTable;
import io.penne.api.flow.FlowType;
import io.penne.api.flow.InetAddr;
import io.penne.api.flow.Nat;
import io.penne.api.flow.PingFlow;
import io.penne.api.flow.Pif;
import io.penne.linux.Errno;
import io.penne.linux.KernelFeatures;
import io.penne.linux.NativeBuffer;
import io.penne.linux.Sockets;
import io.penne.linux.Sys;
import java.nio.ByteBuffer;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.osgi.service.component.annotations.Component;

/**
 * ICMP and ICMPv6 echo from the guest through unprivileged ping sockets
 * (passt's {@code icmp.c}).
 *
 * <p><b>Theory of operation.</b> A ping socket ({@code SOCK_DGRAM},
 * {@code IPPROTO_ICMP} or {@code IPPROTO_ICMPV6}) lets an unprivileged
 * process send echo requests: the kernel owns the echo identifier (it is
 * the socket's "port") and delivers only the replies that carry it. So the
 * identifier plays the port: an echo request from the guest is looked up
 * by (guest address, identifier, destination); the first one opens a flow
 * (type PING4 or PING6) with a ping socket of its own, and the request's
 * ICMP message is sent as it is to the destination after address
 * translation ({@link Nat}: the gateway means host loopback). A reply read
 * from the socket gets the guest's identifier back, a new checksum (the
 * ICMPv6 one covers the pseudo-header), and goes to the guest from the
 * address it pinged. Flows are forgotten after 60 seconds without a
 * request.
 *
 * <p>Only echo requests are forwarded; other types from the guest and
 * echo messages too short to have an identifier are dropped and counted.
 * If the kernel refuses ping sockets (the group is outside
 * {@code net.ipv4.ping_group_range}), that is logged once at attach time
 * and every request is a counted drop.
 */
@Component(service = ProtocolHandler.class)
public final class IcmpHandler implements ProtocolHandler {
    static final String EVENT_SOCK = "icmp.sock";
    /** Replies read per event at most. */
    static final int BATCH = 32;
    static final long TIMEOUT_NANOS = 60_000_000_000L;
    private static final int ECHO_REQUEST4 = 8, ECHO_REPLY4 = 0, ECHO_REQUEST6 = 128, ECHO_REPLY6 = 129;
    private static final System.Logger LOG = System.getLogger(IcmpHandler.class.getName());

    private final Map<Instance, Ctx> contexts = new ConcurrentHashMap<>();

    @Override
    public String name() {
        return "icmp";
    }

    @Override
    public Set<String> eventTypes() {
        return Set.of(EVENT_SOCK);
    }

    @Override
    public Set<FlowType> flowTypes() {
        return Set.of(FlowType.PING4, FlowType.PING6);
    }

    @Override
    public int[] packetTypes() {
        return new int[] {1, 58};
    }

    @Override
    public void attach(Instance instance, boolean adopting) {
        Ctx c = new Ctx(instance);
        contexts.put(instance, c);
        KernelFeatures kf = KernelFeatures.probe();
        for (String feature : new String[] {KernelFeatures.PING_V4, KernelFeatures.PING_V6}) {
            if (!kf.has(feature) && !adopting)
                LOG.log(System.Logger.Level.WARNING, "instance " + instance.name() + ": " + feature
                    + " not permitted (" + (kf.get(feature) == null ? "not probed" : kf.get(feature).detail()) + "): echo requests from the guest are dropped");
        }
    }

    @Override
    public void detach(Instance instance) {
        contexts.remove(instance);
    }

    @Override
    public void packets(Instance instance, PacketBatch batch) {
        Ctx c = contexts.get(instance);
        if (c == null)
            return;
        ByteBuffer b = batch.buffer();
        long base = c.pktAddr.of(b);
        FlowTable flows = instance.flows();
        long now = instance.loop().now();
        for (int i = 0; i < batch.size(); i++) {
            boolean v4 = batch.ipVersion(i) == 4;
            int l4 = batch.l4Offset(i), l4len = batch.l4Length(i);
            int proto = v4 ? 1 : 58;
            if (l4len < 8) {
                c.inc(c.cShort);
                continue;
            }
            int type = b.get(l4) & 0xff;
            if (type != (v4 ? ECHO_REQUEST4 : ECHO_REQUEST6)) {
                c.inc(c.cType);
                continue;
            }
            int id = b.getShort(l4 + 4) & 0xffff;
            long sHi = batch.srcHi(i), sLo = batch.srcLo(i), dHi = batch.dstHi(i), dLo = batch.dstLo(i);
            int sidx = flows.lookup(proto, Pif.TAP, sHi, sLo, id, dHi, dLo, id);
            if (sidx < 0)
                sidx = open(c, instance, v4, sHi, sLo, dHi, dLo, id);
            if (sidx < 0)
                continue;
            Flow f = flows.get(Flow.sidxFlow(sidx));
            if (!(f.data() instanceof PingFlow p) || p.sock < 0)
                continue;
            FlowSide h = f.side(Flow.TGT);
            int alen = v4 ? Sockets.sockaddrIn(c.addr, 0, InetAddr.v4(h.eaddrLo()), 0)
                : Sockets.sockaddrIn6(c.addr, 0, h.eaddrHi(), h.eaddrLo(), 0, c.nat.scope(h.eaddrHi(), h.eaddrLo()));
            long r = Sys.sendto(p.sock, base + l4, l4len, Sockets.MSG_DONTWAIT, c.addr.address(), alen);
            if (r < 0) {
                c.inc(c.cSendFail);
                continue;
            }
            p.requests++;
            p.lastSeq = b.getShort(l4 + 6) & 0xffff;
            p.lastNanos = now;
            c.inc(c.cRequests);
        }
    }

    /** The first request with this identifier to this destination: a flow with a ping socket. */
    private int open(Ctx c, Instance inst, boolean v4, long sHi, long sLo, long dHi, long dLo, int id) {
        if (!unicast(v4, dHi, dLo)) {
            c.inc(c.cBadAddr);
            return -1;
        }
        int s = Sockets.ping(v4 ? Sockets.AF_INET : Sockets.AF_INET6);
        if (s < 0 || s > EpollRef.MAX_FD) {
            if (s >= 0)
                Sys.close(s);
            c.inc(s == -Errno.EACCES || s == -Errno.EPERM ? c.cNotPermitted : c.cSockFail);
            return -1;
        }
        c.nat.outbound(v4 ? 1 : 58, dHi, dLo, 0);
        long tHi = c.nat.hi, tLo = c.nat.lo;
        boolean toLoopback = InetAddr.isLoopback(tHi, tLo);
        if (!toLoopback && c.outbound.apply(s, v4, 0, c.addr) < 0) // -o, --outbound-if: best effort, as pasta
            c.inc(c.cOutboundBind);
        FlowTable flows = inst.flows();
        Flow f = flows.alloc();
        if (f == null) {
            Sys.close(s);
            c.inc(c.cTableFull);
            return -1;
        }
        flows.initiate(f, Pif.TAP, sHi, sLo, id, dHi, dLo, id);
        flows.target(f, Pif.HOST, tHi, tLo, 0, v4 ? InetAddr.V4_HI : 0, v4 ? InetAddr.v4Lo(0) : 0, 0);
        flows.setType(f, v4 ? FlowType.PING4 : FlowType.PING6);
        PingFlow p = f.data(PingFlow.class, PingFlow::new, true);
        if (inst.loop().register(s, EventLoop.EPOLLIN, EpollRef.of(c.sockType, s, Flow.sidx(f.index(), Flow.TGT))) < 0) {
            Sys.close(s);
            c.inc(c.cSockFail);
            flows.cancel(f);
            return -1;
        }
        p.sock = s;
        p.lastNanos = inst.loop().now();
        flows.activate(f);
        flows.hashInsert(Flow.sidx(f.index(), Flow.INI));
        c.inc(c.cOpened);
        return Flow.sidx(f.index(), Flow.INI);
    }

    @Override
    public void event(Instance instance, int eventType, long ref, int events) {
        Ctx c = contexts.get(instance);
        if (c == null)
            return;
        int sidx = EpollRef.payload(ref);
        Flow f = instance.flows().get(Flow.sidxFlow(sidx));
        if (f == null || !(f.data() instanceof PingFlow p) || p.sock != EpollRef.fd(ref)) {
            c.inc(c.cStale);
            instance.loop().unregister(EpollRef.fd(ref));
            return;
        }
        if ((events & EventLoop.EPOLLERR) != 0)
            Sockets.soError(p.sock, c.addr); // clears it; an unreachable destination just means no reply
        GuestDevice dev = instance.device();
        FlowSide t = f.side(Flow.INI);
        boolean v4 = f.type() == FlowType.PING4;
        int hlen = IpFrames.l4Offset(v4);
        for (int k = 0; k < BATCH; k++) {
            if (dev == null) {
                long r = Sys.recv(p.sock, c.addr.address(), 8, Sockets.MSG_DONTWAIT | Sockets.MSG_TRUNC);
                if (r < 0)
                    return;
                c.inc(c.cNoDevice);
                continue;
            }
            int max = dev.maxFrame();
            int fo = dev.reserve(max);
            ByteBuffer tx = dev.buffer();
            long txBase = c.txAddr.of(tx);
            long r = Sys.recv(p.sock, txBase + fo + hlen, max - hlen, Sockets.MSG_DONTWAIT);
            if (r < 0)
                return;
            int l4len = (int) r;
            if (l4len < 8 || (tx.get(fo + hlen) & 0xff) != (v4 ? ECHO_REPLY4 : ECHO_REPLY6)) {
                c.inc(c.cBadReply);
                continue;
            }
            int l4 = IpFrames.ethIp(tx, fo, dev.guestMac(), dev.ourMac(), v4, v4 ? 1 : 58,
                t.oaddrHi(), t.oaddrLo(), t.eaddrHi(), t.eaddrLo(), l4len);
            tx.putShort(l4 + 4, (short) t.eport()); // the guest's identifier
            tx.putShort(l4 + 2, (short) 0);
            long acc = v4 ? 0 : IpFrames.pseudo(tx, l4 - IpFrames.IPV6_HLEN, false, 58, l4len);
            tx.putShort(l4 + 2, (short) IpFrames.fold(IpFrames.sum(tx, l4, l4len, acc)));
            dev.send(fo, hlen + l4len);
            p.replies++;
            c.inc(c.cReplies);
        }
    }

    @Override
    public boolean flowDefer(Instance instance, Flow flow, boolean timer, long now) {
        if (!(flow.data() instanceof PingFlow p))
            return true;
        if (!timer || now - p.lastNanos < TIMEOUT_NANOS)
            return false;
        if (p.sock >= 0) {
            instance.loop().unregister(p.sock);
            Sys.close(p.sock);
            p.sock = -1;
        }
        instance.flows().hashRemove(Flow.sidx(flow.index(), Flow.INI));
        Ctx c = contexts.get(instance);
        if (c != null)
            c.inc(c.cFreed);
        return true;
    }

    private static boolean unicast(boolean v4, long hi, long lo) {
        if (v4) {
            int a = InetAddr.v4(lo);
            return a != 0 && a != -1 && (a >>> 24) < 224;
        }
        return (hi >>> 56) != 0xff && (hi | lo) != 0;
    }

    /** Per-instance derived state: counters, event type, address translation, scratch memory. */
    static final class Ctx {
        final Counters counters;
        final int sockType;
        final Nat nat;
        /** -o, --outbound-if4/6: what echo sockets towards the world are bound to. */
        final io.penne.linux.OutboundBind outbound;
        final NativeBuffer addr = NativeBuffer.allocate(Sys.SOCKADDR_SCRATCH_SIZE);
        final io.penne.linux.BufferAddress pktAddr = new io.penne.linux.BufferAddress();
        final io.penne.linux.BufferAddress txAddr = new io.penne.linux.BufferAddress();
        final int cOpened, cFreed, cRequests, cReplies, cShort, cType, cBadAddr, cNotPermitted, cSockFail,
            cTableFull, cSendFail, cBadReply, cNoDevice, cStale, cOutboundBind;

        Ctx(Instance inst) {
            counters = inst.counters();
            sockType = inst.eventType(EVENT_SOCK);
            nat = Nat.of(inst.properties());
            outbound = io.penne.linux.OutboundBind.of(inst.properties());
            cOpened = counters.register("icmp.flow.opened");
            cOutboundBind = counters.register("icmp.outbound_bind_failed");
            cFreed = counters.register("icmp.flow.freed");
            cRequests = counters.register("icmp.echo.requests");
            cReplies = counters.register("icmp.echo.replies");
            cShort = counters.register("icmp.drop.short");
            cType = counters.register("icmp.drop.type");
            cBadAddr = counters.register("icmp.drop.bad_address");
            cNotPermitted = counters.register("icmp.drop.ping_not_permitted");
            cSockFail = counters.register("icmp.drop.socket");
            cTableFull = counters.register("icmp.drop.table_full");
            cSendFail = counters.register("icmp.drop.send");
            cBadReply = counters.register("icmp.drop.bad_reply");
            cNoDevice = counters.register("icmp.drop.no_device");
            cStale = counters.register("icmp.events.stale");
        }

        void inc(int id) {
            counters.inc(id);
        }


    }
}
