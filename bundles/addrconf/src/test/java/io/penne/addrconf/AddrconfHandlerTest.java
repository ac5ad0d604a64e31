package io.penne.addrconf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.penne.api.Counters;
import io.penne.api.EventLoop;
import io.penne.api.GuestDevice;
import io.penne.api.HandlerInfo;
import io.penne.api.Instance;
import io.penne.api.PacketBatch;
import io.penne.api.flow.FlowTable;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class AddrconfHandlerTest {

    static final class FakeCounters implements Counters {
        final List<String> names = new ArrayList<>();
        final List<Long> values = new ArrayList<>();

        @Override
        public int register(String name) {
            int i = names.indexOf(name);
            if (i >= 0)
                return i;
            names.add(name);
            values.add(0L);
            return names.size() - 1;
        }

        @Override
        public void add(int id, long delta) {
            values.set(id, values.get(id) + delta);
        }

        @Override
        public long get(int id) {
            return values.get(id);
        }

        long get(String name) {
            int i = names.indexOf(name);
            return i < 0 ? -1 : values.get(i);
        }

        @Override
        public Map<String, Long> snapshot() {
            Map<String, Long> m = new LinkedHashMap<>();
            for (int i = 0; i < names.size(); i++)
                m.put(names.get(i), values.get(i));
            return m;
        }
    }

    static final class FakeDevice implements GuestDevice {
        final ByteBuffer buf = ByteBuffer.allocateDirect(4096);
        final List<int[]> sent = new ArrayList<>();
        int next;

        @Override
        public ByteBuffer buffer() {
            return buf;
        }

        @Override
        public int reserve(int length) {
            return length > maxFrame() ? -1 : next;
        }

        @Override
        public void send(int offset, int length) {
            sent.add(new int[] {offset, length});
            next = offset + length;
        }

        @Override
        public int flush() {
            return 0;
        }

        @Override
        public int maxFrame() {
            return 1514;
        }

        @Override
        public long ourMac() {
            return Frames.OUR_MAC;
        }

        @Override
        public long guestMac() {
            return Frames.GUEST_MAC;
        }
    }

    static final class FakeInstance implements Instance {
        final FakeCounters counters = new FakeCounters();
        final Map<String, Object> properties = new HashMap<>();
        GuestDevice device = new FakeDevice();

        @Override public String name() { return "test"; }
        @Override public Map<String, Object> properties() { return properties; }
        @Override public EventLoop loop() { return null; }
        @Override public FlowTable flows() { return null; }
        @Override public Counters counters() { return counters; }
        @Override public GuestDevice device() { return device; }
        @Override public int eventType(String name) { return -1; }
        @Override public String eventTypeName(int type) { return null; }
        @Override public List<HandlerInfo> handlers() { return List.of(); }
        @Override public long startedNanos() { return 0; }
    }

    /** Frames laid out one after another, with the offsets the core's parser would give. */
    static final class FakeBatch implements PacketBatch {
        final ByteBuffer buf = ByteBuffer.allocateDirect(4096);
        final List<int[]> p = new ArrayList<>(); // frameOff, frameLen, l3Off, l4Off, l4Len, version, protocol
        int next;

        FakeBatch arp(byte[] f) {
            return add(f, 14, 0, 0, 0, ARP);
        }

        FakeBatch icmp6(byte[] f) {
            return add(f, 14, 54, f.length - 54, 6, 58);
        }

        FakeBatch dhcp4(byte[] f) {
            return add(f, 14, 34, f.length - 34, 4, 17);
        }

        FakeBatch dhcp6(byte[] f) {
            return add(f, 14, 54, f.length - 54, 6, 17);
        }

        FakeBatch add(byte[] f, int l3, int l4, int l4Len, int version, int protocol) {
            for (int i = 0; i < f.length; i++)
                buf.put(next + i, f[i]);
            p.add(new int[] {next, f.length, next + l3, next + l4, l4Len, version, protocol});
            next += (f.length + 7) & ~7;
            return this;
        }

        @Override public int size() { return p.size(); }
        @Override public ByteBuffer buffer() { return buf; }
        @Override public int frameOffset(int i) { return p.get(i)[0]; }
        @Override public int frameLength(int i) { return p.get(i)[1]; }
        @Override public int l3Offset(int i) { return p.get(i)[2]; }
        @Override public int l4Offset(int i) { return p.get(i)[3]; }
        @Override public int l4Length(int i) { return p.get(i)[4]; }
        @Override public int ipVersion(int i) { return p.get(i)[5]; }
        @Override public int protocol(int i) { return p.get(i)[6]; }
        @Override public long srcHi(int i) { return 0; }
        @Override public long srcLo(int i) { return 0; }
        @Override public long dstHi(int i) { return 0; }
        @Override public long dstLo(int i) { return 0; }
    }

    static byte[] ns(String src, String target) {
        return Frames.icmp6(src, NdpResponderTest.SOLICITED_NODE, 255,
            NdpResponderTest.ns(target, NdpResponderTest.SLLAO));
    }

    @Test
    void declaresItsTypes() {
        AddrconfHandler h = new AddrconfHandler();
        assertEquals("addrconf", h.name());
        assertTrue(h.eventTypes().isEmpty());
        assertTrue(h.flowTypes().isEmpty());
        assertArrayEquals(new int[] {PacketBatch.ARP, PacketBatch.NDP, PacketBatch.DHCP}, h.packetTypes());
    }

    @Test
    void answersAndCountsAMixedBatch() {
        AddrconfHandler h = new AddrconfHandler();
        FakeInstance inst = new FakeInstance();
        inst.properties.put("guest.address4", "10.0.2.15");
        inst.properties.put("guest.address6", "2001:db8::10");
        inst.properties.put("our.address6.ll", "fe80::1");
        h.attach(inst, false);
        assertEquals(0, inst.counters.get("addrconf.config.invalid"));

        FakeBatch b = new FakeBatch()
            .arp(Frames.arpRequest("0a00020f", "0a000202")) // answered
            .arp(Frames.arpRequest("0a00020f", "0a00020f")) // announcement
            .arp(Frames.arpRequest("0a000202", "0a00020f")) // for the guest's own address
            .icmp6(ns(NdpResponderTest.GUEST_LL, NdpResponderTest.TARGET)) // answered
            .icmp6(ns(NdpResponderTest.UNSPECIFIED, NdpResponderTest.TARGET)) // DAD
            .icmp6(ns(NdpResponderTest.GUEST_LL, "20010db8000000000000000000000010")) // the guest's own
            .icmp6(Frames.icmp6(NdpResponderTest.GUEST_LL, "20010db8000000000000000000000001", 64,
                "8000 0000 1234 0001 6869")) // echo request: not ours
            .add(new byte[60], 14, 34, 8, 4, 58); // IPv4 with protocol 58
        h.packets(inst, b);

        FakeDevice dev = (FakeDevice) inst.device;
        assertEquals(2, dev.sent.size());
        assertEquals(42, dev.sent.get(0)[1]);
        assertEquals(86, dev.sent.get(1)[1]);
        int na = dev.sent.get(1)[0];
        assertEquals(NdpResponderTest.OUR_LL, Frames.hex(dev.buf, na + 22, 16), "NA from our.address6.ll");
        assertEquals(NdpResponderTest.GUEST_LL, Frames.hex(dev.buf, na + 38, 16));

        FakeCounters c = inst.counters;
        assertEquals(1, c.get("addrconf.arp.replied"));
        assertEquals(1, c.get("addrconf.arp.ignored.announcement"));
        assertEquals(1, c.get("addrconf.arp.ignored.guest-address"));
        assertEquals(1, c.get("addrconf.ndp.advertised"));
        assertEquals(1, c.get("addrconf.ndp.ignored.dad"));
        assertEquals(1, c.get("addrconf.ndp.ignored.guest-address"));
        assertEquals(1, c.get("addrconf.ndp.ignored.not-ndp"));
        assertEquals(1, c.get("addrconf.ndp.ignored.not-ipv6"));
    }

    @Test
    void noNdpLeavesSolicitationsUnansweredButStillAnswersArp() {
        AddrconfHandler h = new AddrconfHandler();
        FakeInstance inst = new FakeInstance();
        inst.properties.put("guest.address4", "10.0.2.15");
        inst.properties.put("ndp", "false"); // --no-ndp
        h.attach(inst, false);
        h.packets(inst, new FakeBatch().arp(Frames.arpRequest("0a00020f", "0a000202"))
            .icmp6(ns(NdpResponderTest.GUEST_LL, NdpResponderTest.TARGET)));
        assertEquals(1, ((FakeDevice) inst.device).sent.size(), "only the ARP reply");
        assertEquals(1, inst.counters.get("addrconf.arp.replied"));
        assertEquals(0, inst.counters.get("addrconf.ndp.advertised"));
        assertEquals(1, inst.counters.get("addrconf.ndp.ignored.disabled"));
    }

    @Test
    void noDeviceIsCounted() {
        AddrconfHandler h = new AddrconfHandler();
        FakeInstance inst = new FakeInstance();
        inst.device = null;
        h.attach(inst, false);
        h.packets(inst, new FakeBatch().arp(Frames.arpRequest("0a00020f", "0a000202"))
            .icmp6(ns(NdpResponderTest.GUEST_LL, NdpResponderTest.TARGET)));
        assertEquals(1, inst.counters.get("addrconf.arp.ignored.no-device"));
        assertEquals(1, inst.counters.get("addrconf.ndp.ignored.no-device"));
    }

    @Test
    void reattachReusesCountersAndPacketsWithoutAttachWork() {
        AddrconfHandler h = new AddrconfHandler();
        FakeInstance inst = new FakeInstance();
        h.packets(inst, new FakeBatch().arp(Frames.arpRequest("0a00020f", "0a000202")));
        int registered = inst.counters.names.size();
        AddrconfHandler replacement = new AddrconfHandler();
        h.detach(inst);
        replacement.attach(inst, true);
        replacement.packets(inst, new FakeBatch().arp(Frames.arpRequest("0a00020f", "0a000202")));
        assertEquals(registered, inst.counters.names.size());
        assertEquals(2, inst.counters.get("addrconf.arp.replied"));
        // unknown guest address: probes are left alone
        replacement.packets(inst, new FakeBatch().arp(Frames.arpRequest("00000000", "0a000202")));
        assertEquals(1, inst.counters.get("addrconf.arp.ignored.probe-guest-unknown"));
    }

    @Test
    void invalidConfigurationIsCountedAndIgnored() {
        AddrconfHandler h = new AddrconfHandler();
        FakeInstance inst = new FakeInstance();
        inst.properties.put("guest.address4", "10.0.2");
        inst.properties.put("guest.address6", "10.0.2.15");
        inst.properties.put("our.address6.ll", "2001:db8::1"); // not link-local
        h.attach(inst, false);
        assertEquals(3, inst.counters.get("addrconf.config.invalid"));
        h.packets(inst, new FakeBatch().icmp6(ns(NdpResponderTest.GUEST_LL, NdpResponderTest.TARGET)));
        FakeDevice dev = (FakeDevice) inst.device;
        assertEquals(NdpResponderTest.TARGET, Frames.hex(dev.buf, dev.sent.get(0)[0] + 22, 16), "NA from the target");
    }

    /** An instance as GuestNamespace records one attached without --config-net. */
    static FakeInstance selfConfiguring() {
        FakeInstance inst = new FakeInstance();
        inst.properties.put("guest.address4", "10.0.2.15");
        inst.properties.put("guest.prefix4", "24");
        inst.properties.put("guest.gateway4", "10.0.2.2");
        inst.properties.put("guest.address6", "2001:db8::10");
        inst.properties.put("our.address6.ll", "fe80::1");
        inst.properties.put("ns.configured", "false");
        return inst;
    }

    static byte[] rs() {
        return Frames.icmp6(NdpResponderTest.GUEST_LL, RouterAdvertiserTest.ALL_ROUTERS, 255,
            "8500 0000 00000000" + RouterAdvertiserTest.SLLAO);
    }

    static byte[] dhcpDiscover() {
        return Dhcp4ResponderTest.request(Dhcp4ResponderTest.discover(Dhcp4ResponderTest.PRL));
    }

    static byte[] dhcp6Solicit() {
        return Dhcp6ResponderTest.dhcp("0100abcd" + Dhcp6ResponderTest.CLIENT_ID + Dhcp6ResponderTest.IA_NA_EMPTY
            + Dhcp6ResponderTest.ELAPSED);
    }

    @Test
    void selfConfiguringGuestGetsAdvertisementsAndLeases() {
        AddrconfHandler h = new AddrconfHandler();
        FakeInstance inst = selfConfiguring();
        h.attach(inst, false);
        assertEquals(0, inst.counters.get("addrconf.config.invalid"));
        h.packets(inst, new FakeBatch().icmp6(rs()).dhcp4(dhcpDiscover()).dhcp6(dhcp6Solicit()));
        FakeDevice dev = (FakeDevice) inst.device;
        assertEquals(3, dev.sent.size());
        int ra = dev.sent.get(0)[0];
        assertEquals("86", Frames.hex(dev.buf, ra + 54, 1), "a router advertisement");
        assertEquals(RouterAdvertiserTest.OUR_LL, Frames.hex(dev.buf, ra + 22, 16));
        assertEquals("20010db800000000", Frames.hex(dev.buf, ra + 54 + 16 + 16, 8), "the guest's /64");
        int offer = dev.sent.get(1)[0];
        assertEquals("0a00020f", Frames.hex(dev.buf, offer + 42 + 16, 4), "yiaddr: the guest's address");
        int adv = dev.sent.get(2)[0];
        assertEquals("02", Frames.hex(dev.buf, adv + 62, 1), "DHCPv6 ADVERTISE");
        FakeCounters c = inst.counters;
        assertEquals(1, c.get("addrconf.ra.solicited"));
        assertEquals(1, c.get("addrconf.dhcp.replied"));
        assertEquals(1, c.get("addrconf.dhcpv6.replied"));

        // bad ones are counted by reason
        byte[] badRs = rs();
        badRs[21] = 64; // hop limit
        byte[] release = Dhcp6ResponderTest.dhcp("0800abcd" + Dhcp6ResponderTest.CLIENT_ID);
        byte[] reply = dhcpDiscover();
        reply[42] = 2; // BOOTREPLY from the guest
        h.packets(inst, new FakeBatch().icmp6(badRs).dhcp4(reply).dhcp6(release));
        assertEquals(3, dev.sent.size());
        assertEquals(1, c.get("addrconf.ra.ignored.hop-limit"));
        assertEquals(1, c.get("addrconf.dhcp.ignored.not-request"));
        assertEquals(1, c.get("addrconf.dhcpv6.ignored.release"));

        // unsolicited advertisements go to all nodes once the guest has sent a frame
        AddrconfHandler.unsolicitedAdvertisement(inst, h.instances.get(inst));
        assertEquals(3, dev.sent.size(), "nothing before the core counted a frame from the guest");
        c.inc(c.register("ingress.frames"));
        AddrconfHandler.unsolicitedAdvertisement(inst, h.instances.get(inst));
        assertEquals(4, dev.sent.size());
        assertEquals("333300000001", Frames.hex(dev.buf, dev.sent.get(3)[0], 6));
        assertEquals(1, c.get("addrconf.ra.unsolicited"));
    }

    @Test
    void attachedBeforeTheDeviceTheServersStartWithIt() {
        AddrconfHandler h = new AddrconfHandler();
        FakeInstance inst = selfConfiguring();
        GuestDevice dev = inst.device;
        inst.device = null; // handlers may be bound before the instance has its tap
        h.attach(inst, false);
        inst.device = dev;
        h.packets(inst, new FakeBatch().icmp6(rs()).dhcp6(dhcp6Solicit()));
        assertEquals(2, ((FakeDevice) dev).sent.size());
        assertEquals(1, inst.counters.get("addrconf.ra.solicited"));
        assertEquals(1, inst.counters.get("addrconf.dhcpv6.replied"));
    }

    @Test
    void switchesAndAConfiguredNamespaceTurnServersOff() {
        for (String[] kv : new String[][] {{"ra", "false"}, {"ns.configured", "true"}, {"ndp", "false"}}) {
            AddrconfHandler h = new AddrconfHandler();
            FakeInstance inst = selfConfiguring();
            inst.properties.put(kv[0], kv[1]);
            h.attach(inst, false);
            h.packets(inst, new FakeBatch().icmp6(rs()));
            assertEquals(0, ((FakeDevice) inst.device).sent.size(), kv[0]);
            assertEquals(1, inst.counters.get(kv[0].equals("ndp") ? "addrconf.ndp.ignored.disabled"
                : "addrconf.ra.ignored.disabled"), kv[0]);
        }
        AddrconfHandler h = new AddrconfHandler();
        FakeInstance inst = selfConfiguring();
        inst.properties.put("dhcp", "false");
        inst.properties.put("dhcpv6", "false");
        h.attach(inst, false);
        h.packets(inst, new FakeBatch().dhcp4(dhcpDiscover()).dhcp6(dhcp6Solicit()));
        assertEquals(0, ((FakeDevice) inst.device).sent.size());
        assertEquals(1, inst.counters.get("addrconf.dhcp.ignored.disabled"));
        assertEquals(1, inst.counters.get("addrconf.dhcpv6.ignored.disabled"));
        // no IPv4 gateway: no DHCP (passt); no IPv6 address: no DHCPv6 and no advertisements
        FakeInstance bare = new FakeInstance();
        bare.properties.put("guest.address4", "10.0.2.15");
        bare.properties.put("our.address6.ll", "fe80::1");
        h.attach(bare, false);
        h.packets(bare, new FakeBatch().dhcp4(dhcpDiscover()).dhcp6(dhcp6Solicit()).icmp6(rs()));
        assertEquals(0, ((FakeDevice) bare.device).sent.size());
        assertEquals(1, bare.counters.get("addrconf.dhcp.ignored.disabled"));
        assertEquals(1, bare.counters.get("addrconf.dhcpv6.ignored.disabled"));
        assertEquals(1, bare.counters.get("addrconf.ra.ignored.disabled"));
    }

    /** Value of DHCP option {@code code} in the reply {@code sent} by the device, or null. */
    static String dhcp4Option(FakeDevice dev, int[] sent, int code) {
        ByteBuffer copy = Frames.at(Frames.bytes(dev.buf, sent[0], sent[1]), 64, 2048);
        return Dhcp4ResponderTest.option(copy, sent[1], code);
    }

    /** Value of DHCPv6 option {@code code} (top level) in the reply {@code sent} by the device, or null. */
    static String dhcp6Option(FakeDevice dev, int[] sent, int code) {
        for (int p = sent[0] + 62 + 4, end = sent[0] + sent[1]; p < end; ) {
            int c = dev.buf.getShort(p) & 0xffff, len = dev.buf.getShort(p + 2) & 0xffff;
            assertTrue(p + 4 + len <= end, "option " + c + " runs past the end");
            if (c == code)
                return Frames.hex(dev.buf, p + 4, len);
            p += 4 + len;
        }
        return null;
    }

    @Test
    void hostnameAndFqdnReachBothServers() {
        AddrconfHandler h = new AddrconfHandler();
        FakeInstance inst = selfConfiguring();
        inst.properties.put("hostname", "guest");
        inst.properties.put("fqdn", "guest.example.com");
        h.attach(inst, false);
        assertEquals(0, inst.counters.get("addrconf.config.invalid"));
        h.packets(inst, new FakeBatch().dhcp4(dhcpDiscover()).dhcp6(dhcp6Solicit()));
        FakeDevice dev = (FakeDevice) inst.device;
        assertEquals(2, dev.sent.size());
        assertEquals(Dhcp6ResponderTest.ascii("guest"), dhcp4Option(dev, dev.sent.get(0), 12));
        assertEquals("04ffff" + Dhcp4ResponderTest.GUEST_WIRE, dhcp4Option(dev, dev.sent.get(0), 81));
        assertEquals("00" + Dhcp6ResponderTest.GUEST_WIRE, dhcp6Option(dev, dev.sent.get(1), 39));

        // an empty value is no name, as pasta's -H "": not counted
        FakeInstance empty = selfConfiguring();
        empty.properties.put("hostname", "");
        empty.properties.put("fqdn", "");
        h.attach(empty, false);
        assertEquals(0, empty.counters.get("addrconf.config.invalid"));
        h.packets(empty, new FakeBatch().dhcp4(dhcpDiscover()).dhcp6(dhcp6Solicit()));
        dev = (FakeDevice) empty.device;
        assertEquals(null, dhcp4Option(dev, dev.sent.get(0), 12));
        assertEquals(null, dhcp4Option(dev, dev.sent.get(0), 81));
        assertEquals(null, dhcp6Option(dev, dev.sent.get(1), 39));
    }

    @Test
    void namesTheOptionsCannotCarryAreCountedAndLeftOut() {
        String[][] bad = {
            {"hostname", "h".repeat(254)}, // over passt's 253 characters
            {"hostname", "gu est"}, // not visible ASCII: a space,
            {"hostname", "guest\n"}, // a control byte,
            {"hostname", "caf\u00e9"}, // beyond ASCII
            {"fqdn", "g".repeat(64) + ".example.com"}, // a label over 63 bytes
            {"fqdn", ("a".repeat(63) + ".").repeat(3) + "d".repeat(62)}, // 256 bytes encoded, over 255
            {"fqdn", "guest..example.com"}, // an empty label
            {"fqdn", "."}, // the root alone
            {"fqdn", "guest\u0007.example.com"}, // not visible ASCII
        };
        for (String[] kv : bad) {
            AddrconfHandler h = new AddrconfHandler();
            FakeInstance inst = selfConfiguring();
            // the other name is fine, and still goes out
            inst.properties.put("hostname", "guest");
            inst.properties.put("fqdn", "guest.example.com");
            inst.properties.put(kv[0], kv[1]);
            h.attach(inst, false);
            String at = kv[0] + " " + kv[1];
            assertEquals(1, inst.counters.get("addrconf.config.invalid"), at);
            h.packets(inst, new FakeBatch().dhcp4(dhcpDiscover()).dhcp6(dhcp6Solicit()));
            FakeDevice dev = (FakeDevice) inst.device;
            assertEquals(2, dev.sent.size(), at + ": both servers still answer");
            assertEquals(1, inst.counters.get("addrconf.dhcp.replied"), at);
            assertEquals(1, inst.counters.get("addrconf.dhcpv6.replied"), at);
            boolean host = kv[0].equals("hostname");
            assertEquals(host ? null : Dhcp6ResponderTest.ascii("guest"), dhcp4Option(dev, dev.sent.get(0), 12), at);
            assertEquals(host ? "04ffff" + Dhcp4ResponderTest.GUEST_WIRE : null,
                dhcp4Option(dev, dev.sent.get(0), 81), at);
            assertEquals(host ? "00" + Dhcp6ResponderTest.GUEST_WIRE : null,
                dhcp6Option(dev, dev.sent.get(1), 39), at);
        }
    }

    @Test
    void badNumbersAreCountedAndDefaulted() {
        AddrconfHandler h = new AddrconfHandler();
        FakeInstance inst = selfConfiguring();
        inst.properties.put("guest.prefix4", "33");
        inst.properties.put("mtu", "big");
        h.attach(inst, false);
        assertEquals(2, inst.counters.get("addrconf.config.invalid"));
        h.packets(inst, new FakeBatch().dhcp4(dhcpDiscover()));
        assertEquals(1, inst.counters.get("addrconf.dhcp.replied"), "still served, with /24 and MTU 65520");
    }

    @Test
    void parsesIpv4Literals() {
        assertEquals(0x0a00020fL, AddrconfHandler.parse4("10.0.2.15"));
        assertEquals(0xffffffffL, AddrconfHandler.parse4(" 255.255.255.255 "));
        assertEquals(0L, AddrconfHandler.parse4("0.0.0.0"));
        for (String bad : new String[] {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.4.", "1..2.3", "0001.2.3.4",
            "a.b.c.d", "1.2.3.4x", "example.com", "\u0661.2.3.4"})
            assertEquals(ArpResponder.UNKNOWN, AddrconfHandler.parse4(bad), bad);
        assertEquals(ArpResponder.UNKNOWN, AddrconfHandler.parse4(42));
        assertEquals(ArpResponder.UNKNOWN, AddrconfHandler.parse4(null));
    }
}
