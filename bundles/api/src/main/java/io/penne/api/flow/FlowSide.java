package io.penne.api.flow;

/**
 * Addresses and ports of one side of a flow, from penne's point of view (as
 * passt's {@code struct flowside}): the endpoint is the remote peer on that
 * interface, "ours" is the address and port penne uses there. Addresses are
 * kept as two longs each (see {@link InetAddr}). Written only by the flow
 * table while the flow is being set up; readable by everybody afterwards.
 */
public final class FlowSide {
    long eaddrHi, eaddrLo, oaddrHi, oaddrLo;
    int eport, oport;

    void set(long eaddrHi, long eaddrLo, int eport, long oaddrHi, long oaddrLo, int oport) {
        this.eaddrHi = eaddrHi;
        this.eaddrLo = eaddrLo;
        this.eport = eport;
        this.oaddrHi = oaddrHi;
        this.oaddrLo = oaddrLo;
        this.oport = oport;
    }

    void clear() {
        set(0, 0, 0, 0, 0, 0);
    }

    public long eaddrHi() { return eaddrHi; }
    public long eaddrLo() { return eaddrLo; }
    public long oaddrHi() { return oaddrHi; }
    public long oaddrLo() { return oaddrLo; }
    public int eport() { return eport; }
    public int oport() { return oport; }

    /** Whether both addresses are IPv4 (mapped). */
    public boolean isV4() {
        return InetAddr.isV4(eaddrHi, eaddrLo) && InetAddr.isV4(oaddrHi, oaddrLo);
    }

    /** Whether this side matches the given endpoint and our address and port. */
    public boolean matches(long eHi, long eLo, int ePort, long oHi, long oLo, int oPort) {
        return eaddrLo == eLo && eaddrHi == eHi && eport == ePort
            && oaddrLo == oLo && oaddrHi == oHi && oport == oPort;
    }

    /** {@code endpoint -> ours}, e.g. {@code 10.0.0.2:4000 -> 10.0.0.1:80}. */
    public String format() {
        return InetAddr.format(eaddrHi, eaddrLo, eport) + " -> " + InetAddr.format(oaddrHi, oaddrLo, oport);
    }
}
