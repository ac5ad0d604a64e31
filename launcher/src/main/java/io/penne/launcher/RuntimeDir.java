package io.penne.launcher;

import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * Scratch state of one penne process (the OSGi framework cache, JNA's
 * extracted native library): a fresh private directory under
 * {@code $XDG_RUNTIME_DIR}, or under the system temporary directory if that
 * is unset or unusable. Never inside the installation or the working
 * directory, never shared between two processes, removed at exit.
 */
final class RuntimeDir {
    private final Path dir;

    private RuntimeDir(Path dir) {
        this.dir = dir;
    }

    static RuntimeDir create() throws IOException {
        String xdg = System.getenv("XDG_RUNTIME_DIR");
        Path base = null;
        if (xdg != null && !xdg.isEmpty()) {
            Path p = Path.of(xdg);
            if (Files.isDirectory(p) && Files.isWritable(p))
                base = p;
        }
        if (base == null)
            base = Path.of(System.getProperty("java.io.tmpdir", "/tmp"));
        Path dir = Files.createTempDirectory(base, "penne-",
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        return new RuntimeDir(dir);
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
