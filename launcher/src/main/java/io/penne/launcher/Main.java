package io.penne.launcher;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * {@code penne}: parses the command line, then either runs the instance in
 * this process ({@code -f}) or starts a background copy of itself and
 * returns once that copy is ready, as pasta forks once ready. "Returned"
 * therefore means "ready": the control socket accepts and the instance runs.
 *
 * <p>The background child is the same command with {@code -f} and a hidden
 * flag; it runs in its own session (setsid) with its standard output and
 * error on a pipe to the parent. The parent relays what the child prints
 * until the child says it is ready, then exits 0; if the child dies first,
 * the parent exits with its status. Once ready, the child lets go of the
 * pipe so that whoever ran penne is not kept waiting on its output.
 *
 * <p>Exit status: 0 after a clean stop (SIGINT, SIGTERM, {@code stop 0}),
 * 1 if the instance could not start, 2 for a bad command line.
 */
public final class Main {
    static final String VERSION = Main.class.getPackage().getImplementationVersion() != null
        ? Main.class.getPackage().getImplementationVersion() : "dev";
    static final String DAEMON_CHILD_FLAG = "--penne-daemon-child";
    static final String READY_MARKER = "penne-ready";
    private static final long READY_TIMEOUT_MS = 30_000;
    private static final Logger LOG = Logger.getLogger("io.penne.launcher");

    private Main() {
    }

    public static void main(String[] args) {
        System.exit(run(args));
    }

    static int run(String[] args) {
        Options o;
        try {
            o = Options.parse(args);
        } catch (UsageException e) {
            System.err.println("penne: " + e.getMessage() + " (see 'penne --help')");
            return 2;
        }
        if (o.help) {
            System.out.print(Options.usage());
            return 0;
        }
        if (o.version) {
            System.out.println("penne " + VERSION);
            return 0;
        }
        try {
            Logging.configure(o.logLevel, o.logFile, o.logSize);
        } catch (IOException e) {
            System.err.println("penne: cannot open log file '" + o.logFile + "': " + e.getMessage());
            return 1;
        }
        if (!o.foreground && !o.daemonChild)
            return background(args);
        return foreground(o);
    }

    private static int foreground(Options o) {
        long t0 = System.nanoTime();
        Path home = home();
        RuntimeDir scratch;
        try {
            scratch = RuntimeDir.create();
        } catch (IOException e) {
            LOG.severe("cannot create a runtime directory: " + e.getMessage());
            return 1;
        }
        Runtime[] rt = new Runtime[1]; // set before any bundle starts, so the hook can stop them
        Thread cleanup = new Thread(() -> {
            Runtime r;
            synchronized (rt) {
                r = rt[0];
            }
            if (r != null)
                r.stop(10_000);
            scratch.delete();
            if (o.pidFile != null)
                new File(o.pidFile).delete();
        }, "penne-shutdown");
        java.lang.Runtime.getRuntime().addShutdownHook(cleanup);
        try {
            Map<String, Map<String, String>> config = new LinkedHashMap<>();
            Map<String, String> instance = new LinkedHashMap<>();
            instance.put("name", "default");
            config.put("io.penne.instance", instance);
            if (o.confPath != null)
                config.put("io.penne.control", Map.of("path", Path.of(o.confPath).toAbsolutePath().toString()));

            synchronized (rt) {
                rt[0] = new Runtime(home, scratch, config);
            }
            rt[0].start();
            if (!rt[0].awaitService(Runtime.INSTANCE_SERVICE, "(name=default)", READY_TIMEOUT_MS))
                return fail("the instance did not start within " + READY_TIMEOUT_MS / 1000 + " s");
            LOG.fine(String.format("instance up %.0f ms after main", (System.nanoTime() - t0) / 1e6));
            if (o.confPath != null && !rt[0].awaitService(Runtime.CONTROL_SERVICE, null, READY_TIMEOUT_MS))
                return fail("the control socket " + o.confPath + " did not open (see messages above)");
            if (o.pidFile != null)
                Files.writeString(Path.of(o.pidFile), ProcessHandle.current().pid() + "\n");
            LOG.fine(String.format("ready in %.0f ms (%.0f ms since JVM start)",
                (System.nanoTime() - t0) / 1e6,
                (double) (System.currentTimeMillis() - ManagementFactory.getRuntimeMXBean().getStartTime())));
            if (o.daemonChild)
                detachFromParent();
            // Startup leaves megabytes of garbage (bundle manifests, SCR metadata); one full
            // collection now lets the heap shrink (bin/penne sets MaxHeapFreeRatio) before idling.
            System.gc();
            rt[0].awaitStop();
            return 0;
        } catch (Exception e) {
            LOG.log(Level.SEVERE, "cannot start: " + e.getMessage(), e);
            return 1;
        }
    }

    private static int fail(String why) {
        LOG.severe(why);
        return 1;
    }

    /** Tells the waiting parent we are ready, then stops writing to its pipe. */
    private static void detachFromParent() {
        System.out.println(READY_MARKER);
        System.out.flush();
        PrintStream nowhere = new PrintStream(OutputStream.nullOutputStream());
        System.setOut(nowhere);
        System.setErr(nowhere);
        try {
            System.in.close();
        } catch (IOException e) {
            // nothing to do
        }
    }

    /** Starts "penne -f ..." in a new session and waits for it to be ready. */
    private static int background(String[] args) {
        List<String> cmd = new ArrayList<>();
        if (new File("/usr/bin/setsid").canExecute())
            cmd.add("/usr/bin/setsid");
        cmd.add(ProcessHandle.current().info().command().orElse("java"));
        cmd.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(Main.class.getName());
        cmd.add(DAEMON_CHILD_FLAG);
        cmd.add("--foreground");
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
            .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        try {
            Process p = pb.start();
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(),
                StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    if (line.equals(READY_MARKER))
                        return 0;
                    System.err.println(line);
                }
            }
            return p.waitFor();
        } catch (IOException e) {
            System.err.println("penne: cannot start in the background: " + e.getMessage());
            return 1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 1;
        }
    }

    /** The installation: {@code penne.home}, else the parent of the directory holding the launcher jar. */
    static Path home() {
        String h = System.getProperty("penne.home");
        if (h != null)
            return Path.of(h);
        try {
            Path jar = Path.of(Main.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            return jar.getParent().getParent();
        } catch (Exception e) {
            return Path.of(".");
        }
    }
}
