package io.penne.linux;

import java.util.Arrays;

/**
 * One interface address as reported by an {@code RTM_GETADDR} dump
 * ({@link Netlink#addresses}).
 *
 * <p>{@code address} is the local address in network byte order, 4 bytes for
 * {@link Sockets#AF_INET}, 16 for {@link Sockets#AF_INET6} ({@code IFA_LOCAL}
 * when the kernel sent one, otherwise {@code IFA_ADDRESS}: the two differ
 * only on point-to-point links, where {@code IFA_ADDRESS} is the peer).
 * {@code scope} is an {@code RT_SCOPE_*} value ({@link Netlink#RT_SCOPE_UNIVERSE},
 * {@link Netlink#RT_SCOPE_LINK}, {@link Netlink#RT_SCOPE_HOST}); {@code flags}
 * are the 32-bit {@code IFA_F_*} flags ({@code IFA_FLAGS} if present, else the
 * 8-bit header field).
 *
 * <p>Immutable by convention: the array is the record's own and must not be
 * modified. {@link #equals} and {@link #hashCode} compare the address bytes.
 */
public record NetlinkAddress(int ifindex, int family, byte[] address, int prefixLength, int scope, int flags) {
    /** True for IPv4. */
    public boolean isIpv4() {
        return family == Sockets.AF_INET;
    }

    /** True for an address the kernel will not use as a source ({@code IFA_F_DEPRECATED}). */
    public boolean isDeprecated() {
        return (flags & Netlink.IFA_F_DEPRECATED) != 0;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof NetlinkAddress a && a.ifindex == ifindex && a.family == family
                && a.prefixLength == prefixLength && a.scope == scope && a.flags == flags
                && Arrays.equals(a.address, address);
    }

    @Override
    public int hashCode() {
        return ((ifindex * 31 + family) * 31 + prefixLength) * 31 + Arrays.hashCode(address);
    }

    @Override
    public String toString() {
        return Netlink.formatAddress(address) + "/" + prefixLength + " if " + ifindex + " scope " + scope
                + " flags 0x" + Integer.toHexString(flags);
    }
}
