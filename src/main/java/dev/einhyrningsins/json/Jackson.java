package dev.einhyrningsins.json;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The jackson-core side of {@link Json}: its streaming parser and generator (and SnakeYAML
 * through jackson-dataformat-yaml, loaded when the first YAML text arrives), giving the values
 * and text jackson-databind's tree model gives. Only {@link Json} calls it, and only for what
 * {@link PlainJson} does not take, so a {@code ctl} or a supervisor that sees plain JSON never
 * loads a Jackson class.
 */
final class Jackson {
    private static final JsonFactory FACTORY = new JsonFactory();

    /** SnakeYAML is loaded only when the first YAML text arrives. */
    private static final class Yaml {
        static final YAMLFactory FACTORY = new YAMLFactory();
    }

    private Jackson() {}

    /** The first JSON value in {@code text} (what follows it is ignored, as readTree does). */
    static Object readJson(String text) throws IOException {
        try (JsonParser p = FACTORY.createParser(text)) {
            return read(p);
        }
    }

    /** The first document of YAML {@code text}; null for an empty one. */
    static Object readYaml(String text) throws IOException {
        try (JsonParser p = yamlParser(text)) {
            return read(p);
        }
    }

    /** A streaming parser over YAML {@code text}, for callers that walk the tokens themselves. */
    static JsonParser yamlParser(String text) throws IOException {
        return Yaml.FACTORY.createParser(text);
    }

    /** The next value of {@code p} (advancing to its first token); null at the end of input. */
    private static Object read(JsonParser p) throws IOException {
        return p.nextToken() == null ? null : readValue(p);
    }

    /** The value whose first token {@code p} is at; afterwards {@code p} is at its last token. */
    static Object readValue(JsonParser p) throws IOException {
        JsonToken t = p.currentToken();
        switch (t) {
            case START_OBJECT: {
                Map<String, Object> m = new LinkedHashMap<>();
                while (p.nextToken() == JsonToken.FIELD_NAME) {
                    String key = p.currentName();
                    p.nextToken();
                    m.put(key, readValue(p));
                }
                return m;
            }
            case START_ARRAY: {
                List<Object> l = new ArrayList<>();
                while (p.nextToken() != JsonToken.END_ARRAY) l.add(readValue(p));
                return l;
            }
            case VALUE_STRING:
                return p.getText();
            case VALUE_NUMBER_INT:
                return p.getNumberValue(); // Integer, Long or BigInteger by size, as the tree model
            case VALUE_NUMBER_FLOAT:
                return switch (p.getNumberType()) {
                    case BIG_DECIMAL -> p.getDecimalValue();
                    case FLOAT -> p.getFloatValue();
                    default -> p.getDoubleValue();
                };
            case VALUE_TRUE:
                return Boolean.TRUE;
            case VALUE_FALSE:
                return Boolean.FALSE;
            case VALUE_NULL:
                return null;
            case VALUE_EMBEDDED_OBJECT:
                return p.getEmbeddedObject();
            default:
                throw new IOException("unexpected " + t);
        }
    }

    /** Compact or indented JSON, as {@code writeValueAsString} writes it (with {@code INDENT_OUTPUT}). */
    static String write(Object value, boolean pretty) {
        StringWriter out = new StringWriter();
        try (JsonGenerator g = FACTORY.createGenerator(out)) {
            if (pretty) g.useDefaultPrettyPrinter();
            write(g, value);
        } catch (IOException e) {
            throw new UncheckedIOException(e); // a StringWriter does not fail
        }
        return out.toString();
    }

    private static void write(JsonGenerator g, Object value) throws IOException {
        if (value instanceof Map<?, ?> m) {
            g.writeStartObject();
            for (Map.Entry<?, ?> e : m.entrySet()) {
                g.writeFieldName(String.valueOf(e.getKey()));
                write(g, e.getValue());
            }
            g.writeEndObject();
        } else if (value instanceof List<?> l) {
            g.writeStartArray();
            for (Object o : l) write(g, o);
            g.writeEndArray();
        } else if (value instanceof String s) {
            g.writeString(s);
        } else if (value instanceof Integer i) {
            g.writeNumber(i);
        } else if (value instanceof Long l) {
            g.writeNumber(l);
        } else if (value instanceof Double d) {
            g.writeNumber(d);
        } else if (value instanceof BigInteger b) {
            g.writeNumber(b);
        } else if (value instanceof BigDecimal b) {
            g.writeNumber(b);
        } else if (value instanceof Float f) {
            g.writeNumber(f);
        } else if (value instanceof Boolean b) {
            g.writeBoolean(b);
        } else if (value instanceof byte[] b) {
            g.writeBinary(b); // a YAML !!binary scalar, as base64
        } else if (value == null) {
            g.writeNull();
        } else {
            throw new IllegalArgumentException("not a JSON value: " + value.getClass().getName());
        }
    }
}
