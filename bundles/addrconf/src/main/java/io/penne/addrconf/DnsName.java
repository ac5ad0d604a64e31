package io.penne.addrconf;

import java.nio.charset.StandardCharsets;

/**
 * Domain names in DNS wire format (RFC 1035 section 3.1), for the search
 * lists of DHCP, DHCPv6 and NDP and the guest's own name in the Client FQDN
 * options.
 */
final class DnsName {
    private DnsName() {
    }

    /**
     * {@code name} as length-prefixed labels ending with the root's 0 byte
     * ("example.com" and "example.com." alike), or null if it has an empty
     * label, a label over 63 bytes, or is over 255 bytes encoded.
     */
    static byte[] encode(String name) {
        if (name.endsWith("."))
            name = name.substring(0, name.length() - 1);
        if (name.isEmpty())
            return null;
        byte[] text = name.getBytes(StandardCharsets.UTF_8);
        byte[] wire = new byte[text.length + 2];
        if (wire.length > 255)
            return null;
        int lenAt = 0, n = 0;
        for (int i = 0; i <= text.length; i++) {
            if (i == text.length || text[i] == '.') {
                if (n == 0 || n > 63)
                    return null;
                wire[lenAt] = (byte) n;
                lenAt = i + 1;
                n = 0;
            } else {
                wire[i + 1] = text[i];
                n++;
            }
        }
        wire[wire.length - 1] = 0;
        return wire;
    }

    /**
     * The guest's fully qualified name ({@code --fqdn}) in wire format, or
     * null where {@link #encode} refuses it or a character is not visible
     * ASCII (0x21 to 0x7e). DNS itself would carry any byte, but the client
     * takes this name as its own and may hand it to scripts and to the
     * system's host name, where a control byte or a space can do harm, and
     * non-ASCII text has no encoding the client could know. (RFC 1123's
     * letters, digits and hyphens would be narrower still, but names with
     * underscores are in use.)
     */
    static byte[] fqdn(String name) {
        return visibleAscii(name) ? encode(name) : null;
    }

    /** Whether every character of {@code s} is visible ASCII, from '!' to '~'. */
    static boolean visibleAscii(String s) {
        for (int i = 0; i < s.length(); i++)
            if (s.charAt(i) <= ' ' || s.charAt(i) > '~')
                return false;
        return true;
    }
}
