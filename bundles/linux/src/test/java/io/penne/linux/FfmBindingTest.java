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
 * The FFM binding of {@link LibC}. The build runs on JDK 17, where only the
 * JNA binding can load, so this test runs {@link #main} in a child JVM of
 * version 22 or later: the one named by {@code -Dpenne.test.jdk22=JAVA_HOME},
 * else the newest under {@code /usr/lib/jvm}. Without one the test is skipped
 * (and says so), since there is nothing to run the binding on.
 */
class FfmBindingTest {

    @Test
    void ffmBindingCallsReturnResultsAndErrno() throws Exception {
        Path java = findJdk22();
        Assumptions.assumeTrue(java != null, "no JDK 22+ found (set -Dpenne.test.jdk22=JAVA_HOME): FFM binding not tested");
        for (String mode : new String[] {"ffm", "jna"}) {
            List<String> cmd = new ArrayList<>(List.of(java.toString(), "--enable-native-access=ALL-UNNAMED",
                    "-Djna.nosys=true", "-cp", System.getProperty("java.class.path")));
            if (mode.equals("jna"))
                cmd.add("-Dpenne.native=jna");
            cmd.addAll(List.of(FfmBindingTest.class.getName(), mode));
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            assertTrue(p.waitFor(60, TimeUnit.SECONDS), "child JVM finished");
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertEquals(0, p.exitValue(), out);
            assertTrue(out.contains("binding " + mode + " ok"), out);
            // Nothing on the output but the result: no "restricted method" warnings.
            assertEquals("binding " + mode + " ok", out.strip(), out);
        }
    }

    /** The child: checks the binding named by args[0] with real calls; exits non-zero on any failure. */
    public static void main(String[] args) throws Exception {
        String want = args[0];
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
