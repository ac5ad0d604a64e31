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
    static final String INSTANCE_SERVICE = "io.penne.api.Instance";
    static final String CONTROL_SERVICE = "io.penne.shell.ControlSocket";

    private final Framework framework;

    private Runtime(Framework framework) {
        this.framework = framework;
    }

    /**
     * Starts the framework and every bundle in {@code bundleDir}.
     *
     * @param config PID to properties, handed to the launch configurator
     */
    static Runtime start(Path home, RuntimeDir scratch, Map<String, Map<String, String>> config)
        throws IOException, BundleException {
        Map<String, String> props = new HashMap<>();
        props.put(Constants.FRAMEWORK_STORAGE, scratch.path().resolve("framework").toString());
        props.put(Constants.FRAMEWORK_STORAGE_CLEAN, Constants.FRAMEWORK_STORAGE_CLEAN_ONFIRSTINIT);
        props.put("felix.log.level", "1");
        props.put("ds.loglevel", "warn");
        props.put("felix.cache.locking", "false");
        props.put("org.osgi.framework.bsnversion", "single");
        props.put("penne.config.pids", String.join(",", config.keySet()));
        config.forEach((pid, kv) -> {
            props.put("penne.config." + pid + ".keys", String.join(",", kv.keySet()));
            kv.forEach((k, v) -> props.put("penne.config." + pid + "." + k, v));
        });
        // JNA extracts its native library into a temporary directory: keep it in ours.
        System.setProperty("jna.tmpdir", scratch.path().toString());
        // jline and others look up providers through the context class loader (STACK.md pitfall 4).
        Thread.currentThread().setContextClassLoader(null);

        FrameworkFactory factory = ServiceLoader.load(FrameworkFactory.class, Runtime.class.getClassLoader())
            .findFirst().orElseThrow(() -> new IllegalStateException("no OSGi framework on the class path"));
        Framework fw = factory.newFramework(props);
        fw.init();
        BundleContext ctx = fw.getBundleContext();
        List<Bundle> installed = new ArrayList<>();
        List<Path> jars = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(home.resolve("bundles"), "*.jar")) {
            ds.forEach(jars::add);
        }
        jars.sort(null);
        for (Path jar : jars)
            installed.add(ctx.installBundle("reference:" + jar.toUri()));
        fw.start();
        for (Bundle b : installed)
            if (b.getHeaders().get(Constants.FRAGMENT_HOST) == null)
                b.start();
        return new Runtime(fw);
    }

    /**
     * Waits until a service of {@code objectClass} matching {@code filter} is
     * registered, and gets it once so that a delayed component is activated.
     *
     * @return false on timeout
     */
    boolean awaitService(String objectClass, String filter, long timeoutMs) throws InterruptedException {
        BundleContext ctx = framework.getBundleContext();
        String f = "(&(objectClass=" + objectClass + ")" + (filter == null ? "" : filter) + ")";
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        while (System.nanoTime() < deadline) {
            try {
                ServiceReference<?>[] refs = ctx.getServiceReferences((String) null, f);
                if (refs != null && ctx.getService(refs[0]) != null) {
                    ctx.ungetService(refs[0]);
                    return true;
                }
            } catch (InvalidSyntaxException e) {
                throw new IllegalArgumentException(e);
            }
            Thread.sleep(2);
        }
        return false;
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

    /** Blocks until the framework stops (e.g. {@code stop 0} from the shell). */
    void awaitStop() throws InterruptedException {
        framework.waitForStop(0);
    }
}
