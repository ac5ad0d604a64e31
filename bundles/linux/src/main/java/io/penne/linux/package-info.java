/** Linux system calls through JNA direct mapping, and the kernel feature probe. */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("0.2.0")
package io.penne.linux;
