package io.penne.api;

import io.penne.api.flow.Flow;
import io.penne.api.flow.FlowType;
import java.util.Set;
import org.osgi.annotation.versioning.ConsumerType;

/**
 * A protocol handler: an OSGi service that every instance binds dynamically.
 *
 * <p>A handler owns epoll event types (named, e.g. {@code "tcp.listen"}) and
 * flow types. The instance maps each event type name to a small number that it
 * keeps for its whole life, so registrations and flows made by one handler
 * object are adopted by its replacement. A handler keeps no flow state of its
 * own: per-flow state lives in {@link io.penne.api.flow.FlowData} classes of
 * the API bundle, reachable from the flow.
 *
 * <p>All calls are made on the instance's loop thread. An exception thrown
 * by a call is caught, counted and logged by the instance; it never stops the
 * loop.
 */
@ConsumerType
public interface ProtocolHandler {

    /** Unique handler name, e.g. {@code "tcp"}. */
    String name();

    /** Names of the epoll event types this handler owns. */
    Set<String> eventTypes();

    /** Flow types whose deferred and timer calls go to this handler. */
    Set<FlowType> flowTypes();

    /**
     * The handler starts serving {@code instance}. {@code adopting} is true if
     * file descriptors of its event types are already registered (left by a
     * previous handler of the same types), so it must not set them up again.
     */
    default void attach(Instance instance, boolean adopting) {
    }

    /**
     * The handler stops serving {@code instance} (it is being replaced or
     * removed). Its file descriptors stay registered and its flows stay in
     * the table; events for its types are parked until a handler adopts them.
     */
    default void detach(Instance instance) {
    }

    /**
     * An epoll event on a file descriptor of one of this handler's types.
     *
     * @param eventType the event type number (see {@link Instance#eventType})
     * @param ref       the full reference ({@link EpollRef})
     * @param events    the epoll event bits
     */
    void event(Instance instance, int eventType, long ref, int events);

    /**
     * Packet types this handler takes from the guest: IP protocol numbers
     * (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6) and {@link PacketBatch#ARP}. Read
     * once when the handler binds.
     */
    default int[] packetTypes() {
        return new int[0];
    }

    /**
     * Guest packets of this handler's types, in the order the guest sent
     * them. One call per type per receive batch.
     */
    default void packets(Instance instance, PacketBatch batch) {
    }

    /**
     * Called once per loop cycle for each ACTIVE flow of this handler's types,
     * and with {@code timer} true about once per second.
     *
     * @return true when the flow is finished and its entry may be freed
     */
    default boolean flowDefer(Instance instance, Flow flow, boolean timer, long now) {
        return false;
    }
}
