package io.penne.itest;

import static org.ops4j.pax.exam.CoreOptions.junitBundles;
import static org.ops4j.pax.exam.CoreOptions.mavenBundle;
import static org.ops4j.pax.exam.CoreOptions.options;
import static org.ops4j.pax.exam.CoreOptions.systemProperty;

import java.io.File;
import java.util.ArrayList;
import java.util.List;
import org.ops4j.pax.exam.Option;

/**
 * The Felix runtime of penne for Pax Exam tests: the same third-party bundles
 * as the launcher, plus penne's bundles from this build (by path, so no stale
 * artifact from ~/.m2 is picked up).
 */
final class PennePax {
    private PennePax() {
    }

    /** The runtime with penne's api, linux, flow, core and shell, and the given extra reactor bundles. */
    static Option[] runtime(String... extraReactorBundles) {
        List<Option> o = new ArrayList<>(List.of(
            systemProperty("jna.nosys").value("true"),
            mavenBundle("org.osgi", "org.osgi.util.function").versionAsInProject(),
            mavenBundle("org.osgi", "org.osgi.util.promise").versionAsInProject(),
            mavenBundle("org.osgi", "org.osgi.service.component").versionAsInProject(),
            mavenBundle("org.apache.felix", "org.apache.felix.scr").versionAsInProject(),
            mavenBundle("org.apache.felix", "org.apache.felix.configadmin").versionAsInProject(),
            mavenBundle("org.apache.felix", "org.apache.felix.gogo.runtime").versionAsInProject(),
            mavenBundle("org.apache.felix", "org.apache.felix.gogo.command").versionAsInProject(),
            mavenBundle("net.java.dev.jna", "jna").versionAsInProject()));
        for (String b : new String[] {"api", "linux", "flow", "core", "shell"})
            o.add(reactor(b));
        for (String b : extraReactorBundles)
            o.add(reactor(b));
        o.add(junitBundles());
        return options(o.toArray(new Option[0]));
    }

    /** Polls {@code s} every 10 ms until it gives a value, for up to {@code seconds}; fails naming {@code what}. */
    static <T> T await(java.util.function.Supplier<T> s, String what, int seconds) throws InterruptedException {
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(seconds);
        while (System.nanoTime() < deadline) {
            T v = s.get();
            if (v != null)
                return v;
            Thread.sleep(10);
        }
        throw new AssertionError("timed out waiting for " + what);
    }

    /** Waits up to 10 s for {@code cond}. */
    static void waitFor(java.util.function.BooleanSupplier cond, String what) throws InterruptedException {
        await(() -> cond.getAsBoolean() ? Boolean.TRUE : null, what, 10);
    }

    /** The first service of {@code type} matching {@code filter}, or null. */
    static <T> T service(org.osgi.framework.BundleContext context, Class<T> type, String filter) {
        try {
            java.util.Collection<org.osgi.framework.ServiceReference<T>> refs =
                context.getServiceReferences(type, filter);
            return refs.isEmpty() ? null : context.getService(refs.iterator().next());
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** Runs {@code c} on {@code instance}'s loop thread and returns its result (5 s at most). */
    static <T> T onLoop(io.penne.api.Instance instance, java.util.concurrent.Callable<T> c) {
        try {
            return instance.loop().submit(c).get(5, java.util.concurrent.TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** A bundle of this build, from the path failsafe passes as system property bundle.ARTIFACT. */
    private static Option reactor(String artifact) {
        String path = System.getProperty("bundle." + artifact);
        if (path == null || !new File(path).isFile())
            throw new IllegalStateException("bundle." + artifact + " not set or missing: " + path);
        return org.ops4j.pax.exam.CoreOptions.bundle(new File(path).toURI().toString());
    }
}
