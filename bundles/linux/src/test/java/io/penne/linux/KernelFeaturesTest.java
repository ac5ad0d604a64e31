package io.penne.linux;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class KernelFeaturesTest {

    @Test
    void probesEverythingOnce() {
        KernelFeatures k = KernelFeatures.probe();
        assertSame(k, KernelFeatures.probe());
        List<KernelFeatures.Feature> all = k.all();
        Set<String> names = all.stream().map(KernelFeatures.Feature::name).collect(Collectors.toSet());
        assertEquals(Set.of(KernelFeatures.SO_PEEK_OFF, KernelFeatures.TCP_INFO_SND_WND, KernelFeatures.PING_V4,
                KernelFeatures.PING_V6, KernelFeatures.USER_NAMESPACES, KernelFeatures.PIPE_MAX_SIZE,
                KernelFeatures.SPLICE, KernelFeatures.FAST_NATIVE_CALLS), names);
        for (KernelFeatures.Feature f : all) {
            assertNotNull(f.detail(), f.name());
            assertFalse(f.detail().isBlank(), f.name());
            assertEquals(f.available(), k.has(f.name()));
        }
        System.out.println(k);
    }

    @Test
    void expectedOnThisKernel() {
        KernelFeatures k = KernelFeatures.probe();
        assertTrue(k.has(KernelFeatures.SO_PEEK_OFF), k.get(KernelFeatures.SO_PEEK_OFF).toString());
        assertTrue(k.has(KernelFeatures.TCP_INFO_SND_WND), k.get(KernelFeatures.TCP_INFO_SND_WND).toString());
        assertTrue(k.has(KernelFeatures.SPLICE));
        assertEquals("pipe2+splice", k.get(KernelFeatures.SPLICE).detail());
        // Where the build made libpenne-libc.so (CI requires it: PENNE_REQUIRE_JNI=1), calls go through it;
        // NativeBindingTest covers each binding.
        if (KernelFeaturesTest.class.getResource(JniLibC.RESOURCE) != null) {
            assertTrue(k.has(KernelFeatures.FAST_NATIVE_CALLS));
            assertEquals("JNI, libpenne-libc.so", k.get(KernelFeatures.FAST_NATIVE_CALLS).detail());
        }
        assertTrue(Long.parseLong(k.get(KernelFeatures.PIPE_MAX_SIZE).detail()) > 0);
        assertFalse(k.has("no such feature"));
    }

    @Test
    void releaseComparison() {
        assertTrue(KernelFeatures.atLeast("6.18.44-fc-v769", 5, 4));
        assertTrue(KernelFeatures.atLeast("5.4.0", 5, 4));
        assertFalse(KernelFeatures.atLeast("5.3.18-59-default", 5, 4));
        assertFalse(KernelFeatures.atLeast("4.19", 5, 4));
        assertTrue(KernelFeatures.atLeast("5.10rc1", 5, 4));
        assertFalse(KernelFeatures.atLeast(null, 5, 4));
    }
}
