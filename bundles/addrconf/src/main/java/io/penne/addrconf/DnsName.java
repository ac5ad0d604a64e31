package io.penne.addrconf;

import java.nio.charset.StandardCharsets;

/** Domain names in DNS wire format (RFC 1035 section 3.1), for the search lists of DHCP, DHCPv6 and NDP. */
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
}
