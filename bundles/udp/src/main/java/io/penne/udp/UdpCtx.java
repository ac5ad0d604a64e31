package io.penne.udp;

import io.penne.api.Counters;
import io.penne.api.Instance;
import io.penne.api.flow.InetAddr;
import io.penne.api.flow.Nat;
import io.penne.linux.Errno;
import io.penne.linux.NativeBuffer;
import io.penne.linux.Sockets;
import io.penne.linux.Sys;
import java.nio.ByteBuffer;

/**
 * What the UDP handler derives for one instance: counter ids, event type
 * numbers, the address translation, and the preallocated native memory of
 * its batches (mmsghdr arrays, iovecs, socket addresses, a receive area for
 * socket-to-socket forwarding). Rebuilt by each attach; loop thread only.
 *
 * <p>The send queue batches datagrams bound for one socket into a single
 * {@code sendmmsg()}: {@link #queue} adds one (payload address, length,
 * optional destination), a datagram for another socket or a full queue
 * sends what is queued first, and the caller {@link #flush flushes} before
 * the memory the payloads point into is reused. UDP is lossy: what the
 * socket refuses is dropped and counted, never retried later.
 */
final class UdpCtx {
    static final int BATCH = UdpHandler.BATCH;
    /** Largest UDP payload penne moves between sockets. */
    static final int MAX_DGRAM = 65536;
    static final int NAME_SIZE = 32;

    final Counters counters;
    /** -u auto / -U auto, when either is in use (set by {@link UdpAuto#start}). */
    UdpAuto auto;
    final int sockType, listenType, listenNsType;
    final Nat nat;
    /** -o, --outbound-if4/6: what flow sockets towards the world are bound to. */
    final io.penne.linux.OutboundBind outbound;
    /** pasta's --freebind (property {@code freebind}): -u may bind addresses the host does not have. */
    final boolean freebind;
    final long idleNanos, repliedNanos;

    /** Receive side: mmsghdrs, iovecs and peer names of one recvmmsg. */
    final NativeBuffer rxVec = NativeBuffer.allocate(BATCH * io.penne.linux.Sys.MMSGHDR_SIZE);
    final NativeBuffer rxIov = NativeBuffer.allocate(BATCH * 16);
    final NativeBuffer rxNames = NativeBuffer.allocate(BATCH * NAME_SIZE);
    /** Payloads received from sockets whose datagrams go to other sockets, or are copied into frames. */
    final NativeBuffer rxData = NativeBuffer.mapAnonymous(BATCH * MAX_DGRAM);
    final ByteBuffer rxDataBuf = rxData.buffer().duplicate().order(java.nio.ByteOrder.BIG_ENDIAN);

    /** Send side: the queue of datagrams for {@link #outFd}. */
    final NativeBuffer txVec = NativeBuffer.allocate(BATCH * io.penne.linux.Sys.MMSGHDR_SIZE);
    final NativeBuffer txIov = NativeBuffer.allocate(BATCH * 16);
    final NativeBuffer txNames = NativeBuffer.allocate(BATCH * NAME_SIZE);
    int outFd = -1;
    int outCount;

    final NativeBuffer scratch = NativeBuffer.allocate(Sys.SOCKADDR_SCRATCH_SIZE);
    /** Error queue reads: msghdr at 0, iovec at 64, control at 128 (256 bytes), data at 384. */
    final NativeBuffer err = NativeBuffer.allocate(384 + ERR_DATA);
    static final int ERR_DATA = 1024;

    /**
     * Receive slot k's datagram, put in frame k of a batch, goes to this
     * guest side (null: to none); read by {@code UdpHandler.toGuest}, which
     * clears it.
     */
    final io.penne.api.flow.FlowSide[] slotSide = new io.penne.api.flow.FlowSide[BATCH];

    /** Largest datagram of the last batch read from a flow socket for the guest: sizes the next batch. */
    int recentDgram;
    /** Whether a hand-off to the guest yields the CPU (UdpHandler.HANDOFF_BYTES). */
    final YieldPolicy yieldPolicy = new YieldPolicy();

    final io.penne.linux.BufferAddress pktAddr = new io.penne.linux.BufferAddress();
    final io.penne.linux.BufferAddress txAddr = new io.penne.linux.BufferAddress();

    final int cOpened, cExpired, cTableFull, cSockFail, cBadAddr, cPortZero, cSendDrop, cTruncated, cNoDevice,
        cNoGuestAddr, cIcmpToGuest, cIcmpDropped, cFromGuest, cToGuest, cSpliced, cNoSock, cListenFailed, cStale, cClash,
        cHandOffs, cYields, cLongYields;

    UdpCtx(Instance inst) {
        counters = inst.counters();
        sockType = inst.eventType(UdpHandler.EVENT_SOCK);
        listenType = inst.eventType(UdpHandler.EVENT_LISTEN);
        listenNsType = inst.eventType(UdpHandler.EVENT_LISTEN_NS);
        nat = Nat.of(inst.properties());
        outbound = io.penne.linux.OutboundBind.of(inst.properties());
        freebind = "true".equals(String.valueOf(inst.properties().get("freebind")));
        idleNanos = seconds(inst, "udp.timeout", 30);
        repliedNanos = seconds(inst, "udp.timeout_replied", 120);
        cOpened = counters.register("udp.flow.opened");
        cExpired = counters.register("udp.flow.freed");
        cTableFull = counters.register("udp.drop.table_full");
        cSockFail = counters.register("udp.drop.socket");
        cBadAddr = counters.register("udp.drop.bad_address");
        cPortZero = counters.register("udp.drop.port_zero");
        cSendDrop = counters.register("udp.drop.send");
        cTruncated = counters.register("udp.drop.truncated");
        cNoDevice = counters.register("udp.drop.no_device");
        cNoGuestAddr = counters.register("udp.drop.no_guest_address");
        cIcmpToGuest = counters.register("udp.icmp.to_guest");
        cIcmpDropped = counters.register("udp.icmp.not_relayed");
        cFromGuest = counters.register("udp.datagrams.from_guest");
        cToGuest = counters.register("udp.datagrams.to_guest");
        cSpliced = counters.register("udp.datagrams.spliced");
        cNoSock = counters.register("udp.drop.no_socket");
        cListenFailed = counters.register("udp.listen.failed");
        cStale = counters.register("udp.events.stale");
        cClash = counters.register("udp.drop.tuple_in_use");
        cHandOffs = counters.register("udp.handoffs");
        cYields = counters.register("udp.handoffs.yields");
        cLongYields = counters.register("udp.handoffs.long_yields");
        for (int i = 0; i < BATCH; i++)
            rxIov.putIovec(i * 16, rxData.address() + (long) i * MAX_DGRAM, MAX_DGRAM);
    }

    private static long seconds(Instance inst, String key, int dflt) {
        Object v = inst.properties().get(key);
        int s = dflt;
        if (v != null) {
            try {
                s = Integer.parseInt(v.toString().trim());
            } catch (NumberFormatException e) {
                s = dflt;
            }
        }
        return s * 1_000_000_000L;
    }

    void inc(int id) {
        counters.inc(id);
    }



    /**
     * Queues a datagram of {@code len} bytes at native address {@code addr}
     * for socket {@code fd}; to ({@code hi}, {@code lo}) port {@code port}
     * if {@code named} (a shared socket), else to the socket's peer. A
     * link-local peer is scoped to the host's IPv6 interface, as flow sockets
     * are connected ({@code Nat.scope}).
     */
    void queue(int fd, long addr, int len, boolean named, long hi, long lo, int port) {
        if (fd != outFd || outCount == BATCH)
            flush();
        outFd = fd;
        int i = outCount++;
        int m = i * Sys.MMSGHDR_SIZE;
        txIov.putIovec(i * 16, addr, len);
        int namelen = 0;
        if (named) {
            namelen = InetAddr.isV4(hi, lo)
                ? Sockets.sockaddrIn(txNames, i * NAME_SIZE, InetAddr.v4(lo), port)
                : Sockets.sockaddrIn6(txNames, i * NAME_SIZE, hi, lo, port, nat.scope(hi, lo));
        }
        txVec.putLong(m + Sys.MSG_NAME, named ? txNames.address() + (long) i * NAME_SIZE : 0)
            .putInt(m + Sys.MSG_NAMELEN, namelen)
            .putLong(m + Sys.MSG_IOV, txIov.address() + i * 16L).putLong(m + Sys.MSG_IOVLEN, 1)
            .putLong(m + Sys.MSG_CONTROL, 0).putLong(m + Sys.MSG_CONTROLLEN, 0).putInt(m + Sys.MSG_FLAGS, 0);
    }

    /** Sends what is queued; what the socket does not take is dropped and counted. */
    void flush() {
        int done = 0;
        while (done < outCount) {
            int r = Sys.sendmmsg(outFd, txVec.address() + (long) done * Sys.MMSGHDR_SIZE, outCount - done,
                Sockets.MSG_DONTWAIT | Sockets.MSG_NOSIGNAL);
            if (r == -Errno.EINTR)
                continue;
            if (r == -Errno.EAGAIN) {
                counters.add(cSendDrop, outCount - done); // the socket's buffer is full: the rest is lost
                break;
            }
            if (r <= 0) {
                // The first unsent datagram failed (refused, too big): skip it, try the rest.
                counters.inc(cSendDrop);
                done++;
                continue;
            }
            done += r;
        }
        outCount = 0;
        outFd = -1;
    }

    /** Points receive slot {@code i} at {@code addr} (capacity {@code len}), with room for the sender's name. */
    void rxSlot(int i, long addr, int len, boolean names) {
        int m = i * Sys.MMSGHDR_SIZE;
        rxIov.putIovec(i * 16, addr, len);
        rxVec.putLong(m + Sys.MSG_NAME, names ? rxNames.address() + (long) i * NAME_SIZE : 0)
            .putInt(m + Sys.MSG_NAMELEN, names ? NAME_SIZE : 0)
            .putLong(m + Sys.MSG_IOV, rxIov.address() + i * 16L).putLong(m + Sys.MSG_IOVLEN, 1)
            .putLong(m + Sys.MSG_CONTROL, 0).putLong(m + Sys.MSG_CONTROLLEN, 0).putInt(m + Sys.MSG_FLAGS, 0);
    }

    int rxLen(int i) {
        return rxVec.getInt(i * Sys.MMSGHDR_SIZE + Sys.MMSG_LEN_OFFSET);
    }

    boolean rxTruncated(int i) {
        return (rxVec.getInt(i * Sys.MMSGHDR_SIZE + Sys.MSG_FLAGS) & Sockets.MSG_TRUNC) != 0;
    }
}
