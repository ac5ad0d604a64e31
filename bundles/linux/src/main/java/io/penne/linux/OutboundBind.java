package io.penne.linux;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.util.Map;

/**
 * Where host sockets for the guest's outbound traffic come from: pasta's
 * {@code -o}/{@code --outbound ADDR} (the source address of TCP connections,
 * UDP flows and ICMP echo towards the world) and {@code --outbound-if4} /
 * {@code --outbound-if6 NAME} (those sockets bound to a host interface with
 * {@code SO_BINDTODEVICE}). Instance properties {@code outbound.address4},
 * {@code outbound.address6}, {@code outbound.if4}, {@code outbound.if6}.
 *
 * <p>Handlers apply it to a socket before connecting it, and only towards
 * destinations other than the host's loopback (the guest's gateway address
 * stands for that, and a socket bound to an outside address or interface
 * could not reach it). Built once per instance; {@link #apply} allocates
 * nothing: the interface names sit in native buffers made here.
 */
public final class OutboundBind {
    private final boolean set4, set6;
    private final int addr4;
    private final long addr6Hi, addr6Lo;
    private final NativeBuffer if4, if6;
    private final int if4Len, if6Len;

    private OutboundBind(byte[] a4, byte[] a6, String if4, String if6) {
        set4 = a4 != null;
        addr4 = set4 ? ByteBuffer.wrap(a4).getInt() : 0;
        set6 = a6 != null;
        addr6Hi = set6 ? ByteBuffer.wrap(a6).getLong(0) : 0;
        addr6Lo = set6 ? ByteBuffer.wrap(a6).getLong(8) : 0;
        this.if4 = name(if4);
        this.if6 = name(if6);
        if4Len = if4 == null ? 0 : if4.length() + 1;
        if6Len = if6 == null ? 0 : if6.length() + 1;
    }

    /** From an instance's properties; IllegalArgumentException naming a bad one. */
    public static OutboundBind of(Map<String, Object> p) {
        return new OutboundBind(literal(p, "outbound.address4", true), literal(p, "outbound.address6", false),
            ifname(p, "outbound.if4"), ifname(p, "outbound.if6"));
    }

    /** An address literal of the version, never a name to resolve; null if absent. */
    private static byte[] literal(Map<String, Object> p, String key, boolean v4) {
        Object v = p.get(key);
        if (v == null)
            return null;
        String s = v.toString().trim();
        if (!s.isEmpty() && (v4 ? s.matches("[0-9.]+") : s.contains(":"))) { // literals only: no DNS lookup
            try {
                InetAddress a = InetAddress.getByName(s);
                if (v4 ? a instanceof Inet4Address : a instanceof Inet6Address)
                    return a.getAddress();
            } catch (UnknownHostException e) {
                // refused below
            }
        }
        throw new IllegalArgumentException("'" + key + "' is not an IPv" + (v4 ? 4 : 6) + " address: '" + s + "'");
    }

    private static String ifname(Map<String, Object> p, String key) {
        Object v = p.get(key);
        if (v == null)
            return null;
        String n = v.toString().trim();
        if (n.isEmpty() || n.length() > 15 || n.contains("/") || n.contains(" "))
            throw new IllegalArgumentException("'" + key + "' is not an interface name: '" + n + "'");
        return n;
    }

    private static NativeBuffer name(String n) {
        if (n == null)
            return null;
        NativeBuffer b = NativeBuffer.allocate(n.length() + 1);
        Sys.putCString(b, 0, n);
        return b;
    }

    /**
     * Binds socket {@code fd} of the given IP version to the interface and to
     * the source address (with {@code port}, or any port if that one is
     * taken) where configured, or to {@code port} alone if {@code port} is
     * not 0. Best effort, as pasta's: each step is tried even if the one
     * before failed, and the socket stays usable. Returns 0, or the first
     * {@code -errno} for the caller to count.
     */
    public int apply(int fd, boolean v4, int port, NativeBuffer scratch) {
        int err = 0;
        NativeBuffer dev = v4 ? if4 : if6;
        if (dev != null) {
            err = Math.min(0, Sys.setsockopt(fd, Sockets.SOL_SOCKET, Sockets.SO_BINDTODEVICE,
                dev.address(0, dev.size()), v4 ? if4Len : if6Len));
            dev.keepAlive();
        }
        boolean addr = v4 ? set4 : set6;
        if (!addr && port == 0)
            return err;
        int r = bind(fd, v4, port, scratch);
        if (r < 0 && port != 0)
            r = bind(fd, v4, 0, scratch);
        if (r < 0 && err == 0)
            err = r;
        if (r < 0 && addr && port != 0) // the address cannot be had: keep the port, any address
            bindAny(fd, v4, port, scratch);
        return err;
    }

    private static int bindAny(int fd, boolean v4, int port, NativeBuffer scratch) {
        int r = v4 ? Sockets.bind4(fd, 0, port, scratch) : Sockets.bind6(fd, 0, 0, port, scratch);
        return r < 0 ? (v4 ? Sockets.bind4(fd, 0, 0, scratch) : Sockets.bind6(fd, 0, 0, 0, scratch)) : r;
    }

    private int bind(int fd, boolean v4, int port, NativeBuffer scratch) {
        return v4 ? Sockets.bind4(fd, set4 ? addr4 : 0, port, scratch)
            : Sockets.bind6(fd, set6 ? addr6Hi : 0, set6 ? addr6Lo : 0, port, scratch);
    }
}
