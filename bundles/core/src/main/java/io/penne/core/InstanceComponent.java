package io.penne.core;

import io.penne.api.Counters;
import io.penne.api.EventLoop;
import io.penne.api.GuestDevice;
import io.penne.api.HandlerInfo;
import io.penne.api.Instance;
import io.penne.api.ProtocolHandler;
import io.penne.api.flow.FlowTable;
import java.util.Dictionary;
import java.util.Hashtable;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceRegistration;
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
 *
 * <p>With a {@code netns} property the instance gets a guest network
 * namespace and tap device ({@link GuestNamespace}) before its loop starts,
 * and registers a {@code java.util.function.Function<ProcessBuilder, Process>}
 * service (property {@value #SPAWNER_PROPERTY}) that starts processes inside
 * that namespace; the launcher runs the user's command through it.
 */
@Component(configurationPid = "io.penne.instance", configurationPolicy = ConfigurationPolicy.REQUIRE,
    service = Instance.class, immediate = true)
@Designate(ocd = InstanceConfig.class, factory = true)
public final class InstanceComponent implements Instance {
    private static final String NAME_PATTERN = "[A-Za-z0-9_.-]{1,64}";
    /** Service property of the process spawner of an instance's namespace (value: the instance name). */
    static final String SPAWNER_PROPERTY = "penne.namespace.spawner";
    /**
     * Service property of a {@code java.lang.Runnable} that returns once every
     * protocol handler registered now is attached to the instance (value: the
     * instance name). The launcher runs it before it says penne is ready (pid
     * file, daemon parent released), as pasta forks only once its ports listen.
     */
    static final String HANDLERS_PROPERTY = "penne.instance.handlers";

    private static final System.Logger LOG = System.getLogger(InstanceComponent.class.getName());
    private final InstanceImpl impl;
    private final GuestNamespace namespace;
    private final ServiceRegistration<?> spawner;
    private final ServiceRegistration<?> handlersAttached;
    /** The last activation failure logged, so a retry failing the same way is not logged again. */
    private static volatile String lastFailure;

    @Activate
    public InstanceComponent(InstanceConfig config, Map<String, Object> properties, BundleContext context) {
        try {
            Started s = start(config, properties, context);
            impl = s.impl;
            namespace = s.namespace;
            spawner = s.spawner;
            handlersAttached = s.handlersAttached;
        } catch (RuntimeException e) {
            // One readable line: the launcher hides Declarative Services' stack traces. DS tries a
            // failed component again when a service it references comes or goes (a handler bundle
            // starting), which would repeat the same line: say each failure once.
            String why = e.getMessage();
            if (!why.equals(lastFailure)) {
                lastFailure = why;
                LOG.log(System.Logger.Level.ERROR, why);
            }
            throw e;
        }
        lastFailure = null;
    }

    private record Started(InstanceImpl impl, GuestNamespace namespace, ServiceRegistration<?> spawner,
                           ServiceRegistration<?> handlersAttached) {
    }

    private static ServiceRegistration<?> registerHandlersAttached(String name, InstanceImpl impl,
                                                                   BundleContext context) {
        if (context == null)
            return null; // outside a framework (unit tests): nobody to tell
        Dictionary<String, Object> props = new Hashtable<>();
        props.put(HANDLERS_PROPERTY, name);
        Runnable await = () -> awaitHandlers(impl, context);
        return context.registerService(Runnable.class.getName(), await, props);
    }

    private static Started start(InstanceConfig config, Map<String, Object> properties, BundleContext context) {
        InstanceImpl impl;
        GuestNamespace namespace;
        String name = config.name();
        if (name == null || !name.matches(NAME_PATTERN))
            throw new IllegalArgumentException("io.penne.instance: bad value for 'name': '" + name
                + "' (expected " + NAME_PATTERN + ")");
        int capacity = config.flow_capacity();
        if (capacity < 1 || capacity > (1 << 24) - 2)
            throw new IllegalArgumentException("io.penne.instance: bad value for 'flow.capacity': " + capacity
                + " (expected 1 to 16777214)");
        Object fwd = properties.get(io.penne.api.PortSpec.TCP_PROPERTY);
        if (fwd != null) {
            try {
                io.penne.api.PortSpec.parseList(fwd.toString());
            } catch (IllegalArgumentException e) { // checked here so a bad spec stops the start (the handler parses it again)
                throw new IllegalArgumentException("io.penne.instance: bad value for '"
                    + io.penne.api.PortSpec.TCP_PROPERTY + "': " + e.getMessage(), e);
            }
        }
        NamespaceConfig ns = NamespaceConfig.from(properties);
        try {
            namespace = ns == null ? null : GuestNamespace.open(name, ns);
        } catch (RuntimeException e) {
            throw new IllegalStateException("instance " + name + ": cannot set up the namespace: " + e.getMessage(), e);
        }
        Map<String, Object> all = new java.util.LinkedHashMap<>(properties);
        if (namespace != null)
            all.putAll(namespace.discovered());
        try {
            ForwardCheck.check(all);
        } catch (IllegalArgumentException e) {
            if (namespace != null)
                namespace.close();
            throw new IllegalArgumentException("instance " + name + ": " + e.getMessage(), e);
        }
        impl = new InstanceImpl(name, capacity, all, namespace);
        Object pcapPath = all.get("pcap");
        if (pcapPath != null) {
            try {
                impl.capture(PcapWriter.open(pcapPath.toString(), impl.counters()));
            } catch (IllegalArgumentException e) {
                if (namespace != null)
                    namespace.close();
                throw new IllegalArgumentException("instance " + name + ": " + e.getMessage(), e);
            }
        }
        impl.start();
        if (namespace == null)
            return new Started(impl, null, null, registerHandlersAttached(name, impl, context));
        try {
            if (namespace.hasTap()) { // not with --splice-only
                int rc = impl.loop().submit(() -> impl.attachDevice(namespace.tapFd(), namespace.mtu(),
                    namespace.vnetHdrLen())).get();
                if (rc < 0)
                    throw new IllegalStateException("cannot poll the tap device: " + io.penne.linux.Errno.describe(-rc));
            }
        } catch (Exception e) {
            impl.stop();
            namespace.close();
            throw new IllegalStateException("instance " + name + ": " + e.getMessage(), e);
        }
        // The launcher, outside the framework, starts the command through this: a JDK type both sides see.
        Function<ProcessBuilder, Process> spawn = pb -> {
            awaitHandlers(impl, context);
            try {
                return namespace.spawn(pb);
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        };
        Dictionary<String, Object> props = new Hashtable<>();
        props.put(SPAWNER_PROPERTY, name);
        return new Started(impl, namespace, context.registerService(Function.class.getName(), spawn, props),
            registerHandlersAttached(name, impl, context));
    }

    /** Longest wait for handlers before a command starts anyway (a handler that cannot bind never will). */
    static final long HANDLER_WAIT_MS = 5_000;

    /**
     * Waits until every protocol handler registered now is attached, so that
     * the ports it forwards are listening before the command starts, as
     * pasta binds its ports before it runs the command. Declarative Services
     * registers the spawner (in the constructor) before it passes the handlers
     * in, and the instance attaches them on its loop thread: a command that
     * connects at once could otherwise find nothing listening.
     */
    private static void awaitHandlers(InstanceImpl impl, BundleContext context) {
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(HANDLER_WAIT_MS);
        try {
            while (System.nanoTime() < deadline) {
                org.osgi.framework.ServiceReference<?>[] refs =
                    context.getServiceReferences(ProtocolHandler.class.getName(), null);
                // Runs on the loop after the bindings queued so far.
                long bound = impl.loop().submit(() -> impl.handlers().stream().filter(h -> h.bound()).count()).get();
                if (bound >= (refs == null ? 0 : refs.length))
                    return;
                Thread.sleep(2);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (java.util.concurrent.ExecutionException | org.osgi.framework.InvalidSyntaxException e) {
            LOG.log(System.Logger.Level.WARNING, "cannot check the protocol handlers: " + e);
        }
    }

    @Deactivate
    void deactivate() {
        if (spawner != null)
            spawner.unregister();
        if (handlersAttached != null)
            handlersAttached.unregister();
        impl.stop();
        if (namespace != null)
            namespace.close();
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
