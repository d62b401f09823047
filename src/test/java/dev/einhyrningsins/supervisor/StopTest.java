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

    @Test
    void dieRefusesABadSignalAndStopsNothing() {
        Harness h = Harness.timer(1);
        Object bad = h.cmd("die", List.of("BOGUS"));
        assertThat(h.os.repliesTo(bad)).containsExactly(new FakeOs.Reply(bad, "Invalid signal: \"BOGUS\"", true, false));
        assertThat(h.last(h.cmd("die", "TERM"))).isEqualTo("Args must be an array");
        assertThat(h.last(h.cmd("die", List.of()))).as("no signal given: the graceful one")
                .isEqualTo("Einhorn is going down! Sent USR2 to 1 worker.");
        assertThat(h.os.signalled("USR2")).containsExactly(100);
    }

    @Test
    void dieCountsTheWorkersItSignalsAndRefusesToStopTwice() {
        Harness h = Harness.timer(2);
        assertThat(h.last(h.cmd("die", List.of("SIGINT", "TERM")))).isEqualTo("Einhorn is going down! Sent INT to 2 workers.");
        Object again = h.cmd("die", null);
        assertThat(h.os.repliesTo(again)).singleElement().satisfies(r -> {
            assertThat(r.message()).isEqualTo("Einhorn is already going down (2 workers left).");
            assertThat(r.ok()).isTrue();
        });
        assertThat(h.os.signalled("INT")).as("nothing sent twice").containsExactly(100, 101);
        assertThat(h.os.happened(Happening.Stopping.class)).containsExactly(new Happening.Stopping("INT"));
    }

    @Test
    void aSupervisorWithoutWorkersStopsAtOnce() {
        FakeOs os = new FakeOs();
        os.failSpawns = true;
        Harness h = new Harness(new Supervisor(Config.defaults(1), os, "test", java.util.Map.of()), os, List.of());
        h.sup.start();
        assertThat(h.sup.finished()).isFalse();
        assertThat(h.last(h.cmd("die", null))).isEqualTo("Einhorn is going down! Sent USR2 to 0 workers.");
        assertThat(h.os.logs).contains("INFO No workers left; exiting");
        assertThat(h.sup.finished()).isTrue();
    }

    @Test
    void theSecondInterruptIsRecordedAsATermToEachWorkersGroup() {
        Harness h = Harness.timer(1);
        h.handle(new SignalReceived("TERM"));
        h.handle(new SignalReceived("TERM"));
        assertThat(h.os.happened(Happening.Signalled.class)).containsExactly(
                new Happening.Signalled(100, "USR2", Happening.SignalReason.STOP),
                new Happening.Signalled(100, "TERM", Happening.SignalReason.FORWARD));
        assertThat(h.workers().getFirst().get("signaled")).asList().extracting("signal").containsExactly("USR2", "TERM");
        assertThat(h.os.logs).contains("INFO Got SIGTERM: sending USR2 to 1 workers and exiting when they are gone",
                "WARN Got SIGTERM again: sending TERM to the process groups of 1 workers");
    }
}
