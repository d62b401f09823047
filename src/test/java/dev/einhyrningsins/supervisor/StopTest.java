package dev.einhyrningsins.supervisor;

import static dev.einhyrningsins.supervisor.Harness.S1;
import static org.assertj.core.api.Assertions.assertThat;

import dev.einhyrningsins.supervisor.Config.AckMode;
import dev.einhyrningsins.supervisor.Event.SignalReceived;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Stopping: TERM/INT/die, escalation to process groups, signal timeout. */
class StopTest {
    @Test
    void termSendsTheGracefulSignalStopsRespawningAndFinishesWhenAllAreGone() {
        Harness h = Harness.timer(2);
        h.handle(new SignalReceived("TERM"));
        assertThat(h.os.signalled("USR2")).containsExactly(100, 101);
        h.exit(100);
        assertThat(h.sup.finished()).isFalse();
        h.advance(Duration.ofSeconds(60));
        assertThat(h.os.spawns).hasSize(2);
        h.exit(101);
        assertThat(h.sup.finished()).isTrue();
    }

    @Test
    void secondInterruptEscalatesToTermOnProcessGroups() {
        Harness h = Harness.timer(2);
        h.handle(new SignalReceived("INT"));
        h.handle(new SignalReceived("INT"));
        assertThat(h.os.signals).contains(new FakeOs.Sig(100, "TERM", true), new FakeOs.Sig(101, "TERM", true));
    }

    @Test
    void signalTimeoutKillsStragglers() {
        Config cfg = new Config(1, S1, new AckMode.Timer(S1), Duration.ZERO, Duration.ofSeconds(3), "USR2",
                4, -1, Duration.ofSeconds(120), 3, 1);
        Harness h = new Harness(cfg);
        h.handle(new SignalReceived("TERM"));
        h.advance(Duration.ofMillis(2999));
        assertThat(h.os.signalled("KILL")).isEmpty();
        h.runToNextDeadline();
        assertThat(h.os.signalled("KILL")).containsExactly(100);
    }

    @Test
    void dieWithoutArgsUsesTheGracefulSignal() {
        Harness h = Harness.timer(1);
        Object c = h.cmd("die", null);
        assertThat(h.last(c)).isEqualTo("Einhorn is going down! Sent USR2 to 1 worker.");
        Object d = h.cmd("die", List.of("sigterm"));
        assertThat(h.last(d)).contains("already going down");
        h.exit(100);
        assertThat(h.sup.finished()).isTrue();
    }

    @Test
    void dieWithASignal() {
        Harness h = Harness.timer(2);
        h.cmd("die", List.of("term"));
        assertThat(h.os.signalled("TERM")).containsExactly(100, 101);
    }
}
