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
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.IntFunction;
import java.util.function.Supplier;
import org.osgi.service.component.annotations.Component;

/**
 * The guest's view of its link: ARP replies, NDP neighbour advertisements,
 * router advertisements, and the DHCP and DHCPv6 servers, so that a guest
 * that configures itself (pasta's attached namespace without --config-net, a
 * VM) gets the host's addresses, routes, MTU and resolvers, as from pasta.
 *
 * <p><b>Theory of operation.</b> The handler takes ARP frames, NDP messages
 * and UDP to the DHCP server ports from the guest, and for each one asks a
 * responder ({@link ArpResponder}, {@link NdpResponder}, {@link
 * RouterAdvertiser}, {@link Dhcp4Responder}, {@link Dhcp6Responder}) to
 * write the answer straight into room reserved in the guest device's
 * transmit buffer; an answer is queued with {@link GuestDevice#send}, a
 * refusal is counted by its reason and the reserved room is simply not used
 * (a reservation costs nothing until it is sent). Frames go out when the
 * instance flushes at the end of the loop cycle. Nothing is allocated per
 * packet or per batch. Unsolicited router advertisements go to all nodes
 * every 200 to 600 seconds (RFC 4861 6.2.1's defaults, randomised, as
 * passt's {@code ndp_timer}), once the guest has sent a frame.
 *
 * <p>It owns no flows and no file descriptors. What it keeps per instance
 * is derived, never accumulated: the counter ids (stable for the life of the
 * instance, so {@link Counters#register} returns the same ids again), the
 * responders built from the instance's configuration, and the timer of the
 * next unsolicited advertisement. That is built in {@link #attach}, so a
 * replacement handler rebuilds exactly the same thing.
 *
 * <p>Configuration (instance properties, all optional): {@code
 * guest.address4}, {@code guest.prefix4}, {@code guest.gateway4} (what DHCP
 * hands out; the gateway is also the server's address), {@code
 * guest.address6} (whose /64 is advertised for SLAAC and which DHCPv6 hands
 * out); {@code our.address6.ll}, penne's link-local address towards the
 * guest, the source of NDP and DHCPv6 (passt's {@code our_tap_ll}); {@code
 * mtu} (default 65520, 0 = not advertised); the resolvers and search domains
 * of {@link GuestDns}; {@code hostname} (pasta's -H: DHCP option 12) and
 * {@code fqdn} (pasta's --fqdn: DHCP option 81, DHCPv6 option 39), empty
 * meaning none, as in pasta. An invalid address counts {@code
 * addrconf.config.invalid} and is treated as absent, and so does a name
 * the options cannot carry ({@link Dhcp4Responder#hostName}, {@link
 * DnsName#fqdn}): the servers then answer without it, counted once for
 * both. Switches, each pasta's option of the same name: {@code ndp} =
 * false (--no-ndp: no neighbour or router advertisements), {@code ra} =
 * false (--no-ra), {@code dhcp} = false (--no-dhcp), {@code dhcpv6} =
 * false (--no-dhcpv6). As in pasta,
 * router advertisements are also off once penne configured the namespace
 * itself ({@code ns.configured} = true): the guest already has its routes.
 * DHCP is off without an IPv4 gateway, DHCPv6 and advertisements without an
 * IPv6 address; requests then are counted as ignored, "disabled".
 */
@Component(service = ProtocolHandler.class)
public final class AddrconfHandler implements ProtocolHandler {
    static final String GUEST_ADDRESS4 = "guest.address4";
    static final String GUEST_ADDRESS6 = "guest.address6";
    static final String OUR_ADDRESS6_LL = "our.address6.ll";
    /** "false" turns the NDP responder off (pasta's --no-ndp); ARP is always answered, as in pasta. */
    static final String NDP = "ndp";
    /** The guest's host name and fully qualified name, handed out by DHCP and DHCPv6. */
    static final String HOSTNAME = "hostname", FQDN = "fqdn";
    private static final int ICMPV6 = 58;
    /** Seconds from the Unix epoch to 2000-01-01T00:00:00Z, the epoch of DHCPv6's DUID-LLT time. */
    private static final long Y2K = 946_684_800L;
    /** Bounds of the interval between unsolicited router advertisements (RFC 4861 6.2.1 defaults). */
    static final long RA_MIN_NANOS = TimeUnit.SECONDS.toNanos(200), RA_MAX_NANOS = TimeUnit.SECONDS.toNanos(600);

    /** The host's resolver configuration, read at attach (a test may point it elsewhere). */
    Path resolvConf = Path.of("/etc/resolv.conf");

    /** Per-instance derived state; written in attach, read on that instance's loop thread. */
    final Map<Instance, PerInstance> instances = new ConcurrentHashMap<>();

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
        return new int[] {PacketBatch.ARP, PacketBatch.NDP, PacketBatch.DHCP};
    }

    @Override
    public void attach(Instance instance, boolean adopting) {
        PerInstance s = new PerInstance(instance, resolvConf);
        instances.put(instance, s);
        scheduleAdvertisement(instance, s);
    }

    @Override
    public void detach(Instance instance) {
        PerInstance s = instances.remove(instance);
        if (s != null && s.raTask != 0 && instance.loop() != null)
            instance.loop().cancel(s.raTask);
    }

    private void scheduleAdvertisement(Instance instance, PerInstance s) {
        if (s.ra == null || instance.loop() == null)
            return;
        long delay = RA_MIN_NANOS + ThreadLocalRandom.current().nextLong(RA_MAX_NANOS - RA_MIN_NANOS);
        s.raTask = instance.loop().schedule(delay, () -> {
            s.raTask = 0;
            if (instances.get(instance) != s)
                return; // detached meanwhile
            unsolicitedAdvertisement(instance, s);
            scheduleAdvertisement(instance, s);
        });
    }

    /**
     * An advertisement to all nodes, once the guest has shown it is there: a
     * frame from it (the core's {@code ingress.frames} counter), so that a
     * guest whose link is down is not written to in vain.
     */
    static void unsolicitedAdvertisement(Instance instance, PerInstance s) {
        GuestDevice dev = instance.device();
        if (dev == null || instance.counters().get(s.guestFrames) == 0)
            return;
        int off = dev.reserve(s.ra.length());
        int r = s.ra.unsolicited(dev.buffer(), off, off < 0 ? 0 : s.ra.length());
        if (r > 0) {
            dev.send(off, r);
            instance.counters().inc(s.raUnsolicited);
        }
    }

    @Override
    public void event(Instance instance, int eventType, long ref, int events) {
        // no event types
    }

    @Override
    public void packets(Instance instance, PacketBatch batch) {
        PerInstance s = instances.get(instance);
        GuestDevice dev = instance.device();
        // Packets before attach should not happen: recover rather than drop. Attached before the
        // device was: the responders that speak with penne's MAC are built now that it is known.
        if (s == null || (s.mac == 0 && dev != null && dev.ourMac() != 0)) {
            if (s != null)
                detach(instance);
            attach(instance, true);
            s = instances.get(instance);
        }
        Counters counters = instance.counters();
        ByteBuffer in = batch.buffer();
        for (int i = 0, n = batch.size(); i < n; i++) {
            int type = batch.protocol(i);
            if (type == PacketBatch.ARP)
                arp(s, counters, dev, batch, in, i);
            else if (type == ICMPV6)
                ndp(s, counters, dev, batch, in, i);
            else if (batch.ipVersion(i) == 4)
                dhcp4(s, counters, dev, batch, in, i);
            else
                dhcp6(s, counters, dev, batch, in, i);
        }
    }

    private static void dhcp4(PerInstance s, Counters counters, GuestDevice dev, PacketBatch batch, ByteBuffer in,
                              int i) {
        if (dev == null) {
            counters.inc(s.dhcpNoDevice);
            return;
        }
        if (s.dhcp4 == null) {
            counters.inc(s.dhcpDisabled);
            return;
        }
        int off = dev.reserve(Dhcp4Responder.MAX_REPLY_LENGTH);
        int r = s.dhcp4.reply(in, batch.frameOffset(i), batch.l3Offset(i), batch.l4Offset(i), batch.l4Length(i),
            dev.buffer(), off, off < 0 ? 0 : Dhcp4Responder.MAX_REPLY_LENGTH, dev.ourMac());
        answered(counters, dev, off, r, s.dhcpReplied, s.dhcpIgnored);
    }

    private static void dhcp6(PerInstance s, Counters counters, GuestDevice dev, PacketBatch batch, ByteBuffer in,
                              int i) {
        if (dev == null) {
            counters.inc(s.dhcp6NoDevice);
            return;
        }
        if (s.dhcp6 == null) {
            counters.inc(s.dhcp6Disabled);
            return;
        }
        int off = dev.reserve(Dhcp6Responder.MAX_REPLY_LENGTH);
        int r = s.dhcp6.reply(in, batch.frameOffset(i), batch.l3Offset(i), batch.l4Offset(i), batch.l4Length(i),
            dev.buffer(), off, off < 0 ? 0 : Dhcp6Responder.MAX_REPLY_LENGTH);
        answered(counters, dev, off, r, s.dhcp6Replied, s.dhcp6Ignored);
    }

    private static void routerSolicitation(PerInstance s, Counters counters, GuestDevice dev, PacketBatch batch,
                                           ByteBuffer in, int i) {
        if (s.ra == null) {
            counters.inc(s.raDisabled);
            return;
        }
        int len = s.ra.length();
        int off = dev.reserve(len);
        int r = s.ra.reply(in, batch.frameOffset(i), batch.l3Offset(i), batch.l4Offset(i), batch.l4Length(i),
            dev.buffer(), off, off < 0 ? 0 : len);
        answered(counters, dev, off, r, s.raSolicited, s.raIgnored);
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
        answered(counters, dev, off, r, s.arpReplied, s.arpIgnored);
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
        if (r == NdpResponder.ROUTER_SOLICITATION)
            routerSolicitation(s, counters, dev, batch, in, i);
        else
            answered(counters, dev, off, r, s.ndpAdvertised, s.ndpIgnored);
    }

    /** Queues a responder's answer written at {@code off} and counts it, or counts its refusal by reason. */
    private static void answered(Counters counters, GuestDevice dev, int off, int r, int replied, int[] ignored) {
        if (r > 0) {
            dev.send(off, r);
            counters.inc(replied);
        } else {
            counters.inc(ignored[-r]);
        }
    }

    /** Counter ids, configured addresses and responders of one instance: all recomputable from the instance. */
    static final class PerInstance {
        final int arpReplied, arpNoDevice, ndpAdvertised, ndpNoDevice, ndpNotIpv6, ndpDisabled;
        final int raSolicited, raUnsolicited, raDisabled, guestFrames;
        final int dhcpReplied, dhcpNoDevice, dhcpDisabled, dhcp6Replied, dhcp6NoDevice, dhcp6Disabled;
        /** False with pasta's --no-ndp (instance property {@code ndp} = false): no neighbour advertisements. */
        final boolean ndpEnabled;
        final int[] arpIgnored = new int[ArpResponder.reasons()];
        final int[] ndpIgnored = new int[NdpResponder.reasons()];
        final int[] raIgnored = new int[RouterAdvertiser.reasons()];
        final int[] dhcpIgnored = new int[Dhcp4Responder.reasons()];
        final int[] dhcp6Ignored = new int[Dhcp6Responder.reasons()];
        final long guest4;
        final long guest6Hi, guest6Lo, ourLlHi, ourLlLo;
        /** Null where switched off or without the addresses they need. */
        final RouterAdvertiser ra;
        final Dhcp4Responder dhcp4;
        final Dhcp6Responder dhcp6;
        /** penne's MAC when built, 0 if the instance had no device yet. */
        final long mac;
        /** The pending unsolicited advertisement on the instance's loop, or 0. */
        long raTask;

        PerInstance(Instance instance, Path resolvConf) {
            Counters c = instance.counters();
            arpReplied = c.register("addrconf.arp.replied");
            register(c, arpIgnored, "addrconf.arp.ignored.", ArpResponder::reason);
            arpNoDevice = c.register("addrconf.arp.ignored.no-device");
            ndpAdvertised = c.register("addrconf.ndp.advertised");
            // a router solicitation is never "ignored" here: it goes to the router advertiser
            register(c, ndpIgnored, "addrconf.ndp.ignored.",
                r -> r == NdpResponder.ROUTER_SOLICITATION ? null : NdpResponder.reason(r));
            ndpNoDevice = c.register("addrconf.ndp.ignored.no-device");
            ndpNotIpv6 = c.register("addrconf.ndp.ignored.not-ipv6");
            ndpDisabled = c.register("addrconf.ndp.ignored.disabled");
            raSolicited = c.register("addrconf.ra.solicited");
            raUnsolicited = c.register("addrconf.ra.unsolicited");
            register(c, raIgnored, "addrconf.ra.ignored.", RouterAdvertiser::reason);
            raDisabled = c.register("addrconf.ra.ignored.disabled");
            guestFrames = c.register("ingress.frames"); // the core's: frames read from the guest
            dhcpReplied = c.register("addrconf.dhcp.replied");
            register(c, dhcpIgnored, "addrconf.dhcp.ignored.", Dhcp4Responder::reason);
            dhcpNoDevice = c.register("addrconf.dhcp.ignored.no-device");
            dhcpDisabled = c.register("addrconf.dhcp.ignored.disabled");
            dhcp6Replied = c.register("addrconf.dhcpv6.replied");
            register(c, dhcp6Ignored, "addrconf.dhcpv6.ignored.", Dhcp6Responder::reason);
            dhcp6NoDevice = c.register("addrconf.dhcpv6.ignored.no-device");
            dhcp6Disabled = c.register("addrconf.dhcpv6.ignored.disabled");
            int invalid = c.register("addrconf.config.invalid");

            Map<String, Object> p = instance.properties();
            if (p == null)
                p = Map.of();
            ndpEnabled = !off(p, NDP);
            Object v4 = p.get(GUEST_ADDRESS4);
            long g4 = parse4(v4);
            if (v4 != null && g4 == ArpResponder.UNKNOWN)
                c.inc(invalid);
            guest4 = g4;
            long[] a = parse6(p.get(GUEST_ADDRESS6), c, invalid);
            guest6Hi = a[0];
            guest6Lo = a[1];
            a = parse6(p.get(OUR_ADDRESS6_LL), c, invalid);
            if (a[0] != 0 && (a[0] >>> 48) != 0xfe80) { // not link-local: unusable as the NA source
                c.inc(invalid);
                a[0] = a[1] = 0;
            }
            ourLlHi = a[0];
            ourLlLo = a[1];
            long gw4 = parse4(p.get("guest.gateway4"));
            int prefix4 = number(p.get("guest.prefix4"), 1, 32, 24, c, invalid);
            int mtu = number(p.get("mtu"), 0, 65520, 65520, c, invalid);
            String hostname = name(p.get(HOSTNAME), Dhcp4Responder::hostName, c, invalid);
            String fqdn = name(p.get(FQDN), DnsName::fqdn, c, invalid);

            boolean wantRa = ndpEnabled && !off(p, "ra") && !"true".equals(String.valueOf(p.get("ns.configured")));
            boolean wantDhcp = !off(p, "dhcp") && guest4 != ArpResponder.UNKNOWN && gw4 != ArpResponder.UNKNOWN
                && gw4 != 0;
            boolean wantDhcp6 = !off(p, "dhcpv6") && (guest6Hi | guest6Lo) != 0 && (ourLlHi | ourLlLo) != 0;
            GuestDns dns = wantRa || wantDhcp || wantDhcp6 ? GuestDns.of(p, resolvConf) : null;
            mac = instance.device() != null ? instance.device().ourMac() : 0;
            ra = wantRa && guest6Hi != 0 && (ourLlHi | ourLlLo) != 0 && mac != 0 ? build(c, invalid,
                () -> new RouterAdvertiser(mac, ourLlHi, ourLlLo, guest6Hi, mtu, dns.v6(), dns.search())) : null;
            dhcp4 = wantDhcp ? build(c, invalid,
                () -> new Dhcp4Responder((int) guest4, prefix4, (int) gw4, mtu, dns.v4(), dns.search(), hostname,
                    fqdn)) : null;
            int duidTime = (int) (System.currentTimeMillis() / 1000 - Y2K);
            dhcp6 = wantDhcp6 && mac != 0 ? build(c, invalid, () -> new Dhcp6Responder(mac, duidTime, guest6Hi,
                guest6Lo, ourLlHi, ourLlLo, dns.v6(), dns.search(), fqdn)) : null;
        }

        /** A responder, or null (counted as invalid configuration) if the configuration cannot make one. */
        private static <T> T build(Counters c, int invalid, Supplier<T> responder) {
            try {
                return responder.get();
            } catch (IllegalArgumentException e) {
                c.inc(invalid);
                return null;
            }
        }

        private static void register(Counters c, int[] ids, String prefix, IntFunction<String> reason) {
            for (int r = 1; r < ids.length; r++) {
                String name = reason.apply(-r);
                if (name != null)
                    ids[r] = c.register(prefix + name);
            }
        }

        private static boolean off(Map<String, Object> p, String key) {
            return "false".equals(String.valueOf(p.get(key)));
        }

        /**
         * A configured name, or null if absent or empty (pasta's {@code -H ""}
         * configures none) or if {@code encode} refuses it, counted then: the
         * name is checked here, once, so that one bad name is one count and
         * the servers are still built, without it.
         */
        private static String name(Object v, Function<String, byte[]> encode, Counters c, int invalid) {
            String s = v == null ? "" : v.toString();
            if (s.isEmpty())
                return null;
            if (encode.apply(s) != null)
                return s;
            c.inc(invalid);
            return null;
        }

        private static int number(Object v, int min, int max, int dflt, Counters c, int invalid) {
            if (v == null)
                return dflt;
            try {
                int n = Integer.parseInt(v.toString().trim());
                if (n >= min && n <= max)
                    return n;
            } catch (NumberFormatException e) {
                // counted below
            }
            c.inc(invalid);
            return dflt;
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
