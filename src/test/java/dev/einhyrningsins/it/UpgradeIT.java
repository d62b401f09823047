package dev.einhyrningsins.it;

import static dev.einhyrningsins.Await.await;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Rolling upgrades on real processes: triggers, real code changes, safe failure, zero drops. */
class UpgradeIT {

    @TempDir
    Path dir;

    /** The "deployed program": a script we can replace atomically, as a deploy would. */
    Path app;
    Path versionFile;

    void deploy(String script) throws IOException {
        app = deploy(dir, script);
    }

    /** Replaces DIR/app with an executable {@code script} atomically, as a deploy would; returns its path. */
    static Path deploy(Path dir, String script) throws IOException {
        Path tmp = dir.resolve("app.new");
        Files.writeString(tmp, script);
        Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
        return Files.move(tmp, dir.resolve("app"), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    void deployWorker(String version) throws IOException {
        versionFile = dir.resolve("version");
        Files.writeString(dir.resolve("version.tmp"), version);
        Files.move(dir.resolve("version.tmp"), versionFile, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        deploy("#!/bin/sh\nexec python3 " + SupervisorProcess.example("http_worker.py") + "\n");
    }

    SupervisorProcess start(String... extra) throws IOException {
        List<String> args = new ArrayList<>(List.of("-m", "manual", "-b", "127.0.0.1:0"));
        args.addAll(List.of(extra));
        args.add(app.toString());
        return SupervisorProcess.start(dir, Map.of("VERSION_FILE", dir.resolve("version").toString()),
                args.toArray(String[]::new));
    }

    static String get(int port, String path) throws IOException {
        return get(port, path, 10_000);
    }

    /** {@link #get(int, String)} waiting up to {@code readTimeoutMs} for the answer. */
    static String get(int port, String path, int readTimeoutMs) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            s.setSoTimeout(readTimeoutMs);
            OutputStream out = s.getOutputStream();
            out.write(("GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = s.getInputStream();
            String response = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            if (!response.startsWith("HTTP/1.0 200") && !response.startsWith("HTTP/1.1 200")) {
                throw new IOException("bad response: " + response);
            }
            return response.substring(response.indexOf("\r\n\r\n") + 4).trim();
        }
    }

    static int port(SupervisorProcess sup) throws IOException {
        return sup.state().path("sockets").get(0).path("port").asInt();
    }

    /** Versions served by {@code n} consecutive requests. */
    static Set<String> versions(int port, int n) throws IOException {
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < n; i++) seen.add(get(port, "/").split(" ")[0]);
        return seen;
    }

    int ctl(SupervisorProcess sup, String... commands) throws Exception {
        return ctl(dir, sup, commands);
    }

    /** Runs {@code ctl -e COMMANDS} against {@code sup}; its output goes to DIR/ctl.out. Returns its exit status. */
    static int ctl(Path dir, SupervisorProcess sup, String... commands) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(SupervisorProcess.java(), "-jar", SupervisorProcess.jar().toString(),
                "ctl", "-d", sup.socket.toString(), "-e", String.join("; ", commands)));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(dir.resolve("ctl.out").toFile()).start();
        p.getOutputStream().close();
        if (!p.waitFor(SupervisorProcess.WAIT.toSeconds(), TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("ctl did not exit: " + cmd + "\n" + Files.readString(dir.resolve("ctl.out")));
        }
        return p.exitValue();
    }

    @Test
    void ctlUpgradeRollsOutANewVersionAndStreamsProgress() throws Exception {
        deployWorker("v1");
        try (var sup = start("-n", "2")) {
            List<Integer> old = sup.awaitAcked(2);
            int port = port(sup);
            assertThat(versions(port, 10)).containsExactly("v1");
            deployWorker("v2");
            List<JsonNode> replies = sup.request("upgrade", null);
            assertThat(replies.getFirst().path("message").asText()).isEqualTo("Upgrading smoothly, as commanded");
            assertThat(replies.getFirst().path("wait").asBoolean()).isTrue();
            assertThat(replies).extracting(r -> r.path("message").asText())
                    .anyMatch(m -> m.contains("Starting smooth upgrade from generation 1 to generation 2"))
                    .anyMatch(m -> m.contains("2/2 acked"))
                    .anyMatch(m -> m.contains("Retiring old worker " + old.getFirst()));
            JsonNode last = replies.getLast();
            assertThat(last.path("message").asText()).isEqualTo("Upgrade done");
            assertThat(last.has("wait")).isFalse();
            assertThat(last.path("request_id").asInt()).isEqualTo(1);
            await("old workers gone", () -> old.stream().allMatch(p -> ProcessHandle.of(p).isEmpty()));
            assertThat(versions(port, 10)).containsExactly("v2");
            JsonNode state = sup.state();
            assertThat(state.path("generation").asInt()).isEqualTo(2);
            assertThat(state.path("last_upgrade").path("outcome").asText()).isEqualTo("done");
            state.path("workers").forEach(w -> assertThat(w.path("generation").asInt()).isEqualTo(2));
        }
    }

    @Test
    void hupUpgradesSmoothly() throws Exception {
        deployWorker("v1");
        try (var sup = start("-n", "2")) {
            List<Integer> old = sup.awaitAcked(2);
            deployWorker("v2");
            sup.signal("HUP");
            sup.awaitLine("Upgraded successfully to generation 2");
            await("old workers gone", () -> old.stream().allMatch(p -> ProcessHandle.of(p).isEmpty()));
            assertThat(versions(port(sup), 6)).containsExactly("v2");
        }
    }

    @Test
    void fleetUpgradeAndCtlExitCodeOnSuccess() throws Exception {
        deployWorker("v1");
        try (var sup = start("-n", "2")) {
            List<Integer> old = sup.awaitAcked(2);
            deployWorker("v2");
            assertThat(ctl(sup, "upgrade_fleet")).isZero();
            assertThat(Files.readString(dir.resolve("ctl.out"))).contains("Upgrade done");
            // retired, the old workers accept from the shared socket until their drain stops them
            await("old workers gone", () -> old.stream().allMatch(p -> ProcessHandle.of(p).isEmpty()));
            assertThat(versions(port(sup), 6)).containsExactly("v2");
        }
    }

    @Test
    void aBrokenBuildIsAbortedAndTheOldWorkersKeepServing() throws Exception {
        deployWorker("v1");
        try (var sup = start("-n", "2", "--upgrade-max-failures", "2")) {
            List<Integer> old = sup.awaitAcked(2);
            int port = port(sup);
            deploy("#!/bin/sh\necho broken build >&2\nexit 1\n");
            assertThat(ctl(sup, "upgrade")).isEqualTo(1);
            String out = Files.readString(dir.resolve("ctl.out"));
            assertThat(out).contains("Upgrade to generation 2 failed: 2 consecutive new workers died before acking");
            assertThat(sup.workers(true)).containsExactlyInAnyOrderElementsOf(old);
            assertThat(versions(port, 10)).containsExactly("v1");
            assertThat(sup.state().path("last_upgrade").path("outcome").asText()).isEqualTo("failed");
            assertThat(sup.process.isAlive()).isTrue();

            Files.delete(app);
            assertThat(ctl(sup, "upgrade")).isEqualTo(1);
            assertThat(Files.readString(dir.resolve("ctl.out"))).contains("could not start the program");
            assertThat(sup.workers(true)).containsExactlyInAnyOrderElementsOf(old);
        }
    }

    @Test
    void anUpgradeThatNeverAcksTimesOut() throws Exception {
        deployWorker("v1");
        try (var sup = start("-n", "1", "--upgrade-timeout", "1")) {
            List<Integer> old = sup.awaitAcked(1);
            deploy("#!/bin/sh\nEINHORN_ACK=0 exec python3 " + SupervisorProcess.example("http_worker.py") + "\n");
            List<JsonNode> replies = sup.request("upgrade", null);
            assertThat(replies.getLast().path("message").asText()).contains("failed: not fully acked after 1s (0/1 acked)");
            assertThat(replies.getLast().path("ok").asBoolean(true)).isFalse();
            assertThat(sup.workers(true)).isEqualTo(old);
        }
    }

    @Test
    void anOldWorkerIgnoringTheGracefulSignalIsKilledAfterTheSignalTimeout() throws Exception {
        deploy("#!/bin/sh\nexec python3 " + SupervisorProcess.worker("probe.py") + "\n");
        try (var sup = SupervisorProcess.start(dir, Map.of("IGNORE_GRACEFUL", "1", "ACK", "1"),
                "-m", "manual", "-t", "0.5", app.toString())) {
            List<Integer> old = sup.awaitAcked(1);
            List<JsonNode> replies = sup.request("upgrade", null);
            assertThat(replies.getLast().path("message").asText()).isEqualTo("Upgrade done");
            sup.awaitLine("Worker " + old.getFirst() + " .*killed by SIGKILL");
            assertThat(dir.resolve(old.getFirst() + ".graceful")).exists();
        }
    }

    @Test
    void noConnectionIsDroppedThroughThreeUpgrades() throws Exception {
        deployWorker("v1");
        try (var sup = start("-n", "4")) {
            sup.awaitAcked(4);
            int port = port(sup);
            Load load = new Load(port, "/sleep?ms=20");
            try {
                for (int i = 2; i <= 4; i++) {
                    deployWorker("v" + i);
                    long before = load.ok();
                    List<JsonNode> replies = sup.request("upgrade", null);
                    assertThat(replies.getLast().path("message").asText()).isEqualTo("Upgrade done");
                    String version = "v" + i;
                    await("requests served by " + version, () -> {
                        try {
                            return versions(port, 8).equals(Set.of(version));
                        } catch (IOException e) {
                            return false;
                        }
                    });
                    load.awaitFlowing(before);
                }
            } finally {
                load.close();
            }
            assertThat(load.failed()).as("failed requests (first: %s)", load.firstFailure()).isZero();
            assertThat(load.ok()).isPositive();
        }
    }
}
