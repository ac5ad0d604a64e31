package io.penne.core;

import io.penne.api.EpollRef;
import java.util.HashMap;
import java.util.Map;

/**
 * Names of epoll event types and their numbers, for one instance.
 *
 * <p>A number is handed out the first time any handler declares a name and
 * is never reused or changed while the instance lives, so an epoll reference
 * made by one handler object keeps meaning the same type after that handler
 * is replaced. Numbers 1 to 3 are the core's own (task queue wakeup, timer,
 * guest device); 0 is never used so that a zeroed reference is recognisably bogus.
 */
final class EventTypes {
    static final int WAKE = 1;
    static final int TIMER = 2;
    static final int TAP = 3;

    private final String[] names = new String[EpollRef.MAX_TYPE + 1];
    private final Map<String, Integer> byName = new HashMap<>();
    private int next = 1;

    EventTypes() {
        idFor("core.wake");
        idFor("core.timer");
        idFor("core.tap");
    }

    /** The number of {@code name}, allocated if new. */
    synchronized int idFor(String name) {
        Integer id = byName.get(name);
        if (id != null)
            return id;
        if (next > EpollRef.MAX_TYPE)
            throw new IllegalStateException("too many event types, cannot add " + name);
        names[next] = name;
        byName.put(name, next);
        return next++;
    }

    synchronized int lookup(String name) {
        Integer id = byName.get(name);
        return id == null ? -1 : id;
    }

    synchronized String name(int id) {
        return id >= 0 && id < names.length ? names[id] : null;
    }

    /** One past the highest allocated number. */
    synchronized int limit() {
        return next;
    }
}
