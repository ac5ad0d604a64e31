package io.penne.itest;

import static io.penne.itest.PennePax.await;
import static io.penne.itest.PennePax.waitFor;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import io.penne.api.EpollRef;
import io.penne.api.EventLoop;
import io.penne.api.Instance;
import io.penne.api.ProtocolHandler;
import io.penne.api.flow.Flow;
import io.penne.api.flow.FlowTable;
import io.penne.api.flow.FlowType;
import io.penne.api.flow.InetAddr;
import io.penne.api.flow.Pif;
import io.penne.linux.EventFd;
import io.penne.linux.NativeBuffer;
import io.penne.linux.Sys;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Hashtable;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import javax.inject.Inject;
import org.apache.felix.service.command.CommandProcessor;
import org.apache.felix.service.command.CommandSession;
import org.apache.felix.service.command.Converter;
import org.junit.After;
import org.junit.Before;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceRegistration;
import org.osgi.service.cm.ConfigurationAdmin;

/**
 * The real bundles in Felix: every bundle resolves and starts, an instance
 * comes up from a Configuration Admin factory configuration, the test
 * handler bundle is stopped, updated and started while another handler keeps
 * receiving events, and each Gogo command answers with the expected text.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class HotSwapIT {
    private static final String TICK = "itest.tick";
    private static final String TICK_BSN = "io.penne.itest.handler";

    @Inject
    private BundleContext context;
    @Inject
    private ConfigurationAdmin configAdmin;
    @Inject
    private CommandProcessor processor;

    private org.osgi.service.cm.Configuration config;
    private Instance instance;
    private ServiceRegistration<ProtocolHandler> probeReg;
    private ProbeHandler probe;

    @Configuration
    public Option[] config() {
        return PennePax.runtime("itest.handler");
    }


    @Before
    public void startInstance() throws Exception {
        config = configAdmin.getFactoryConfiguration("io.penne.instance", "itest", "?");
        Hashtable<String, Object> props = new Hashtable<>();
        props.put("name", "itest");
        props.put("flow.capacity", "1024");
        config.update(props);
        instance = await(() -> service(Instance.class, "(name=itest)"), "instance 'itest' from configuration", 10);
        probe = new ProbeHandler();
        probeReg = context.registerService(ProtocolHandler.class, probe, null);
        waitFor(() -> probe.fd.get() > 0, "probe handler attached");
    }

    @After
    public void stopInstance() throws Exception {
        if (probeReg != null)
            probeReg.unregister();
        if (config != null)
            config.delete();
        waitFor(() -> service(Instance.class, "(name=itest)") == null, "instance gone after config delete");
    }

    @Test
    public void everyBundleIsActive() {
        for (Bundle b : context.getBundles()) {
            if (b.getHeaders().get("Fragment-Host") != null)
                continue;
            assertEquals(b.getSymbolicName() + " state", Bundle.ACTIVE, b.getState());
        }
        for (String bsn : new String[] {"io.penne.api", "io.penne.linux", "io.penne.flow", "io.penne.core",
            "io.penne.shell", TICK_BSN})
            assertNotNull(bsn + " installed", installed(bsn));
    }

    @Test
    public void handlerBundleStopUpdateStartWhileAnotherKeepsReceiving() throws Exception {
        Bundle tick = installed(TICK_BSN);
        int tickType = instance.eventType(TICK);
        assertTrue("tick type number", tickType > 2);
        waitFor(() -> counter("events." + TICK) > 5, "tick events flowing");
        assertTrue(shell("penne:handlers -i itest").matches("(?s).*itest\\.tick\\s+bound\\s+io\\.penne\\.itest\\.handler.*"));

        tick.stop();
        waitFor(() -> shell("penne:handlers -i itest").matches("(?s).*itest\\.tick\\s+parked.*"), "tick parked");
        long parkedAt = counter("events." + TICK);
        long cyclesBefore = counter("events.parked");
        long probeBefore = probe.events.get();
        for (int i = 0; i < 20; i++) {
            probe.poke();
            Thread.sleep(10);
        }
        waitFor(() -> probe.events.get() >= probeBefore + 1, "probe keeps receiving while tick is parked");
        assertEquals("no tick events while parked", parkedAt, counter("events." + TICK));
        // The parked timerfd stays readable; with a one-shot empty mask it fires at most once.
        assertTrue("parked fd does not spin", counter("events.parked") - cyclesBefore <= 2);

        tick.update();
        tick.start();
        waitFor(() -> shell("penne:handlers -i itest").matches("(?s).*itest\\.tick\\s+bound.*"), "tick bound again");
        assertEquals("same event type number after update", tickType, instance.eventType(TICK));
        waitFor(() -> counter("events." + TICK) > parkedAt + 5, "adopted timerfd fires for the new handler");
        long probeAfter = probe.events.get();
        probe.poke();
        waitFor(() -> probe.events.get() > probeAfter, "probe still receiving after the update");
    }

    @Test
    public void shellCommandsAnswer() throws Exception {
        int id = onLoop(() -> {
            FlowTable t = instance.flows();
            Flow f = t.alloc();
            long[] guest = InetAddr.parse("10.0.0.2");
            long[] gw = InetAddr.parse("10.0.0.1");
            long[] host = InetAddr.parse("192.0.2.7");
            t.initiate(f, Pif.TAP, guest[0], guest[1], 40000, gw[0], gw[1], 80);
            t.target(f, Pif.HOST, host[0], host[1], 80, 0, 0, 0);
            t.setType(f, FlowType.TCP);
            t.activate(f);
            return f.index();
        });

        String instances = shell("penne:instances");
        assertTrue(instances, instances.startsWith("NAME"));
        assertTrue(instances, instances.matches("(?s).*\\nitest\\s+1\\s+1024\\s+2\\s+.*"));

        String handlers = shell("penne:handlers -i itest");
        assertTrue(handlers, handlers.startsWith("NAME    "));
        assertTrue(handlers, handlers.matches("(?s).*itest\\.probe\\s+bound\\s+\\S+\\s+\\S+\\s+1\\s+TCP\\s+itest\\.probe=\\d+.*"));

        String flows = shell("penne:flows -i itest");
        assertTrue(flows, flows.contains("SIDE 0 (INITIATING)"));
        assertTrue(flows, flows.matches("(?s).*\\n" + id + "\\s+TCP\\s+ACTIVE\\s+TAP 10\\.0\\.0\\.2:40000 -> 10\\.0\\.0\\.1:80"
            + "\\s+HOST 192\\.0\\.2\\.7:80 -> \\[::\\]:0\\s+\\d+\\.\\ds.*"));
        assertEquals("1", shell("penne:flows -i itest -c").trim());
        assertEquals("1", shell("penne:flows -i itest -t TCP -c").trim());
        assertEquals("0", shell("penne:flows -i itest -t UDP -c").trim());
        assertEquals("1", shell("penne:flows -i itest -a 192.0.2.7 -c").trim());
        assertEquals("0", shell("penne:flows -i itest -a 2001:db8::1 -c").trim());

        String flow = shell("penne:flow -i itest " + id);
        assertTrue(flow, flow.matches("(?s)id:\\s+" + id + "\\n.*"));
        assertTrue(flow, flow.contains("side 0 (initiating) endpoint:  10.0.0.2:40000"));
        assertTrue(flow, flow.contains("side 1 (target) interface:     HOST"));

        String stats = shell("penne:stats -i itest");
        assertTrue(stats, stats.matches("(?s).*flows\\.active\\s+1\\n.*"));
        assertTrue(stats, stats.matches("(?s).*flows\\.capacity\\s+1024\\n.*"));
        assertTrue(stats, stats.matches("(?s).*events\\.itest\\.tick\\s+\\d+.*"));
        assertFalse("zero counters hidden by default: " + stats, stats.contains("drop.flow_table_full"));
        String all = shell("penne:stats -i itest -a");
        assertTrue(all, all.matches("(?s).*drop\\.flow_table_full\\s+0\\n.*"));

        assertTrue(shell("penne:features").matches("(?s).*SO_PEEK_OFF\\s+(yes|no)\\s+.*"));

        assertShellFails("penne:flow -i itest 1023", "flow 1023 is free");
        assertShellFails("penne:flow -i itest 5000", "no flow 5000");
        assertShellFails("penne:flows -i nosuch", "no instance named 'nosuch'");
        assertShellFails("penne:flows -i itest -t BOGUS", "unknown flow type 'BOGUS'");

        probe.closeFlow.set(id);
        waitFor(() -> shell("penne:flows -i itest -c").trim().equals("0"), "flow freed by the deferred scan");
    }

    // ---- helpers ----

    private Bundle installed(String bsn) {
        for (Bundle b : context.getBundles())
            if (bsn.equals(b.getSymbolicName()))
                return b;
        return null;
    }

    private <T> T service(Class<T> type, String filter) {
        return PennePax.service(context, type, filter);
    }

    private long counter(String name) {
        Long v = onLoop(() -> instance.counters().snapshot().get(name));
        return v == null ? 0 : v;
    }

    private <T> T onLoop(java.util.concurrent.Callable<T> c) {
        return PennePax.onLoop(instance, c);
    }

    private String shell(String line) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PrintStream ps = new PrintStream(out, true, StandardCharsets.UTF_8);
        try (CommandSession s = processor.createSession(System.in, ps, ps)) {
            Object r = s.execute(line);
            return r == null ? "" : s.format(r, Converter.INSPECT).toString();
        } catch (Exception e) {
            throw new IllegalStateException(line + ": " + e, e);
        }
    }

    private void assertShellFails(String line, String message) {
        try {
            String out = shell(line);
            fail(line + " should fail but printed: " + out);
        } catch (IllegalStateException e) {
            assertTrue(line + ": " + e.getMessage(), e.getMessage().contains(message));
        }
    }


    /**
     * A second handler registered by the test itself: an eventfd that the test
     * pokes, and the TCP flow type (so its flows get deferred calls).
     */
    static final class ProbeHandler implements ProtocolHandler {
        final AtomicLong fd = new AtomicLong(-1);
        final AtomicLong events = new AtomicLong();
        final AtomicLong closeFlow = new AtomicLong(-1);
        private volatile EventFd efd;

        @Override
        public String name() {
            return "itest.probe";
        }

        @Override
        public Set<String> eventTypes() {
            return Set.of("itest.probe");
        }

        @Override
        public Set<FlowType> flowTypes() {
            return Set.of(FlowType.TCP);
        }

        @Override
        public void attach(Instance inst, boolean adopting) {
            efd = EventFd.create();
            Sys.check(inst.loop().register(efd.fd(), EventLoop.EPOLLIN,
                EpollRef.of(inst.eventType("itest.probe"), efd.fd(), 0)), "register");
            fd.set(efd.fd());
        }

        @Override
        public void detach(Instance inst) {
            inst.loop().unregister(efd.fd());
            efd.close();
        }

        void poke() {
            efd.signal();
        }

        @Override
        public void event(Instance inst, int type, long ref, int ev) {
            Sys.read(EpollRef.fd(ref), NativeBuffer.forThread(), 0, 8);
            events.incrementAndGet();
        }

        @Override
        public boolean flowDefer(Instance inst, Flow flow, boolean timer, long now) {
            return flow.index() == closeFlow.get();
        }
    }
}
