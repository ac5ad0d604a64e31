package io.penne.launcher;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The command line, parsed the way pasta parses it (getopt_long with
 * {@code +}: options stop at the first non-option, {@code --} ends them,
 * short options cluster, {@code -cPATH}, {@code --opt=value} and
 * {@code --opt value} all work, and a unique prefix of a long option is
 * accepted as getopt_long does).
 *
 * <p>Every option of pasta's is known here. Those penne implements are
 * parsed into fields; the rest are refused by name with a message saying
 * they are not supported yet, so a tool written for pasta never has an
 * option silently ignored.
 */
final class Options {

    /** An option as pasta spells it: long name, short letter (0 if none), takes an argument. */
    private record Spec(String name, char shortName, boolean hasArg, boolean implemented) {
    }

    private static final Map<String, Spec> LONG = new LinkedHashMap<>();
    private static final Map<Character, Spec> SHORT = new LinkedHashMap<>();

    private static void spec(String name, char shortName, boolean hasArg, boolean implemented) {
        Spec s = new Spec(name, shortName, hasArg, implemented);
        LONG.put(name, s);
        if (shortName != 0)
            SHORT.put(shortName, s);
    }

    static {
        // Implemented.
        spec("debug", 'd', false, true);
        spec("quiet", 'q', false, true);
        spec("foreground", 'f', false, true);
        spec("stderr", 'e', false, true);
        spec("log-file", 'l', true, true);
        spec("log-size", (char) 0, true, true);
        spec("help", 'h', false, true);
        spec("version", (char) 0, false, true);
        spec("trace", (char) 0, false, true);
        spec("pid", 'P', true, true);
        spec("conf-path", 'c', true, true);
        spec("ns-ifname", 'I', true, true);
        spec("mtu", 'm', true, true);
        spec("address", 'a', true, true);
        spec("netmask", 'n', true, true);
        spec("gateway", 'g', true, true);
        spec("netns", (char) 0, true, true);
        spec("ns-mac-addr", (char) 0, true, true);
        spec("config-net", (char) 0, false, true);
        spec("no-netns-quit", (char) 0, false, true);
        spec("map-host-loopback", (char) 0, true, true);
        spec("no-map-gw", (char) 0, false, true);
        spec("ipv4-only", '4', false, true);
        spec("ipv6-only", '6', false, true);
        // -t/-u forward host ports to the namespace, -T/-U namespace loopback ports to the host.
        spec("tcp-ports", 't', true, true);
        spec("udp-ports", 'u', true, true);
        spec("tcp-ns", 'T', true, true);
        spec("udp-ns", 'U', true, true);
        spec("no-splice", (char) 0, false, true);
        spec("host-lo-to-ns-lo", (char) 0, false, true);
        spec("splice-only", (char) 0, false, true);
        spec("dns-forward", (char) 0, true, true);
        spec("dns-host", (char) 0, true, true);
        spec("map-guest-addr", (char) 0, true, true);
        spec("dns", 'D', true, true);
        spec("runas", (char) 0, true, true);
        spec("no-ndp", (char) 0, false, true);
        for (String n : new String[] {"no-dhcp", "no-dhcpv6", "no-ra", "dhcp-dns", "no-dhcp-dns", "dhcp-search",
            "no-dhcp-search"})
            spec(n, (char) 0, false, true);
        spec("search", 'S', true, true);
        spec("pcap", 'p', true, true);
        spec("interface", 'i', true, true);
        spec("outbound", 'o', true, true);
        spec("outbound-if4", (char) 0, true, true);
        spec("outbound-if6", (char) 0, true, true);
        spec("hostname", 'H', true, true);
        spec("fqdn", (char) 0, true, true);
        spec("userns", (char) 0, true, true);
        spec("netns-only", (char) 0, false, true);
        spec("freebind", (char) 0, false, true);
        spec("no-copy-routes", (char) 0, false, true);
        spec("no-copy-addrs", (char) 0, false, true);
        spec("mac-addr", 'M', true, true);
        spec("no-tcp", (char) 0, false, true);
        spec("no-udp", (char) 0, false, true);
        spec("no-icmp", (char) 0, false, true);
        // pasta's, not implemented yet: refused by name.
        for (String n : new String[] {"socket", "socket-path", "fd",
            "repair-path", "stats"})
            spec(n, shortOf(n), true, false);
        for (String n : new String[] {
            "one-off", "vhost-user", "print-capabilities", "migrate-exit",
            "migrate-no-linger", "chroot-fallback"})
            spec(n, shortOf(n), false, false);
    }

    private static char shortOf(String longName) {
        switch (longName) {
            case "socket": return 's';
            case "fd": return 'F';
            case "ns-ifname": return 'I';
            case "pcap": return 'p';
            case "mtu": return 'm';
            case "address": return 'a';
            case "netmask": return 'n';
            case "mac-addr": return 'M';
            case "gateway": return 'g';
            case "interface": return 'i';
            case "outbound": return 'o';
            case "dns": return 'D';
            case "search": return 'S';
            case "hostname": return 'H';
            case "tcp-ports": return 't';
            case "udp-ports": return 'u';
            case "tcp-ns": return 'T';
            case "udp-ns": return 'U';
            case "ipv4-only": return '4';
            case "ipv6-only": return '6';
            case "one-off": return '1';
            default: return 0;
        }
    }

    /** Log verbosity, from -q to --trace. */
    enum LogLevel { QUIET, INFO, DEBUG, TRACE }

    boolean help;
    boolean version;
    boolean foreground;
    LogLevel logLevel = LogLevel.INFO;
    String logFile;
    long logSize = 1024 * 1024;
    String pidFile;
    String confPath;
    /** Internal: set on the background child, which reports readiness on stdout. */
    boolean daemonChild;
    /** Internal: set once the launcher has put itself in a new user namespace. */
    boolean inUserns;
    /** Instance properties for namespace mode (see core's NamespaceConfig): pasta options, translated. */
    final java.util.Map<String, String> ns = new java.util.LinkedHashMap<>();
    /** Whether -t was given (without it, pasta forwards "auto"). */
    private boolean tcpPortsGiven;
    private boolean spliceOnly;
    /** --no-tcp, --no-udp: the protocol's frames are dropped and nothing is forwarded for it. */
    private boolean noTcp, noUdp;
    String netnsTarget;
    /** --userns PATH, or the PID's user namespace: joined (before the JVM starts) to reach the network namespace. */
    String usernsTarget;
    /** --netns-only: no user namespace is joined or created. */
    boolean netnsOnly;
    /** -H: the command's hostname (and DHCP option 12); null: pasta's "pasta-" and the host's name. */
    String hostname;
    private boolean noCopyRoutes, noCopyAddrs;
    private String pidTarget;
    boolean noNetnsQuit;
    final List<String> command = new ArrayList<>();
    private boolean dashDash;

    static Options parse(String[] args) throws UsageException {
        Options o = new Options();
        int i = 0;
        while (i < args.length) {
            String a = args[i++];
            if (a.equals("--")) {
                break;
            } else if (a.equals(Main.DAEMON_CHILD_FLAG)) {
                o.daemonChild = true;
            } else if (a.equals(Main.IN_USERNS_FLAG)) {
                o.inUserns = true;
            } else if (a.startsWith("--")) {
                String name = a.substring(2);
                String value = null;
                int eq = name.indexOf('=');
                if (eq >= 0) {
                    value = name.substring(eq + 1);
                    name = name.substring(0, eq);
                }
                Spec s = findLong(name, a);
                if (s.hasArg && value == null) {
                    if (i >= args.length)
                        throw new UsageException("option '--" + s.name + "' requires an argument");
                    value = args[i++];
                } else if (!s.hasArg && value != null) {
                    throw new UsageException("option '--" + s.name + "' doesn't allow an argument");
                }
                o.apply(s, value, "--" + s.name);
            } else if (a.startsWith("-") && a.length() > 1) {
                for (int k = 1; k < a.length(); k++) {
                    char c = a.charAt(k);
                    Spec s = SHORT.get(c);
                    if (s == null)
                        throw new UsageException("invalid option -- '" + c + "'");
                    String value = null;
                    if (s.hasArg) {
                        if (k + 1 < a.length()) {
                            value = a.substring(k + 1);
                        } else if (i < args.length) {
                            value = args[i++];
                        } else {
                            throw new UsageException("option requires an argument -- '" + c + "'");
                        }
                        o.apply(s, value, "-" + c);
                        break;
                    }
                    o.apply(s, null, "-" + c);
                }
            } else {
                i--; // first non-option: the command (or PID) starts here, as with getopt's '+'
                break;
            }
        }
        o.dashDash = i > 0 && args[i - 1].equals("--");
        while (i < args.length)
            o.command.add(args[i++]);
        o.validate();
        o.disableProtocols();
        if (!o.tcpPortsGiven)
            o.ns.put("tcp.forward", "auto"); // pasta's default for -t
        // pasta hands out resolvers and search domains by DHCP, DHCPv6 and NDP only when asked to
        o.ns.putIfAbsent("dhcp.dns", "false");
        o.ns.putIfAbsent("dhcp.search", "false");
        return o;
    }

    /**
     * --no-tcp / --no-udp, as pasta: the core drops the protocol's frames from the guest (instance
     * property {@code tcp} or {@code udp} = false), no port of it is forwarded (the -t/-T or -u/-U
     * defaults become none), and asking for a forward of a disabled protocol is an error.
     */
    private void disableProtocols() throws UsageException {
        if (noTcp) {
            if (forwards("tcp.forward") || forwards("tcp.ns_forward"))
                throw new UsageException("option '--no-tcp': TCP ports are forwarded with -t/-T, but TCP is disabled");
            ns.put("tcp", "false");
            tcpPortsGiven = true; // no "auto" default
            ns.put("tcp.ns_forward", "none");
        }
        if (noUdp) {
            if (forwards("udp.forward") || forwards("udp.ns_forward"))
                throw new UsageException("option '--no-udp': UDP ports are forwarded with -u/-U, but UDP is disabled");
            ns.put("udp", "false");
            ns.put("udp.forward", "none");
            ns.put("udp.ns_forward", "none");
        }
    }

    private boolean forwards(String property) {
        String v = ns.get(property);
        return v != null && !v.equals("none");
    }

    private static Spec findLong(String name, String arg) throws UsageException {
        Spec exact = LONG.get(name);
        if (exact != null)
            return exact;
        Spec found = null;
        for (Spec s : LONG.values()) {
            if (!s.name.startsWith(name) || name.isEmpty())
                continue;
            if (found != null)
                throw new UsageException("option '" + arg + "' is ambiguous");
            found = s;
        }
        if (found == null)
            throw new UsageException("unrecognized option '" + arg + "'");
        return found;
    }

    private void apply(Spec s, String value, String spelled) throws UsageException {
        if (!s.implemented)
            throw new UsageException("option '" + spelled + "'" + (spelled.equals("--" + s.name) ? "" : " (--" + s.name + ")")
                + " is not supported yet");
        switch (s.name) {
            case "debug": logLevel = LogLevel.DEBUG; break;
            case "trace": logLevel = LogLevel.TRACE; break;
            case "quiet": logLevel = LogLevel.QUIET; break;
            case "foreground": foreground = true; break;
            case "stderr": break; // penne logs to stderr while it has one; accepted as pasta does
            case "help": help = true; break;
            case "version": version = true; break;
            case "log-file": logFile = nonEmpty(value, spelled); break;
            case "log-size": logSize = parseSize(value, spelled); break;
            case "pid": pidFile = nonEmpty(value, spelled); break;
            case "conf-path": confPath = nonEmpty(value, spelled); break;
            // pasta: the last one given counts; absolute, as penne may change directory before opening it
            case "pcap": ns.put("pcap", java.nio.file.Path.of(nonEmpty(value, spelled)).toAbsolutePath().toString()); break;
            case "ns-ifname": ns.put("ns.ifname", nonEmpty(value, spelled)); break;
            case "interface": ns.put("host.ifname", nonEmpty(value, spelled)); break;
            // pasta: the source address of outbound sockets, once per IP version
            case "outbound": ns.put(isV6(value) ? "outbound.address6" : "outbound.address4", literal(value, spelled)); break;
            case "outbound-if4": ns.put("outbound.if4", nonEmpty(value, spelled)); break;
            case "outbound-if6": ns.put("outbound.if6", nonEmpty(value, spelled)); break;
            case "mtu": ns.put("mtu", number(value, spelled, 0, 65520)); break;
            case "address": ns.put(isV6(value) ? "address6" : "address4", literal(value, spelled)); break;
            case "netmask": ns.put("prefix4", prefix(value, spelled)); break;
            case "gateway": ns.put(isV6(value) ? "gateway6" : "gateway4", literal(value, spelled)); break;
            case "netns": netnsTarget = netnsPath(nonEmpty(value, spelled)); break;
            case "ns-mac-addr": ns.put("ns.mac", nonEmpty(value, spelled)); break;
            case "mac-addr": ns.put("mac", nonEmpty(value, spelled)); break;
            case "config-net": ns.put("ns.configure", "true"); break;
            case "no-netns-quit": noNetnsQuit = true; break;
            case "map-host-loopback":
                // pasta: the address that stands for the host (default: the gateway), or none
                if ("none".equals(value)) {
                    ns.put("map.host_loopback4", "none");
                    ns.put("map.host_loopback6", "none");
                } else {
                    ns.put(isV6(value) ? "map.host_loopback6" : "map.host_loopback4", literal(value, spelled));
                }
                break;
            case "no-map-gw": // the gateway is not the host, unless --map-host-loopback says otherwise
                ns.putIfAbsent("map.host_loopback4", "none");
                ns.putIfAbsent("map.host_loopback6", "none");
                break;
            case "ipv4-only": ns.put("ipv6", "false"); break;
            case "ipv6-only": ns.put("ipv4", "false"); break;
            case "tcp-ports": ports(value, spelled, "tcp.forward"); break;
            case "tcp-ns": tcpNs(value, spelled); break;
            case "no-splice":
                if (spliceOnly)
                    throw new UsageException("option '--splice-only' is incompatible with '--no-splice'");
                if (ns.containsKey("splice.host_lo_to_ns_lo"))
                    throw new UsageException("option '--no-splice' is incompatible with '--host-lo-to-ns-lo'");
                ns.put("tcp.splice", "false");
                break;
            case "splice-only": // pasta: no tap; loopback forwarding only, to the namespace's loopback; no ICMP
                if (ns.containsKey("tcp.splice"))
                    throw new UsageException("option '--splice-only' is incompatible with '--no-splice'");
                spliceOnly = true;
                ns.put("ns.tap", "false");
                ns.put("splice.host_lo_to_ns_lo", "true");
                ns.put("icmp", "false");
                ns.put("ndp", "false");
                break;
            case "host-lo-to-ns-lo":
                if (ns.containsKey("tcp.splice"))
                    throw new UsageException("option '--host-lo-to-ns-lo' is incompatible with '--no-splice'");
                ns.put("splice.host_lo_to_ns_lo", "true");
                break;
            case "udp-ports": ports(value, spelled, "udp.forward"); break;
            case "udp-ns": ports(value, spelled, "udp.ns_forward"); break;
            case "dns-forward": // pasta: this address, ports 53 and 853, means the host's resolver
                ns.put(isV6(value) ? "dns.match6" : "dns.match4", forwardable(literal(value, spelled), spelled));
                break;
            case "dns-host": ns.put(isV6(value) ? "dns.host6" : "dns.host4", literal(value, spelled)); break;
            case "map-guest-addr": // pasta: this address means the host's own address, which the guest has
                if ("none".equals(value)) {
                    ns.remove("map.guest_addr4");
                    ns.remove("map.guest_addr6");
                } else {
                    ns.put(isV6(value) ? "map.guest_addr6" : "map.guest_addr4", literal(value, spelled));
                }
                break;
            case "dns": // pasta: resolvers advertised by DHCP, DHCPv6 and NDP (with --dhcp-dns) instead of the host's
                if (!"none".equals(value))
                    literal(value, spelled);
                ns.merge("dns", value, (a, b) -> a + "," + b);
                break;
            case "runas": runas(value, spelled); break;
            case "no-ndp": ns.put("ndp", "false"); break;
            case "no-tcp": noTcp = true; break;
            case "no-udp": noUdp = true; break;
            case "no-icmp": ns.put("icmp", "false"); ns.put("ndp", "false"); break; // pasta: implies --no-ndp
            case "no-dhcp": ns.put("dhcp", "false"); break;
            case "no-dhcpv6": ns.put("dhcpv6", "false"); break;
            case "no-ra": ns.put("ra", "false"); break;
            case "dhcp-dns": ns.put("dhcp.dns", "true"); break;
            case "dhcp-search": ns.put("dhcp.search", "true"); break;
            case "no-dhcp-dns": case "no-dhcp-search": // pasta's default already; passt's options
                throw new UsageException("option '" + spelled + "' is for passt mode only");
            case "search": ns.put("dns.search", nonEmpty(value, spelled).trim()); break;
            case "hostname": hostname = domainName(value, spelled); ns.put("hostname", hostname); break;
            case "fqdn": ns.put("fqdn", domainName(value, spelled)); break;
            case "userns": usernsTarget = nonEmpty(value, spelled); break;
            case "netns-only": netnsOnly = true; break;
            case "freebind": ns.put("freebind", "true"); break;
            case "no-copy-routes": noCopyRoutes = true; ns.put("ns.copy_routes", "false"); break;
            case "no-copy-addrs": noCopyAddrs = true; ns.put("ns.copy_addrs", "false"); break;
            default: throw new AssertionError(s.name);
        }
    }

    /**
     * --runas UID[:GID] or LOGIN[:GROUP]: pasta switches to that identity after setting up (and, started as
     * root, to nobody by default). penne does not change identity, so it accepts only the one it already has
     * (pasta's own tests and benchmarks run it as root with --runas 0) and refuses any other by name.
     */
    private void runas(String value, String spelled) throws UsageException {
        String user = nonEmpty(value, spelled).split(":", 2)[0];
        if (inUserns) // the parent checked it against the real identity; here penne is the namespace's root
            return;
        long uid = currentUid();
        boolean same = user.equals(String.valueOf(uid)) || user.equals(System.getProperty("user.name"));
        if (!same)
            throw new UsageException("option '" + spelled + " " + value + "': penne runs as the user that starts it"
                + " (uid " + uid + ") and cannot switch to another");
    }

    private static long currentUid() {
        try {
            for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/self/status")))
                if (line.startsWith("Uid:"))
                    return Long.parseLong(line.substring(4).trim().split("\\s+")[1]); // effective uid
        } catch (java.io.IOException | RuntimeException e) {
            // fall through
        }
        return -1;
    }

    /** Port range syntax of one -t entry: {@code all}, {@code ~A[-B]}, {@code A[-B][:C[-D]]}. */
    private static final java.util.regex.Pattern PORT_ENTRY =
        java.util.regex.Pattern.compile("all|auto|~\\d{1,5}(-\\d{1,5})?|\\d{1,5}(-\\d{1,5})?(:\\d{1,5}(-\\d{1,5})?)?");

    /** --dns-forward: pasta refuses the unspecified, loopback and broadcast addresses. */
    private static String forwardable(String v, String opt) throws UsageException {
        if (v.equals("0.0.0.0") || v.equals("255.255.255.255") || v.startsWith("127.") || v.equals("::")
            || v.equals("::1"))
            throw new UsageException("invalid " + opt + " value '" + v + "': not a usable address");
        return v;
    }

    /**
     * pasta's -t, -u, -U: a cheap check of the spec's shape and numbers here (so a
     * typo fails at once, exit 2), the full parse (io.penne.api.PortSpec, in
     * a bundle the launcher cannot load) when the instance starts. Specs go
     * to the instance property {@code property} ({@code tcp.forward},
     * {@code udp.forward}, {@code udp.ns_forward}), joined with ';'. For UDP,
     * {@code none} is recorded too: an explicit -u stops the -t ports from
     * being forwarded for UDP as well.
     */
    private void ports(String value, String spelled, String property) throws UsageException {
        String v = value == null ? "" : value.trim();
        if (property.equals("tcp.forward"))
            tcpPortsGiven = true;
        if (v.equals("none")) {
            if (!property.startsWith("tcp"))
                ns.putIfAbsent(property, "none");
            return;
        }
        String list = v;
        int slash = v.lastIndexOf('/');
        if (slash >= 0) {
            String addr = v.substring(0, slash);
            int percent = addr.indexOf('%'); // ADDRESS%INTERFACE or %INTERFACE: bound to that interface too
            if (percent >= 0) {
                String iface = addr.substring(percent + 1);
                if (iface.isEmpty() || iface.length() > 15 || !iface.matches("[^/\\s%:]+"))
                    throw badPorts(value, spelled, "'" + iface + "' is not an interface name");
                addr = addr.substring(0, percent);
            }
            if (!(percent >= 0 && addr.isEmpty())
                && !addr.matches("\\d{1,3}(\\.\\d{1,3}){3}|[0-9a-fA-F:.]*:[0-9a-fA-F:.]*"))
                throw badPorts(value, spelled, "'" + addr + "' is not an IP address");
            list = v.substring(slash + 1);
        }
        if (list.isEmpty())
            throw badPorts(value, spelled, "no ports");
        for (String e : list.split(",", -1)) {
            if (!PORT_ENTRY.matcher(e).matches())
                throw badPorts(value, spelled, e.isEmpty() ? "empty entry" : "'" + e + "' is not a port range");
            for (String r : e.replace("~", "").split(":")) {
                if (r.equals("all") || r.equals("auto"))
                    continue;
                String[] ab = r.split("-");
                int a = Integer.parseInt(ab[0]), b = ab.length > 1 ? Integer.parseInt(ab[1]) : a;
                if (a < 1 || a > 65535 || b < 1 || b > 65535)
                    throw badPorts(value, spelled, "ports are 1 to 65535");
                if (b < a)
                    throw badPorts(value, spelled, "range '" + r + "' ends before it starts");
            }
        }
        if (v.contains(";"))
            throw badPorts(value, spelled, "';' is not allowed");
        String prev = ns.get(property);
        ns.put(property, prev == null || prev.equals("none") ? v : prev + ";" + v);
    }

    /**
     * pasta's -T (namespace loopback to host loopback): specs as for -t, or
     * {@code auto} (pasta's default when -T is absent: ports listening on the
     * host) alone, or {@code none}. Property {@code tcp.ns_forward}; absent
     * means auto.
     */
    private void tcpNs(String value, String spelled) throws UsageException {
        String v = value == null ? "" : value.trim();
        String prev = ns.get("tcp.ns_forward");
        if (v.equals("auto") || v.equals("none")) {
            if (prev != null && !prev.equals(v))
                throw badPorts(value, spelled, "'" + v + "' cannot be combined with other -T specs");
            ns.put("tcp.ns_forward", v);
            return;
        }
        if (java.util.Arrays.asList(v.substring(v.lastIndexOf('/') + 1).split(",")).contains("auto"))
            throw badPorts(value, spelled, "'auto' combined with port ranges is not supported yet");
        if ("auto".equals(prev) || "none".equals(prev))
            throw badPorts(value, spelled, "cannot be combined with -T " + prev);
        ports(value, spelled, "tcp.ns_forward");
    }

    private static UsageException badPorts(String value, String spelled, String why) {
        return new UsageException("option '" + spelled + "': bad port spec '" + value + "': " + why);
    }

    /** An IPv4 or IPv6 address literal (never a name: nothing is looked up), as given. */
    private static String literal(String v, String opt) throws UsageException {
        boolean ok = false;
        if (v != null && v.matches("[0-9a-fA-F:.]+")) {
            try {
                java.net.InetAddress.getByName(v); // a literal of this shape is parsed, not resolved
                ok = v.contains(":") || v.matches("\\d{1,3}(\\.\\d{1,3}){3}");
            } catch (java.net.UnknownHostException e) {
                ok = false;
            }
        }
        if (!ok)
            throw new UsageException("invalid " + opt + " value '" + v + "': not an IP address");
        return v;
    }

    private static boolean isV6(String v) {
        return v != null && v.contains(":");
    }

    private static String number(String v, String opt, int min, int max) throws UsageException {
        try {
            int n = Integer.parseInt(v);
            if (n < min || n > max)
                throw new UsageException("invalid " + opt + " value '" + v + "': " + min + " to " + max);
            return String.valueOf(n);
        } catch (NumberFormatException e) {
            throw new UsageException("invalid " + opt + " value '" + v + "': not a number");
        }
    }

    /** pasta's -n: a prefix length, or a dotted netmask. */
    private static String prefix(String v, String opt) throws UsageException {
        if (v != null && v.matches("\\d{1,2}"))
            return number(v, opt, 1, 32);
        if (v != null && v.matches("\\d{1,3}(\\.\\d{1,3}){3}")) {
            long m = 0;
            for (String part : v.split("\\."))
                m = (m << 8) | Integer.parseInt(part);
            int len = Long.bitCount(m);
            if (m == ((0xffffffffL << (32 - len)) & 0xffffffffL) && len > 0)
                return String.valueOf(len);
        }
        throw new UsageException("invalid " + opt + " value '" + v + "': a prefix length or netmask");
    }

    /** pasta's --netns: a path, or a name under /run/netns. */
    private static String netnsPath(String v) {
        return v.contains("/") ? v : "/run/netns/" + v;
    }

    /** A new namespace with a command in it, as opposed to attaching to an existing one. */
    boolean spawnsCommand() {
        return netnsTarget == null;
    }

    private static String nonEmpty(String v, String opt) throws UsageException {
        if (v == null || v.isEmpty())
            throw new UsageException("option '" + opt + "' needs a non-empty argument");
        return v;
    }

    private static long parseSize(String v, String opt) throws UsageException {
        try {
            long n = Long.parseLong(v);
            if (n < 4096)
                throw new UsageException("invalid " + opt + " value '" + v + "': at least 4096 bytes");
            return n;
        } catch (NumberFormatException e) {
            throw new UsageException("invalid " + opt + " value '" + v + "': not a number");
        }
    }

    private void validate() throws UsageException {
        if (help || version)
            return;
        // As pasta: a single numeric argument is the PID whose namespace to attach to.
        if (command.size() == 1 && command.get(0).matches("\\d+") && !dashDash) {
            if (netnsTarget != null)
                throw new UsageException("both --netns and a PID given");
            pidTarget = command.get(0);
            netnsTarget = "/proc/" + pidTarget + "/ns/net";
            command.clear();
        }
        if (netnsTarget != null && !command.isEmpty())
            throw new UsageException("both --netns and a command given");
        // As pasta: a PID's user namespace is joined along with its network namespace, unless
        // --netns-only; a path or name alone implies --netns-only, --userns names one explicitly.
        if (netnsOnly && usernsTarget != null)
            throw new UsageException("both --userns and --netns-only given");
        if (usernsTarget != null && netnsTarget == null)
            throw new UsageException("option '--userns' needs a PID or --netns");
        if (pidTarget != null && !netnsOnly && usernsTarget == null)
            usernsTarget = "/proc/" + pidTarget + "/ns/user";
        // pasta (conf.c): the deprecated copy switches refine --config-net; penne configures a
        // namespace it creates without being asked, so there they need nothing more.
        if ((noCopyRoutes || noCopyAddrs) && netnsTarget != null && !"true".equals(ns.get("ns.configure")))
            throw new UsageException("option '--no-copy-" + (noCopyRoutes ? "routes" : "addrs") + "' needs --config-net");
    }

    /**
     * A -H or --fqdn name, as pasta takes it (up to 253 characters, PASST_MAXDNAME): printable
     * ASCII only, since it ends up in a hostname and in DHCP options.
     */
    private static String domainName(String v, String spelled) throws UsageException {
        nonEmpty(v, spelled);
        if (v.length() > 253 || !v.chars().allMatch(ch -> ch > 0x20 && ch < 0x7f))
            throw new UsageException("option '" + spelled + " " + v + "': invalid name (at most 253 printable"
                + " characters, no spaces)");
        return v;
    }

    static String usage() {
        return String.join("\n",
            "Usage: penne [OPTION]... [COMMAND [ARG]...]",
            "       penne [OPTION]... PID",
            "       penne [OPTION]... --netns PATH|NAME",
            "",
            "Without PID or --netns, run COMMAND (default: $SHELL) in a new network",
            "and user namespace whose way out is a tap device served by penne, and",
            "exit with its status. With PID or --netns, serve that namespace instead,",
            "going to the background once it is configured. Options follow pasta(1);",
            "those not implemented yet are refused by name.",
            "",
            "  -I, --ns-ifname NAME   tap interface name (default: the host's upstream",
            "                         interface name, else tap0)",
            "  -i, --interface NAME   host interface whose addresses and routes the",
            "                         namespace copies (default: that of the default route)",
            "  -o, --outbound ADDR    source address of outbound sockets (once per IP",
            "                         version)",
            "      --outbound-if4 NAME, --outbound-if6 NAME  bind outbound sockets of",
            "                         that IP version to host interface NAME (and take",
            "                         its addresses and routes, unless -i)",
            "  -m, --mtu MTU          tap MTU (default 65520)",
            "  -a, --address ADDR     guest address (default: the host's)",
            "  -n, --netmask MASK     IPv4 prefix length or netmask",
            "  -g, --gateway ADDR     guest default gateway (default: the host's)",
            "  -4, --ipv4-only        IPv4 only;   -6, --ipv6-only   IPv6 only",
            "      --ns-mac-addr MAC  tap MAC address",
            "  -M, --mac-addr MAC     penne's own MAC towards the guest (default",
            "                         9a:55:9a:55:9a:55)",
            "      --config-net       configure an attached namespace too",
            "      --no-copy-routes   only the default route (deprecated in pasta)",
            "      --no-copy-addrs    only one address per IP version (deprecated in pasta)",
            "      --netns PATH|NAME  attach to this namespace (NAME: /run/netns/NAME)",
            "      --userns PATH      user namespace to join for it (with a PID: the",
            "                         PID's, unless --netns-only)",
            "      --netns-only       join or create no user namespace",
            "      --no-netns-quit    keep running when the attached namespace goes away",
            "      --map-host-loopback ADDR|none  the guest address that means the host",
            "                         (default: the gateway)",
            "      --no-map-gw        the gateway is not the host",
            "  -t, --tcp-ports SPEC   forward host TCP ports to the namespace: none,",
            "                         80, 8000-8010, 8080:80, ~22, all, ADDR/PORTS,",
            "                         ADDR%IF/PORTS, %IF/PORTS (bound to interface IF);",
            "                         comma-separated, may be repeated (see pasta(1));",
            "                         auto (the default): ports bound in the namespace",
            "  -T, --tcp-ns SPEC      forward namespace loopback TCP ports to the host's",
            "                         loopback, spliced: specs as for -t, auto (ports",
            "                         listening on the host, the default) or none",
            "      --no-splice        host loopback clients of -t go through the tap",
            "      --freebind         -t/-u ADDR/PORTS may name an address the host does",
            "                         not have (yet)",
            "      --splice-only      no tap device: forward loopback traffic only, to",
            "                         and from the namespace's loopback",
            "      --host-lo-to-ns-lo host loopback clients of -t reach the namespace's",
            "                         loopback (default: its address)",
            "  -u, --udp-ports SPEC   forward host UDP ports to the namespace (same",
            "                         syntax; default: auto, the ports bound or TCP",
            "                         listening in the namespace, and the fixed -t ports)",
            "  -U, --udp-ns SPEC      forward UDP from the namespace's loopback to the",
            "                         host's loopback (default: auto, the ports bound or",
            "                         TCP listening on the host)",
            "      --dns-forward ADDR queries to ADDR (UDP/TCP port 53, 853) go to the",
            "                         host's resolver (--dns-host, default: the first",
            "                         nameserver in /etc/resolv.conf)",
            "      --dns-host ADDR    the resolver --dns-forward goes to",
            "      --map-guest-addr ADDR|none  the guest address that means the host's",
            "                         own address (the one the guest has)",
            "  -D, --dns ADDR         resolver to advertise (with --dhcp-dns) instead of",
            "                         the host's; none: no resolver",
            "  -S, --search LIST      search domains to advertise (with --dhcp-search)",
            "                         instead of the host's; none: no list",
            "      --no-tcp, --no-udp, --no-icmp  drop the protocol's packets from",
            "                         the guest and forward none of its ports",
            "      --no-ndp           no neighbour advertisements to the guest",
            "      --no-dhcp, --no-dhcpv6, --no-ra  no DHCP server, DHCPv6 server,",
            "                         router advertisements (advertisements are off",
            "                         anyway once penne configured the namespace)",
            "      --dhcp-dns, --dhcp-search  advertise resolvers, search domains",
            "                         by DHCP, DHCPv6 and NDP (off by default, as pasta)",
            "  -H, --hostname NAME    the command's hostname (default: pasta-HOST) and",
            "                         DHCP option 12",
            "      --fqdn NAME        client FQDN by DHCP (option 81) and DHCPv6 (39)",
            "      --runas UID|LOGIN  accepted for penne's own identity only",
            "  -p, --pcap FILE        capture the guest's frames to FILE (pcap format)",
            "  -c, --conf-path PATH   listen for penne-ctl on the UNIX socket PATH",
            "  -f, --foreground       stay in the foreground (default: go to the",
            "                         background once ready)",
            "  -d, --debug            debug messages",
            "      --trace            debug and per-event messages",
            "  -q, --quiet            only warnings and errors",
            "  -e, --stderr           log to standard error (always, while there is one)",
            "  -l, --log-file PATH    also log to PATH",
            "      --log-size SIZE    cap the log file at SIZE bytes (default 1 MiB)",
            "  -P, --pid FILE         write the process ID to FILE once ready",
            "  -h, --help             this help",
            "      --version          version",
            "",
            "Inspect a running instance: penne-ctl PATH [COMMAND]   (e.g. penne:flows)",
            "");
    }
}
