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
    static final String IN_USERNS_FLAG = "--penne-in-userns";
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
        if (o.spawnsCommand() && !o.inUserns && !o.netnsOnly && !isRoot())
            return inUserNamespace(List.of("unshare", "--user", "--map-root-user", "--"), args);
        // Attached to a namespace owned by another user namespace (a PID's, or --userns), an
        // unprivileged penne must be in that user namespace to enter the network one.
        List<String> join = o.inUserns || o.daemonChild ? List.of() : joinUserns(o.usernsTarget);
        if (join == null)
            return fail("cannot open user namespace " + o.usernsTarget + ": no such file");
        // As pasta: with a command penne stays in the foreground; attached to a namespace, it
        // goes to the background once that namespace is configured, unless -f.
        if (!o.spawnsCommand() && !o.foreground && !o.daemonChild)
            return background(join, args);
        if (!join.isEmpty())
            return inUserNamespace(join, args);
        return foreground(o);
    }

    /**
     * The command prefix that puts a JVM in user namespace {@code userns}
     * (util-linux {@code nsenter}, keeping the caller's credentials, which
     * the namespace maps to its root); empty if no joining is needed: real
     * root enters any network namespace as it is, and a process already in
     * that user namespace (podman runs pasta in its own) is there. Null if
     * the namespace does not exist.
     */
    private static List<String> joinUserns(String userns) {
        if (userns == null || isRoot())
            return List.of();
        Path target = Path.of(userns);
        if (!Files.exists(target))
            return null;
        try {
            if (Files.readSymbolicLink(target).equals(Files.readSymbolicLink(Path.of("/proc/self/ns/user"))))
                return List.of();
        } catch (IOException | UnsupportedOperationException e) {
            // not a namespace link (a bind mount, say): join it and let nsenter judge
        }
        return List.of("nsenter", "--user=" + userns, "--preserve-credentials", "--");
    }

    private static int foreground(Options o) {
        long t0 = System.nanoTime();
        if (o.netnsTarget != null && !Files.exists(Path.of(o.netnsTarget))) {
            LOG.severe("cannot open network namespace " + o.netnsTarget + ": no such file");
            return 1;
        }
        Path home = home();
        RuntimeDir scratch;
        try {
            scratch = RuntimeDir.create();
        } catch (IOException e) {
            LOG.severe("cannot create a runtime directory: " + e.getMessage());
            return 1;
        }
        Runtime[] rt = new Runtime[1]; // set before any bundle starts, so the hook can stop them
        Process[] child = new Process[1];
        Thread cleanup = new Thread(() -> {
            Runtime r;
            synchronized (rt) {
                r = rt[0];
            }
            Process c;
            synchronized (child) {
                c = child[0];
            }
            if (c != null && c.isAlive())
                stopCommand(c); // penne is being stopped: the command must not outlive its network
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
            instance.put("netns", o.spawnsCommand() ? "new" : o.netnsTarget);
            instance.putAll(o.ns);
            config.put("io.penne.instance", instance);
            if (o.confPath != null)
                config.put("io.penne.control", Map.of("path", Path.of(o.confPath).toAbsolutePath().toString()));

            synchronized (rt) {
                rt[0] = new Runtime(home, scratch, config);
            }
            rt[0].start();
            if (!rt[0].awaitService(Runtime.INSTANCE_SERVICE, "(name=default)", READY_TIMEOUT_MS))
                return fail("the instance did not start (see messages above)");
            LOG.fine(String.format("instance up %.0f ms after main", (System.nanoTime() - t0) / 1e6));
            if (o.confPath != null && !rt[0].awaitService(Runtime.CONTROL_SERVICE, null, READY_TIMEOUT_MS))
                return fail("the control socket " + o.confPath + " did not open (see messages above)");
            // Ready means the handlers are attached and their ports listen, as pasta forks (and podman
            // starts the container) only then: the guest's first packets must find them.
            Object handlers = rt[0].service("java.lang.Runnable", "(penne.instance.handlers=default)",
                READY_TIMEOUT_MS);
            try {
                if (handlers != null)
                    ((Runnable) handlers).run();
            } catch (RuntimeException e) { // the instance went away meanwhile: told why below
                if (!rt[0].stopped())
                    throw e;
            }
            if (rt[0].stopped())
                return 0; // stopped from the control socket ("stop 0") while starting: a clean exit
            if (handlers == null)
                return fail("the instance did not start (see messages above)");
            if (o.pidFile != null)
                Files.writeString(Path.of(o.pidFile), ProcessHandle.current().pid() + "\n");
            LOG.fine(String.format("ready in %.0f ms (%.0f ms since JVM start)",
                (System.nanoTime() - t0) / 1e6,
                (double) (System.currentTimeMillis() - ManagementFactory.getRuntimeMXBean().getStartTime())));
            if (o.spawnsCommand())
                return runCommand(o, rt[0], child);
            if (o.daemonChild)
                detachFromParent();
            if (!o.noNetnsQuit)
                quitWhenGone(Path.of(o.netnsTarget), rt[0]);
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

    /**
     * Starts the command inside the namespace through the core's spawner
     * service, with this process's standard input, output and error, and
     * returns its exit status (128 + signal if a signal ended it, as a shell
     * reports it).
     */
    @SuppressWarnings("unchecked")
    private static int runCommand(Options o, Runtime rt, Process[] child) throws Exception {
        Object service = rt.service("java.util.function.Function", "(penne.namespace.spawner=default)",
            READY_TIMEOUT_MS);
        if (service == null)
            return fail("the namespace of instance 'default' did not come up (see messages above)");
        List<String> cmd = new ArrayList<>(o.command);
        if (cmd.isEmpty())
            cmd.add(System.getenv().getOrDefault("SHELL", "/bin/sh"));
        String missing = CommandNamespaces.unrunnable(cmd.get(0));
        if (missing != null) {
            System.err.println("penne: cannot run '" + cmd.get(0) + "': " + missing);
            return 127;
        }
        ProcessBuilder pb = new ProcessBuilder(CommandNamespaces.wrap(cmd, o.hostname)).inheritIO();
        // As in the daemon case, shed startup garbage; before the command, not after: a full
        // collection stops the loop thread too (15-20 ms), and the command's first packets would wait.
        System.gc();
        Process p;
        try {
            p = ((java.util.function.Function<ProcessBuilder, Process>) service).apply(pb);
        } catch (java.io.UncheckedIOException e) {
            System.err.println("penne: cannot run '" + cmd.get(0) + "': " + e.getCause().getMessage());
            return 127;
        }
        synchronized (child) {
            child[0] = p;
        }
        while (!p.waitFor(200, java.util.concurrent.TimeUnit.MILLISECONDS)) {
            if (rt.stopped()) { // stopped from the shell ("stop 0"): the command goes with its network
                stopCommand(p);
                return 0;
            }
        }
        return p.exitValue();
    }

    /**
     * Stops the command: SIGTERM to it and everything it started, then, if it
     * is still there after {@link CommandNamespaces#GRACE_MS}, SIGKILL to its
     * PID namespace's keeper, which takes the whole namespace with it. (The
     * first process of a PID namespace only gets the signals it handles, so
     * a plain {@code sleep} there waits for the second step.)
     */
    private static void stopCommand(Process c) {
        c.descendants().forEach(ProcessHandle::destroy);
        c.destroy();
        try {
            if (!c.waitFor(CommandNamespaces.GRACE_MS, java.util.concurrent.TimeUnit.MILLISECONDS))
                c.destroyForcibly();
            c.waitFor(5, java.util.concurrent.TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            c.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }

    /** Stops penne once the attached namespace is gone (its file removed, its process exited). */
    private static void quitWhenGone(Path netns, Runtime rt) {
        Thread t = new Thread(() -> {
            while (Files.exists(netns)) {
                try {
                    Thread.sleep(1000);
                } catch (InterruptedException e) {
                    return;
                }
            }
            LOG.info("namespace " + netns + " is gone, exiting");
            rt.stop(10_000);
        }, "penne-netns-watch");
        t.setDaemon(true);
        t.start();
    }

    /**
     * Runs this same command again inside a user namespace, through
     * {@code prefix} (a new one in which the caller is root, by util-linux
     * {@code unshare --map-root-user}, or an existing one by {@code
     * nsenter}): a JVM cannot enter a user namespace itself once it runs
     * threads, and without being in the right one an unprivileged process
     * can neither create nor enter a network namespace. See
     * docs/namespaces.md.
     */
    private static int inUserNamespace(List<String> prefix, String[] args) {
        List<String> cmd = new ArrayList<>(prefix);
        cmd.addAll(thisJvm(IN_USERNS_FLAG, args));
        try {
            Process p = new ProcessBuilder(cmd).inheritIO().start();
            java.lang.Runtime.getRuntime().addShutdownHook(new Thread(p::destroy));
            return p.waitFor();
        } catch (IOException e) {
            System.err.println("penne: cannot enter a user namespace (" + prefix.get(0) + " from util-linux): "
                + e.getMessage());
            return 1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 1;
        }
    }

    /** The command line that starts this launcher again in a new JVM, with {@code flag} before {@code args}. */
    private static List<String> thisJvm(String flag, String[] args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse("java"));
        cmd.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(Main.class.getName());
        cmd.add(flag);
        cmd.addAll(List.of(args));
        return cmd;
    }

    private static boolean isRoot() {
        try {
            return (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid") == 0;
        } catch (IOException | UnsupportedOperationException e) {
            return false;
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

    /**
     * Starts "penne -f ..." in a new session (and in the user namespace that
     * {@code join} enters, if any) and waits for it to be ready.
     */
    private static int background(List<String> join, String[] args) {
        List<String> cmd = new ArrayList<>();
        if (new File("/usr/bin/setsid").canExecute())
            cmd.add("/usr/bin/setsid");
        cmd.addAll(join); // the daemon itself enters the user namespace: no third JVM for that
        String[] all = new String[args.length + 1];
        all[0] = "--foreground";
        System.arraycopy(args, 0, all, 1, args.length);
        cmd.addAll(thisJvm(DAEMON_CHILD_FLAG, all));
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
