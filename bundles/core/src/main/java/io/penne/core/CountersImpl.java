package io.penne.core;

import io.penne.api.Counters;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The counters registry of one instance.
 *
 * <p>Values are a plain {@code long[]} written only by the loop thread, so a
 * bump is an array store with no atomics. Registration (rare, at handler
 * attach time) may grow the array; it is also done on the loop thread, which
 * is what keeps the copy-and-swap safe. Readers on other threads see the
 * latest published array, possibly a few increments behind: the shell asks
 * through the loop when it needs exact numbers.
 */
final class CountersImpl implements Counters {
    private volatile long[] values = new long[64];
    private final List<String> names = new ArrayList<>();
    private final Map<String, Integer> ids = new HashMap<>();

    @Override
    public synchronized int register(String name) {
        Integer id = ids.get(name);
        if (id != null)
            return id;
        int n = names.size();
        if (n == values.length) {
            long[] grown = new long[n * 2];
            System.arraycopy(values, 0, grown, 0, n);
            values = grown;
        }
        names.add(name);
        ids.put(name, n);
        return n;
    }

    @Override
    public void add(int id, long delta) {
        values[id] += delta;
    }

    @Override
    public long get(int id) {
        return values[id];
    }

    @Override
    public synchronized Map<String, Long> snapshot() {
        long[] v = values;
        Map<String, Long> out = new LinkedHashMap<>();
        for (int i = 0; i < names.size(); i++)
            out.put(names.get(i), v[i]);
        return out;
    }
}
