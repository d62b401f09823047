package dev.einhyrningsins.control;

import dev.einhyrningsins.json.Json;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * einhorn's wire format: one message per line. Requests arrive as JSON (go-einhorn, hand
 * written workers) or as URL-escaped YAML (einhorn's Ruby client: YAML.dump with % → %25
 * and LF → %0A). Replies are JSON — valid YAML, so einhorn's clients read them — escaped
 * the same way.
 */
public final class WireCodec {
    /** What {@link #json} returns for text that is not JSON (null is a JSON value). */
    private static final Object NOT_JSON = new Object();

    /** The line is not a request mapping. */
    public static final class ParseException extends Exception {
        public ParseException(String message) {
            super(message, null, false, false);
        }
    }

    private WireCodec() {}

    public static Request decode(byte[] line) throws ParseException {
        String text = new String(line, StandardCharsets.UTF_8);
        if (text.endsWith("\r")) text = text.substring(0, text.length() - 1);
        String unescaped = percentDecode(text);
        String u = unescaped.strip();
        if (u.isEmpty()) throw new ParseException("empty line");
        Object value = u.startsWith("{") ? json(u) : NOT_JSON;
        if (value == NOT_JSON) value = yaml(unescaped);
        if (!(value instanceof Map<?, ?> map)) throw new ParseException("not a mapping");
        @SuppressWarnings("unchecked")
        Map<String, Object> raw = (Map<String, Object>) map;
        Object id = raw.get("id") != null ? raw.get("id") : raw.get("request_id");
        return new Request(Json.text(raw.get("command")), id, raw.get("args"), raw.get("pid"),
                scalarText(raw.get("user")), raw);
    }

    /** A scalar's text; "" for a mapping or list (as the tree model's asText()); null for null. */
    private static String scalarText(Object value) {
        return value instanceof Map || value instanceof List ? "" : Json.text(value);
    }

    /** JSON text's value (a flat object without Jackson), or {@link #NOT_JSON}. */
    private static Object json(String text) {
        try {
            return Json.readJson(text);
        } catch (IOException e) {
            return NOT_JSON;
        }
    }

    /** YAML text's value, or null if it is not YAML or cannot be a mapping ({@link #mayBeMapping}). */
    private static Object yaml(String text) throws ParseException {
        if (text.contains("!ruby/") || text.contains("!!")) throw new ParseException("typed YAML is not accepted");
        if (!mayBeMapping(text)) return null;
        try {
            return Json.readYaml(text);
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /**
     * Whether YAML text can be a mapping at all: some key ends with ':' and a blank (or the end
     * of the text), or a line starts (after blanks, or after "---") with '{' (a flow mapping) or
     * '?' (a complex key). Anything else is a scalar, a list or no YAML, and is refused without
     * the YAML parser: garbage on the control socket costs next to nothing, while einhorn's and
     * go-einhorn's requests ("command: ehlo") and flow mappings ({command: ehlo}) are parsed.
     */
    static boolean mayBeMapping(String text) {
        int n = text.length();
        for (int i = text.indexOf(':'); i >= 0; i = text.indexOf(':', i + 1)) {
            if (i + 1 == n || Character.isWhitespace(text.charAt(i + 1))) return true;
        }
        for (int i = 0; ; ) { // line by line, until the last one
            while (i < n && (text.charAt(i) == ' ' || text.charAt(i) == '\t')) i++;
            if (text.startsWith("---", i)) {
                i += 3;
                while (i < n && (text.charAt(i) == ' ' || text.charAt(i) == '\t')) i++;
            }
            if (i < n && (text.charAt(i) == '{' || text.charAt(i) == '?')) return true;
            int eol = text.indexOf('\n', i);
            if (eol < 0) return false;
            i = eol + 1;
        }
    }

    /** Decodes every %XX escape (einhorn itself only produces %25 and %0A). */
    static String percentDecode(String s) {
        if (s.indexOf('%') < 0) return s;
        ByteArrayOutputStream out = new ByteArrayOutputStream(s.length());
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        for (int i = 0; i < b.length; i++) {
            if (b[i] == '%' && i + 2 < b.length && hex(b[i + 1]) >= 0 && hex(b[i + 2]) >= 0) {
                out.write(hex(b[i + 1]) * 16 + hex(b[i + 2]));
                i += 2;
            } else {
                out.write(b[i]);
            }
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    private static int hex(byte c) {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    }

    /** einhorn's escaping of one serialized message. */
    static String escape(String s) {
        return s.replace("%", "%25").replace("\n", "%0A");
    }

    static String unescape(String s) {
        return s.replace("%0A", "\n").replace("%25", "%");
    }

    /**
     * One reply line (with its newline): {@code message}, plus {@code request_id} when the
     * request had an id, {@code wait: true} on every non-final message of a streamed reply,
     * and {@code ok: false} when it reports a failure (our extension; einhorn clients ignore it).
     */
    public static String encodeReply(String message, Object requestId, boolean last, boolean ok) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("message", message);
        if (requestId != null) {
            m.put("request_id", requestId);
            if (!last) m.put("wait", true);
        }
        if (!ok) m.put("ok", false);
        return line(m);
    }

    /** A reply the server gives of its own accord (no request id, final, {@code ok: false}), as the bytes to send. */
    public static byte[] failureLine(String message) {
        return encodeReply(message, null, true, false).getBytes(StandardCharsets.UTF_8);
    }

    public static String encodeRequest(String command, List<String> args, Object id, String user) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("command", command);
        if (id != null) m.put("id", id);
        if (args != null) m.put("args", args);
        if (user != null) m.put("user", user);
        return line(m);
    }

    private static String line(Map<String, Object> m) {
        return escape(Json.write(m)) + "\n";
    }

    /** Decodes a reply line (ours in JSON, or einhorn's escaped YAML). */
    public static Reply decodeReply(String line) throws ParseException {
        String text = unescape(line.endsWith("\r") ? line.substring(0, line.length() - 1) : line);
        Object value = text.strip().startsWith("{") ? json(text.strip()) : NOT_JSON;
        if (value == NOT_JSON) value = yaml(text);
        if (!(value instanceof Map<?, ?> m)) throw new ParseException("reply is not a mapping: " + line);
        String message = m.get("message") == null ? "" : scalarText(m.get("message"));
        return new Reply(message, m.get("request_id"), bool(m.get("wait"), false), bool(m.get("ok"), true), text);
    }

    /** The tree model's asBoolean(dflt): a boolean, "true"/"false", a whole number (non-zero), else dflt. */
    private static boolean bool(Object value, boolean dflt) {
        if (value instanceof Boolean b) return b;
        if (value instanceof String s) {
            String t = s.trim();
            return t.equals("true") || (!t.equals("false") && dflt);
        }
        if (value instanceof Integer || value instanceof Long) return ((Number) value).longValue() != 0;
        return dflt;
    }
}
