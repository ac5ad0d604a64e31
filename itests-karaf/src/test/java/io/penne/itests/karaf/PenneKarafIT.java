package io.penne.itests.karaf;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;
import static org.ops4j.pax.exam.CoreOptions.maven;
import static org.ops4j.pax.exam.CoreOptions.options;
import static org.ops4j.pax.exam.karaf.options.KarafDistributionOption.configureConsole;
import static org.ops4j.pax.exam.karaf.options.KarafDistributionOption.editConfigurationFilePut;
import static org.ops4j.pax.exam.karaf.options.KarafDistributionOption.features;
import static org.ops4j.pax.exam.karaf.options.KarafDistributionOption.karafDistributionConfiguration;
import static org.ops4j.pax.exam.karaf.options.KarafDistributionOption.keepRuntimeFolder;
import static org.ops4j.pax.exam.karaf.options.KarafDistributionOption.logLevel;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Pattern;
import javax.inject.Inject;
import org.apache.karaf.features.FeaturesService;
import org.apache.karaf.shell.api.console.Session;
import org.apache.karaf.shell.api.console.SessionFactory;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.karaf.options.LogLevelOption.LogLevel;
import org.ops4j.pax.exam.options.MavenArtifactUrlReference;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.Filter;
import org.osgi.util.tracker.ServiceTracker;

/**
 * Installs feature {@code penne} into a real Karaf 4.4 (unpacked from the
 * apache-karaf tar.gz) and checks what an operator would see: the feature is
 * installed, every penne bundle is active, the configfile
 * {@code etc/io.penne.instance-default.cfg} has created the instance
 * "default", and the {@code penne:*} Gogo commands answer in Karaf's own
 * shell.
 *
 * <p>Everything is resolved offline: Karaf's {@code system/}, then
 * {@code features/target/features-repo} (this build's bundles, scr, shell),
 * then the local Maven repository (Pax Exam's own bundles, which the build
 * pre-fetches). The failsafe execution passes the paths as system properties.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class PenneKarafIT {
    private static final long TIMEOUT_MS = 30_000;

    @Inject
    private BundleContext context;

    @Inject
    private FeaturesService featuresService;

    @Inject
    private SessionFactory sessionFactory;

    @Configuration
    public Option[] config() {
        MavenArtifactUrlReference karaf = maven().groupId("org.apache.karaf").artifactId("apache-karaf")
            .type("tar.gz").version(property("karaf.version"));
        String featuresXml = new File(property("penne.featuresXml")).toURI().toString();
        String featuresRepo = new File(property("penne.featuresRepo")).toURI().toString();
        String pid = "etc/org.ops4j.pax.url.mvn.cfg";
        List<Option> options = new ArrayList<>(Arrays.asList(
            karafDistributionConfiguration().frameworkUrl(karaf).name("Apache Karaf")
                .unpackDirectory(new File(property("penne.examDir"))).useDeployFolder(false),
            configureConsole().ignoreLocalConsole().ignoreRemoteShell(),
            logLevel(LogLevel.WARN),
            // offline: Karaf's own system/ repositories stay first, this build's features repo is added
            editConfigurationFilePut(pid, "org.ops4j.pax.url.mvn.defaultRepositories",
                "${karaf.home.uri}${karaf.default.repository}@id=system.repository@snapshots,"
                    + "${karaf.data.uri}kar@id=kar.repository@multi@snapshots,"
                    + "${karaf.base.uri}${karaf.default.repository}@id=child.system.repository@snapshots,"
                    + featuresRepo + "@id=penne.features@snapshots"),
            editConfigurationFilePut(pid, "org.ops4j.pax.url.mvn.localRepository", property("penne.localRepository")),
            editConfigurationFilePut(pid, "org.ops4j.pax.url.mvn.repositories", ""),
            editConfigurationFilePut(pid, "org.ops4j.pax.url.mvn.offline", "true"),
            features(featuresXml, "penne")));
        if (Boolean.getBoolean("penne.keepKaraf"))
            options.add(keepRuntimeFolder());
        return options(options.toArray(new Option[0]));
    }

    @Test
    public void featureIsInstalledAndCommandsAnswer() throws Exception {
        // the feature and its bundles
        long deadline = System.currentTimeMillis() + TIMEOUT_MS;
        while (!featuresService.isInstalled(featuresService.getFeature("penne")) && System.currentTimeMillis() < deadline)
            Thread.sleep(200);
        assertTrue("feature penne is not installed", featuresService.isInstalled(featuresService.getFeature("penne")));
        for (String f : new String[] {"penne-api", "penne-core", "penne-shell", "penne-handlers"})
            assertTrue("feature " + f + " is not installed", featuresService.isInstalled(featuresService.getFeature(f)));

        List<String> penneBundles = new ArrayList<>();
        for (Bundle b : context.getBundles()) {
            String bsn = b.getSymbolicName();
            if (bsn == null || !bsn.startsWith("io.penne."))
                continue;
            penneBundles.add(bsn);
            assertEquals(bsn + " is not ACTIVE", Bundle.ACTIVE, b.getState());
        }
        penneBundles.sort(null);
        assertEquals(List.of("io.penne.addrconf", "io.penne.api", "io.penne.core", "io.penne.flow", "io.penne.icmp",
            "io.penne.linux", "io.penne.shell", "io.penne.tcp", "io.penne.tcp.splice", "io.penne.udp"),
            penneBundles);

        // the instance created by etc/io.penne.instance-default.cfg
        Filter filter = context.createFilter("(&(objectClass=io.penne.api.Instance)(name=default))");
        ServiceTracker<Object, Object> tracker = new ServiceTracker<>(context, filter, null);
        tracker.open(true);
        try {
            assertNotNull("no io.penne.api.Instance service with name=default", tracker.waitForService(TIMEOUT_MS));
        } finally {
            tracker.close();
        }

        // the penne:* commands in Karaf's shell
        assertLine(run("penne:instances"), "^NAME\\s+FLOWS\\s+CAPACITY\\s+HANDLERS\\s+UPTIME$");
        assertLine(run("penne:instances"), "^default\\s+0\\s+131071\\s+\\d+\\s+\\S+$");
        String handlers = run("penne:handlers");
        assertLine(handlers, "^NAME\\s+STATE\\s+BUNDLE\\s+VERSION\\s+FLOWS\\s+FLOW TYPES\\s+EVENT TYPES$");
        assertLine(handlers, "^addrconf\\s+bound\\s+io\\.penne\\.addrconf\\s+\\S+\\s+0\\s+-\\s+-$");
        assertLine(run("penne:flows"), "^ID\\s+TYPE\\s+STATE\\s+SIDE 0 \\(INITIATING\\)\\s+SIDE 1 \\(TARGET\\)\\s+AGE\\s+INFO$");
        assertEquals("penne:flows -c", "0", run("penne:flows -c").trim());
        String stats = run("penne:stats");
        assertLine(stats, "^COUNTER\\s+VALUE$");
        assertLine(stats, "^flows\\.active\\s+0$");
        assertLine(stats, "^flows\\.capacity\\s+131071$");
        String kernel = run("penne:features");
        assertLine(kernel, "^FEATURE\\s+AVAILABLE\\s+DETAIL$");
        assertLine(kernel, "^SO_PEEK_OFF\\s+(yes|no)\\b.*$");
    }

    /** Runs one command line in a new Karaf shell session; returns what it printed plus its result. */
    private String run(String command) throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
        Session session = sessionFactory.create(new ByteArrayInputStream(new byte[0]), out, out);
        try {
            long deadline = System.currentTimeMillis() + TIMEOUT_MS;
            while (true) {
                try {
                    Object result = session.execute(command);
                    if (result != null)
                        out.print(result);
                    break;
                } catch (Exception e) {
                    // DS may register the commands a little after the bundles start
                    if (!String.valueOf(e.getMessage()).contains("not found") || System.currentTimeMillis() > deadline)
                        throw new AssertionError(command + " failed: " + e + "\n" + bytes.toString(StandardCharsets.UTF_8), e);
                    Thread.sleep(200);
                }
            }
        } finally {
            session.close();
        }
        out.flush();
        String text = bytes.toString(StandardCharsets.UTF_8);
        System.out.println("karaf@root()> " + command + "\n" + text);
        return text;
    }

    private static void assertLine(String text, String regex) {
        Pattern p = Pattern.compile(regex);
        for (String line : text.split("\\R"))
            if (p.matcher(line).matches())
                return;
        fail("no line matches /" + regex + "/ in:\n" + text);
    }

    private static String property(String name) {
        String v = System.getProperty(name);
        if (v == null || v.isEmpty())
            throw new IllegalStateException("system property " + name + " is not set (run through failsafe)");
        return v;
    }
}
