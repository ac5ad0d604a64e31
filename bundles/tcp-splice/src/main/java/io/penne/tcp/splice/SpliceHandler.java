package io.penne.tcp.splice;

import io.penne.api.Counters;
import io.penne.api.EpollRef;
import io.penne.api.EventLoop;
import io.penne.api.Instance;
import io.penne.api.ListenerPause;
import io.penne.api.ProtocolHandler;
import io.penne.api.flow.Flow;
import io.penne.api.flow.FlowSide;
import io.penne.api.flow.FlowState;
import io.penne.api.flow.FlowTable;
import io.penne.api.flow.FlowType;
import io.penne.api.flow.InetAddr;
import io.penne.api.flow.Pif;
import io.penne.api.flow.SpliceConn;
import io.penne.linux.Errno;
import io.penne.linux.NativeBuffer;
import io.penne.linux.Sockets;
import io.penne.linux.Sys;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.osgi.service.component.annotations.Component;

/**
 * Loopback TCP between the guest namespace and the host, socket to socket
 * (flow type {@link FlowType#TCP_SPLICE}), after passt's {@code tcp_splice.c}.
 *
 * <p>Theory of operation: a spliced connection never touches Layer 2. One
 * side is a socket penne accepted (side 0), the other a socket it connected
 * (side 1): in the namespace for a host loopback client of {@code -t} (the
 * TCP handler accepts it and hands the flow over, INI side HOST, TGT side
 * SPLICE; the connect starts in this handler's first deferred call for it),
 * on the host for a namespace loopback client of {@code -T} (accepted here
 * from a listening socket in the namespace, see {@link NsListeners}). Bytes
 * from side {@code i} go {@code splice()} socket to pipe {@code i}, then
 * pipe to the other socket: the kernel moves page references, penne copies
 * nothing and allocates nothing per event.
 *
 * <p>Both sockets are level-triggered. A socket is read (EPOLLIN, EPOLLRDHUP)
 * while the connection is established and its direction is not finished,
 * except while its pipe still holds bytes the other socket refused: then
 * the other socket is watched for EPOLLOUT instead ({@code OUT_WAIT_x}), so
 * bytes left in a pipe always have a wake-up to move them and a full
 * receiver stops the reader rather than spinning the loop. End of stream
 * read from one side ({@code FIN_RCVD_i}) becomes a {@code shutdown(SHUT_WR)}
 * of the other ({@code FIN_SENT}) only once its pipe is empty; each event
 * moves one direction's FIN at most. When both directions are finished the
 * connection closes cleanly; an error, a hang-up of a socket still sent on,
 * or a failed connect closes both sockets with {@code SO_LINGER} 0, so each
 * peer sees a reset. A hang-up after our own FIN only means the peer's FIN
 * arrived behind bytes a full pipe cannot take yet: that socket leaves epoll
 * (which reports hang-ups whatever the mask) until the pipe has room, and the
 * bytes and the FIN still reach the other side. Closing
 * only marks the flow; its deferred call closes sockets and pipes and frees
 * it.
 *
 * <p>Not done (passt does): the {@code SO_RCVLOWAT} heuristics for small
 * reads, and the pressure-based closing of idle connections.
 */
@Component(service = ProtocolHandler.class)
public final class SpliceHandler implements ProtocolHandler {
    /** Sockets of spliced connections; the reference's payload is the flow side index. */
    public static final String EVENT_SOCK = "splice.sock";
    /** Listening sockets in the namespace for {@code -T}; the payload is the host port to connect to. */
    public static final String EVENT_LISTEN = "splice.listen";
    /** Connections accepted per listening socket event, at most. */
    static final int ACCEPT_BATCH = 64;
    private static final System.Logger LOG = System.getLogger(SpliceHandler.class.getName());
    /** {@link SpliceConn#epollEvents} of a socket taken out of epoll for good (both directions over). */
    static final int RETIRED = -2;

    private final Map<Instance, Ctx> contexts = new ConcurrentHashMap<>();

    @Override
    public String name() {
        return "tcp-splice";
    }

    @Override
    public Set<String> eventTypes() {
        return Set.of(EVENT_SOCK, EVENT_LISTEN);
    }

    @Override
    public Set<FlowType> flowTypes() {
        return Set.of(FlowType.TCP_SPLICE);
    }

    @Override
    public void attach(Instance instance, boolean adopting) {
        Ctx c = new Ctx(instance);
        contexts.put(instance, c);
        if (instance.namespace() == null)
            return; // no namespace, nothing to splice to
        try {
            c.pools.refill();
            c.pools.publish();
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "instance " + instance.name() + ": cannot fill the splice pools", e);
        }
        c.listeners.start(adopting);
    }

    @Override
    public void detach(Instance instance) {
        Ctx c = contexts.remove(instance);
        if (c != null) {
            // The listening sockets stay for an adopting handler: watched, whatever the limit says now.
            c.paused.resumeAll();
            c.listeners.stop();
            c.pools.close();
        }
    }

    @Override
    public void event(Instance instance, int eventType, long ref, int events) {
        Ctx c = contexts.get(instance);
        if (c == null)
            return;
        if (eventType == c.listenType) {
            accept(c, instance, ref);
            afterUse(c, instance);
            return;
        }
        int sidx = EpollRef.payload(ref);
        Flow f = instance.flows().get(Flow.sidxFlow(sidx));
        if (f == null || f.state() != FlowState.ACTIVE || f.type() != FlowType.TCP_SPLICE
            || !(f.data() instanceof SpliceConn)) {
            c.inc(c.cStale);
            return;
        }
        SpliceConn d = (SpliceConn) f.data();
        int side = Flow.sidxSide(sidx);
        if ((d.flags & SpliceConn.CLOSING) != 0 || d.sock[side] != EpollRef.fd(ref)) {
            c.inc(c.cStale);
            return;
        }
        sockEvent(c, instance, d, side, events);
        afterUse(c, instance);
    }

    /** Pools below their mark are refilled after the current event, not during it. */
    private static void afterUse(Ctx c, Instance inst) {
        c.pools.publish();
        if (c.pools.low() && !c.refillQueued) {
            c.refillQueued = true;
            inst.loop().execute(c.refillTask);
        }
    }

    /** passt's tcp_splice_sock_handler(). */
    private void sockEvent(Ctx c, Instance inst, SpliceConn d, int side, int events) {
        if ((events & EventLoop.EPOLLERR) != 0) {
            if (!d.has(SpliceConn.ESTABLISHED))
                connectFailed(c, inst, d, -Sockets.soError(d.sock[1], c.scratch));
            else
                c.inc(c.cSockErrors);
            rst(c, inst, d);
            return;
        }
        if (!d.has(SpliceConn.ESTABLISHED)) {
            if (side != 1 || (events & EventLoop.EPOLLOUT) == 0) {
                connectFailed(c, inst, d, 0);
                rst(c, inst, d);
                return;
            }
            if (!connectFinish(c, inst, d))
                return;
        }
        if ((events & EventLoop.EPOLLOUT) != 0 && !forward(c, inst, d, 1 - side, true)) {
            rst(c, inst, d);
            return;
        }
        // With the peer's FIN (or a hang-up) reported, read on to the end of stream in this event.
        int ended = EventLoop.EPOLLRDHUP | EventLoop.EPOLLHUP;
        if ((events & (EventLoop.EPOLLIN | ended)) != 0 && !forward(c, inst, d, side, (events & ended) == 0)) {
            rst(c, inst, d);
            return;
        }
        if ((d.events & (SpliceConn.FIN_SENT_0 | SpliceConn.FIN_SENT_1))
            == (SpliceConn.FIN_SENT_0 | SpliceConn.FIN_SENT_1)) {
            closing(c, inst, d, false);
            return;
        }
        if ((events & EventLoop.EPOLLHUP) != 0 && !d.has(SpliceConn.finRcvd(side))) {
            // A hang-up on a socket we still send on means the peer is gone: reset. After our own FIN,
            // it only says the peer's FIN has arrived, behind bytes the full pipe cannot take yet (a
            // slow reader on the other side; passt resets here and loses them). epoll reports a
            // hang-up whatever the interest mask, so stop watching this socket until the pipe has
            // room: the other side's EPOLLOUT pulls the rest, end of stream included, and
            // updateEpoll registers it again when reading is wanted.
            if (!d.has(SpliceConn.finSent(side))) {
                rst(c, inst, d);
                return;
            }
            if (d.epollEvents[side] >= 0) {
                inst.loop().unregister(d.sock[side]);
                d.epollEvents[side] = -1;
            }
            c.inc(c.cHupWait);
        }
        updateEpoll(c, inst, d);
    }

    /**
     * Moves bytes from side {@code from} to the other side until the reader
     * has nothing more or the writer takes nothing more (passt's
     * tcp_splice_forward()). With {@code mayStopShort}, a short read that
     * emptied the socket ends the loop without a read that would only fail.
     *
     * @return false if the connection must be reset
     */
    private boolean forward(Ctx c, Instance inst, SpliceConn d, int from, boolean mayStopShort) {
        int to = 1 - from;
        int size = c.pools.pipeSizeBytes;
        while (true) {
            boolean emptyPipe = d.pending[from] == 0;
            long readlen;
            do
                readlen = Sys.splice(d.sock[from], d.pipeW[from], size, Sys.SPLICE_F_MOVE | Sys.SPLICE_F_NONBLOCK);
            while (readlen == -Errno.EINTR);
            if (readlen < 0 && readlen != -Errno.EAGAIN) {
                c.inc(c.cSockErrors);
                return false;
            }
            int more = 0;
            if (readlen <= 0) {
                if (readlen == 0)
                    d.events |= SpliceConn.finRcvd(from);
                // Blocked or at end on the read side, and nothing in the pipe: nothing to write either.
                if (d.pending[from] == 0)
                    break;
            } else {
                d.pending[from] += readlen;
                if (readlen >= (long) size * 9 / 10)
                    more = Sys.SPLICE_F_MORE;
            }
            long written;
            do
                written = Sys.splice(d.pipeR[from], d.sock[to], size, Sys.SPLICE_F_MOVE | Sys.SPLICE_F_NONBLOCK | more);
            while (written == -Errno.EINTR);
            if (written < 0 && written != -Errno.EAGAIN) {
                c.inc(c.cSockErrors);
                return false;
            }
            if (written < 0)
                break;
            d.pending[from] -= written;
            d.bytes[from] += written;
            if (d.pending[from] == 0 && readlen <= 0)
                break;
            // A read short of an empty pipe's size took all the socket had: another read would only
            // say EAGAIN (one system call per event saved); anything arriving later, or an end of
            // stream behind the data, raises EPOLLIN again (level-triggered).
            if (mayStopShort && d.pending[from] == 0 && emptyPipe && readlen < size)
                break;
        }
        // A write-side wake-up is wanted exactly when bytes wait in the pipe.
        if (d.pending[from] > 0)
            d.events |= SpliceConn.outWait(to);
        else
            d.events &= ~SpliceConn.outWait(to);
        if (d.has(SpliceConn.finRcvd(from)) && !d.has(SpliceConn.finSent(to)) && d.pending[from] == 0) {
            if (Sys.shutdown(d.sock[to], Sockets.SHUT_WR) < 0) {
                c.inc(c.cSockErrors);
                return false;
            }
            d.events |= SpliceConn.finSent(to);
        }
        return true;
    }

    /** epoll events for side {@code side} in the connection's state (passt's tcp_splice_conn_epoll_events()). */
    static int epollEvents(int events, int side) {
        int e = 0;
        if ((events & SpliceConn.ESTABLISHED) != 0) {
            if ((events & SpliceConn.finSent(1 - side)) == 0)
                e = EventLoop.EPOLLIN | EventLoop.EPOLLRDHUP;
        } else if (side == 1 && (events & SpliceConn.CONNECT) != 0) {
            e = EventLoop.EPOLLOUT;
        }
        if ((events & SpliceConn.outWait(side)) != 0)
            e |= EventLoop.EPOLLOUT;
        // Not EPOLLRDHUP either: after the peer's FIN it would be reported on every wait while bytes
        // wait for the other side; it is seen again once the pipe is empty and reading resumes.
        if ((events & SpliceConn.outWait(1 - side)) != 0)
            e &= ~(EventLoop.EPOLLIN | EventLoop.EPOLLRDHUP);
        return e;
    }

    private void updateEpoll(Ctx c, Instance inst, SpliceConn d) {
        for (int side = 0; side < 2; side++) {
            if (d.epollEvents[side] == RETIRED)
                continue;
            if (d.has(SpliceConn.finRcvd(side)) && d.has(SpliceConn.finSent(side))) {
                // Both directions of this socket are over: it would only report EPOLLHUP from now on.
                if (d.epollEvents[side] >= 0)
                    inst.loop().unregister(d.sock[side]);
                d.epollEvents[side] = RETIRED;
                continue;
            }
            int e = epollEvents(d.events, side);
            // A socket with nothing to wait for yet (the accepted one while connecting) joins epoll
            // later with its real events: one epoll_ctl fewer per connection; errors show up then.
            if (e == d.epollEvents[side] || d.sock[side] < 0 || (e == 0 && d.epollEvents[side] < 0))
                continue;
            int r = d.epollEvents[side] < 0
                ? inst.loop().register(d.sock[side], e, EpollRef.of(c.sockType, d.sock[side], d.flowSidx(side)))
                : inst.loop().modify(d.sock[side], e, EpollRef.of(c.sockType, d.sock[side], d.flowSidx(side)));
            if (r < 0) {
                c.inc(c.cSockErrors);
                rst(c, inst, d);
                return;
            }
            d.epollEvents[side] = e;
        }
    }

    // ------------------------------------------------------------------
    // Connection set-up
    // ------------------------------------------------------------------

    /**
     * Starts the connect of side 1 to the target side's endpoint: a pooled
     * socket in the namespace (target SPLICE) or a new one on the host
     * (target HOST). Failures reset the accepted side.
     */
    private void connect(Ctx c, Instance inst, Flow f, SpliceConn d) {
        FlowSide tgt = f.side(Flow.TGT);
        boolean v4 = InetAddr.isV4(tgt.eaddrHi(), tgt.eaddrLo());
        int s1 = f.pif(Flow.TGT) == Pif.SPLICE ? c.pools.takeNsSocket(v4)
            : Sockets.tcp(v4 ? Sockets.AF_INET : Sockets.AF_INET6);
        if (s1 >= 0 && s1 > EpollRef.MAX_FD) {
            Sys.close(s1);
            s1 = -Errno.EMFILE;
        }
        if (s1 < 0) {
            c.inc(c.cConnectFailed);
            rst(c, inst, d);
            return;
        }
        d.sock[1] = s1;
        Sockets.setInt(s1, Sockets.SOL_TCP, Sockets.TCP_QUICKACK, 1, c.scratch);
        Sockets.setNoDelay(d.sock[0], true, c.scratch);
        Sockets.setNoDelay(s1, true, c.scratch);
        d.events |= SpliceConn.CONNECT;
        int r = v4 ? Sockets.connect4(s1, InetAddr.v4(tgt.eaddrLo()), tgt.eport(), c.scratch)
            : Sockets.connect6(s1, tgt.eaddrHi(), tgt.eaddrLo(), tgt.eport(), c.scratch);
        if (r < 0 && r != -Errno.EINPROGRESS) {
            connectFailed(c, inst, d, r);
            rst(c, inst, d);
            return;
        }
        if (r == 0 && !connectFinish(c, inst, d))
            return;
        updateEpoll(c, inst, d);
    }

    /** Counts a connect that failed and says why in the debug log ({@code err} is -errno, 0 if unknown). */
    private static void connectFailed(Ctx c, Instance inst, SpliceConn d, int err) {
        c.inc(c.cConnectFailed);
        if (LOG.isLoggable(System.Logger.Level.DEBUG)) {
            Flow f = inst.flows().get(d.flowIndex);
            FlowSide t = f == null ? null : f.side(Flow.TGT);
            LOG.log(System.Logger.Level.DEBUG, "instance " + inst.name() + ": splice connect"
                + (t == null ? "" : " to " + InetAddr.format(t.eaddrHi(), t.eaddrLo(), t.eport()))
                + " failed" + (err < 0 ? ": " + Errno.describe(-err) : ""));
        }
    }

    /** Side 1 is connected: takes the two pipes. False (connection reset) if there are none. */
    private boolean connectFinish(Ctx c, Instance inst, SpliceConn d) {
        for (int i = 0; i < 2; i++) {
            if (d.pipeR[i] < 0 && !c.pools.takePipe(d.pipeR, d.pipeW, i)) {
                c.inc(c.cSockErrors);
                rst(c, inst, d);
                return false;
            }
        }
        d.events |= SpliceConn.ESTABLISHED;
        c.inc(c.cEstablished);
        return true;
    }

    /** Connections pending on a namespace listening socket ({@code -T}). */
    private void accept(Ctx c, Instance inst, long ref) {
        int lfd = EpollRef.fd(ref);
        int port = EpollRef.payload(ref);
        NativeBuffer a = c.addr;
        for (int k = 0; k < ACCEPT_BATCH; k++) {
            int s = Sockets.accept(lfd, a);
            if (s == -Errno.EAGAIN)
                return;
            if (ListenerPause.outOfDescriptors(s)) {
                // The client waits in the backlog until descriptors may be free; no spinning meanwhile.
                c.inc(c.cAcceptNoFd);
                c.paused.pause(lfd, ref);
                return;
            }
            if (s < 0) {
                c.inc(c.cSockErrors);
                return;
            }
            boolean v4 = Sockets.family(a, 0) == Sockets.AF_INET;
            long eHi = v4 ? InetAddr.V4_HI : Sockets.addr6Hi(a, 0);
            long eLo = v4 ? InetAddr.v4Lo(Sockets.addr4(a, 0)) : Sockets.addr6Lo(a, 0);
            int ePort = Sockets.port(a, 0);
            if (s > EpollRef.MAX_FD || Sys.getsockname(s, a) < 0) {
                refuse(c, s);
                continue;
            }
            long oHi = v4 ? InetAddr.V4_HI : Sockets.addr6Hi(a, 0);
            long oLo = v4 ? InetAddr.v4Lo(Sockets.addr4(a, 0)) : Sockets.addr6Lo(a, 0);
            int oPort = Sockets.port(a, 0);
            // pasta forwards only loopback to loopback from the namespace (fwd_nat_from_splice).
            if (!InetAddr.isLoopback(eHi, eLo) || !InetAddr.isLoopback(oHi, oLo)) {
                c.inc(c.cNotLoopback);
                refuse(c, s);
                continue;
            }
            FlowTable flows = inst.flows();
            Flow f = flows.alloc();
            if (f == null) {
                c.inc(c.cTableFull);
                refuse(c, s);
                continue;
            }
            flows.initiate(f, Pif.SPLICE, eHi, eLo, ePort, oHi, oLo, oPort);
            // To the same loopback address on the host; the kernel picks the source port.
            flows.target(f, Pif.HOST, oHi, oLo, port, eHi, eLo, 0);
            flows.setType(f, FlowType.TCP_SPLICE);
            SpliceConn d = f.data(SpliceConn.class, SpliceConn::new, true);
            d.sock[0] = s;
            d.flowIndex = f.index();
            flows.activate(f);
            Sockets.setInt(s, Sockets.SOL_TCP, Sockets.TCP_QUICKACK, 1, c.scratch);
            c.inc(c.cAccepted);
            connect(c, inst, f, d);
        }
    }

    private void refuse(Ctx c, int s) {
        Sockets.setLinger(s, true, 0, c.scratch);
        Sys.close(s);
        c.inc(c.cRefused);
    }

    // ------------------------------------------------------------------
    // Closing
    // ------------------------------------------------------------------

    /** Resets both sides: {@code SO_LINGER} 0, so closing sends a RST to each peer. */
    private void rst(Ctx c, Instance inst, SpliceConn d) {
        if ((d.flags & SpliceConn.CLOSING) != 0)
            return;
        for (int i = 0; i < 2; i++)
            if (d.sock[i] >= 0)
                Sockets.setLinger(d.sock[i], true, 0, c.scratch);
        c.inc(c.cReset);
        closing(c, inst, d, true);
    }

    /** Marks the connection over and stops its events; the deferred call releases it. */
    private void closing(Ctx c, Instance inst, SpliceConn d, boolean reset) {
        d.flags |= SpliceConn.CLOSING | (reset ? SpliceConn.RESET : 0);
        for (int i = 0; i < 2; i++) {
            if (d.sock[i] >= 0 && d.epollEvents[i] >= 0)
                inst.loop().unregister(d.sock[i]);
            d.epollEvents[i] = -1;
        }
    }

    @Override
    public boolean flowDefer(Instance instance, Flow flow, boolean timer, long now) {
        if (!(flow.data() instanceof SpliceConn))
            return true;
        SpliceConn d = (SpliceConn) flow.data();
        Ctx c = contexts.get(instance);
        if ((d.flags & SpliceConn.CLOSING) == 0) {
            // Handed over by the TCP handler: accepted on the host, not connected yet.
            if (d.sock[1] < 0 && (d.events & SpliceConn.CONNECT) == 0 && c != null) {
                d.flowIndex = flow.index();
                c.inc(c.cAccepted);
                connect(c, instance, flow, d);
                afterUse(c, instance);
            }
            if ((d.flags & SpliceConn.CLOSING) == 0)
                return false;
        }
        for (int i = 0; i < 2; i++) {
            if (d.pipeR[i] >= 0 && (c == null || !c.pools.recyclePipe(d.pipeR[i], d.pipeW[i], d.pending[i]))) {
                Sys.close(d.pipeR[i]);
                Sys.close(d.pipeW[i]);
            }
            if (d.sock[i] >= 0) {
                if (d.epollEvents[i] >= 0)
                    instance.loop().unregister(d.sock[i]);
                Sys.close(d.sock[i]);
            }
        }
        d.reset();
        if (c != null) {
            c.pools.publish();
            c.inc(c.cFreed);
        }
        return true;
    }

    // ------------------------------------------------------------------

    /** What the handler keeps per instance: counters, event type numbers, pools, listeners. Loop thread only. */
    static final class Ctx {
        final Counters counters;
        final int sockType, listenType;
        final NativeBuffer scratch = NativeBuffer.allocate(64);
        final NativeBuffer addr = NativeBuffer.allocate(Sys.SOCKADDR_SCRATCH_SIZE);
        final Pools pools;
        final NsListeners listeners;
        boolean refillQueued;
        final Runnable refillTask;
        final int cAccepted, cEstablished, cConnectFailed, cReset, cFreed, cSockErrors, cStale, cRefused, cHupWait,
            cNotLoopback, cTableFull, cAcceptNoFd;
        /** Listening sockets unwatched for a moment after accept() found no free descriptor. */
        final ListenerPause paused;

        Ctx(Instance inst) {
            counters = inst.counters();
            sockType = inst.eventType(EVENT_SOCK);
            listenType = inst.eventType(EVENT_LISTEN);
            boolean v4 = !"false".equals(String.valueOf(inst.properties().get("ipv4")));
            boolean v6 = !"false".equals(String.valueOf(inst.properties().get("ipv6")));
            // Namespace sockets connect to the guest's address: only for the families it has one of.
            pools = new Pools(inst.namespace(), inst.properties().get("guest.address4") != null,
                inst.properties().get("guest.address6") != null, counters);
            paused = new ListenerPause(inst.loop(), EventLoop.EPOLLIN);
            listeners = new NsListeners(inst, listenType, v4, v6, paused);
            refillTask = () -> {
                refillQueued = false;
                try {
                    pools.refill();
                    pools.publish();
                } catch (RuntimeException e) {
                    LOG.log(System.Logger.Level.WARNING, "instance " + inst.name() + ": splice pool refill", e);
                }
            };
            cAccepted = counters.register("splice.conn.accepted");
            cEstablished = counters.register("splice.conn.established");
            cConnectFailed = counters.register("splice.conn.connect_failed");
            cReset = counters.register("splice.conn.reset");
            cHupWait = counters.register("splice.conn.hup_behind_data");
            cFreed = counters.register("splice.conn.freed");
            cSockErrors = counters.register("splice.socket_errors");
            cStale = counters.register("splice.events.stale");
            cRefused = counters.register("splice.refused");
            cNotLoopback = counters.register("splice.refused.not_loopback");
            cTableFull = counters.register("splice.drop.table_full");
            cAcceptNoFd = counters.register("splice.accept.no_descriptor");
        }

        void inc(int id) {
            counters.inc(id);
        }
    }
}
