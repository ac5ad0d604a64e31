package io.penne.api;

import java.util.Map;

/**
 * Named event counters of one instance: events per type, packets, drops by
 * reason. A counter is registered once by name and then bumped by its id,
 * which costs an array store. Ids are stable for the life of the instance.
 * {@link #register} and the bump methods are for the loop thread;
 * {@link #snapshot} may be called from any thread and sees a recent view.
 */
public interface Counters {

    /** Returns the id of the counter {@code name}, creating it at zero if new. */
    int register(String name);

    void add(int id, long delta);

    default void inc(int id) {
        add(id, 1);
    }

    long get(int id);

    /** Name to value of every counter, in registration order. */
    Map<String, Long> snapshot();
}
