package dev.einhyrningsins.json;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * JSON without Jackson, for what the supervisor and {@code ctl} exchange every time: writes
 * plain values — maps, lists, strings, Integer and Long, booleans, null — compact or indented
 * exactly as {@link Json} (Jackson's generator and default pretty printer) does, and reads the
 * protocol's flat lines (one object of strings, whole numbers, booleans, nulls and lists of
 * those). A cold JVM (every {@code ctl}, and {@code java -jar} above all, where nothing is in
 * an AOT cache) spends tens of milliseconds loading, verifying and initialising jackson-core
 * for one request line and one reply; this takes microseconds. Anything else (fractions,
 * numbers beyond a long, nested objects on the way in, anything that is not strict JSON) is
 * left to {@link Json}: {@link #read}, {@link #write} and {@link #writePretty} return null.
 */
final class PlainJson {
    private static final char[] HEX = "0123456789ABCDEF".toCharArray();

    private PlainJson() {}

    /** Compact JSON of {@code value}, as {@link Json#write} writes it; null if it is not plain. */
    static String write(Object value) {
        StringBuilder b = new StringBuilder(64);
        return write(b, value, -1) ? b.toString() : null;
    }

    /**
     * Indented JSON of {@code value}, as {@link Json#writePretty} writes it (Jackson's default
     * pretty printer: objects one entry a line, two spaces a level, {@code "key" : value};
     * lists on one line, {@code [ a, b ]}); null if it is not plain.
     */
    static String writePretty(Object value) {
        StringBuilder b = new StringBuilder(1024);
        return write(b, value, 0) ? b.toString() : null;
    }

    /** Appends {@code v}; {@code level} is the object nesting when indenting, -1 for compact. */
    private static boolean write(StringBuilder b, Object v, int level) {
        boolean pretty = level >= 0;
        if (v instanceof Map<?, ?> m) {
            b.append('{');
            boolean first = true;
            for (Map.Entry<?, ?> e : m.entrySet()) {
                if (!first) b.append(',');
                first = false;
                if (pretty) newline(b, level + 1);
                string(b, String.valueOf(e.getKey()));
                b.append(pretty ? " : " : ":");
                if (!write(b, e.getValue(), pretty ? level + 1 : -1)) return false;
            }
            if (pretty) {
                if (m.isEmpty()) b.append(' ');
                else newline(b, level);
            }
            b.append('}');
        } else if (v instanceof List<?> l) {
            b.append('[');
            if (pretty) b.append(' ');
            for (int i = 0; i < l.size(); i++) {
                if (i > 0) b.append(pretty ? ", " : ",");
                if (!write(b, l.get(i), level)) return false;
            }
            if (pretty && !l.isEmpty()) b.append(' ');
            b.append(']');
        } else if (v instanceof String s) {
            string(b, s);
        } else if (v instanceof Integer || v instanceof Long || v instanceof Boolean || v == null) {
            b.append(v);
        } else {
            return false;
        }
        return true;
    }

    private static void newline(StringBuilder b, int level) {
        b.append('\n');
        for (int i = 0; i < level; i++) b.append("  ");
    }

    /** A JSON string, escaped as Jackson escapes it: quote, backslash and control characters only. */
    private static void string(StringBuilder b, String s) {
        b.append('"');
        int run = 0; // start of the characters not yet appended, copied in one go
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c >= 0x20 && c != '"' && c != '\\') continue;
            b.append(s, run, i);
            run = i + 1;
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\b' -> b.append("\\b");
                case '\t' -> b.append("\\t");
                case '\n' -> b.append("\\n");
                case '\f' -> b.append("\\f");
                case '\r' -> b.append("\\r");
                default -> b.append("\\u00").append(HEX[c >> 4]).append(HEX[c & 0xf]);
            }
        }
        b.append(s, run, s.length()).append('"');
    }

    /**
     * The object {@code text} starts with, as {@link Json#readJson} reads it (what follows it
     * is ignored there too); null if the text is not such a flat object — then ask {@link Json}.
     */
    static Map<String, Object> read(String text) {
        Reader r = new Reader(text);
        try {
            return r.object();
        } catch (IndexOutOfBoundsException | NotFlat e) {
            return null;
        }
    }

    /** The text is not a flat JSON object (or not JSON at all): {@link Json} decides. */
    private static final class NotFlat extends Exception {
        NotFlat() {
            super(null, null, false, false);
        }
    }

    private static final class Reader {
        private final String s;
        private int i;

        Reader(String s) {
            this.s = s;
        }

        Map<String, Object> object() throws NotFlat {
            expect('{');
            Map<String, Object> m = new LinkedHashMap<>();
            if (peek() == '}') return m; // what follows the object is not read
            while (true) {
                if (peek() != '"') throw new NotFlat();
                String key = string();
                expect(':');
                char c = peek();
                m.put(key, c == '[' ? list() : scalar(c));
                char next = next();
                if (next == '}') return m;
                if (next != ',') throw new NotFlat();
            }
        }

        private List<Object> list() throws NotFlat {
            expect('[');
            List<Object> l = new ArrayList<>();
            if (peek() == ']') {
                i++;
                return l;
            }
            while (true) {
                l.add(scalar(peek()));
                char next = next();
                if (next == ']') return l;
                if (next != ',') throw new NotFlat();
            }
        }

        /** A string, whole number, boolean or null starting at {@code c} (whitespace skipped). */
        private Object scalar(char c) throws NotFlat {
            if (c == '"') return string();
            if (c == '-' || (c >= '0' && c <= '9')) return number();
            if (s.startsWith("true", i)) return literal(4, Boolean.TRUE);
            if (s.startsWith("false", i)) return literal(5, Boolean.FALSE);
            if (s.startsWith("null", i)) return literal(4, null);
            throw new NotFlat();
        }

        /** A literal's value; what follows it must be ',', '}' or ']' ({@code truex} is declined there). */
        private Object literal(int length, Object value) {
            i += length;
            return value;
        }

        /** An integer as Jackson gives it: Integer if it fits, else Long; anything else is not flat. */
        private Object number() throws NotFlat {
            int start = i;
            if (s.charAt(i) == '-') i++;
            int digits = i;
            while (i < s.length() && s.charAt(i) >= '0' && s.charAt(i) <= '9') i++;
            int n = i - digits;
            if (n == 0 || n > 19 || (n > 1 && s.charAt(digits) == '0')) throw new NotFlat();
            // a fraction or exponent follows as '.', 'e' or 'E', which is no ',', '}' or ']': declined there
            long v;
            try {
                v = Long.parseLong(s, start, i, 10);
            } catch (NumberFormatException beyondLong) { // Jackson makes it a BigInteger
                throw new NotFlat();
            }
            return v == (int) v ? (Object) (int) v : (Object) v;
        }

        private String string() throws NotFlat {
            i++; // the opening quote
            StringBuilder b = null;
            int run = i;
            while (true) {
                char c = s.charAt(i);
                if (c == '"') {
                    String tail = s.substring(run, i++);
                    return b == null ? tail : b.append(tail).toString();
                }
                if (c < 0x20) throw new NotFlat(); // Jackson refuses unescaped control characters
                if (c != '\\') {
                    i++;
                    continue;
                }
                if (b == null) b = new StringBuilder();
                b.append(s, run, i);
                char e = s.charAt(i + 1);
                i += 2;
                switch (e) {
                    case '"', '\\', '/' -> b.append(e);
                    case 'b' -> b.append('\b');
                    case 'f' -> b.append('\f');
                    case 'n' -> b.append('\n');
                    case 'r' -> b.append('\r');
                    case 't' -> b.append('\t');
                    case 'u' -> {
                        int u = 0;
                        for (int k = 0; k < 4; k++) {
                            int d = Character.digit(s.charAt(i + k), 16);
                            if (d < 0) throw new NotFlat();
                            u = u * 16 + d;
                        }
                        i += 4;
                        b.append((char) u);
                    }
                    default -> throw new NotFlat();
                }
                run = i;
            }
        }

        private void expect(char c) throws NotFlat {
            if (next() != c) throw new NotFlat();
        }

        /** The next character that is not JSON whitespace, consumed. */
        private char next() {
            char c = peek();
            i++;
            return c;
        }

        /** The next character that is not JSON whitespace, not consumed. */
        private char peek() {
            while (true) {
                char c = s.charAt(i);
                if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return c;
                i++;
            }
        }
    }
}
