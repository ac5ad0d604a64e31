package io.penne.flow;

import java.util.function.LongSupplier;

import io.penne.api.flow.FlowTable;
import io.penne.flow.impl.FlowTableImpl;

/**
 * Creates flow tables.
 *
 * <p>Theory of operation. Each table is independent (one per instance) and
 * gets its own secret hash key, so flooding one instance's hash index needs
 * keys chosen for that very table. Capacity is fixed at creation: the slot
 * and bucket arrays are sized once (4 bytes per slot for the slots with
 * compressed references, 12 to 24 for the buckets, depending on rounding to
 * a power of two) while flow entries are created only as slots are first
 * used. The upper bound keeps side indexes and the bucket count comfortably
 * inside an {@code int}.
 */
public final class FlowTables {
    /** passt's default maximum number of flows. */
    public static final int DEFAULT_CAPACITY = 131071;
    /** Largest accepted capacity. */
    public static final int MAX_CAPACITY = (1 << 24) - 2;

    private FlowTables() {
    }

    /** A table of {@code capacity} entries, timestamped with {@link System#nanoTime()}. */
    public static FlowTable create(int capacity) {
        return create(capacity, System::nanoTime);
    }

    /**
     * A table of {@code capacity} entries whose creation times come from
     * {@code clock} (in nanoseconds).
     *
     * @throws IllegalArgumentException if capacity is outside 1..{@link #MAX_CAPACITY}
     */
    public static FlowTable create(int capacity, LongSupplier clock) {
        if (capacity < 1 || capacity > MAX_CAPACITY)
            throw new IllegalArgumentException("flow table capacity must be between 1 and " + MAX_CAPACITY
                + ", not " + capacity);
        if (clock == null)
            throw new IllegalArgumentException("clock is null");
        return new FlowTableImpl(capacity, clock);
    }
}
