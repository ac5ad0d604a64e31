package io.penne.core;

import io.penne.api.Counters;
import io.penne.api.EventLoop;
import io.penne.api.GuestDevice;
import io.penne.api.HandlerInfo;
import io.penne.api.Instance;
import io.penne.api.ProtocolHandler;
import io.penne.api.flow.FlowTable;
import java.util.List;
import java.util.Map;
import org.osgi.framework.Bundle;
import org.osgi.framework.FrameworkUtil;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;
import org.osgi.service.metatype.annotations.Designate;

/**
 * The OSGi face of an instance: one component configuration per factory
 * configuration of {@code io.penne.instance}, registered as an
 * {@link Instance} service. It binds every {@link ProtocolHandler} service
 * (multiple, dynamic, greedy) and passes the binding to the instance, which
 * applies it on its loop thread. The component is never re-activated when
 * handlers come and go, so the loop and its flows live on through handler
 * updates.
 */
@Component(configurationPid = "io.penne.instance", configurationPolicy = ConfigurationPolicy.REQUIRE,
    service = Instance.class, immediate = true)
@Designate(ocd = InstanceConfig.class, factory = true)
public final class InstanceComponent implements Instance {
    private static final String NAME_PATTERN = "[A-Za-z0-9_.-]{1,64}";
    private final InstanceImpl impl;

    @Activate
    public InstanceComponent(InstanceConfig config, Map<String, Object> properties) {
        String name = config.name();
        if (name == null || !name.matches(NAME_PATTERN))
            throw new IllegalArgumentException("io.penne.instance: bad value for 'name': '" + name
                + "' (expected " + NAME_PATTERN + ")");
        int capacity = config.flow_capacity();
        if (capacity < 1 || capacity > (1 << 24) - 2)
            throw new IllegalArgumentException("io.penne.instance: bad value for 'flow.capacity': " + capacity
                + " (expected 1 to 16777214)");
        impl = new InstanceImpl(name, capacity, properties);
        impl.start();
    }

    @Deactivate
    void deactivate() {
        impl.stop();
    }

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
        policyOption = ReferencePolicyOption.GREEDY)
    void addHandler(ProtocolHandler handler) {
        Bundle b = FrameworkUtil.getBundle(handler.getClass());
        impl.bind(handler, b == null ? "?" : b.getSymbolicName(), b == null ? "?" : b.getVersion().toString());
    }

    void removeHandler(ProtocolHandler handler) {
        impl.unbind(handler);
    }

    /** For tests in this bundle. */
    InstanceImpl impl() {
        return impl;
    }

    @Override
    public String name() {
        return impl.name();
    }

    @Override
    public Map<String, Object> properties() {
        return impl.properties();
    }

    @Override
    public EventLoop loop() {
        return impl.loop();
    }

    @Override
    public FlowTable flows() {
        return impl.flows();
    }

    @Override
    public Counters counters() {
        return impl.counters();
    }

    @Override
    public GuestDevice device() {
        return impl.device();
    }

    @Override
    public int eventType(String name) {
        return impl.eventType(name);
    }

    @Override
    public String eventTypeName(int type) {
        return impl.eventTypeName(type);
    }

    @Override
    public List<HandlerInfo> handlers() {
        return impl.handlers();
    }

    @Override
    public long startedNanos() {
        return impl.startedNanos();
    }
}
