package io.penne.linux;

import java.nio.charset.StandardCharsets;

/**
 * A tap device: the Ethernet link between penne and the namespace, as a
 * non-blocking file descriptor carrying one frame per read or write.
 *
 * <p>Theory of operation (passt's {@code tap_ns_tun()}): {@link #open} opens
 * {@code /dev/net/tun} ({@code O_RDWR|O_NONBLOCK|O_CLOEXEC}) and attaches it
 * with {@code TUNSETIFF} to a new interface with {@code IFF_TAP|IFF_NO_PI}:
 * layer 2, and no packet-information header, so every read returns exactly
 * one Ethernet frame (destination MAC first) and every write must be one. The
 * interface is created in the network namespace <em>of the calling
 * thread</em>, so call {@link #open} on the namespace thread, normally as
 * {@code netns.call(() -> Tap.open("tap0"))}; the returned object may then be
 * used from any one thread (the event loop) without entering the namespace.
 * The kernel fills in the name it chose (an empty name or a pattern such as
 * {@code "tap%d"} lets it pick), and {@link #open} then asks for the ifindex
 * ({@code SIOCGIFINDEX}) and the kernel's random MAC ({@code SIOCGIFHWADDR})
 * through a throwaway {@code AF_INET} datagram socket, which the same thread
 * creates in the same namespace. The interface starts down, without
 * addresses; configuring it is netlink's job. It disappears when the fd is
 * closed (it is not made persistent).
 *
 * <p>Frame I/O: {@link #read} and {@link #write} are one system call each,
 * allocation-free, and return byte counts or {@code -errno}, never throw:
 * read gives {@code -EAGAIN} when no frame is queued (always the case while
 * the link is down), write gives {@code -EIO} while the link is down and
 * {@code -EINVAL} for less than an Ethernet header (both observed on 6.18,
 * see {@code TapTest}). A buffer too small for a frame truncates it
 * (the rest is lost), so read buffers should hold 65535 + 14 bytes; 1514
 * suffices only when the MTU is never raised.
 *
 * <p>Thread rules: {@link #open} on the namespace thread; afterwards the
 * accessors from anywhere, {@link #read}/{@link #write} from the thread that
 * owns the buffers, {@link #close} once.
 */
public final class Tap implements AutoCloseable {
    /** Where tun/tap devices are cloned from. */
    public static final String TUN_PATH = "/dev/net/tun";
    /** Ethernet header: destination MAC, source MAC, ethertype. */
    public static final int ETH_HLEN = 14;

    private final int fd;
    private final String name;
    private final int ifindex;
    private final long mac;
    private boolean closed;

    /** Size of {@code struct virtio_net_hdr}, the tap's default with {@code IFF_VNET_HDR}. */
    public static final int VNET_HDR_LEN = 10;
    private final int vnetHdrLen;

    /** Bytes of virtio-net header before each frame: {@value #VNET_HDR_LEN} or 0. */
    public int vnetHdrLen() {
        return vnetHdrLen;
    }

    private Tap(int fd, String name, int ifindex, long mac, int vnetHdrLen) {
        this.vnetHdrLen = vnetHdrLen;
        this.fd = fd;
        this.name = name;
        this.ifindex = ifindex;
        this.mac = mac;
    }

    /**
     * Creates tap interface {@code name} (at most {@link Sys#IFNAMSIZ} - 1
     * bytes; empty or {@code "...%d"} to let the kernel choose) in the calling
     * thread's network namespace. Throws {@link SysException} naming the
     * failed step (open of /dev/net/tun: ENOENT without the tun module,
     * EACCES/EPERM without CAP_NET_ADMIN; TUNSETIFF: EBUSY if the name is
     * taken by a device that is not a free tap, EINVAL for a bad name), closing
     * whatever it had opened.
     */
    public static Tap open(String name) {
        return open(name, false);
    }

    /**
     * As {@link #open(String)}; with {@code vnetHdr}, every frame read or
     * written is preceded by a {@value #VNET_HDR_LEN}-byte {@code struct
     * virtio_net_hdr} ({@code IFF_VNET_HDR}). Writes can then leave the TCP
     * or UDP checksum to be completed by the kernel ({@code
     * VIRTIO_NET_HDR_F_NEEDS_CSUM}), which for a frame delivered inside the
     * namespace means no checksum is computed at all; reads carry a header
     * with nothing to act on, since no offloads are enabled for them.
     */
    public static Tap open(String name, boolean vnetHdr) {
        byte[] nameBytes = name.getBytes(StandardCharsets.US_ASCII);
        if (nameBytes.length >= Sys.IFNAMSIZ || name.indexOf('\0') >= 0 || name.indexOf('/') >= 0)
            throw new IllegalArgumentException("bad interface name '" + name + "'");
        NativeBuffer ifr = NativeBuffer.allocate(64);
        int fd = Sys.check(Sys.open(TUN_PATH, Sys.O_RDWR | Sys.O_NONBLOCK | Sys.O_CLOEXEC, 0, ifr), "open(" + TUN_PATH + ")");
        int sock = -1;
        try {
            ifr.zero(0, Sys.IFREQ_SIZE);
            ifr.put(0, nameBytes, 0, nameBytes.length);
            ifr.putShort(Sys.IFREQ_UNION_OFFSET, (short) (Sys.IFF_TAP | Sys.IFF_NO_PI | (vnetHdr ? Sys.IFF_VNET_HDR : 0)));
            Sys.check(Sys.ioctl(fd, Sys.TUNSETIFF, ifr, 0, Sys.IFREQ_SIZE), "ioctl(TUNSETIFF, " + name + ")");
            // The kernel wrote back the actual name (a "%d" pattern resolved).
            String actual = ifName(ifr);

            // Interface ioctls need a socket of the namespace; any family will do.
            sock = Sys.check(Sockets.socket(Sockets.AF_INET, Sockets.SOCK_DGRAM, 0), "socket(AF_INET, SOCK_DGRAM)");
            Sys.check(Sys.ioctl(sock, Sys.SIOCGIFINDEX, ifr, 0, Sys.IFREQ_SIZE), "ioctl(SIOCGIFINDEX, " + actual + ")");
            int ifindex = ifr.getInt(Sys.IFREQ_UNION_OFFSET);
            // Same ifr: the name is still in place, the union is overwritten.
            Sys.check(Sys.ioctl(sock, Sys.SIOCGIFHWADDR, ifr, 0, Sys.IFREQ_SIZE), "ioctl(SIOCGIFHWADDR, " + actual + ")");
            // ifr_hwaddr is a struct sockaddr: sa_family (ARPHRD_ETHER), then sa_data holding the MAC.
            long mac = 0;
            for (int i = 0; i < 6; i++)
                mac = mac << 8 | (ifr.getByte(Sys.IFREQ_UNION_OFFSET + 2 + i) & 0xff);
            Tap tap = new Tap(fd, actual, ifindex, mac, vnetHdr ? VNET_HDR_LEN : 0);
            fd = -1; // owned by tap now
            return tap;
        } finally {
            if (sock >= 0)
                Sys.close(sock);
            if (fd >= 0)
                Sys.close(fd);
        }
    }

    /**
     * Whether the kernel takes UDP segmentation offload frames written to the
     * tap {@code fd} (opened with a virtio-net header): one frame of
     * {@code VIRTIO_NET_HDR_GSO_UDP_L4} carrying several datagrams of one
     * flow, which the kernel splits again (Linux 6.2 and later). The kernel
     * has no query for what it accepts on write, but the same release taught
     * {@code TUNSETOFFLOAD} the USO flags, and an unknown flag is refused
     * with EINVAL, so setting them answers. They are cleared again at once:
     * they also say what the reader (penne) takes, and penne reads frames
     * whole, checksummed and segmented. False for anything that is not a tap.
     */
    public static boolean acceptsUdpSegments(int fd) {
        if (Sys.ioctl(fd, Sys.TUNSETOFFLOAD, Sys.TUN_F_CSUM | Sys.TUN_F_USO4 | Sys.TUN_F_USO6) < 0)
            return false;
        Sys.ioctl(fd, Sys.TUNSETOFFLOAD, 0);
        return true;
    }

    private static String ifName(NativeBuffer ifr) {
        int len = 0;
        while (len < Sys.IFNAMSIZ && ifr.getByte(len) != 0)
            len++;
        byte[] b = new byte[len];
        ifr.get(0, b, 0, len);
        return new String(b, StandardCharsets.US_ASCII);
    }

    /** The non-blocking, close-on-exec tap file descriptor (for epoll). */
    public int fd() {
        return fd;
    }

    /** The interface name the kernel gave the device. */
    public String name() {
        return name;
    }

    /** The interface index in its namespace (&gt; 0). */
    public int ifindex() {
        return ifindex;
    }

    /** The interface's MAC (the namespace side's), most significant byte first in bits 47-40. */
    public long macBits() {
        return mac;
    }

    /** A fresh copy of the interface's MAC. */
    public byte[] mac() {
        byte[] b = new byte[6];
        for (int i = 0; i < 6; i++)
            b[i] = (byte) (mac >>> (40 - 8 * i));
        return b;
    }

    /**
     * Reads one frame, sent by the namespace, into {@code buf[offset, offset +
     * len)}: its length, or {@code -EAGAIN} if none is queued, or another
     * {@code -errno}. Allocation-free.
     */
    public int read(NativeBuffer buf, int offset, int len) {
        return (int) Sys.read(fd, buf, offset, len);
    }

    /**
     * Delivers one Ethernet frame, {@code buf[offset, offset + len)}, to the
     * namespace: {@code len}, or {@code -errno}: {@code -EIO} while the
     * interface is down (the frame is dropped), {@code -EINVAL} for a frame
     * shorter than {@link #ETH_HLEN}. Allocation-free.
     */
    public int write(NativeBuffer buf, int offset, int len) {
        return (int) Sys.write(fd, buf, offset, len);
    }

    /** Closes the fd, which removes the interface. Idempotent. */
    @Override
    public void close() {
        if (!closed) {
            closed = true;
            Sys.close(fd);
        }
    }

    @Override
    public String toString() {
        return String.format("Tap[%s #%d fd %d mac %012x]", name, ifindex, fd, mac);
    }
}
