package dev.einhyrningsins.json;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The streaming reader and writer give what jackson-databind's tree model gave before them
 * (readTree + convertValue, writeValueAsString, asText/toString): clients and tests depend on
 * the exact text, so the object mapper is the reference here.
 */
class JsonTest {
    static final ObjectMapper MAPPER = new ObjectMapper();
    static final ObjectMapper PRETTY = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

    static final List<String> JSON_TEXTS = List.of(
            "{\"command\":\"worker:ack\",\"pid\":1234}",
            "{\"id\":7,\"command\":\"signal\",\"args\":[\"HUP\",\"50%\"],\"user\":\"me\"}",
            "{\"a\":2147483647,\"b\":2147483648,\"c\":9223372036854775808,\"d\":-1.5,\"e\":1e300,\"f\":0.1,\"g\":1E2}",
            "{\"nested\":{\"x\":[1,[2,{}],null,true,false],\"y\":{\"z\":\"\\u00e9\\n\\t\\\"\\\\/\"}}}",
            "{\"dup\":1,\"other\":2,\"dup\":3}",
            "{\"command\":\"state\"} trailing garbage",
            "[1,2,3]", "\"just a string\"", "42", "-0.0", "null", "true",
            "{\"command\":{\"not\":\"a string\"},\"user\":[1,2]}");

    static final List<String> YAML_TEXTS = List.of(
            "---\ncommand: worker:ack\npid: 4242\n",
            "---\nid: 3\ncommand: signal\nargs:\n- HUP\n- 50%\nuser: me\n",
            "request_id: 7\ncommand: upgrade\n",
            "{seconds: 2, max_unacked: 4, ack_timeout: 1.5, verbosity: ~, flag: true, name: 'x y'}",
            "---\n:seconds: 2\n:signal_timeout: \n",
            "a: [1, 2.5, {b: c}]\nn: 12345678901234567890\n",
            "- a\n- b\n", "plain scalar", "42", "3.25", "");

    @Test
    void jsonReadsAsTheTreeModelConvertsIt() throws Exception {
        for (String text : JSON_TEXTS) {
            assertThat(Json.readJson(text)).as(text).isEqualTo(treeValue(MAPPER, text));
            assertThat(Jackson.readJson(text)).as(text).isEqualTo(treeValue(MAPPER, text));
            assertThat(types(Json.readJson(text))).as(text).isEqualTo(types(treeValue(MAPPER, text)));
        }
    }

    @Test
    void yamlReadsAsTheTreeModelConvertsIt() throws Exception {
        for (String text : YAML_TEXTS) {
            assertThat(Json.readYaml(text)).as(text).isEqualTo(treeValue(YAML, text));
            assertThat(types(Json.readYaml(text))).as(text).isEqualTo(types(treeValue(YAML, text)));
        }
    }

    @Test
    void notJsonIsAnIOException() {
        for (String bad : List.of("{\"command\": ", "{command: state}", "hello", "{\"a\":1,}")) {
            assertThatThrownBy(() -> Json.readJson(bad)).as(bad).isInstanceOf(IOException.class);
        }
    }

    @Test
    void writesWhatTheObjectMapperWrites() throws Exception {
        for (String text : JSON_TEXTS) {
            Object value = Json.readJson(text);
            assertThat(Json.write(value)).as(text).isEqualTo(MAPPER.writeValueAsString(value));
            assertThat(Jackson.write(value, false)).as(text).isEqualTo(MAPPER.writeValueAsString(value));
            assertThat(Json.writePretty(value)).as(text).isEqualTo(PRETTY.writeValueAsString(value));
        }
        Map<String, Object> state = stateLike();
        assertThat(Json.write(state)).isEqualTo(MAPPER.writeValueAsString(state));
        assertThat(Json.writePretty(state)).isEqualTo(PRETTY.writeValueAsString(state));
    }

    @Test
    void numbersBeyondLongAndDoubleAndBinaryAreWrittenAsTheObjectMapperWritesThem() throws Exception {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("big", new BigInteger("123456789012345678901234567890"));
        m.put("decimal", new java.math.BigDecimal("1.10"));
        m.put("float", 1.5f);
        m.put("bytes", new byte[] {'h', 'i'});
        assertThat(Json.write(m)).isEqualTo(MAPPER.writeValueAsString(m)).contains("\"bytes\":\"aGk=\"");
    }

    @Test
    void yamlIsWalkedTokenByTokenAsTheTreeModelReadsIt() throws Exception {
        try (com.fasterxml.jackson.core.JsonParser p = Json.yamlParser("a: [1, x]\nb: !!binary aGk=\n")) {
            assertThat(p.nextToken()).isEqualTo(com.fasterxml.jackson.core.JsonToken.START_OBJECT);
            @SuppressWarnings("unchecked")
            Map<String, Object> m = (Map<String, Object>) Json.readValue(p);
            assertThat(m.get("a")).isEqualTo(List.of(1, "x"));
            assertThat((byte[]) m.get("b")).isEqualTo(new byte[] {'h', 'i'});
        }
    }

    @Test
    void textIsAsTextForScalarsAndJsonForTheRest() throws Exception {
        for (String text : JSON_TEXTS) {
            JsonNode tree = MAPPER.readTree(text);
            Object value = Json.readJson(text);
            if (value instanceof Map<?, ?> m) {
                for (Map.Entry<?, ?> e : m.entrySet()) {
                    JsonNode node = tree.get((String) e.getKey());
                    String expected = node.isNull() ? null : node.isValueNode() ? node.asText() : node.toString();
                    assertThat(Json.text(e.getValue())).as(text + " " + e.getKey()).isEqualTo(expected);
                }
            }
        }
        assertThat(Json.text(null)).isNull();
    }

    /** A state dump's shapes: nested maps and lists, empty ones, nulls, numbers, escapes. */
    static Map<String, Object> stateLike() {
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("pid", 4242L);
        s.put("command_name", null);
        s.put("program", List.of("python3", "worker.py", "--name=\"x\"\t\u00e9\u0001"));
        s.put("sockets", List.of(Map.of("fd", 3), new LinkedHashMap<>()));
        s.put("workers", new ArrayList<>());
        s.put("config", new LinkedHashMap<>(Map.of("seconds", "1.5")));
        s.put("stopping", false);
        s.put("big", BigInteger.TEN.pow(30));
        s.put("ratio", 0.25);
        s.put("nested", Arrays.asList(List.of(), List.of(1, 2), null));
        return s;
    }

    static Object treeValue(ObjectMapper mapper, String text) throws IOException {
        JsonNode tree = mapper.readTree(text);
        return tree == null || tree.isMissingNode() ? null : MAPPER.convertValue(tree, Object.class);
    }

    /** The value with every scalar replaced by its class name, so Integer 1 and Long 1 differ. */
    static Object types(Object value) {
        if (value instanceof Map<?, ?> m) {
            Map<Object, Object> t = new LinkedHashMap<>();
            m.forEach((k, v) -> t.put(k, types(v)));
            return t;
        }
        if (value instanceof List<?> l) return l.stream().map(JsonTest::types).toList();
        return value == null ? "null" : value.getClass().getSimpleName();
    }

    @Test
    void timestampsAreWhatInstantToStringWrites() {
        java.util.Random random = new java.util.Random(7);
        List<Long> millis = new ArrayList<>(List.of(0L, 1L, 999L, 1000L, 60_000L, 86_400_000L,
                951_782_400_000L /* 2000-02-29 */, 1_795_939_200_000L, 253_402_300_799_999L /* 9999-12-31 */,
                253_402_300_800_000L /* 10000-01-01: Instant's own form */, -1L,
                -62_167_219_200_000L /* 0000-01-01 */, -62_167_219_200_001L /* -0001-12-31T23:59:59.999 */,
                -62_135_596_800_000L /* 0001-01-01 */, 946_684_799_999L /* 1999-12-31T23:59:59.999 */,
                -12_219_292_800_000L /* 1582-10-15 */, 4_107_542_400_000L /* 2100-03-01 */,
                -2_203_891_200_000L /* 1900-03-01 */, 11_017_008_000_000L /* 2319-02-28 */));
        for (int i = 0; i < 2000; i++) millis.add(random.nextLong(-62_167_219_200_000L, 253_402_300_800_000L)); // 0000..9999
        for (int i = 0; i < 2000; i++) millis.add(random.nextLong(0, 4_102_444_800_000L)); // 1970..2100
        for (int i = 0; i < 200; i++) millis.add(random.nextLong(0, 4_102_444_800L) * 1000); // whole seconds
        for (long m : millis) {
            assertThat(Json.timestamp(m)).as("%d", m).isEqualTo(java.time.Instant.ofEpochMilli(m).toString());
        }
    }
}
