package dev.einhyrningsins.json;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The Jackson-free codec reads and writes exactly what {@link Json} does, or declines. */
class PlainJsonTest {

    static final List<String> ACCEPTED = List.of(
            "{\"command\":\"worker:ack\",\"pid\":1234}",
            "{\"command\":\"signal\",\"id\":7,\"args\":[\"HUP\",\"50%\"],\"user\":\"me\"}",
            " {\r\n\t\"message\" : \"a\\nb \\\"q\\\" \\\\ \\/ \\b\\f\\r\\t \\u00e9\\u0001\\uD83D\\uDE00 é\" , \"request_id\":1,"
                    + "\"wait\":true,\"ok\":false}",
            "{}", "{\"a\":[]}", "{\"a\":[1,\"x\",null,true,false]}",
            "{\"i\":2147483647,\"j\":2147483648,\"k\":-2147483648,\"l\":-2147483649,\"m\":9223372036854775807,"
                    + "\"n\":-9223372036854775808,\"o\":-0,\"p\":0}",
            "{\"dup\":1,\"other\":2,\"dup\":\"3\"}",
            "{\"command\":\"state\"} trailing garbage, as Jackson ignores it",
            "{\"message\":null,\"request_id\":\"abc\"}");

    static final List<String> DECLINED = List.of(
            "", "{", "{\"a\"", "{\"a\":", "{\"a\":1", "{\"a\":1,}", "{a:1}", "[1]", "\"s\"", "42",
            "{\"a\":1.5}", "{\"a\":1e3}", "{\"a\":01}", "{\"a\":-}", "{\"a\":9223372036854775808}", "{\"a\":-9223372036854775809}",
            "{\"a\":{\"b\":1}}", "{\"a\":[[1]]}", "{\"a\":[{}]}", "{\"a\":\"raw\ncontrol\"}", "{\"a\":\"\\x\"}",
            "{\"a\":\"\\u12G4\"}", "{\"a\":truex}", "{\"a\":nul}", "{\"a\" 1}", "{\"a\":1 \"b\":2}",
            "{\"a\":[1.5]}", "{\"a\":[2E1]}", "{\"a\":[true1]}", "{\"a\":null0}", "{\"a\":false_}");

    @Test
    void acceptsWhatJsonReadsTheSameWay() throws IOException {
        for (String text : ACCEPTED) {
            Map<String, Object> flat = PlainJson.read(text);
            assertThat(flat).as(text).isNotNull().isEqualTo(Jackson.readJson(text));
            assertThat(JsonTest.types(flat)).as(text).isEqualTo(JsonTest.types(Jackson.readJson(text)));
        }
    }

    @Test
    void declinesWhatItDoesNotHandleForJsonToDecide() {
        for (String text : DECLINED) {
            assertThat(PlainJson.read(text)).as(text).isNull();
        }
    }

    @Test
    void mutatedLinesAreEitherReadAsJsonReadsThemOrDeclined() throws IOException {
        Random random = new Random(1);
        String alphabet = "{}[]:,\" \\/ntrufalse0123456789-+.eEu\n\tAbé";
        int accepted = 0;
        for (int n = 0; n < 20_000; n++) {
            StringBuilder b = new StringBuilder(ACCEPTED.get(random.nextInt(ACCEPTED.size())));
            for (int k = 1 + random.nextInt(3); k > 0 && !b.isEmpty(); k--) {
                int at = random.nextInt(b.length());
                switch (random.nextInt(3)) {
                    case 0 -> b.deleteCharAt(at);
                    case 1 -> b.insert(at, alphabet.charAt(random.nextInt(alphabet.length())));
                    default -> b.setCharAt(at, alphabet.charAt(random.nextInt(alphabet.length())));
                }
            }
            String text = b.toString();
            Map<String, Object> flat = PlainJson.read(text);
            if (flat == null) continue;
            accepted++;
            assertThat(flat).as(text).isEqualTo(Jackson.readJson(text));
            assertThat(JsonTest.types(flat)).as(text).isEqualTo(JsonTest.types(Jackson.readJson(text)));
        }
        assertThat(accepted).as("mutations still read").isGreaterThan(1000);
    }

    @Test
    void writesWhatJsonWrites() throws IOException {
        Random random = new Random(2);
        for (int n = 0; n < 3_000; n++) {
            Object value = randomValue(random, 0);
            String compact = PlainJson.write(value);
            assertThat(compact).isEqualTo(Jackson.write(value, false));
            assertThat(PlainJson.writePretty(value)).isEqualTo(Jackson.write(value, true));
            if (value instanceof Map<?, ?> m && m.values().stream().noneMatch(v -> v instanceof Map)) {
                Map<String, Object> read = PlainJson.read(compact);
                if (read != null) assertThat(read).isEqualTo(Jackson.readJson(compact));
            }
        }
        Map<String, Object> state = JsonTest.stateLike();
        state.remove("big");
        state.remove("ratio");
        assertThat(PlainJson.writePretty(state)).isEqualTo(Jackson.write(state, true));
    }

    @Test
    void declinesToWriteWhatIsNotPlain() {
        assertThat(PlainJson.write(Map.of("a", 1.5))).isNull();
        assertThat(PlainJson.writePretty(List.of(Map.of("a", java.math.BigInteger.ONE)))).isNull();
        assertThat(PlainJson.write(new byte[1])).isNull();
    }

    /** Nested maps and lists (empty ones too) of every scalar plain JSON writes. */
    static Object randomValue(Random random, int depth) {
        int kind = random.nextInt(depth > 3 ? 5 : 7);
        return switch (kind) {
            case 0 -> randomString(random);
            case 1 -> random.nextInt();
            case 2 -> random.nextLong();
            case 3 -> random.nextBoolean();
            case 4 -> null;
            case 5 -> {
                Map<String, Object> m = new LinkedHashMap<>();
                for (int k = random.nextInt(4); k > 0; k--) m.put(randomString(random), randomValue(random, depth + 1));
                yield m;
            }
            default -> {
                List<Object> l = new ArrayList<>();
                for (int k = random.nextInt(4); k > 0; k--) l.add(randomValue(random, depth + 1));
                yield l;
            }
        };
    }

    @Test
    void textIsTheScalarOrTheJson() {
        assertThat(Json.text(null)).isNull();
        assertThat(Json.text("state")).isEqualTo("state");
        assertThat(Json.text(12)).isEqualTo("12");
        assertThat(Json.text(true)).isEqualTo("true");
        assertThat(Json.text(List.of("a", 1))).isEqualTo("[\"a\",1]");
    }

    /** Every character class Jackson escapes differently: controls, quote, backslash, slash, DEL, non-ASCII. */
    static String randomString(Random random) {
        StringBuilder b = new StringBuilder();
        for (int i = random.nextInt(8); i > 0; i--) {
            int kind = random.nextInt(4);
            b.append(switch (kind) {
                case 0 -> (char) random.nextInt(0x20);
                case 1 -> "\"\\/\u007f".charAt(random.nextInt(4));
                case 2 -> (char) (0x20 + random.nextInt(0x5f));
                default -> (char) (0xa0 + random.nextInt(0x2000));
            });
        }
        return b.toString();
    }
}
