package dev.einhyrningsins.json;

import com.fasterxml.jackson.core.JsonParser;
import java.io.IOException;
import java.util.List;
import java.util.Map;

/**
 * JSON and YAML text to and from plain Java values — {@code Map<String, Object>} (in key
 * order), {@code List<Object>}, {@code String}, {@code Integer}/{@code Long}/{@code BigInteger},
 * {@code Double}, {@code Boolean} and {@code null} — the values, and the text written, that
 * jackson-databind's tree model gives ({@code readTree}, {@code convertValue},
 * {@code writeValueAsString}), without loading the object mapper. What the protocol exchanges
 * every time (flat request lines, replies, the state dump) goes through {@link PlainJson},
 * which needs no Jackson class at all; anything else through jackson-core's streaming parser
 * and generator ({@link Jackson}). This class names no Jackson type in its code, so loading
 * it loads none.
 */
public final class Json {
    private Json() {}

    /** The first JSON value in {@code text} (what follows it is ignored, as readTree does). */
    public static Object readJson(String text) throws IOException {
        Map<String, Object> flat = PlainJson.read(text);
        return flat != null ? flat : Jackson.readJson(text);
    }

    /** The first document of YAML {@code text}; null for an empty one. */
    public static Object readYaml(String text) throws IOException {
        return Jackson.readYaml(text);
    }

    /** A streaming parser over YAML {@code text}, for callers that walk the tokens themselves. */
    public static JsonParser yamlParser(String text) throws IOException {
        return Jackson.yamlParser(text);
    }

    /** The value whose first token {@code p} is at; afterwards {@code p} is at its last token. */
    public static Object readValue(JsonParser p) throws IOException {
        return Jackson.readValue(p);
    }

    /** Compact JSON, as {@code writeValueAsString} and {@code JsonNode.toString()} write it. */
    public static String write(Object value) {
        String plain = PlainJson.write(value);
        return plain != null ? plain : Jackson.write(value, false);
    }

    /** Indented JSON, as {@code writeValueAsString} writes it with {@code INDENT_OUTPUT}. */
    public static String writePretty(Object value) {
        String plain = PlainJson.writePretty(value);
        return plain != null ? plain : Jackson.write(value, true);
    }

    /**
     * A value as text, as the tree model's {@code asText()} gives a scalar and {@code toString()}
     * a mapping or list (compact JSON); null for null.
     */
    public static String text(Object value) {
        if (value == null) return null;
        return value instanceof Map || value instanceof List ? write(value) : value.toString();
    }
}
