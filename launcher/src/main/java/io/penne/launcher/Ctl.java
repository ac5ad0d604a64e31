package io.penne.launcher;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.PrintStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;

/**
 * {@code penne-ctl PATH [COMMAND ...]}: runs one Gogo command on the penne
 * instance listening at control socket PATH, prints its output and exits
 * with its status (0 success, 1 the command failed, 2 usage or connection
 * error). Without a command it opens an interactive console with line
 * editing, history and completion of command names (see {@link Console}).
 *
 * <p>Protocol: docs/control-socket.md (frames of a type byte, a 4-byte
 * length and UTF-8 text; the server's side is in the shell bundle).
 */
public final class Ctl implements AutoCloseable {
    static final String HELLO = "penne-control 1";
    private static final int MAX_REPLY = 64 * 1024 * 1024;

    private final SocketChannel channel;
    private final DataInputStream in;
    private final DataOutputStream out;

    Ctl(Path path) throws IOException {
        channel = SocketChannel.open(StandardProtocolFamily.UNIX);
        channel.connect(UnixDomainSocketAddress.of(path));
        in = new DataInputStream(new BufferedInputStream(Channels.newInputStream(channel)));
        out = new DataOutputStream(new BufferedOutputStream(Channels.newOutputStream(channel)));
        String[] hello = read();
        if (hello == null || !hello[0].equals("H") || !hello[1].equals(HELLO))
            throw new IOException("not a penne control socket (no greeting)");
    }

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    static int run(String[] args, PrintStream stdout, PrintStream stderr) {
        if (args.length == 0 || args[0].equals("-h") || args[0].equals("--help")) {
            (args.length == 0 ? stderr : stdout).println("Usage: penne-ctl PATH [COMMAND [ARG]...]\n"
                + "Run a Gogo command (e.g. penne:flows) on the penne instance whose control socket is PATH,\n"
                + "or open an interactive console if no command is given.");
            return args.length == 0 ? 2 : 0;
        }
        Path path = Path.of(args[0]);
        try (Ctl ctl = new Ctl(path)) {
            if (args.length == 1)
                return Console.run(ctl, path);
            return ctl.execute(joinArgs(List.of(args).subList(1, args.length)), stdout, stderr);
        } catch (IOException e) {
            stderr.println("penne-ctl: " + path + ": " + (e.getMessage() != null ? e.getMessage() : e));
            return 2;
        }
    }

    /** Re-quotes arguments that the caller's shell split, so Gogo sees the same words. */
    static String joinArgs(List<String> words) {
        StringBuilder sb = new StringBuilder();
        for (String w : words) {
            if (sb.length() > 0)
                sb.append(' ');
            if (!w.isEmpty() && w.chars().noneMatch(c -> Character.isWhitespace(c) || "\"'{}()[];|&$\\".indexOf(c) >= 0))
                sb.append(w);
            else
                sb.append('\'').append(w.replace("'", "'\\''")).append('\'');
        }
        return sb.toString();
    }

    /** Runs one command line; prints its output and error text; returns its status. */
    int execute(String line, PrintStream stdout, PrintStream stderr) throws IOException {
        send('X', line);
        while (true) {
            String[] f = read();
            if (f == null)
                throw new EOFException("connection closed by penne");
            switch (f[0]) {
                case "O": stdout.print(f[1]); stdout.flush(); break;
                case "E": stderr.print(f[1]); stderr.flush(); break;
                case "S": return Integer.parseInt(f[1].trim());
                default: throw new IOException("unexpected reply frame '" + f[0] + "'");
            }
        }
    }

    /** Command names that complete the last word of {@code line}. */
    List<String> complete(String line) throws IOException {
        send('C', line);
        String[] f = read();
        if (f == null || !f[0].equals("L"))
            throw new IOException("bad completion reply");
        return f[1].isEmpty() ? List.of() : List.of(f[1].split("\n"));
    }

    private void send(char type, String text) throws IOException {
        byte[] b = text.getBytes(StandardCharsets.UTF_8);
        out.writeByte(type);
        out.writeInt(b.length);
        out.write(b);
        out.flush();
    }

    private String[] read() throws IOException {
        int type;
        try {
            type = in.readUnsignedByte();
        } catch (EOFException e) {
            return null;
        }
        int len = in.readInt();
        if (len < 0 || len > MAX_REPLY)
            throw new IOException("reply frame too large: " + len);
        byte[] b = new byte[len];
        in.readFully(b);
        return new String[] {String.valueOf((char) type), new String(b, StandardCharsets.UTF_8)};
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
