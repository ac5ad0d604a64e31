/** Linux system calls through JNA direct mapping, and the kernel feature probe (0.3.0: SockDiag). */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("0.3.0")
package io.penne.linux;
