package io.penne.shell;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.System.Logger.Level;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Collection;
import java.util.Set;
import java.util.TreeSet;
import io.penne.api.Instance;
import org.apache.felix.service.command.CommandProcessor;
import org.apache.felix.service.command.CommandSession;
import org.apache.felix.service.command.Converter;
import org.osgi.framework.BundleContext;
import org.osgi.framework.InvalidSyntaxException;
import org.osgi.framework.ServiceReference;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.Designate;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/**
 * The control socket (pasta's {@code -c PATH}): a UNIX stream socket on which
 * {@code penne-ctl} runs Gogo commands against this framework's instances.
 *
 * <p>One daemon thread accepts; each connection gets a thread and its own
 * Gogo session, so variables persist through an interactive console. Output
 * of a command is collected and sent as one frame, followed by its exit
 * status (0, or 1 if the command threw).
 *
 * <p>The socket appears only once an instance runs (the component requires an
 * {@link Instance}), so a client that sees the file can use it at once. It is
 * bound inside a private directory, set to mode 0600 and then renamed into
 * place, so it is never visible with wider permissions. It is removed when
 * the component stops; a stale file left by a dead process is replaced, a
 * live one is refused.
 */
@Component(configurationPid = "io.penne.control", configurationPolicy = ConfigurationPolicy.REQUIRE,
    service = ControlSocket.class, immediate = true)
@Designate(ocd = ControlSocket.Config.class)
public final class ControlSocket {
    private static final System.Logger LOG = System.getLogger(ControlSocket.class.getName());

    @ObjectClassDefinition(name = "penne control socket")
    public @interface Config {
        @AttributeDefinition(description = "Path of the UNIX control socket")
        String path();
    }

    private final Path path;
    private final ServerSocketChannel server;
    private final CommandProcessor processor;
    private final BundleContext context;
    private volatile boolean open = true;

    @Activate
    public ControlSocket(Config config, BundleContext context, @Reference CommandProcessor processor,
        @Reference Instance instance) throws IOException {
        this.context = context;
        this.processor = processor;
        this.path = Path.of(config.path()).toAbsolutePath();
        removeStale(path);
        server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        Path staging = Files.createTempDirectory(path.getParent(), ".penne-ctl-",
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        try {
            Path tmp = staging.resolve("s");
            server.bind(UnixDomainSocketAddress.of(tmp));
            Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-------"));
            Files.move(tmp, path, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            server.close();
            throw e;
        } finally {
            Files.deleteIfExists(staging.resolve("s"));
            Files.deleteIfExists(staging);
        }
        Thread t = new Thread(this::acceptLoop, "penne-control-accept");
        t.setDaemon(true);
        t.start();
        LOG.log(Level.DEBUG, "control socket at " + path);
    }

    /** Path this socket listens on. */
    public Path path() {
        return path;
    }

    @Deactivate
    void close() throws IOException {
        open = false;
        server.close();
        Files.deleteIfExists(path);
    }

    private static void removeStale(Path p) throws IOException {
        if (!Files.exists(p))
            return;
        try (SocketChannel probe = SocketChannel.open(UnixDomainSocketAddress.of(p))) {
            throw new IOException("control socket " + p + " is in use by another process");
        } catch (IOException e) {
            if (e.getMessage() != null && e.getMessage().contains("in use by another"))
                throw e;
            Files.delete(p); // nobody listens: left by a process that died
        }
    }

    /** Pause after a failed accept: the error (say, no free descriptor) would otherwise repeat at once, forever. */
    private static final long ACCEPT_RETRY_MILLIS = 100;

    private void acceptLoop() {
        boolean failing = false;
        while (open) {
            try {
                SocketChannel c = server.accept();
                failing = false;
                Thread t = new Thread(() -> serve(c), "penne-control-session");
                t.setDaemon(true);
                t.start();
            } catch (ClosedChannelException e) {
                return;
            } catch (IOException e) {
                if (!open)
                    return;
                // Said once per run of failures; the client waits in the backlog meanwhile.
                if (!failing)
                    LOG.log(Level.WARNING, "control socket accept failed, retrying every " + ACCEPT_RETRY_MILLIS
                        + " ms: " + e.getMessage());
                failing = true;
                try {
                    Thread.sleep(ACCEPT_RETRY_MILLIS);
                } catch (InterruptedException ie) {
                    return;
                }
            }
        }
    }

    private void serve(SocketChannel channel) {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        PrintStream sessionOut = new PrintStream(buf, true, StandardCharsets.UTF_8);
        try (channel;
             DataInputStream in = new DataInputStream(new BufferedInputStream(Channels.newInputStream(channel)));
             DataOutputStream out = new DataOutputStream(new BufferedOutputStream(Channels.newOutputStream(channel)));
             CommandSession session = processor.createSession(new ByteArrayInputStream(new byte[0]), sessionOut,
                 sessionOut)) {
            ControlProtocol.write(out, ControlProtocol.HELLO_FRAME, ControlProtocol.HELLO);
            out.flush();
            Object[] frame;
            while ((frame = ControlProtocol.read(in, ControlProtocol.MAX_REQUEST)) != null) {
                byte type = (Byte) frame[0];
                String text = (String) frame[1];
                if (type == ControlProtocol.EXECUTE) {
                    int status = execute(session, text, buf, out);
                    ControlProtocol.write(out, ControlProtocol.STATUS, Integer.toString(status));
                } else if (type == ControlProtocol.COMPLETE) {
                    ControlProtocol.write(out, ControlProtocol.CANDIDATES, String.join("\n", complete(text)));
                } else {
                    ControlProtocol.write(out, ControlProtocol.ERROR, "unknown request type " + type + "\n");
                    ControlProtocol.write(out, ControlProtocol.STATUS, "2");
                }
                out.flush();
            }
        } catch (IOException e) {
            LOG.log(Level.DEBUG, "control session ended: " + e);
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "control session failed", e);
        }
    }

    private static int execute(CommandSession session, String line, ByteArrayOutputStream buf, DataOutputStream out)
        throws IOException {
        int status = 0;
        String error = null;
        try {
            Object result = session.execute(line);
            if (result != null)
                session.getConsole().print(session.format(result, Converter.INSPECT));
        } catch (Exception e) {
            status = 1;
            error = e.getMessage() != null ? e.getMessage() : e.toString();
        }
        session.getConsole().flush();
        String text = buf.toString(StandardCharsets.UTF_8);
        buf.reset();
        if (!text.isEmpty() && !text.endsWith("\n"))
            text += "\n";
        if (!text.isEmpty())
            ControlProtocol.write(out, ControlProtocol.OUTPUT, text);
        if (error != null)
            ControlProtocol.write(out, ControlProtocol.ERROR, error + "\n");
        return status;
    }

    /** Command names (scope:function and bare function) starting with the last word of {@code line}. */
    private Collection<String> complete(String line) {
        String word = line.substring(line.lastIndexOf(' ') + 1);
        Set<String> out = new TreeSet<>();
        try {
            ServiceReference<?>[] refs = context.getServiceReferences((String) null, "(osgi.command.scope=*)");
            if (refs != null) {
                for (ServiceReference<?> r : refs) {
                    Object scope = r.getProperty("osgi.command.scope");
                    Object fn = r.getProperty("osgi.command.function");
                    String[] fns = fn instanceof String[] ? (String[]) fn : new String[] {String.valueOf(fn)};
                    for (String f : fns) {
                        for (String c : new String[] {scope + ":" + f, f})
                            if (c.startsWith(word))
                                out.add(c);
                    }
                }
            }
        } catch (InvalidSyntaxException e) {
            throw new IllegalStateException(e);
        }
        return out;
    }
}
