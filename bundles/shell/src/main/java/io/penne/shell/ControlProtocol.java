package io.penne.shell;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

/**
 * Frames of the control socket protocol, spoken between {@code penne-ctl}
 * and a running instance (docs/control-socket.md). A frame is one type byte,
 * a 4-byte big-endian length and that many bytes of UTF-8.
 *
 * <pre>
 *  server, on connect:  'H' "penne-control 1"
 *  client: 'X' command line   server: 'O' output ... 'E' error ... 'S' exit status
 *  client: 'C' partial line   server: 'L' candidates, one per line
 * </pre>
 *
 * The launcher's client has its own copy of these few lines, since it runs
 * outside the framework; the protocol document is the contract between them.
 */
final class ControlProtocol {
    static final String HELLO = "penne-control 1";
    static final byte HELLO_FRAME = 'H';
    static final byte EXECUTE = 'X';
    static final byte COMPLETE = 'C';
    static final byte OUTPUT = 'O';
    static final byte ERROR = 'E';
    static final byte STATUS = 'S';
    static final byte CANDIDATES = 'L';
    /** Largest frame accepted from a client: a command line, not a payload. */
    static final int MAX_REQUEST = 64 * 1024;

    private ControlProtocol() {
    }

    static void write(DataOutputStream out, byte type, String text) throws IOException {
        byte[] b = text.getBytes(StandardCharsets.UTF_8);
        out.writeByte(type);
        out.writeInt(b.length);
        out.write(b);
    }

    /** Reads one frame; returns {type, text}, or null at end of stream. */
    static Object[] read(DataInputStream in, int max) throws IOException {
        int type;
        try {
            type = in.readUnsignedByte();
        } catch (EOFException e) {
            return null;
        }
        int len = in.readInt();
        if (len < 0 || len > max)
            throw new IOException("control frame too large: " + len + " bytes (limit " + max + ")");
        byte[] b = new byte[len];
        in.readFully(b);
        return new Object[] {(byte) type, new String(b, StandardCharsets.UTF_8)};
    }
}
