package dev.einhyrningsins.supervisor;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import dev.einhyrningsins.json.Json;
import java.io.IOException;
import java.util.AbstractMap.SimpleEntry;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The arguments of the {@code config} command, in either form: {@code KEY=VALUE} words
 * ({@code config seconds=2 signal_timeout=5}), or einhorn's YAML hash — the words joined with
 * spaces, as einhorn does so that nobody has to quote ({@code config {seconds: 2}},
 * {@code "---\n:seconds: 2\n"}). Pure parsing; what the keys and values mean is
 * {@link Settings}' business. Duplicate keys are kept so that they can be refused.
 */
final class ConfigArgs {

    /** Either the entries in order (values as text, YAML null as null) or why there are none. */
    record Parsed(List<Map.Entry<String, String>> entries, String problem) {}

    private static final Pattern KEY_VALUE = Pattern.compile("(?s):?[A-Za-z_][-A-Za-z0-9_]*=.*");

    private ConfigArgs() {}

    static Parsed parse(List<String> args) {
        if (args.isEmpty()) return problem("Must pass in a YAML-encoded hash or KEY=VALUE arguments");
        if (args.stream().allMatch(a -> KEY_VALUE.matcher(a).matches())) {
            List<Map.Entry<String, String>> entries = new ArrayList<>();
            for (String a : args) {
                int eq = a.indexOf('=');
                entries.add(new SimpleEntry<>(a.substring(0, eq), a.substring(eq + 1)));
            }
            return new Parsed(List.copyOf(entries), null);
        }
        return yaml(String.join(" ", args));
    }

    private static Parsed yaml(String text) {
        if (text.contains("!ruby/") || text.contains("!!")) {
            return problem("Could not parse argument: typed YAML (!ruby/..., !!...) is not accepted");
        }
        if (text.isBlank()) return problem("Must pass in a YAML-encoded hash or KEY=VALUE arguments");
        try (JsonParser p = Json.yamlParser(text)) { // SnakeYAML is loaded only when a YAML-form config arrives
            JsonToken t = p.nextToken();
            if (t == null) return problem("Must pass in a YAML-encoded hash or KEY=VALUE arguments");
            if (t != JsonToken.START_OBJECT) return problem("Parsed argument is a " + rubyClass(t) + ", not a hash");
            List<Map.Entry<String, String>> entries = new ArrayList<>();
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String key = p.currentName();
                p.nextToken();
                entries.add(new SimpleEntry<>(key, Json.text(Json.readValue(p))));
            }
            if (p.nextToken() != null) return problem("Could not parse argument. Must be a single YAML-encoded hash");
            return new Parsed(List.copyOf(entries), null);
        } catch (IOException | RuntimeException e) {
            return problem("Could not parse argument. Must be a YAML-encoded hash");
        }
    }

    /** What einhorn (Ruby) would call the value that is not a hash. */
    private static String rubyClass(JsonToken t) {
        return switch (t) {
            case START_ARRAY -> "Array";
            case VALUE_STRING -> "String";
            case VALUE_NUMBER_INT -> "Integer";
            case VALUE_NUMBER_FLOAT -> "Float";
            case VALUE_TRUE -> "TrueClass";
            case VALUE_FALSE -> "FalseClass";
            case VALUE_NULL -> "NilClass";
            default -> t.toString();
        };
    }

    private static Parsed problem(String message) {
        return new Parsed(List.of(), message);
    }
}
