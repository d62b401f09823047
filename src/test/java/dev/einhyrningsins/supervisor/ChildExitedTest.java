package dev.einhyrningsins.supervisor;

import static dev.einhyrningsins.supervisor.Harness.S1;
import static org.assertj.core.api.Assertions.assertThat;

import dev.einhyrningsins.supervisor.Event.ChildExited;
import dev.einhyrningsins.supervisor.Event.SignalReceived;
import dev.einhyrningsins.supervisor.Happening.SpawnReason;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * What the core decides when a worker is reaped: whether the exit was expected, whether it
 * counts as a death before ack (the backoff) or as a failure of an upgrade, what it logs,
 * what {@code state} remembers, and when a stopping supervisor is done.
 */
class ChildExitedTest {

    @SuppressWarnings("unchecked")
    static Map<String, Object> lastExit(Harness h) {
        return ((List<Map<String, Object>>) h.sup.state().get("recent_exits")).getFirst();
    }

    static Object deaths(Harness h) {
        return h.sup.state().get("consecutive_deaths_before_ack");
    }

    @Test
    void anAckedWorkerThatCrashesIsReplacedWithoutCountingADeath() {
        Harness h = Harness.manual(2);
        h.ack(100);
        h.ack(101);
        h.advance(Duration.ofSeconds(5));
        h.exit(100);
        assertThat(h.os.logs).contains("WARN Worker 100 (slot 0, generation 1) exited with status 1");
        assertThat(deaths(h)).isEqualTo(0);
        assertThat(lastExit(h)).containsEntry("pid", 100).containsEntry("slot", 0).containsEntry("generation", 1)
                .containsEntry("status", "exited with status 1").containsEntry("success", false)
                .containsEntry("acked", true).containsEntry("expected", false);
        assertThat(h.os.happened(Happening.Exited.class)).singleElement().satisfies(e -> {
            assertThat(e.expected()).isFalse();
            assertThat(e.acked()).isTrue();
            assertThat(e.code()).isEqualTo(1);
            assertThat(e.drainNanos()).as("never asked to go").isEqualTo(-1);
            assertThat(e.killed()).isFalse();
            assertThat(e.ackTimedOut()).isFalse();
        });
        assertThat(h.os.spawns).as("the last spawn was longer than an interval ago").hasSize(3);
        assertThat(h.os.happened(Happening.Spawned.class).getLast().reason()).isEqualTo(SpawnReason.REPLACE);
        assertThat(h.os.logs).noneMatch(l -> l.contains("Spawning a replacement"));
    }

    @Test
    void anUnackedWorkerThatCrashesIsADeathThatSlowsTheNextSpawn() {
        Harness h = Harness.manual(1);
        long start = h.os.now;
        h.exit(100);
        assertThat(h.os.logs).contains("WARN Worker 100 (slot 0, generation 1) exited with status 1 before it was acked");
        assertThat(deaths(h)).isEqualTo(1);
        assertThat(lastExit(h)).containsEntry("acked", false).containsEntry("expected", false);
        h.runToNextDeadline();
        assertThat(h.os.now - start).isEqualTo(Duration.ofMillis(1500).toNanos());
        assertThat(h.os.logs).contains("INFO Spawning a replacement (spawn interval 1.5s after 1 consecutive unacked worker deaths)");
        assertThat(h.os.happened(Happening.Spawned.class).getLast().reason()).isEqualTo(SpawnReason.RESTART);
    }

    @Test
    void aWorkerAskedToGoExitsAsExpectedAndIsNotReplaced() {
        Harness h = Harness.manual(2);
        h.ack(100);
        h.ack(101);
        h.cmd("dec", null);
        int retired = h.os.signalled("USR2").getFirst();
        h.advance(Duration.ofSeconds(2));
        h.handle(new ChildExited(retired, true, "exited with status 0"));
        assertThat(h.os.logs).contains("INFO Worker " + retired + " (slot 1, generation 1) exited with status 0");
        assertThat(lastExit(h)).containsEntry("success", true).containsEntry("expected", true);
        assertThat(h.os.happened(Happening.Exited.class)).singleElement().satisfies(e -> {
            assertThat(e.expected()).isTrue();
            assertThat(e.code()).isZero();
            assertThat(e.drainNanos()).isEqualTo(Duration.ofSeconds(2).toNanos());
        });
        assertThat(deaths(h)).isEqualTo(0);
        for (int i = 0; i < 5; i++) h.advance(S1);
        assertThat(h.os.spawns).hasSize(2);
        assertThat(h.os.logs).as("no upgrade runs: no old worker to report").noneMatch(l -> l.contains("Old worker"));
    }

    @Test
    void anUnackedWorkerAskedToGoIsNoDeathBeforeAck() {
        Harness h = Harness.manual(2);
        h.ack(100);
        h.cmd("dec", null);
        assertThat(h.os.signalled("USR2")).containsExactly(101);
        h.exit(101);
        assertThat(h.os.logs).contains("INFO Worker 101 (slot 1, generation 1) exited with status 1 before it was acked");
        assertThat(deaths(h)).isEqualTo(0);
    }

    @Test
    void anUnknownChildIsLoggedAndChangesNothing() {
        Harness h = Harness.timer(1);
        int happenings = h.os.happenings.size();
        h.handleUnknown(new ChildExited(4242, false, "killed by SIGKILL", true, 9));
        assertThat(h.os.logs).contains("WARN Reaped unknown child 4242 (killed by SIGKILL)");
        assertThat(h.os.happenings).hasSize(happenings);
        assertThat(h.sup.state().get("recent_exits")).isEqualTo(List.of());
        assertThat(h.os.spawns).hasSize(1);
    }

    @Test
    void theLastWorkerOfAStoppingSupervisorEndsIt() {
        Harness h = Harness.timer(2);
        h.exit(100);
        assertThat(h.os.logs).noneMatch(l -> l.contains("Last worker is gone"));
        h.runToNextDeadline();
        h.handle(new SignalReceived("TERM"));
        h.exit(101);
        assertThat(h.os.logs).noneMatch(l -> l.contains("Last worker is gone"));
        assertThat(h.sup.finished()).isFalse();
        h.exit(102);
        assertThat(h.os.logs.getLast()).isEqualTo("INFO Last worker is gone; exiting");
        assertThat(h.sup.finished()).isTrue();
    }

    // ------------------------------------------------------------------ during an upgrade

    static Harness upgrading(int n, int maxUnacked) {
        Harness h = new Harness(RolloutTest.cfg(n, maxUnacked, -1));
        for (int pid : h.pids()) h.ack(pid);
        return h;
    }

    static List<String> progress(Harness h, Object client) {
        return h.os.repliesTo(client).stream().map(FakeOs.Reply::message).toList();
    }

    @Test
    void anOldWorkerTheUpgradeRetiredIsReportedToItsFollowersWhenItExits() {
        Harness h = upgrading(2, 1);
        Object c = h.cmd("upgrade", null);
        h.ack(102);
        assertThat(h.os.signalled("USR2")).containsExactly(100);
        h.exit(100);
        assertThat(progress(h, c)).contains("Old worker 100 (slot 0) exited");
        assertThat(h.os.happened(Happening.UpgradeProgress.class)).extracting(Happening.UpgradeProgress::message)
                .contains("Old worker 100 (slot 0) exited");
    }

    @Test
    void anOldWorkerThatCrashesDuringAnUpgradeIsNeitherAFailureNorAnOldWorkerLeaving() {
        Harness h = upgrading(2, 1);
        Object c = h.cmd("upgrade", null);
        h.exit(101);
        assertThat(progress(h, c)).noneMatch(m -> m.startsWith("Old worker") || m.contains("consecutive failures"));
        assertThat(h.os.logs).contains("WARN Worker 101 (slot 1, generation 1) exited with status 1");
        assertThat(h.sup.state().get("upgrading")).isNotNull();
    }

    @Test
    void aNewWorkerThatCrashesAfterItsAckIsNoFailureOfTheUpgrade() {
        Harness h = new Harness(RolloutTest.cfg(2, 1, -1).with(Settings.Setting.UPGRADE_MAX_FAILURES, 1));
        h.ack(100);
        h.ack(101);
        Object c = h.cmd("upgrade", null);
        h.ack(102);
        h.exit(102);
        assertThat(progress(h, c)).noneMatch(m -> m.contains("consecutive failures") || m.startsWith("Old worker"));
        assertThat(h.sup.state().get("upgrading")).as("one failure would have aborted it").isNotNull();
    }

    @Test
    void aNewWorkerTheUpgradeRetiredAsSurplusIsNoOldWorker() {
        Harness h = upgrading(2, 2);
        Object c = h.cmd("upgrade", null);
        h.cmd("dec", null);
        assertThat(h.os.signalled("USR2")).as("the new surplus, and an old worker the target no longer needs")
                .containsExactly(103, 100);
        h.exit(103);
        assertThat(progress(h, c)).noneMatch(m -> m.startsWith("Old worker") || m.contains("consecutive failures"));
    }

    @Test
    void aNewWorkerThatDiesBeforeItsAckIsAFailureOfTheUpgrade() {
        Harness h = upgrading(1, 1);
        Object c = h.cmd("upgrade", null);
        h.exit(101);
        assertThat(progress(h, c)).contains("Worker 101 (slot 1) exited with status 1 before acking (1/3 consecutive failures)");
        assertThat(deaths(h)).isEqualTo(1);
    }
}
