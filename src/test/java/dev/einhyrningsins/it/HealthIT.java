package dev.einhyrningsins.it;

import static dev.einhyrningsins.Await.await;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Ready and live checks, the ping watchdog and recycling, on real workers under load. */
class HealthIT {
    /** The per-worker health endpoint of examples/http_worker.py, as a user would check it. */
    static final String CHECK = "curl -fsS --max-time 5 --unix-socket \"$HEALTH_DIR/$EINHORN_WORKER_PID.sock\" http://worker/health";

    @TempDir
    Path dir;

    void deployWorker(String version, String env) throws IOException {
        deployWorker(dir, version, env);
    }

    /** DIR/app: examples/http_worker.py serving VERSION, with {@code env} (VAR=VALUE words) before it. */
    static void deployWorker(Path dir, String version, String env) throws IOException {
        Files.writeString(dir.resolve("version"), version);
        UpgradeIT.deploy(dir, "#!/bin/sh\n" + env + " exec python3 " + SupervisorProcess.example("http_worker.py") + "\n");
    }

    SupervisorProcess start(String... args) throws IOException {
        return start(dir, args);
    }

    /** A supervisor of DIR/app (-m manual, a port of its own), its workers' health sockets in DIR. */
    static SupervisorProcess start(Path dir, String... args) throws IOException {
        List<String> all = new ArrayList<>(List.of("-m", "manual", "-b", "127.0.0.1:0"));
        all.addAll(List.of(args));
        all.add(dir.resolve("app").toString());
        return SupervisorProcess.start(dir, Map.of("VERSION_FILE", dir.resolve("version").toString(),
                "HEALTH_DIR", dir.toString()), all.toArray(String[]::new));
    }

    static JsonNode worker(SupervisorProcess sup, int pid) throws IOException {
        for (JsonNode w : sup.state().path("workers")) if (w.path("pid").asInt() == pid) return w;
        return null;
    }

    static boolean gone(long pid) {
        return ProcessHandle.of(pid).isEmpty();
    }

    /** Processes whose command line contains {@code marker}. */
    static long processes(String marker) {
        return ProcessHandle.allProcesses().filter(p -> p.info().commandLine().orElse("").contains(marker)).count();
    }

    @Test
    void anUpgradeToABuildWhoseReadyCheckFailsAbortsUnderLoadAndTheOldWorkersKeepServing() throws Exception {
        deployWorker("v1", "");
        try (var sup = start("-n", "2", "--ready-check", CHECK, "--check-interval", "0.2", "--ack-timeout", "3",
                "--upgrade-max-failures", "2")) {
            List<Integer> old = sup.awaitAcked(2);
            for (int pid : old) {
                JsonNode ready = worker(sup, pid).path("ready_check");
                assertThat(ready.path("passed").asBoolean()).isTrue();
                assertThat(ready.path("last_line").asText()).isEqualTo("ok v1 " + pid);
            }
            int port = UpgradeIT.port(sup);
            try (Load load = new Load(port, "/sleep?ms=20")) {
                load.awaitFlowing(0);
                deployWorker("v2", "HEALTH=fail");
                assertThat(UpgradeIT.ctl(dir, sup, "upgrade")).isEqualTo(1);
                String out = Files.readString(dir.resolve("ctl.out"));
                assertThat(out).contains("ready check failed (exited with status 22")
                        .contains("The requested URL returned error: 503")
                        .contains("Upgrade to generation 2 failed: 2 consecutive new workers failed their ready check");
                assertThat(sup.workers(true)).containsExactlyInAnyOrderElementsOf(old);
                // the failed new workers accept from the shared socket until they are gone
                sup.awaitWorkers(old); // the new ones gone
                assertThat(UpgradeIT.versions(port, 10)).containsExactly("v1");
                long before = load.ok();
                load.awaitFlowing(before);
                load.close();
                assertThat(load.failed()).as("failed requests (first: %s)", load.firstFailure()).isZero();
            }
            assertThat(sup.state().path("last_upgrade").path("outcome").asText()).isEqualTo("failed");
        }
    }

    @Test
    void aReadyCheckReachesTheSocketsByAddressAndKnowsItsWorker() throws Exception {
        deployWorker("v1", "");
        Path unix = dir.resolve("second.sock");
        try (var sup = start("-b", "unix:" + unix, "-g", "--ready-check",
                "env > \"$HEALTH_DIR/check-$EINHORN_WORKER_PID.env\"; curl -fsS http://$EINHORN_FD_0/")) {
            int pid = sup.awaitAcked(1).getFirst();
            int port = UpgradeIT.port(sup);
            assertThat(worker(sup, pid).path("ready_check").path("last_line").asText()).isEqualTo("v1 " + pid);
            List<String> env = Files.readAllLines(dir.resolve("check-" + pid + ".env"));
            assertThat(env).contains("EINHORN_WORKER_PID=" + pid, "EINHORN_CHILD_INDEX=0", "EINHORN_FD_COUNT=2",
                    "EINHORN_FD_0=127.0.0.1:" + port, "EINHORN_FD_1=unix:" + unix);
            assertThat(env).noneMatch(l -> l.startsWith("EINHORN_FDS=") || l.startsWith("EINHORN_SOCK_FD="));
            assertThat(sup.log()).doesNotContain("Reaped unknown child");
        }
    }

    @Test
    void aWorkerThatStopsAnsweringIsReplacedWithoutAFailedRequest() throws Exception {
        deployWorker("v1", "");
        try (var sup = start("-n", "2", "--live-check", CHECK, "--live-failures", "2", "--check-interval", "0.2",
                "--check-timeout", "1", "-t", "1")) {
            List<Integer> before = sup.awaitAcked(2);
            int port = UpgradeIT.port(sup);
            int hung;
            try (Load load = new Load(port, "/sleep?ms=20")) {
                load.awaitFlowing(0);
                hung = Integer.parseInt(UpgradeIT.get(port, "/hang").split(" ")[1]);
                assertThat(before).contains(hung);
                sup.awaitLine("Worker " + hung + " \\(slot \\d+, generation 1\\) is sick: its live check failed 2 times in a row "
                        + "\\(timed out after 1s\\)");
                Matcher launched = sup.awaitLine("===> Launched (\\d+)", 2);
                int replacement = Integer.parseInt(launched.group(1));
                sup.awaitLine("Received a manual ACK from " + replacement);
                sup.awaitLine("Retiring sick worker " + hung);
                sup.awaitLine("Worker " + hung + " .*killed by SIGKILL");
                List<Integer> after = sup.awaitAcked(2);
                assertThat(after).doesNotContain(hung).contains(replacement);
                long ok = load.ok();
                load.awaitFlowing(ok);
                load.close();
                assertThat(load.failed()).as("failed requests (first: %s)", load.firstFailure()).isZero();
            }
            String log = sup.log();
            assertThat(log.indexOf("Received a manual ACK from")).isPositive();
            assertThat(log.lastIndexOf("Received a manual ACK from")).as("the replacement acked before the sick one went")
                    .isLessThan(log.indexOf("Retiring sick worker " + hung));
        }
    }

    @Test
    void aWorkerGrowingPastMaxWorkerRssIsRecycled() throws Exception {
        UpgradeIT.deploy(dir, "#!/bin/sh\nexec python3 " + SupervisorProcess.worker("probe.py") + "\n");
        try (var sup = SupervisorProcess.start(dir, Map.of("ACK", "1", "GROW_MB", "64"), "-m", "manual",
                "--max-worker-rss", "40", "--check-interval", "0.1", dir.resolve("app").toString())) {
            int old = sup.awaitAcked(1).getFirst();
            await("an RSS sample", () -> {
                try {
                    return worker(sup, old).path("rss_bytes").isNumber();
                } catch (IOException e) {
                    return false;
                }
            });
            assertThat(worker(sup, old).path("rss_bytes").asLong()).isLessThan(40L << 20);
            assertThat(new ProcessBuilder("kill", "-USR1", Integer.toString(old)).start().waitFor()).isZero();
            sup.awaitLine("Worker " + old + " \\(slot 0, generation 1\\) is sick: its RSS of \\d+ MiB is over "
                    + "--max-worker-rss 40 MiB");
            int replacement = Integer.parseInt(sup.awaitLine("===> Launched (\\d+)", 1).group(1));
            sup.awaitLine("Received a manual ACK from " + replacement);
            sup.awaitLine("Retiring sick worker " + old);
            sup.awaitLine("Worker " + old + " .*exited with status 0");
            assertThat(sup.awaitAcked(1)).containsExactly(replacement);
            assertThat(dir.resolve(old + ".graceful")).exists();
            String log = sup.log();
            assertThat(log.indexOf("Received a manual ACK from " + replacement))
                    .isLessThan(log.indexOf("Retiring sick worker " + old));
        }
    }

    @Test
    void aPingingWorkerThatGoesSilentIsReplaced() throws Exception {
        UpgradeIT.deploy(dir, "#!/bin/sh\nexec python3 " + SupervisorProcess.worker("probe.py") + "\n");
        try (var sup = SupervisorProcess.start(dir, Map.of("ACK", "1", "PING_EVERY", "0.1"), "-m", "manual",
                "--ping-timeout", "2", dir.resolve("app").toString())) {
            int old = sup.awaitAcked(1).getFirst();
            await("30 pings, three ping timeouts' worth", () -> {
                try {
                    return worker(sup, old).path("last_ping_id").asInt() >= 30;
                } catch (IOException e) {
                    return false;
                }
            });
            assertThat(worker(sup, old).path("phase").asText()).as("a pinging worker is healthy").isEqualTo("acked");
            assertThat(new ProcessBuilder("kill", "-USR1", Integer.toString(old)).start().waitFor()).isZero();
            sup.awaitLine("Worker " + old + " \\(slot 0, generation 1\\) is sick: no worker:ping for 2s");
            int replacement = Integer.parseInt(sup.awaitLine("===> Launched (\\d+)", 1).group(1));
            sup.awaitLine("Retiring sick worker " + old);
            assertThat(sup.awaitAcked(1)).containsExactly(replacement);
        }
    }

    @Test
    void checksThatHangAreTimedOutNeverPileUpAndLeaveNothingBehind() throws Exception {
        UpgradeIT.deploy(dir, "#!/bin/sh\nexec python3 " + SupervisorProcess.worker("probe.py") + "\n");
        String marker = "sleep 1007"; // the check's grandchild: the shell's own command line says ${s}7
        try (var sup = SupervisorProcess.start(dir, Map.of("ACK", "1"), "-m", "manual", "-n", "2",
                "--live-check", "echo probing $EINHORN_WORKER_PID; s=100; sleep ${s}7; true", "--live-failures", "1000",
                "--check-timeout", "0.3", "--check-interval", "0.05", dir.resolve("app").toString())) {
            List<Integer> workers = sup.awaitAcked(2);
            for (int i = 0; i < 10; i++) {
                // the limit, then how long the check ran: the loop notices the deadline a few ms late under load
                sup.awaitLine("live check failed \\(timed out after 0.3s, 0\\.3\\d*s\\): probing \\d+", i);
                assertThat(processes(marker)).as("at most one check in flight per worker").isLessThanOrEqualTo(2);
            }
            for (int pid : workers) {
                JsonNode live = worker(sup, pid).path("live_check");
                assertThat(live.path("outcome").asText()).isEqualTo("timed out after 0.3s");
                assertThat(live.path("last_line").asText()).isEqualTo("probing " + pid);
                assertThat(live.path("consecutive_failures").asInt()).isPositive();
            }
            assertThat(sup.workers(false)).as("checks are never workers").containsExactlyInAnyOrderElementsOf(workers);
            sup.signal("TERM");
            assertThat(sup.awaitExit()).isZero();
            assertThat(sup.log()).doesNotContain("Reaped unknown child");
        }
        await("no check left", () -> processes(marker) == 0);
    }
}
