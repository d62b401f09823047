package dev.einhyrningsins.it;

import static dev.einhyrningsins.Await.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The supervisor as a container's entrypoint: PID 1 of a pid namespace
 * ({@code unshare --pid --fork --mount-proc}, as root), or a child subreaper. Orphans of the
 * workers are re-parented to it and must be reaped without touching the workers; the kernel
 * drops signals to PID 1 that have no handler, so every documented signal is checked there.
 * Pids in the supervisor's namespace (what {@code state} shows) are mapped to ours through
 * /proc ({@link Procfs}).
 */
class Pid1IT {
    @TempDir
    Path dir;

    /** How orphans come to be re-parented to the supervisor. */
    enum Adopter {
        /** PID 1 of a new pid namespace; --kill-child so nothing outlives a failed test. */
        PID1("Running as PID 1", "unshare", "--pid", "--fork", "--mount-proc", "--kill-child"),
        /** prctl(PR_SET_CHILD_SUBREAPER) by the program that exec'd the supervisor. */
        SUBREAPER("Running as a child subreaper", SupervisorProcess.worker("subreaper.py").toString());

        final String logLine;
        final List<String> prefix;

        Adopter(String logLine, String... prefix) {
            this.logLine = logLine;
            this.prefix = List.of(prefix);
        }
    }

    static void assumeRoot() {
        assumeTrue("root".equals(System.getProperty("user.name")), "needs root for a pid namespace");
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/unshare")) && Files.isExecutable(Path.of("/usr/bin/nsenter")),
                "needs unshare and nsenter (util-linux)");
    }

    SupervisorProcess start(Adopter how, Map<String, String> env, String... args) throws IOException {
        List<String> launch = new ArrayList<>(how.prefix);
        launch.addAll(List.of(SupervisorProcess.java(), "-jar", SupervisorProcess.jar().toString()));
        return SupervisorProcess.launch(launch, dir, env, args);
    }

    /** The supervisor's pid here: unshare's child in a namespace, else the started process itself. */
    static long supervisorPid(SupervisorProcess sup, Adopter how) throws InterruptedException {
        if (how != Adopter.PID1) return sup.pid();
        long[] pid = new long[1];
        await("unshare's child", () -> {
            Map<Long, Long> c = Procfs.children(sup.pid());
            if (c.size() != 1) return false;
            pid[0] = c.values().iterator().next();
            return true;
        });
        assertThat(Procfs.nsPid(pid[0])).isEqualTo(1);
        return pid[0];
    }

    /** Sends {@code signal} from inside the supervisor's pid namespace, to its PID 1. */
    static void killFromInside(long supervisor, String signal) throws Exception {
        Process p = new ProcessBuilder("nsenter", "--target", Long.toString(supervisor), "--pid", "--",
                "kill", "-" + signal, "1").inheritIO().start();
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as("nsenter … kill -%s 1", signal).isZero();
    }

    long orphansStarted() {
        try {
            return Files.readAllLines(dir.resolve("orphans")).stream().filter(l -> !l.isBlank()).count();
        } catch (IOException e) {
            return 0; // none yet
        }
    }

    /** True when the supervisor's children are exactly {@code workers} (namespace pids), none of them a zombie. */
    static boolean onlyWorkersAsChildren(long supervisor, List<Integer> workers) {
        Map<Long, Long> children = Procfs.children(supervisor);
        Set<Long> expected = new HashSet<>();
        for (int w : workers) expected.add((long) w);
        return children.keySet().equals(expected) && children.values().stream().noneMatch(Procfs::dead);
    }

    @ParameterizedTest
    @EnumSource(Adopter.class)
    void orphansAreReapedWorkersStayOursAndTermLeavesNothing(Adopter how) throws Exception {
        assumeRoot();
        try (var sup = start(how, Map.of("ORPHANS", "10"), "-n", "2", "-m", "0",
                SupervisorProcess.worker("orphans.sh").toString())) {
            long supervisor = supervisorPid(sup, how);
            sup.awaitLine(how.logLine);
            List<Integer> workers = sup.awaitAcked(2);
            // each worker left 10 orphans that exited with status 7: all reaped, none taken for a worker
            await("20 orphans started", () -> orphansStarted() == 20);
            await("the workers as the only children, no zombies", () -> onlyWorkersAsChildren(supervisor, workers));
            assertThat(sup.workers(false)).containsExactlyInAnyOrderElementsOf(workers);
            assertThat(sup.state().path("recent_exits")).isEmpty();
            assertThat(sup.log()).doesNotContain("status 7");

            // a worker's own exit still reaches the core, with its status, and it is replaced
            long victim = Procfs.children(supervisor).get((long) workers.getFirst());
            SupervisorProcess.kill("KILL", victim);
            sup.awaitLine("Worker " + workers.getFirst() + " \\(.*killed by SIGKILL");
            await("the replacement's orphans", () -> orphansStarted() == 30);
            List<Integer> now = sup.awaitAcked(2);
            assertThat(now).contains(workers.get(1)).doesNotContain(workers.getFirst());
            await("the workers as the only children, no zombies", () -> onlyWorkersAsChildren(supervisor, now));
            JsonNode exits = sup.state().path("recent_exits");
            assertThat(exits).hasSize(1);
            assertThat(exits.get(0).path("pid").asInt()).isEqualTo(workers.getFirst());
            assertThat(exits.get(0).path("status").asText()).isEqualTo("killed by SIGKILL");

            // TERM: exit 0, nothing left
            List<Long> left = List.copyOf(Procfs.children(supervisor).values());
            assertThat(left).hasSize(2);
            SupervisorProcess.kill("TERM", supervisor);
            assertThat(sup.awaitExit()).as(sup.log()).isZero();
            assertThat(left).allMatch(p -> Procfs.state(p) == null);
            assertThat(Procfs.state(supervisor)).isNull();
            assertThat(sup.socket).doesNotExist();
            assertThat(sup.log()).doesNotContain("status 7");
        }
    }

    /** Health checks are children of the supervisor too: the orphan reaper hands their exits back instead of taking them. */
    @ParameterizedTest
    @EnumSource(Adopter.class)
    void healthChecksAreNotTakenForOrphans(Adopter how) throws Exception {
        assumeRoot();
        // -v: a check taken for an orphan would be logged as "Reaped orphan" (debug)
        try (var sup = start(how, Map.of(), "-v", "-n", "2", "-m", "0", "--live-check", "true", "--check-interval", "0.05",
                "--check-timeout", "2", "sleep", "3600")) {
            long supervisor = supervisorPid(sup, how);
            sup.awaitLine(how.logLine);
            sup.awaitAcked(2);
            await("20 live checks passed", () -> {
                try {
                    return metric(sup.command("metrics"), "einhyrningsins_checks_total{kind=\"live\",result=\"passed\"}") >= 20;
                } catch (IOException e) {
                    return false;
                }
            });
            assertThat(metric(sup.command("metrics"), "einhyrningsins_checks_total{kind=\"live\",result=\"failed\"}"))
                    .as(sup.log()).isZero();
            for (JsonNode w : sup.state().path("workers")) assertThat(w.path("phase").asText()).isEqualTo("acked");
            assertThat(sup.log()).doesNotContain("Reaped orphan");
            // stopped here, not by close(): unshare passes no TERM on, close() would wait for its timeout
            SupervisorProcess.kill("TERM", supervisor);
            assertThat(sup.awaitExit()).as(sup.log()).isZero();
        }
    }

    /** A sample's value in OpenMetrics text; 0 if it is not there. */
    static double metric(String text, String sample) {
        for (String line : text.split("\n")) {
            if (line.startsWith(sample + " ")) return Double.parseDouble(line.substring(sample.length() + 1));
        }
        return 0;
    }

    /** TERM and INT from outside the namespace (docker stop, Ctrl-C), USR2 from inside it (kubectl exec … kill): a graceful stop, exit 0. */
    @ParameterizedTest
    @ValueSource(strings = {"TERM", "INT", "USR2"})
    void stopSignalsAsPid1DrainTheWorkersAndExitZero(String signal) throws Exception {
        assumeRoot();
        // USR2 reaches the supervisor only with HotSpot's own use of it moved away, as the launchers do
        try (var sup = start(Adopter.PID1, Map.of("_JAVA_SR_SIGNUM", "40"), "-n", "2", "-m", "0",
                SupervisorProcess.worker("probe.py").toString())) {
            long supervisor = supervisorPid(sup, Adopter.PID1);
            List<Integer> workers = sup.awaitAcked(2);
            await("probe reports", () -> workers.stream().allMatch(w -> Files.exists(dir.resolve(w + ".json"))));
            List<Long> hostPids = List.copyOf(Procfs.children(supervisor).values());
            if (signal.equals("USR2")) {
                killFromInside(supervisor, signal);
            } else {
                SupervisorProcess.kill(signal, supervisor);
            }
            assertThat(sup.awaitExit()).as(sup.log()).isZero();
            for (int w : workers) assertThat(dir.resolve(w + ".graceful")).as("worker %d drained", w).exists();
            assertThat(hostPids).allMatch(p -> Procfs.state(p) == null);
            assertThat(sup.socket).doesNotExist();
        }
    }

    /** TTIN, TTOU, HUP and QUIT behave as they do elsewhere, sent from inside the namespace or from outside. */
    @Test
    void otherSignalsAsPid1BehaveAsElsewhere() throws Exception {
        assumeRoot();
        try (var sup = start(Adopter.PID1, Map.of(), "-n", "2", "-m", "0", "sleep", "3600")) {
            long supervisor = supervisorPid(sup, Adopter.PID1);
            List<Integer> first = sup.awaitAcked(2);

            SupervisorProcess.kill("TTIN", supervisor);
            assertThat(sup.awaitAcked(3)).containsAll(first);
            killFromInside(supervisor, "TTOU");
            sup.awaitAcked(2);

            killFromInside(supervisor, "HUP");
            sup.awaitLine("Upgraded successfully to generation 2");
            assertThat(sup.awaitAcked(2)).doesNotContainAnyElementsOf(first);

            // QUIT belongs to the JVM: a thread dump on stdout, and the supervisor carries on
            SupervisorProcess.kill("QUIT", supervisor);
            await("a thread dump", () -> {
                try {
                    return Files.readString(dir.resolve("stdout.log")).contains("Full thread dump");
                } catch (IOException e) {
                    return false;
                }
            });
            assertThat(sup.command("ehlo")).isNotEmpty();

            killFromInside(supervisor, "TERM");
            assertThat(sup.awaitExit()).as(sup.log()).isZero();
        }
    }
}
