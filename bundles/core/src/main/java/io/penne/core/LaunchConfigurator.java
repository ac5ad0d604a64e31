package io.penne.core;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.util.Hashtable;
import org.osgi.framework.BundleContext;
import org.osgi.service.cm.Configuration;
import org.osgi.service.cm.ConfigurationAdmin;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;

/**
 * Turns the launcher's framework properties into Configuration Admin
 * configurations, so that an instance started from the command line is
 * created exactly as one configured in Karaf's {@code etc/}.
 *
 * <p>Framework properties {@code penne.config.<PID>.<key>=<value>} become
 * property {@code key} of a configuration of PID {@code PID}: a factory
 * configuration named {@code default} for {@code io.penne.instance}, a
 * single configuration for any other PID. Without such properties (Karaf)
 * this component does nothing.
 */
@Component(immediate = true)
public final class LaunchConfigurator {
    static final String PREFIX = "penne.config.";
    static final String PIDS = "penne.config.pids";
    private static final System.Logger LOG = System.getLogger(LaunchConfigurator.class.getName());

    @Activate
    public LaunchConfigurator(BundleContext context, @Reference ConfigurationAdmin admin) throws IOException {
        String pids = context.getProperty(PIDS);
        if (pids == null || pids.isBlank())
            return;
        for (String pid : pids.split(",")) {
            pid = pid.trim();
            Hashtable<String, Object> props = new Hashtable<>();
            String keys = context.getProperty(PREFIX + pid + ".keys");
            if (keys != null)
                for (String key : keys.split(","))
                    if (!key.isBlank())
                        props.put(key, context.getProperty(PREFIX + pid + "." + key));
            Configuration c = "io.penne.instance".equals(pid)
                ? admin.getFactoryConfiguration(pid, String.valueOf(props.getOrDefault("name", "default")), "?")
                : admin.getConfiguration(pid, "?");
            c.update(props);
            LOG.log(Level.DEBUG, "configured " + pid + " " + props);
        }
    }
}
