package dev.einhyrningsins.json;

import com.fasterxml.jackson.core.JsonParser;
import java.io.IOException;
import java.time.Instant;
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

    /**
     * A UTC instant in milliseconds as ISO-8601 text, exactly as {@code Instant.toString()}
     * writes it ("2026-11-30T07:24:53.120Z", "2026-11-30T07:24:53Z" on a whole second): how
     * state, events and rollouts give times. Not {@code Instant.toString()} itself: its
     * DateTimeFormatter brings ~100 classes (the formatter, regex, locale data; java.time's
     * date classes a few more), and the
     * image's AOT cache preloads into every supervisor whatever its training run used.
     */
    /** 0000-01-01T00:00:00Z minus one millisecond, and 10000-01-01T00:00:00Z. */
    private static final long LAST_MILLI_BEFORE_YEAR_0 = -62_167_219_200_001L;
    private static final long FIRST_MILLI_OF_YEAR_10000 = 253_402_300_800_000L;

    public static String timestamp(long epochMillis) {
        // beyond four-digit years Instant writes a sign ("+10000-01-01T00:00:00Z", "-0001-12-31T23:59:59.999Z")
        if (epochMillis <= LAST_MILLI_BEFORE_YEAR_0 || epochMillis >= FIRST_MILLI_OF_YEAR_10000) {
            return Instant.ofEpochMilli(epochMillis).toString();
        }
        long seconds = Math.floorDiv(epochMillis, 1000L);
        int millis = (int) Math.floorMod(epochMillis, 1000L);
        // the proleptic Gregorian date of a day count from 1970-01-01 (H. Hinnant's civil_from_days)
        long z = Math.floorDiv(seconds, 86_400L) + 719_468L;
        long era = Math.floorDiv(z, 146_097L);
        long dayOfEra = z - era * 146_097L;
        long yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365;
        long dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100);
        long mp = (5 * dayOfYear + 2) / 153;
        int day = (int) (dayOfYear - (153 * mp + 2) / 5 + 1);
        int month = (int) (mp < 10 ? mp + 3 : mp - 9);
        long year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
        int secondOfDay = (int) Math.floorMod(seconds, 86_400L);
        StringBuilder b = new StringBuilder(24);
        pad(b, (int) year, 4).append('-');
        pad(b, month, 2).append('-');
        pad(b, day, 2).append('T');
        pad(b, secondOfDay / 3600, 2).append(':');
        pad(b, secondOfDay / 60 % 60, 2).append(':');
        pad(b, secondOfDay % 60, 2);
        if (millis != 0) pad(b.append('.'), millis, 3);
        return b.append('Z').toString();
    }

    private static StringBuilder pad(StringBuilder b, int value, int digits) {
        String s = Integer.toString(value);
        for (int i = s.length(); i < digits; i++) b.append('0');
        return b.append(s);
    }
}
