package io.penne.api;

import io.penne.api.flow.FlowTable;
import java.util.List;
import java.util.Map;

/**
 * One running translator: its configuration, its loop, its flow table and
 * its counters. Everything that handles an event receives it explicitly.
 * Registered as an OSGi service while it runs (service property
 * {@link #NAME_PROPERTY} carries its name).
 */
public interface Instance {

    /** Service property with the instance name. */
    String NAME_PROPERTY = "name";

    /** The instance name (from its configuration, default {@code "default"}). */
    String name();

    /** The configuration properties the instance was created with. */
    Map<String, Object> properties();

    EventLoop loop();

    FlowTable flows();

    Counters counters();

    /** The guest device, or null while none is attached. */
    GuestDevice device();

    /** Number of an event type by name, or -1 if no handler declared it yet. */
    int eventType(String name);

    /** Name of an event type number, or null. */
    String eventTypeName(int type);

    /** Bound and parked handlers, with their flow counts. Loop thread only. */
    List<HandlerInfo> handlers();

    /** The guest's network namespace in namespace mode, else null. */
    default GuestNamespace namespace() {
        return null;
    }

    /** {@link System#nanoTime()} when the loop started. */
    long startedNanos();
}
