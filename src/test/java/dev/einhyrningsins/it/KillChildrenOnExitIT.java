package dev.einhyrningsins.it;

import static dev.einhyrningsins.Await.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code -k/--kill-children-on-exit}: workers get the graceful signal from the kernel when the
 * supervisor dies without a chance to stop them (SIGKILL here, as the OOM killer sends).
 * Without it they keep running, as under einhorn.
 */
class KillChildrenOnExitIT {
    @TempDir
    Path dir;

    /** Worker pids to SIGKILL after the test: a killed supervisor cannot stop them. */
    private final List<Long> workers = new ArrayList<>();

    @AfterEach
    void killWorkers() throws Exception {
        for (long pid : workers) {
            if (!Procfs.dead(pid)) SupervisorProcess.kill("KILL", pid);
        }
    }

    static void assumeSetpriv() {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/setpriv")), "needs setpriv (util-linux)");
    }

    /** Starts {@code n} probe workers, then SIGKILLs the supervisor; returns the workers' reports. */
    List<JsonNode> killSupervisorUnder(int n, Map<String, String> env, String... options) throws Exception {
        List<String> args = new ArrayList<>(List.of("-n", Integer.toString(n), "-m", "0"));
        args.addAll(List.of(options));
        args.add(SupervisorProcess.worker("probe.py").toString());
        try (var sup = SupervisorProcess.start(dir, env, args.toArray(String[]::new))) {
            List<Integer> pids = sup.awaitAcked(n);
            pids.forEach(p -> workers.add((long) p));
            await("probe reports", () -> pids.stream().allMatch(p -> Files.exists(dir.resolve(p + ".json"))));
            List<JsonNode> reports = new ArrayList<>();
            for (int p : pids) reports.add(SupervisorProcess.readJson(dir.resolve(p + ".json")));
            sup.process.destroyForcibly(); // SIGKILL
            assertThat(sup.process.waitFor(30, TimeUnit.SECONDS)).isTrue();
            assertThat(sup.process.exitValue()).isEqualTo(128 + 9);
            return reports;
        }
    }

    @Test
    void withKEveryWorkerGetsTheGracefulSignalWhenTheSupervisorIsKilled() throws Exception {
        assumeSetpriv();
        List<JsonNode> reports = killSupervisorUnder(3, Map.of(), "-k");
        for (JsonNode r : reports) assertThat(r.path("pdeathsig").asInt()).isEqualTo(12); // USR2
        await("every worker gone", () -> workers.stream().allMatch(Procfs::dead));
        for (long pid : workers) assertThat(dir.resolve(pid + ".graceful")).as("worker %d drained", pid).exists();
    }

    @Test
    void theParentDeathSignalIsTheGracefulSignal() throws Exception {
        assumeSetpriv();
        List<JsonNode> reports = killSupervisorUnder(1, Map.of("GRACEFUL_SIGNAL", "TERM"),
                "--kill-children-on-exit", "--graceful-signal", "TERM");
        assertThat(reports.getFirst().path("pdeathsig").asInt()).isEqualTo(15);
        await("the worker gone", () -> workers.stream().allMatch(Procfs::dead));
        assertThat(dir.resolve(workers.getFirst() + ".graceful")).exists();
    }

    @Test
    void withoutKWorkersOutliveAKilledSupervisorAsUnderEinhorn() throws Exception {
        List<JsonNode> reports = killSupervisorUnder(2, Map.of());
        for (JsonNode r : reports) assertThat(r.path("pdeathsig").asInt()).isZero();
        // the supervisor has been reaped, so any parent-death signal would already have been sent
        assertThat(workers).noneMatch(Procfs::dead);
        for (long pid : workers) assertThat(dir.resolve(pid + ".graceful")).doesNotExist();
    }

    @Test
    void withoutSetprivKIsOneLineAndExitOne() throws Exception {
        SupervisorProcess.Result r = SupervisorProcess.runToExit(dir, Map.of("PATH", dir.toString()),
                "-k", "-d", dir.resolve("ctl.sock").toString(), "-b", "127.0.0.1:0", "/bin/sleep", "60");
        assertThat(r.status()).isEqualTo(1);
        assertThat(r.stderr().strip().lines()).hasSize(1);
        assertThat(r.stderr()).contains("-k needs setpriv (util-linux 2.33 or later)").contains("not found in PATH");
        try (var files = Files.list(dir)) {
            assertThat(files).isEmpty();
        }
    }
}
