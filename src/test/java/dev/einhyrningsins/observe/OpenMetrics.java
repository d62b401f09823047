package dev.einhyrningsins.observe;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * OpenMetrics text as a real parser reads it: the Prometheus client's
 * ({@code prometheus_client.openmetrics.parser}, Debian's python3-prometheus-client, run by
 * src/test/resources/openmetrics/parse.py). Parsing fails the test on any format error.
 */
public final class OpenMetrics {
    static final Path SCRIPT = Path.of("src/test/resources/openmetrics/parse.py").toAbsolutePath();
    static final ObjectMapper JSON = new ObjectMapper();

    public record Sample(String name, Map<String, String> labels, double value) {}

    public record Family(String type, String unit, String help) {}

    private final Map<String, Family> families;
    private final List<Sample> samples;

    private OpenMetrics(Map<String, Family> families, List<Sample> samples) {
        this.families = families;
        this.samples = samples;
    }

    /** Parses {@code text}; throws AssertionError with the parser's complaint if it is not valid OpenMetrics. */
    public static OpenMetrics parse(String text) {
        if (!Files.isExecutable(Path.of("/usr/bin/python3"))) {
            throw new AssertionError("needs /usr/bin/python3 with python3-prometheus-client (apt-get install -y python3-prometheus-client)");
        }
        try {
            Process p = new ProcessBuilder("/usr/bin/python3", SCRIPT.toString()).start();
            CompletableFuture<byte[]> err = CompletableFuture.supplyAsync(() -> {
                try {
                    return p.getErrorStream().readAllBytes();
                } catch (IOException e) {
                    return new byte[0];
                }
            });
            try (var in = p.getOutputStream()) {
                in.write(text.getBytes(StandardCharsets.UTF_8));
            }
            byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new AssertionError("the OpenMetrics parser did not finish");
            }
            String complaint = new String(err.get(), StandardCharsets.UTF_8);
            if (p.exitValue() != 0) {
                throw new AssertionError("the Prometheus client's OpenMetrics parser rejects the text: " + complaint
                        + (complaint.contains("No module named") ? " (apt-get install -y python3-prometheus-client)" : "")
                        + "\n" + text);
            }
            JsonNode root = JSON.readTree(out);
            Map<String, Family> families = new LinkedHashMap<>();
            root.path("families").properties().forEach(e -> families.put(e.getKey(), new Family(
                    e.getValue().path("type").asText(), e.getValue().path("unit").asText(), e.getValue().path("help").asText())));
            List<Sample> samples = new ArrayList<>();
            for (JsonNode s : root.path("samples")) {
                Map<String, String> labels = new LinkedHashMap<>();
                s.path("labels").properties().forEach(e -> labels.put(e.getKey(), e.getValue().asText()));
                samples.add(new Sample(s.path("name").asText(), labels, s.path("value").asDouble()));
            }
            return new OpenMetrics(families, samples);
        } catch (IOException | java.util.concurrent.ExecutionException e) {
            throw new AssertionError("cannot run the OpenMetrics parser: " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    public Map<String, Family> families() {
        return families;
    }

    public List<Sample> samples() {
        return samples;
    }

    /** The value of the sample {@code name} whose labels include {@code labels} (k, v, …), summed over the rest; 0 if none. */
    public double value(String name, String... labels) {
        double sum = 0;
        for (Sample s : samples) {
            if (!s.name().equals(name)) continue;
            boolean match = true;
            for (int i = 0; i < labels.length; i += 2) {
                if (!labels[i + 1].equals(s.labels().get(labels[i]))) match = false;
            }
            if (match) sum += s.value();
        }
        return sum;
    }
}
