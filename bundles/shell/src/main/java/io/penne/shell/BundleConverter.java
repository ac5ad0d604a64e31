package io.penne.shell;

import org.apache.felix.service.command.Converter;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;

/**
 * Lets Gogo commands that take bundles ({@code start}, {@code stop},
 * {@code update}, ...) accept a bundle id or symbolic name. gogo.jline ships
 * such a converter, but penne runs its shell headless without gogo.jline, so
 * without this {@code stop io.penne.tcp} (or even {@code stop 12}) fails to
 * coerce its argument.
 */
@Component(property = "osgi.converter.classes=org.osgi.framework.Bundle")
public final class BundleConverter implements Converter {
    private final BundleContext context;

    @Activate
    public BundleConverter(BundleContext context) {
        this.context = context;
    }

    @Override
    public Object convert(Class<?> desiredType, Object in) {
        if (desiredType != Bundle.class)
            return null;
        String s = in.toString().trim();
        if (s.matches("\\d+"))
            return context.getBundle(Long.parseLong(s));
        Bundle found = null;
        for (Bundle b : context.getBundles())
            if (s.equals(b.getSymbolicName()) && (found == null || b.getVersion().compareTo(found.getVersion()) > 0))
                found = b;
        return found;
    }

    @Override
    public CharSequence format(Object target, int level, Converter escape) {
        if (!(target instanceof Bundle))
            return null;
        Bundle b = (Bundle) target;
        return level == Converter.LINE || level == Converter.PART
            ? b.getSymbolicName() + " [" + b.getBundleId() + "]"
            : null;
    }
}
