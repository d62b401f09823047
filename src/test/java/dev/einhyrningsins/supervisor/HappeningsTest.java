package dev.einhyrningsins.supervisor;

import static org.assertj.core.api.Assertions.assertThat;

import dev.einhyrningsins.supervisor.Event.ChildExited;
import dev.einhyrningsins.supervisor.Event.SignalReceived;
import dev.einhyrningsins.supervisor.Happening.SignalReason;
import dev.einhyrningsins.supervisor.Happening.SpawnReason;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** What the core tells the world: every decision shows up once, with what listeners need. */
class HappeningsTest {

    @Test
    void aWorkersLifeFromSpawnToReap() {
        Harness h = Harness.timer(1);
        h.advance(Duration.ofMillis(1500));
        int pid = h.pids().getFirst();
        assertThat(h.os.happened(Happening.Spawned.class))
                .containsExactly(new Happening.Spawned(pid, 0, 1, SpawnReason.START));
        assertThat(h.os.happened(Happening.Acked.class)).singleElement()
                .satisfies(a -> assertThat(a.latencyNanos()).isEqualTo(Duration.ofMillis(1500).toNanos()));

        h.handle(new ChildExited(pid, false, "killed by SIGSEGV", true, 11));
        assertThat(h.os.happened(Happening.Exited.class)).singleElement().satisfies(e -> {
            assertThat(e.bySignal()).isTrue();
            assertThat(e.code()).isEqualTo(11);
            assertThat(e.expected()).isFalse();
            assertThat(e.drainNanos()).isEqualTo(-1);
        });
        h.advance(Duration.ofSeconds(1));
        assertThat(h.os.happened(Happening.Spawned.class)).last().extracting(Happening.Spawned::reason)
                .isEqualTo(SpawnReason.REPLACE);
    }

    @Test
    void theFirstLaunchIsAllStarts() {
        Harness h = Harness.timer(3);
        assertThat(h.os.happened(Happening.Spawned.class)).extracting(Happening.Spawned::reason)
                .containsExactly(SpawnReason.START, SpawnReason.START, SpawnReason.START);
    }

    @Test
    void aReplacementForAWorkerThatDiedBeforeItsAckIsARestartPacedByTheBackoff() {
        Harness h = Harness.manual(1);
        h.exit(h.pids().getFirst());
        h.runToNextDeadline();
        assertThat(h.os.happened(Happening.Spawned.class)).extracting(Happening.Spawned::reason)
                .containsExactly(SpawnReason.START, SpawnReason.RESTART);
        h.ack(h.lastPid());
        h.cmd("inc", null);
        h.runToNextDeadline();
        assertThat(h.os.happened(Happening.Spawned.class)).last().extracting(Happening.Spawned::reason)
                .as("an ack ended the streak: an added worker is no restart").isEqualTo(SpawnReason.REPLACE);
    }

    @Test
    void statusTellsWhenTheServiceIsReadyAndWhenItStops() {
        Harness h = Harness.manual(2);
        assertThat(h.os.happened(Happening.Status.class).getLast().ready()).isFalse();
        h.ack(h.pids().get(0));
        assertThat(h.os.happened(Happening.Status.class).getLast().ready()).isFalse();
        h.ack(h.pids().get(1));
        Happening.Status up = h.os.happened(Happening.Status.class).getLast();
        assertThat(up).isEqualTo(new Happening.Status(2, 2, 2, 1, false, false, true));
        int count = h.os.happened(Happening.Status.class).size();
        h.advance(Duration.ofSeconds(5));
        assertThat(h.os.happened(Happening.Status.class)).as("nothing changed, nothing said").hasSize(count);

        h.handle(new SignalReceived("TERM"));
        assertThat(h.os.happened(Happening.Stopping.class)).containsExactly(new Happening.Stopping("USR2"));
        assertThat(h.os.happened(Happening.Signalled.class)).extracting(Happening.Signalled::reason)
                .containsOnly(SignalReason.STOP);
        assertThat(h.os.happened(Happening.Status.class).getLast().stopping()).isTrue();
    }

    @Test
    void anUpgradeStartsProgressesAndEndsWithItsDuration() {
        Harness h = Harness.manual(1);
        h.ack(h.pids().getFirst());
        Object client = h.cmd("upgrade", null);
        h.advance(Duration.ofSeconds(2));
        h.ack(h.lastPid());
        assertThat(h.os.happened(Happening.UpgradeStarted.class)).containsExactly(new Happening.UpgradeStarted(2, false, 1));
        assertThat(h.os.happened(Happening.UpgradeProgress.class)).extracting(Happening.UpgradeProgress::message)
                .contains("Worker " + h.lastPid() + " (slot 1) acked: 1/1 acked");
        assertThat(h.os.happened(Happening.UpgradeEnded.class)).singleElement().satisfies(e -> {
            assertThat(e.outcome()).isEqualTo("done");
            assertThat(e.durationNanos()).isEqualTo(Duration.ofSeconds(2).toNanos());
        });
        assertThat(h.os.happened(Happening.Spawned.class)).last().extracting(Happening.Spawned::reason)
                .isEqualTo(SpawnReason.UPGRADE);
        assertThat(h.os.repliesTo(client).getLast().message()).isEqualTo("Upgrade done");
    }

    @Test
    void killsAckTimeoutsAndDrainTimesAreTold() {
        Harness h = new Harness(Config.defaults(2).with(Settings.Setting.ACK_MODE, new Config.AckMode.Manual())
                .with(Settings.Setting.ACK_TIMEOUT, Duration.ofSeconds(3))
                .with(Settings.Setting.SIGNAL_TIMEOUT, Duration.ofSeconds(2)));
        int pid = h.pids().getFirst();
        h.advance(Duration.ofSeconds(3));
        h.advance(Duration.ofSeconds(2));
        assertThat(h.os.happened(Happening.Signalled.class)).extracting(Happening.Signalled::reason)
                .containsExactly(SignalReason.RETIRE, SignalReason.KILL);
        h.advance(Duration.ofSeconds(1));
        h.exit(pid);
        Happening.Exited e = h.os.happened(Happening.Exited.class).getFirst();
        assertThat(List.of(e.expected(), e.killed(), e.ackTimedOut())).containsExactly(true, true, true);
        assertThat(e.drainNanos()).isEqualTo(Duration.ofSeconds(3).toNanos());
    }

    @Test
    void configChangesAreTold() {
        Harness h = Harness.timer(1);
        h.cmd("config", List.of("seconds=2"));
        assertThat(h.os.happened(Happening.ConfigChanged.class))
                .containsExactly(new Happening.ConfigChanged(List.of("seconds=2 (was 1)")));
    }

    @Test
    void statusesAreEqualExactlyWhenEveryComponentIs() {
        Happening.Status base = new Happening.Status(2, 3, 1, 4, false, false, false);
        assertThat(new Happening.Status(2, 3, 1, 4, false, false, false)).isEqualTo(base).hasSameHashCodeAs(base);
        assertThat(List.of(new Happening.Status(9, 3, 1, 4, false, false, false),
                new Happening.Status(2, 9, 1, 4, false, false, false),
                new Happening.Status(2, 3, 9, 4, false, false, false),
                new Happening.Status(2, 3, 1, 9, false, false, false),
                new Happening.Status(2, 3, 1, 4, true, false, false),
                new Happening.Status(2, 3, 1, 4, false, true, false),
                new Happening.Status(2, 3, 1, 4, false, false, true)))
                .allSatisfy(other -> assertThat(other).isNotEqualTo(base))
                .doesNotHaveDuplicates();
        assertThat(base).isNotEqualTo(null).isNotEqualTo("status");
    }
}
