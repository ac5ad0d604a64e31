package io.penne.shell;

import io.penne.api.HandlerInfo;
import io.penne.api.Instance;
import io.penne.api.flow.Flow;
import io.penne.api.flow.FlowData;
import io.penne.api.flow.FlowSide;
import io.penne.api.flow.FlowState;
import io.penne.api.flow.FlowTable;
import io.penne.api.flow.FlowType;
import io.penne.api.flow.InetAddr;
import io.penne.linux.KernelFeatures;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.felix.service.command.Descriptor;
import org.apache.felix.service.command.Parameter;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;

/**
 * The {@code penne:*} Gogo commands. Each command reads instance state by
 * submitting a task to the instance's loop (flows are touched only by that
 * thread) and formats the answer here, off the loop. A command that cannot
 * answer throws, so the shell, Karaf and {@code penne-ctl} report failure.
 */
@Component(service = PenneCommands.class)
@GogoCommand(scope = "penne", function = {"instances", "handlers", "flows", "flow", "stats", "features"})
public final class PenneCommands {
    private static final long TIMEOUT_MS = 5000;
    private static final String ABSENT = "\u0000";

    private final List<Instance> instances = new CopyOnWriteArrayList<>();

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC)
    void addInstance(Instance i) {
        instances.add(i);
    }

    void removeInstance(Instance i) {
        instances.remove(i);
    }

    @Descriptor("List running instances")
    public String instances() {
        TextTable t = new TextTable("NAME", "FLOWS", "CAPACITY", "HANDLERS", "UPTIME");
        for (Instance i : instances) {
            Object[] row = onLoop(i, () -> new Object[] {i.name(), i.flows().count(), i.flows().capacity(),
                i.handlers().stream().filter(HandlerInfo::bound).count(),
                age(System.nanoTime() - i.startedNanos())});
            t.row(row);
        }
        return t.toString();
    }

    @Descriptor("List protocol handlers of an instance: bundle, version, event types, flows")
    public String handlers(
        @Descriptor("instance name (default: the only one, or 'default')")
        @Parameter(names = {"-i", "--instance"}, absentValue = ABSENT) String instance) {
        Instance i = pick(instance);
        TextTable t = new TextTable("NAME", "STATE", "BUNDLE", "VERSION", "FLOWS", "FLOW TYPES", "EVENT TYPES");
        for (HandlerInfo h : onLoop(i, i::handlers)) {
            StringBuilder ev = new StringBuilder();
            h.eventTypes().forEach((k, v) -> ev.append(ev.length() == 0 ? "" : " ").append(k).append('=').append(v));
            StringBuilder ft = new StringBuilder();
            h.flowTypes().forEach(f -> ft.append(ft.length() == 0 ? "" : ",").append(f.label()));
            t.row(h.name(), h.bound() ? "bound" : "parked", h.bundle(), h.version(), h.flows(),
                ft.length() == 0 ? "-" : ft, ev.length() == 0 ? "-" : ev);
        }
        return t.toString();
    }

    @Descriptor("List flows: id, type, state, both sides as interface endpoint -> ours, age")
    public String flows(
        @Descriptor("instance name")
        @Parameter(names = {"-i", "--instance"}, absentValue = ABSENT) String instance,
        @Descriptor("only flows of this type (TCP, TCP_SPLICE, UDP, PING4, PING6)")
        @Parameter(names = {"-t", "--type"}, absentValue = ABSENT) String type,
        @Descriptor("only flows with this address on either side")
        @Parameter(names = {"-a", "--address"}, absentValue = ABSENT) String address,
        @Descriptor("print only the number of matching flows")
        @Parameter(names = {"-c", "--count"}, presentValue = "true", absentValue = "false") boolean count) {
        Instance i = pick(instance);
        FlowType ft = null;
        if (!ABSENT.equals(type)) {
            ft = FlowType.parse(type);
            if (ft == null || ft == FlowType.NONE)
                throw new IllegalArgumentException("unknown flow type '" + type
                    + "' (expected TCP, TCP_SPLICE, UDP, PING4 or PING6)");
        }
        long[] addr = ABSENT.equals(address) ? null : InetAddr.parse(address);
        FlowType wanted = ft;
        List<String[]> rows = onLoop(i, () -> {
            List<String[]> out = new ArrayList<>();
            long now = System.nanoTime();
            i.flows().forEachActive(f -> {
                if (wanted != null && f.type() != wanted)
                    return;
                if (addr != null && !hasAddress(f, addr[0], addr[1]))
                    return;
                FlowData d = f.data();
                out.add(new String[] {String.valueOf(f.index()), f.type().label(), f.state().name(),
                    side(f, Flow.INI), side(f, Flow.TGT), age(now - f.createdNanos()),
                    d == null ? "" : d.summary()});
            });
            return out;
        });
        if (count)
            return rows.size() + "\n";
        TextTable t = new TextTable("ID", "TYPE", "STATE", "SIDE 0 (INITIATING)", "SIDE 1 (TARGET)", "AGE", "INFO");
        rows.forEach(r -> t.row((Object[]) r));
        return t.toString();
    }

    @Descriptor("Show every field of one flow")
    public String flow(
        @Descriptor("instance name")
        @Parameter(names = {"-i", "--instance"}, absentValue = ABSENT) String instance,
        @Descriptor("flow id, as listed by penne:flows") int id) {
        Instance i = pick(instance);
        Map<String, String> fields = onLoop(i, () -> {
            FlowTable table = i.flows();
            Flow f = table.get(id);
            if (f == null)
                throw new IllegalArgumentException("no flow " + id + ": ids go from 0 to " + (table.capacity() - 1));
            if (f.state() == FlowState.FREE)
                throw new IllegalArgumentException("flow " + id + " is free");
            Map<String, String> m = new LinkedHashMap<>();
            m.put("id", String.valueOf(f.index()));
            m.put("type", f.type().label());
            m.put("state", f.state().name());
            m.put("age", age(System.nanoTime() - f.createdNanos()));
            for (int s = 0; s < 2; s++) {
                String p = s == Flow.INI ? "side 0 (initiating)" : "side 1 (target)";
                FlowSide fs = f.side(s);
                m.put(p + " interface", f.pif(s).name());
                m.put(p + " endpoint", InetAddr.format(fs.eaddrHi(), fs.eaddrLo(), fs.eport()));
                m.put(p + " ours", InetAddr.format(fs.oaddrHi(), fs.oaddrLo(), fs.oport()));
            }
            if (f.data() != null)
                f.data().describe(m);
            return m;
        });
        StringBuilder sb = new StringBuilder();
        int w = fields.keySet().stream().mapToInt(String::length).max().orElse(0);
        fields.forEach((k, v) -> sb.append(k).append(':').append(" ".repeat(w - k.length() + 1)).append(v).append('\n'));
        return sb.toString();
    }

    @Descriptor("Show counters: events per type, packets, drops by reason (those at zero with -a)")
    public String stats(
        @Descriptor("instance name")
        @Parameter(names = {"-i", "--instance"}, absentValue = ABSENT) String instance,
        @Descriptor("also counters that are still zero")
        @Parameter(names = {"-a", "--all"}, presentValue = "true", absentValue = "false") boolean all) {
        Instance i = pick(instance);
        Map<String, Long> m = onLoop(i, () -> {
            Map<String, Long> out = new LinkedHashMap<>();
            out.put("flows.active", (long) i.flows().count());
            out.put("flows.capacity", (long) i.flows().capacity());
            i.counters().snapshot().forEach((k, v) -> {
                if (all || v != 0)
                    out.put(k, v);
            });
            return out;
        });
        TextTable t = new TextTable("COUNTER", "VALUE");
        m.forEach(t::row);
        return t.toString();
    }

    @Descriptor("Show the kernel features found at startup, and why missing ones are missing")
    public String features() {
        TextTable t = new TextTable("FEATURE", "AVAILABLE", "DETAIL");
        for (KernelFeatures.Feature f : KernelFeatures.probe().all())
            t.row(f.name(), f.available() ? "yes" : "no", f.detail());
        return t.toString();
    }

    // ---- helpers ----

    private Instance pick(String name) {
        List<Instance> all = List.copyOf(instances);
        if (all.isEmpty())
            throw new IllegalStateException("no penne instance is running");
        if (ABSENT.equals(name) || name == null) {
            if (all.size() == 1)
                return all.get(0);
            name = "default";
        }
        for (Instance i : all)
            if (i.name().equals(name))
                return i;
        List<String> names = new ArrayList<>();
        all.forEach(i -> names.add(i.name()));
        throw new IllegalArgumentException("no instance named '" + name + "'; running: " + String.join(", ", names));
    }

    private static <T> T onLoop(Instance i, Callable<T> task) {
        try {
            return i.loop().submit(task).get(TIMEOUT_MS, TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof RuntimeException)
                throw (RuntimeException) c;
            throw new IllegalStateException(c);
        } catch (TimeoutException e) {
            throw new IllegalStateException("instance " + i.name() + " did not answer within " + TIMEOUT_MS + " ms");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted");
        }
    }

    private static boolean hasAddress(Flow f, long hi, long lo) {
        for (int s = 0; s < 2; s++) {
            FlowSide fs = f.side(s);
            if ((fs.eaddrHi() == hi && fs.eaddrLo() == lo) || (fs.oaddrHi() == hi && fs.oaddrLo() == lo))
                return true;
        }
        return false;
    }

    private static String side(Flow f, int s) {
        return f.pif(s).name() + " " + f.side(s).format();
    }

    static String age(long nanos) {
        long ms = TimeUnit.NANOSECONDS.toMillis(nanos);
        if (ms < 60_000)
            return String.format("%.1fs", ms / 1000.0);
        long s = ms / 1000;
        if (s < 3600)
            return String.format("%dm%02ds", s / 60, s % 60);
        return String.format("%dh%02dm", s / 3600, (s % 3600) / 60);
    }
}
