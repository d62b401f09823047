package dev.einhyrningsins.supervisor;

import static org.assertj.core.api.Assertions.assertThat;

import dev.einhyrningsins.supervisor.Config.AckMode;
import dev.einhyrningsins.supervisor.Event.SignalReceived;
import dev.einhyrningsins.supervisor.Os.CheckRun;
import dev.einhyrningsins.supervisor.Settings.Setting;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Ready and live checks, the ping watchdog, RSS and age limits, and replacing sick workers gently. */
class HealthTest {
    static final Duration S1 = Duration.ofSeconds(1);

    static Config manual(int n) {
        return Config.defaults(4).with(Setting.NUMBER, n).with(Setting.ACK_MODE, new AckMode.Manual());
    }

    static Config readyChecked(int n) {
        return manual(n).with(Setting.READY_CHECK, "curl -f http://$EINHORN_FD_0/ready");
    }

    static Config liveChecked(int n) {
        return manual(n).with(Setting.LIVE_CHECK, "curl -f http://$EINHORN_FD_0/live");
    }

    /** Ends the check running for {@code pid}'s {@code kind}, as the shell would report it. */
    static void finish(Harness h, int pid, CheckKind kind, boolean passed, String lastLine) {
        CheckRun c = h.os.runningCheck(pid, kind);
        assertThat(c).as("a %s check of %d is running", kind, pid).isNotNull();
        h.os.running.remove(c.id());
        h.handle(new Event.CheckFinished(c.id(), pid, kind, passed, passed ? "passed" : "exited with status 22",
                Duration.ofMillis(30).toNanos(), lastLine));
    }

    /** Acks every worker and passes its ready check if it has one. */
    static void ackAndPass(Harness h, int... pids) {
        for (int pid : pids) {
            h.ack(pid);
            if (h.os.runningCheck(pid, CheckKind.READY) != null) finish(h, pid, CheckKind.READY, true, "ok");
        }
    }

    static Map<String, Object> worker(Harness h, int pid) {
        return h.workers().stream().filter(w -> w.get("pid").equals(pid)).findFirst().orElseThrow();
    }

    static long checksOf(Harness h, int pid, CheckKind kind) {
        return h.os.checks.stream().filter(c -> c.workerPid() == pid && c.kind() == kind).count();
    }

    static long ackedServing(Harness h) {
        return h.workers().stream().filter(w -> (Boolean) w.get("acked") && !(Boolean) w.get("retiring")).count();
    }

    // ------------------------------------------------------------------ readiness

    @Test
    void theAckTimerClaimsReadinessOnceAndTheReadyCheckRuns() {
        Harness h = new Harness(Config.defaults(4).with(Setting.NUMBER, 1).with(Setting.ACK_MODE, new AckMode.Timer(S1))
                .with(Setting.READY_CHECK, "true"));
        h.advance(S1);
        h.advance(S1);
        assertThat(h.os.logs).filteredOn(l -> l.contains("so we are considering it alive")).hasSize(1);
        assertThat(checksOf(h, 100, CheckKind.READY)).isEqualTo(1);
        finish(h, 100, CheckKind.READY, true, "ok");
        assertThat(worker(h, 100)).containsEntry("acked", true);
    }

    @Test
    void anAckStartsTheReadyCheckAndOnlyItsPassAcksTheWorker() {
        Harness h = new Harness(readyChecked(1));
        h.ack(100);
        assertThat(h.os.checks).singleElement().satisfies(c -> {
            assertThat(c.workerPid()).isEqualTo(100);
            assertThat(c.slot()).isEqualTo(0);
            assertThat(c.kind()).isEqualTo(CheckKind.READY);
            assertThat(c.command()).isEqualTo("curl -f http://$EINHORN_FD_0/ready");
        });
        assertThat(worker(h, 100)).containsEntry("acked", false).containsEntry("phase", "checking");
        assertThat(h.os.happened(Happening.Acked.class)).isEmpty();

        finish(h, 100, CheckKind.READY, false, "HTTP 503");
        assertThat(worker(h, 100)).containsEntry("acked", false);
        @SuppressWarnings("unchecked")
        Map<String, Object> ready = (Map<String, Object>) worker(h, 100).get("ready_check");
        assertThat(ready).containsEntry("running", false).containsEntry("passed", false)
                .containsEntry("outcome", "exited with status 22").containsEntry("last_line", "HTTP 503")
                .containsEntry("duration_ms", 30L);
        assertThat(h.os.logs).anyMatch(l -> l.equals("INFO Worker 100 (slot 0) ready check failed "
                + "(exited with status 22, 0.03s): HTTP 503 (1/3 in a row); next try in 1s"));

        h.advance(Duration.ofMillis(999));
        assertThat(checksOf(h, 100, CheckKind.READY)).as("not before the interval").isEqualTo(1);
        h.runToNextDeadline();
        assertThat(checksOf(h, 100, CheckKind.READY)).isEqualTo(2);
        for (int i = 0; i < 5; i++) h.advance(Duration.ofMillis(500));
        assertThat(checksOf(h, 100, CheckKind.READY)).as("never two at once").isEqualTo(2);

        finish(h, 100, CheckKind.READY, true, null);
        assertThat(worker(h, 100)).containsEntry("acked", true).containsEntry("phase", "acked");
        assertThat(h.os.happened(Happening.Acked.class)).singleElement().extracting(Happening.Acked::pid).isEqualTo(100);
        assertThat(h.os.happened(Happening.CheckFinished.class)).extracting(Happening.CheckFinished::passed)
                .containsExactly(false, true);
        h.advance(Duration.ofSeconds(10));
        assertThat(checksOf(h, 100, CheckKind.READY)).as("a passed worker is not ready-checked again").isEqualTo(2);
    }

    @Test
    void aSecondAckWhileCheckingIsIgnoredAndTimerAcksAreCheckedToo() {
        Harness h = new Harness(readyChecked(1));
        h.ack(100);
        h.ack(100);
        assertThat(h.os.checks).hasSize(1);
        assertThat(h.os.logs).contains("WARN Pid 100 already ACKed; ignoring new ACK.");

        Harness t = new Harness(Config.defaults(4).with(Setting.READY_CHECK, "true"));
        t.advance(S1);
        assertThat(t.os.checks).singleElement().extracting(CheckRun::kind).isEqualTo(CheckKind.READY);
        assertThat(worker(t, 100)).containsEntry("phase", "checking");
    }

    @Test
    void aCheckThatOverrunsItsTimeoutIsCancelledAndCountsAsFailed() {
        Harness h = new Harness(readyChecked(1).with(Setting.CHECK_TIMEOUT, Duration.ofSeconds(2)));
        h.ack(100);
        long id = h.os.checks.getFirst().id();
        h.advance(Duration.ofMillis(1999));
        assertThat(h.os.cancelled).isEmpty();
        h.runToNextDeadline();
        assertThat(h.os.cancelled).containsExactly(id);
        @SuppressWarnings("unchecked")
        Map<String, Object> ready = (Map<String, Object>) worker(h, 100).get("ready_check");
        assertThat(ready).containsEntry("passed", false).containsEntry("outcome", "timed out after 2s")
                .containsEntry("last_line", "still trying").containsEntry("duration_ms", 2000L);
        h.runToNextDeadline();
        assertThat(checksOf(h, 100, CheckKind.READY)).as("retried an interval later").isEqualTo(2);
    }

    @Test
    void checksTheShellLostAreDroppedWithoutAnOutcomeAndRunAgain() {
        Harness h = new Harness(liveChecked(1).with(Setting.LIVE_FAILURES, 1));
        h.ack(100);
        h.runToNextDeadline();
        CheckRun lost = h.os.runningCheck(100, CheckKind.LIVE);
        assertThat(lost).isNotNull();
        h.sup.checksLost(); // killed for a reload whose exec then failed
        h.sup.tick();
        CheckRun again = h.os.checks.getLast();
        assertThat(again.id()).as("a new check at once").isNotEqualTo(lost.id());
        assertThat(again.workerPid()).isEqualTo(100);
        assertThat(worker(h, 100)).containsEntry("phase", "acked");
        assertThat(h.os.logs).noneMatch(l -> l.contains("timed out"));
    }

    @Test
    void aCheckThatCannotStartFailsAndIsRetriedAnIntervalLater() {
        Harness h = new Harness(readyChecked(1));
        h.os.checkFailure = "posix_spawn /bin/sh: EMFILE (Too many open files)";
        h.ack(100);
        assertThat(worker(h, 100)).containsEntry("phase", "checking");
        @SuppressWarnings("unchecked")
        Map<String, Object> ready = (Map<String, Object>) worker(h, 100).get("ready_check");
        assertThat(ready).containsEntry("outcome", "could not start: posix_spawn /bin/sh: EMFILE (Too many open files)");
        long next = h.sup.nextDeadline();
        assertThat(next - h.os.now).isEqualTo(S1.toNanos());
        h.os.checkFailure = null;
        h.runToNextDeadline();
        assertThat(h.os.checks).hasSize(1);
    }

    @Test
    void anUpgradeRetiresOldWorkersOnlyForNewOnesThatPass() {
        Harness h = new Harness(readyChecked(2).with(Setting.MAX_UNACKED, 2));
        ackAndPass(h, 100, 101);
        Object client = h.cmd("upgrade", null);
        h.ack(102);
        h.ack(103);
        assertThat(h.os.signals).as("acked but not yet checked: nothing retired").isEmpty();
        finish(h, 102, CheckKind.READY, true, null);
        assertThat(h.os.signalled("USR2")).containsExactly(100);
        finish(h, 103, CheckKind.READY, true, null);
        assertThat(h.os.signalled("USR2")).containsExactly(100, 101);
        assertThat(h.os.repliesTo(client)).extracting(FakeOs.Reply::message)
                .anyMatch(m -> m.equals("Worker 102 (slot 2) ready check passed (0.03s)"))
                .last().isEqualTo("Upgrade done");
    }

    @Test
    void aBuildThatAcksButFailsItsReadyCheckAbortsAndTheOldGenerationKeepsServing() {
        Harness h = new Harness(readyChecked(2).with(Setting.MAX_UNACKED, 2)
                .with(Setting.ACK_TIMEOUT, Duration.ofSeconds(3)).with(Setting.UPGRADE_MAX_FAILURES, 2));
        ackAndPass(h, 100, 101);
        Object client = h.cmd("upgrade", null);
        h.ack(102);
        h.ack(103);
        finish(h, 102, CheckKind.READY, false, "HTTP 500");
        finish(h, 103, CheckKind.READY, false, "HTTP 500");
        h.advance(S1);
        assertThat(h.os.runningCheck(102, CheckKind.READY)).as("retried").isNotNull();
        h.advance(Duration.ofSeconds(2));
        List<FakeOs.Reply> replies = h.os.repliesTo(client);
        assertThat(replies).extracting(FakeOs.Reply::message)
                .anyMatch(m -> m.equals("Worker 102 (slot 2) ready check failed (exited with status 22, 0.03s): HTTP 500 "
                        + "(1/3 in a row); next try in 1s"))
                .anyMatch(m -> m.startsWith("Worker 102 (slot 2) did not pass its ready check within 3s (last: failed "
                        + "(exited with status 22, 0.03s): HTTP 500) (1/2 consecutive failures)"));
        FakeOs.Reply last = replies.getLast();
        assertThat(last.ok()).isFalse();
        assertThat(last.message()).startsWith("Upgrade to generation 2 failed: 2 consecutive new workers failed their ready check.")
                .contains("generation 1 keeps serving");
        assertThat(h.os.signalled("USR2")).containsExactlyInAnyOrder(102, 103);
        assertThat(h.os.cancelled).as("the retry in flight is stopped with its worker").hasSize(2);
        assertThat(ackedServing(h)).isEqualTo(2);
    }

    @Test
    void withoutAnAckTimeoutAndWithManyReadyFailuresAFailingReadyCheckRetriesUntilTheUpgradeTimeout() {
        Harness h = new Harness(readyChecked(1).with(Setting.UPGRADE_TIMEOUT, Duration.ofSeconds(10))
                .with(Setting.READY_FAILURES, 1000));
        ackAndPass(h, 100);
        Object client = h.cmd("upgrade", null);
        h.ack(101);
        for (int i = 0; i < 20 && h.sup.state().get("upgrading") != null; i++) {
            if (h.os.runningCheck(101, CheckKind.READY) != null) finish(h, 101, CheckKind.READY, false, "nope");
            h.runToNextDeadline();
        }
        assertThat(h.last(client)).contains("failed: not fully acked after 10s (0/1 acked, 1 not passing their ready check)");
        assertThat(checksOf(h, 101, CheckKind.READY)).isBetween(5L, 11L);
        assertThat(h.os.signalled("USR2")).containsExactly(101);
    }

    @Test
    void readyFailuresInARowFailTheWorkerBeforeItsAckAndItIsReplacedWithTheBackoff() {
        Harness h = new Harness(readyChecked(1).with(Setting.READY_FAILURES, 2));
        h.ack(100);
        finish(h, 100, CheckKind.READY, false, "nope");
        assertThat(h.os.signals).isEmpty();
        h.runToNextDeadline();
        finish(h, 100, CheckKind.READY, false, "nope");
        assertThat(h.os.signalled("USR2")).containsExactly(100);
        assertThat(h.os.logs).contains("WARN Worker 100 (slot 0) failed its ready check 2 times in a row "
                + "(--ready-failures); treating it as failed");
        assertThat(h.os.logs).contains("INFO Worker 100 (slot 0) ready check failed (exited with status 22, 0.03s): nope "
                + "(2/2 in a row)");
        assertThat(h.sup.state()).containsEntry("consecutive_deaths_before_ack", 1);
        assertThat(worker(h, 100)).containsEntry("phase", "retiring");
        assertThat(h.os.runningCheck(100, CheckKind.READY)).isNull();
        h.exit(100);
        assertThat(h.os.spawns).as("paced: 1s x 1.5 after the last spawn").hasSize(1);
        h.advance(Duration.ofMillis(1500));
        assertThat(h.os.spawns).hasSize(2);
    }

    @Test
    void anUpgradeWhoseBuildNeverPassesAbortsThroughReadyFailuresStreamingEveryCheck() {
        Harness h = new Harness(readyChecked(2).with(Setting.CHECK_INTERVAL, Duration.ofMillis(500)));
        ackAndPass(h, 100, 101);
        long started = h.os.now;
        Object follower = h.cmd("upgrade", null);
        int failed = 0;
        for (int round = 0; round < 100 && h.sup.state().get("upgrading") != null; round++) {
            boolean acted;
            do { // a new worker acks at once, its build answers 503 to every check
                acted = false;
                for (FakeOs.Spawn s : List.copyOf(h.os.spawns)) {
                    if (s.generation() != 2 || !h.os.alive.contains(s.pid())) continue;
                    if (h.os.signalled("USR2").contains(s.pid())) {
                        h.exit(s.pid());
                        acted = true;
                    } else if ("starting".equals(worker(h, s.pid()).get("phase"))) {
                        h.ack(s.pid());
                        acted = true;
                    } else if (h.os.runningCheck(s.pid(), CheckKind.READY) != null) {
                        finish(h, s.pid(), CheckKind.READY, false, "HTTP 503 from " + s.pid());
                        failed++;
                        acted = true;
                    }
                }
            } while (acted && h.sup.state().get("upgrading") != null);
            if (h.sup.state().get("upgrading") != null) h.runToNextDeadline();
        }
        assertThat(h.sup.state().get("upgrading")).isNull();
        assertThat(h.os.now - started).as("3 checks of 2 workers at a time an interval apart, twice")
                .isEqualTo(Duration.ofSeconds(2).toNanos());
        List<String> lines = h.os.repliesTo(follower).stream().map(FakeOs.Reply::message).toList();
        assertThat(lines.stream().filter(l -> l.contains("ready check failed"))).as("every failed check streamed")
                .hasSize(failed).allMatch(l -> l.contains(": HTTP 503 from "));
        assertThat(failed).as("3 each for the first three, 2 for the fourth, retired by the abort").isEqualTo(11);
        assertThat(lines.getLast()).startsWith("Upgrade to generation 2 failed: 3 consecutive new workers failed their "
                + "ready check.").contains("generation 1 keeps serving");
        assertThat(h.os.signalled("USR2")).as("the old generation untouched").doesNotContain(100, 101);
        assertThat(ackedServing(h)).isEqualTo(2);
    }

    @Test
    void theLogRateLimitsRepeatedFailuresButNeverHidesThatTheyGoOn() {
        Harness h = new Harness(readyChecked(1).with(Setting.READY_FAILURES, 25).with(Setting.VERBOSITY, 0));
        ackAndPass(h, 100);
        Object follower = h.cmd("upgrade", null);
        h.ack(101);
        for (int i = 1; i <= 25; i++) {
            finish(h, 101, CheckKind.READY, false, i == 12 ? "something else" : "same");
            if (i < 25) h.runToNextDeadline();
        }
        List<String> info = h.os.logs.stream().filter(l -> l.startsWith("INFO Worker 101 (slot 1) ready check failed")).toList();
        assertThat(info).extracting(l -> l.replaceAll(".*\\((\\d+)/25 in a row\\).*", "$1"))
                .as("the first, every 10th, a changed output, the one after it, the last")
                .containsExactly("1", "10", "12", "13", "20", "25");
        assertThat(h.os.logs.stream().filter(l -> l.startsWith("DEBUG Worker 101 (slot 1) ready check failed"))).hasSize(19);
        assertThat(h.os.repliesTo(follower).stream().filter(r -> r.message().contains("ready check failed"))).hasSize(25);
        assertThat(info.getLast()).doesNotContain("next try");
    }

    // ------------------------------------------------------------------ liveness and sick workers

    @Test
    void liveChecksRunAnIntervalApartAndAPassResetsTheFailures() {
        Harness h = new Harness(liveChecked(1));
        h.ack(100);
        assertThat(h.os.checks).as("the first live check comes an interval after the ack").isEmpty();
        h.runToNextDeadline();
        finish(h, 100, CheckKind.LIVE, false, "refused");
        h.runToNextDeadline();
        finish(h, 100, CheckKind.LIVE, false, "refused");
        @SuppressWarnings("unchecked")
        Map<String, Object> live = (Map<String, Object>) worker(h, 100).get("live_check");
        assertThat(live).containsEntry("consecutive_failures", 2);
        h.runToNextDeadline();
        finish(h, 100, CheckKind.LIVE, true, null);
        assertThat(h.os.logs).contains("INFO Worker 100 (slot 0) live check passed (0.03s) after 2 failed");
        @SuppressWarnings("unchecked")
        Map<String, Object> after = (Map<String, Object>) worker(h, 100).get("live_check");
        assertThat(after).containsEntry("consecutive_failures", 0);
        assertThat(worker(h, 100)).containsEntry("phase", "acked");
    }

    @Test
    void aWorkerFailingItsLiveCheckIsReplacedGentlyNeverBelowTheTarget() {
        Harness h = new Harness(liveChecked(2).with(Setting.LIVE_FAILURES, 2).with(Setting.SIGNAL_TIMEOUT, Duration.ofSeconds(5)));
        ackAndPass(h, 100, 101);
        for (int i = 0; i < 2; i++) {
            h.runToNextDeadline();
            finish(h, 100, CheckKind.LIVE, false, "connection refused");
            if (h.os.runningCheck(101, CheckKind.LIVE) != null) finish(h, 101, CheckKind.LIVE, true, null);
        }
        assertThat(worker(h, 100)).containsEntry("phase", "sick")
                .containsEntry("sick", "its live check failed 2 times in a row (exited with status 22)");
        assertThat(h.os.happened(Happening.WorkerSick.class)).singleElement().extracting(Happening.WorkerSick::pid).isEqualTo(100);
        assertThat(h.os.spawns).as("one replacement beside the sick worker").hasSize(3);
        assertThat(h.os.signals).as("the sick worker keeps serving").isEmpty();
        for (int i = 0; i < 5; i++) h.advance(S1);
        assertThat(h.os.spawns).as("only one").hasSize(3);
        assertThat(h.os.signals).as("nothing retired as surplus").isEmpty();
        assertThat(checksOf(h, 100, CheckKind.LIVE)).as("a sick worker is not checked any more").isEqualTo(2);

        h.ack(102);
        assertThat(h.os.signalled("USR2")).containsExactly(100);
        assertThat(h.os.happened(Happening.Recycled.class)).containsExactly(
                new Happening.Recycled(100, 0, 1, "its live check failed 2 times in a row (exited with status 22)"));
        assertThat(ackedServing(h)).isEqualTo(2);
        h.advance(Duration.ofSeconds(5));
        assertThat(h.os.signalled("KILL")).as("-t applies as to any retired worker").containsExactly(100);
        h.exit(100);
        h.advance(Duration.ofSeconds(5));
        assertThat(h.os.spawns).hasSize(3);
        assertThat(h.sup.state().get("target")).isEqualTo(2);
    }

    @Test
    void whenTheSickWorkerDiesFirstTheReplacementSimplyStays() {
        Harness h = new Harness(manual(1).with(Setting.MAX_WORKER_AGE, Duration.ofSeconds(60)));
        ackAndPass(h, 100);
        h.advance(Duration.ofSeconds(60));
        assertThat(worker(h, 100)).containsEntry("sick", "older than --max-worker-age 60s");
        assertThat(h.pids()).containsExactly(100, 101);
        h.exit(100);
        h.ack(101);
        for (int i = 0; i < 3; i++) h.advance(S1);
        assertThat(h.os.signals).isEmpty();
        assertThat(h.workers()).extracting(w -> w.get("pid")).containsExactly(101);
    }

    @Test
    void sickWorkersAreReplacedOneAtATime() {
        Harness h = new Harness(manual(3).with(Setting.MAX_WORKER_AGE, Duration.ofSeconds(60)));
        ackAndPass(h, 100, 101, 102);
        h.advance(Duration.ofSeconds(60));
        assertThat(h.os.happened(Happening.WorkerSick.class)).hasSize(3);
        int minAcked = 3;
        for (int round = 0; round < 3; round++) {
            if (round > 0) h.runToNextDeadline(); // the respawn pacing
            assertThat(h.pids()).as("round %d: one replacement at a time", round).hasSize(4 + round);
            assertThat(h.workers().stream().filter(w -> !(Boolean) w.get("retiring"))).hasSize(4);
            h.ack(h.lastPid());
            minAcked = (int) Math.min(minAcked, ackedServing(h));
            h.exitAllSignalled();
            minAcked = (int) Math.min(minAcked, ackedServing(h));
        }
        assertThat(minAcked).isEqualTo(3);
        assertThat(h.os.signalled("USR2")).containsExactly(100, 101, 102);
        for (int i = 0; i < 5; i++) h.advance(S1);
        assertThat(h.pids()).hasSize(6);
    }

    @Test
    void aSilentPingerIsSickAndOneThatNeverPingedIsNot() {
        Harness h = new Harness(manual(2).with(Setting.PING_TIMEOUT, Duration.ofSeconds(2)));
        ackAndPass(h, 100, 101);
        for (int i = 0; i < 3; i++) {
            ping(h, 100);
            h.advance(Duration.ofMillis(1500));
        }
        assertThat(worker(h, 100)).containsEntry("phase", "acked");
        h.advance(Duration.ofMillis(500));
        assertThat(worker(h, 100)).containsEntry("phase", "sick").containsEntry("sick", "no worker:ping for 2s");
        assertThat(worker(h, 101)).as("never pinged: not watched").containsEntry("phase", "acked");
        assertThat(h.pids()).hasSize(3);
    }

    static void ping(Harness h, int pid) {
        h.handle(new Event.Command("worker:ping", null, pid, null, "p", false, new Object()));
    }

    @Test
    void theRssIsSampledEveryIntervalAndAWorkerOverTheLimitIsSick() {
        Harness h = new Harness(manual(1).with(Setting.MAX_WORKER_RSS, 200));
        assertThat(h.os.rssSampled).as("not before the ack").isEmpty();
        ackAndPass(h, 100);
        assertThat(h.os.rssSampled).containsExactly(100);
        assertThat(worker(h, 100)).containsEntry("rss_bytes", 10L << 20);
        h.advance(S1);
        assertThat(h.os.rssSampled).hasSize(2);
        h.os.rss.put(100, 300L << 20);
        h.advance(S1);
        assertThat(worker(h, 100)).containsEntry("sick", "its RSS of 300 MiB is over --max-worker-rss 200 MiB");
        h.advance(S1);
        assertThat(h.os.rssSampled).as("a sick worker is not sampled any more").hasSize(3);
    }

    @Test
    void aDecRetiresTheSickWorkerFirst() {
        Harness h = new Harness(manual(3).with(Setting.MAX_WORKER_AGE, Duration.ofSeconds(60)));
        ackAndPass(h, 100);
        h.advance(Duration.ofSeconds(30));
        ackAndPass(h, 101, 102);
        h.advance(Duration.ofSeconds(30));
        assertThat(worker(h, 100)).containsEntry("phase", "sick");
        h.cmd("dec", null);
        assertThat(h.os.signalled("USR2")).containsExactly(100);
    }

    @Test
    void sickWorkersWaitForAnUpgradeToEnd() {
        Harness h = new Harness(liveChecked(1).with(Setting.LIVE_FAILURES, 1));
        ackAndPass(h, 100);
        h.cmd("upgrade", null);
        h.runToNextDeadline();
        finish(h, 100, CheckKind.LIVE, false, null);
        assertThat(worker(h, 100)).containsEntry("phase", "sick");
        assertThat(h.pids()).as("the upgrade replaces it; no extra worker").containsExactly(100, 101);
        h.ack(101);
        assertThat(h.os.signalled("USR2")).containsExactly(100);
    }

    // ------------------------------------------------------------------ checks end with their workers

    @Test
    void checksInFlightAreCancelledWhenTheirWorkerGoesOrTheSupervisorStops() {
        Harness h = new Harness(readyChecked(2));
        h.ack(100);
        h.ack(101);
        long first = h.os.runningCheck(100, CheckKind.READY).id();
        h.exit(100);
        assertThat(h.os.cancelled).containsExactly(first);
        h.handleUnknown(new Event.CheckFinished(first, 100, CheckKind.READY, true, "passed", 1, null));
        assertThat(h.os.happened(Happening.Acked.class)).as("a stale end changes nothing").isEmpty();

        long second = h.os.runningCheck(101, CheckKind.READY).id();
        h.handle(new SignalReceived("TERM"));
        assertThat(h.os.cancelled).containsExactly(first, second);
        h.advance(Duration.ofSeconds(10));
        assertThat(h.os.checks).hasSize(2);
    }

    @Test
    void aStaleEndOfAnEarlierCheckIsIgnored() {
        Harness h = new Harness(readyChecked(1).with(Setting.CHECK_TIMEOUT, S1).with(Setting.VERBOSITY, 0));
        h.ack(100);
        long first = h.os.runningCheck(100, CheckKind.READY).id();
        h.advance(S1);
        h.advance(S1);
        assertThat(h.os.runningCheck(100, CheckKind.READY)).isNotNull();
        h.handle(new Event.CheckFinished(first, 100, CheckKind.READY, true, "passed", 1, null));
        assertThat(worker(h, 100)).containsEntry("phase", "checking");
        assertThat(h.os.logs).contains("DEBUG Ignoring the end of a stopped ready check of 100");
    }

    @Test
    void theNumbersChangeAtRunTimeTheCommandsDoNot() {
        Harness h = new Harness(liveChecked(1));
        h.ack(100);
        FakeOs.Reply ok = h.os.repliesTo(h.cmd("config", List.of("check_interval=3", "live_failures=5",
                "ping_timeout=2", "max_worker_rss=512", "max_worker_age=3600", "check_timeout=0.5"))).getLast();
        assertThat(ok.ok()).isTrue();
        assertThat(h.sup.config().health()).isEqualTo(new HealthConfig(null, "curl -f http://$EINHORN_FD_0/live",
                Duration.ofSeconds(3), Duration.ofMillis(500), 5, 3, Duration.ofSeconds(2), 512, Duration.ofSeconds(3600)));
        assertThat(h.sup.nextDeadline() - h.os.now).as("the next live check follows the new interval")
                .isEqualTo(Duration.ofSeconds(3).toNanos());
        FakeOs.Reply refused = h.os.repliesTo(h.cmd("config", List.of("live_check=true"))).getLast();
        assertThat(refused.ok()).isFalse();
        assertThat(refused.message()).startsWith("Config not changed: live_check cannot be changed at run time.");
        @SuppressWarnings("unchecked")
        Map<String, Object> cfg = (Map<String, Object>) h.sup.state().get("config");
        assertThat(cfg).containsEntry("live_check", "curl -f http://$EINHORN_FD_0/live").containsEntry("ready_check", null)
                .containsEntry("check_interval", "3").containsEntry("check_timeout", "0.5")
                .containsEntry("live_failures", 5).containsEntry("ping_timeout", "2")
                .containsEntry("max_worker_rss", 512).containsEntry("max_worker_age", "3600");
    }
}
