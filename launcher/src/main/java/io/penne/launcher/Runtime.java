package io.penne.launcher;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.concurrent.TimeUnit;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.BundleException;
import org.osgi.framework.Constants;
import org.osgi.framework.InvalidSyntaxException;
import org.osgi.framework.ServiceReference;
import org.osgi.framework.launch.Framework;
import org.osgi.framework.launch.FrameworkFactory;

/**
 * The embedded OSGi framework of one penne process: Felix with its cache in
 * the process's runtime directory, the bundles of the distribution's
 * {@code bundles/} directory installed by reference (no copy into the
 * cache) and started, and the instance configuration passed as framework
 * properties for the core bundle's launch configurator.
 */
final class Runtime {
    private static final java.util.logging.Logger LOG = java.util.logging.Logger.getLogger("io.penne.launcher");
    static final String INSTANCE_SERVICE = "io.penne.api.Instance";
    static final String CONTROL_SERVICE = "io.penne.shell.ControlSocket";

    private final Framework framework;
    private final Path home;

    /**
     * Creates and initialises the framework; {@link #start} then installs and
     * starts the bundles. Two steps so that a shutdown hook can hold the
     * framework (and stop it cleanly) while bundles are still starting.
     *
     * @param config PID to properties, handed to the launch configurator
     */
    Runtime(Path home, RuntimeDir scratch, Map<String, Map<String, String>> config) throws BundleException {
        this.home = home;
        Map<String, String> props = new HashMap<>();
        props.put(Constants.FRAMEWORK_STORAGE, scratch.path().resolve("framework").toString());
        props.put(Constants.FRAMEWORK_STORAGE_CLEAN, Constants.FRAMEWORK_STORAGE_CLEAN_ONFIRSTINIT);
        props.put("felix.log.level", "1");
        // Declarative Services logs a failed activation with its stack trace; penne's own components
        // report their failures in one line, so its log is only shown when debugging.
        props.put("ds.loglevel", LOG.isLoggable(java.util.logging.Level.FINE) ? "warn" : "0");
        props.put("felix.cache.locking", "false");
        props.put("org.osgi.framework.bsnversion", "single");
        props.put("penne.config.pids", String.join(",", config.keySet()));
        config.forEach((pid, kv) -> {
            props.put("penne.config." + pid + ".keys", String.join(",", kv.keySet()));
            kv.forEach((k, v) -> props.put("penne.config." + pid + "." + k, v));
        });
        // The linux bundle copies libpenne-libc.so (or JNA its own library) into a temporary
        // directory before loading it: keep that in ours.
        System.setProperty("penne.native.tmpdir", scratch.path().toString());
        System.setProperty("jna.tmpdir", scratch.path().toString());
        // jline and others look up providers through the context class loader (STACK.md pitfall 4).
        Thread.currentThread().setContextClassLoader(null);

        FrameworkFactory factory = ServiceLoader.load(FrameworkFactory.class, Runtime.class.getClassLoader())
            .findFirst().orElseThrow(() -> new IllegalStateException("no OSGi framework on the class path"));
        long t0 = System.nanoTime();
        framework = factory.newFramework(props);
        framework.init();
        LOG.fine(String.format("framework init %.0f ms", (System.nanoTime() - t0) / 1e6));
    }

    /** Installs every bundle of the distribution's {@code bundles/} by reference and starts it. */
    void start() throws IOException, BundleException {
        long t1 = System.nanoTime();
        Framework fw = framework;
        BundleContext ctx = fw.getBundleContext();
        List<Bundle> installed = new ArrayList<>();
        List<Path> jars = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(home.resolve("bundles"), "*.jar")) {
            ds.forEach(jars::add);
        }
        jars.sort(null);
        for (Path jar : jars)
            installed.add(ctx.installBundle("reference:" + jar.toUri()));
        long t2 = System.nanoTime();
        fw.start();
        for (Bundle b : installed)
            if (b.getHeaders().get(Constants.FRAGMENT_HOST) == null) {
                long tb = System.nanoTime();
                b.start();
                LOG.finest(String.format("started %s in %.1f ms", b.getSymbolicName(), (System.nanoTime() - tb) / 1e6));
            }
        LOG.fine(String.format("%d bundles installed in %.0f ms, started in %.0f ms",
            installed.size(), (t2 - t1) / 1e6, (System.nanoTime() - t2) / 1e6));
    }

    /**
     * Waits until a service of {@code objectClass} matching {@code filter} is
     * registered, and gets it once so that a delayed component is activated.
     *
     * @return false on timeout, or if the component behind the service failed to activate
     */
    boolean awaitService(String objectClass, String filter, long timeoutMs) throws InterruptedException {
        BundleContext ctx = framework.getBundleContext();
        String f = "(&(objectClass=" + objectClass + ")" + (filter == null ? "" : filter) + ")";
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        while (System.nanoTime() < deadline) {
            try {
                ServiceReference<?>[] refs = ctx.getServiceReferences((String) null, f);
                if (refs != null) {
                    // Registered: getting it activates the component once. Null means its activation
                    // failed (Declarative Services has logged why); asking again would only repeat that.
                    boolean up = ctx.getService(refs[0]) != null;
                    if (up)
                        ctx.ungetService(refs[0]);
                    return up;
                }
            } catch (InvalidSyntaxException e) {
                throw new IllegalArgumentException(e);
            }
            Thread.sleep(2);
        }
        return false;
    }

    /** The service of {@code objectClass} matching {@code filter}, waiting up to {@code timeoutMs}; null if none. */
    Object service(String objectClass, String filter, long timeoutMs) throws InterruptedException {
        if (!awaitService(objectClass, filter, timeoutMs))
            return null;
        BundleContext ctx = framework.getBundleContext();
        try {
            ServiceReference<?>[] refs = ctx.getServiceReferences(objectClass, filter);
            return refs == null ? null : ctx.getService(refs[0]);
        } catch (InvalidSyntaxException e) {
            throw new IllegalArgumentException(e);
        }
    }

    /** Stops the framework and waits up to {@code timeoutMs} for it. */
    void stop(long timeoutMs) {
        try {
            framework.stop();
            framework.waitForStop(timeoutMs);
        } catch (BundleException | InterruptedException e) {
            // exiting anyway
        }
    }

    /** Whether the framework has stopped (or is stopping). */
    boolean stopped() {
        return (framework.getState() & (Bundle.STARTING | Bundle.ACTIVE)) == 0;
    }

    /** Blocks until the framework stops (e.g. {@code stop 0} from the shell). */
    void awaitStop() throws InterruptedException {
        framework.waitForStop(0);
    }
}
