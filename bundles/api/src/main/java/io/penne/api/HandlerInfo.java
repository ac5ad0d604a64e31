package io.penne.api;

import io.penne.api.flow.FlowType;
import java.util.List;
import java.util.Map;

/**
 * What an instance knows about one protocol handler, for the shell.
 *
 * @param name       handler name
 * @param bundle     symbolic name of the bundle providing it ("-" if parked)
 * @param version    that bundle's version
 * @param bound      false if the handler went away and its types are parked
 * @param eventTypes its epoll event types, name to number
 * @param flowTypes  flow types it owns
 * @param flows      ACTIVE flows of those types
 */
public record HandlerInfo(String name, String bundle, String version, boolean bound,
                          Map<String, Integer> eventTypes, List<FlowType> flowTypes, int flows) {
}
