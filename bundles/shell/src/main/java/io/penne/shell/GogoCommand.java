package io.penne.shell;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.osgi.service.component.annotations.ComponentPropertyType;

/**
 * Component property type for Gogo commands: bnd turns it into the
 * {@code osgi.command.scope} and {@code osgi.command.function} service
 * properties, which is all Gogo (and Karaf's shell) need to find them.
 */
@ComponentPropertyType
@Retention(RetentionPolicy.CLASS)
@Target(ElementType.TYPE)
@interface GogoCommand {
    String PREFIX_ = "osgi.command.";

    String scope();

    String[] function();
}
