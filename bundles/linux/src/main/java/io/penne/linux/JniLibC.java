package io.penne.linux;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * penne's own JNI library, {@code libpenne-libc.so}
 * ({@code src/main/c/penne_libc.c}): it binds the natives of
 * {@link LibCNatives} to its C wrappers, and adds errno and direct buffer
 * access here. The first choice of {@link LibC}, used whenever the library
 * was built and loads.
 *
 * <p>Why: every function is a JNI static native with only {@code int} and
 * {@code long} arguments, which HotSpot calls through a compiled native
 * wrapper. Measured on a failing {@code splice()}: 188 ns per call, against
 * 131 from C, 182 through the FFM API (which needs JDK 22 and allocates for
 * its errno capture on some call sites) and 440 through JNA's direct mapping
 * (its generic dispatch stub and libffi). penne makes 7 to 30 calls per
 * request/response transaction or connection.
 *
 * <p>Theory of operation: the library is a resource of this bundle under
 * {@code native/linux-ARCH/}, built by {@code src/main/c/build.sh} when the
 * build machine has a C compiler. The static initializer copies it to a new
 * private file in penne's scratch directory (the {@code penne.native.tmpdir}
 * property, which the launcher points at the per-user runtime directory,
 * else {@code java.io.tmpdir}), loads it with {@link System#load}, and
 * deletes the file at once: the mapping stays, nothing is left behind, and a
 * bundle refreshed into a new class loader loads its own copy (the JVM binds
 * a library file to one class loader). The library's {@code JNI_OnLoad}
 * registers every native of {@link LibCNatives} and of this class, so a
 * mismatch fails the load rather than a later call. If anything fails,
 * {@link #available()} is false and {@link #unavailableReason()} says why;
 * {@link LibC} then uses FFM or JNA.
 *
 * <p>errno: the C side copies errno into a per-thread slot when a call
 * fails; {@link #errno()} reads it. Successful calls leave the slot alone.
 */
final class JniLibC {
    private static final String LIBRARY = "libpenne-libc.so";
    /** Where the build puts the library among the bundle's resources (see src/main/c/build.sh). */
    static final String RESOURCE = "/native/linux-" + System.getProperty("os.arch") + "/" + LIBRARY;

    /** Null once the library is loaded, else why it is not. */
    private static final String UNAVAILABLE = load();

    private JniLibC() {
    }

    static boolean available() {
        return UNAVAILABLE == null;
    }

    /** Why {@link #available()} is false, for {@code penne:features}; null when it is true. */
    static String unavailableReason() {
        return UNAVAILABLE;
    }

    private static String load() {
        if (!"Linux".equals(System.getProperty("os.name")) || !"64".equals(System.getProperty("sun.arch.data.model")))
            return "needs 64-bit Linux";
        try (InputStream in = JniLibC.class.getResourceAsStream(RESOURCE)) {
            if (in == null)
                return LIBRARY + " was not built (no C compiler or jni.h where penne was built)";
            String dir = System.getProperty("penne.native.tmpdir", System.getProperty("java.io.tmpdir"));
            Path copy = Files.createTempFile(Path.of(dir), "libpenne-libc", ".so");
            try {
                Files.copy(in, copy, StandardCopyOption.REPLACE_EXISTING);
                System.load(copy.toString());
            } finally {
                Files.deleteIfExists(copy);
            }
            return null;
        } catch (IOException | RuntimeException | UnsatisfiedLinkError e) {
            return "cannot load " + LIBRARY + ": " + e.getMessage();
        }
    }

    /** This thread's errno as saved by its last failing call here. */
    static native int errno();

    /** The address of a direct buffer's byte 0: JNI GetDirectBufferAddress. */
    static native long address(ByteBuffer direct);

    /** A direct buffer over memory the caller owns: JNI NewDirectByteBuffer. */
    static native ByteBuffer wrap(long address, int size);
}
