package dev.einhyrningsins.supervisor;

import static dev.einhyrningsins.supervisor.Harness.S1;
import static org.assertj.core.api.Assertions.assertThat;

import dev.einhyrningsins.supervisor.Event.SignalReceived;
import dev.einhyrningsins.supervisor.Settings.Setting;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * What the operator reads: the core's log lines, in einhorn's words where einhorn has them,
 * line for line through a supervisor's life. Each test clears the log at a point and holds
 * every line that follows.
 */
class LogTest {

    /** The lines logged since the last call. */
    static List<String> drain(Harness h) {
        List<String> lines = List.copyOf(h.os.logs);
        h.os.logs.clear();
        return lines;
    }

    @Test
    void startAcksASmoothUpgradeAndAStop() {
        Harness h = new Harness(Config.defaults(1).with(Setting.NUMBER, 2));
        assertThat(drain(h)).containsExactly(
                "INFO Launching 2 new workers",
                "INFO ===> Launched 100 (index: 0, generation: 1)",
                "INFO ===> Launched 101 (index: 1, generation: 1)");
        h.advance(S1);
        assertThat(drain(h)).containsExactly(
                "INFO Worker 100 has been up for 1s, so we are considering it alive.",
                "INFO Up to 1 / 2 timer ACKs",
                "INFO Worker 101 has been up for 1s, so we are considering it alive.",
                "INFO Up to 2 / 2 timer ACKs");

        h.cmd("upgrade", null);
        assertThat(drain(h)).containsExactly(
                "INFO Starting smooth upgrade from generation 1 to generation 2 (2 workers, at most 1 unacked at once)",
                "INFO ===> Launched 102 (index: 2, generation: 2)",
                "INFO Spawned worker 102 (slot 2, generation 2)");
        h.advance(S1);
        assertThat(drain(h)).containsExactly(
                "INFO Worker 102 has been up for 1s, so we are considering it alive.",
                "INFO Worker 102 (slot 2) acked: 1/2 acked",
                "INFO ===> Launched 103 (index: 3, generation: 2)",
                "INFO Spawned worker 103 (slot 3, generation 2)",
                "INFO Retiring old worker 100 (slot 0, generation 1) with USR2: 1/2 acked");
        h.exit(100);
        assertThat(drain(h)).containsExactly(
                "INFO Worker 100 (slot 0, generation 1) exited with status 1",
                "INFO Old worker 100 (slot 0) exited");
        h.advance(S1);
        assertThat(drain(h)).containsExactly(
                "INFO Worker 103 has been up for 1s, so we are considering it alive.",
                "INFO Worker 103 (slot 3) acked: 2/2 acked",
                "INFO Retiring old worker 101 (slot 1, generation 1) with USR2",
                "INFO Upgraded successfully to generation 2");

        h.handle(new SignalReceived("TERM"));
        assertThat(drain(h)).containsExactly(
                "INFO Got SIGTERM: sending USR2 to 3 workers and exiting when they are gone",
                "WARN Re-sending USR2 to already-signaled worker 101. It may be slow to spin down, or it may be swallowing USR2s.");
        h.handle(new SignalReceived("INT"));
        assertThat(drain(h)).containsExactly("WARN Got SIGINT again: sending TERM to the process groups of 3 workers");
        h.exit(101);
        h.exit(102);
        h.exit(103);
        assertThat(drain(h)).containsExactly(
                "INFO Worker 101 (slot 1, generation 1) exited with status 1",
                "INFO Worker 102 (slot 2, generation 2) exited with status 1",
                "INFO Worker 103 (slot 3, generation 2) exited with status 1",
                "INFO Last worker is gone; exiting");
    }

    @Test
    void aCrashLoopBacksOffAndAnAckBreaksTheStreak() {
        Harness h = Harness.manual(1);
        drain(h);
        h.exit(100);
        h.runToNextDeadline();
        assertThat(drain(h)).containsExactly(
                "WARN Worker 100 (slot 0, generation 1) exited with status 1 before it was acked",
                "INFO Spawning a replacement (spawn interval 1.5s after 1 consecutive unacked worker deaths)",
                "INFO ===> Launched 101 (index: 0, generation: 1)");
        h.exit(101);
        h.os.failSpawns = true;
        h.runToNextDeadline();
        assertThat(drain(h)).containsExactly(
                "WARN Worker 101 (slot 0, generation 1) exited with status 1 before it was acked",
                "INFO Spawning a replacement (spawn interval 2.25s after 2 consecutive unacked worker deaths)",
                "ERROR Could not start a worker: /srv/app: No such file or directory; retrying in 3.375s");
        h.os.failSpawns = false;
        h.runToNextDeadline();
        h.ack(102);
        assertThat(drain(h)).containsExactly(
                "INFO Spawning a replacement (spawn interval 3.375s after 3 consecutive unacked worker deaths)",
                "INFO ===> Launched 102 (index: 0, generation: 1)",
                "INFO Received a manual ACK from 102",
                "INFO Up to 1 / 1 manual ACKs, breaking the streak of 3 consecutive unacked workers dying");
    }

    @Test
    void countChangesAndSignals() {
        Harness h = Harness.manual(1);
        h.ack(100);
        drain(h);
        h.cmd("set_workers", List.of("3"));
        h.runToNextDeadline();
        assertThat(drain(h)).containsExactly(
                "INFO Altering worker count, 1 -> 3. Will spin up additional workers.",
                "INFO ===> Launched 101 (index: 1, generation: 1)");
        h.cmd("set_workers", List.of("1"));
        assertThat(drain(h)).containsExactly(
                "INFO Altering worker count, 3 -> 1. Will gracefully terminate workers.",
                "INFO Have 2 workers for a target of 1; retiring 1");
        h.cmd("signal", List.of("HUP"));
        h.handle(new SignalReceived("WINCH"));
        assertThat(drain(h)).containsExactly("INFO Sending HUP to [100, 101]");
        h.handle(new SignalReceived("HUP"));
        assertThat(drain(h)).startsWith("INFO Got SIGHUP: starting a smooth upgrade",
                "INFO Starting smooth upgrade from generation 1 to generation 2 (1 workers, at most 4 unacked at once)");
        h.handle(new SignalReceived("USR2"));
        assertThat(drain(h)).containsExactly(
                "INFO Got SIGUSR2: sending USR2 to all workers and exiting when they are gone",
                "WARN Re-sending USR2 to already-signaled worker 101. It may be slow to spin down, or it may be swallowing USR2s.");
    }

    @Test
    void anotherSignalToAWorkerAlreadyAskedToGoIsNoResend() {
        Harness h = Harness.manual(2);
        h.ack(100);
        h.ack(101);
        h.cmd("dec", null);
        drain(h);
        h.cmd("die", List.of("TERM"));
        assertThat(drain(h)).noneMatch(l -> l.contains("Re-sending"));
        assertThat(h.os.signals).extracting(FakeOs.Sig::signal).containsExactly("USR2", "TERM", "TERM");
    }

    @Test
    void debugLinesForCommandsIgnoredSignalsAndReadyClaimsOutsideNotifyMode() {
        Harness h = new Harness(Config.defaults(1).with(Setting.ACK_MODE, new Config.AckMode.Manual())
                .with(Setting.VERBOSITY, 0));
        drain(h);
        h.cmd("state", null);
        h.handle(new SignalReceived("WINCH"));
        h.handle(new Event.WorkerNotified(100, true, false, null));
        assertThat(drain(h)).containsExactly(
                "DEBUG Received command: state",
                "DEBUG Ignoring SIGWINCH",
                "DEBUG Worker 100 said READY=1, but ack mode is not notify; ignoring it");
    }

    @Test
    void acksThatFindNothingToAck() {
        Harness h = Harness.manual(1);
        drain(h);
        h.handleUnknown(new Event.Command("worker:ack", null, 4242, null, null, false, new Object()));
        h.handleUnknown(new Event.Command("worker:ping", null, "4242", null, "p", false, new Object()));
        h.handle(new Event.Command("worker:ack", null, "abc", null, null, false, new Object()));
        h.handle(new Event.Command("worker:ping", null, List.of(1), null, "p", false, new Object()));
        assertThat(drain(h)).containsExactly(
                "ERROR Could not find state for PID 4242; ignoring ACK.",
                "ERROR Could not find state for PID 4242; ignoring ping.",
                "ERROR Invalid worker:ack request (no pid): abc",
                "ERROR Could not find state for PID [1]; ignoring ping.");
    }

    @Test
    void aWorkerThatSaysItIsStopping() {
        Harness h = AcksAndStartupTest.notify(1);
        h.handle(new Event.WorkerNotified(100, true, false, null));
        assertThat(drain(h)).endsWith("INFO Worker 100 is ready (READY=1)", "INFO Up to 1 / 1 notify ACKs");
        h.handle(new Event.WorkerNotified(100, false, true, null));
        assertThat(drain(h)).containsExactly(
                "INFO Worker 100 (slot 0, generation 1) is stopping (STOPPING=1); it no longer counts toward 1 workers");
    }

    @Test
    void aSickWorkerIsReplacedThenRetired() {
        Harness h = new Harness(HealthTest.manual(1).with(Setting.MAX_WORKER_AGE, Duration.ofSeconds(60)));
        h.ack(100);
        h.advance(Duration.ofSeconds(60));
        assertThat(drain(h)).endsWith(
                "WARN Worker 100 (slot 0, generation 1) is sick: older than --max-worker-age 60s; it keeps serving until a replacement is acked",
                "INFO Starting a replacement for sick worker 100 (slot 0, generation 1): older than --max-worker-age 60s",
                "INFO ===> Launched 101 (index: 1, generation: 1)");
        h.ack(101);
        assertThat(drain(h)).containsExactly(
                "INFO Received a manual ACK from 101",
                "INFO Up to 2 / 1 manual ACKs",
                "INFO Retiring sick worker 100 (slot 0, generation 1): older than --max-worker-age 60s; 1 other workers are acked for a target of 1");
    }

    @Test
    void readyAndLiveChecksSayWhatChanged() {
        Harness h = new Harness(HealthTest.readyChecked(1).with(Setting.LIVE_CHECK, "check-live")
                .with(Setting.VERBOSITY, 0).with(Setting.READY_FAILURES, 10));
        h.ack(100);
        assertThat(drain(h)).endsWith(
                "INFO Worker 100 is up; it counts as acked once its ready check passes",
                "DEBUG Running the ready check of worker 100: curl -f http://$EINHORN_FD_0/ready");
        HealthTest.finish(h, 100, CheckKind.READY, false, "HTTP 503");
        h.runToNextDeadline();
        HealthTest.finish(h, 100, CheckKind.READY, false, "HTTP 503");
        h.runToNextDeadline();
        HealthTest.finish(h, 100, CheckKind.READY, false, "HTTP 502");
        assertThat(drain(h)).containsExactly(
                "INFO Worker 100 (slot 0) ready check failed (exited with status 22, 0.03s): HTTP 503 (1/10 in a row); next try in 1s",
                "DEBUG Running the ready check of worker 100: curl -f http://$EINHORN_FD_0/ready",
                "DEBUG Worker 100 (slot 0) ready check failed (exited with status 22, 0.03s): HTTP 503 (2/10 in a row); next try in 1s",
                "DEBUG Running the ready check of worker 100: curl -f http://$EINHORN_FD_0/ready",
                "INFO Worker 100 (slot 0) ready check failed (exited with status 22, 0.03s): HTTP 502 (3/10 in a row); next try in 1s");
        h.runToNextDeadline();
        Os.CheckRun killed = h.os.runningCheck(100, CheckKind.READY);
        h.os.running.remove(killed.id());
        h.handle(new Event.CheckFinished(killed.id(), 100, CheckKind.READY, false, "killed by SIGKILL",
                Duration.ofMillis(30).toNanos(), "HTTP 502"));
        assertThat(drain(h)).containsExactly(
                "DEBUG Running the ready check of worker 100: curl -f http://$EINHORN_FD_0/ready",
                "INFO Worker 100 (slot 0) ready check failed (killed by SIGKILL, 0.03s): HTTP 502 (4/10 in a row); next try in 1s");
        h.runToNextDeadline();
        HealthTest.finish(h, 100, CheckKind.READY, true, null);
        assertThat(drain(h)).containsSubsequence("INFO Worker 100 (slot 0) ready check passed (0.03s)",
                "INFO Up to 1 / 1 manual ACKs");

        h.runToNextDeadline();
        HealthTest.finish(h, 100, CheckKind.LIVE, true, null);
        h.runToNextDeadline();
        HealthTest.finish(h, 100, CheckKind.LIVE, false, "refused");
        h.runToNextDeadline();
        HealthTest.finish(h, 100, CheckKind.LIVE, true, null);
        assertThat(drain(h)).containsExactly(
                "DEBUG Running the live check of worker 100: check-live",
                "DEBUG Running the live check of worker 100: check-live",
                "WARN Worker 100 (slot 0) live check failed (exited with status 22, 0.03s): refused (1/3 in a row)",
                "DEBUG Running the live check of worker 100: check-live",
                "INFO Worker 100 (slot 0) live check passed (0.03s) after 1 failed");
    }
}
