package io.penne.linux;

import java.util.Arrays;

/**
 * One route as reported by an {@code RTM_GETROUTE} dump ({@link Netlink#routes}).
 *
 * <p>Addresses are in network byte order. {@code destination} always has the
 * family's length (4 or 16 bytes) and is all zeroes for a default route
 * ({@code destinationLength} 0), whose {@code RTA_DST} the kernel omits.
 * {@code gateway} is {@code null} for an on-link route; it is 16 bytes for an
 * IPv4 route via an IPv6 next hop ({@code RTA_VIA}). For a multipath route,
 * {@code oif} and {@code gateway} are those of its first next hop. {@code oif}
 * is 0 when the route names no interface (blackhole, unreachable),
 * {@code priority} is the metric (0 when absent). {@code protocol},
 * {@code scope}, {@code type} and {@code table} are the {@code RTPROT_*},
 * {@code RT_SCOPE_*}, {@code RTN_*} and {@code RT_TABLE_*} values.
 *
 * <p>Immutable by convention: the arrays are the record's own and must not be
 * modified. {@link #equals} and {@link #hashCode} compare their bytes.
 */
public record NetlinkRoute(int family, byte[] destination, int destinationLength, byte[] gateway, int oif,
                           int priority, int protocol, int scope, int type, int table) {
    /** True for a default route (prefix length 0). */
    public boolean isDefault() {
        return destinationLength == 0;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof NetlinkRoute r && r.family == family && r.destinationLength == destinationLength
                && r.oif == oif && r.priority == priority && r.protocol == protocol && r.scope == scope
                && r.type == type && r.table == table && Arrays.equals(r.destination, destination)
                && Arrays.equals(r.gateway, gateway);
    }

    @Override
    public int hashCode() {
        return ((Arrays.hashCode(destination) * 31 + destinationLength) * 31 + oif) * 31 + Arrays.hashCode(gateway);
    }

    @Override
    public String toString() {
        StringBuilder s = new StringBuilder();
        s.append(isDefault() ? "default" : Netlink.formatAddress(destination) + "/" + destinationLength);
        if (gateway != null)
            s.append(" via ").append(Netlink.formatAddress(gateway));
        s.append(" oif ").append(oif).append(" metric ").append(priority).append(" proto ").append(protocol)
                .append(" scope ").append(scope).append(" type ").append(type).append(" table ").append(table);
        return s.toString();
    }
}
