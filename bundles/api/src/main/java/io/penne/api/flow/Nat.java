package io.penne.api.flow;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The address translation between the guest's view and the host's, shared by
 * every protocol handler (passt's {@code fwd.c}: {@code nat_outbound},
 * {@code fwd_nat_from_tap}, {@code nat_inbound}).
 *
 * <p><b>Theory of operation.</b> The guest has the host's own address, so it
 * cannot name the host by it; a few addresses stand in for the host instead,
 * each configured by an instance property:
 * <ul>
 * <li>{@code map.host_loopback4/6} (--map-host-loopback, default the guest's
 * gateway, {@code none} after --no-map-gw): means the host's loopback
 * (127.0.0.1, ::1);</li>
 * <li>{@code map.guest_addr4/6} (--map-guest-addr, default none): means the
 * host's address that the guest itself carries ({@code guest.address4/6});</li>
 * <li>{@code dns.match4/6} (--dns-forward): for UDP and TCP to port 53 or
 * 853 only, means the host's resolver, {@code dns.host4/6} (--dns-host,
 * default the first nameserver of the host's {@code /etc/resolv.conf}).
 * If the host's resolver is on loopback and no --dns-forward was given, the
 * host-loopback address becomes the match, as pasta does.</li>
 * </ul>
 * Outbound (guest to host) the destination is translated with these;
 * inbound (a host peer towards the guest) the peer's address is the reverse:
 * 127.0.0.1 and ::1 become the host-loopback address, the guest's own
 * address becomes the guest-address mapping, other addresses the guest
 * could not answer (loopback, unspecified, its own) become the gateway.
 *
 * <p>Pure logic, no I/O after construction; results of the data-path
 * methods are left in {@link #hi}/{@link #lo}, so nothing allocates. One
 * object per handler and instance, loop thread only.
 */
public final class Nat {
    /** Translated address written by {@link #outbound} and {@link #inbound}. */
    public long hi, lo;

    private final Addr hostLoopback4, hostLoopback6, guestAddrMap4, guestAddrMap6;
    private final Addr dnsMatch4, dnsMatch6, dnsHost4, dnsHost6, dnsForward4, dnsForward6;
    private final Addr guest4, guest6, gateway4, gateway6;
    /** The host interface IPv6 flows use ({@code host.ifindex6}), the scope of link-local destinations; 0 if unknown. */
    private final int scope6;

    /** An optional address as primitives. */
    private record Addr(boolean set, long hi, long lo) {
        static final Addr NONE = new Addr(false, 0, 0);

        boolean is(long h, long l) {
            return set && hi == h && lo == l;
        }

        static Addr of(long[] a) {
            return a == null ? NONE : new Addr(true, a[0], a[1]);
        }

        @Override
        public String toString() {
            return set ? InetAddr.format(hi, lo) : "none";
        }
    }

    private Nat(Map<String, Object> p, List<String> hostResolvers) {
        guest4 = Addr.of(family(InetAddr.property(p, "guest.address4"), true));
        guest6 = Addr.of(family(InetAddr.property(p, "guest.address6"), false));
        gateway4 = Addr.of(family(InetAddr.property(p, "guest.gateway4"), true));
        gateway6 = Addr.of(family(InetAddr.property(p, "guest.gateway6"), false));
        int ifi = 0;
        try {
            Object v = p.get("host.ifindex6");
            ifi = v == null ? 0 : Math.max(0, Integer.parseInt(v.toString()));
        } catch (NumberFormatException e) {
            // unknown: link-local destinations stay unreachable, as without it
        }
        scope6 = ifi;
        hostLoopback4 = mapping(p, "map.host_loopback4", gateway4, true);
        hostLoopback6 = mapping(p, "map.host_loopback6", gateway6, false);
        guestAddrMap4 = mapping(p, "map.guest_addr4", Addr.NONE, true);
        guestAddrMap6 = mapping(p, "map.guest_addr6", Addr.NONE, false);
        Addr h4 = Addr.of(family(InetAddr.property(p, "dns.host4"), true));
        Addr h6 = Addr.of(family(InetAddr.property(p, "dns.host6"), false));
        for (String r : hostResolvers) {
            long[] a;
            try {
                a = InetAddr.parse(r);
            } catch (IllegalArgumentException e) {
                continue;
            }
            if (InetAddr.isV4(a[0], a[1]) && !h4.set)
                h4 = Addr.of(a);
            else if (!InetAddr.isV4(a[0], a[1]) && !h6.set)
                h6 = Addr.of(a);
        }
        dnsHost4 = h4;
        dnsHost6 = h6;
        Addr m4 = Addr.of(family(InetAddr.property(p, "dns.match4"), true));
        Addr m6 = Addr.of(family(InetAddr.property(p, "dns.match6"), false));
        dnsForward4 = m4;
        dnsForward6 = m6;
        // pasta: a resolver the guest cannot reach (host loopback) is reached through the host-loopback address.
        if (!m4.set && h4.set && (isLoopback(h4.hi, h4.lo) || hostLoopback4.is(h4.hi, h4.lo)))
            m4 = hostLoopback4;
        if (!m6.set && h6.set && (isLoopback(h6.hi, h6.lo) || hostLoopback6.is(h6.hi, h6.lo)))
            m6 = hostLoopback6;
        dnsMatch4 = h4.set ? m4 : Addr.NONE;
        dnsMatch6 = h6.set ? m6 : Addr.NONE;
    }

    /** The translation for an instance's properties, with the host resolvers from {@code /etc/resolv.conf}. */
    public static Nat of(Map<String, Object> properties) {
        return of(properties, readResolvConf(Path.of("/etc/resolv.conf")));
    }

    /** As {@link #of(Map)}, with the host's resolvers given (for tests). */
    public static Nat of(Map<String, Object> properties, List<String> hostResolvers) {
        return new Nat(properties, hostResolvers);
    }

    /**
     * The scope (interface index) a host socket needs to reach (hi, lo): a
     * link-local address is ambiguous without one (connect() says EINVAL),
     * and the guest's link-local destinations mean the host's link, that of
     * its IPv6 upstream interface, as passt scopes them ({@code c->ifi6}).
     * 0 for every other address.
     */
    public int scope(long hi, long lo) {
        return InetAddr.isLinkLocal6(hi, lo) ? scope6 : 0;
    }

    /** The {@code nameserver} addresses of a resolv.conf file, in order (zone suffixes cut); empty if unreadable. */
    public static List<String> readResolvConf(Path file) {
        try {
            return nameservers(Files.readAllLines(file));
        } catch (IOException | RuntimeException e) {
            return List.of(); // no resolver known: DNS forwarding stays off, as pasta without a nameserver
        }
    }

    /** The {@code nameserver} addresses among resolv.conf lines, in order, zone suffixes ({@code %eth0}) cut. */
    public static List<String> nameservers(List<String> resolvConfLines) {
        List<String> out = new ArrayList<>();
        for (String line : resolvConfLines) {
            String[] w = line.trim().split("\\s+");
            if (w.length >= 2 && w[0].equals("nameserver")) {
                String a = w[1];
                int pct = a.indexOf('%');
                out.add(pct >= 0 ? a.substring(0, pct) : a);
            }
        }
        return out;
    }

    /**
     * Guest to host: the address a host socket must reach for a guest packet
     * to {@code (dHi, dLo)} port {@code dport} of IP protocol {@code proto};
     * left in {@link #hi}/{@link #lo}.
     */
    public void outbound(int proto, long dHi, long dLo, int dport) {
        boolean dns = (proto == 6 || proto == 17) && (dport == 53 || dport == 853);
        if (dns && dnsMatch4.is(dHi, dLo)) {
            set(dnsHost4);
        } else if (dns && dnsMatch6.is(dHi, dLo)) {
            set(dnsHost6);
        } else if (hostLoopback4.is(dHi, dLo)) {
            hi = InetAddr.V4_HI;
            lo = InetAddr.v4Lo(0x7f00_0001);
        } else if (hostLoopback6.is(dHi, dLo)) {
            hi = 0;
            lo = 1;
        } else if (guestAddrMap4.is(dHi, dLo) && guest4.set) {
            set(guest4);
        } else if (guestAddrMap6.is(dHi, dLo) && guest6.set) {
            set(guest6);
        } else {
            hi = dHi;
            lo = dLo;
        }
    }

    /**
     * Host to guest: the source address the guest sees for a host peer at
     * {@code (eHi, eLo)}, left in {@link #hi}/{@link #lo}; false if the guest
     * could not answer it and no stand-in exists.
     */
    public boolean inbound(long eHi, long eLo) {
        boolean v4 = InetAddr.isV4(eHi, eLo);
        if (v4 && InetAddr.v4(eLo) == 0x7f00_0001 && hostLoopback4.set) {
            set(hostLoopback4);
        } else if (!v4 && eHi == 0 && eLo == 1 && hostLoopback6.set) {
            set(hostLoopback6);
        } else if (guestAddrMap4.set && guest4.is(eHi, eLo)) {
            set(guestAddrMap4);
        } else if (guestAddrMap6.set && guest6.is(eHi, eLo)) {
            set(guestAddrMap6);
        } else if (reachable(v4, eHi, eLo)) {
            hi = eHi;
            lo = eLo;
        } else {
            Addr g = v4 ? gateway4 : gateway6;
            if (!g.set)
                return false;
            set(g);
        }
        return true;
    }

    /** Whether the guest can use {@code (hi, lo)} as a peer address as it is. */
    private boolean reachable(boolean v4, long h, long l) {
        if (isLoopback(h, l) || (h | (v4 ? InetAddr.v4(l) : l)) == 0)
            return false;
        if ((v4 ? guest4 : guest6).is(h, l))
            return false;
        if (v4) {
            int top = InetAddr.v4(l) >>> 24;
            return top < 224;
        }
        return (h >>> 56) != 0xff && (h >>> 54) != (0xfe80L >>> 6);
    }

    /**
     * The address the guest is told to use for a host resolver at {@code
     * (h, l)} (by DHCP, DHCPv6 and router advertisements), as pasta picks it
     * ({@code conf.c}, {@code add_dns_resolv4/6}): a resolver the guest could
     * not reach under its own address (on the host's loopback, or at the
     * address that stands for the host's loopback) is advertised as the
     * --dns-forward address if there is one, else as the host-loopback
     * stand-in, and {@link #outbound} takes the guest's queries there back to
     * the host's resolver; null if there is no such address.
     */
    public long[] guestResolver(long h, long l) {
        boolean v4 = InetAddr.isV4(h, l);
        Addr loop = v4 ? hostLoopback4 : hostLoopback6, fwd = v4 ? dnsForward4 : dnsForward6;
        if (!isLoopback(h, l) && !loop.is(h, l))
            return new long[] {h, l};
        Addr a = fwd.set ? fwd : loop;
        return a.set ? new long[] {a.hi, a.lo} : null;
    }

    /** Whether the address stands for the host's resolver on this protocol and port (DNS forwarding). */
    public boolean isDnsMatch(int proto, long h, long l, int port) {
        return (proto == 6 || proto == 17) && (port == 53 || port == 853) && (dnsMatch4.is(h, l) || dnsMatch6.is(h, l));
    }

    private void set(Addr a) {
        hi = a.hi;
        lo = a.lo;
    }

    private static boolean isLoopback(long h, long l) {
        return InetAddr.isLoopback(h, l);
    }

    private static Addr mapping(Map<String, Object> p, String key, Addr dflt, boolean v4) {
        Object m = p.get(key);
        if (m == null)
            return dflt;
        if ("none".equals(m.toString().trim()))
            return Addr.NONE;
        return Addr.of(family(InetAddr.property(p, key), v4));
    }

    /** Whether the guest has an address of the family ({@code guest.address4} or {@code guest.address6}). */
    public boolean hasGuest(boolean v4) {
        return (v4 ? guest4 : guest6).set;
    }

    /** High half of the guest's address of the family, 0 if it has none. */
    public long guestHi(boolean v4) {
        return (v4 ? guest4 : guest6).hi;
    }

    /** Low half of the guest's address of the family, 0 if it has none. */
    public long guestLo(boolean v4) {
        return (v4 ? guest4 : guest6).lo;
    }

    private static long[] family(long[] a, boolean v4) {
        return a != null && InetAddr.isV4(a[0], a[1]) == v4 ? a : null;
    }

    /** The configuration, for logs and {@code penne:stats}. */
    @Override
    public String toString() {
        return "host-loopback " + hostLoopback4 + " " + hostLoopback6 + ", guest-addr " + guestAddrMap4 + " "
            + guestAddrMap6 + ", dns " + dnsMatch4 + "->" + dnsHost4 + " " + dnsMatch6 + "->" + dnsHost6;
    }
}
