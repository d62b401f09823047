package dev.einhyrningsins.control;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.ByteArrayOutputStream;
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
    static final ObjectMapper JSON = new ObjectMapper();

    /** SnakeYAML is loaded only when a YAML request arrives. */
    private static final class Yaml {
        static final ObjectMapper MAPPER = new ObjectMapper(new YAMLFactory());
    }

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
        JsonNode node = u.startsWith("{") ? json(u) : null;
        if (node == null) node = yaml(unescaped);
        if (node == null || !node.isObject()) throw new ParseException("not a mapping");
        ObjectNode o = (ObjectNode) node;
        @SuppressWarnings("unchecked")
        Map<String, Object> raw = JSON.convertValue(o, LinkedHashMap.class);
        Object id = raw.get("id") != null ? raw.get("id") : raw.get("request_id");
        JsonNode command = o.get("command");
        JsonNode user = o.get("user");
        return new Request(
                command == null || command.isNull() ? null : command.isValueNode() ? command.asText() : command.toString(),
                id, raw.get("args"), raw.get("pid"),
                user == null || user.isNull() ? null : user.asText(), raw);
    }

    private static JsonNode json(String text) {
        try {
            return JSON.readTree(text);
        } catch (JsonProcessingException e) {
            return null;
        }
    }

    private static JsonNode yaml(String text) throws ParseException {
        if (text.contains("!ruby/") || text.contains("!!")) throw new ParseException("typed YAML is not accepted");
        try {
            return Yaml.MAPPER.readTree(text);
        } catch (JsonProcessingException | RuntimeException e) {
            return null;
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

    public static String encodeRequest(String command, List<String> args, Object id, String user) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("command", command);
        if (id != null) m.put("id", id);
        if (args != null) m.put("args", args);
        if (user != null) m.put("user", user);
        return line(m);
    }

    private static String line(Map<String, Object> m) {
        try {
            return escape(JSON.writeValueAsString(m)) + "\n";
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Decodes a reply line (ours in JSON, or einhorn's escaped YAML). */
    public static Reply decodeReply(String line) throws ParseException {
        String text = unescape(line.endsWith("\r") ? line.substring(0, line.length() - 1) : line);
        JsonNode node = text.strip().startsWith("{") ? json(text.strip()) : null;
        if (node == null) node = yaml(text);
        if (node == null || !node.isObject()) throw new ParseException("reply is not a mapping: " + line);
        JsonNode id = node.get("request_id");
        return new Reply(node.path("message").asText(""),
                id == null || id.isNull() ? null : JSON.convertValue(id, Object.class),
                node.path("wait").asBoolean(false), node.path("ok").asBoolean(true), text);
    }
}
