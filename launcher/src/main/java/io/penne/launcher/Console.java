package io.penne.launcher;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import org.jline.reader.Candidate;
import org.jline.reader.EndOfFileException;
import org.jline.reader.LineReader;
import org.jline.reader.LineReaderBuilder;
import org.jline.reader.UserInterruptException;
import org.jline.terminal.Terminal;
import org.jline.terminal.TerminalBuilder;

/**
 * The interactive side of {@code penne-ctl}: a JLine line editor with
 * history, whose Tab completion asks the instance for matching command
 * names. Each line runs as one command on the instance's Gogo session, so
 * session variables persist. Ctrl-D or {@code exit} leaves.
 */
final class Console {
    private Console() {
    }

    static int run(Ctl ctl, Path path) throws IOException {
        try (Terminal terminal = TerminalBuilder.builder().name("penne-ctl").build()) {
            LineReader reader = LineReaderBuilder.builder()
                .terminal(terminal)
                .appName("penne-ctl")
                .completer((r, line, candidates) -> {
                    try {
                        String upToCursor = line.line().substring(0, line.cursor());
                        for (String c : ctl.complete(upToCursor))
                            candidates.add(new Candidate(c));
                    } catch (IOException e) {
                        // no completion if the instance went away; the next command reports it
                    }
                })
                .build();
            PrintStream out = new PrintStream(terminal.output(), true);
            int last = 0;
            while (true) {
                String line;
                try {
                    line = reader.readLine("penne> ");
                } catch (UserInterruptException e) {
                    continue;
                } catch (EndOfFileException e) {
                    return last;
                }
                String cmd = line.trim();
                if (cmd.isEmpty())
                    continue;
                if (cmd.equals("exit") || cmd.equals("quit"))
                    return last;
                last = ctl.execute(cmd, out, out);
            }
        }
    }
}
