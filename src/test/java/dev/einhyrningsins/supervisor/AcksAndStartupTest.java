package dev.einhyrningsins.supervisor;

import static dev.einhyrningsins.supervisor.Harness.S1;
import static org.assertj.core.api.Assertions.assertThat;

import dev.einhyrningsins.supervisor.Config.AckMode;
import dev.einhyrningsins.supervisor.Event.Command;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** Start-up: all workers at once in distinct slots; readiness by timer or by worker:ack. */
class AcksAndStartupTest {
    @Test
    void spawnsAllWorkersAtOnceInDistinctSlots() {
        Harness h = Harness.timer(3);
        assertThat(h.os.spawns).extracting(FakeOs.Spawn::slot).containsExactly(0, 1, 2);
        assertThat(h.os.spawns).extracting(FakeOs.Spawn::generation).containsOnly(1);
    }

    @Test
    void timerAckAfterTheDelayOnly() {
        Harness h = Harness.timer(1);
        h.advance(Duration.ofMillis(999));
        assertThat(h.workers().getFirst().get("acked")).isEqualTo(false);
        h.advance(Duration.ofMillis(1));
        assertThat(h.workers().getFirst().get("acked")).isEqualTo(true);
    }

    @Test
    void manualModeNeedsWorkerAckWithIntOrStringPid() {
        Harness h = Harness.manual(2);
        h.advance(Duration.ofSeconds(10));
        assertThat(h.workers()).extracting(w -> w.get("acked")).containsOnly(false);
        h.ack(100);
        h.handle(new Command("worker:ack", null, "101", null, null, false, new Object()));
        assertThat(h.workers()).extracting(w -> w.get("acked")).containsOnly(true);
    }

    @Test
    void zeroTimerAcksAtTheNextTickWithoutBusyLooping() {
        Harness h = new Harness(Config.defaults(4).with(Settings.Setting.NUMBER, 2).with(Settings.Setting.ACK_MODE, new AckMode.Timer(Duration.ZERO)));
        assertThat(h.workers()).extracting(w -> w.get("acked")).containsOnly(false);
        // the shell polls with a timeout of 0 for a deadline that has passed: one tick, no clock change
        assertThat(h.sup.nextDeadline()).isEqualTo(h.os.now);
        h.sup.tick();
        assertThat(h.workers()).extracting(w -> w.get("acked")).containsOnly(true);
        assertThat(h.sup.nextDeadline()).isEqualTo(Long.MAX_VALUE);
        // a replacement is acked as soon as it is spawned, too
        h.exit(100);
        h.runToNextDeadline();
        assertThat(h.os.spawns).hasSize(3);
        assertThat(h.sup.nextDeadline()).isEqualTo(h.os.now);
        h.sup.tick();
        assertThat(h.workers()).extracting(w -> w.get("acked")).containsOnly(true);
        assertThat(h.sup.nextDeadline()).isEqualTo(Long.MAX_VALUE);
    }

    @Test
    void timerModeIgnoresManualAcks() {
        Harness h = Harness.timer(1);
        h.ack(100);
        assertThat(h.workers().getFirst().get("acked")).isEqualTo(false);
        assertThat(h.os.logs).anyMatch(l -> l.contains("Ignoring ACK"));
    }

    static Harness notify(int n) {
        return new Harness(Config.defaults(4).with(Settings.Setting.NUMBER, n)
                .with(Settings.Setting.ACK_MODE, new Config.AckMode.Notify()));
    }

    @Test
    void notifyModeAcksOnReadyKeepsTheStatusAndAcceptsWorkerAckToo() {
        Harness h = notify(2);
        h.handle(new Event.WorkerNotified(100, false, false, "warming up"));
        assertThat(h.workers().getFirst().get("acked")).isEqualTo(false);
        assertThat(h.workers().getFirst().get("status")).isEqualTo("warming up");
        h.handle(new Event.WorkerNotified(100, true, false, "serving"));
        h.ack(101);
        assertThat(h.workers()).extracting(w -> w.get("acked")).containsExactly(true, true);
        assertThat(h.workers().getFirst().get("status")).isEqualTo("serving");
        assertThat(h.os.logs).anyMatch(l -> l.contains("Worker 100 is ready (READY=1)"));
    }

    @Test
    void readyIsNotAnAckOutsideNotifyModeButStatusIsKept() {
        Harness h = Harness.manual(1);
        h.handle(new Event.WorkerNotified(100, true, false, "up"));
        assertThat(h.workers().getFirst().get("acked")).isEqualTo(false);
        assertThat(h.workers().getFirst().get("status")).isEqualTo("up");
    }

    @Test
    void stoppingTakesTheWorkerOutOfTheCountWithoutASignalAndAReplacementStarts() {
        Harness h = notify(1);
        h.handle(new Event.WorkerNotified(100, true, false, null));
        h.handle(new Event.WorkerNotified(100, false, true, null));
        assertThat(h.os.signals).isEmpty();
        assertThat(h.workers().getFirst().get("said_stopping")).isEqualTo(true);
        h.advance(Duration.ofSeconds(1));
        assertThat(h.os.spawns).hasSize(2);
        h.handleUnknown(new Event.WorkerNotified(999, true, true, "not ours"));
        assertThat(h.os.spawns).hasSize(2);
    }
}
