package dev.einhyrningsins.it;

import static dev.einhyrningsins.Await.await;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.einhyrningsins.observe.OpenMetrics;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Deploys the way Kubernetes and systemd expect, with real processes and sockets: a
 * readiness gate that gives up, a shutdown delay that keeps serving, HTTP probes, an
 * environment file read again at each upgrade and reload, bounded draining.
 */
class DeployIT {
    @TempDir
    Path dir;

    record Http(int status, String body) {}

    /** One GET over HTTP/1.1 to 127.0.0.1:{@code port}: the status and the body. */
    static Http http(int port, String path) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            s.setSoTimeout(10_000);
            s.getOutputStream().write(("GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            String r = new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!r.startsWith("HTTP/1.1 ")) throw new IOException("no HTTP response: " + r);
            return new Http(Integer.parseInt(r.substring(9, 12)), r.substring(r.indexOf("\r\n\r\n") + 4));
        }
    }

    static int metricsPort(SupervisorProcess sup) throws IOException {
        return URI.create(sup.state().path("metrics").asText()).getPort();
    }

    void deployWorker(String version, String env) throws IOException {
        HealthIT.deployWorker(dir, version, env);
    }

    SupervisorProcess start(String... args) throws IOException {
        return HealthIT.start(dir, args);
    }

    /** Sends a control request without waiting for any reply (the loop may not answer). */
    static SocketChannel send(SupervisorProcess sup, String line) throws IOException {
        SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(sup.socket));
        ch.write(ByteBuffer.wrap((line + "\n").getBytes(StandardCharsets.UTF_8)));
        return ch;
    }

    static Map<String, String> environ(int pid) throws IOException {
        Map<String, String> env = new HashMap<>();
        for (String kv : Files.readString(Path.of("/proc", Integer.toString(pid), "environ")).split("\0")) {
            int eq = kv.indexOf('=');
            if (eq > 0) env.put(kv.substring(0, eq), kv.substring(eq + 1));
        }
        return env;
    }

    // ------------------------------------------------------------------ a readiness gate that gives up

    @Test
    void anUpgradeToABuildThatNeverPassesItsReadyCheckAbortsWithin10sUnderLoad() throws Exception {
        deployWorker("v1", "");
        try (var sup = start("-n", "2", "--ready-check", HealthIT.CHECK, "--check-interval", "0.5")) {
            List<Integer> old = sup.awaitAcked(2);
            int port = UpgradeIT.port(sup);
            try (Load load = new Load(port, "/sleep?ms=20")) {
                load.awaitFlowing(0);
                deployWorker("v2", "HEALTH=fail");
                long started = System.nanoTime();
                assertThat(UpgradeIT.ctl(dir, sup, "upgrade")).isEqualTo(1);
                Duration took = Duration.ofNanos(System.nanoTime() - started);
                String out = Files.readString(dir.resolve("ctl.out"));
                assertThat(took).as("the upgrade gave up in time:\n%s", out).isLessThan(Duration.ofSeconds(10));
                List<String> failed = out.lines().filter(l -> l.contains("ready check failed")).toList();
                assertThat(failed).as("every failed check streamed, with its last line").hasSizeGreaterThanOrEqualTo(9)
                        .allMatch(l -> l.contains("The requested URL returned error: 503"));
                assertThat(out).contains("failed its ready check 3 times in a row")
                        .contains("Upgrade to generation 2 failed: 3 consecutive new workers failed their ready check");
                assertThat(sup.workers(true)).containsExactlyInAnyOrderElementsOf(old);
                // the failed new workers accept from the shared socket until they are gone
                sup.awaitWorkers(old); // the new ones gone
                assertThat(UpgradeIT.versions(port, 10)).containsExactly("v1");
                long before = load.ok();
                load.awaitFlowing(before);
                load.close();
                assertThat(load.failed()).as("failed requests (first: %s)", load.firstFailure()).isZero();
            }
        }
    }

    // ------------------------------------------------------------------ the shutdown delay

    @Test
    void termWithAShutdownDelayServesEveryConnectionWhileReadyTurns503AtOnce() throws Exception {
        deployWorker("v1", "");
        try (var sup = start("-n", "2", "--shutdown-delay", "3", "--metrics", "127.0.0.1:0")) {
            sup.awaitAcked(2);
            int port = UpgradeIT.port(sup);
            int probe = metricsPort(sup);
            assertThat(http(probe, "/ready")).isEqualTo(new Http(200, "ready: 2 of 2 workers acked\n"));

            // a client connecting every 10 ms: when each attempt began, and whether it was served
            List<long[]> attempts = Collections.synchronizedList(new ArrayList<>());
            AtomicBoolean stop = new AtomicBoolean();
            Thread client = Thread.ofPlatform().start(() -> {
                while (!stop.get()) {
                    long at = System.nanoTime();
                    boolean served;
                    try {
                        UpgradeIT.get(port, "/");
                        served = true;
                    } catch (IOException e) {
                        served = false;
                    }
                    attempts.add(new long[] {at, served ? 1 : 0});
                    LockSupport.parkNanos(10_000_000L); // the client's pace, not a synchronisation
                }
            });
            await("the client served", () -> attempts.size() > 5);
            // the probe, polled back to back from the TERM on
            // streamed while the poller adds: a queue whose iteration is safe meanwhile
            Queue<long[]> probes = new ConcurrentLinkedQueue<>();
            AtomicBoolean probing = new AtomicBoolean(true);
            Thread poller = Thread.ofPlatform().start(() -> {
                while (probing.get()) {
                    try {
                        int status = http(probe, "/ready").status();
                        probes.add(new long[] {System.nanoTime(), status});
                    } catch (IOException e) {
                        probes.add(new long[] {System.nanoTime(), -1});
                    }
                }
            });
            await("the probe polled", () -> probes.size() > 3);
            long term = System.nanoTime();
            sup.process.toHandle().destroy(); // SIGTERM (Process.destroy would close our end of its stderr)
            await("the probe saying not ready", () -> probes.stream().anyMatch(p -> p[0] > term && p[1] == 503));
            long first503 = probes.stream().filter(p -> p[0] > term && p[1] == 503).mapToLong(p -> p[0]).min().orElseThrow();
            // at once, the next request after the TERM; a second allows for a loaded machine, a third of the delay
            assertThat(Duration.ofNanos(first503 - term)).as("/ready 503 after TERM").isLessThan(Duration.ofSeconds(1));
            Http notReady = http(probe, "/ready");
            assertThat(notReady.status()).isEqualTo(503);
            assertThat(notReady.body()).startsWith("not ready: shutting down: the shutdown delay ends in ");
            assertThat(http(probe, "/live").status()).isEqualTo(200);
            sup.awaitLine("The shutdown delay is over: sending USR2 to 2 workers");
            long delayOver = System.nanoTime();
            probing.set(false);
            stop.set(true);
            assertThat(sup.awaitExit()).isZero();
            client.join();
            poller.join();
            assertThat(Duration.ofNanos(delayOver - term)).isGreaterThanOrEqualTo(Duration.ofMillis(2900));
            List<long[]> during;
            synchronized (attempts) {
                during = attempts.stream().filter(a -> a[0] >= term && a[0] < delayOver - 200_000_000L).toList();
            }
            assertThat(during).as("attempts through the delay").hasSizeGreaterThan(20);
            assertThat(during).as("every connection through the delay served").allMatch(a -> a[1] == 1);
            assertThat(sup.log()).contains("Got SIGTERM: not ready from now on; the 2 workers keep serving for the "
                    + "shutdown delay of 3s");
        }
    }

    // ------------------------------------------------------------------ HTTP probes

    @Test
    void readyAndLiveAnswerThroughStartUpgradeAndStop() throws Exception {
        deployWorker("v1", "EINHORN_ACK=0"); // the workers do not ack by themselves: the test acks for them
        // --max-unacked 2: the default (the CPUs) would hold the upgrade's second new worker back on one CPU
        try (var sup = start("-n", "2", "--max-unacked", "2", "--metrics", "127.0.0.1:0")) {
            await("two workers", () -> {
                try {
                    return sup.workers(false).size() == 2;
                } catch (IOException e) {
                    return false;
                }
            });
            int probe = metricsPort(sup);
            assertThat(http(probe, "/ready")).isEqualTo(new Http(503, "not ready: 0 of 2 workers acked\n"));
            Http live = http(probe, "/live");
            assertThat(live.status()).isEqualTo(200);
            assertThat(live.body()).startsWith("live: the supervisor loop answered in ");
            for (int pid : sup.workers(false)) send(sup, "{\"command\":\"worker:ack\",\"pid\":" + pid + "}").close();
            await("ready", () -> {
                try {
                    return http(probe, "/ready").equals(new Http(200, "ready: 2 of 2 workers acked\n"));
                } catch (IOException e) {
                    return false;
                }
            });
            assertThat(UpgradeIT.ctl(dir, sup, "ready")).isZero();

            // an upgrade: the old workers serve until the new ones are acked, so the instance stays ready
            List<Integer> old = sup.workers(true);
            var upgrade = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
                try {
                    return sup.request("upgrade", null);
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            await("the new workers", () -> {
                try {
                    return sup.workers(false).size() == 4;
                } catch (IOException e) {
                    return false;
                }
            });
            assertThat(http(probe, "/ready")).isEqualTo(new Http(200, "ready: 2 of 2 workers acked\n"));
            for (int pid : sup.workers(false)) {
                if (!old.contains(pid)) send(sup, "{\"command\":\"worker:ack\",\"pid\":" + pid + "}").close();
            }
            assertThat(upgrade.get(60, java.util.concurrent.TimeUnit.SECONDS).getLast().path("message").asText())
                    .isEqualTo("Upgrade done");
            assertThat(http(probe, "/ready").status()).isEqualTo(200);

            // a stop: not ready while a kept-alive connection keeps a worker draining; live all along
            int port = UpgradeIT.port(sup);
            try (Socket keep = new Socket()) {
                keep.connect(new InetSocketAddress("127.0.0.1", port), 5000);
                keep.setSoTimeout(10_000);
                keep.getOutputStream().write("GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                String response = "";
                while (!response.contains("\r\n\r\n") || !response.substring(response.indexOf("\r\n\r\n") + 4).endsWith("\n")) {
                    int b = keep.getInputStream().read();
                    if (b < 0) throw new AssertionError("closed: " + response);
                    response += (char) b;
                }
                assertThat(response).startsWith("HTTP/1.1 200").containsPattern("\r\n\r\nv1 \\d+\n$");
                sup.process.toHandle().destroy();
                await("not ready: stopping", () -> {
                    try {
                        return http(probe, "/ready").equals(new Http(503, "not ready: stopping\n"));
                    } catch (IOException e) {
                        return false;
                    }
                });
                assertThat(http(probe, "/live").status()).isEqualTo(200);
            }
            assertThat(sup.awaitExit()).isZero();
        }
    }

    @Test
    void liveTurns503WhenTheLoopIsWedgedAndBackWhenItAnswers() throws Exception {
        Path release = dir.resolve("release");
        List<String> cmd = List.of(SupervisorProcess.java(), "--enable-native-access=ALL-UNNAMED",
                "--add-exports", "java.base/sun.nio.ch=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"), WedgedSupervisor.class.getName());
        try (var sup = SupervisorProcess.launch(cmd, dir, Map.of("WEDGE_RELEASE", release.toString()), "-n", "1", "-m", "0",
                "--metrics", "127.0.0.1:0", "sleep", "1000")) {
            sup.awaitAcked(1);
            int probe = metricsPort(sup);
            assertThat(http(probe, "/live").status()).isEqualTo(200);
            try (SocketChannel wedging = send(sup, "{\"command\":\"signal\",\"args\":[\"USR1\"]}")) {
                await("a wedged loop", () -> {
                    try {
                        return http(probe, "/live").status() == 503;
                    } catch (IOException e) {
                        return false;
                    }
                });
                assertThat(http(probe, "/live")).isIn(
                        new Http(503, "not live: the supervisor loop did not answer within 1 s\n"),
                        new Http(503, "not live: 8 questions already wait for the supervisor loop\n"));
                assertThat(http(probe, "/ready").status()).isEqualTo(503);
                Files.createFile(release);
                await("live again", () -> {
                    try {
                        return http(probe, "/live").status() == 200;
                    } catch (IOException e) {
                        return false;
                    }
                });
            }
            assertThat(sup.process.isAlive()).isTrue();
        }
    }

    // ------------------------------------------------------------------ the environment file

    @Test
    void anEnvFileIsReadAgainAtEachUpgradeAndReloadAndAMalformedOneRefusesThem() throws Exception {
        Path env = dir.resolve("app.env");
        Files.writeString(env, "# the app's settings\nAPI_KEY=one\nOLD=x\n");
        try (var sup = SupervisorProcess.start(dir, Map.of("BASE", "from the supervisor"), "-n", "2", "-m", "0",
                "--env-file", env.toString(), "sleep", "1000")) {
            List<Integer> first = sup.awaitAcked(2);
            for (int pid : first) {
                assertThat(environ(pid)).containsEntry("API_KEY", "one").containsEntry("OLD", "x")
                        .containsEntry("BASE", "from the supervisor").containsKey("EINHORN_FD_COUNT");
            }
            JsonNode state = sup.state();
            assertThat(state.path("env_file").asText()).isEqualTo(env.toString());
            assertThat(state.path("env_generation").asInt()).isEqualTo(1);

            Files.writeString(env, "API_KEY=two\nNEW='with spaces'\n");
            assertThat(environ(first.getFirst())).as("running workers keep theirs").containsEntry("API_KEY", "one");
            assertThat(UpgradeIT.ctl(dir, sup, "upgrade")).isZero();
            List<Integer> second = sup.awaitAcked(2);
            assertThat(second).doesNotContainAnyElementsOf(first);
            for (int pid : second) {
                assertThat(environ(pid)).containsEntry("API_KEY", "two").containsEntry("NEW", "with spaces")
                        .doesNotContainKey("OLD").containsEntry("BASE", "from the supervisor");
            }
            assertThat(sup.state().path("env_generation").asInt()).isEqualTo(2);
            assertThat(sup.state().path("workers")).allMatch(w -> w.path("env_generation").asInt() == 2);
            assertThat(sup.log()).contains("The environment file changed (API_KEY changed; NEW added; OLD removed): "
                    + "workers started from now on get its generation 2").doesNotContain("with spaces");

            // malformed: an upgrade and a reload are refused, naming the line, and nothing changes
            Files.writeString(env, "API_KEY=three\n\nBROKEN='never closed\n");
            String problem = "--env-file " + env + " line 3: the ' opened here is not closed";
            assertThat(UpgradeIT.ctl(dir, sup, "upgrade")).isEqualTo(1);
            assertThat(Files.readString(dir.resolve("ctl.out"))).contains("Not upgrading: " + problem);
            assertThat(UpgradeIT.ctl(dir, sup, "reload")).isEqualTo(1);
            assertThat(Files.readString(dir.resolve("ctl.out"))).contains("Reload refused: " + problem);
            JsonNode after = sup.state();
            assertThat(after.path("reloads").asInt()).isZero();
            assertThat(after.path("env_generation").asInt()).isEqualTo(2);
            assertThat(sup.workers(true)).containsExactlyInAnyOrderElementsOf(second);

            // fixed: the reload reads it, and its values reach the workers the next process starts
            Files.writeString(env, "API_KEY=three\n");
            assertThat(UpgradeIT.ctl(dir, sup, "reload")).as(Files.readString(dir.resolve("ctl.out"))).isZero();
            assertThat(sup.state().path("reloads").asInt()).isEqualTo(1);
            assertThat(sup.state().path("env_generation").asInt()).isEqualTo(3);
            assertThat(UpgradeIT.ctl(dir, sup, "inc")).isZero();
            List<Integer> third = sup.awaitAcked(3);
            int added = third.stream().filter(p -> !second.contains(p)).findFirst().orElseThrow();
            assertThat(environ(added)).containsEntry("API_KEY", "three").doesNotContainKey("NEW");
            assertThat(environ(second.getFirst())).containsEntry("API_KEY", "two");
        }
    }

    @Test
    void aMalformedEnvFileAtStartIsOneLineAndLeavesNothingBehind() throws Exception {
        Path env = Files.writeString(dir.resolve("bad.env"), "A=1\nexport B=2\n");
        var r = SupervisorProcess.runToExit(dir, Map.of(), "-d", dir.resolve("ctl.sock").toString(), "--env-file",
                env.toString(), "--", "sleep", "60");
        assertThat(r.status()).isEqualTo(1);
        assertThat(r.stderr().lines().toList()).singleElement().asString()
                .endsWith("ERROR --env-file " + env + " line 2: \"export B\" is not a variable name (systemd's syntax has no export)");
        assertThat(dir.resolve("ctl.sock")).doesNotExist();
    }

    // ------------------------------------------------------------------ bounded draining

    /** Stops a supervisor whose workers ignore the graceful signal: the second TERM goes to their process groups. */
    static void stop(SupervisorProcess sup) throws Exception {
        sup.signal("TERM");
        sup.awaitLine("Got SIGTERM: sending USR2");
        sup.signal("TERM");
        assertThat(sup.awaitExit()).isZero();
    }

    /** Generations with a retiring worker not yet killed. */
    static Set<Integer> draining(JsonNode state) {
        Set<Integer> generations = new TreeSet<>();
        for (JsonNode w : state.path("workers")) {
            if (w.path("retiring").asBoolean() && !w.path("signaled").toString().contains("KILL")) {
                generations.add(w.path("generation").asInt());
            }
        }
        return generations;
    }

    @Test
    void threeUpgradesInFiveSecondsLeaveAtMostMaxDrainingGenerationsRetiring() throws Exception {
        // workers that keep draining for ever, as ones holding long-lived connections do
        // (acked by the workers themselves, once their handler of the graceful signal is installed)
        try (var sup = SupervisorProcess.start(dir, Map.of("IGNORE_GRACEFUL", "1", "ACK", "1"), "-n", "2", "-m", "manual",
                "--max-draining", "1", SupervisorProcess.worker("probe.py").toString())) {
            sup.awaitAcked(2);
            long started = System.nanoTime();
            for (int i = 0; i < 3; i++) {
                assertThat(sup.request("upgrade", null).getLast().path("message").asText()).isEqualTo("Upgrade done");
                assertThat(draining(sup.state())).as("after upgrade %d", i + 1).hasSizeLessThanOrEqualTo(1);
            }
            assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(5));
            await("generations 1 and 2 ended and reaped", () -> {
                try {
                    Set<Integer> left = new TreeSet<>();
                    for (JsonNode w : sup.state().path("workers")) left.add(w.path("generation").asInt());
                    return left.equals(Set.of(3, 4));
                } catch (IOException e) {
                    return false;
                }
            });
            OpenMetrics m = OpenMetrics.parse(sup.command("metrics"));
            assertThat(m.value("einhyrningsins_signals_total", "signal", "KILL", "reason", "max_draining")).isEqualTo(4);
            assertThat(sup.log()).contains("At most 1 generation may be retiring at once (--max-draining): ending "
                    + "generation 1, 2 workers still draining, with SIGKILL to their process groups");
            stop(sup);
        }
    }

    @Test
    void aWorkerDrainingLongerThanTheDrainTimeoutIsKilled() throws Exception {
        try (var sup = SupervisorProcess.start(dir, Map.of("IGNORE_GRACEFUL", "1", "ACK", "1"), "-n", "1", "-m", "manual",
                "--drain-timeout", "1", SupervisorProcess.worker("probe.py").toString())) {
            int old = sup.awaitAcked(1).getFirst();
            long retired = System.nanoTime();
            assertThat(sup.request("upgrade", null).getLast().path("message").asText()).isEqualTo("Upgrade done");
            await("the old worker killed", () -> ProcessHandle.of(old).isEmpty());
            assertThat(Duration.ofNanos(System.nanoTime() - retired)).isGreaterThanOrEqualTo(Duration.ofSeconds(1));
            sup.awaitLine("Worker " + old + " \\(slot 0, generation 1\\) is still draining 1s after it was asked to go "
                    + "\\(--drain-timeout\\)");
            OpenMetrics m = OpenMetrics.parse(sup.command("metrics"));
            assertThat(m.value("einhyrningsins_signals_total", "signal", "KILL", "reason", "drain_timeout")).isEqualTo(1);
            assertThat(m.value("einhyrningsins_worker_exits_total", "cause", "killed")).isEqualTo(1);
            stop(sup);
        }
    }

    // ------------------------------------------------------------------ the endpoint's bounds

    @Test
    void fiveHundredScrapesAndIdleConnectionsNeitherHoldTheEndpointNorSlowTheSupervisor() throws Exception {
        try (var sup = SupervisorProcess.start(dir, Map.of(), "-n", "4", "-m", "0", "--metrics", "127.0.0.1:0",
                "sleep", "1000")) {
            sup.awaitAcked(4);
            int probe = metricsPort(sup);
            List<Socket> scrapes = new ArrayList<>();
            List<String> responses = Collections.synchronizedList(new ArrayList<>());
            Thread attack = Thread.ofPlatform().start(() -> {
                try {
                    for (int i = 0; i < 500; i++) {
                        Socket s = new Socket();
                        scrapes.add(s);
                        s.connect(new InetSocketAddress("127.0.0.1", probe), 10_000);
                        s.setSoTimeout(30_000);
                        s.getOutputStream().write("GET /metrics HTTP/1.1\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                    }
                    for (Socket s : scrapes) {
                        try {
                            responses.add(new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
                        } catch (IOException e) {
                            responses.add("reset");
                        }
                    }
                } catch (IOException e) {
                    responses.add("attack failed: " + e);
                }
            });
            // meanwhile the control socket answers state within a second each time
            long worst = 0;
            int asked = 0;
            while (attack.isAlive() || asked < 20) {
                long t = System.nanoTime();
                assertThat(sup.state().path("workers")).hasSize(4);
                worst = Math.max(worst, System.nanoTime() - t);
                asked++;
            }
            attack.join();
            for (Socket s : scrapes) s.close();
            assertThat(Duration.ofNanos(worst)).as("the slowest of %d state requests", asked).isLessThan(Duration.ofSeconds(1));
            assertThat(responses).hasSize(500).noneMatch(r -> r.startsWith("attack failed"))
                    .allMatch(r -> r.isEmpty() || r.equals("reset") || r.startsWith("HTTP/1.1 200") || r.startsWith("HTTP/1.1 503"));
            assertThat(responses.stream().filter(r -> r.startsWith("HTTP/1.1 200"))).isNotEmpty();

            // clients that connect and send nothing: the endpoint makes room for the next scrape
            List<Socket> idle = new ArrayList<>();
            try {
                for (int i = 0; i < 200; i++) {
                    Socket s = new Socket();
                    idle.add(s);
                    s.connect(new InetSocketAddress("127.0.0.1", probe), 10_000);
                }
                Http scrape = http(probe, "/metrics");
                assertThat(scrape.status()).isEqualTo(200);
                assertThat(http(probe, "/ready")).isEqualTo(new Http(200, "ready: 4 of 4 workers acked\n"));
            } finally {
                for (Socket s : idle) s.close();
            }
            OpenMetrics m = OpenMetrics.parse(http(probe, "/metrics").body());
            assertThat(m.value("einhyrningsins_http_refusals_total", "reason", "idle")).isGreaterThanOrEqualTo(136);
            assertThat(m.value("einhyrningsins_http_responses_total", "path", "/metrics", "code", "200")).isPositive();
        }
    }
}
