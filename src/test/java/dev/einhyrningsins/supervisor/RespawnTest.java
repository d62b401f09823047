package dev.einhyrningsins.supervisor;

import static dev.einhyrningsins.supervisor.Harness.S1;
import static org.assertj.core.api.Assertions.assertThat;

import dev.einhyrningsins.supervisor.Config.AckMode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Respawns: lowest free slot, backoff x1.5 per death before ack, capped; acks reset it. */
class RespawnTest {
    @Test
    void crashedWorkerIsReplacedInTheLowestFreeSlot() {
        Harness h = Harness.timer(3);
        h.advance(Duration.ofSeconds(2));
        h.exit(101);
        assertThat(h.os.spawns).hasSize(4);
        assertThat(h.os.spawns.getLast().slot()).isEqualTo(1);
    }

    @Test
    void backoffGrowsByOneAndAHalfPerUnackedDeathAndCapsAtThirtySeconds() {
        Harness h = Harness.timer(1);
        List<Long> gaps = new ArrayList<>();
        long lastSpawn = h.os.now;
        for (int i = 0; i < 12; i++) {
            h.exit(h.lastPid());
            int before = h.os.spawns.size();
            while (h.os.spawns.size() == before) h.runToNextDeadline();
            gaps.add(h.os.now - lastSpawn);
            lastSpawn = h.os.now;
        }
        assertThat(gaps.get(0)).isEqualTo(1_500_000_000L);
        assertThat(gaps.get(1)).isEqualTo(2_250_000_000L);
        assertThat(gaps.get(2)).isEqualTo(3_375_000_000L);
        assertThat(gaps.getLast()).isEqualTo(30_000_000_000L);
    }

    @Test
    void anAckResetsTheBackoff() {
        Harness h = Harness.timer(1);
        h.exit(100);
        h.runToNextDeadline();
        assertThat(h.sup.state().get("consecutive_deaths_before_ack")).isEqualTo(1);
        h.advance(S1); // timer ack of the replacement
        assertThat(h.sup.state().get("consecutive_deaths_before_ack")).isEqualTo(0);
    }

    @Test
    void spawnFailureBacksOffInsteadOfStorming() {
        Harness h = Harness.timer(1);
        h.os.failSpawns = true;
        h.exit(100);
        for (int i = 0; i < 5; i++) h.runToNextDeadline();
        assertThat(h.sup.state().get("consecutive_deaths_before_ack")).isEqualTo(6);
        assertThat(h.os.now - 1_000_000_000L).isGreaterThan(Duration.ofSeconds(10).toNanos());
    }

    @Test
    void ackTimeoutRetiresTheWorkerAndCountsAFailure() {
        Config cfg = new Config(1, S1, new AckMode.Manual(), Duration.ofSeconds(5), Duration.ZERO, "USR2",
                4, -1, Duration.ofSeconds(120), 3, 1);
        Harness h = new Harness(cfg);
        h.advance(Duration.ofSeconds(5));
        assertThat(h.os.signalled("USR2")).containsExactly(100);
        assertThat(h.sup.state().get("consecutive_deaths_before_ack")).isEqualTo(1);
        assertThat(h.os.spawns).hasSize(2); // replacement, not waiting for the failed one to exit
        h.exit(100); // its exit is expected now: no double count
        assertThat(h.sup.state().get("consecutive_deaths_before_ack")).isEqualTo(1);
    }

    @Test
    void replacementsWaitWhileMaxUnackedWorkersAreUnacked() {
        Harness h = new Harness(Config.defaults(1).with(Settings.Setting.ACK_MODE, new AckMode.Manual()));
        h.ack(100);
        h.cmd("set_workers", List.of("3"));
        h.runToNextDeadline();
        assertThat(h.pids()).containsExactly(100, 101);
        assertThat(h.sup.nextDeadline()).as("nothing to wait for but an ack").isEqualTo(Long.MAX_VALUE);
        assertThat(h.sup.nanosToNextDeadline()).isEqualTo(Long.MAX_VALUE);
        h.advance(Duration.ofSeconds(10));
        assertThat(h.pids()).containsExactly(100, 101);
        h.ack(101);
        assertThat(h.pids()).as("the interval has long passed").containsExactly(100, 101, 102);
    }

    @Test
    void theShellSleepsUntilTheNextDeadlineOnTheCoresClock() {
        Harness h = Harness.timer(1);
        assertThat(h.sup.nanosToNextDeadline()).isEqualTo(S1.toNanos());
        h.advance(Duration.ofMillis(400));
        assertThat(h.sup.nanosToNextDeadline()).isEqualTo(Duration.ofMillis(600).toNanos());
        h.os.advance(Duration.ofSeconds(2)); // the loop overslept
        assertThat(h.sup.nanosToNextDeadline()).isZero();
        h.sup.tick();
        assertThat(h.sup.nanosToNextDeadline()).isEqualTo(Long.MAX_VALUE);
    }

    @Test
    void aSpawnThatFailsIsToldAndNoWorkerIsRecorded() {
        Harness h = new Harness(Config.defaults(1), failing());
        assertThat(h.os.happened(Happening.SpawnFailed.class)).containsExactly(
                new Happening.SpawnFailed(1, "/srv/app: No such file or directory"));
        assertThat(h.os.happened(Happening.Spawned.class)).isEmpty();
        assertThat(h.workers()).isEmpty();
    }

    static FakeOs failing() {
        FakeOs os = new FakeOs();
        os.failSpawns = true;
        return os;
    }
}
