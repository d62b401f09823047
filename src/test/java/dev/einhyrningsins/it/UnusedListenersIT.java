package dev.einhyrningsins.it;

import static dev.einhyrningsins.Await.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.einhyrningsins.observe.OpenMetrics;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The support question of every socket supervisor, answered in the log: a worker that binds
 * the port itself instead of using EINHORN_FD_0 crash-loops with EADDRINUSE; the supervisor
 * names it once per generation and counts it. A worker that keeps its sockets and crashes
 * for another reason is not named.
 */
class UnusedListenersIT {
    static final String NAMED = "exited before its ack, and it held none of the sockets it inherited";

    @TempDir
    Path dir;

    @Test
    void aWorkerThatBindsThePortItselfAndDiesOfEaddrinuseIsNamedOnceAndCounted() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/python3")), "needs /usr/bin/python3");
        try (var sup = SupervisorProcess.start(dir, Map.of(), "-n", "1", "-m", "manual",
                "-s", "0.2", "-b", "127.0.0.1:0", "/usr/bin/python3",
                SupervisorProcess.worker("binds_itself.py").toString())) {
            sup.awaitLine("OSError: \\[Errno 98\\] Address already in use");
            sup.awaitLine("WARN Worker \\d+ \\(slot 0, generation 1\\) " + NAMED + ": it does not use them, and binding the "
                    + "address itself fails with EADDRINUSE \\(the supervisor holds it\\)\\. A worker must serve the sockets "
                    + "it inherits: the descriptors in EINHORN_FD_0, EINHORN_FD_1, \\.\\.\\. \\(3, 4, \\.\\.\\. in -b order\\), "
                    + "or LISTEN_FDS with --listen-fds \\(said once per generation\\)");
            // the crash loop goes on: two more deaths before the ack, and still one line for the generation
            int deaths = (int) sup.lines().stream().filter(l -> l.contains("before it was acked")).count();
            sup.awaitLine("exited with status 1 before it was acked", deaths + 1);
            assertThat(sup.lines()).filteredOn(l -> l.contains(NAMED)).hasSize(1);

            JsonNode unused = sup.state().path("listeners_unused");
            assertThat(unused.path("workers").asInt()).isPositive();
            assertThat(unused.path("generations").toString()).isEqualTo("[1]");
            OpenMetrics m = OpenMetrics.parse(sup.command("metrics"));
            assertThat(m.value("einhyrningsins_workers_without_listeners_total", "when", "before_ack")).isPositive();
            assertThat(m.value("einhyrningsins_workers_without_listeners_total", "when", "acked")).isZero();
            sup.signal("TERM");
            assertThat(sup.awaitExit()).isZero();
        }
    }

    @Test
    void aWorkerThatKeepsItsSocketsAndCrashesIsNotNamed() throws Exception {
        try (var sup = SupervisorProcess.start(dir, Map.of(), "-n", "1", "-m", "manual", "-s", "0.2",
                "-b", "127.0.0.1:0", "/bin/sh", "-c", "sleep 0.3; exit 3")) {
            sup.awaitLine("exited with status 3 before it was acked", 1);
            assertThat(sup.lines()).noneMatch(l -> l.contains("sockets it inherited"));
            await("a worker seen holding its socket", () -> {
                try {
                    JsonNode w = sup.state().path("workers").path(0);
                    return w.path("holds_listeners").asBoolean(false);
                } catch (java.io.IOException e) {
                    return false;
                }
            });
            assertThat(sup.state().path("listeners_unused").path("workers").asInt()).isZero();
            sup.signal("TERM");
            assertThat(sup.awaitExit()).isZero();
        }
    }
}
