package io.penne.launcher;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;

/**
 * Scratch state of one penne process (the OSGi framework cache, the native
 * libraries copied out before loading): a fresh private directory under
 * {@code $XDG_RUNTIME_DIR}, or under the system temporary directory if that
 * is unset or unusable. Never inside the installation or the working
 * directory, never shared between two processes, removed at exit.
 *
 * <p>A penne killed with SIGKILL (or by the OOM killer) cannot remove its
 * directory, so each directory holds an {@value #OWNER} file naming its
 * process (PID and start time, which tells a reused PID apart), and every
 * start removes the directories of the same user whose process is gone.
 * Directories without that file are left alone: they may be an instance
 * that has just created its own.
 */
final class RuntimeDir {
    static final String OWNER = "owner";

    private final Path dir;

    private RuntimeDir(Path dir) {
        this.dir = dir;
    }

    static RuntimeDir create() throws IOException {
        return create(base());
    }

    private static Path base() {
        String xdg = System.getenv("XDG_RUNTIME_DIR");
        Path base = null;
        if (xdg != null && !xdg.isEmpty()) {
            Path p = Path.of(xdg);
            if (Files.isDirectory(p) && Files.isWritable(p))
                base = p;
        }
        if (base == null)
            base = Path.of(System.getProperty("java.io.tmpdir", "/tmp"));
        return base;
    }

    /** A new directory under {@code base}, after removing the stale ones there. */
    static RuntimeDir create(Path base) throws IOException {
        Path dir = Files.createTempDirectory(base, "penne-",
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        Files.writeString(dir.resolve(OWNER), ownerOf(ProcessHandle.current()));
        RuntimeDir self = new RuntimeDir(dir);
        self.removeStaleSiblings();
        return self;
    }

    /** "PID START", START in milliseconds since the epoch; "PID" alone if the start time is unknown. */
    static String ownerOf(ProcessHandle h) {
        return h.pid() + h.info().startInstant().map(i -> " " + i.toEpochMilli()).orElse("");
    }

    /** Removes the directories of this user's penne processes that no longer exist (best effort). */
    private void removeStaleSiblings() {
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir.getParent(), "penne-*")) {
            UserPrincipal me = Files.getOwner(dir);
            for (Path other : ds) {
                if (other.equals(dir) || !Files.isDirectory(other, LinkOption.NOFOLLOW_LINKS))
                    continue;
                try {
                    if (!me.equals(Files.getOwner(other, LinkOption.NOFOLLOW_LINKS)))
                        continue;
                    String owner = Files.readString(other.resolve(OWNER)).strip();
                    long pid = Long.parseLong(owner.split(" ")[0]);
                    boolean alive = ProcessHandle.of(pid).map(RuntimeDir::ownerOf).filter(owner::equals).isPresent();
                    if (!alive)
                        new RuntimeDir(other).delete();
                } catch (IOException | RuntimeException e) {
                    // No owner file yet, another user's, or unreadable: not ours to judge.
                }
            }
        } catch (IOException e) {
            // Stale directories are only clutter; never fail a start over them.
        }
    }

    Path path() {
        return dir;
    }

    /** Removes the directory and everything in it; errors are ignored (best effort at exit). */
    void delete() {
        try {
            Files.walkFileTree(dir, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                    Files.deleteIfExists(file);
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult postVisitDirectory(Path d, IOException e) throws IOException {
                    Files.deleteIfExists(d);
                    return FileVisitResult.CONTINUE;
                }
            });
        } catch (IOException e) {
            // Leftovers in a private temporary directory are harmless.
        }
    }
}
