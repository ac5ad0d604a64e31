package io.penne.linux;

/**
 * One network interface as reported by an {@code RTM_GETLINK} dump
 * ({@link Netlink#links}).
 *
 * <p>{@code flags} are the {@code IFF_*} device flags ({@link Netlink#IFF_UP},
 * {@link Netlink#IFF_LOOPBACK}, {@link Netlink#IFF_LOWER_UP} ...), {@code mac}
 * the link-layer address ({@code IFLA_ADDRESS}, 6 bytes on Ethernet-like
 * links, empty when the link has none, e.g. a layer-3 tun device).
 *
 * <p>Immutable by convention: the array is the record's own and must not be
 * modified.
 */
public record NetlinkLink(int index, String name, int flags, int mtu, byte[] mac) {
    /** True if administratively up. */
    public boolean isUp() {
        return (flags & Netlink.IFF_UP) != 0;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof NetlinkLink l && l.index == index && l.name.equals(name) && l.flags == flags
                && l.mtu == mtu && java.util.Arrays.equals(l.mac, mac);
    }

    @Override
    public int hashCode() {
        return index * 31 + name.hashCode();
    }

    @Override
    public String toString() {
        return index + ": " + name + " flags 0x" + Integer.toHexString(flags) + " mtu " + mtu + " mac "
                + Netlink.formatMac(mac);
    }
}
