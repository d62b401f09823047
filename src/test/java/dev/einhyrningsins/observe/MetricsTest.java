package dev.einhyrningsins.observe;

import static org.assertj.core.api.Assertions.assertThat;

import dev.einhyrningsins.control.ControlServer;
import dev.einhyrningsins.supervisor.CheckKind;
import dev.einhyrningsins.supervisor.Gauges;
import dev.einhyrningsins.supervisor.Happening;
import dev.einhyrningsins.supervisor.Happening.SignalReason;
import dev.einhyrningsins.supervisor.Happening.SpawnReason;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/** The metrics from happenings, read back by the Prometheus client's OpenMetrics parser. */
class MetricsTest {
    long now = 5_000_000_000L;
    ControlServer.Counts control = new ControlServer.Counts(7, 2, 1, 3, 4);
    int watchers = 1;
    final Metrics metrics = new Metrics("1.2.3", () -> now, now, 1_700_000_000_250L, () -> control, () -> watchers);
    Gauges gauges = new Gauges(0, 1, false, false, false, Map.of());

    OpenMetrics parsed() {
        return OpenMetrics.parse(metrics.render(gauges));
    }

    static long nanos(double seconds) {
        return (long) (seconds * 1e9);
    }

    @Test
    void aFreshSupervisorIsValidOpenMetricsWithUnitsTypesAndZeros() {
        now += Duration.ofSeconds(90).toNanos();
        OpenMetrics m = parsed();
        assertThat(metrics.render(gauges)).endsWith("# EOF\n");
        assertThat(m.families().get("einhyrningsins_build")).isEqualTo(new OpenMetrics.Family("info", "", "The running einhyrningsins."));
        assertThat(m.samples()).filteredOn(s -> s.name().equals("einhyrningsins_build_info")).singleElement()
                .satisfies(s -> assertThat(s.labels()).containsEntry("version", "1.2.3").containsKey("java"));
        assertThat(m.value("einhyrningsins_uptime_seconds")).isEqualTo(90.0);
        assertThat(m.value("einhyrningsins_start_time_seconds")).isEqualTo(1_700_000_000.25);
        assertThat(m.families().get("einhyrningsins_ack_latency_seconds").type()).isEqualTo("histogram");
        assertThat(m.families().get("einhyrningsins_ack_latency_seconds").unit()).isEqualTo("seconds");
        assertThat(m.families().get("einhyrningsins_spawns").type()).isEqualTo("counter");
        for (SpawnReason r : SpawnReason.values()) {
            assertThat(m.samples()).anyMatch(s -> s.name().equals("einhyrningsins_spawns_total")
                    && s.labels().get("reason").equals(r.name().toLowerCase()) && s.value() == 0);
        }
        assertThat(m.value("einhyrningsins_upgrades_total", "outcome", "failed")).isZero();
        assertThat(m.value("einhyrningsins_control_connections_total")).isEqualTo(7);
        assertThat(m.value("einhyrningsins_control_connections_open")).isEqualTo(2);
        assertThat(m.value("einhyrningsins_control_refusals_total", "reason", "user")).isEqualTo(1);
        assertThat(m.value("einhyrningsins_control_refusals_total", "reason", "limit")).isEqualTo(3);
        assertThat(m.value("einhyrningsins_control_clients_dropped_total")).isEqualTo(4);
        assertThat(m.value("einhyrningsins_watchers")).isEqualTo(1);
        assertThat(m.families().keySet()).allMatch(n -> n.startsWith("einhyrningsins_"));
    }

    @Test
    void theControlClientsBoundsEachHaveTheirCounter() {
        control = new ControlServer.Counts(7, 2, 1, 3, 12, 5, 6, 8, 9000, 16L << 20);
        OpenMetrics m = parsed();
        assertThat(m.value("einhyrningsins_control_clients_dropped_total")).as("budget drops and displaced ones included")
                .isEqualTo(12);
        assertThat(m.value("einhyrningsins_control_budget_drops_total")).isEqualTo(5);
        assertThat(m.value("einhyrningsins_control_displaced_total")).isEqualTo(6);
        assertThat(m.value("einhyrningsins_control_accept_pauses_total")).isEqualTo(8);
        assertThat(m.value("einhyrningsins_control_held_bytes")).isEqualTo(9000);
        assertThat(m.value("einhyrningsins_control_budget_bytes")).isEqualTo(16 << 20);
    }

    @Test
    void theLoopsWakeUpsAreACounterOnceWiredAndAbsentBefore() {
        assertThat(parsed().families()).doesNotContainKey("einhyrningsins_loop_wakeups");
        long[] wakeUps = {41};
        metrics.wakeUps(() -> wakeUps[0]);
        assertThat(parsed().value("einhyrningsins_loop_wakeups_total")).isEqualTo(41);
        wakeUps[0]++;
        OpenMetrics m = parsed();
        assertThat(m.value("einhyrningsins_loop_wakeups_total")).isEqualTo(42);
        assertThat(m.families().get("einhyrningsins_loop_wakeups").type()).isEqualTo("counter");
    }

    @Test
    void theGaugesAreTheCoresStateAsItIsWhateverHappeningsWereSeen() {
        // a supervisor that took over from a previous process (reload) saw no Spawned for its
        // workers: the gauges still show them, read from the core when rendered
        gauges = new Gauges(3, 2, true, false, false, new TreeMap<>(Map.of(1, new int[] {0, 0, 1}, 2, new int[] {1, 2, 0})));
        OpenMetrics m = parsed();
        assertThat(m.value("einhyrningsins_workers", "generation", "1", "state", "retiring")).isEqualTo(1);
        assertThat(m.value("einhyrningsins_workers", "generation", "1", "state", "acked")).isZero();
        assertThat(m.value("einhyrningsins_workers", "generation", "2", "state", "unacked")).isEqualTo(1);
        assertThat(m.value("einhyrningsins_workers", "generation", "2", "state", "acked")).isEqualTo(2);
        assertThat(m.value("einhyrningsins_workers_target")).isEqualTo(3);
        assertThat(m.value("einhyrningsins_generation")).isEqualTo(2);
        assertThat(m.value("einhyrningsins_ready")).isEqualTo(1);
        assertThat(m.value("einhyrningsins_upgrading")).isZero();
        assertThat(m.value("einhyrningsins_stopping")).isZero();

        gauges = new Gauges(3, 2, false, true, true, Map.of());
        metrics.accept(new Happening.Spawned(12, 2, 2, SpawnReason.UPGRADE)); // counted, not a worker of the gauge
        m = parsed();
        assertThat(m.samples()).noneMatch(s -> s.name().equals("einhyrningsins_workers"));
        assertThat(m.value("einhyrningsins_upgrading")).isEqualTo(1);
        assertThat(m.value("einhyrningsins_stopping")).isEqualTo(1);
        assertThat(m.value("einhyrningsins_ready")).isZero();
        assertThat(m.value("einhyrningsins_spawns_total", "reason", "upgrade")).isEqualTo(1);
    }

    @Test
    void everyCounterAndHistogramMovesWithItsHappening() {
        record Step(Happening happening, String sample, String... labels) {}
        List<Step> steps = List.of(
                new Step(new Happening.Spawned(20, 0, 1, SpawnReason.RESTART), "einhyrningsins_spawns_total", "reason", "restart"),
                new Step(new Happening.Spawned(21, 1, 1, SpawnReason.REPLACE), "einhyrningsins_spawns_total", "reason", "replace"),
                new Step(new Happening.SpawnFailed(1, "no such file"), "einhyrningsins_spawn_failures_total"),
                new Step(new Happening.Acked(20, 0, 1, nanos(0.2)), "einhyrningsins_acks_total"),
                new Step(new Happening.Acked(21, 1, 1, nanos(0.2)), "einhyrningsins_ack_latency_seconds_bucket", "le", "0.25"),
                new Step(new Happening.Acked(22, 2, 1, nanos(40)), "einhyrningsins_ack_latency_seconds_count"),
                new Step(new Happening.Signalled(20, "KILL", SignalReason.KILL), "einhyrningsins_signals_total", "reason", "kill"),
                new Step(new Happening.Exited(20, 0, 1, "killed by SIGKILL", true, 9, true, true, true, false, nanos(31)),
                        "einhyrningsins_worker_exits_total", "cause", "killed", "code", "KILL", "expected", "true"),
                new Step(new Happening.Exited(21, 1, 1, "exited with status 0", false, 0, false, true, false, true, nanos(0.5)),
                        "einhyrningsins_worker_exits_total", "cause", "ack_timeout", "code", "0"),
                new Step(new Happening.Exited(22, 2, 1, "exited with status 3", false, 3, true, false, false, false, -1),
                        "einhyrningsins_worker_exits_total", "cause", "exit", "code", "3", "expected", "false"),
                new Step(new Happening.Exited(23, 3, 1, "killed by SIGSEGV", true, 11, true, false, false, false, -1),
                        "einhyrningsins_worker_exits_total", "cause", "signal", "code", "SEGV"),
                new Step(new Happening.Exited(24, 4, 1, "exited with status 0", false, 0, true, true, false, false, nanos(1)),
                        "einhyrningsins_drain_seconds_count"),
                new Step(new Happening.UpgradeStarted(2, false, 1), "einhyrningsins_upgrades_started_total"),
                new Step(new Happening.UpgradeEnded(2, "done", "Upgrade done", nanos(3)), "einhyrningsins_upgrades_total",
                        "outcome", "done"),
                new Step(new Happening.UpgradeEnded(3, "failed", "Upgrade to generation 3 failed", nanos(120)),
                        "einhyrningsins_upgrade_duration_seconds_bucket", "outcome", "failed", "le", "120.0"),
                new Step(new Happening.UpgradeEnded(4, "interrupted", "Upgrade interrupted", nanos(1)),
                        "einhyrningsins_upgrade_duration_seconds_count", "outcome", "interrupted"),
                new Step(new Happening.ConfigChanged(List.of("seconds=2 (was 1)")), "einhyrningsins_config_changes_total"),
                new Step(new Happening.CheckFinished(30, 0, 1, CheckKind.READY, true, "passed", nanos(0.02), "ok"),
                        "einhyrningsins_checks_total", "kind", "ready", "result", "passed"),
                new Step(new Happening.CheckFinished(30, 0, 1, CheckKind.LIVE, false, "exited with status 22", nanos(0.3), null),
                        "einhyrningsins_checks_total", "kind", "live", "result", "failed"),
                new Step(new Happening.CheckFinished(30, 0, 1, CheckKind.LIVE, true, "passed", nanos(0.004), null),
                        "einhyrningsins_check_duration_seconds_bucket", "kind", "live", "le", "0.005"),
                new Step(new Happening.WorkerSick(30, 0, 1, Happening.SickCause.RSS, "its RSS of 600 MiB is over 512 MiB"),
                        "einhyrningsins_workers_sick_total", "cause", "rss"),
                new Step(new Happening.WorkerSick(31, 1, 1, Happening.SickCause.PING_TIMEOUT, "no worker:ping for 5s"),
                        "einhyrningsins_workers_sick_total", "cause", "ping_timeout"),
                new Step(new Happening.Recycled(30, 0, 1, "its RSS of 600 MiB is over 512 MiB"),
                        "einhyrningsins_workers_recycled_total"),
                new Step(new Happening.ListenersUnused(40, 0, 2, false, true),
                        "einhyrningsins_workers_without_listeners_total", "when", "before_ack"),
                new Step(new Happening.ListenersUnused(41, 1, 2, true, false),
                        "einhyrningsins_workers_without_listeners_total", "when", "acked"));
        for (Step step : steps) {
            double before = parsed().value(step.sample(), step.labels());
            metrics.accept(step.happening());
            assertThat(parsed().value(step.sample(), step.labels())).as("%s after %s", step.sample(), step.happening())
                    .isGreaterThan(before);
        }
        OpenMetrics m = parsed();
        assertThat(m.value("einhyrningsins_ack_latency_seconds_sum")).isCloseTo(40.4, org.assertj.core.data.Offset.offset(1e-9));
        assertThat(m.value("einhyrningsins_ack_latency_seconds_bucket", "le", "+Inf")).isEqualTo(3);
        assertThat(m.value("einhyrningsins_drain_seconds_sum")).isEqualTo(32.5);
        assertThat(m.value("einhyrningsins_upgrade_duration_seconds_sum", "outcome", "failed")).isEqualTo(120.0);
        assertThat(m.value("einhyrningsins_check_duration_seconds_count", "kind", "live")).isEqualTo(2);
    }

    @Test
    void labelValuesAreEscaped() {
        assertThat(Metrics.labels("a", "x\"y\\z\nw")).isEqualTo("a=\"x\\\"y\\\\z\\nw\"");
    }

    @Test
    void workersWithoutTheirSocketsAreCountedByWhenAndStartAtZero() {
        OpenMetrics m = parsed();
        assertThat(m.families().get("einhyrningsins_workers_without_listeners").type()).isEqualTo("counter");
        assertThat(m.value("einhyrningsins_workers_without_listeners_total", "when", "before_ack")).isZero();
        assertThat(m.value("einhyrningsins_workers_without_listeners_total", "when", "acked")).isZero();
        metrics.accept(new Happening.ListenersUnused(40, 0, 2, false, true));
        metrics.accept(new Happening.ListenersUnused(42, 0, 2, false, false));
        metrics.accept(new Happening.ListenersUnused(41, 1, 2, true, false));
        m = parsed();
        assertThat(m.value("einhyrningsins_workers_without_listeners_total", "when", "before_ack")).isEqualTo(2);
        assertThat(m.value("einhyrningsins_workers_without_listeners_total", "when", "acked")).isEqualTo(1);
    }
}
