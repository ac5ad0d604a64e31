package io.penne.linux;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What the running kernel offers, probed once at startup.
 *
 * <p>Theory of operation: {@link #probe()} runs every probe the first time it
 * is called (lazy holder idiom, so the JVM's class initialisation makes it
 * thread-safe and the result is cached for the life of the class loader, i.e.
 * the bundle) and returns the same instance afterwards. Each probe yields a
 * {@link Feature} whose {@code detail} says what was found or, when the
 * feature is missing, why (an errno name, or the contents of the relevant
 * {@code /proc/sys} file). Probes mirror what passt does at start-up:
 * <ul>
 * <li>{@value #SO_PEEK_OFF}: setsockopt(SO_PEEK_OFF, 0) on fresh IPv4 and IPv6
 * TCP sockets (passt's {@code tcp_probe_peek_offset_cap()}); a family the
 * host lacks altogether (EAFNOSUPPORT) does not count against it.</li>
 * <li>{@value #TCP_INFO_SND_WND}: getsockopt(TCP_INFO) on a fresh TCP socket
 * returns at least the 232 bytes reaching {@code tcpi_snd_wnd} (passt's
 * {@code tcp_probe_tcp_info()}); if that call fails, kernel release &ge; 5.4
 * from {@code /proc/sys/kernel/osrelease} decides.</li>
 * <li>{@value #PING_V4}/{@value #PING_V6}: an unprivileged ICMP "ping" socket
 * can be opened (and is closed at once); gated by
 * {@code net.ipv4.ping_group_range}.</li>
 * <li>{@value #USER_NAMESPACES}: {@code user.max_user_namespaces} &gt; 0 and,
 * where present, {@code kernel.unprivileged_userns_clone} (Debian) and
 * {@code kernel.apparmor_restrict_unprivileged_userns} (Ubuntu) allow it.</li>
 * <li>{@value #PIPE_MAX_SIZE}: {@code fs.pipe-max-size}, as the detail.</li>
 * <li>{@value #SPLICE}: assumed present (every kernel penne can run on).</li>
 * <li>{@value #FAST_NATIVE_CALLS}: not the kernel's but the JVM's: whether
 * system calls go through penne's JNI library or the Foreign Function API
 * (JDK 22+) rather than JNA, which one, and why not the others
 * ({@link LibC}).</li>
 * </ul>
 * Probes never throw: a probe that fails for an unexpected reason reports the
 * feature as unavailable with the reason in {@code detail}.
 *
 * <p>Immutable after construction and thread-safe.
 */
public final class KernelFeatures {
    public static final String SO_PEEK_OFF = "SO_PEEK_OFF";
    public static final String TCP_INFO_SND_WND = "TCP_INFO snd_wnd";
    public static final String PING_V4 = "ping sockets v4";
    public static final String PING_V6 = "ping sockets v6";
    public static final String USER_NAMESPACES = "user namespaces";
    public static final String PIPE_MAX_SIZE = "pipe max size";
    public static final String SPLICE = "splice";
    public static final String FAST_NATIVE_CALLS = "fast native calls";

    /** One probed feature; {@code detail} is never null. */
    public record Feature(String name, boolean available, String detail) {
        @Override
        public String toString() {
            return name + ": " + (available ? "yes" : "no") + " (" + detail + ")";
        }
    }

    /** End of {@code tcpi_snd_wnd} in {@code struct tcp_info} (u32 at offset 228). */
    private static final int TCP_INFO_SND_WND_END = 232;

    private final Map<String, Feature> features;

    private KernelFeatures(List<Feature> list) {
        Map<String, Feature> m = new LinkedHashMap<>();
        for (Feature f : list)
            m.put(f.name(), f);
        this.features = Collections.unmodifiableMap(m);
    }

    private static final class Holder {
        static final KernelFeatures INSTANCE = runProbes();
    }

    /** The probe results, computed on first call. */
    public static KernelFeatures probe() {
        return Holder.INSTANCE;
    }

    /** Whether {@code name} was probed and is available; false for unknown names. */
    public boolean has(String name) {
        Feature f = features.get(name);
        return f != null && f.available();
    }

    /** The feature called {@code name}, or null if there is no such probe. */
    public Feature get(String name) {
        return features.get(name);
    }

    /** All probed features, in probe order. */
    public List<Feature> all() {
        return List.copyOf(features.values());
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("kernel features:");
        for (Feature f : features.values())
            sb.append("\n  ").append(f);
        return sb.toString();
    }

    private static KernelFeatures runProbes() {
        List<Feature> list = new ArrayList<>();
        NativeBuffer scratch = NativeBuffer.allocate(1024);
        list.add(guard(SO_PEEK_OFF, () -> probePeekOff(scratch)));
        list.add(guard(TCP_INFO_SND_WND, () -> probeTcpInfo(scratch)));
        list.add(guard(PING_V4, () -> probePing(PING_V4, Sockets.AF_INET, Sockets.IPPROTO_ICMP)));
        list.add(guard(PING_V6, () -> probePing(PING_V6, Sockets.AF_INET6, Sockets.IPPROTO_ICMPV6)));
        list.add(guard(USER_NAMESPACES, KernelFeatures::probeUserns));
        list.add(guard(PIPE_MAX_SIZE, KernelFeatures::probePipeMaxSize));
        list.add(new Feature(SPLICE, true, "pipe2+splice"));
        list.add(new Feature(FAST_NATIVE_CALLS, !"jna".equals(LibC.backend()), LibC.backendDetail()));
        return new KernelFeatures(list);
    }

    private interface Probe {
        Feature run();
    }

    /** Keeps one broken probe (or a missing JNA) from taking down the others. */
    private static Feature guard(String name, Probe p) {
        try {
            return p.run();
        } catch (RuntimeException | LinkageError e) {
            return new Feature(name, false, "probe failed: " + e);
        }
    }

    private static Feature probePeekOff(NativeBuffer scratch) {
        String v4 = peekOff(Sockets.AF_INET, scratch);
        String v6 = peekOff(Sockets.AF_INET6, scratch);
        boolean ok4 = v4.equals("ok"), ok6 = v6.equals("ok");
        boolean ok = (ok4 || ok6) && (ok4 || v4.equals("no IPv4")) && (ok6 || v6.equals("no IPv6"));
        return new Feature(SO_PEEK_OFF, ok, "IPv4 " + v4 + ", IPv6 " + v6);
    }

    private static String peekOff(int family, NativeBuffer scratch) {
        int s = Sys.socket(family, Sockets.SOCK_STREAM | Sockets.SOCK_CLOEXEC, Sockets.IPPROTO_TCP);
        if (s < 0)
            return s == -Errno.EAFNOSUPPORT ? (family == Sockets.AF_INET ? "no IPv4" : "no IPv6")
                    : "socket: " + Errno.name(s);
        try {
            int r = Sys.setsockoptInt(s, Sockets.SOL_SOCKET, Sockets.SO_PEEK_OFF, 0, scratch);
            return r == 0 ? "ok" : "setsockopt: " + Errno.name(r);
        } finally {
            Sys.close(s);
        }
    }

    private static Feature probeTcpInfo(NativeBuffer scratch) {
        String release = readSysctl("kernel/osrelease");
        int s = Sys.socket(Sockets.AF_INET, Sockets.SOCK_STREAM | Sockets.SOCK_CLOEXEC, Sockets.IPPROTO_TCP);
        int len = s;
        if (s >= 0) {
            try {
                int room = 512; // more than any kernel's struct tcp_info so far, so the length is exact
                long base = scratch.address(0, room + 4);
                scratch.zero(0, room);
                scratch.putInt(room, room);
                int r = Sys.getsockopt(s, Sockets.SOL_TCP, Sockets.TCP_INFO, base, base + room);
                len = r < 0 ? r : scratch.getInt(room);
            } finally {
                Sys.close(s);
            }
        }
        if (len >= 0) {
            boolean ok = len >= TCP_INFO_SND_WND_END;
            return new Feature(TCP_INFO_SND_WND, ok, "TCP_INFO returns " + len + " bytes, snd_wnd needs "
                    + TCP_INFO_SND_WND_END + "; kernel " + release);
        }
        boolean ok = atLeast(release, 5, 4);
        return new Feature(TCP_INFO_SND_WND, ok, "TCP_INFO probe failed (" + Errno.name(len) + "), kernel "
                + release + (ok ? " >= 5.4" : " < 5.4"));
    }

    /** Whether a release string such as {@code 6.18.44-foo} is at least major.minor. */
    static boolean atLeast(String release, int major, int minor) {
        if (release == null)
            return false;
        String[] p = release.split("[.-]");
        try {
            int ma = Integer.parseInt(p[0]);
            int mi = p.length > 1 ? Integer.parseInt(p[1].replaceAll("\\D.*", "")) : 0;
            return ma > major || ma == major && mi >= minor;
        } catch (NumberFormatException e) {
            return false;
        }
    }

    private static Feature probePing(String name, int family, int protocol) {
        int s = Sys.socket(family, Sockets.SOCK_DGRAM | Sockets.SOCK_CLOEXEC, protocol);
        if (s >= 0) {
            Sys.close(s);
            return new Feature(name, true, "socket(SOCK_DGRAM, " + (family == Sockets.AF_INET ? "IPPROTO_ICMP" : "IPPROTO_ICMPV6") + ") ok");
        }
        String range = readSysctl("net/ipv4/ping_group_range");
        return new Feature(name, false, Errno.name(s) + "; net.ipv4.ping_group_range = "
                + (range == null ? "(unreadable)" : range.replaceAll("\\s+", " ")) + " (gid " + Sys.getgid() + ")");
    }

    private static Feature probeUserns() {
        String max = readSysctl("user/max_user_namespaces");
        String clone = readSysctl("kernel/unprivileged_userns_clone");
        String apparmor = readSysctl("kernel/apparmor_restrict_unprivileged_userns");
        StringBuilder d = new StringBuilder("user.max_user_namespaces = ").append(max == null ? "(missing)" : max);
        boolean ok = max != null && parseLong(max) > 0;
        if (clone != null) {
            d.append(", kernel.unprivileged_userns_clone = ").append(clone);
            ok &= parseLong(clone) != 0;
        }
        if (apparmor != null) {
            d.append(", kernel.apparmor_restrict_unprivileged_userns = ").append(apparmor);
            ok &= parseLong(apparmor) == 0;
        }
        return new Feature(USER_NAMESPACES, ok, d.toString());
    }

    private static Feature probePipeMaxSize() {
        String v = readSysctl("fs/pipe-max-size");
        if (v == null)
            return new Feature(PIPE_MAX_SIZE, false, "/proc/sys/fs/pipe-max-size unreadable");
        return new Feature(PIPE_MAX_SIZE, parseLong(v) > 0, v);
    }

    private static long parseLong(String s) {
        try {
            return Long.parseLong(s.trim());
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    private static String readSysctl(String rel) {
        return Sysctl.read(rel);
    }
}
