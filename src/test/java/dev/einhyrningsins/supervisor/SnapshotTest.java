package dev.einhyrningsins.supervisor;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The core handed to the next process of itself: everything survives, timers go on, the upgrade finishes. */
class SnapshotTest {
    static final ObjectMapper JSON = new ObjectMapper();

    /** Snapshot, through JSON as the shell sends it, restored over {@code os}. */
    static Supervisor reload(Harness h, FakeOs os, Map<Object, String> refs, Map<String, Object> clients) throws Exception {
        Snapshot s = h.sup.snapshot(c -> refs.computeIfAbsent(c, k -> "c" + refs.size()));
        Snapshot read = JSON.readValue(JSON.writeValueAsBytes(s), Snapshot.class);
        assertThat(read).isEqualTo(s);
        return Supervisor.restore(read, os, "test", Map.of("pid", 42), clients::get);
    }

    @Test
    void everyWorkerTimerUpgradeAndTheHistorySurviveAndGoOn() throws Exception {
        Harness h = new Harness(Config.defaults(2).with(Settings.Setting.NUMBER, 3)
                .with(Settings.Setting.ACK_MODE, new Config.AckMode.Manual())
                .with(Settings.Setting.SIGNAL_TIMEOUT, Duration.ofSeconds(10)));
        h.ack(100);
        h.ack(101);
        h.handle(new Event.Command("worker:ping", null, 100, null, "p1", false, new Object()));
        h.handle(new Event.WorkerNotified(101, false, false, "busy"));
        h.exit(102); // a death before ack: backoff, recent exits
        h.cmd("config", List.of("seconds=3"));
        Object follower = h.cmd("upgrade", null);
        for (FakeOs.Spawn spawn : List.copyOf(h.os.spawns)) {
            if (spawn.generation() == 2) h.ack(spawn.pid()); // two new acked: the oldest old one retired, its kill timer running
        }
        assertThat(h.os.signalled("USR2")).hasSize(1);
        Map<String, Object> before = h.sup.state();

        FakeOs os = new FakeOs();
        os.now = h.os.now;
        os.nextPid = h.os.nextPid;
        Map<Object, String> refs = new java.util.IdentityHashMap<>();
        Object sameFollower = new Object();
        Map<String, Object> clients = new java.util.HashMap<>();
        Supervisor next = reload(h, os, refs, clients);
        assertThat(refs).containsKey(follower);
        clients.put(refs.get(follower), sameFollower);
        next = reload(h, os, refs, clients);
        next.resume();
        assertThat(next.state()).isEqualTo(before);

        // the kill timer of the retired old worker still runs from when it was signalled
        os.now += Duration.ofSeconds(10).toNanos() - 1;
        next.tick();
        assertThat(os.signalled("KILL")).isEmpty();
        os.now += 1;
        next.tick();
        assertThat(os.signalled("KILL")).hasSize(1);
        // and the upgrade finishes for the follower that came along
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> workers = (List<Map<String, Object>>) next.state().get("workers");
        List<Integer> unacked = workers.stream().filter(w -> w.get("acked").equals(false) && w.get("generation").equals(2))
                .map(w -> (Integer) w.get("pid")).toList();
        assertThat(unacked).hasSize(1);
        new Harness(next, os, next.snapshot(c -> null).pids()).ack(unacked.getFirst());
        assertThat(os.repliesTo(sameFollower)).last().extracting(FakeOs.Reply::message).isEqualTo("Upgrade done");
        assertThat(next.config().respawnInterval()).isEqualTo(Duration.ofSeconds(3));
    }

    @Test
    void healthSurvivesAndAChecksInFlightStartsAgainInTheNextProcess() throws Exception {
        Harness h = new Harness(HealthTest.manual(2).with(Settings.Setting.READY_CHECK, "test -f ready")
                .with(Settings.Setting.LIVE_CHECK, "test -f live").with(Settings.Setting.LIVE_FAILURES, 2)
                .with(Settings.Setting.PING_TIMEOUT, Duration.ofSeconds(30)));
        HealthTest.ackAndPass(h, 100);
        h.ack(101); // its ready check is in flight at the exec
        h.handle(new Event.Command("worker:ping", null, 100, null, "p1", false, new Object()));
        h.runToNextDeadline();
        HealthTest.finish(h, 100, CheckKind.LIVE, false, "refused");
        assertThat(h.os.runningCheck(101, CheckKind.READY)).isNotNull();
        Map<String, Object> before = HealthTest.worker(h, 100);

        FakeOs os = new FakeOs();
        os.now = h.os.now;
        os.nextPid = h.os.nextPid;
        Supervisor next = reload(h, os, new java.util.IdentityHashMap<>(), Map.of());
        next.resume();
        Harness after = new Harness(next, os, h.os.alive);
        assertThat(HealthTest.worker(after, 100)).isEqualTo(before);
        assertThat(HealthTest.worker(after, 101)).containsEntry("phase", "checking");
        assertThat(next.config().health().liveFailures()).isEqualTo(2);
        assertThat(next.config().health().readyCheck()).isEqualTo("test -f ready");

        // the check that did not cross the exec starts again, and its pass acks the worker
        next.tick();
        assertThat(os.runningCheck(101, CheckKind.READY)).isNotNull();
        HealthTest.finish(after, 101, CheckKind.READY, true, "ok");
        assertThat(HealthTest.worker(after, 101)).containsEntry("phase", "acked");
        // the live failures in a row go on counting: one more makes the worker sick
        while (os.runningCheck(100, CheckKind.LIVE) == null) after.runToNextDeadline();
        HealthTest.finish(after, 100, CheckKind.LIVE, false, "refused");
        assertThat(HealthTest.worker(after, 100)).containsEntry("phase", "sick");
        // and the ping watchdog still runs from the ping the previous process saw
        FakeOs silent = new FakeOs();
        silent.now = h.os.now;
        silent.nextPid = h.os.nextPid;
        Supervisor third = reload(h, silent, new java.util.IdentityHashMap<>(), Map.of());
        third.resume();
        silent.now += Duration.ofSeconds(31).toNanos();
        third.tick();
        assertThat(HealthTest.worker(new Harness(third, silent, h.os.alive), 100).get("sick")).asString().contains("worker:ping");
    }
}
