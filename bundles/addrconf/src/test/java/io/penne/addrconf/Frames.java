package io.penne.addrconf;

import java.nio.ByteBuffer;

/** Builds test frames from readable pieces, with an independent checksum. */
final class Frames {
    static final long GUEST_MAC = 0x525400123456L;
    static final long OUR_MAC = 0x9a559a559a55L;

    private Frames() {
    }

    static byte[] hex(String s) {
        s = s.replaceAll("[\\s:|]", "");
        byte[] b = new byte[s.length() / 2];
        for (int i = 0; i < b.length; i++)
            b[i] = (byte) Integer.parseInt(s.substring(2 * i, 2 * i + 2), 16);
        return b;
    }

    static String hex(ByteBuffer b, int off, int len) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < len; i++)
            sb.append(String.format("%02x", b.get(off + i) & 0xff));
        return sb.toString();
    }

    /** A direct buffer of {@code size} bytes holding {@code frame} at {@code off}. */
    static ByteBuffer at(byte[] frame, int off, int size) {
        ByteBuffer b = ByteBuffer.allocateDirect(size);
        for (int i = 0; i < frame.length; i++)
            b.put(off + i, frame[i]);
        return b;
    }

    /** ARP request frame (42 bytes) from the guest: sender (GUEST_MAC, sip), target (0, tip). */
    static byte[] arpRequest(String sip, String tip) {
        return hex("ffffffffffff 525400123456 0806"
            + "0001 0800 06 04 0001"
            + "525400123456" + sip
            + "000000000000" + tip);
    }

    /**
     * Ethernet + IPv6 + ICMPv6 frame from the guest; the ICMPv6 checksum is
     * filled in (the responder does not check it, but the frames should be real).
     */
    static byte[] icmp6(String src, String dst, int hopLimit, String icmp) {
        byte[] l4 = hex(icmp);
        byte[] s = hex(src), d = hex(dst);
        String frame = "3333ff000002 525400123456 86dd"
            + "60000000" + String.format("%04x", l4.length) + "3a" + String.format("%02x", hopLimit)
            + src + dst + icmp;
        byte[] f = hex(frame);
        int sum = checksum(s, d, l4);
        f[14 + 40 + 2] = (byte) (sum >>> 8);
        f[14 + 40 + 3] = (byte) sum;
        return f;
    }

    /**
     * ICMPv6 checksum, written independently of the responder: one's
     * complement sum of 16-bit words over a pseudo-header laid out in a byte
     * array as RFC 8200 section 8.1 draws it, then the message with its
     * checksum field taken as zero.
     */
    static int checksum(byte[] src, byte[] dst, byte[] icmp) {
        byte[] p = new byte[40 + icmp.length + (icmp.length & 1)];
        System.arraycopy(src, 0, p, 0, 16);
        System.arraycopy(dst, 0, p, 16, 16);
        p[32] = (byte) (icmp.length >>> 24);
        p[33] = (byte) (icmp.length >>> 16);
        p[34] = (byte) (icmp.length >>> 8);
        p[35] = (byte) icmp.length;
        p[39] = 58;
        System.arraycopy(icmp, 0, p, 40, icmp.length);
        p[42] = 0;
        p[43] = 0;
        int sum = 0;
        for (int i = 0; i < p.length; i += 2) {
            sum += ((p[i] & 0xff) << 8) | (p[i + 1] & 0xff);
            sum = (sum & 0xffff) + (sum >>> 16);
        }
        return ~sum & 0xffff;
    }

    /** Up to four random byte changes in {@code len} bytes at {@code off}: random values, bit flips, 0 or 0xff. */
    static void mutate(ByteBuffer b, int off, int len, java.util.SplittableRandom rnd) {
        if (len <= 0)
            return;
        int n = rnd.nextInt(0, 5);
        for (int k = 0; k < n; k++) {
            int at = off + rnd.nextInt(len);
            switch (rnd.nextInt(3)) {
                case 0 -> b.put(at, (byte) rnd.nextInt());
                case 1 -> b.put(at, (byte) (b.get(at) ^ (1 << rnd.nextInt(8))));
                default -> b.put(at, (byte) (rnd.nextBoolean() ? 0 : 0xff));
            }
        }
    }

    /** Every byte of {@code b} up to its limit set to {@code v} (a sentinel to see stray writes). */
    static void fill(ByteBuffer b, byte v) {
        for (int i = 0; i < b.limit(); i++)
            b.put(i, v);
    }

    static byte[] bytes(ByteBuffer b, int off, int len) {
        byte[] r = new byte[len];
        for (int i = 0; i < len; i++)
            r[i] = b.get(off + i);
        return r;
    }
}
