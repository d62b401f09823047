package dev.einhyrningsins.supervisor;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/** Each worker timer's deadline comes from when its clock started and the current configuration. */
class WorkerTimerTest {
    static final long NEVER = WorkerTimer.NEVER;
    final Config timer = Config.defaults(2).with(Settings.Setting.ACK_TIMEOUT, Duration.ofSeconds(5)).with(Settings.Setting.SIGNAL_TIMEOUT, Duration.ofSeconds(3));

    @Test
    void anUnackedWorkerHasItsAckDelayAndAckTimeoutRunningFromItsSpawn() {
        Worker w = new Worker(1, 0, 1, 1_000, 0);
        assertThat(WorkerTimer.ACK_DELAY.dueAt(w, timer)).isEqualTo(1_000 + 1_000_000_000L);
        assertThat(WorkerTimer.ACK_TIMEOUT.dueAt(w, timer)).isEqualTo(1_000 + 5_000_000_000L);
        assertThat(WorkerTimer.KILL.dueAt(w, timer)).isEqualTo(NEVER);
        Config manual = timer.with(Settings.Setting.ACK_MODE, new Config.AckMode.Manual());
        assertThat(WorkerTimer.ACK_DELAY.dueAt(w, manual)).as("manual mode has no ack delay").isEqualTo(NEVER);
        assertThat(WorkerTimer.ACK_TIMEOUT.dueAt(w, timer.with(Settings.Setting.ACK_TIMEOUT, Duration.ZERO))).as("off").isEqualTo(NEVER);
    }

    @Test
    void anAckStopsTheAckTimers() {
        Worker w = new Worker(1, 0, 1, 1_000, 0);
        w.ack(2_000, 0);
        assertThat(WorkerTimer.ACK_DELAY.dueAt(w, timer)).isEqualTo(NEVER);
        assertThat(WorkerTimer.ACK_TIMEOUT.dueAt(w, timer)).isEqualTo(NEVER);
    }

    @Test
    void theKillRunsFromTheLastSignalAndFollowsAChangedSignalTimeout() {
        Worker w = new Worker(1, 0, 1, 1_000, 0);
        w.retire("USR2", 10_000, 0);
        assertThat(WorkerTimer.ACK_DELAY.dueAt(w, timer)).as("a retiring worker is not acked any more").isEqualTo(NEVER);
        assertThat(WorkerTimer.KILL.dueAt(w, timer)).isEqualTo(10_000 + 3_000_000_000L);
        assertThat(WorkerTimer.KILL.dueAt(w, timer.with(Settings.Setting.SIGNAL_TIMEOUT, Duration.ofSeconds(1)))).isEqualTo(10_000 + 1_000_000_000L);
        w.retire("USR2", 20_000, 0);
        assertThat(WorkerTimer.KILL.dueAt(w, timer)).isEqualTo(20_000 + 3_000_000_000L);
        w.kill(0);
        assertThat(WorkerTimer.KILL.dueAt(w, timer)).as("killed once").isEqualTo(NEVER);
    }
}
