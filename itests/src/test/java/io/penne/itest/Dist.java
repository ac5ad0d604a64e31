package io.penne.itest;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The built distribution ({@code launcher/target/penne}) and helpers to run
 * its commands as a user would, with real processes, sockets and signals.
 */
final class Dist {
    static final Path HOME = Path.of(System.getProperty("penne.dist", "../launcher/target/penne")).toAbsolutePath()
        .normalize();
    static final Path PENNE = HOME.resolve("bin/penne");
    static final Path CTL = HOME.resolve("bin/penne-ctl");

    private Dist() {
    }

    /** Result of a finished command. */
    record Result(int status, String out, String err) {
        @Override
        public String toString() {
            return "status " + status + "\n--- stdout\n" + out + "--- stderr\n" + err;
        }
    }

    static Result run(long timeoutSeconds, List<String> cmd) throws IOException, InterruptedException {
        return run(timeoutSeconds, cmd, null);
    }

    static Result run(long timeoutSeconds, List<String> cmd, Path cwd) throws IOException, InterruptedException {
        Path out = Files.createTempFile("penne-it", ".out");
        Path err = Files.createTempFile("penne-it", ".err");
        try {
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
            if (cwd != null)
                pb.directory(cwd.toFile());
            Process p = pb.start();
            if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new AssertionError("timed out after " + timeoutSeconds + " s: " + cmd);
            }
            return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
                Files.readString(err, StandardCharsets.UTF_8));
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }

    static List<String> penne(String... args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(PENNE.toString());
        cmd.addAll(List.of(args));
        return cmd;
    }

    static List<String> ctl(String... args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(CTL.toString());
        cmd.addAll(List.of(args));
        return cmd;
    }

    /** Waits until {@code path} exists (e.g. a control socket), or fails. */
    static void awaitFile(Path path, long timeoutMs) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        while (!Files.exists(path)) {
            if (System.nanoTime() > deadline)
                throw new AssertionError("timed out waiting for " + path);
            Thread.sleep(10);
        }
    }

    /** Process IDs of running penne launchers whose command line mentions {@code marker}. */
    static List<Long> pennePids(String marker) {
        List<Long> pids = new ArrayList<>();
        ProcessHandle.allProcesses().forEach(ph -> {
            String line = ph.info().commandLine().orElse("");
            if (line.contains("penne-launcher.jar") && line.contains(marker))
                pids.add(ph.pid());
        });
        return pids;
    }

    /** User and system CPU time of a process, in clock ticks (usually 1/100 s). */
    static long cpuTicks(long pid) throws IOException {
        String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Long.parseLong(f[11]) + Long.parseLong(f[12]);
    }
}
