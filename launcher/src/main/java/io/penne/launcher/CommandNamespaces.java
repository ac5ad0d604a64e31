package io.penne.launcher;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The namespaces, besides the network one, that the command penne starts
 * runs in, as pasta's: a new PID namespace, in which the command is process
 * 1 and {@code /proc} shows only its own processes (a new mount namespace
 * with {@code /proc} mounted again), and new UTS and IPC namespaces, the
 * hostname being {@code -H}'s or, as pasta names it, {@code pasta-} and the
 * host's. When the command exits, the kernel kills whatever it left
 * running there, so nothing it started outlives penne, daemons included.
 *
 * <p>A JVM cannot create these namespaces for a child itself, so the command
 * goes through util-linux {@code unshare --fork --pid --mount-proc --uts
 * --ipc --kill-child}, which stays as its parent, passes its exit status on
 * (and a killing signal, by dying of it), and takes it down with SIGKILL if
 * it is killed itself. It ignores SIGTERM and SIGINT while it waits, so
 * penne stops the command as {@code Main.stopCommand} does. {@code unshare}
 * cannot set a hostname: a {@code /bin/sh} in the new namespaces sets it
 * with {@code hostname(1)} (Debian's essential package; it calls
 * sethostname(2), which the namespace's root may, where writing
 * {@code /proc/sys/kernel/hostname} is refused to a rootless one) and then
 * becomes the command ({@code exec}, so the command is still process 1).
 * Where {@code unshare} is missing the command runs without (and a warning
 * says so).
 */
final class CommandNamespaces {
    /** How long a stopped command gets to exit after SIGTERM before the namespace is killed. */
    static final long GRACE_MS = 2000;
    private static final String UNSHARE = "unshare";

    private CommandNamespaces() {
    }

    /** {@code command} as it is started: inside {@code unshare}, if there is one, with hostname {@code -H} or pasta's. */
    static List<String> wrap(List<String> command, String hostname) {
        if (find(UNSHARE) == null) {
            System.err.println("penne: warning: no unshare (util-linux): the command runs without a PID namespace,"
                + " and what it leaves running may outlive penne");
            return command;
        }
        List<String> w = new ArrayList<>(List.of(UNSHARE, "--fork", "--pid", "--mount-proc", "--uts", "--ipc",
            "--kill-child", "--", "/bin/sh", "-c", SET_HOSTNAME, hostname != null ? hostname : defaultHostname()));
        w.addAll(command);
        return w;
    }

    /** Run by /bin/sh with the hostname as $0 and the command as "$@". */
    static final String SET_HOSTNAME = "hostname \"$0\" 2>/dev/null"
        + " || echo \"penne: warning: cannot set the hostname to $0\" >&2; exec \"$@\"";

    /** pasta's: "pasta-" and the host's name, cut to the kernel's 64 bytes. */
    static String defaultHostname() {
        String host;
        try {
            host = Files.readString(Path.of("/proc/sys/kernel/hostname")).trim();
        } catch (java.io.IOException e) {
            host = "";
        }
        String name = "pasta-" + host;
        return name.length() > HOST_NAME_MAX ? name.substring(0, HOST_NAME_MAX) : name;
    }

    /** Longest hostname the kernel takes (HOST_NAME_MAX). */
    static final int HOST_NAME_MAX = 64;

    /**
     * Why {@code exe} cannot be started, as the error a shell would print,
     * or null if it can: checked here because inside {@code unshare} a
     * missing command would only show as unshare's own failure.
     */
    static String unrunnable(String exe) {
        Path p = exe.contains("/") ? Path.of(exe) : find(exe);
        if (p == null || !Files.exists(p))
            return "No such file or directory";
        if (Files.isDirectory(p) || !Files.isExecutable(p))
            return "Permission denied";
        return null;
    }

    /** {@code name} on the PATH, or null. */
    private static Path find(String name) {
        String path = System.getenv().getOrDefault("PATH", "/usr/local/bin:/usr/bin:/bin");
        for (String dir : path.split(File.pathSeparator)) {
            if (dir.isEmpty())
                continue;
            Path p = Path.of(dir, name);
            if (Files.isRegularFile(p) && Files.isExecutable(p))
                return p;
        }
        return null;
    }
}
