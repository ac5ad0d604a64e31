package io.penne.core;

import static io.penne.core.TestSupport.onLoop;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Proxy;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Configuration validation of the DS component. */
class InstanceComponentTest {

    /** An InstanceConfig (an annotation type) with the given values. */
    static InstanceConfig config(String name, int capacity) {
        return (InstanceConfig) Proxy.newProxyInstance(InstanceConfig.class.getClassLoader(),
            new Class<?>[] {InstanceConfig.class}, (proxy, m, args) -> {
                switch (m.getName()) {
                    case "name": return name;
                    case "flow_capacity": return capacity;
                    case "annotationType": return InstanceConfig.class;
                    case "hashCode": return System.identityHashCode(proxy);
                    case "equals": return proxy == args[0];
                    case "toString": return "InstanceConfig(" + name + ", " + capacity + ")";
                    default: throw new UnsupportedOperationException(m.getName());
                }
            });
    }

    private static void badName(String name) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
            () -> new InstanceComponent(config(name, 16), Map.of(), null));
        assertTrue(e.getMessage().contains("'name'"), e.getMessage());
    }

    private static void badCapacity(int capacity) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
            () -> new InstanceComponent(config("ok", capacity), Map.of(), null));
        assertTrue(e.getMessage().contains("flow.capacity"), e.getMessage());
        assertTrue(e.getMessage().contains(String.valueOf(capacity)), e.getMessage());
    }

    @Test
    void badNamesAreRefused() {
        badName("a b");
        badName("");
        badName(null);
        badName("x".repeat(65));
        badName("a/b");
    }

    @Test
    void badCapacitiesAreRefused() {
        badCapacity(0);
        badCapacity(-1);
        badCapacity(1 << 24);
        badCapacity((1 << 24) - 1);
    }

    @Test
    void goodConfigurationStartsAndStopsAnInstance() {
        InstanceComponent c = new InstanceComponent(config("good.name-1_x", 1), Map.of("name", "good.name-1_x"), null);
        try {
            assertEquals("good.name-1_x", c.name());
            assertEquals("good.name-1_x", c.properties().get("name"));
            assertEquals(1, c.flows().capacity());
            assertEquals(5, onLoop(c.impl(), () -> 5));
            assertTrue(onLoop(c.impl(), c::handlers).isEmpty());
        } finally {
            c.deactivate();
        }
        assertTrue(c.loop().submit(() -> 1).isCompletedExceptionally());
    }
}
