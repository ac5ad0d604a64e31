package io.penne.launcher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Runtime directories: private, removed at exit, and those of killed instances removed by the next start. */
class RuntimeDirTest {

    @Test
    void startRemovesDirectoriesOfProcessesThatAreGone(@TempDir Path base) throws Exception {
        // A process that has exited: its directory is stale.
        Process gone = new ProcessBuilder("true").start();
        String goneOwner = RuntimeDir.ownerOf(gone.toHandle());
        gone.waitFor();
        Path stale = Files.createDirectories(base.resolve("penne-1/framework"));
        Files.writeString(base.resolve("penne-1/owner"), goneOwner);
        // A live process, but a different start time: the PID was reused, so stale too.
        Path reused = Files.createDirectories(base.resolve("penne-2"));
        Files.writeString(reused.resolve("owner"), ProcessHandle.current().pid() + " 1");
        // A live instance, one without an owner file yet, and something that is not penne's.
        Path live = Files.createDirectories(base.resolve("penne-3"));
        Files.writeString(live.resolve("owner"), RuntimeDir.ownerOf(ProcessHandle.current()));
        Path starting = Files.createDirectories(base.resolve("penne-4"));
        Path garbage = Files.createDirectories(base.resolve("penne-5"));
        Files.writeString(garbage.resolve("owner"), "not a pid");
        Path other = Files.createDirectories(base.resolve("other-1"));

        RuntimeDir rd = RuntimeDir.create(base);

        assertFalse(Files.exists(stale.getParent()), "stale directory removed");
        assertFalse(Files.exists(reused), "directory of a reused PID removed");
        assertTrue(Files.isDirectory(live), "live instance's directory kept");
        assertTrue(Files.isDirectory(starting), "directory without an owner file kept");
        assertTrue(Files.isDirectory(garbage), "directory with an unreadable owner kept");
        assertTrue(Files.isDirectory(other), "not penne's");
        assertEquals(RuntimeDir.ownerOf(ProcessHandle.current()), Files.readString(rd.path().resolve("owner")));
        assertEquals("rwx------", java.nio.file.attribute.PosixFilePermissions.toString(
                Files.getPosixFilePermissions(rd.path())));
        rd.delete();
        assertFalse(Files.exists(rd.path()));
    }
}
