package io.penne.linux;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Reads and writes {@code /proc/sys} values. Not read with {@code Files.readString} or
 * {@code Files.readAllBytes}: they trust the file size, which procfs does not
 * report reliably (seen on this project's 6.18 CI kernel: "1" for a
 * {@code tcp_rto_max_ms} of 120000); a stream read to its end gets the whole
 * value.
 */
public final class Sysctl {
    private Sysctl() {
    }

    /** The value of {@code /proc/sys/NAME} (e.g. {@code net/ipv4/tcp_syn_retries}), trimmed, or null if unreadable. */
    public static String read(String name) {
        try (InputStream in = Files.newInputStream(Path.of("/proc/sys", name))) {
            return new String(in.readAllBytes(), StandardCharsets.US_ASCII).trim();
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /**
     * Writes {@code value} to {@code /proc/sys/NAME}; false if that fails. Network sysctls apply
     * to the network namespace of the calling thread (call from a {@link NetnsThread} for a
     * namespace's own).
     */
    public static boolean write(String name, String value) {
        try {
            Files.writeString(Path.of("/proc/sys", name), value, StandardCharsets.US_ASCII);
            return true;
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    /** An integer value, or {@code dflt} if it is unreadable or not a number. */
    public static int readInt(String name, int dflt) {
        String v = read(name);
        try {
            return v == null ? dflt : Integer.parseInt(v);
        } catch (NumberFormatException e) {
            return dflt;
        }
    }

    /**
     * The host's ephemeral port range, {first, last}
     * ({@code net/ipv4/ip_local_port_range}; the kernel's default 32768-60999
     * if unreadable): pasta's {@code all} and {@code auto} specs skip it.
     */
    public static int[] ephemeralPorts() {
        String v = read("net/ipv4/ip_local_port_range");
        try {
            String[] p = (v == null ? "" : v).split("\\s+");
            return new int[] {Integer.parseInt(p[0]), Integer.parseInt(p[1])};
        } catch (RuntimeException e) {
            return new int[] {32768, 60999};
        }
    }
}
