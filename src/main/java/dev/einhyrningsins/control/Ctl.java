package dev.einhyrningsins.control;

import dev.einhyrningsins.json.Json;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * {@code einhyrningsins ctl} (also installed as einhyrningsinsctl): einhornsh for people
 * and scripts. Exit status: 0 success, 1 unreachable socket or a failed command, 2 usage.
 */
public final class Ctl {
    static final String USAGE = """
            Usage: einhyrningsins ctl [-d PATH | -c NAME] [-e "CMD [ARGS]; CMD2 ..."] [--json]

            Talks to a running einhyrningsins (or einhorn) over its control socket.
            With -e, runs the commands and prints each reply as it arrives; without -e it
            is an interactive shell on a terminal, or reads one command per line from a pipe.

            Options:
              -d, --socket-path PATH  Control socket (default $TMPDIR/einhorn.sock)
              -c, --command-name NAME Use the socket of einhyrningsins -c NAME
                                      ($TMPDIR/einhorn-NAME.sock)
              -e, --execute CMDS      Run these commands (separated by ';') and exit
                  --json              Print each reply as one JSON object per line; for
                                      state, the state object itself, for watch, each
                                      event object (for jq)
              -h, --help              Print this help and exit

            Commands: ehlo help state ready metrics watch inc dec set_workers config quieter
            louder signal die upgrade upgrade_fleet reload worker:ack worker:ping ('help'
            describes them). watch prints events until interrupted or the supervisor exits.
            Exit status: 0 ok, 1 socket unreachable or a command failed, 2 usage error.
            """;

    private Ctl() {}

    public static int run(String[] args, InputStream stdin, PrintStream out, PrintStream err) {
        Path socket = null;
        String name = null;
        String execute = null;
        boolean json = false;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            String value = null;
            if (a.startsWith("--") && a.contains("=")) {
                value = a.substring(a.indexOf('=') + 1);
                a = a.substring(0, a.indexOf('='));
            }
            if (value != null && (a.equals("--help") || a.equals("--json"))) {
                return usage(err, "option " + a + " takes no argument");
            }
            switch (a) {
                case "-h", "--help" -> {
                    out.print(USAGE);
                    return 0;
                }
                case "--json" -> json = true;
                case "-d", "--socket-path", "-c", "--command-name", "-e", "--execute" -> {
                    if (value == null) {
                        if (i + 1 >= args.length) return usage(err, "option " + a + " needs an argument");
                        value = args[++i];
                    }
                    switch (a) {
                        case "-d", "--socket-path" -> socket = Path.of(value);
                        case "-c", "--command-name" -> name = value;
                        default -> execute = value;
                    }
                }
                default -> {
                    return usage(err, a.startsWith("-") ? "unknown option " + a : "unexpected argument '" + a
                            + "' (commands go after -e, e.g. -e \"" + a + "\")");
                }
            }
        }
        if (socket != null && name != null) return usage(err, "use -d PATH or -c NAME, not both");
        if (socket == null) socket = ControlPaths.defaultSocketPath(Optional.ofNullable(name));
        List<List<String>> commands;
        try {
            commands = execute == null ? null : parseCommands(execute);
        } catch (IllegalArgumentException e) {
            return usage(err, e.getMessage());
        }
        if (commands != null && commands.isEmpty()) return usage(err, "-e needs at least one command");
        try (ControlClient client = ControlClient.connect(socket)) {
            Session s = new Session(client, out, json);
            if (commands != null) {
                for (List<String> c : commands) s.run(c);
                return s.failed ? 1 : 0;
            }
            var console = System.console();
            boolean terminal = stdin == System.in && console != null && console.isTerminal();
            BufferedReader in = new BufferedReader(new InputStreamReader(stdin, StandardCharsets.UTF_8));
            if (terminal) {
                s.run(List.of("ehlo"));
                out.println("Type 'help' for commands, 'quit' to leave.");
            }
            while (true) {
                if (terminal) {
                    out.print("einhyrningsins> ");
                    out.flush();
                }
                String line = in.readLine();
                if (line == null) break;
                if (line.isBlank()) continue;
                if (terminal && (line.strip().equals("quit") || line.strip().equals("exit"))) break;
                try {
                    for (List<String> c : parseCommands(line)) s.run(c);
                } catch (IllegalArgumentException e) {
                    err.println("einhyrningsins ctl: " + e.getMessage());
                    s.failed = true;
                }
            }
            return s.failed ? 1 : 0;
        } catch (ControlException e) {
            err.println("einhyrningsins ctl: " + e.getMessage());
            return 1;
        } catch (IOException e) {
            err.println("einhyrningsins ctl: " + e.getMessage());
            return 1;
        }
    }

    private static int usage(PrintStream err, String message) {
        err.println("einhyrningsins ctl: " + message);
        err.println("Try 'einhyrningsins ctl --help' for more information.");
        return 2;
    }

    private static final class Session {
        final ControlClient client;
        final PrintStream out;
        final boolean json;
        int nextId = 1;
        boolean failed;

        Session(ControlClient client, PrintStream out, boolean json) {
            this.client = client;
            this.out = out;
            this.json = json;
        }

        void run(List<String> words) throws IOException {
            String command = words.getFirst();
            List<String> args = words.size() > 1 ? words.subList(1, words.size()) : null;
            Reply last = client.send(command, args, nextId++, r -> print(command, r));
            if (!last.ok()) failed = true;
        }

        void print(String command, Reply r) {
            if (json) {
                try {
                    Object value = Json.readJson(r.line());
                    if ((command.equals("state") && !r.more()) || command.equals("watch")) {
                        Object message = parse(r.message());
                        if (message instanceof Map) value = message;
                    }
                    out.println(Json.write(value));
                } catch (IOException e) {
                    out.println(r.line());
                }
            } else if (command.equals("watch") && parse(r.message()) instanceof Map<?, ?> event && event.containsKey("event")) {
                out.println(eventLine(event));
            } else {
                String m = r.message();
                out.print(m.endsWith("\n") ? m : m + "\n");
            }
            out.flush();
        }

        /** An event for people: {@code TIME EVENT key=value ...} (strings with blanks JSON-quoted). */
        static String eventLine(Map<?, ?> event) {
            StringBuilder b = new StringBuilder();
            if (event.get("time") != null) b.append(text(event.get("time"))).append(' ');
            b.append(text(event.get("event")));
            for (Map.Entry<?, ?> field : event.entrySet()) {
                if (field.getKey().equals("time") || field.getKey().equals("event")) continue;
                Object v = field.getValue();
                String plain = v instanceof String t && !t.isEmpty() && t.chars().noneMatch(c -> c <= ' ' || c == '"')
                        ? t : Json.write(v);
                b.append(' ').append(field.getKey()).append('=').append(plain);
            }
            return b.toString();
        }

        /** A scalar's text ("" for none or a mapping or list), as the tree model's asText(). */
        private static String text(Object v) {
            return v == null || v instanceof Map || v instanceof List ? "" : v.toString();
        }

        private static Object parse(String s) {
            try {
                return Json.readJson(s);
            } catch (IOException e) {
                return null;
            }
        }
    }

    /** Splits "cmd a 'b c'; cmd2" into commands of shell-like words (quotes and backslashes). */
    static List<List<String>> parseCommands(String text) {
        List<List<String>> commands = new ArrayList<>();
        List<String> words = new ArrayList<>();
        StringBuilder word = null;
        char quote = 0;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (quote != 0) {
                if (c == quote) {
                    quote = 0;
                } else if (c == '\\' && quote == '"' && i + 1 < text.length()) {
                    word.append(text.charAt(++i));
                } else {
                    word.append(c);
                }
            } else if (c == '\'' || c == '"') {
                quote = c;
                if (word == null) word = new StringBuilder();
            } else if (c == '\\' && i + 1 < text.length()) {
                if (word == null) word = new StringBuilder();
                word.append(text.charAt(++i));
            } else if (Character.isWhitespace(c) || c == ';') {
                if (word != null) {
                    words.add(word.toString());
                    word = null;
                }
                if (c == ';' && !words.isEmpty()) {
                    commands.add(List.copyOf(words));
                    words.clear();
                }
            } else {
                if (word == null) word = new StringBuilder();
                word.append(c);
            }
        }
        if (quote != 0) throw new IllegalArgumentException("unterminated " + quote + " quote in: " + text);
        if (word != null) words.add(word.toString());
        if (!words.isEmpty()) commands.add(List.copyOf(words));
        return commands;
    }
}
