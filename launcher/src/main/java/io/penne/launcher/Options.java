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
        // pasta's, not implemented yet.
        for (String n : new String[] {"socket", "socket-path", "fd", "ns-ifname", "pcap", "mtu", "address",
            "netmask", "mac-addr", "gateway", "interface", "outbound", "dns", "search", "hostname", "tcp-ports",
            "udp-ports", "tcp-ns", "udp-ns", "userns", "netns", "ns-mac-addr", "dns-forward", "runas",
            "outbound-if4", "outbound-if6", "map-host-loopback", "map-guest-addr", "dns-host", "fqdn",
            "repair-path", "stats"})
            spec(n, shortOf(n), true, false);
        for (String n : new String[] {"no-tcp", "no-udp", "no-icmp", "no-dhcp", "no-dhcpv6", "no-ndp", "no-ra",
            "no-splice", "splice-only", "freebind", "no-map-gw", "ipv4-only", "ipv6-only", "one-off", "dhcp-dns",
            "no-dhcp-dns", "dhcp-search", "no-dhcp-search", "no-netns-quit", "config-net", "no-copy-routes",
            "no-copy-addrs", "netns-only", "host-lo-to-ns-lo", "vhost-user", "print-capabilities", "migrate-exit",
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
    final List<String> command = new ArrayList<>();

    static Options parse(String[] args) throws UsageException {
        Options o = new Options();
        int i = 0;
        while (i < args.length) {
            String a = args[i++];
            if (a.equals("--")) {
                break;
            } else if (a.equals(Main.DAEMON_CHILD_FLAG)) {
                o.daemonChild = true;
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
        while (i < args.length)
            o.command.add(args[i++]);
        o.validate();
        return o;
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
            default: throw new AssertionError(s.name);
        }
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
        if (!command.isEmpty())
            throw new UsageException("running a command or joining a PID's namespace ('" + command.get(0)
                + "') is not supported yet");
    }

    static String usage() {
        return String.join("\n",
            "Usage: penne [OPTION]...",
            "",
            "Run a penne instance: user-mode networking after pasta(1). Namespace,",
            "VM and port forwarding modes arrive in later versions; options of",
            "pasta's that are not implemented yet are refused by name.",
            "",
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
