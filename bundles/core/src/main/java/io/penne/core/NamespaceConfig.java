package io.penne.core;

import io.penne.api.flow.InetAddr;
import java.util.Map;

/**
 * The namespace-mode properties of an instance configuration, checked once.
 * Names follow pasta's options: {@code netns} ({@code "new"}: create one for
 * a command; a path: join it, as {@code --netns}), {@code ns.ifname} (-I),
 * {@code mtu} (-m), {@code ns.configure} (--config-net; default true for a
 * new namespace), {@code ipv4}/{@code ipv6} (-4/-6 turn the other off),
 * {@code address4}/{@code prefix4}/{@code gateway4}, {@code address6}/
 * {@code gateway6} (-a, -n, -g), {@code ns.mac} (--ns-mac-addr), {@code mac}
 * (-M: penne's own MAC towards the guest, default 9a:55:9a:55:9a:55),
 * {@code host.ifname} (-i: the host interface whose addresses and routes
 * are the template, instead of that of the default route; else {@code
 * outbound.if4}/{@code outbound.if6}, --outbound-if4/6, per IP version), {@code ns.tap}
 * ({@code false} with --splice-only: no tap device, loopback forwarding only),
 * {@code ns.copy_addrs}/{@code ns.copy_routes} ({@code false} with pasta's
 * --no-copy-addrs/--no-copy-routes: one address, only the default route),
 * {@code map.host_loopback4/6} (--map-host-loopback, --no-map-gw: an address
 * or {@code none}; read by the handlers, checked here). A bad value
 * is refused with a message naming the property.
 */
record NamespaceConfig(String netns, String ifname, int mtu, boolean configure, boolean ipv4, boolean ipv6,
                       byte[] address4, int prefix4, byte[] gateway4, byte[] address6, int prefix6,
                       byte[] gateway6, byte[] mac, String hostIfname4, String hostIfname6, boolean tap,
                       boolean copyAddrs, boolean copyRoutes) {
    static final int DEFAULT_MTU = 65520;

    /** Null when the configuration asks for no namespace (no {@code netns} property). */
    static NamespaceConfig from(Map<String, Object> p) {
        String netns = str(p, "netns");
        if (netns == null || netns.isEmpty())
            return null;
        boolean isNew = netns.equals("new");
        String ifname = ifname(p, "ns.ifname");
        String hostIfname = ifname(p, "host.ifname");
        String outIf4 = ifname(p, "outbound.if4"), outIf6 = ifname(p, "outbound.if6");
        int mtu = integer(p, "mtu", DEFAULT_MTU);
        if (mtu != 0 && (mtu < 68 || mtu > 65520))
            throw bad("mtu", String.valueOf(mtu), "68 to 65520");
        boolean ipv4 = bool(p, "ipv4", true);
        boolean ipv6 = bool(p, "ipv6", true);
        if (!ipv4 && !ipv6)
            throw new IllegalArgumentException("io.penne.instance: 'ipv4' and 'ipv6' are both off");
        byte[] a4 = addr(p, "address4", 4);
        int prefix4 = integer(p, "prefix4", -1);
        if (prefix4 != -1 && (prefix4 < 1 || prefix4 > 32))
            throw bad("prefix4", String.valueOf(prefix4), "1 to 32");
        byte[] a6 = addr(p, "address6", 16);
        int prefix6 = integer(p, "prefix6", -1);
        if (prefix6 != -1 && (prefix6 < 1 || prefix6 > 128))
            throw bad("prefix6", String.valueOf(prefix6), "1 to 128");
        byte[] mac = mac(p, "ns.mac");
        mac(p, "mac"); // penne's own (-M), read by the instance's tap; checked here, once, by name
        for (String v : new String[] {"4", "6"}) { // used by handlers; checked here, once, by name
            String key = "map.host_loopback" + v;
            String map = str(p, key);
            if (map != null && !map.equals("none"))
                addr(p, key, v.equals("4") ? 4 : 16);
        }
        return new NamespaceConfig(netns, ifname, mtu, bool(p, "ns.configure", isNew), ipv4, ipv6,
            a4, prefix4, addr(p, "gateway4", 4), a6, prefix6, addr(p, "gateway6", 16), mac,
            hostIfname != null ? hostIfname : outIf4, hostIfname != null ? hostIfname : outIf6, bool(p, "ns.tap", true),
            bool(p, "ns.copy_addrs", true), bool(p, "ns.copy_routes", true));
    }

    /** A unicast MAC address property as bytes, or null if absent. */
    private static byte[] mac(Map<String, Object> p, String key) {
        String m = str(p, key);
        if (m == null)
            return null;
        if (!m.matches("(?i)[0-9a-f]{2}(:[0-9a-f]{2}){5}"))
            throw bad(key, m, "a MAC address like 9a:55:9a:55:9a:56");
        byte[] mac = new byte[6];
        for (int i = 0; i < 6; i++)
            mac[i] = (byte) Integer.parseInt(m.substring(i * 3, i * 3 + 2), 16);
        if ((mac[0] & 1) != 0)
            throw bad(key, m, "a unicast MAC address");
        return mac;
    }

    private static String ifname(Map<String, Object> p, String key) {
        String n = str(p, key);
        if (n != null && (n.isEmpty() || n.length() > 15 || n.contains("/") || n.contains(" ")))
            throw bad(key, n, "an interface name of 1 to 15 characters");
        return n;
    }

    boolean isNew() {
        return netns.equals("new");
    }

    private static String str(Map<String, Object> p, String key) {
        Object v = p.get(key);
        return v == null ? null : v.toString().trim();
    }

    private static int integer(Map<String, Object> p, String key, int dflt) {
        String s = str(p, key);
        if (s == null || s.isEmpty())
            return dflt;
        try {
            return Integer.parseInt(s);
        } catch (NumberFormatException e) {
            throw bad(key, s, "a number");
        }
    }

    private static boolean bool(Map<String, Object> p, String key, boolean dflt) {
        String s = str(p, key);
        if (s == null || s.isEmpty())
            return dflt;
        if (s.equalsIgnoreCase("true"))
            return true;
        if (s.equalsIgnoreCase("false"))
            return false;
        throw bad(key, s, "true or false");
    }

    private static byte[] addr(Map<String, Object> p, String key, int len) {
        String s = str(p, key);
        if (s == null || s.isEmpty())
            return null;
        long[] a;
        try {
            a = InetAddr.parse(s);
        } catch (IllegalArgumentException e) {
            throw bad(key, s, len == 4 ? "an IPv4 address" : "an IPv6 address");
        }
        boolean v4 = InetAddr.isV4(a[0], a[1]);
        if (v4 != (len == 4))
            throw bad(key, s, len == 4 ? "an IPv4 address" : "an IPv6 address");
        byte[] out = new byte[len];
        if (v4) {
            int x = InetAddr.v4(a[1]);
            for (int i = 0; i < 4; i++)
                out[i] = (byte) (x >>> (24 - 8 * i));
        } else {
            for (int i = 0; i < 8; i++) {
                out[i] = (byte) (a[0] >>> (56 - 8 * i));
                out[8 + i] = (byte) (a[1] >>> (56 - 8 * i));
            }
        }
        return out;
    }

    static IllegalArgumentException bad(String key, String value, String expected) {
        return new IllegalArgumentException("io.penne.instance: bad value for '" + key + "': '" + value
            + "' (expected " + expected + ")");
    }
}
