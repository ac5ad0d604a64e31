package io.penne.api.flow;

/**
 * What kind of traffic a flow carries, and so which handler owns it. The
 * ordinals are stable: they are stored in flows and in shell output.
 */
public enum FlowType {
    /** Not yet typed, or free. */
    NONE("-", 0),
    /** TCP between the guest's Layer 2 and a host socket. */
    TCP("TCP", 6),
    /** TCP between a namespace loopback socket and a host loopback socket. */
    TCP_SPLICE("TCP_SPLICE", 6),
    /** ICMP echo through a ping socket. */
    PING4("PING4", 1),
    /** ICMPv6 echo through a ping socket. */
    PING6("PING6", 58),
    /** UDP pseudo-connection. */
    UDP("UDP", 17);

    private final String label;
    private final int ipProtocol;

    FlowType(String label, int ipProtocol) {
        this.label = label;
        this.ipProtocol = ipProtocol;
    }

    /** Short name used in shell output and filters. */
    public String label() {
        return label;
    }

    /** IP protocol number used in the flow hash key (0 for NONE). */
    public int ipProtocol() {
        return ipProtocol;
    }

    /** Parses a label or enum name, case-insensitively; null if none matches. */
    public static FlowType parse(String s) {
        for (FlowType t : values())
            if (t.label.equalsIgnoreCase(s) || t.name().equalsIgnoreCase(s))
                return t;
        return null;
    }
}
