package dev.einhyrningsins.it;

import static dev.einhyrningsins.Await.await;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.einhyrningsins.control.ControlClient;
import dev.einhyrningsins.observe.OpenMetrics;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.net.StandardProtocolFamily;
import java.net.URI;
import java.net.UnixDomainSocketAddress;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Seeing inside a real supervisor: the metrics (control command and HTTP endpoint, read by
 * the Prometheus client's OpenMetrics parser) move with every event, the endpoint answers
 * during an upgrade, and watch streams a whole upgrade in order.
 */
class ObserveIT {

    @TempDir
    Path dir;

    Path app;

    /** Replaces the "deployed program" atomically; {@code env} goes before the probe worker. */
    void deploy(String env) throws IOException {
        Path tmp = dir.resolve("app.new");
        Files.writeString(tmp, "#!/bin/sh\n" + env + " exec python3 " + SupervisorProcess.worker("probe.py") + "\n");
        Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.move(tmp, dir.resolve("app"), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        app = dir.resolve("app");
    }

    static String metricsUrl(SupervisorProcess sup) throws IOException {
        return sup.state().path("metrics").asText();
    }

    static HttpResponse<String> get(String url) throws IOException, InterruptedException {
        return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(30)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    /** Waits until the metrics (over the control socket) satisfy {@code condition}; returns them. */
    static OpenMetrics awaitMetrics(SupervisorProcess sup, String what, Predicate<OpenMetrics> condition)
            throws InterruptedException {
        List<OpenMetrics> last = new ArrayList<>(List.of());
        try {
            await(what, () -> {
                try {
                    OpenMetrics m = OpenMetrics.parse(sup.command("metrics"));
                    last.clear();
                    last.add(m);
                    return condition.test(m);
                } catch (IOException e) {
                    return false;
                }
            });
        } catch (AssertionError e) {
            throw new AssertionError(e.getMessage() + "; last metrics: " + (last.isEmpty() ? "none" : last.getFirst().samples())
                    + "\n" + sup.log());
        }
        return last.getFirst();
    }

    @Test
    void everyMetricMovesWithItsEventAndTheEndpointAnswersDuringAnUpgrade() throws Exception {
        deploy("IGNORE_GRACEFUL=1 ACK=1"); // generation 1 ignores the graceful signal: killed after -t
        try (var sup = SupervisorProcess.start(dir, Map.of(), "-n", "2", "-m", "manual", "-t", "0.5", "--ack-timeout", "5",
                "--upgrade-max-failures", "1", "--metrics", "127.0.0.1:0", app.toString())) {
            List<Integer> first = sup.awaitAcked(2);
            String url = metricsUrl(sup);
            assertThat(url).matches("http://127\\.0\\.0\\.1:\\d+/metrics");
            HttpResponse<String> http = get(url);
            assertThat(http.statusCode()).isEqualTo(200);
            assertThat(http.headers().firstValue("Content-Type")).hasValue("application/openmetrics-text; version=1.0.0; charset=utf-8");
            OpenMetrics m = OpenMetrics.parse(http.body());
            assertThat(m.value("einhyrningsins_spawns_total", "reason", "start")).isEqualTo(2);
            assertThat(m.value("einhyrningsins_acks_total")).isEqualTo(2);
            assertThat(m.value("einhyrningsins_ack_latency_seconds_count")).isEqualTo(2);
            assertThat(m.value("einhyrningsins_workers", "generation", "1", "state", "acked")).isEqualTo(2);
            assertThat(m.value("einhyrningsins_ready")).isEqualTo(1);
            assertThat(m.value("einhyrningsins_control_connections_total")).isGreaterThanOrEqualTo(3);
            assertThat(m.value("einhyrningsins_uptime_seconds")).isPositive();
            assertThat(get(url.replace("/metrics", "/")).statusCode()).isEqualTo(404);

            // a crash of an acked worker: an unexpected exit by a signal, then a replacement
            ProcessHandle.of(first.getFirst()).orElseThrow().destroyForcibly();
            m = awaitMetrics(sup, "the crash counted and replaced", x ->
                    x.value("einhyrningsins_worker_exits_total", "cause", "signal", "code", "KILL", "expected", "false") == 1
                            && x.value("einhyrningsins_spawns_total", "reason", "replace") == 1
                            && x.value("einhyrningsins_acks_total") == 3);

            // a worker that dies before its ack: exit code 3, then restarts paced by the backoff
            deploy("exit 3;");
            sup.command("inc");
            awaitMetrics(sup, "a restart after deaths before the ack", x ->
                    x.value("einhyrningsins_worker_exits_total", "cause", "exit", "code", "3", "expected", "false") >= 1
                            && x.value("einhyrningsins_spawns_total", "reason", "restart") >= 1);
            deploy("IGNORE_GRACEFUL=1 ACK=1");
            m = awaitMetrics(sup, "three acked workers", x -> x.value("einhyrningsins_workers", "state", "acked") == 3
                    && x.value("einhyrningsins_workers", "state", "unacked") == 0);
            assertThat(m.value("einhyrningsins_workers_target")).isEqualTo(3);
            double signalsBefore = m.value("einhyrningsins_signals_total");

            // an upgrade: spawns for it, acks, old workers retired, ignoring the signal and killed after -t
            deploy("ACK=1");
            List<JsonNode> upgrade = sup.request("upgrade", null);
            assertThat(upgrade.getLast().path("message").asText()).isEqualTo("Upgrade done");
            m = awaitMetrics(sup, "the old generation killed after -t", x ->
                    x.value("einhyrningsins_worker_exits_total", "cause", "killed", "code", "KILL", "expected", "true") == 3);
            assertThat(m.value("einhyrningsins_upgrades_started_total")).isEqualTo(1);
            assertThat(m.value("einhyrningsins_upgrades_total", "outcome", "done")).isEqualTo(1);
            assertThat(m.value("einhyrningsins_upgrade_duration_seconds_count", "outcome", "done")).isEqualTo(1);
            assertThat(m.value("einhyrningsins_spawns_total", "reason", "upgrade")).isEqualTo(3);
            assertThat(m.value("einhyrningsins_drain_seconds_count")).isEqualTo(3);
            assertThat(m.value("einhyrningsins_drain_seconds_sum")).isGreaterThanOrEqualTo(1.5);
            assertThat(m.value("einhyrningsins_signals_total", "reason", "retire")).isGreaterThanOrEqualTo(3);
            assertThat(m.value("einhyrningsins_signals_total", "signal", "KILL", "reason", "kill")).isEqualTo(3);
            assertThat(m.value("einhyrningsins_signals_total")).isGreaterThan(signalsBefore);
            assertThat(m.value("einhyrningsins_generation")).isEqualTo(2);
            assertThat(m.value("einhyrningsins_workers", "generation", "2", "state", "acked")).isEqualTo(3);
            assertThat(m.value("einhyrningsins_workers", "generation", "1")).isZero();

            // an upgrade whose workers never ack: ack timeouts abort it; meanwhile the endpoint answers
            deploy("ACK=0");
            CompletableFuture<List<JsonNode>> aborted = CompletableFuture.supplyAsync(() -> {
                try {
                    return sup.request("upgrade", null);
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            List<OpenMetrics> during = new ArrayList<>();
            await("the endpoint showing the upgrade running", () -> {
                try {
                    OpenMetrics x = OpenMetrics.parse(get(url).body());
                    if (x.value("einhyrningsins_upgrading") != 1) return false;
                    during.add(x);
                    return true;
                } catch (IOException e) {
                    return false;
                } catch (InterruptedException e) {
                    throw new AssertionError(e);
                }
            });
            assertThat(during.getFirst().value("einhyrningsins_ready")).isZero();
            assertThat(during.getFirst().value("einhyrningsins_workers", "generation", "3", "state", "unacked")).isPositive();
            assertThat(aborted.get(60, TimeUnit.SECONDS).getLast().path("ok").asBoolean(true)).isFalse();
            m = awaitMetrics(sup, "the ack timeout and the abort", x ->
                    x.value("einhyrningsins_worker_exits_total", "cause", "ack_timeout") >= 1
                            && x.value("einhyrningsins_upgrades_total", "outcome", "failed") == 1
                            && x.value("einhyrningsins_ready") == 1);
            assertThat(m.value("einhyrningsins_upgrade_duration_seconds_sum", "outcome", "failed")).isGreaterThanOrEqualTo(5);
            assertThat(m.value("einhyrningsins_generation")).isEqualTo(2);
            assertThat(m.value("einhyrningsins_upgrading")).isZero();

            // a config change
            sup.command("config", "seconds=2");
            assertThat(OpenMetrics.parse(get(url).body()).value("einhyrningsins_config_changes_total")).isEqualTo(1);
        }
    }

    @Test
    void aMetricsPortInUseIsAStartUpErrorThatLeavesNothingBehind() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            var r = SupervisorProcess.runToExit(dir, Map.of(), "-d", dir.resolve("ctl.sock").toString(),
                    "--metrics", "127.0.0.1:" + taken.getLocalPort(), "--", "sleep", "60");
            assertThat(r.status()).isEqualTo(1);
            assertThat(r.stderr().lines().filter(l -> l.contains("ERROR")).toList()).singleElement().asString()
                    .contains("cannot serve --metrics 127.0.0.1:" + taken.getLocalPort() + ": ").contains("in use");
            assertThat(dir.resolve("ctl.sock")).doesNotExist();
        }
    }

    // ------------------------------------------------------------------ watch

    /** A raw watch connection: each line's message is one JSON event. */
    static final class Watch implements AutoCloseable {
        final SocketChannel ch;
        final BufferedReader in;

        Watch(Path socket) throws IOException {
            ch = SocketChannel.open(StandardProtocolFamily.UNIX);
            ch.connect(UnixDomainSocketAddress.of(socket));
            ch.write(ByteBuffer.wrap("{\"id\":\"w\",\"command\":\"watch\"}\n".getBytes(StandardCharsets.UTF_8)));
            in = new BufferedReader(new InputStreamReader(Channels.newInputStream(ch), StandardCharsets.UTF_8));
        }

        /** Events up to and including the first that matches {@code last}. */
        List<JsonNode> until(Predicate<JsonNode> last) throws Exception {
            List<JsonNode> events = new ArrayList<>();
            CompletableFuture<List<JsonNode>> reading = CompletableFuture.supplyAsync(() -> {
                try {
                    while (true) {
                        String line = in.readLine();
                        if (line == null) throw new IOException("watch ended after " + events);
                        JsonNode reply = SupervisorProcess.JSON.readTree(line.replace("%0A", "\n").replace("%25", "%"));
                        assertThat(reply.path("request_id").asText()).isEqualTo("w");
                        assertThat(reply.path("wait").asBoolean()).as("every event is a non-final einhorn reply").isTrue();
                        JsonNode event = SupervisorProcess.JSON.readTree(reply.path("message").asText());
                        events.add(event);
                        if (last.test(event)) return events;
                    }
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }, Thread::startVirtualThread);
            try {
                return reading.get(SupervisorProcess.WAIT.toSeconds(), TimeUnit.SECONDS);
            } catch (java.util.concurrent.TimeoutException e) {
                throw new AssertionError("no matching event within " + SupervisorProcess.WAIT + "; got " + events);
            }
        }

        @Override
        public void close() throws IOException {
            ch.close();
        }
    }

    static boolean is(JsonNode e, String event) {
        return e.path("event").asText().equals(event);
    }

    static int indexOf(List<JsonNode> events, Predicate<JsonNode> p) {
        for (int i = 0; i < events.size(); i++) if (p.test(events.get(i))) return i;
        throw new AssertionError("no such event in " + events);
    }

    @Test
    void watchSeesAFullUpgradeInOrderAndCtlPrintsEventsUntilTheSupervisorExits() throws Exception {
        deploy("ACK=1");
        try (var sup = SupervisorProcess.start(dir, Map.of(), "-n", "2", "-m", "manual", app.toString())) {
            List<Integer> old = sup.awaitAcked(2);
            try (Watch watch = new Watch(sup.socket)) {
                JsonNode status = watch.until(e -> true).getFirst();
                assertThat(is(status, "status")).as("the first event: %s", status).isTrue();
                assertThat(status.path("ready").asBoolean()).isTrue();
                assertThat(status.path("generation").asInt()).isEqualTo(1);

                sup.command("upgrade");
                List<JsonNode> events = watch.until(e -> is(e, "status") && e.path("ready").asBoolean()
                        && e.path("generation").asInt() == 2 && e.path("workers").asInt() == 2);
                int started = indexOf(events, e -> is(e, "upgrade_started"));
                assertThat(events.get(started).path("from_generation").asInt()).isEqualTo(1);
                List<Integer> spawned = new ArrayList<>();
                for (JsonNode e : events) {
                    if (is(e, "spawned")) {
                        assertThat(e.path("reason").asText()).isEqualTo("upgrade");
                        assertThat(e.path("generation").asInt()).isEqualTo(2);
                        spawned.add(e.path("pid").asInt());
                    }
                }
                assertThat(spawned).hasSize(2);
                int done = indexOf(events, e -> is(e, "upgrade_done"));
                for (int pid : spawned) {
                    int spawn = indexOf(events, e -> is(e, "spawned") && e.path("pid").asInt() == pid);
                    int ack = indexOf(events, e -> is(e, "acked") && e.path("pid").asInt() == pid);
                    assertThat(started).isLessThan(spawn);
                    assertThat(spawn).isLessThan(ack);
                    assertThat(ack).isLessThan(done);
                }
                for (int pid : old) {
                    int retire = indexOf(events, e -> is(e, "signalled") && e.path("pid").asInt() == pid
                            && e.path("reason").asText().equals("retire"));
                    int exit = indexOf(events, e -> is(e, "exited") && e.path("pid").asInt() == pid);
                    assertThat(retire).isLessThan(exit);
                    assertThat(events.get(exit).path("expected").asBoolean()).isTrue();
                    assertThat(events.get(exit).path("drain_seconds").asDouble()).isPositive();
                }
                assertThat(events).filteredOn(e -> is(e, "upgrade_progress")).isNotEmpty()
                        .allSatisfy(e -> assertThat(indexOf(events, x -> x == e)).isBetween(started, done));
                assertThat(events.get(done).path("duration_seconds").asDouble()).isPositive();
                assertThat(events.stream().map(e -> e.path("time").asText())).allMatch(t -> t.matches("\\d{4}-.*Z"));
            }

            // ctl -e watch --json: one event object a line, for jq, until the supervisor exits
            Path out = dir.resolve("watch.out");
            Process ctl = new ProcessBuilder(SupervisorProcess.java(), "-jar", SupervisorProcess.jar().toString(), "ctl",
                    "-d", sup.socket.toString(), "--json", "-e", "watch")
                    .redirectOutput(out.toFile()).redirectError(dir.resolve("watch.err").toFile()).start();
            ctl.getOutputStream().close();
            await("ctl watching", () -> {
                try {
                    return Files.readString(out).contains("\"event\":\"status\"");
                } catch (IOException e) {
                    return false;
                }
            });
            sup.signal("TERM");
            assertThat(sup.awaitExit()).isZero();
            assertThat(ctl.waitFor(SupervisorProcess.WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
            assertThat(ctl.exitValue()).as("ctl's exit status; stderr: %s", Files.readString(dir.resolve("watch.err"))).isZero();
            List<JsonNode> lines = new ArrayList<>();
            for (String line : Files.readAllLines(out)) lines.add(SupervisorProcess.JSON.readTree(line));
            assertThat(lines).extracting(e -> e.path("event").asText()).startsWith("status").contains("stopping", "exited")
                    .endsWith("supervisor_exit");
            assertThat(lines.getLast().path("status").asInt()).isZero();
        }
    }

    @Test
    void aControlRequestCostsTheLoopOneWakeUpNotTwo() throws Exception {
        try (var sup = SupervisorProcess.start(dir, Map.of(), "-n", "1", "-m", "0", "--", "sleep", "600");
             ControlClient client = ControlClient.connect(sup.socket)) {
            sup.awaitAcked(1);
            int requests = 300;
            long before = wakeUps(client);
            for (int i = 0; i < requests; i++) client.send("state", List.of(), i, r -> { });
            long woke = wakeUps(client) - before;
            System.out.println("ObserveIT: " + woke + " loop wake-ups for " + requests + " requests");
            // each request is read and answered in the wake-up its bytes bring (measured: 301 for
            // 300, the last one the metrics request's); when the event it queued also wrote the
            // eventfd, that woke the loop again for most of them: 467-476 for 300
            assertThat(woke).as("wake-ups for %d requests on one connection", requests)
                    .isGreaterThanOrEqualTo(requests).isLessThan(requests * 5L / 4);
        }
    }

    static long wakeUps(ControlClient client) throws IOException {
        String text = client.send("metrics", List.of(), "m", r -> { }).message();
        return (long) OpenMetrics.parse(text).value("einhyrningsins_loop_wakeups_total");
    }

    @Test
    void aWatcherThatLeavesIsGoneWithoutWaitingForAnEvent() throws Exception {
        deploy("ACK=1");
        try (var sup = SupervisorProcess.start(dir, Map.of(), "-n", "1", "-m", "manual", app.toString())) {
            sup.awaitAcked(1);
            try (Watch watch = new Watch(sup.socket)) {
                watch.until(e -> is(e, "status"));
                assertThat(OpenMetrics.parse(sup.command("metrics")).value("einhyrningsins_watchers")).isEqualTo(1);
            }
            awaitMetrics(sup, "no watcher left", m -> m.value("einhyrningsins_watchers") == 0
                    && m.value("einhyrningsins_control_connections_open") == 1); // the metrics request itself
            // half-closed, as printf '{"command":"watch"}\n' | nc -N would: the stream goes on
            try (Watch watch = new Watch(sup.socket)) {
                watch.ch.shutdownOutput();
                List<JsonNode> first = watch.until(e -> is(e, "input_closed"));
                assertThat(first).extracting(e -> e.path("event").asText()).containsExactly("status", "input_closed");
                sup.command("inc");
                assertThat(watch.until(e -> is(e, "spawned")).getLast().path("reason").asText()).isEqualTo("replace");
            }
        }
    }
}
