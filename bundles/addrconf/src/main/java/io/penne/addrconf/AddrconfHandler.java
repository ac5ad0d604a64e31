package io.penne.addrconf;

import io.penne.api.Counters;
import io.penne.api.GuestDevice;
import io.penne.api.Instance;
import io.penne.api.PacketBatch;
import io.penne.api.ProtocolHandler;
import io.penne.api.flow.FlowType;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.osgi.service.component.annotations.Component;

/**
 * The guest's view of its link: ARP replies and NDP neighbour advertisements
 * (router advertisements, DHCP and DHCPv6 come later).
 *
 * <p><b>Theory of operation.</b> The handler takes ARP frames and ICMPv6
 * packets from the guest, and for each one asks the pure
 * {@link ArpResponder} or {@link NdpResponder} to write the answer straight
 * into room reserved in the guest device's transmit buffer; an answer is
 * queued with {@link GuestDevice#send}, a refusal is counted by its reason
 * and the reserved room is simply not used (a reservation costs nothing
 * until it is sent). Frames go out when the instance flushes at the end of
 * the loop cycle. Nothing is allocated per packet or per batch.
 *
 * <p>It owns no flows and no file descriptors. What it keeps per instance
 * is derived, never accumulated: the counter ids (stable for the life of the
 * instance, so {@link Counters#register} returns the same ids again) and the
 * addresses parsed from the instance's configuration. That is computed in
 * {@link #attach}, so a replacement handler rebuilds exactly the same thing.
 *
 * <p>Configuration (instance properties, all optional): {@code
 * guest.address4} and {@code guest.address6}, the guest's addresses, whose
 * resolution is never answered; {@code our.address6.ll}, penne's link-local
 * address towards the guest, the source of advertisements (passt's {@code
 * our_tap_ll}; without it the solicited target is the source). An invalid
 * value counts {@code addrconf.config.invalid} and is treated as absent.
 * {@code ndp} = {@code false} (pasta's {@code --no-ndp}) leaves neighbour
 * solicitations unanswered, counted as {@code addrconf.ndp.ignored.disabled}.
 *
 * <p><b>ICMPv6.</b> Packet type 58 brings all ICMPv6 here, echo requests
 * included; until the core routes NDP types separately, anything that is
 * not NDP is counted as {@code addrconf.ndp.ignored.not-ndp}.
 */
@Component(service = ProtocolHandler.class)
public final class AddrconfHandler implements ProtocolHandler {
    static final String GUEST_ADDRESS4 = "guest.address4";
    static final String GUEST_ADDRESS6 = "guest.address6";
    static final String OUR_ADDRESS6_LL = "our.address6.ll";
    /** "false" turns the NDP responder off (pasta's --no-ndp); ARP is always answered, as in pasta. */
    static final String NDP = "ndp";
    private static final int ICMPV6 = 58;

    /** Per-instance derived state; written in attach, read on that instance's loop thread. */
    private final Map<Instance, PerInstance> instances = new ConcurrentHashMap<>();

    @Override
    public String name() {
        return "addrconf";
    }

    @Override
    public Set<String> eventTypes() {
        return Set.of();
    }

    @Override
    public Set<FlowType> flowTypes() {
        return Set.of();
    }

    @Override
    public int[] packetTypes() {
        return new int[] {PacketBatch.ARP, PacketBatch.NDP};
    }

    @Override
    public void attach(Instance instance, boolean adopting) {
        instances.put(instance, new PerInstance(instance));
    }

    @Override
    public void detach(Instance instance) {
        instances.remove(instance);
    }

    @Override
    public void event(Instance instance, int eventType, long ref, int events) {
        // no event types
    }

    @Override
    public void packets(Instance instance, PacketBatch batch) {
        PerInstance s = instances.get(instance);
        if (s == null) { // packets before attach should not happen; recover rather than drop
            s = new PerInstance(instance);
            instances.put(instance, s);
        }
        Counters counters = instance.counters();
        GuestDevice dev = instance.device();
        ByteBuffer in = batch.buffer();
        for (int i = 0, n = batch.size(); i < n; i++) {
            int type = batch.protocol(i);
            if (type == PacketBatch.ARP)
                arp(s, counters, dev, batch, in, i);
            else if (type == ICMPV6)
                ndp(s, counters, dev, batch, in, i);
        }
    }

    private static void arp(PerInstance s, Counters counters, GuestDevice dev, PacketBatch batch, ByteBuffer in,
                            int i) {
        if (dev == null) {
            counters.inc(s.arpNoDevice);
            return;
        }
        int off = dev.reserve(ArpResponder.REPLY_LENGTH);
        int frame = batch.frameOffset(i);
        int r = ArpResponder.reply(in, frame, batch.l3Offset(i), frame + batch.frameLength(i), dev.buffer(), off,
            off < 0 ? 0 : ArpResponder.REPLY_LENGTH, dev.ourMac(), s.guest4);
        if (r > 0) {
            dev.send(off, r);
            counters.inc(s.arpReplied);
        } else {
            counters.inc(s.arpIgnored[-r]);
        }
    }

    private static void ndp(PerInstance s, Counters counters, GuestDevice dev, PacketBatch batch, ByteBuffer in,
                            int i) {
        if (batch.ipVersion(i) != 6) { // IPv4 with protocol number 58: not ICMPv6 at all
            counters.inc(s.ndpNotIpv6);
            return;
        }
        if (dev == null) {
            counters.inc(s.ndpNoDevice);
            return;
        }
        if (!s.ndpEnabled) {
            counters.inc(s.ndpDisabled);
            return;
        }
        int off = dev.reserve(NdpResponder.REPLY_LENGTH);
        int r = NdpResponder.reply(in, batch.frameOffset(i), batch.l3Offset(i), batch.l4Offset(i),
            batch.l4Length(i), dev.buffer(), off, off < 0 ? 0 : NdpResponder.REPLY_LENGTH, dev.ourMac(),
            s.ourLlHi, s.ourLlLo, s.guest6Hi, s.guest6Lo);
        if (r > 0) {
            dev.send(off, r);
            counters.inc(s.ndpAdvertised);
        } else {
            counters.inc(s.ndpIgnored[-r]);
        }
    }

    /** Counter ids and configured addresses of one instance: all recomputable from the instance. */
    static final class PerInstance {
        final int arpReplied, arpNoDevice, ndpAdvertised, ndpNoDevice, ndpNotIpv6, ndpDisabled;
        /** False with pasta's --no-ndp (instance property {@code ndp} = false): no neighbour advertisements. */
        final boolean ndpEnabled;
        final int[] arpIgnored = new int[ArpResponder.reasons()];
        final int[] ndpIgnored = new int[NdpResponder.reasons()];
        final long guest4;
        final long guest6Hi, guest6Lo, ourLlHi, ourLlLo;

        PerInstance(Instance instance) {
            Counters c = instance.counters();
            arpReplied = c.register("addrconf.arp.replied");
            for (int r = 1; r < arpIgnored.length; r++)
                arpIgnored[r] = c.register("addrconf.arp.ignored." + ArpResponder.reason(-r));
            arpNoDevice = c.register("addrconf.arp.ignored.no-device");
            ndpAdvertised = c.register("addrconf.ndp.advertised");
            for (int r = 1; r < ndpIgnored.length; r++)
                ndpIgnored[r] = c.register("addrconf.ndp.ignored." + NdpResponder.reason(-r));
            ndpNoDevice = c.register("addrconf.ndp.ignored.no-device");
            ndpNotIpv6 = c.register("addrconf.ndp.ignored.not-ipv6");
            ndpDisabled = c.register("addrconf.ndp.ignored.disabled");
            int invalid = c.register("addrconf.config.invalid");

            Map<String, Object> p = instance.properties();
            ndpEnabled = p == null || !"false".equals(String.valueOf(p.get(NDP)));
            Object v4 = p == null ? null : p.get(GUEST_ADDRESS4);
            long g4 = parse4(v4);
            if (v4 != null && g4 == ArpResponder.UNKNOWN)
                c.inc(invalid);
            guest4 = g4;
            long[] a = parse6(p == null ? null : p.get(GUEST_ADDRESS6), c, invalid);
            guest6Hi = a[0];
            guest6Lo = a[1];
            a = parse6(p == null ? null : p.get(OUR_ADDRESS6_LL), c, invalid);
            if (a[0] != 0 && (a[0] >>> 48) != 0xfe80) { // not link-local: unusable as the NA source
                c.inc(invalid);
                a[0] = a[1] = 0;
            }
            ourLlHi = a[0];
            ourLlLo = a[1];
        }
    }

    /** A dotted-quad IPv4 literal as an unsigned 32-bit value, or {@link ArpResponder#UNKNOWN}. */
    static long parse4(Object value) {
        if (!(value instanceof String))
            return ArpResponder.UNKNOWN;
        String s = ((String) value).trim();
        long addr = 0;
        int parts = 0, i = 0, n = s.length();
        while (i < n && parts < 4) {
            int start = i, octet = 0;
            while (i < n && i - start < 3 && s.charAt(i) >= '0' && s.charAt(i) <= '9')
                octet = octet * 10 + (s.charAt(i++) - '0');
            if (i == start || octet > 255)
                return ArpResponder.UNKNOWN;
            addr = addr << 8 | octet;
            parts++;
            if (parts < 4) {
                if (i >= n || s.charAt(i) != '.')
                    return ArpResponder.UNKNOWN;
                i++;
            }
        }
        return parts == 4 && i == n ? addr : ArpResponder.UNKNOWN;
    }

    /**
     * An IPv6 literal as {high, low}, or {0, 0} (unknown) if absent or not
     * an IPv6 literal, counting {@code invalid} in the latter case. Only
     * strings with a colon reach {@link InetAddress#getByName}, which parses
     * those as literals and never resolves them as host names.
     */
    static long[] parse6(Object value, Counters c, int invalid) {
        long[] a = new long[2];
        if (value == null)
            return a;
        if (value instanceof String && ((String) value).indexOf(':') >= 0) {
            try {
                InetAddress addr = InetAddress.getByName(((String) value).trim());
                if (addr instanceof Inet6Address) {
                    ByteBuffer b = ByteBuffer.wrap(addr.getAddress());
                    a[0] = b.getLong(0);
                    a[1] = b.getLong(8);
                    return a;
                }
            } catch (UnknownHostException e) {
                // fall through: invalid
            }
        }
        c.inc(invalid);
        return a;
    }
}
