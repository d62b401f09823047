package dev.einhyrningsins.shell;

import dev.einhyrningsins.supervisor.Os;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeSet;

/**
 * {@code --env-file FILE}: variables added to the workers' environment, written as systemd's
 * {@code EnvironmentFile=} reads them, and read again whenever an upgrade or a reload starts.
 *
 * <p>The syntax is systemd's: one {@code KEY=VALUE} a line; blank lines and lines starting
 * with {@code #} or {@code ;} are comments; blanks around the key and the value are dropped.
 * An unquoted value keeps its inner blanks and quotes, and a backslash keeps the character
 * after it (at the end of a line it joins the next one). {@code '...'} is literal and may
 * span lines; in {@code "..."} a backslash keeps {@code " \ ` $} and joins lines, and stays
 * before any other character. Quoted and unquoted parts after the {@code =} join up. A key
 * given twice takes its last value. Nothing is expanded.
 *
 * <p>Stricter than systemd, which skips what it cannot use: a line that is not a comment,
 * blank or {@code KEY=VALUE}, a key that is not a variable name ({@code [A-Za-z_][A-Za-z0-9_]*};
 * systemd has no {@code export}), a quote left open, a NUL byte, text that is not UTF-8 or a
 * file over 1 MiB is an error naming the file and the line, and the file is not used.
 */
public final class EnvFile {
    /** A bound on what is read: variables, not a data file. */
    public static final int MAX_BYTES = 1 << 20;

    /** What is wrong with the file, in one line that names it (and the line). */
    public static final class Malformed extends Exception {
        Malformed(String message) {
            super(message, null, false, false);
        }
    }

    private final Path path;
    private Map<String, String> values;

    private EnvFile(Path path, Map<String, String> values) {
        this.path = path;
        this.values = values;
    }

    /** No {@code --env-file}: no variables, and nothing to read again. */
    public static EnvFile none() {
        return new EnvFile(null, Map.of());
    }

    /**
     * Reads {@code path} at start.
     *
     * @throws StartupException what is wrong with it, in one line
     */
    public static EnvFile open(Path path) {
        try {
            return new EnvFile(path, read(path));
        } catch (Malformed e) {
            throw new StartupException(e.getMessage());
        }
    }

    /** The file as the previous process of this supervisor last read it (a reload hands the values over). */
    public static EnvFile adopt(Path path, Map<String, String> values) {
        return new EnvFile(path, Collections.unmodifiableMap(new LinkedHashMap<>(values)));
    }

    /** The file, or null without {@code --env-file}. */
    public Path path() {
        return path;
    }

    /** The variables as the last good read found them, in the file's order. */
    public Map<String, String> values() {
        return values;
    }

    /**
     * Reads the file again. The values change only when it can be used; what changed is
     * named by keys only, never values (they may be secrets).
     */
    public Os.EnvironmentRead reread() {
        if (path == null) return Os.EnvironmentRead.UNCHANGED;
        Map<String, String> next;
        try {
            next = read(path);
        } catch (Malformed e) {
            return new Os.EnvironmentRead(false, e.getMessage(), "");
        }
        String changes = changes(values, next);
        if (changes.isEmpty()) return Os.EnvironmentRead.UNCHANGED;
        values = next;
        return new Os.EnvironmentRead(true, null, changes);
    }

    /** "A changed, B added, C removed" (sorted within each), or "" when the two are the same. */
    static String changes(Map<String, String> before, Map<String, String> after) {
        TreeSet<String> changed = new TreeSet<>();
        TreeSet<String> added = new TreeSet<>();
        TreeSet<String> removed = new TreeSet<>(before.keySet());
        removed.removeAll(after.keySet());
        after.forEach((k, v) -> {
            if (!before.containsKey(k)) {
                added.add(k);
            } else if (!Objects.equals(before.get(k), v)) {
                changed.add(k);
            }
        });
        List<String> parts = new ArrayList<>();
        if (!changed.isEmpty()) parts.add(String.join(", ", changed) + " changed");
        if (!added.isEmpty()) parts.add(String.join(", ", added) + " added");
        if (!removed.isEmpty()) parts.add(String.join(", ", removed) + " removed");
        return String.join("; ", parts);
    }

    /** The variables of {@code path}, in the file's order. */
    public static Map<String, String> read(Path path) throws Malformed {
        String where = "--env-file " + path;
        String text;
        try {
            text = BoundedText.read(path, MAX_BYTES);
        } catch (BoundedText.Unreadable e) {
            throw new Malformed(where + ": " + e.getMessage());
        }
        return parse(text, where);
    }

    private enum State { PRE_KEY, KEY, COMMENT, PRE_VALUE, VALUE, SINGLE, DOUBLE }

    /** Parses {@code text}; {@code where} names it in errors ("--env-file /etc/app.env"). */
    static Map<String, String> parse(String text, String where) throws Malformed {
        Map<String, String> out = new LinkedHashMap<>();
        StringBuilder key = new StringBuilder();
        StringBuilder value = new StringBuilder();
        State state = State.PRE_KEY;
        int line = 1;
        int keyLine = 1;
        int quoteLine = 1;
        int trailingBlank = -1; // where the unquoted value's trailing blanks start, -1 if none
        int n = text.length();
        for (int i = 0; i < n; i++) {
            char c = text.charAt(i);
            if (c == '\0') throw new Malformed(where + " line " + line + ": a NUL byte");
            boolean newline = c == '\n';
            switch (state) {
                case PRE_KEY -> {
                    if (c == '#' || c == ';') {
                        state = State.COMMENT;
                    } else if (!blank(c)) {
                        state = State.KEY;
                        keyLine = line;
                        key.setLength(0);
                        i--; // the key's first character (or its '=')
                    }
                }
                case COMMENT -> {
                    if (newline) state = State.PRE_KEY;
                }
                case KEY -> {
                    if (newline) {
                        throw new Malformed(where + " line " + keyLine + ": \"" + key.toString().strip()
                                + "\" is not KEY=VALUE (nor a comment: those start with # or ;)");
                    } else if (c == '=') {
                        String name = key.toString().strip();
                        if (!name.matches("[A-Za-z_][A-Za-z0-9_]*")) {
                            throw new Malformed(where + " line " + keyLine + ": \"" + name + "\" is not a variable name"
                                    + (name.startsWith("export ") ? " (systemd's syntax has no export)" : ""));
                        }
                        key.setLength(0);
                        key.append(name);
                        value.setLength(0);
                        trailingBlank = -1;
                        state = State.PRE_VALUE;
                    } else {
                        key.append(c);
                    }
                }
                case PRE_VALUE -> {
                    if (newline) {
                        out.put(key.toString(), value.toString());
                        state = State.PRE_KEY;
                    } else if (c == '\'' || c == '"') {
                        state = c == '\'' ? State.SINGLE : State.DOUBLE;
                        quoteLine = line;
                    } else if (c == '\\') {
                        state = State.VALUE;
                        i = escape(text, i, value);
                        if (i < n && text.charAt(i) == '\n') line++;
                    } else if (!blank(c)) {
                        state = State.VALUE;
                        value.append(c);
                    }
                }
                case VALUE -> {
                    if (newline) {
                        if (trailingBlank >= 0) value.setLength(trailingBlank);
                        out.put(key.toString(), value.toString());
                        state = State.PRE_KEY;
                    } else if (c == '\\') {
                        trailingBlank = -1;
                        i = escape(text, i, value);
                        if (i < n && text.charAt(i) == '\n') line++;
                    } else {
                        if (!blank(c)) {
                            trailingBlank = -1;
                        } else if (trailingBlank < 0) {
                            trailingBlank = value.length();
                        }
                        value.append(c);
                    }
                }
                case SINGLE -> {
                    if (c == '\'') {
                        state = State.PRE_VALUE;
                    } else {
                        value.append(c);
                    }
                }
                case DOUBLE -> {
                    if (c == '"') {
                        state = State.PRE_VALUE;
                    } else if (c == '\\' && i + 1 < n) {
                        char next = text.charAt(++i);
                        if (next == '\n') {
                            line++;
                        } else if ("\"\\`$".indexOf(next) >= 0) {
                            value.append(next);
                        } else {
                            value.append('\\').append(next);
                        }
                    } else {
                        value.append(c);
                    }
                }
            }
            if (newline) line++;
        }
        switch (state) {
            case SINGLE, DOUBLE -> throw new Malformed(where + " line " + quoteLine + ": the " + (state == State.SINGLE
                    ? "'" : "\"") + " opened here is not closed");
            case KEY -> throw new Malformed(where + " line " + keyLine + ": \"" + key.toString().strip()
                    + "\" is not KEY=VALUE (nor a comment: those start with # or ;)");
            case PRE_VALUE, VALUE -> {
                if (state == State.VALUE && trailingBlank >= 0) value.setLength(trailingBlank);
                out.put(key.toString(), value.toString());
            }
            default -> { }
        }
        return Collections.unmodifiableMap(out);
    }

    /**
     * An unquoted backslash at {@code i}: the next character is kept as it is, a newline
     * joins the next line; returns the index of the character consumed (the caller counts a
     * consumed newline).
     */
    private static int escape(String text, int i, StringBuilder value) {
        if (i + 1 >= text.length()) return i;
        char next = text.charAt(i + 1);
        if (next != '\n') value.append(next);
        return i + 1;
    }

    private static boolean blank(char c) {
        return c == ' ' || c == '\t' || c == '\r' || c == '\n';
    }
}
