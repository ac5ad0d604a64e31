package io.penne.api;

import io.penne.api.flow.InetAddr;
import java.util.ArrayList;
import java.util.List;

/**
 * One port forwarding specification as pasta's {@code -t}/{@code -u} take
 * it (passt.1, "-t, --tcp-ports"):
 * <pre>
 *   none
 *   [ADDRESS[%INTERFACE]/]ENTRY[,ENTRY]...
 *   %INTERFACE/ENTRY[,ENTRY]...
 *   ENTRY:  FIRST[-LAST][:TOFIRST[-TOLAST]]   include (and map) a range
 *           ~FIRST[-LAST]                      exclude a range (wins over includes)
 *           all                                every port not excluded
 * </pre>
 * Ports are 1 to 65535. A spec of exclusions only means {@code all} minus
 * them. A mapped range has the length of the range it maps
 * ({@code 8000-8010:9000} is {@code 8000-8010:9000-9010}). Overlapping
 * includes are refused, as pasta does. {@code auto} (alone or limiting
 * ranges) marks the spec for its user to forward only ports bound in the
 * namespace ({@link #isAuto}). {@code %INTERFACE} binds the listening
 * sockets to that interface too ({@code SO_BINDTODEVICE}, unprivileged
 * since Linux 5.7), with or without an address ({@link #iface}). Not
 * supported (refused with a message): a target address after the colon,
 * an interface with {@code auto}.
 *
 * <p>With {@code all}, the user of the spec skips ports it cannot bind and
 * the host's ephemeral range, silently (pasta: "forward all unbound,
 * non-ephemeral ports ... as permitted by current capabilities");
 * {@link #isAll} tells it so.
 *
 * <p>Several specs (pasta takes {@code -t} several times) travel in one
 * instance property, {@code tcp.forward}, joined with {@link #SEPARATOR};
 * {@link #parseList} splits and parses them. Pure: no I/O.
 */
public final class PortSpec {
    /** Separator of several specs in one property value. */
    public static final String SEPARATOR = ";";
    /** Instance property with the TCP forwarding specs (host to guest, {@code -t}). */
    public static final String TCP_PROPERTY = "tcp.forward";
    /** Instance property with pasta's -u specs (host to guest UDP), joined with {@link #SEPARATOR}. */
    public static final String UDP_PROPERTY = "udp.forward";
    /** Instance property with pasta's -T specs (namespace loopback to host TCP, spliced). */
    public static final String TCP_NS_PROPERTY = "tcp.ns_forward";
    /** Instance property with pasta's -U specs (namespace loopback to host UDP). */
    public static final String UDP_NS_PROPERTY = "udp.ns_forward";

    private final String text;
    private final String address;
    private final long[] addressBits;
    /** The interface after '%', or null. */
    private final String iface;
    private final boolean all;
    /** {@code auto}: only ports bound in the namespace, found by scanning (pasta's default for -t). */
    private final boolean auto;
    /** Target port per listening port, 0 if not forwarded. */
    private final char[] target;
    private final int count;

    private PortSpec(String text, String address, long[] addressBits, String iface, boolean all, boolean auto,
                     char[] target) {
        this.text = text;
        this.iface = iface;
        this.auto = auto;
        this.address = address;
        this.addressBits = addressBits;
        this.all = all;
        this.target = target;
        int n = 0;
        for (int p = 1; p < target.length; p++)
            if (target[p] != 0)
                n++;
        this.count = n;
    }

    /** Parses one spec; throws {@link IllegalArgumentException} with a message naming it. */
    public static PortSpec parse(String spec) {
        if (spec == null)
            throw new IllegalArgumentException("bad port spec: null");
        String s = spec.trim();
        if (s.isEmpty())
            throw bad(spec, "empty");
        if (s.equals("none"))
            return new PortSpec(s, null, null, null, false, false, new char[65536]);
        String address = null, iface = null;
        long[] bits = null;
        int slash = s.lastIndexOf('/');
        String list = s;
        if (slash >= 0) {
            address = s.substring(0, slash);
            list = s.substring(slash + 1);
            int percent = address.indexOf('%');
            if (percent >= 0) {
                iface = address.substring(percent + 1);
                address = address.substring(0, percent);
                // IFNAMSIZ is 16 with the terminating NUL; '/' and white space cannot be in a name.
                if (iface.isEmpty() || iface.length() > 15 || !iface.matches("[^/\\s%:]+"))
                    throw bad(spec, "'" + iface + "' is not an interface name");
            }
            if (address.isEmpty() && iface == null)
                throw bad(spec, "empty address before '/'");
            if (address.isEmpty()) {
                address = null; // %INTERFACE alone: any address on that interface
            } else {
                try {
                    if (!address.contains(":") && !address.matches("\\d{1,3}(\\.\\d{1,3}){3}"))
                        throw new IllegalArgumentException(address);
                    bits = InetAddr.parse(address);
                } catch (IllegalArgumentException e) {
                    throw bad(spec, "'" + address + "' is not an IP address");
                }
            }
        }
        if (list.isEmpty())
            throw bad(spec, "no ports");
        char[] target = new char[65536];
        boolean[] excluded = new boolean[65536];
        boolean all = false, auto = false, includes = false, onlyExcludes = true;
        for (String e : list.split(",", -1)) {
            if (e.isEmpty())
                throw bad(spec, "empty entry");
            if (e.equals("all")) {
                if (all)
                    throw bad(spec, "'all' given twice");
                all = true;
                onlyExcludes = false;
                continue;
            }
            if (e.equals("auto")) {
                if (auto)
                    throw bad(spec, "'auto' given twice");
                auto = true;
                continue;
            }
            if (e.equals("none"))
                throw bad(spec, "'none' must be alone");
            if (e.startsWith("~")) {
                int[] r = range(spec, e.substring(1));
                for (int p = r[0]; p <= r[1]; p++)
                    excluded[p] = true;
                continue;
            }
            onlyExcludes = false;
            includes = true;
            int colon = e.indexOf(':');
            int[] from = range(spec, colon < 0 ? e : e.substring(0, colon));
            int toFirst = from[0];
            if (colon >= 0) {
                String to = e.substring(colon + 1);
                if (to.contains("/") || to.contains("."))
                    throw bad(spec, "a target address is not supported yet");
                int[] t = range(spec, to);
                boolean single = !to.contains("-");
                if (!single && t[1] - t[0] != from[1] - from[0])
                    throw bad(spec, "'" + e + "' maps ranges of different lengths");
                toFirst = t[0];
                if (toFirst + (from[1] - from[0]) > 65535)
                    throw bad(spec, "'" + e + "' maps beyond port 65535");
            }
            for (int p = from[0]; p <= from[1]; p++) {
                if (target[p] != 0)
                    throw bad(spec, "overlapping port " + p);
                target[p] = (char) (toFirst + (p - from[0]));
            }
        }
        if (all && includes)
            throw bad(spec, "'all' cannot be combined with port ranges");
        if (onlyExcludes && !(auto && includes))
            all = true;
        if (all)
            for (int p = 1; p < 65536; p++)
                target[p] = (char) p;
        for (int p = 1; p < 65536; p++)
            if (excluded[p])
                target[p] = 0;
        if (auto && iface != null)
            throw bad(spec, "'auto' bound to an interface is not supported");
        PortSpec ps = new PortSpec(s, address, bits, iface, all, auto, target);
        if (ps.count == 0)
            throw bad(spec, "every port is excluded");
        return ps;
    }

    /**
     * Parses specs joined with {@link #SEPARATOR} (a property value); empty
     * parts and {@code none} yield nothing. Null means no specs.
     */
    public static List<PortSpec> parseList(String joined) {
        List<PortSpec> out = new ArrayList<>();
        if (joined == null)
            return out;
        for (String part : joined.split(SEPARATOR, -1)) {
            if (part.trim().isEmpty())
                continue;
            PortSpec p = parse(part);
            if (!p.isNone())
                out.add(p);
        }
        return out;
    }

    private static int[] range(String spec, String r) {
        int dash = r.indexOf('-');
        int first = port(spec, dash < 0 ? r : r.substring(0, dash));
        int last = dash < 0 ? first : port(spec, r.substring(dash + 1));
        if (last < first)
            throw bad(spec, "range '" + r + "' ends before it starts");
        return new int[] {first, last};
    }

    private static int port(String spec, String p) {
        if (p.isEmpty() || p.length() > 5 || !p.chars().allMatch(ch -> ch >= '0' && ch <= '9'))
            throw bad(spec, "'" + p + "' is not a port number");
        int n = Integer.parseInt(p);
        if (n < 1 || n > 65535)
            throw bad(spec, "port " + n + " out of range (1 to 65535)");
        return n;
    }

    private static IllegalArgumentException bad(String spec, String why) {
        return new IllegalArgumentException("bad port spec '" + spec + "': " + why);
    }

    /** The spec as given (trimmed). */
    public String text() {
        return text;
    }

    /** Whether this is {@code none}. */
    public boolean isNone() {
        return count == 0;
    }

    /** Whether ports come from {@code all} (or exclusions only): unbindable ports are skipped silently. */
    public boolean isAll() {
        return all;
    }

    /**
     * Whether {@code port}, listed by {@link #ports}, is still left out: a
     * port from {@code all} (or exclusions only) inside the host's ephemeral
     * range {@code ephemeral} ({first, last}), which pasta never binds for
     * such specs.
     */
    public boolean skipsEphemeral(int port, int[] ephemeral) {
        return all && port >= ephemeral[0] && port <= ephemeral[1];
    }

    /**
     * Whether this is {@code auto} (alone, or with ranges that limit it):
     * its ports are forwarded only while something listens on them in the
     * namespace, as pasta finds by scanning {@code /proc/net/tcp} every second.
     */
    public boolean isAuto() {
        return auto;
    }

    /** The address to bind, as given, or null for the wildcard addresses. */
    public String address() {
        return address;
    }

    /** The interface the listening sockets are bound to ({@code %INTERFACE}), or null for any. */
    public String iface() {
        return iface;
    }

    /** The address to bind as {hi, lo} ({@link InetAddr}), or null for the wildcard addresses. */
    public long[] addressBits() {
        return addressBits == null ? null : addressBits.clone();
    }

    /** The port to forward {@code port} to, or 0 if it is not forwarded. */
    public int target(int port) {
        return port < 1 || port > 65535 ? 0 : target[port];
    }

    /** Number of forwarded ports. */
    public int count() {
        return count;
    }

    /** Forwarded ports, ascending. */
    public int[] ports() {
        int[] out = new int[count];
        int k = 0;
        for (int p = 1; p < 65536; p++)
            if (target[p] != 0)
                out[k++] = p;
        return out;
    }

    @Override
    public String toString() {
        return text;
    }
}
