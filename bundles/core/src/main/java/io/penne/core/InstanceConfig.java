package io.penne.core;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/**
 * Configuration of one instance (factory PID {@code io.penne.instance}).
 * Karaf users write these properties in {@code etc/io.penne.instance-NAME.cfg};
 * the launcher turns command-line options into them.
 */
@ObjectClassDefinition(name = "penne instance",
    description = "One user-mode networking translator with its own loop and flow table")
public @interface InstanceConfig {

    @AttributeDefinition(description = "Instance name, unique in the framework ([A-Za-z0-9_.-], 1-64 chars)")
    String name() default "default";

    @AttributeDefinition(name = "flow.capacity", description = "Maximum number of flows (1 to 16777214)")
    int flow_capacity() default 131071;
}
