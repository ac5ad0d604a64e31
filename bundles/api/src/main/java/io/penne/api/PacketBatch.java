package io.penne.api;

import java.nio.ByteBuffer;

/**
 * Frames from the guest, parsed and validated by the instance, handed to the
 * handler that accepts their protocol. A view over the instance's receive
 * buffer, valid only during the {@link ProtocolHandler#packets} call: copy
 * what must outlive it.
 *
 * <p>Every packet here has passed the Layer 2 and Layer 3 checks (lengths,
 * header lengths, IPv4 header checksum, no fragments, no loopback addresses)
 * and the minimal Layer 4 header check of its protocol (TCP data offset
 * within the segment, UDP length field consistent, ICMP header present).
 * Offsets are absolute positions in {@link #buffer()}; {@link #l4Length}
 * excludes Ethernet padding. Addresses are in {@code io.penne.api.flow.InetAddr}
 * form (IPv4 mapped into IPv6).
 */
public interface PacketBatch {
    /** Packet type of ARP frames (not an IP protocol number). */
    int ARP = 256;
    /**
     * Packet type of IPv6 neighbour discovery (ICMPv6 types 133 to 137), kept
     * apart from other ICMPv6 so that address configuration and echo are
     * separate handlers.
     */
    int NDP = 257;
    /**
     * Packet type of UDP to a DHCP server port: 67 over IPv4, 547 over IPv6.
     * penne is the guest's DHCP and DHCPv6 server, so these never become UDP
     * flows (as in passt, which takes them before its UDP code).
     */
    int DHCP = 258;
    /** Number of packet types: IP protocol numbers 0-255, then {@link #ARP}, {@link #NDP} and {@link #DHCP}. */
    int TYPES = 259;

    int size();

    /** Direct buffer holding the frames (absolute indexing, network byte order). */
    ByteBuffer buffer();

    int frameOffset(int i);

    int frameLength(int i);

    /** Offset of the IP header, or of the ARP payload. */
    int l3Offset(int i);

    /** Offset of the Layer 4 header (IP packets only). */
    int l4Offset(int i);

    /** Layer 4 header and payload length, padding excluded (IP packets only). */
    int l4Length(int i);

    /** 4, 6, or 0 for ARP. */
    int ipVersion(int i);

    /** IP protocol number (after IPv6 extension headers; 58 for NDP, 17 for DHCP), or {@link #ARP}. */
    int protocol(int i);

    long srcHi(int i);

    long srcLo(int i);

    long dstHi(int i);

    long dstLo(int i);
}
