package io.penne.udp;

import io.penne.api.GuestDevice;
import io.penne.api.Instance;
import io.penne.api.IpFrames;
import io.penne.api.flow.Flow;
import io.penne.api.flow.FlowSide;
import io.penne.api.flow.Pif;
import io.penne.api.flow.UdpFlow;
import io.penne.linux.NativeBuffer;
import io.penne.linux.Sockets;
import io.penne.linux.Sys;
import java.nio.ByteBuffer;

/**
 * ICMP errors about datagrams penne sent from a host socket, relayed to the
 * guest (passt's {@code udp_sock_recverr}).
 *
 * <p><b>Theory of operation.</b> With {@code IP_RECVERR} the kernel queues
 * an ICMP error about a datagram the socket sent (port or host unreachable,
 * fragmentation needed, ...) on the socket's error queue and reports
 * {@code EPOLLERR}, instead of only failing the socket's next call. Reading
 * the queue ({@code MSG_ERRQUEUE}) gives the original payload and a
 * {@code sock_extended_err} with the ICMP type and code. If the guest sent
 * the datagram (the flow's other side is TAP), penne builds the error the
 * guest's own stack would have received: ICMP (or ICMPv6) from the address
 * the guest sent to, quoting an IP and UDP header rebuilt from the flow and
 * as much of the payload as fits in a minimum-MTU packet. The queue is
 * drained either way, so a level-triggered {@code EPOLLERR} does not spin;
 * what cannot be relayed is counted.
 */
final class IcmpErrors {
    /** Errors read per event at most. */
    private static final int MAX_PER_EVENT = 16;
    /** Quoted payload, so that the ICMP message stays within 576 (IPv4) or 1280 (IPv6) bytes. */
    private static final int QUOTE4 = 576 - 20 - 8 - 20 - 8;
    private static final int QUOTE6 = 1280 - 40 - 8 - 40 - 8;

    private IcmpErrors() {
    }

    /** Drains the error queue of side {@code side}'s socket of flow {@code f}, relaying to the guest where it can. */
    static void drain(UdpCtx c, Instance inst, Flow f, UdpFlow u, int side) {
        int fd = u.sock[side];
        int to = 1 - side;
        for (int n = 0; n < MAX_PER_EVENT; n++) {
            long len = read(c, fd);
            if (len < 0)
                return;
            NativeBuffer e = c.err;
            int level = e.getInt(128 + 8), type = e.getInt(128 + 12);
            boolean isErr = e.getLong(Sys.MSG_CONTROLLEN) >= 16 + 16
                && ((level == Sockets.SOL_IP && type == Sockets.IP_RECVERR_CMSG)
                || (level == Sockets.SOL_IPV6 && type == Sockets.IPV6_RECVERR_CMSG));
            int origin = e.getByte(128 + 20) & 0xff;
            GuestDevice dev = inst.device();
            if (!isErr || (origin != Sockets.SO_EE_ORIGIN_ICMP && origin != Sockets.SO_EE_ORIGIN_ICMP6)
                || f.pif(to) != Pif.TAP || dev == null) {
                c.inc(c.cIcmpDropped);
                continue;
            }
            int icmpType = e.getByte(128 + 21) & 0xff, icmpCode = e.getByte(128 + 22) & 0xff;
            int info = e.getInt(128 + 24);
            toGuest(c, dev, f.side(to), origin == Sockets.SO_EE_ORIGIN_ICMP, icmpType, icmpCode, info, (int) len);
            u.icmpErrors++;
            c.inc(c.cIcmpToGuest);
        }
    }

    /** Drains a shared listener's error queue: its errors concern peers we cannot tell the guest about. */
    static void discard(UdpCtx c, int fd) {
        for (int n = 0; n < MAX_PER_EVENT && read(c, fd) >= 0; n++)
            c.inc(c.cIcmpDropped);
    }

    /** One error queue entry into {@link UdpCtx#err}: the payload length, or {@code -errno}. */
    private static long read(UdpCtx c, int fd) {
        NativeBuffer e = c.err;
        long a = e.address();
        e.zero(0, 384);
        e.putIovec(64, a + 384, UdpCtx.ERR_DATA);
        e.putLong(Sys.MSG_IOV, a + 64).putLong(Sys.MSG_IOVLEN, 1)
            .putLong(Sys.MSG_CONTROL, a + 128).putLong(Sys.MSG_CONTROLLEN, 256);
        return Sys.recvmsg(fd, a, Sockets.MSG_ERRQUEUE | Sockets.MSG_DONTWAIT);
    }

    /**
     * The ICMP error to the guest side {@code t} (its endpoint the guest,
     * our address what the guest sent to) for a datagram whose payload,
     * {@code len} bytes, is in the error buffer.
     */
    private static void toGuest(UdpCtx c, GuestDevice dev, FlowSide t, boolean v4, int type, int code, int info, int len) {
        int quote = Math.min(len, Math.min(v4 ? QUOTE4 : QUOTE6, UdpCtx.ERR_DATA));
        int ipLen = v4 ? IpFrames.IPV4_HLEN : IpFrames.IPV6_HLEN;
        int inner = ipLen + IpFrames.UDP_HLEN + quote;
        int l4len = 8 + inner;
        int fo = dev.reserve(IpFrames.ETH_HLEN + ipLen + l4len);
        if (fo < 0)
            return;
        ByteBuffer b = dev.buffer();
        int l4 = IpFrames.ethIp(b, fo, dev.guestMac(), dev.ourMac(), v4, v4 ? 1 : 58,
            t.oaddrHi(), t.oaddrLo(), t.eaddrHi(), t.eaddrLo(), l4len);
        b.putInt(l4, (type << 24) | (code << 16)); // checksum 0 for now
        // Fragmentation needed (v4) and packet too big (v6) carry the MTU; other types leave this unused.
        boolean mtu = v4 ? type == 3 && code == 4 : type == 2;
        b.putInt(l4 + 4, mtu ? (v4 ? info & 0xffff : info) : 0);
        int ip = l4 + 8;
        int udp = IpFrames.ip(b, ip, v4, 17, t.eaddrHi(), t.eaddrLo(), t.oaddrHi(), t.oaddrLo(),
            IpFrames.UDP_HLEN + len);
        b.putShort(udp, (short) t.eport());
        b.putShort(udp + 2, (short) t.oport());
        b.putShort(udp + 4, (short) (IpFrames.UDP_HLEN + len));
        b.putShort(udp + 6, (short) 0);
        for (int i = 0; i < quote; i++)
            b.put(udp + 8 + i, c.err.getByte(384 + i));
        long acc = v4 ? 0 : IpFrames.pseudo(b, l4 - IpFrames.IPV6_HLEN, false, 58, l4len);
        b.putShort(l4 + 2, (short) IpFrames.fold(IpFrames.sum(b, l4, l4len, acc)));
        dev.send(fo, IpFrames.ETH_HLEN + ipLen + l4len);
    }
}
