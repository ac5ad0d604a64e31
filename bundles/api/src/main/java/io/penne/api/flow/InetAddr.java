package io.penne.api.flow;

import java.net.InetAddress;
import java.net.UnknownHostException;

/**
 * IPv4 and IPv6 addresses as two longs, the way flows store them: IPv6
 * addresses as their 128 bits (high, low), IPv4 addresses mapped into
 * {@code ::ffff:a.b.c.d} (passt's {@code union inany_addr}). Keeping addresses
 * as primitives lets the flow table compare and hash them without allocating.
 * The conversion helpers here allocate and are meant for configuration and
 * display, not for the data path.
 */
public final class InetAddr {
    /** The high word of every IPv4-mapped address. */
    public static final long V4_HI = 0L;
    private static final long V4_LO_PREFIX = 0x0000_ffff_0000_0000L;

    private InetAddr() {
    }

    /** The low word of the IPv4-mapped form of {@code v4} (host byte order int). */
    public static long v4Lo(int v4) {
        return V4_LO_PREFIX | (v4 & 0xffff_ffffL);
    }

    /** Whether (hi, lo) is an IPv4-mapped address. */
    public static boolean isV4(long hi, long lo) {
        return hi == 0 && (lo & 0xffff_ffff_0000_0000L) == V4_LO_PREFIX;
    }

    /** Whether (hi, lo) is a loopback address: 127.0.0.0/8 (IPv4-mapped) or ::1. */
    public static boolean isLoopback(long hi, long lo) {
        return isV4(hi, lo) ? (v4(lo) >>> 24) == 127 : hi == 0 && lo == 1;
    }

    /** Whether (hi, lo) is an IPv6 link-local unicast address (fe80::/10). */
    public static boolean isLinkLocal6(long hi, long lo) {
        return (hi >>> 54) == 0x3fa;
    }

    /** The IPv4 address in (hi, lo), as an int in host order; only valid if {@link #isV4}. */
    public static int v4(long lo) {
        return (int) lo;
    }

    /** Parses a literal address (no name lookup) into {hi, lo}. */
    public static long[] parse(String literal) {
        if (literal == null || literal.isEmpty() || !literal.matches("[0-9a-fA-F:.%]+"))
            throw new IllegalArgumentException("not an IP address: " + literal);
        try {
            return of(InetAddress.getByName(literal));
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("not an IP address: " + literal, e);
        }
    }

    /** Converts a java.net address into {hi, lo}. */
    public static long[] of(InetAddress a) {
        byte[] b = a.getAddress();
        if (b.length == 4) {
            int v4 = ((b[0] & 0xff) << 24) | ((b[1] & 0xff) << 16) | ((b[2] & 0xff) << 8) | (b[3] & 0xff);
            return new long[] {V4_HI, v4Lo(v4)};
        }
        long hi = 0, lo = 0;
        for (int i = 0; i < 8; i++)
            hi = (hi << 8) | (b[i] & 0xff);
        for (int i = 8; i < 16; i++)
            lo = (lo << 8) | (b[i] & 0xff);
        return new long[] {hi, lo};
    }

    /** Formats (hi, lo): dotted quad for IPv4-mapped, RFC 5952 style otherwise. */
    public static String format(long hi, long lo) {
        if (isV4(hi, lo)) {
            int v = v4(lo);
            return ((v >>> 24) & 0xff) + "." + ((v >>> 16) & 0xff) + "." + ((v >>> 8) & 0xff) + "." + (v & 0xff);
        }
        int[] g = new int[8];
        for (int i = 0; i < 4; i++) {
            g[i] = (int) (hi >>> (48 - 16 * i)) & 0xffff;
            g[4 + i] = (int) (lo >>> (48 - 16 * i)) & 0xffff;
        }
        // Longest run of two or more zero groups is shortened to "::".
        int bestStart = -1, bestLen = 1;
        for (int i = 0; i < 8; ) {
            if (g[i] != 0) {
                i++;
                continue;
            }
            int j = i;
            while (j < 8 && g[j] == 0)
                j++;
            if (j - i > bestLen) {
                bestStart = i;
                bestLen = j - i;
            }
            i = j;
        }
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 8; i++) {
            if (i == bestStart) {
                sb.append("::");
                i += bestLen - 1;
                continue;
            }
            if (sb.length() > 0 && sb.charAt(sb.length() - 1) != ':')
                sb.append(':');
            sb.append(Integer.toHexString(g[i]));
        }
        return sb.toString();
    }

    /** Formats an address and port: {@code a.b.c.d:port} or {@code [v6]:port}. */
    public static String format(long hi, long lo, int port) {
        String a = format(hi, lo);
        return isV4(hi, lo) ? a + ":" + port : "[" + a + "]:" + port;
    }

    /**
     * The address in configuration property {@code key} as {hi, lo}, or null
     * if it is absent or not an address literal (instance properties found
     * while configuring, such as {@code guest.address4}, and option values).
     */
    public static long[] property(java.util.Map<String, Object> properties, String key) {
        Object v = properties.get(key);
        if (v == null)
            return null;
        try {
            return parse(v.toString().trim());
        } catch (IllegalArgumentException e) {
            return null;
        }
    }
}
