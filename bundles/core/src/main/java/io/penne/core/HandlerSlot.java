package io.penne.core;

import io.penne.api.ProtocolHandler;
import io.penne.api.flow.FlowType;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What an instance remembers about a handler name: the handler object bound
 * now (null while parked), where it came from, and the event types and flow
 * types it owns. The slot outlives the handler object so that its
 * replacement adopts the same type numbers.
 */
final class HandlerSlot {
    final String name;
    ProtocolHandler handler;
    String bundle = "-";
    String version = "-";
    final Map<String, Integer> eventTypes = new LinkedHashMap<>();
    List<FlowType> flowTypes = List.of();
    int[] packetTypes = new int[0];

    HandlerSlot(String name) {
        this.name = name;
    }
}
