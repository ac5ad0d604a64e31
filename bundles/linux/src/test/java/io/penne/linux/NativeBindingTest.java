package io.penne.linux;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * Each binding of {@link LibC}, exercised with real calls in a child JVM
 * (the binding is chosen once per JVM): the JNI library and JNA on the JVM
 * running the build, FFM (and the JNI library again) on a JVM of version 22
 * or later: the one named by {@code -Dpenne.test.jdk22=JAVA_HOME}, else the
 * newest under {@code /usr/lib/jvm}. Without one, the FFM half is skipped
 * (and says so). The JNI half is skipped where the build could not make
 * {@code libpenne-libc.so} (no C compiler); CI builds with
 * {@code PENNE_REQUIRE_JNI=1}, where that fails the build instead.
 */
class NativeBindingTest {
    private static final boolean JNI_BUILT = NativeBindingTest.class.getResource(JniLibC.RESOURCE) != null;

    @Test
    void jniAndJnaBindingsOnTheBuildJvm() throws Exception {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        if (JNI_BUILT)
            runChild(java, "jni", "jni");
        runChild(java, "jna", "jna");
    }

    @Test
    void jniLibraryThatCannotLoadFallsBackAndSaysWhy() throws Exception {
        Assumptions.assumeTrue(JNI_BUILT, "libpenne-libc.so not built");
        // Nowhere to copy the library to: the next binding is used, and penne:features says why.
        String out = runChild(Path.of(System.getProperty("java.home"), "bin", "java"), "", "any",
                "-Dpenne.native.tmpdir=/nonexistent/penne");
        assertTrue(out.contains("cannot load libpenne-libc.so"), out);
    }

    @Test
    void ffmAndJniBindingsOnJdk22() throws Exception {
        Path java = findJdk22();
        Assumptions.assumeTrue(java != null, "no JDK 22+ found (set -Dpenne.test.jdk22=JAVA_HOME): FFM binding not tested");
        runChild(java, "ffm", "ffm", "--enable-native-access=ALL-UNNAMED");
        if (JNI_BUILT)
            runChild(java, "jni", "jni", "--enable-native-access=ALL-UNNAMED");
    }

    /** Runs {@link #main} with {@code -Dpenne.native=asked}; returns the binding detail it printed. */
    private static String runChild(Path java, String asked, String want, String... jvmArgs) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(java.toString()));
        cmd.addAll(List.of(jvmArgs));
        cmd.addAll(List.of("-Djna.nosys=true", "-Dpenne.native=" + asked, "-cp", System.getProperty("java.class.path"),
                NativeBindingTest.class.getName(), want));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "child JVM finished");
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), out);
        // Nothing on the output but the result: no "restricted method" warnings.
        String[] lines = out.strip().split("\n");
        assertEquals(2, lines.length, out);
        assertTrue(lines[1].startsWith("binding ") && lines[1].endsWith(" ok"), out);
        if (!want.equals("any"))
            assertEquals("binding " + want + " ok", lines[1], out);
        return lines[0];
    }

    /** The child: checks the binding named by args[0] with real calls; exits non-zero on any failure. */
    public static void main(String[] args) throws Exception {
        String want = args[0].equals("any") ? LibC.backend() : args[0];
        System.out.println(LibC.backendDetail());
        check(LibC.backend().equals(want), "backend " + LibC.backend() + " (" + LibC.backendDetail() + ")");
        // errno of a failing call, intact after allocation and a GC.
        check(LibC.close(-1) == -1, "close(-1) fails");
        byte[][] garbage = new byte[2000][];
        for (int i = 0; i < garbage.length; i++)
            garbage[i] = new byte[1024];
        System.gc();
        check(LibC.errno() == Errno.EBADF, "errno EBADF, got " + LibC.errno());
        // errno is per thread.
        check(LibC.epoll_create1(-1) == -1, "epoll_create1(-1) fails");
        Thread t = new Thread(() -> LibC.close(-1));
        t.start();
        t.join();
        check(LibC.errno() == Errno.EINVAL, "errno EINVAL on this thread, got " + LibC.errno());
        // long results and pointer arguments: a pipe, write, splice to a second pipe, read back.
        NativeBuffer scratch = NativeBuffer.allocate(64), data = NativeBuffer.allocate(64);
        check(Sys.pipe2(scratch, Sys.O_NONBLOCK | Sys.O_CLOEXEC) == 0, "pipe2");
        int r1 = scratch.getInt(0), w1 = scratch.getInt(4);
        check(Sys.pipe2(scratch, Sys.O_NONBLOCK | Sys.O_CLOEXEC) == 0, "pipe2");
        int r2 = scratch.getInt(0), w2 = scratch.getInt(4);
        data.putLong(0, 0x1122334455667788L);
        check(Sys.write(w1, data.address(), 8) == 8, "write");
        check(Sys.splice(r1, w2, 64, Sys.SPLICE_F_NONBLOCK) == 8, "splice");
        check(Sys.splice(r1, w2, 64, Sys.SPLICE_F_NONBLOCK) == -Errno.EAGAIN, "splice on an empty pipe: -EAGAIN");
        data.putLong(0, 0);
        check(Sys.read(r2, data.address() + 8, 64) == 8 && data.getLong(8) == 0x1122334455667788L, "read back");
        // a blocking call with a timeout: epoll_wait on an eventfd, before and after it is signalled.
        int efd = Sys.eventfd(0, Sys.EFD_NONBLOCK | Sys.EFD_CLOEXEC);
        try (Epoll ep = Epoll.create(4)) {
            ep.add(efd, Epoll.EPOLLIN, 42);
            check(ep.waitEvents(10) == 0, "no event yet");
            check(Sys.eventfdWrite(efd, 1) == 0, "eventfd write");
            check(ep.waitEvents(1000) == 1 && ep.data(0) == 42, "event");
        }
        // A direct buffer over mapped memory (LibC.wrap), and back to its address (LibC.addressOf).
        NativeBuffer mapped = NativeBuffer.mapAnonymous(8192);
        mapped.putLong(4096, 42);
        check(NativeBuffer.addressOf(mapped.buffer()) == mapped.address(), "address of a wrapped mapping");
        check(Sys.write(w1, mapped.address() + 4096, 8) == 8 && Sys.read(r1, data.address(), 8) == 8
                && data.getLong(0) == 42, "mapped memory through a pipe");
        mapped.unmap();
        for (int fd : new int[] {r1, w1, r2, w2, efd})
            check(Sys.close(fd) == 0, "close");
        System.out.println("binding " + want + " ok");
    }

    private static void check(boolean ok, String what) {
        if (!ok) {
            System.out.println("FAILED: " + what);
            System.exit(1);
        }
    }

    private static Path findJdk22() throws IOException {
        String named = System.getProperty("penne.test.jdk22");
        if (named != null && !named.isEmpty())
            return Path.of(named, "bin", "java");
        Path jvms = Path.of("/usr/lib/jvm");
        if (!Files.isDirectory(jvms))
            return null;
        Path best = null;
        int bestMajor = 21;
        try (Stream<Path> s = Files.list(jvms)) {
            for (Path home : (Iterable<Path>) s::iterator) {
                Path release = home.resolve("release");
                if (!Files.isRegularFile(release) || !Files.isExecutable(home.resolve("bin/java")))
                    continue;
                for (String line : Files.readAllLines(release)) {
                    if (!line.startsWith("JAVA_VERSION=\""))
                        continue;
                    String v = line.substring(14).replaceAll("[^0-9].*", "");
                    int major = v.isEmpty() ? 0 : Integer.parseInt(v);
                    if (major > bestMajor) {
                        bestMajor = major;
                        best = home.resolve("bin/java");
                    }
                }
            }
        }
        return best;
    }
}
