package dev.einhyrningsins.json;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The control protocol's own lines — one JSON object of strings, whole numbers, booleans,
 * nulls and lists of those — read and written without Jackson. A cold JVM (every
 * {@code ctl}, and {@code java -jar} above all, where nothing is in an AOT cache) spends
 * tens of milliseconds loading, verifying and initialising jackson-core's factory, parser and
 * generator for one request line and one reply; this takes microseconds. The text and values
 * are exactly {@link Json}'s for everything accepted here, and anything else (nested objects,
 * fractions, exponents, numbers beyond a long, anything that is not strict JSON) is left to
 * {@link Json}: {@link #read} and {@link #write} then return null.
 */
public final class FlatJson {
    private static final char[] HEX = "0123456789ABCDEF".toCharArray();

    private FlatJson() {}

    /**
     * Compact JSON of {@code object}, as {@link Json#write} writes it; null if a value is not
     * a String, Integer, Long, Boolean, null, or a list of those.
     */
    public static String write(Map<String, ?> object) {
        StringBuilder b = new StringBuilder(64);
        b.append('{');
        boolean first = true;
        for (Map.Entry<String, ?> e : object.entrySet()) {
            if (!first) b.append(',');
            first = false;
            string(b, e.getKey());
            b.append(':');
            Object v = e.getValue();
            if (v instanceof List<?> l) {
                b.append('[');
                for (int i = 0; i < l.size(); i++) {
                    if (i > 0) b.append(',');
                    if (!scalar(b, l.get(i))) return null;
                }
                b.append(']');
            } else if (!scalar(b, v)) {
                return null;
            }
        }
        return b.append('}').toString();
    }

    private static boolean scalar(StringBuilder b, Object v) {
        if (v instanceof String s) {
            string(b, s);
        } else if (v instanceof Integer || v instanceof Long || v instanceof Boolean || v == null) {
            b.append(v);
        } else {
            return false;
        }
        return true;
    }

    /** A JSON string, escaped as Jackson escapes it: quote, backslash and control characters only. */
    private static void string(StringBuilder b, String s) {
        b.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\b' -> b.append("\\b");
                case '\t' -> b.append("\\t");
                case '\n' -> b.append("\\n");
                case '\f' -> b.append("\\f");
                case '\r' -> b.append("\\r");
                default -> {
                    if (c < 0x20) {
                        b.append("\\u00").append(HEX[c >> 4]).append(HEX[c & 0xf]);
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        b.append('"');
    }

    /**
     * A value as text, as the tree model's {@code asText()} gives a scalar and {@code toString()}
     * a mapping or list (compact JSON, through {@link Json}); null for null.
     */
    public static String text(Object value) {
        if (value == null) return null;
        if (value instanceof Map || value instanceof List) return Json.write(value);
        return value.toString();
    }

    /**
     * The object {@code text} starts with, as {@link Json#readJson} reads it (what follows it
     * is ignored there too); null if the text is not such a flat object — then ask {@link Json}.
     */
    public static Map<String, Object> read(String text) {
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
            if (peek() == '}') {
                i++;
                return m;
            }
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

        private Object literal(int length, Object value) throws NotFlat {
            i += length;
            if (i < s.length() && Character.isLetterOrDigit(s.charAt(i))) throw new NotFlat();
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
            if (i < s.length() && (s.charAt(i) == '.' || s.charAt(i) == 'e' || s.charAt(i) == 'E')) throw new NotFlat();
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
