package io.penne.launcher;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.logging.Formatter;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogManager;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * Log output of the process: bundles log through {@link System.Logger},
 * which lands in java.util.logging; this sets the level from -q/-d/--trace
 * and prints records as {@code penne: message}, like pasta. Standard error
 * is looked up on every record, so when the background child gives up its
 * standard error the handler follows. With {@code -l} records also go to a
 * file, which is truncated when it grows past {@code --log-size}.
 */
final class Logging {
    private static final Logger ROOT = Logger.getLogger("");

    private Logging() {
    }

    static void configure(Options.LogLevel level, String logFile, long logSize) throws IOException {
        LogManager.getLogManager().reset();
        Level l;
        switch (level) {
            case QUIET: l = Level.WARNING; break;
            case DEBUG: l = Level.FINE; break;
            case TRACE: l = Level.FINEST; break;
            default: l = Level.INFO;
        }
        ROOT.setLevel(l);
        // JNA narrates its library extraction at FINE; only worth seeing with --trace.
        Logger.getLogger("com.sun.jna").setLevel(level == Options.LogLevel.TRACE ? Level.FINEST : Level.INFO);
        Handler stderr = new StreamHandlerOf(null, 0);
        stderr.setLevel(l);
        ROOT.addHandler(stderr);
        if (logFile != null) {
            Handler file = new StreamHandlerOf(Path.of(logFile), logSize);
            file.setLevel(l);
            ROOT.addHandler(file);
        }
    }

    /** A handler on stderr (path null) or on a size-capped file. */
    private static final class StreamHandlerOf extends Handler {
        private final Path file;
        private final long cap;
        private OutputStream out;
        private long written;

        StreamHandlerOf(Path file, long cap) throws IOException {
            this.file = file;
            this.cap = cap;
            if (file != null)
                open(true);
            setFormatter(new Formatter() {
                @Override
                public String format(LogRecord r) {
                    String msg = formatMessage(r);
                    StringBuilder sb = new StringBuilder("penne: ").append(msg).append('\n');
                    Throwable t = r.getThrown();
                    if (t != null && ROOT.isLoggable(Level.FINE)) {
                        java.io.StringWriter sw = new java.io.StringWriter();
                        t.printStackTrace(new java.io.PrintWriter(sw));
                        sb.append(sw);
                    } else if (t != null) {
                        sb.setLength(sb.length() - 1);
                        sb.append(": ").append(t).append('\n');
                    }
                    return sb.toString();
                }
            });
        }

        private void open(boolean truncate) throws IOException {
            out = Files.newOutputStream(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                truncate ? StandardOpenOption.TRUNCATE_EXISTING : StandardOpenOption.APPEND);
            written = 0;
        }

        @Override
        public synchronized void publish(LogRecord r) {
            if (!isLoggable(r))
                return;
            byte[] b = getFormatter().format(r).getBytes(StandardCharsets.UTF_8);
            try {
                if (file == null) {
                    PrintStream err = System.err;
                    err.write(b);
                    err.flush();
                    return;
                }
                if (written + b.length > cap) {
                    out.close();
                    open(true);
                }
                out.write(b);
                out.flush();
                written += b.length;
            } catch (IOException e) {
                // Nowhere left to report a logging failure.
            }
        }

        @Override
        public void flush() {
        }

        @Override
        public synchronized void close() {
            try {
                if (out != null)
                    out.close();
            } catch (IOException e) {
                // closing at exit
            }
        }
    }
}
