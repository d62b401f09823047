package dev.einhyrningsins.supervisor;

import static org.assertj.core.api.Assertions.assertThat;

import dev.einhyrningsins.supervisor.Config.AckMode;
import dev.einhyrningsins.supervisor.Event.ChildExited;
import dev.einhyrningsins.supervisor.Event.Command;
import dev.einhyrningsins.supervisor.Event.SignalReceived;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

class SupervisorTest {

    static final Duration S1 = Duration.ofSeconds(1);

    /** Drives a Supervisor over a FakeOs; every helper advances logical time only. */
    static final class H {
        final FakeOs os = new FakeOs();
        final Supervisor sup;

        H(Config cfg) {
            sup = new Supervisor(cfg, os, "test", Map.of("pid", 42));
            sup.start();
        }

        static H timer(int n) {
            return new H(Config.defaults(4).withNumber(n));
        }

        static H manual(int n) {
            return new H(Config.defaults(4).withNumber(n).withAckMode(new AckMode.Manual()));
        }

        void exit(int pid) {
            os.alive.remove(pid);
            sup.handle(new ChildExited(pid, false, "exited with status 1"));
        }

        void exitAllSignalled() {
            for (int pid : new ArrayList<>(os.alive)) {
                if (os.signals.stream().anyMatch(s -> s.pid() == pid)) exit(pid);
            }
        }

        Object cmd(String name, Object args) {
            Object client = new Object();
            sup.handle(new Command(name, args, null, "me", null, true, client));
            return client;
        }

        Object cmdNoId(String name) {
            Object client = new Object();
            sup.handle(new Command(name, null, null, "me", null, false, client));
            return client;
        }

        void ack(int pid) {
            sup.handle(new Command("worker:ack", null, pid, null, null, false, new Object()));
        }

        void advance(Duration d) {
            os.advance(d);
            sup.tick();
        }

        /** Runs the clock to the core's next deadline, as the shell's poll timeout does. */
        void runToNextDeadline() {
            long next = sup.nextDeadline();
            assertThat(next).isNotEqualTo(Long.MAX_VALUE);
            os.now = Math.max(os.now, next);
            sup.tick();
        }

        List<Integer> pids() {
            return os.spawns.stream().map(FakeOs.Spawn::pid).toList();
        }

        int lastPid() {
            return os.spawns.getLast().pid();
        }

        String last(Object client) {
            return os.repliesTo(client).getLast().message();
        }

        @SuppressWarnings("unchecked")
        List<Map<String, Object>> workers() {
            return (List<Map<String, Object>>) sup.state().get("workers");
        }
    }

    @Nested
    class Startup {
        @Test
        void spawnsAllWorkersAtOnceInDistinctSlots() {
            H h = H.timer(3);
            assertThat(h.os.spawns).extracting(FakeOs.Spawn::slot).containsExactly(0, 1, 2);
            assertThat(h.os.spawns).extracting(FakeOs.Spawn::generation).containsOnly(1);
        }

        @Test
        void timerAckAfterTheDelayOnly() {
            H h = H.timer(1);
            h.advance(Duration.ofMillis(999));
            assertThat(h.workers().getFirst().get("acked")).isEqualTo(false);
            h.advance(Duration.ofMillis(1));
            assertThat(h.workers().getFirst().get("acked")).isEqualTo(true);
        }

        @Test
        void manualModeNeedsWorkerAckWithIntOrStringPid() {
            H h = H.manual(2);
            h.advance(Duration.ofSeconds(10));
            assertThat(h.workers()).extracting(w -> w.get("acked")).containsOnly(false);
            h.ack(100);
            h.sup.handle(new Command("worker:ack", null, "101", null, null, false, new Object()));
            assertThat(h.workers()).extracting(w -> w.get("acked")).containsOnly(true);
        }

        @Test
        void zeroTimerAcksAtTheNextTickWithoutBusyLooping() {
            H h = new H(Config.defaults(4).withNumber(2).withAckMode(new AckMode.Timer(Duration.ZERO)));
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
            H h = H.timer(1);
            h.ack(100);
            assertThat(h.workers().getFirst().get("acked")).isEqualTo(false);
            assertThat(h.os.logs).anyMatch(l -> l.contains("Ignoring ACK"));
        }
    }

    @Nested
    class Respawn {
        @Test
        void crashedWorkerIsReplacedInTheLowestFreeSlot() {
            H h = H.timer(3);
            h.advance(Duration.ofSeconds(2));
            h.exit(101);
            assertThat(h.os.spawns).hasSize(4);
            assertThat(h.os.spawns.getLast().slot()).isEqualTo(1);
        }

        @Test
        void backoffGrowsByOneAndAHalfPerUnackedDeathAndCapsAtThirtySeconds() {
            H h = H.timer(1);
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
            H h = H.timer(1);
            h.exit(100);
            h.exit(101); // not yet spawned: pid 101 unknown, logged
            h.runToNextDeadline();
            assertThat(h.sup.state().get("consecutive_deaths_before_ack")).isEqualTo(1);
            h.advance(S1); // timer ack of the replacement
            assertThat(h.sup.state().get("consecutive_deaths_before_ack")).isEqualTo(0);
        }

        @Test
        void spawnFailureBacksOffInsteadOfStorming() {
            H h = H.timer(1);
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
            H h = new H(cfg);
            h.advance(Duration.ofSeconds(5));
            assertThat(h.os.signalled("USR2")).containsExactly(100);
            assertThat(h.sup.state().get("consecutive_deaths_before_ack")).isEqualTo(1);
            assertThat(h.os.spawns).hasSize(2); // replacement, not waiting for the failed one to exit
            h.exit(100); // its exit is expected now: no double count
            assertThat(h.sup.state().get("consecutive_deaths_before_ack")).isEqualTo(1);
        }
    }

    @Nested
    class Stopping {
        @Test
        void termSendsTheGracefulSignalStopsRespawningAndFinishesWhenAllAreGone() {
            H h = H.timer(2);
            h.sup.handle(new SignalReceived("TERM"));
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
            H h = H.timer(2);
            h.sup.handle(new SignalReceived("INT"));
            h.sup.handle(new SignalReceived("INT"));
            assertThat(h.os.signals).contains(new FakeOs.Sig(100, "TERM", true), new FakeOs.Sig(101, "TERM", true));
        }

        @Test
        void signalTimeoutKillsStragglers() {
            Config cfg = new Config(1, S1, new AckMode.Timer(S1), Duration.ZERO, Duration.ofSeconds(3), "USR2",
                    4, -1, Duration.ofSeconds(120), 3, 1);
            H h = new H(cfg);
            h.sup.handle(new SignalReceived("TERM"));
            h.advance(Duration.ofMillis(2999));
            assertThat(h.os.signalled("KILL")).isEmpty();
            h.runToNextDeadline();
            assertThat(h.os.signalled("KILL")).containsExactly(100);
        }

        @Test
        void dieWithoutArgsUsesTheGracefulSignal() {
            H h = H.timer(1);
            Object c = h.cmd("die", null);
            assertThat(h.last(c)).isEqualTo("Einhorn is going down! Sent USR2 to 1 worker.");
            Object d = h.cmd("die", List.of("sigterm"));
            assertThat(h.last(d)).contains("already going down");
            h.exit(100);
            assertThat(h.sup.finished()).isTrue();
        }

        @Test
        void dieWithASignal() {
            H h = H.timer(2);
            h.cmd("die", List.of("term"));
            assertThat(h.os.signalled("TERM")).containsExactly(100, 101);
        }
    }

    @Nested
    class Commands {
        @Test
        void setWorkersValidatesLikeEinhorn() {
            H h = H.timer(1);
            assertThat(h.last(h.cmd("set_workers", null))).isEqualTo("No args provided");
            assertThat(h.last(h.cmd("set_workers", "3"))).isEqualTo("Args must be an array");
            assertThat(h.last(h.cmd("set_workers", List.of(3)))).startsWith("Argument is a Integer, not a string");
            assertThat(h.last(h.cmd("set_workers", List.of("0")))).isEqualTo("Invalid count: '0'. Must be an integer in [1,10000].");
            assertThat(h.last(h.cmd("set_workers", List.of("10001")))).contains("Invalid count");
            assertThat(h.last(h.cmd("set_workers", List.of("x")))).contains("Invalid count");
            assertThat(h.os.replies).allMatch(r -> !r.ok());
        }

        @Test
        void setWorkersUpAndDownRetiresUnackedFirst() {
            H h = H.timer(2);
            h.advance(S1); // both acked
            assertThat(h.last(h.cmd("set_workers", List.of("4"))))
                    .isEqualTo("Altering worker count, 2 -> 4. Will spin up additional workers.");
            assertThat(h.os.spawns).hasSize(3); // gradual: one per interval
            h.advance(Duration.ofMillis(500));
            h.advance(Duration.ofMillis(500));
            assertThat(h.os.spawns).hasSize(4);
            h.cmd("set_workers", List.of("2"));
            // 102 acked at t+2, 103 not yet acked: 103 goes first, then the newest acked
            assertThat(h.os.signalled("USR2")).hasSize(2).contains(103);
        }

        @Test
        void incAndDec() {
            H h = H.timer(1);
            assertThat(h.last(h.cmd("dec", null))).startsWith("Can't decrease number of workers (already at 1).");
            assertThat(h.last(h.cmd("inc", null))).isEqualTo("Incrementing number of workers from 1 -> 2");
            assertThat(h.last(h.cmd("dec", null))).isEqualTo("Decrementing number of workers from 2 -> 1");
        }

        @Test
        void workerLimitIsSharedByNumberSetWorkersIncAndTtin() {
            assertThat(Config.MAX_WORKERS).isEqualTo(10_000);
            H h = H.timer(1); // the target, not thousands of fake workers: they are spawned gradually
            assertThat(h.last(h.cmd("set_workers", List.of(String.valueOf(Config.MAX_WORKERS + 1)))))
                    .isEqualTo("Invalid count: '10001'. Must be an integer in [1,10000].");
            h.cmd("set_workers", List.of(String.valueOf(Config.MAX_WORKERS - 1)));
            Object inc = h.cmd("inc", null);
            assertThat(h.last(inc)).isEqualTo("Incrementing number of workers from 9999 -> 10000");
            assertThat(h.os.repliesTo(inc).getLast().ok()).isTrue();
            inc = h.cmd("inc", null);
            assertThat(h.last(inc)).isEqualTo("Can't increase number of workers (already at 10000, the limit is 10000).");
            assertThat(h.os.repliesTo(inc).getLast().ok()).isFalse();
            h.sup.handle(new SignalReceived("TTIN"));
            assertThat(h.sup.state().get("target")).isEqualTo(Config.MAX_WORKERS);
            assertThat(h.last(h.cmd("set_workers", List.of("10000")))).isEqualTo("Worker count is already 10000.");
            assertThat(h.last(h.cmd("help", null))).contains("set_workers: Set the number of Einhorn child processes (args: N, 1..10000)");
        }

        @Test
        void signalNormalisesNamesAndRejectsUnknownOnes() {
            H h = H.timer(2);
            assertThat(h.last(h.cmd("signal", List.of("sighup", "Usr1"))))
                    .isEqualTo("Sent HUP to 2 workers: 100, 101\nSent USR1 to 2 workers: 100, 101");
            assertThat(h.last(h.cmd("signal", List.of("BOGUS")))).isEqualTo("Invalid signal: \"BOGUS\"");
            assertThat(h.os.signals).hasSize(4);
            // signal does not mark workers as retiring: nothing is respawned
            h.advance(Duration.ofSeconds(5));
            assertThat(h.os.spawns).hasSize(2);
        }

        @Test
        void quieterAndLouderClamp() {
            H h = H.timer(1);
            assertThat(h.last(h.cmd("quieter", null))).isEqualTo("Verbosity set to 2");
            assertThat(h.last(h.cmd("quieter", null))).isEqualTo("Verbosity set to 2");
            h.cmd("louder", null);
            assertThat(h.last(h.cmd("louder", null))).isEqualTo("Verbosity set to 0");
            assertThat(h.last(h.cmd("louder", null))).isEqualTo("Verbosity set to 0");
        }

        @Test
        void unknownAndMissingCommands() {
            H h = H.timer(1);
            String unknown = h.last(h.cmd("frobnicate", null));
            assertThat(unknown).startsWith("Unrecognized command: \"frobnicate\"\n\n");
            for (String name : Supervisor.COMMANDS.keySet()) assertThat(unknown).contains(name + ": ");
            assertThat(h.last(h.cmd(null, null)))
                    .isEqualTo("No \"command\" parameter provided; not sure what you want me to do.");
        }

        @Test
        void helpListsEveryCommand() {
            H h = H.timer(1);
            String help = h.last(h.cmd("help", null));
            assertThat(help).startsWith("You are speaking to the Einhorn command socket.");
            for (String name : List.of("ehlo", "help", "state", "inc", "dec", "set_workers", "quieter", "louder",
                    "signal", "die", "worker:ack", "worker:ping", "upgrade", "upgrade_fleet", "reload")) {
                assertThat(help).contains("\n" + name + ": ");
            }
        }

        @Test
        void stateShowsWorkersAndRecentExits() {
            H h = H.timer(2);
            h.advance(S1);
            h.sup.handle(new Command("worker:ping", null, 100, null, "req-7", false, new Object()));
            h.exit(101);
            String json = h.last(h.cmd("state", null));
            assertThat(json).contains("\"pid\" : 100", "\"last_ping_id\" : \"req-7\"", "\"recent_exits\"",
                    "\"status\" : \"exited with status 1\"", "\"target\" : 2");
        }
    }

    @Nested
    class Upgrades {
        static Config cfg(int n, int maxUnacked, int maxAdditional) {
            return new Config(n, S1, new AckMode.Manual(), Duration.ZERO, Duration.ZERO, "USR2",
                    maxUnacked, maxAdditional, Duration.ofSeconds(120), 3, 1);
        }

        static H acked(Config cfg) {
            H h = new H(cfg);
            for (int pid : h.pids()) h.ack(pid);
            return h;
        }

        List<Integer> newGen(H h, int generation) {
            return h.os.spawns.stream().filter(s -> s.generation() == generation).map(FakeOs.Spawn::pid).toList();
        }

        @Test
        void smoothUpgradeSpawnsUpToMaxUnackedAndRetiresOldestPerAck() {
            H h = acked(cfg(4, 2, -1));
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
            H h = acked(cfg(3, 8, 1));
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
            H h = acked(cfg(2, 1, -1));
            h.cmd("upgrade", null);
            h.ack(102);
            h.ack(103);
            assertThat(h.os.signalled("USR2")).containsExactly(100, 101);
        }

        @Test
        void fleetUpgradeSpawnsAllAndRetiresAllOldAtTheEnd() {
            H h = acked(cfg(3, 1, -1));
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
            H h = acked(cfg(2, 2, -1));
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
            H h = acked(cfg(2, 2, -1));
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
            H h = acked(cfg(2, 1, -1));
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
            H h = acked(cfg(3, 1, -1));
            h.cmd("upgrade", null);
            h.exit(103);
            h.exit(104);
            h.ack(105);
            h.exit(106);
            h.exit(107);
            assertThat(h.sup.state().get("upgrading")).isNotNull();
        }

        @Test
        void missingProgramAbortsAtOnce() {
            H h = acked(cfg(2, 1, -1));
            h.os.failSpawns = true;
            Object c = h.cmd("upgrade", null);
            assertThat(h.last(c)).contains("could not start the program: /srv/app: No such file or directory");
            assertThat(h.os.repliesTo(c).getLast().ok()).isFalse();
            assertThat(h.os.signals).isEmpty();
        }

        @Test
        void countChangeMidUpgradeChangesTheNewTarget() {
            H h = acked(cfg(2, 4, -1));
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
            H h = acked(cfg(1, 1, -1));
            Object c = h.cmdNoId("upgrade");
            h.ack(101);
            assertThat(h.os.repliesTo(c)).containsExactly(
                    new FakeOs.Reply(c, "Upgrading smoothly, as commanded", true, true));
        }

        @Test
        void hupStartsASmoothUpgrade() {
            H h = acked(cfg(1, 1, -1));
            h.sup.handle(new SignalReceived("HUP"));
            assertThat(newGen(h, 2)).hasSize(1);
        }

        @Test
        void stopDuringAnUpgradeEndsTheStreamWithAFailure() {
            H h = acked(cfg(1, 1, -1));
            Object c = h.cmd("upgrade", null);
            h.sup.handle(new SignalReceived("TERM"));
            assertThat(h.os.repliesTo(c).getLast()).isEqualTo(
                    new FakeOs.Reply(c, "Upgrade interrupted: the supervisor is stopping", true, false));
            assertThat(h.os.signalled("USR2")).containsExactly(100, 101);
        }

        @Test
        void upgradeMaxFailuresCountsAckTimeouts() {
            Config cfg = new Config(1, S1, new AckMode.Manual(), Duration.ofSeconds(2), Duration.ZERO, "USR2",
                    1, -1, Duration.ZERO, 2, 1);
            H h = new H(cfg);
            h.ack(100);
            Object c = h.cmd("upgrade", null);
            h.advance(Duration.ofSeconds(2));
            h.advance(Duration.ofSeconds(2));
            assertThat(h.last(c)).contains("2 consecutive new workers failed before acking");
        }
    }
}
