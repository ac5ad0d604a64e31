package io.penne.core;

import io.penne.api.Counters;
import io.penne.api.EpollRef;
import io.penne.api.EventLoop;
import io.penne.api.GuestDevice;
import io.penne.api.HandlerInfo;
import io.penne.api.Instance;
import io.penne.api.PacketBatch;
import io.penne.api.ProtocolHandler;
import io.penne.api.flow.Flow;
import io.penne.api.flow.FlowTable;
import io.penne.api.flow.FlowType;
import io.penne.flow.FlowTables;
import io.penne.linux.Errno;
import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * One running instance: loop, flow table, counters, and the binding of
 * protocol handlers to event types and flow types.
 *
 * <p><b>Theory of operation.</b> Handlers arrive and leave on OSGi threads;
 * {@link #bind} and {@link #unbind} only queue the change to the loop, which
 * owns every table here. Binding a handler allocates (or finds) the numbers
 * of its event types, makes it the owner of those types and of its flow
 * types, un-parks descriptors of those types that an earlier handler left,
 * and calls {@code attach(adopting)}. Unbinding calls {@code detach}, then
 * parks its descriptors and clears ownership, leaving flows in place for the
 * next handler of the same name. A handler that replaces a bound one of the
 * same name (bundle update: the new service may bind before the old unbinds)
 * takes over directly; the late unbind of the old object is ignored.
 *
 * <p>Per event: look up the owner of the reference's type in an array,
 * count the event, call the owner. No owner means parked: the descriptor is
 * silenced and the event counted as dropped. Exceptions from handlers are
 * caught, counted and logged (rate-limited), and never end the loop.
 *
 * <p>Per packet batch from the guest: the batch goes to the owner of its
 * packet type, or is counted as {@code drop.no_handler}; a type the instance
 * has disabled (pasta's {@code --no-tcp}, {@code --no-udp}, {@code --no-icmp}:
 * properties {@code tcp}, {@code udp}, {@code icmp} = false) is counted as
 * {@code drop.protocol_disabled} whatever handler owns it.
 *
 * <p>Once per cycle the flow table's deferred scan runs; every
 * {@value #FLOW_TIMER_MS} ms it is a timer scan. Flows whose type has no
 * handler are kept as they are for a grace period (instance property
 * {@value #GRACE_PROPERTY}, seconds, default {@value #GRACE_DEFAULT_S}),
 * long enough for a bundle update or a restart of its bundle; after it the
 * handler is taken as gone for good, and each such flow is reset: the
 * instance closes its descriptors ({@code FlowData.forEachFd}; sockets with
 * {@code SO_LINGER} 0, so host peers see a reset) and frees it, counted as
 * {@code flows.abandoned}. The guest's side of such a connection is not
 * told: with no handler nothing can build its segments; a handler that
 * binds later answers the guest's next segment with a reset.
 */
final class InstanceImpl implements Instance, EventLoopImpl.Sink, FlowTable.DeferredHandler, Ingress.Sink {
    static final long FLOW_TIMER_MS = 1000;
    static final String GRACE_PROPERTY = "handler.grace_period";
    static final int GRACE_DEFAULT_S = 30;
    private static final long FLOW_TIMER_NANOS = TimeUnit.MILLISECONDS.toNanos(FLOW_TIMER_MS);
    private static final System.Logger LOG = System.getLogger(InstanceImpl.class.getName());
    private final io.penne.api.GuestNamespace namespace;

    private final String name;
    private final Map<String, Object> properties;
    private final EventTypes types = new EventTypes();
    private final CountersImpl counters = new CountersImpl();
    private final FlowTable flows;
    private final EventLoopImpl loop;
    private final long started = System.nanoTime();

    // Loop-confined tables.
    private final ProtocolHandler[] ownerByType = new ProtocolHandler[EpollRef.MAX_TYPE + 1];
    private final int[] eventCounter = new int[EpollRef.MAX_TYPE + 1];
    private final ProtocolHandler[] ownerByFlowType = new ProtocolHandler[FlowType.values().length];
    /** Per flow type without a handler: {@link EventLoop#now()} when its handler went, else 0. */
    private final long[] orphanedAt = new long[FlowType.values().length];
    /** How long flows wait for a new handler of their type before they are reset ({@value #GRACE_PROPERTY}). */
    private final long graceNanos;
    private final ProtocolHandler[] ownerByPacketType = new ProtocolHandler[PacketBatch.TYPES];
    private final Ingress ingress;
    private TapEgress egress;
    /** --pcap capture, or null; set before the device is attached. */
    private PcapWriter pcap;
    private final int cNoHandler, cDisabled;
    /**
     * Packet types dropped whatever handler owns them: pasta's --no-tcp, --no-udp, --no-icmp
     * (instance properties {@code tcp}, {@code udp}, {@code icmp} = false).
     */
    private final boolean[] disabledPacketType;
    private final int cDeviceErrors;
    private final int cAbandoned;
    /** Scratch for {@link #abandon}'s setsockopt, made on first use. */
    private io.penne.linux.NativeBuffer abandonScratch;
    private final Map<String, HandlerSlot> slots = new LinkedHashMap<>();
    private final int cParked;
    private final int cHandlerErrors;
    private final int cFlowFull;
    private long lastFlowTimer;
    private long flowFullSeen;
    private boolean tickScheduled;

    InstanceImpl(String name, int flowCapacity, Map<String, Object> properties) {
        this(name, flowCapacity, properties, null);
    }

    InstanceImpl(String name, int flowCapacity, Map<String, Object> properties,
                 io.penne.api.GuestNamespace namespace) {
        this.name = name;
        this.namespace = namespace;
        this.properties = Collections.unmodifiableMap(new LinkedHashMap<>(properties));
        this.flows = FlowTables.create(flowCapacity);
        this.cParked = counters.register("events.parked");
        this.cHandlerErrors = counters.register("handler.errors");
        this.cFlowFull = counters.register("drop.flow_table_full");
        counters.register("events.core.wake");
        this.cNoHandler = counters.register("drop.no_handler");
        this.cDisabled = counters.register("drop.protocol_disabled");
        this.disabledPacketType = disabledPacketTypes(properties);
        this.cDeviceErrors = counters.register("device.errors");
        this.cAbandoned = counters.register("flows.abandoned");
        this.graceNanos = TimeUnit.SECONDS.toNanos(graceSeconds(properties));
        this.ingress = new Ingress(counters);
        this.loop = new EventLoopImpl(name, this);
    }

    void start() {
        lastFlowTimer = System.nanoTime(); // before the loop thread reads it
        loop.start();
    }

    /** Detaches every handler and stops the loop. */
    void stop() {
        try {
            loop.submit(() -> {
                for (HandlerSlot s : slots.values())
                    if (s.handler != null)
                        detach(s, s.handler);
                return null;
            }).get(5, TimeUnit.SECONDS);
        } catch (Exception e) {
            LOG.log(Level.WARNING, "instance " + name + ": handlers did not detach cleanly", e);
        }
        loop.stop();
        // The loop thread has ended: nothing touches the frame buffers any more.
        ingress.close();
        if (egress != null)
            egress.close();
        if (pcap != null)
            pcap.close();
    }

    // ---- handler binding (any thread in, loop thread does the work) ----

    void bind(ProtocolHandler h, String bundle, String version) {
        loop.execute(() -> doBind(h, bundle, version));
    }

    void unbind(ProtocolHandler h) {
        loop.execute(() -> doUnbind(h));
    }

    private void doBind(ProtocolHandler h, String bundle, String version) {
        String hname = h.name();
        HandlerSlot existing = slots.get(hname);
        if (existing != null && existing.handler == h)
            return;
        // Refuse before touching anything: a refused replacement must not detach the bound handler.
        for (String t : h.eventTypes()) {
            int id = types.lookup(t);
            ProtocolHandler other = id < 0 ? null : ownerByType[id];
            if (other != null && !other.name().equals(hname)) {
                LOG.log(Level.ERROR, "instance " + name + ": handler " + hname + " declares event type " + t
                    + " owned by " + other.name() + "; not binding it");
                return;
            }
        }
        HandlerSlot slot = slots.computeIfAbsent(hname, HandlerSlot::new);
        if (slot.handler != null)
            detach(slot, slot.handler);

        boolean adopting = false;
        slot.eventTypes.clear();
        for (String t : h.eventTypes()) {
            int id = types.idFor(t);
            slot.eventTypes.put(t, id);
            if (eventCounter[id] == 0)
                eventCounter[id] = counters.register("events." + t);
            ownerByType[id] = h;
            adopting |= loop.registeredCount(id) > 0;
            loop.unpark(id);
        }
        slot.flowTypes = List.copyOf(h.flowTypes());
        for (FlowType ft : slot.flowTypes) {
            ownerByFlowType[ft.ordinal()] = h;
            orphanedAt[ft.ordinal()] = 0;
        }
        slot.packetTypes = h.packetTypes().clone();
        for (int pt : slot.packetTypes) {
            if (pt < 0 || pt >= PacketBatch.TYPES)
                LOG.log(Level.ERROR, "instance " + name + ": handler " + hname + " declares packet type " + pt
                    + ", not an IP protocol number or PacketBatch.ARP; ignored");
            else
                ownerByPacketType[pt] = h;
        }
        slot.handler = h;
        slot.bundle = bundle;
        slot.version = version;
        LOG.log(Level.DEBUG, "instance " + name + ": bound " + hname + " from " + bundle + " " + version
            + (adopting ? " (adopting)" : ""));
        try {
            h.attach(this, adopting);
        } catch (RuntimeException | Error e) {
            handlerError(h, "attach", e);
        }
        if (flows.pending() != null)
            cancelPending(h);
    }

    private void doUnbind(ProtocolHandler h) {
        HandlerSlot slot = slots.get(h.name());
        if (slot == null || slot.handler != h)
            return; // already replaced by a newer object of the same name
        detach(slot, h);
        LOG.log(Level.DEBUG, "instance " + name + ": handler " + slot.name + " parked");
    }

    private void detach(HandlerSlot slot, ProtocolHandler h) {
        try {
            h.detach(this);
        } catch (RuntimeException | Error e) {
            handlerError(h, "detach", e);
        }
        for (int id : slot.eventTypes.values()) {
            if (ownerByType[id] == h) {
                ownerByType[id] = null;
                loop.park(id);
            }
        }
        for (FlowType ft : slot.flowTypes) {
            if (ownerByFlowType[ft.ordinal()] == h) {
                ownerByFlowType[ft.ordinal()] = null;
                orphanedAt[ft.ordinal()] = loop.now() == 0 ? 1 : loop.now();
            }
        }
        for (int pt : slot.packetTypes)
            if (pt >= 0 && pt < PacketBatch.TYPES && ownerByPacketType[pt] == h)
                ownerByPacketType[pt] = null;
        slot.handler = null;
    }

    private void handlerError(ProtocolHandler h, String where, Throwable e) {
        counters.inc(cHandlerErrors);
        long n = counters.get(cHandlerErrors);
        // Log the 1st, 2nd, 4th, 8th ... error: visible without flooding the log.
        if (Long.bitCount(n) == 1)
            LOG.log(Level.WARNING, "instance " + name + ": handler " + h.name() + " failed in " + where
                + " (error #" + n + ")", e);
    }

    // ---- loop callbacks ----

    @Override
    public void dispatch(int type, long ref, int events) {
        if (type == EventTypes.TAP) {
            deviceReadable(EpollRef.fd(ref));
            return;
        }
        ProtocolHandler h = ownerByType[type];
        if (h == null) {
            counters.inc(cParked);
            loop.parkOne(EpollRef.fd(ref));
            return;
        }
        counters.inc(eventCounter[type]);
        try {
            h.event(this, type, ref, events);
        } catch (RuntimeException | Error e) {
            handlerError(h, "event", e);
        }
        if (flows.pending() != null)
            cancelPending(h);
    }

    // ---- the guest device ----

    /**
     * Makes {@code fd} (a tap device, non-blocking) this instance's guest
     * device: its frames are read, parsed and delivered to handlers by packet
     * type, and handlers send through it ({@link #device()}). Loop thread only.
     *
     * @return 0 or a negative errno from registering it
     */
    /**
     * Records the guest's frames to {@code w} (--pcap) once a device is
     * attached; before {@link #attachDevice}, from the thread that starts the
     * instance. The instance closes it when it stops.
     */
    void capture(PcapWriter w) {
        pcap = w;
    }

    int attachDevice(int fd, int mtu) {
        return attachDevice(fd, mtu, 0);
    }

    /** As {@link #attachDevice(int, int)}, for a device whose frames carry a virtio-net header of {@code hdrLen} bytes. */
    int attachDevice(int fd, int mtu, int hdrLen) {
        int rc = loop.register(fd, EventLoop.EPOLLIN, EpollRef.of(EventTypes.TAP, fd, 0));
        if (rc == 0) {
            ingress.headerLength(hdrLen);
            ingress.capture(pcap);
            egress = new TapEgress(fd, mtu, hdrLen, counters);
            egress.pcap = pcap;
            Object ours = properties.get("mac"); // checked by NamespaceConfig
            if (ours != null)
                egress.ourMac(Long.parseLong(ours.toString().replace(":", ""), 16));
            Object mac = properties.get("guest.mac");
            if (mac != null)
                egress.learnGuestMac(Long.parseLong(mac.toString().replace(":", ""), 16));
        }
        return rc;
    }

    private void deviceReadable(int fd) {
        int n = ingress.readAndDeliver(fd, this, egress);
        if (n < 0) {
            // A tap device only fails like this when it is gone; stop polling it rather than spin.
            counters.inc(cDeviceErrors);
            LOG.log(Level.ERROR, "instance " + name + ": guest device failed (" + Errno.describe(-n)
                + "); no longer reading it");
            loop.unregister(fd);
            egress = null;
        }
    }

    private static boolean[] disabledPacketTypes(Map<String, Object> p) {
        boolean[] off = new boolean[PacketBatch.TYPES];
        off[6] = "false".equals(String.valueOf(p.get("tcp")));
        off[17] = "false".equals(String.valueOf(p.get("udp")));
        off[1] = off[58] = "false".equals(String.valueOf(p.get("icmp"))); // 58: ICMPv6 other than NDP
        return off;
    }

    @Override
    public void deliver(int type, PacketBatch batch) {
        if (disabledPacketType[type]) {
            counters.add(cDisabled, batch.size());
            return;
        }
        ProtocolHandler h = ownerByPacketType[type];
        if (h == null) {
            counters.add(cNoHandler, batch.size());
            return;
        }
        try {
            h.packets(this, batch);
        } catch (RuntimeException | Error e) {
            handlerError(h, "packets", e);
        }
        if (flows.pending() != null)
            cancelPending(h);
    }

    /** For tests: parse and deliver frames already placed in the ingress buffer. */
    Ingress ingress() {
        return ingress;
    }

    /**
     * A handler returned (or threw) with a flow still being set up. Flows are
     * built within one call, so this is a handler bug; cancel the flow so the
     * table is usable by the next event, and count it.
     */
    private void cancelPending(ProtocolHandler h) {
        Flow stuck = flows.pending();
        counters.inc(cHandlerErrors);
        LOG.log(Level.WARNING, "instance " + name + ": " + stuck + " left half set up by "
            + (h == null ? "a loop task" : "handler " + h.name()) + "; cancelled");
        flows.cancel(stuck);
    }

    @Override
    public void endOfCycle(long now) {
        boolean timer = now - lastFlowTimer >= FLOW_TIMER_NANOS;
        if (timer)
            lastFlowTimer = now;
        if (flows.pending() != null)
            cancelPending(null);
        flows.runDeferred(now, timer, this);
        // Last, so that frames queued by deferred and timer calls (retransmissions, FINs) leave
        // in this cycle rather than at the next wakeup, which may be a second away.
        if (egress != null)
            egress.flush();
        long full = flows.refusedFull();
        if (full != flowFullSeen) {
            counters.add(cFlowFull, full - flowFullSeen);
            flowFullSeen = full;
        }
        // Wake up for the flow timer only while there are flows to time.
        if (!tickScheduled && flows.count() > 0) {
            tickScheduled = true;
            loop.schedule(lastFlowTimer + FLOW_TIMER_NANOS - now, this::tick);
        }
    }

    private void tick() {
        tickScheduled = false;
    }

    @Override
    public boolean defer(Flow flow, boolean timer, long now) {
        ProtocolHandler h = ownerByFlowType[flow.type().ordinal()];
        if (h == null) {
            long since = orphanedAt[flow.type().ordinal()];
            if (since == 0 || now - since < graceNanos)
                return false;
            abandon(flow);
            return true;
        }
        try {
            return h.flowDefer(this, flow, timer, now);
        } catch (RuntimeException | Error e) {
            handlerError(h, "flowDefer", e);
            return false;
        }
    }

    /** Resets a flow whose handler is gone for good: its descriptors are closed (sockets with a RST). */
    private void abandon(Flow flow) {
        io.penne.api.flow.FlowData d = flow.data();
        if (d != null) {
            if (abandonScratch == null)
                abandonScratch = io.penne.linux.NativeBuffer.allocate(16);
            io.penne.linux.NativeBuffer scratch = abandonScratch;
            d.forEachFd(fd -> {
                loop.unregister(fd);
                io.penne.linux.Sockets.setLinger(fd, true, 0, scratch); // fails harmlessly on a pipe or timer
                io.penne.linux.Sys.close(fd);
            });
        }
        counters.inc(cAbandoned);
        LOG.log(Level.DEBUG, "instance " + name + ": " + flow + " reset, no handler for its type");
    }

    /** The grace period in seconds from the properties; a bad value is refused naming the property. */
    static int graceSeconds(Map<String, Object> properties) {
        Object v = properties.get(GRACE_PROPERTY);
        if (v == null)
            return GRACE_DEFAULT_S;
        try {
            int n = Integer.parseInt(v.toString().trim());
            if (n >= 0)
                return n;
        } catch (NumberFormatException e) {
            // below
        }
        throw new IllegalArgumentException("bad value for '" + GRACE_PROPERTY + "': '" + v + "' (expected seconds, >= 0)");
    }

    // ---- Instance ----

    @Override
    public String name() {
        return name;
    }

    @Override
    public Map<String, Object> properties() {
        return properties;
    }

    @Override
    public io.penne.api.GuestNamespace namespace() {
        return namespace;
    }

    @Override
    public EventLoop loop() {
        return loop;
    }

    @Override
    public FlowTable flows() {
        return flows;
    }

    @Override
    public Counters counters() {
        return counters;
    }

    @Override
    public GuestDevice device() {
        return egress;
    }

    @Override
    public int eventType(String typeName) {
        return types.lookup(typeName);
    }

    @Override
    public String eventTypeName(int type) {
        return types.name(type);
    }

    @Override
    public List<HandlerInfo> handlers() {
        List<HandlerInfo> out = new ArrayList<>();
        for (HandlerSlot s : slots.values()) {
            int n = 0;
            for (FlowType ft : s.flowTypes)
                n += flows.count(ft);
            out.add(new HandlerInfo(s.name, s.handler == null ? "-" : s.bundle, s.handler == null ? "-" : s.version,
                s.handler != null, Collections.unmodifiableMap(new LinkedHashMap<>(s.eventTypes)), s.flowTypes, n));
        }
        return out;
    }

    @Override
    public long startedNanos() {
        return started;
    }

    /** Loop cycles so far (for tests and stats). */
    long cycles() {
        return loop.cycles();
    }
}
