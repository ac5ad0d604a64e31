package io.penne.api.flow;

/**
 * A "penne interface": where one side of a flow lives (passt's pif).
 */
public enum Pif {
    /** No interface: the side is not set up yet. */
    NONE,
    /** Ordinary sockets in the host's (penne's own) network namespace. */
    HOST,
    /** The guest's Layer 2: tap device, stream socket or vhost-user. */
    TAP,
    /** Sockets inside the guest namespace, for spliced loopback traffic. */
    SPLICE;

    /** Parses a name case-insensitively; null if none matches. */
    public static Pif parse(String s) {
        for (Pif p : values())
            if (p.name().equalsIgnoreCase(s))
                return p;
        return null;
    }
}
