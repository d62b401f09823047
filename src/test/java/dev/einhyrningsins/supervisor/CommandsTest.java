package dev.einhyrningsins.supervisor;

import static dev.einhyrningsins.supervisor.Harness.S1;
import static org.assertj.core.api.Assertions.assertThat;

import dev.einhyrningsins.supervisor.Event.Command;
import dev.einhyrningsins.supervisor.Event.SignalReceived;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The control commands and their einhorn replies. */
class CommandsTest {
    @Test
    void setWorkersValidatesLikeEinhorn() {
        Harness h = Harness.timer(1);
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
        Harness h = Harness.timer(2);
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
    void metricsAndWatchAreServedByTheShell() {
        Harness h = Harness.timer(1);
        Object metrics = h.cmd("metrics", null);
        assertThat(h.os.repliesTo(metrics)).singleElement().satisfies(r -> {
            assertThat(r.message()).isEqualTo("metrics are not kept by this supervisor");
            assertThat(r.ok()).isFalse();
        });
        assertThat(h.last(h.cmd("watch", null))).isEqualTo("watch is not available in this supervisor");
        assertThat(Commands.help()).containsKeys("metrics", "watch");

        h.os.metricsText = "# EOF\n";
        assertThat(h.last(h.cmd("metrics", null))).isEqualTo("# EOF\n");
        h.os.watching = true;
        Object watcher = h.cmd("watch", null);
        assertThat(h.os.repliesTo(watcher)).as("the shell answers a watch").isEmpty();
        assertThat(h.os.watchers).containsExactly(watcher);
    }

    @Test
    void metricsAndStateNobodyWaitsForAreNotRendered() {
        Harness h = new Harness(Config.defaults(4).with(Settings.Setting.VERBOSITY, 0));
        h.os.metricsText = "# EOF\n";
        Object gone = new Object();
        h.os.gone.add(gone);
        h.sup.handle(new Event.Command("metrics", null, null, null, null, false, gone));
        h.sup.handle(new Event.Command("state", null, null, null, null, false, gone));
        assertThat(h.os.gauges).as("the shell was not asked for the text").isNull();
        assertThat(h.os.repliesTo(gone)).isEmpty();
        assertThat(h.os.logs).contains("DEBUG Not rendering the metrics: nobody waits for them any more",
                "DEBUG Not rendering the state: nobody waits for them any more");
        assertThat(h.last(h.cmd("metrics", null))).isEqualTo("# EOF\n");
        assertThat(h.os.gauges).isNotNull();
        assertThat(Commands.help()).containsKey("ready");
    }

    @Test
    void metricsGetTheGaugesFromTheStateAsItIsAlsoAfterARestore() throws Exception {
        Harness h = Harness.manual(3);
        h.ack(100);
        h.ack(101);
        h.cmd("upgrade", null); // generation 2 spawns
        h.cmd("metrics", null);
        Gauges g = h.os.gauges;
        assertThat(g.target()).isEqualTo(3);
        assertThat(g.generation()).isEqualTo(1);
        assertThat(g.upgrading()).isTrue();
        assertThat(g.ready()).isFalse();
        assertThat(g.workers().get(1)).containsExactly(1, 2, 0);
        assertThat(g.workers().get(2)[0]).isPositive();

        // the next process of the supervisor saw none of the spawns or acks: the same gauges
        FakeOs os = new FakeOs();
        os.now = h.os.now;
        os.nextPid = h.os.nextPid;
        Supervisor next = SnapshotTest.reload(h, os, new java.util.IdentityHashMap<>(), java.util.Map.of());
        next.resume();
        Harness after = new Harness(next, os);
        after.cmd("metrics", null);
        assertThat(os.gauges.workers().get(1)).containsExactly(1, 2, 0);
        assertThat(os.gauges.workers().get(2)).containsExactly(g.workers().get(2));
        assertThat(os.gauges.target()).isEqualTo(3);
    }

    @Test
    void incAndDec() {
        Harness h = Harness.timer(1);
        assertThat(h.last(h.cmd("dec", null))).startsWith("Can't decrease number of workers (already at 1).");
        assertThat(h.last(h.cmd("inc", null))).isEqualTo("Incrementing number of workers from 1 -> 2");
        assertThat(h.last(h.cmd("dec", null))).isEqualTo("Decrementing number of workers from 2 -> 1");
    }

    @Test
    void workerLimitIsSharedByNumberSetWorkersIncAndTtin() {
        assertThat(Config.MAX_WORKERS).isEqualTo(10_000);
        Harness h = Harness.timer(1); // the target, not thousands of fake workers: they are spawned gradually
        assertThat(h.last(h.cmd("set_workers", List.of(String.valueOf(Config.MAX_WORKERS + 1)))))
                .isEqualTo("Invalid count: '10001'. Must be an integer in [1,10000].");
        h.cmd("set_workers", List.of(String.valueOf(Config.MAX_WORKERS - 1)));
        Object inc = h.cmd("inc", null);
        assertThat(h.last(inc)).isEqualTo("Incrementing number of workers from 9999 -> 10000");
        assertThat(h.os.repliesTo(inc).getLast().ok()).isTrue();
        inc = h.cmd("inc", null);
        assertThat(h.last(inc)).isEqualTo("Can't increase number of workers (already at 10000, the limit is 10000).");
        assertThat(h.os.repliesTo(inc).getLast().ok()).isFalse();
        h.handle(new SignalReceived("TTIN"));
        assertThat(h.sup.state().get("target")).isEqualTo(Config.MAX_WORKERS);
        assertThat(h.last(h.cmd("set_workers", List.of("10000")))).isEqualTo("Worker count is already 10000.");
        assertThat(h.last(h.cmd("help", null))).contains("set_workers: Set the number of Einhorn child processes (args: N, 1..10000)");
    }

    @Test
    void signalNormalisesNamesAndRejectsUnknownOnes() {
        Harness h = Harness.timer(2);
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
        Harness h = Harness.timer(1);
        assertThat(h.last(h.cmd("quieter", null))).isEqualTo("Verbosity set to 2");
        assertThat(h.last(h.cmd("quieter", null))).isEqualTo("Verbosity set to 2");
        h.cmd("louder", null);
        assertThat(h.last(h.cmd("louder", null))).isEqualTo("Verbosity set to 0");
        assertThat(h.last(h.cmd("louder", null))).isEqualTo("Verbosity set to 0");
    }

    @Test
    void unknownAndMissingCommands() {
        Harness h = Harness.timer(1);
        String unknown = h.last(h.cmd("frobnicate", null));
        assertThat(unknown).startsWith("Unrecognized command: \"frobnicate\"\n\n");
        for (String name : Commands.help().keySet()) assertThat(unknown).contains(name + ": ");
        assertThat(h.last(h.cmd(null, null)))
                .isEqualTo("No \"command\" parameter provided; not sure what you want me to do.");
    }

    @Test
    void helpListsEveryCommand() {
        Harness h = Harness.timer(1);
        String help = h.last(h.cmd("help", null));
        assertThat(help).startsWith("You are speaking to the Einhorn command socket.");
        for (String name : List.of("ehlo", "help", "state", "inc", "dec", "set_workers", "quieter", "louder",
                "signal", "die", "worker:ack", "worker:ping", "upgrade", "upgrade_fleet", "reload")) {
            assertThat(help).contains("\n" + name + ": ");
        }
    }

    @Test
    void stateSaysWhetherAnAckedWorkerServesUntilTheStop() {
        Harness h = Harness.manual(2);
        assertThat(h.sup.state().get("serving")).isEqualTo(false);
        h.ack(100);
        assertThat(h.sup.state().get("serving")).isEqualTo(true);
        h.cmd("upgrade", null); // the old generation keeps serving during an upgrade
        assertThat(h.sup.state().get("serving")).isEqualTo(true);
        h.handle(new Event.SignalReceived("TERM"));
        assertThat(h.sup.state().get("serving")).isEqualTo(false);
    }

    @Test
    void stateShowsWorkersAndRecentExits() {
        Harness h = Harness.timer(2);
        h.advance(S1);
        h.handle(new Command("worker:ping", null, 100, null, "req-7", false, new Object()));
        h.exit(101);
        String json = h.last(h.cmd("state", null));
        assertThat(json).contains("\"pid\" : 100", "\"last_ping_id\" : \"req-7\"", "\"recent_exits\"",
                "\"status\" : \"exited with status 1\"", "\"target\" : 2");
    }

    @Test
    void ehloNamesTheUserThePidTheProgramAndTheVersion() {
        Harness h = Harness.timer(1);
        Object c = h.cmd("ehlo", null);
        assertThat(h.os.repliesTo(c)).containsExactly(new FakeOs.Reply(c, "Welcome, me! You are speaking to Einhorn Master Process 42.\n"
                + "This is einhyrningsins test (einhorn 1.0.0 protocol).\n", true, true));

        FakeOs os = new FakeOs();
        Harness named = new Harness(new Supervisor(Config.defaults(1), os, "1.2.3", Map.of("pid", 7, "command_name", "web")), os, List.of());
        Object anonymous = new Object();
        named.handle(new Command("ehlo", null, null, null, null, false, anonymous));
        assertThat(named.last(anonymous)).isEqualTo("Welcome, ! You are speaking to Einhorn Master Process 7 (web).\n"
                + "This is einhyrningsins 1.2.3 (einhorn 1.0.0 protocol).\n");
        assertThat(named.last(named.cmd("dec", null))).isEqualTo(
                "Can't decrease number of workers (already at 1).  Run kill 7 if you really want to kill einhorn.");
    }

    @Test
    void reloadIsTheShellsUnlessTheSupervisorIsStopping() {
        Harness h = Harness.timer(1);
        Object unsupported = h.cmd("reload", null);
        assertThat(h.os.repliesTo(unsupported)).containsExactly(
                new FakeOs.Reply(unsupported, "reload is not supported here", true, false));
        h.os.reloading = true;
        Object c = h.cmd("reload", null);
        assertThat(h.os.reloads).containsExactly(new FakeOs.Reload(c, true, null));
        assertThat(h.os.repliesTo(c)).as("the shell answers").isEmpty();
        assertThat(h.os.logs).contains("INFO Reloading the supervisor, as commanded");
        h.cmd("die", null);
        Object late = h.cmd("reload", null);
        assertThat(h.os.repliesTo(late)).containsExactly(new FakeOs.Reply(late, "Not reloading: the supervisor is stopping", true, false));
        assertThat(h.os.reloads).hasSize(1);
    }

    @Test
    void aWorkersPidIsANumberOrNumericTextInRange() {
        assertThat(Commands.pidOf(100)).isEqualTo(100);
        assertThat(Commands.pidOf(100L)).isEqualTo(100);
        assertThat(Commands.pidOf((long) Integer.MAX_VALUE)).isEqualTo(Integer.MAX_VALUE);
        assertThat(Commands.pidOf(1L)).isEqualTo(1);
        assertThat(Commands.pidOf(" 123 ")).isEqualTo(123);
        for (Object bad : new Object[] {0L, -5L, Integer.MAX_VALUE + 1L, "12a", "", "1234567890", 1.5, null, List.of(1)}) {
            assertThat(Commands.pidOf(bad)).as("%s", bad).isNull();
        }
        Harness h = Harness.manual(1);
        h.handle(new Command("worker:ack", null, 100L, null, null, false, new Object()));
        assertThat(h.workers().getFirst().get("acked")).isEqualTo(true);
        h.handle(new Command("worker:ack", null, 0L, null, null, false, new Object()));
        assertThat(h.os.logs).contains("ERROR Invalid worker:ack request (no pid): 0");
    }

    @Test
    void signalNeedsAtLeastOneSignalAndTellsWhatItForwarded() {
        Harness h = Harness.timer(1);
        assertThat(h.os.repliesTo(h.cmd("signal", List.of()))).singleElement().satisfies(r -> {
            assertThat(r.message()).isEqualTo("No signals given (args: SIG1 [SIG2 ...])");
            assertThat(r.ok()).isFalse();
        });
        assertThat(h.last(h.cmd("signal", "HUP"))).isEqualTo("Args must be an array");
        assertThat(h.last(h.cmd("signal", List.of(" term ")))).isEqualTo("Sent TERM to 1 worker: 100");
        assertThat(h.os.happened(Happening.Signalled.class)).containsExactly(
                new Happening.Signalled(100, "TERM", Happening.SignalReason.FORWARD));
        h.cmd("die", null);
        h.exit(100);
        assertThat(h.last(h.cmd("signal", List.of("HUP")))).isEqualTo("Sent HUP to 0 workers.");
    }

    @Test
    void helpGivesEachCommandItsOwnLine() {
        Harness h = Harness.timer(1);
        String help = h.last(h.cmd("help", null));
        assertThat(help).contains("\ndec: Decrement the number of Einhorn child processes\n",
                "\nehlo: Say hello; replies with the supervisor's pid and version\n",
                "\nworker:ack: Used by workers: report that worker PID is ready (pid: PID)\n");
        assertThat(help.lines().filter(l -> l.contains(": ")).map(l -> l.substring(0, l.indexOf(": "))).toList())
                .as("sorted by name").isSorted().containsExactlyInAnyOrderElementsOf(Commands.help().keySet());
        assertThat(Commands.help().values()).allSatisfy(text -> assertThat(text).doesNotContain("  ").doesNotEndWith(" "));
    }

    @Test
    void stateShowsEachWorkersPhaseSignalsAndChecks() {
        Harness h = Harness.manual(2);
        h.ack(100);
        h.cmd("dec", null);
        Map<String, Object> retiring = h.workers().get(1);
        assertThat(retiring).containsEntry("pid", 101).containsEntry("phase", "retiring").containsEntry("retiring", true)
                .containsEntry("said_stopping", false).containsEntry("ready_check", null).containsEntry("live_check", null)
                .containsEntry("rss_bytes", null);
        assertThat(retiring.get("signaled")).isEqualTo(List.of(Map.of("signal", "USR2",
                "at", dev.einhyrningsins.json.Json.timestamp(h.os.currentTimeMillis()))));
        assertThat(h.workers().getFirst()).containsEntry("phase", "acked").containsEntry("signaled", List.of());
    }

    @Test
    void stateRemembersTheLast32ExitsNewestFirst() {
        Harness h = Harness.timer(1);
        for (int i = 0; i < 40; i++) {
            h.exit(h.lastPid());
            h.runToNextDeadline();
        }
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> exits = (List<Map<String, Object>>) h.sup.state().get("recent_exits");
        assertThat(exits).hasSize(32);
        assertThat(exits.getFirst().get("pid")).isEqualTo(139);
        assertThat(exits.getLast().get("pid")).isEqualTo(108);
    }
}
