package dev.einhyrningsins.supervisor;

import static dev.einhyrningsins.supervisor.Harness.S1;
import static org.assertj.core.api.Assertions.assertThat;

import dev.einhyrningsins.supervisor.Config.AckMode;
import dev.einhyrningsins.supervisor.Event.SignalReceived;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Upgrades: smooth and fleet, surge cap, overlap, aborts, count changes. */
class RolloutTest {
    static Config cfg(int n, int maxUnacked, int maxAdditional) {
        return new Config(n, S1, new AckMode.Manual(), Duration.ZERO, Duration.ZERO, "USR2",
                maxUnacked, maxAdditional, Duration.ofSeconds(120), 3, 1);
    }

    static Harness acked(Config cfg) {
        Harness h = new Harness(cfg);
        for (int pid : h.pids()) h.ack(pid);
        return h;
    }

    List<Integer> newGen(Harness h, int generation) {
        return h.os.spawns.stream().filter(s -> s.generation() == generation).map(FakeOs.Spawn::pid).toList();
    }

    @Test
    void smoothUpgradeSpawnsUpToMaxUnackedAndRetiresOldestPerAck() {
        Harness h = acked(cfg(4, 2, -1));
        Object c = h.cmd("upgrade", null);
        assertThat(newGen(h, 2)).containsExactly(104, 105);
        assertThat(h.os.signals).isEmpty();
        h.ack(104);
        assertThat(h.os.signalled("USR2")).containsExactly(100);
        assertThat(newGen(h, 2)).containsExactly(104, 105, 106);
        h.ack(105);
        h.ack(106);
        assertThat(newGen(h, 2)).hasSize(4);
        h.ack(107);
        assertThat(h.os.signalled("USR2")).containsExactly(100, 101, 102, 103);
        List<FakeOs.Reply> stream = h.os.repliesTo(c);
        assertThat(stream.getFirst().message()).isEqualTo("Upgrading smoothly, as commanded");
        assertThat(stream).extracting(FakeOs.Reply::message).anyMatch(m -> m.contains("3/4 acked"));
        assertThat(stream.getLast()).isEqualTo(new FakeOs.Reply(c, "Upgrade done", true, true));
        assertThat(stream.subList(0, stream.size() - 1)).allMatch(r -> !r.last());
        assertThat(h.sup.state().get("generation")).isEqualTo(2);
    }

    @Test
    void surgeCapIsExactlyTargetPlusN() {
        Harness h = acked(cfg(3, 8, 1));
        h.cmd("upgrade", null);
        int peak = 0;
        for (int round = 0; round < 10 && h.sup.state().get("upgrading") != null; round++) {
            peak = Math.max(peak, h.os.alive.size());
            for (int pid : newGen(h, 2)) {
                if (h.os.alive.contains(pid)) h.ack(pid);
            }
            peak = Math.max(peak, h.os.alive.size());
            h.exitAllSignalled();
        }
        assertThat(h.sup.state().get("upgrading")).isNull();
        assertThat(peak).isEqualTo(4);
    }

    @Test
    void zeroAdditionalWithoutCapStillCompletes() {
        Harness h = acked(cfg(2, 1, -1));
        h.cmd("upgrade", null);
        h.ack(102);
        h.ack(103);
        assertThat(h.os.signalled("USR2")).containsExactly(100, 101);
    }

    @Test
    void fleetUpgradeSpawnsAllAndRetiresAllOldAtTheEnd() {
        Harness h = acked(cfg(3, 1, -1));
        Object c = h.cmd("upgrade_fleet", null);
        assertThat(newGen(h, 2)).containsExactly(103, 104, 105);
        h.ack(103);
        h.ack(104);
        assertThat(h.os.signals).isEmpty();
        h.ack(105);
        assertThat(h.os.signalled("USR2")).containsExactly(100, 101, 102);
        assertThat(h.last(c)).isEqualTo("Upgrade done");
    }

    @Test
    void secondUpgradeStartsOverFromTheNewestGenerationAndKeepsStreaming() {
        Harness h = acked(cfg(2, 2, -1));
        Object first = h.cmd("upgrade", null);
        h.ack(102); // gen 2 worker acked, retires 100
        Object second = h.cmd("upgrade", null);
        assertThat(newGen(h, 3)).hasSize(2);
        for (int pid : newGen(h, 3)) h.ack(pid);
        assertThat(h.os.signalled("USR2")).contains(100, 101, 102, 103);
        assertThat(h.last(first)).isEqualTo("Upgrade done");
        assertThat(h.last(second)).isEqualTo("Upgrade done");
        assertThat(h.os.repliesTo(first)).extracting(FakeOs.Reply::message)
                .anyMatch(m -> m.contains("bumping to generation 3"));
        assertThat(h.sup.state().get("generation")).isEqualTo(3);
    }

    @Test
    void timeoutAbortsAndTheOldGenerationKeepsServing() {
        Harness h = acked(cfg(2, 2, -1));
        Object c = h.cmd("upgrade", null);
        h.ack(102); // one new acked, one old retired
        h.advance(Duration.ofSeconds(120));
        FakeOs.Reply last = h.os.repliesTo(c).getLast();
        assertThat(last.last()).isTrue();
        assertThat(last.ok()).isFalse();
        assertThat(last.message()).contains("Upgrade to generation 2 failed: not fully acked after 120s (1/2 acked)");
        assertThat(h.os.signalled("USR2")).containsExactly(100, 102, 103);
        assertThat(h.sup.state().get("generation")).isEqualTo(1);
        @SuppressWarnings("unchecked")
        Map<String, Object> lastUpgrade = (Map<String, Object>) h.sup.state().get("last_upgrade");
        assertThat(lastUpgrade.get("outcome")).isEqualTo("failed");
        // capacity is restored at once with a generation-1 respawn
        assertThat(h.os.spawns.getLast().generation()).isEqualTo(1);
        assertThat(h.os.spawns).hasSize(5);
    }

    @Test
    void crashesBeforeAckAbortAfterMaxFailures() {
        Harness h = acked(cfg(2, 1, -1));
        Object c = h.cmd("upgrade", null);
        h.exit(102);
        h.exit(103);
        assertThat(h.sup.state().get("upgrading")).isNotNull();
        h.exit(104);
        assertThat(h.sup.state().get("upgrading")).isNull();
        assertThat(h.last(c)).contains("3 consecutive new workers died before acking");
        assertThat(h.os.signals).isEmpty(); // the old generation was never touched
        assertThat(h.os.alive).containsExactly(100, 101);
    }

    @Test
    void anAckBreaksTheFailureStreak() {
        Harness h = acked(cfg(3, 1, -1));
        Object c = h.cmd("upgrade", null);
        h.exit(103);
        h.exit(104);
        h.ack(105);
        h.exit(106);
        h.exit(107);
        assertThat(newGen(h, 2)).containsExactly(103, 104, 105, 106, 107, 108);
        assertThat(h.sup.state().get("upgrading")).isNotNull();
        assertThat(h.os.repliesTo(c)).extracting(FakeOs.Reply::message).filteredOn(m -> m.startsWith("Worker ")).containsExactly(
                "Worker 103 (slot 3) exited with status 1 before acking (1/3 consecutive failures)",
                "Worker 104 (slot 3) exited with status 1 before acking (2/3 consecutive failures)",
                "Worker 105 (slot 3) acked: 1/3 acked",
                "Worker 106 (slot 4) exited with status 1 before acking (1/3 consecutive failures)",
                "Worker 107 (slot 4) exited with status 1 before acking (2/3 consecutive failures)");
    }

    @Test
    void aNewerUpgradeStartsItsOwnFailureStreak() {
        Harness h = acked(cfg(1, 1, -1));
        Object first = h.cmd("upgrade", null);
        h.exit(101);
        h.exit(102);
        Object second = h.cmd("upgrade", null);
        assertThat(h.os.repliesTo(first)).extracting(FakeOs.Reply::message)
                .contains("Currently upgrading (0 / 1 ACKs); bumping to generation 3 and starting over");
        assertThat(h.os.happened(Happening.UpgradeStarted.class)).containsExactly(
                new Happening.UpgradeStarted(2, false, 1), new Happening.UpgradeStarted(3, false, 1));
        assertThat(h.sup.state().get("last_upgrade")).as("a superseded upgrade has no outcome of its own")
                .extracting("generation", "outcome").containsExactly(3, "in progress");
        h.exit(103); // generation 2's unacked worker, retired by the newer upgrade
        h.exit(104);
        h.exit(105);
        assertThat(h.sup.state().get("upgrading")).as("two failures of generation 3 so far").isNotNull();
        assertThat(h.os.repliesTo(second)).extracting(FakeOs.Reply::message).containsExactly(
                "Upgrading smoothly, as commanded",
                "Currently upgrading (0 / 1 ACKs); bumping to generation 3 and starting over",
                "Spawned worker 104 (slot 2, generation 3)",
                "Retiring old worker 103 (slot 1, generation 2) with USR2: 0/1 acked",
                "Old worker 103 (slot 1) exited",
                "Worker 104 (slot 2) exited with status 1 before acking (1/3 consecutive failures)",
                "Spawned worker 105 (slot 1, generation 3)",
                "Worker 105 (slot 1) exited with status 1 before acking (2/3 consecutive failures)",
                "Spawned worker 106 (slot 1, generation 3)");
    }

    @Test
    void anAbortSaysHowManyNewWorkersItSentAwayAndWhatKeepsServing() {
        Harness h = acked(cfg(2, 2, -1));
        Object c = h.cmd("upgrade", null);
        h.ack(102);
        h.advance(Duration.ofSeconds(120));
        String message = "Upgrade to generation 2 failed: not fully acked after 120s (1/2 acked). Sent USR2 to 2 new workers; "
                + "generation 1 keeps serving (1 of 2 workers running, respawning as needed).";
        assertThat(h.os.repliesTo(c).getLast()).isEqualTo(new FakeOs.Reply(c, message, true, false));
        assertThat(h.os.logs).contains("ERROR " + message);
        assertThat(h.os.happened(Happening.UpgradeEnded.class)).containsExactly(
                new Happening.UpgradeEnded(2, "failed", message, Duration.ofSeconds(120).toNanos()));

        Harness one = acked(cfg(1, 1, -1));
        Object d = one.cmd("upgrade", null);
        one.advance(Duration.ofSeconds(120));
        assertThat(one.last(d)).endsWith("(0/1 acked). Sent USR2 to 1 new worker; "
                + "generation 1 keeps serving (1 of 1 workers running, respawning as needed).");
    }

    @Test
    void stateShowsTheUpgradeInProgressAndTheLastOutcome() {
        Harness h = acked(cfg(2, 1, -1));
        long startedWall = h.os.currentTimeMillis();
        Object c = h.cmd("upgrade_fleet", null);
        assertThat(h.os.repliesTo(c)).extracting(FakeOs.Reply::message).startsWith("Upgrading fleet, as commanded",
                "Starting fleet upgrade from generation 1 to generation 2 (2 workers)");
        java.util.Map<String, Object> inProgress = new java.util.LinkedHashMap<>();
        inProgress.put("generation", 2);
        inProgress.put("mode", "fleet");
        inProgress.put("outcome", "in progress");
        inProgress.put("started_at", dev.einhyrningsins.json.Json.timestamp(startedWall));
        inProgress.put("ended_at", null);
        inProgress.put("message", null);
        assertThat(h.sup.state().get("upgrading")).isEqualTo(inProgress);
        assertThat(h.sup.state().get("last_upgrade")).isEqualTo(inProgress);
        h.advance(Duration.ofSeconds(3));
        for (int pid : newGen(h, 2)) h.ack(pid);
        java.util.Map<String, Object> done = new java.util.LinkedHashMap<>(inProgress);
        done.put("outcome", "done");
        done.put("ended_at", dev.einhyrningsins.json.Json.timestamp(startedWall + 3000));
        done.put("message", "Upgrade done");
        assertThat(h.sup.state().get("upgrading")).isNull();
        assertThat(h.sup.state().get("last_upgrade")).isEqualTo(done);
        assertThat(h.os.happened(Happening.UpgradeEnded.class)).singleElement()
                .extracting(Happening.UpgradeEnded::outcome).isEqualTo("done");
    }

    @Test
    void oldWorkersThatAreNotReadyGoFirst() {
        Harness h = new Harness(cfg(3, 1, -1));
        h.ack(100);
        h.ack(101);
        h.cmd("upgrade", null);
        h.ack(103);
        assertThat(h.os.signalled("USR2")).as("102 never acked: it serves nobody").containsExactly(102);
        h.ack(104);
        assertThat(h.os.signalled("USR2")).as("then the oldest").containsExactly(102, 100);
    }

    @Test
    void anUpgradeThatWaitedForAReloadStartsWithItsNoteToAFollower() {
        Harness h = acked(cfg(1, 1, -1));
        Object follower = new Object();
        h.handle(new Event.UpgradeRequested(false, follower, true, "Reloaded the supervisor; now upgrading"));
        assertThat(h.os.repliesTo(follower)).extracting(FakeOs.Reply::message).startsWith(
                "Reloaded the supervisor; now upgrading",
                "Starting smooth upgrade from generation 1 to generation 2 (1 workers, at most 1 unacked at once)");
        assertThat(newGen(h, 2)).containsExactly(101);

        Harness quiet = acked(cfg(1, 1, -1));
        Object oneShot = new Object();
        quiet.handle(new Event.UpgradeRequested(true, oneShot, false, "Reloaded the supervisor; now upgrading"));
        assertThat(quiet.os.repliesTo(oneShot)).as("answered by the shell already").isEmpty();
        assertThat(newGen(quiet, 2)).containsExactly(101);

        Harness noNote = acked(cfg(1, 1, -1));
        Object plain = new Object();
        noNote.handle(new Event.UpgradeRequested(false, plain, true, null));
        assertThat(noNote.os.repliesTo(plain)).first().extracting(FakeOs.Reply::message).asString()
                .startsWith("Starting smooth upgrade");
    }

    @Test
    void anUpgradeReloadsTheSupervisorFirstWhenItsInstallationChanged() {
        Harness h = acked(cfg(1, 1, -1));
        h.os.installationChanged = true;
        h.os.reloading = true;
        Object c = h.cmd("upgrade", null);
        assertThat(h.os.repliesTo(c)).containsExactly(
                new FakeOs.Reply(c, "Upgrading smoothly, as commanded", false, true),
                new FakeOs.Reply(c, "The supervisor's own installation changed on disk since it started: reloading the supervisor first",
                        false, true));
        Object d = h.cmdNoId("upgrade_fleet");
        assertThat(h.os.repliesTo(d)).containsExactly(new FakeOs.Reply(d, "Upgrading fleet, as commanded", true, true));
        h.handle(new SignalReceived("HUP"));
        assertThat(h.os.reloads).containsExactly(new FakeOs.Reload(c, true, "upgrade"),
                new FakeOs.Reload(d, false, "upgrade_fleet"), new FakeOs.Reload(null, false, "upgrade"));
        assertThat(h.os.logs).contains("INFO The supervisor's installation changed on disk: reloading it before the upgrade");
        assertThat(h.os.spawns).as("the upgrade waits for the new supervisor").hasSize(1);
    }

    @Test
    void aStoppingSupervisorNeitherUpgradesNorReloads() {
        Harness h = acked(cfg(1, 1, -1));
        h.os.installationChanged = true;
        h.os.reloading = true;
        h.cmd("die", null);
        Object c = h.cmd("upgrade", null);
        assertThat(h.os.repliesTo(c)).containsExactly(new FakeOs.Reply(c, "Not upgrading: the supervisor is stopping", true, false));
        h.handle(new SignalReceived("HUP"));
        assertThat(h.os.reloads).isEmpty();
        assertThat(h.os.spawns).hasSize(1);
        assertThat(h.os.happened(Happening.UpgradeStarted.class)).isEmpty();
    }

    @Test
    void missingProgramAbortsAtOnce() {
        Harness h = acked(cfg(2, 1, -1));
        h.os.failSpawns = true;
        Object c = h.cmd("upgrade", null);
        assertThat(h.last(c)).contains("could not start the program: /srv/app: No such file or directory");
        assertThat(h.os.repliesTo(c).getLast().ok()).isFalse();
        assertThat(h.os.signals).isEmpty();
    }

    @Test
    void countChangeMidUpgradeChangesTheNewTarget() {
        Harness h = acked(cfg(2, 4, -1));
        Object c = h.cmd("upgrade", null);
        assertThat(newGen(h, 2)).hasSize(2);
        h.cmd("inc", null);
        assertThat(newGen(h, 2)).hasSize(3);
        for (int pid : newGen(h, 2)) h.ack(pid);
        assertThat(h.last(c)).isEqualTo("Upgrade done");
        assertThat(h.os.signalled("USR2")).containsExactly(100, 101);

        Object d = h.cmd("upgrade", null);
        h.cmd("set_workers", List.of("1"));
        List<Integer> gen3 = newGen(h, 3);
        assertThat(gen3).hasSize(3);
        assertThat(h.os.signalled("USR2")).containsAll(gen3.subList(1, 3));
        h.ack(gen3.getFirst());
        assertThat(h.last(d)).isEqualTo("Upgrade done");
    }

    @Test
    void clientWithoutIdGetsOnlyTheFirstLine() {
        Harness h = acked(cfg(1, 1, -1));
        Object c = h.cmdNoId("upgrade");
        h.ack(101);
        assertThat(h.os.repliesTo(c)).containsExactly(
                new FakeOs.Reply(c, "Upgrading smoothly, as commanded", true, true));
    }

    @Test
    void hupStartsASmoothUpgrade() {
        Harness h = acked(cfg(1, 1, -1));
        h.handle(new SignalReceived("HUP"));
        assertThat(newGen(h, 2)).hasSize(1);
    }

    @Test
    void stopDuringAnUpgradeEndsTheStreamWithAFailure() {
        Harness h = acked(cfg(1, 1, -1));
        Object c = h.cmd("upgrade", null);
        h.handle(new SignalReceived("TERM"));
        assertThat(h.os.repliesTo(c).getLast()).isEqualTo(
                new FakeOs.Reply(c, "Upgrade interrupted: the supervisor is stopping", true, false));
        assertThat(h.os.signalled("USR2")).containsExactly(100, 101);
        assertThat(h.os.happened(Happening.UpgradeEnded.class)).singleElement()
                .extracting(Happening.UpgradeEnded::outcome).isEqualTo("interrupted");
        assertThat(h.sup.state().get("last_upgrade")).extracting("outcome").isEqualTo("failed");
    }

    @Test
    void upgradeMaxFailuresCountsAckTimeouts() {
        Config cfg = new Config(1, S1, new AckMode.Manual(), Duration.ofSeconds(2), Duration.ZERO, "USR2",
                1, -1, Duration.ZERO, 2, 1);
        Harness h = new Harness(cfg);
        h.ack(100);
        Object c = h.cmd("upgrade", null);
        h.advance(Duration.ofSeconds(2));
        h.advance(Duration.ofSeconds(2));
        assertThat(h.last(c)).contains("2 consecutive new workers failed before acking");
    }
}
