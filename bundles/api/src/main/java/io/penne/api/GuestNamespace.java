package io.penne.api;

import java.util.concurrent.Callable;
import org.osgi.annotation.versioning.ProviderType;

/**
 * The guest's network namespace, in namespace mode: a way to create file
 * descriptors that live there (sockets on the namespace's loopback for
 * splicing, listening sockets for {@code -T}/{@code -U}).
 *
 * <p>A JVM cannot move itself into another network namespace, but one of its
 * threads can: {@link #call} runs a task on a thread that entered the
 * namespace once, so sockets it opens belong to the namespace, and the
 * descriptors stay valid on any thread afterwards. Each call is a hand-off
 * to that thread and back (tens of microseconds): open what the data path
 * needs in batches, ahead of time.
 */
@ProviderType
public interface GuestNamespace {

    /**
     * Runs {@code task} on the namespace's thread and returns its result.
     * Exceptions arrive as thrown ({@link java.io.IOException} as
     * {@link java.io.UncheckedIOException}, other checked ones wrapped in
     * {@link java.util.concurrent.CompletionException}).
     */
    <T> T call(Callable<T> task);
}
