package dev.einhyrningsins.supervisor;

import static org.assertj.core.api.Assertions.assertThat;

import dev.einhyrningsins.supervisor.Config.AckMode;
import dev.einhyrningsins.supervisor.Event.SignalReceived;
import dev.einhyrningsins.supervisor.Settings.Setting;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Letting workers go within bounds: the stop's delay, --max-draining generations, --drain-timeout per worker. */
class DrainingTest {
    static final Duration S3 = Duration.ofSeconds(3);

    static Config manual(int n) {
        return Config.defaults(4).with(Setting.NUMBER, n).with(Setting.ACK_MODE, new AckMode.Manual());
    }

    static Harness acked(Config c) {
        Harness h = new Harness(c);
        for (int pid : h.pids()) h.ack(pid);
        return h;
    }

    static String ready(Harness h) {
        return h.last(h.cmd("ready", null));
    }

    /** Runs an upgrade to its end, acking every new worker; returns the new workers' pids. */
    static List<Integer> upgrade(Harness h) {
        int before = h.os.spawns.size();
        h.cmd("upgrade", null);
        for (int i = before; i < h.os.spawns.size(); i++) h.ack(h.os.spawns.get(i).pid());
        return h.os.spawns.subList(before, h.os.spawns.size()).stream().map(FakeOs.Spawn::pid).toList();
    }

    static List<FakeOs.Sig> kills(Harness h) {
        return h.os.signals.stream().filter(s -> s.signal().equals("KILL")).toList();
    }

    static List<Happening.SignalReason> killReasons(Harness h) {
        return h.os.happened(Happening.Signalled.class).stream().filter(s -> s.signal().equals("KILL"))
                .map(Happening.Signalled::reason).toList();
    }

    // ------------------------------------------------------------------ the shutdown delay

    @Test
    void termWithADelayReportsNotReadyWhileTheWorkersServeThenStops() {
        Harness h = acked(manual(2).with(Setting.SHUTDOWN_DELAY, S3));
        assertThat(ready(h)).isEqualTo("ready: 2 of 2 workers acked");
        h.sup.handle(new SignalReceived("TERM"));

        assertThat(h.os.signals).as("the workers serve on").isEmpty();
        assertThat(h.os.happened(Happening.ShutdownDelayed.class)).containsExactly(
                new Happening.ShutdownDelayed("TERM", S3.toNanos()));
        assertThat(h.os.happened(Happening.Stopping.class)).isEmpty();
        assertThat(h.os.happened(Happening.Status.class).getLast()).satisfies(s -> {
            assertThat(s.ready()).isFalse();
            assertThat(s.stopping()).isTrue();
            assertThat(s.acked()).isEqualTo(2);
        });
        assertThat(h.sup.stopping()).isTrue();
        assertThat(h.sup.state()).containsEntry("stopping", true).containsEntry("ready", false)
                .containsEntry("shutdown_delay_left", "3").containsEntry("serving", false);
        FakeOs.Reply notReady = h.os.repliesTo(h.cmd("ready", null)).getLast();
        assertThat(notReady).isEqualTo(new FakeOs.Reply(notReady.client(),
                "not ready: shutting down: the shutdown delay ends in 3s", true, false));
        assertThat(h.os.logs).contains("INFO Got SIGTERM: not ready from now on; the 2 workers keep serving for the "
                + "shutdown delay of 3s, then get USR2 (SIGTERM again stops at once)");
        h.cmd("metrics", null);
        assertThat(h.os.gauges.ready()).isFalse();
        assertThat(h.os.gauges.stopping()).isTrue();

        // a worker that dies meanwhile is replaced: the capacity stays until the stop
        h.advance(Duration.ofMillis(500));
        h.exit(100);
        h.advance(Duration.ofMillis(1500));
        assertThat(h.os.spawns).hasSize(3);
        assertThat(h.sup.state()).containsEntry("shutdown_delay_left", "1");
        h.advance(Duration.ofMillis(999));
        assertThat(h.os.signals).isEmpty();
        assertThat(h.sup.nextDeadline()).isEqualTo(h.os.now + 1_000_000);
        h.runToNextDeadline();
        assertThat(h.os.signalled("USR2")).containsExactly(101, 102);
        assertThat(h.os.logs).contains("INFO The shutdown delay is over: sending USR2 to 2 workers and exiting when they "
                + "are gone");
        assertThat(h.os.happened(Happening.Stopping.class)).hasSize(1);
        assertThat(h.sup.state()).containsEntry("shutdown_delay_left", null).containsEntry("stopping", true);
        assertThat(ready(h)).isEqualTo("not ready: stopping");
        h.exit(101);
        h.exit(102);
        assertThat(h.sup.finished()).isTrue();
    }

    @Test
    void aSecondTermSkipsTheDelayAndAThirdSendsTermToTheProcessGroups() {
        Harness h = acked(manual(2).with(Setting.SHUTDOWN_DELAY, S3));
        h.sup.handle(new SignalReceived("INT"));
        h.advance(Duration.ofMillis(100));
        h.sup.handle(new SignalReceived("TERM"));
        assertThat(h.os.signalled("USR2")).containsExactly(100, 101);
        assertThat(h.os.logs).contains("INFO Got SIGTERM again: skipping the rest of the shutdown delay; sending USR2 to 2 "
                + "workers and exiting when they are gone");
        assertThat(h.sup.nextDeadline()).as("no delay left to wait for").isEqualTo(Long.MAX_VALUE);
        h.sup.handle(new SignalReceived("TERM"));
        assertThat(h.os.signals).contains(new FakeOs.Sig(100, "TERM", true), new FakeOs.Sig(101, "TERM", true));
        h.advance(Duration.ofSeconds(10));
        assertThat(h.os.signalled("USR2")).as("the end of the delay stops nothing again").hasSize(2);
    }

    @Test
    void aTermAndTheOneAfterAreLoggedSignalledAndCountedAcrossAReload() {
        Harness h = acked(manual(2));
        h.sup.handle(new SignalReceived("TERM"));
        assertThat(h.os.logs).contains("INFO Got SIGTERM: sending USR2 to 2 workers and exiting when they are gone");
        Snapshot s = h.sup.snapshot(c -> null);
        assertThat(s.stopRequests()).isEqualTo(1);
        FakeOs os = new FakeOs();
        os.now = h.os.now;
        os.nextPid = h.os.nextPid;
        Supervisor next = Supervisor.restore(s, os, "test", Map.of("pid", 42), ref -> null);
        next.resume();
        next.handle(new SignalReceived("TERM")); // the second, in the next process: the process groups get TERM
        assertThat(os.signals).containsExactly(new FakeOs.Sig(100, "TERM", true), new FakeOs.Sig(101, "TERM", true));
        assertThat(os.logs).contains("WARN Got SIGTERM again: sending TERM to the process groups of 2 workers");
        assertThat(os.happened(Happening.Signalled.class)).extracting(Happening.Signalled::reason)
                .containsExactly(Happening.SignalReason.FORWARD, Happening.SignalReason.FORWARD);
        assertThat(new Harness(next, os).workers()).allSatisfy(w -> assertThat(w.get("signaled").toString())
                .contains("signal=USR2").contains("signal=TERM"));
    }

    @Test
    void oneFailureInARowIsALimitToo() {
        Config c = manual(1).with(Setting.READY_FAILURES, 1).with(Setting.LIVE_FAILURES, 1);
        assertThat(c.health().readyFailures()).isEqualTo(1);
        assertThat(c.health().liveFailures()).isEqualTo(1);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> new HealthConfig(null, null, Duration.ofSeconds(1),
                Duration.ofSeconds(1), 1, 0, Duration.ZERO, 0, Duration.ZERO)).isInstanceOf(IllegalArgumentException.class);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> new DrainConfig(Duration.ZERO, -1, Duration.ZERO))
                .isInstanceOf(IllegalArgumentException.class);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> new DrainConfig(Duration.ofSeconds(-1), 0, Duration.ZERO))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void dieDuringTheDelayStopsAtOnceAndUpgradesAndReloadsAreRefused() {
        Harness h = acked(manual(1).with(Setting.SHUTDOWN_DELAY, S3));
        h.sup.handle(new SignalReceived("TERM"));
        Object up = h.cmd("upgrade", null);
        assertThat(h.os.repliesTo(up)).extracting(FakeOs.Reply::message).containsExactly("Not upgrading: the supervisor is stopping");
        assertThat(h.last(h.cmd("reload", null))).isEqualTo("Not reloading: the supervisor is stopping");
        h.sup.handle(new SignalReceived("HUP"));
        assertThat(h.os.happened(Happening.UpgradeStarted.class)).isEmpty();
        assertThat(h.os.environmentReadCount).as("no upgrade reads the environment file").isZero();
        assertThat(h.last(h.cmd("die", null))).isEqualTo("Einhorn is going down! Sent USR2 to 1 worker.");
        assertThat(h.os.signalled("USR2")).containsExactly(100);
        assertThat(h.last(h.cmd("die", null))).startsWith("Einhorn is already going down");
    }

    @Test
    void anUpgradeRunningAtTermIsInterruptedAndItsWorkersServeThroughTheDelay() {
        Harness h = acked(manual(2).with(Setting.SHUTDOWN_DELAY, S3));
        Object follower = h.cmd("upgrade", null);
        h.ack(102);
        assertThat(h.os.signalled("USR2")).containsExactly(100);
        h.sup.handle(new SignalReceived("TERM"));
        assertThat(h.last(follower)).isEqualTo("Upgrade interrupted: the supervisor is stopping");
        assertThat(h.os.happened(Happening.UpgradeEnded.class)).singleElement()
                .extracting(Happening.UpgradeEnded::outcome).isEqualTo("interrupted");
        assertThat(h.os.signalled("USR2")).as("the unacked surplus goes, the acked workers serve on")
                .containsExactly(100, 103);
        h.advance(Duration.ofSeconds(3));
        assertThat(h.os.signalled("USR2")).containsExactlyInAnyOrder(100, 103, 100, 101, 102, 103);
    }

    @Test
    void aShorterDelaySetByConfigAppliesAtOnceAndNoneStopsAtOnce() {
        Harness h = acked(manual(1).with(Setting.SHUTDOWN_DELAY, Duration.ofSeconds(30)));
        h.sup.handle(new SignalReceived("TERM"));
        h.advance(Duration.ofSeconds(2));
        assertThat(h.os.signals).isEmpty();
        assertThat(h.os.repliesTo(h.cmd("config", List.of("shutdown_delay=1"))).getLast().ok()).isTrue();
        h.sup.tick();
        assertThat(h.os.signalled("USR2")).containsExactly(100);

        Harness none = acked(manual(1));
        none.sup.handle(new SignalReceived("TERM"));
        assertThat(none.os.signalled("USR2")).containsExactly(100);
        assertThat(none.os.happened(Happening.ShutdownDelayed.class)).isEmpty();
    }

    @Test
    void aDieBeforeTheFirstTermLeavesNoDelayToWaitFor() {
        Harness h = acked(manual(1).with(Setting.SHUTDOWN_DELAY, S3));
        h.cmd("die", null);
        h.sup.handle(new SignalReceived("TERM"));
        assertThat(h.os.happened(Happening.ShutdownDelayed.class)).isEmpty();
        assertThat(h.sup.state()).containsEntry("shutdown_delay_left", null);
    }

    // ------------------------------------------------------------------ the ready command

    @Test
    void readyNeedsTheTargetAckedOfAnyGenerationAndNoStop() {
        Harness h = new Harness(manual(2));
        assertThat(h.os.repliesTo(h.cmd("ready", null)).getLast().ok()).isFalse();
        assertThat(ready(h)).isEqualTo("not ready: 0 of 2 workers acked");
        h.ack(100);
        assertThat(ready(h)).isEqualTo("not ready: 1 of 2 workers acked");
        h.ack(101);
        assertThat(h.os.repliesTo(h.cmd("ready", null)).getLast().ok()).isTrue();
        h.cmd("upgrade", null);
        assertThat(ready(h)).as("the old workers serve during an upgrade").isEqualTo("ready: 2 of 2 workers acked");
        h.ack(102);
        assertThat(ready(h)).isEqualTo("ready: 2 of 2 workers acked");
        assertThat(h.sup.state()).containsEntry("ready", true);
        h.sup.handle(new SignalReceived("TERM"));
        assertThat(ready(h)).isEqualTo("not ready: stopping");
        assertThat(h.sup.state()).containsEntry("ready", false);
    }

    // ------------------------------------------------------------------ --max-draining

    @Test
    void anUpgradeThatWouldExceedMaxDrainingFirstEndsTheOldestDrainingGeneration() {
        Harness h = acked(manual(1).with(Setting.MAX_DRAINING, 1)); // workers ignore their signals here: none exits
        upgrade(h);
        assertThat(kills(h)).as("one generation draining: within the limit").isEmpty();
        upgrade(h);
        assertThat(kills(h)).containsExactly(new FakeOs.Sig(100, "KILL", true), new FakeOs.Sig(100, "KILL", false));
        assertThat(killReasons(h)).containsExactly(Happening.SignalReason.MAX_DRAINING);
        assertThat(h.os.logs).contains("WARN At most 1 generation may be retiring at once (--max-draining): ending "
                + "generation 1, 1 worker still draining, with SIGKILL to its process group");
        @SuppressWarnings("unchecked")
        Map<String, Object> first = ((List<Map<String, Object>>) h.sup.state().get("workers")).getFirst();
        assertThat(first).containsEntry("pid", 100);
        assertThat(first.get("signaled").toString()).contains("KILL");
        upgrade(h);
        assertThat(kills(h)).as("generation 2 now, once; generation 1 is ending already")
                .extracting(FakeOs.Sig::pid).containsExactly(100, 100, 101, 101);
    }

    @Test
    void aGenerationThatStillServesIsNeverEnded() {
        // generation 2 fails (its worker does not ack in time, retired) while generation 1 serves
        Harness h = acked(manual(1).with(Setting.MAX_DRAINING, 1).with(Setting.ACK_TIMEOUT, Duration.ofSeconds(5))
                .with(Setting.UPGRADE_MAX_FAILURES, 1));
        h.cmd("upgrade", null);
        h.advance(Duration.ofSeconds(5));
        assertThat(h.os.signalled("USR2")).containsExactly(101);
        assertThat(h.sup.state().get("upgrading")).isNull();
        // the next upgrade retires generation 1 and finds generation 2 draining: 2 ends, 1 does not
        h.cmd("upgrade", null);
        assertThat(kills(h)).extracting(FakeOs.Sig::pid).containsOnly(101);
    }

    @Test
    void aGenerationWithAServingWorkerCountsOnceAndAllItsRetiringWorkersEndTogether() {
        Harness h = acked(manual(2).with(Setting.MAX_DRAINING, 1));
        h.cmd("dec", null); // 101 retires, 100 serves: generation 1 serves
        upgrade(h);
        assertThat(kills(h)).as("only generation 1 retiring").isEmpty();
        upgrade(h);
        assertThat(kills(h)).extracting(FakeOs.Sig::pid).containsOnly(100, 101);
        assertThat(h.os.logs).contains("WARN At most 1 generation may be retiring at once (--max-draining): ending "
                + "generation 1, 2 workers still draining, with SIGKILL to their process groups");
    }

    @Test
    void asManyGenerationsAsTheLimitMayRetire() {
        Harness h = acked(manual(1).with(Setting.MAX_DRAINING, 2));
        upgrade(h);
        upgrade(h); // generations 1 and 2 retiring: within 2
        assertThat(kills(h)).isEmpty();
        upgrade(h); // would make three
        assertThat(kills(h)).extracting(FakeOs.Sig::pid).containsOnly(100);
    }

    @Test
    void noLimitByDefault() {
        Harness h = acked(manual(1));
        for (int i = 0; i < 5; i++) upgrade(h);
        assertThat(kills(h)).isEmpty();
        assertThat(h.sup.config().drain()).isEqualTo(DrainConfig.DEFAULTS);
    }

    // ------------------------------------------------------------------ --drain-timeout

    @Test
    void aRetiringWorkerOutlivingTheDrainTimeoutIsKilledWithItsGroupWhateverMinusTSays() {
        Harness h = acked(manual(1).with(Setting.DRAIN_TIMEOUT, Duration.ofSeconds(5))
                .with(Setting.SIGNAL_TIMEOUT, Duration.ofSeconds(60)));
        upgrade(h);
        assertThat(h.os.signalled("USR2")).containsExactly(100);
        h.advance(Duration.ofSeconds(2));
        h.cmd("signal", List.of("USR2")); // a signal sent again does not move the drain deadline
        h.advance(Duration.ofMillis(2999));
        assertThat(kills(h)).isEmpty();
        assertThat(h.sup.nextDeadline()).isEqualTo(h.os.now + 1_000_000);
        h.runToNextDeadline();
        assertThat(kills(h)).containsExactly(new FakeOs.Sig(100, "KILL", true), new FakeOs.Sig(100, "KILL", false));
        assertThat(killReasons(h)).containsExactly(Happening.SignalReason.DRAIN_TIMEOUT);
        assertThat(h.os.logs).contains("WARN Worker 100 (slot 0, generation 1) is still draining 5s after it was asked to go "
                + "(--drain-timeout); sending SIGKILL to its process group");
        h.advance(Duration.ofSeconds(120));
        assertThat(kills(h)).as("killed once: neither -t nor the drain timeout fires again").hasSize(2);
        h.exit(100);
        assertThat(h.os.happened(Happening.Exited.class)).singleElement().extracting(Happening.Exited::killed).isEqualTo(true);
    }

    @Test
    void theDrainTimeoutBoundsAStopToo() {
        Harness h = acked(manual(1).with(Setting.DRAIN_TIMEOUT, Duration.ofSeconds(5)));
        h.sup.handle(new SignalReceived("TERM"));
        h.advance(Duration.ofSeconds(5));
        assertThat(killReasons(h)).containsExactly(Happening.SignalReason.DRAIN_TIMEOUT);
        Harness off = acked(manual(1));
        off.sup.handle(new SignalReceived("TERM"));
        off.advance(Duration.ofDays(1));
        assertThat(kills(off)).as("off by default: einhorn's behaviour").isEmpty();
    }
}
