package io.penne.linux;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Small helpers for identifying network namespaces: open one as a file
 * descriptor, and tell two apart by inode.
 *
 * <p>Theory of operation: a namespace is identified by the inode of its nsfs
 * file. {@code /proc/thread-self/ns/net} is the calling <em>thread's</em>
 * network namespace (which, since {@code unshare(CLONE_NEWNET)} and
 * {@code setns} act per thread, may differ from {@code /proc/self/ns/net},
 * the main thread's); its symbolic link target reads {@code net:[INODE]}, and
 * so does the {@code /proc/self/fd/N} link of a descriptor opened on it. These
 * helpers read those links, so they need no {@code fstat} binding with its
 * per-architecture {@code struct stat} layout.
 *
 * <p>Setup and diagnostics only: everything here allocates. Stateless and
 * thread-safe; the answers describe the calling thread.
 */
public final class Namespaces {
    /** The calling thread's network namespace, whatever thread that is. */
    public static final String THREAD_NETNS = "/proc/thread-self/ns/net";

    private Namespaces() {
    }

    /** Inode of the calling thread's network namespace. */
    public static long netnsInode() {
        return inodeOfLink(Path.of(THREAD_NETNS));
    }

    /** Inode of the namespace an nsfs descriptor (e.g. {@link NetnsThread#nsFd()}) refers to. */
    public static long nsInodeOfFd(int fd) {
        return inodeOfLink(Path.of("/proc/self/fd/" + fd));
    }

    /**
     * Opens the calling thread's network namespace, read-only and
     * close-on-exec, using {@code scratch} for the path: the fd or
     * {@code -errno}. The fd keeps the namespace alive and can be given to
     * {@code setns}.
     */
    public static int openThreadNetns(NativeBuffer scratch) {
        return Sys.open(THREAD_NETNS, Sys.O_RDONLY | Sys.O_CLOEXEC, 0, scratch);
    }

    /** Parses the {@code type:[INODE]} target of an nsfs link. */
    private static long inodeOfLink(Path link) {
        String target;
        try {
            target = Files.readSymbolicLink(link).toString();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        int open = target.indexOf('['), close = target.lastIndexOf(']');
        if (open < 0 || close < open)
            throw new IllegalArgumentException(link + " is not a namespace: " + target);
        return Long.parseLong(target, open + 1, close, 10);
    }
}
