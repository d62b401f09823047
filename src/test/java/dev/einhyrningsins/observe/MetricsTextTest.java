package dev.einhyrningsins.observe;

import static org.assertj.core.api.Assertions.assertThat;

import dev.einhyrningsins.control.ControlServer;
import dev.einhyrningsins.supervisor.CheckKind;
import dev.einhyrningsins.supervisor.Gauges;
import dev.einhyrningsins.supervisor.Happening;
import dev.einhyrningsins.supervisor.Happening.SignalReason;
import dev.einhyrningsins.supervisor.Happening.SpawnReason;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * The exposition as text, line by line, without a parser process: every sample follows the
 * TYPE and HELP of its family, and the values land in the buckets and labels they belong to.
 * (MetricsTest reads the same text with the Prometheus client's own parser.)
 */
class MetricsTextTest {
    final Metrics metrics = new Metrics("1.2.3", () -> 7_000_000_000L, 5_000_000_000L, 1_700_000_000_250L,
            () -> new ControlServer.Counts(7, 2, 1, 3, 4), () -> 1);
    /** The core's state as it hands it over with the metrics command: one acked worker in each of two generations. */
    Gauges gauges = new Gauges(2, 2, true, false, false, new TreeMap<>(Map.of(1, new int[] {0, 1, 0}, 2, new int[] {0, 1, 0})));

    String render() {
        return metrics.render(gauges);
    }

    /** Every sample line by its name and labels, in order. */
    static Map<String, String> samples(String text) {
        Map<String, String> m = new LinkedHashMap<>();
        for (String line : text.lines().toList()) {
            if (line.startsWith("#")) continue;
            int space = line.lastIndexOf(' ');
            m.put(line.substring(0, space), line.substring(space + 1));
        }
        return m;
    }

    static long nanos(double seconds) {
        return (long) (seconds * 1e9);
    }

    void feed() {
        metrics.accept(new Happening.Spawned(10, 0, 1, SpawnReason.START));
        metrics.accept(new Happening.Spawned(11, 1, 1, SpawnReason.START));
        metrics.accept(new Happening.Spawned(12, 2, 2, SpawnReason.UPGRADE));
        metrics.accept(new Happening.Acked(10, 0, 1, nanos(0.25)));
        metrics.accept(new Happening.Acked(12, 2, 2, nanos(120)));
        metrics.accept(new Happening.Signalled(11, "USR2", SignalReason.RETIRE));
        metrics.accept(new Happening.Exited(11, 1, 1, "exited with status 0", false, 0, false, true, false, false, 0));
        metrics.accept(new Happening.UpgradeEnded(2, "done", "Upgrade done", nanos(1)));
        metrics.accept(new Happening.CheckFinished(12, 2, 2, CheckKind.READY, true, "passed", nanos(0.005), null));
        metrics.accept(new Happening.WorkerSick(10, 0, 1, Happening.SickCause.AGE, "old"));
        metrics.accept(new Happening.Status(2, 2, 2, 2, false, false, true));
    }

    @Test
    void everySampleFollowsTheTypeAndHelpOfItsFamily() {
        feed();
        String family = null;
        String type = null;
        boolean help = false;
        for (String line : render().lines().toList()) {
            if (line.startsWith("# TYPE ")) {
                String[] f = line.split(" ");
                family = f[2];
                type = f[3];
                help = false;
            } else if (line.startsWith("# UNIT ")) {
                String unit = family.substring(family.lastIndexOf('_') + 1);
                assertThat(unit).as("only time and bytes have a unit, and the family's name says so").isIn("seconds", "bytes");
                assertThat(line).isEqualTo("# UNIT " + family + " " + unit);
                assertThat(help).as("a unit before the help").isFalse();
            } else if (line.startsWith("# HELP ")) {
                assertThat(line).startsWith("# HELP " + family + " ");
                assertThat(line.length()).as(line).isGreaterThan(("# HELP " + family + " ").length());
                help = true;
            } else if (!line.equals("# EOF")) {
                String name = line.split("[{ ]")[0];
                assertThat(help).as("%s has its TYPE and HELP", name).isTrue();
                List<String> names = switch (type) {
                    case "counter" -> List.of(family + "_total");
                    case "info" -> List.of(family + "_info");
                    case "histogram" -> List.of(family + "_bucket", family + "_sum", family + "_count");
                    default -> List.of(family);
                };
                assertThat(names).as("%s in family %s (%s)", name, family, type).contains(name);
            }
        }
        assertThat(render()).endsWith("\n# EOF\n");
    }

    @Test
    void valuesLandInTheirLabelsAndBuckets() {
        feed();
        Map<String, String> s = samples(render());
        assertThat(s).containsEntry("einhyrningsins_build_info{version=\"1.2.3\",java=\"" + Runtime.version() + "\"}", "1")
                .containsEntry("einhyrningsins_workers{generation=\"1\",state=\"unacked\"}", "0")
                .containsEntry("einhyrningsins_workers{generation=\"1\",state=\"acked\"}", "1")
                .containsEntry("einhyrningsins_workers{generation=\"1\",state=\"retiring\"}", "0")
                .containsEntry("einhyrningsins_workers{generation=\"2\",state=\"acked\"}", "1")
                .containsEntry("einhyrningsins_uptime_seconds", "2.0")
                .containsEntry("einhyrningsins_start_time_seconds", "1.70000000025E9")
                .containsEntry("einhyrningsins_ack_latency_seconds_bucket{le=\"0.1\"}", "0")
                .containsEntry("einhyrningsins_ack_latency_seconds_bucket{le=\"0.25\"}", "1")
                .containsEntry("einhyrningsins_ack_latency_seconds_bucket{le=\"60.0\"}", "1")
                .containsEntry("einhyrningsins_ack_latency_seconds_bucket{le=\"120.0\"}", "2")
                .containsEntry("einhyrningsins_ack_latency_seconds_bucket{le=\"+Inf\"}", "2")
                .containsEntry("einhyrningsins_ack_latency_seconds_sum", "120.25")
                .containsEntry("einhyrningsins_drain_seconds_bucket{le=\"0.1\"}", "1")
                .containsEntry("einhyrningsins_drain_seconds_count", "1")
                .containsEntry("einhyrningsins_worker_exits_total{cause=\"exit\",code=\"0\",expected=\"true\"}", "1")
                .containsEntry("einhyrningsins_upgrades_total{outcome=\"done\"}", "1")
                .containsEntry("einhyrningsins_upgrades_total{outcome=\"failed\"}", "0")
                .containsEntry("einhyrningsins_upgrade_duration_seconds_bucket{outcome=\"done\",le=\"1.0\"}", "1")
                .containsEntry("einhyrningsins_checks_total{kind=\"ready\",result=\"passed\"}", "1")
                .containsEntry("einhyrningsins_check_duration_seconds_bucket{kind=\"ready\",le=\"0.005\"}", "1")
                .containsEntry("einhyrningsins_workers_sick_total{cause=\"age\"}", "1")
                .containsEntry("einhyrningsins_workers_sick_total{cause=\"rss\"}", "0")
                .containsEntry("einhyrningsins_workers_target", "2")
                .containsEntry("einhyrningsins_ready", "1")
                .containsEntry("einhyrningsins_control_refusals_total{reason=\"user\"}", "1")
                .containsEntry("einhyrningsins_control_refusals_total{reason=\"limit\"}", "3")
                .containsEntry("einhyrningsins_watchers", "1");
    }

    double value(String sample) {
        String v = samples(render()).get(sample);
        assertThat(v).as("sample %s", sample).isNotNull();
        return Double.parseDouble(v);
    }

    @Test
    void everyCounterGaugeAndHistogramMovesWithItsHappening() {
        record Step(Happening happening, String sample) {}
        List<Step> steps = List.of(
                new Step(new Happening.Spawned(20, 0, 1, SpawnReason.RESTART), "einhyrningsins_spawns_total{reason=\"restart\"}"),
                new Step(new Happening.Spawned(21, 1, 1, SpawnReason.REPLACE), "einhyrningsins_spawns_total{reason=\"replace\"}"),
                new Step(new Happening.Spawned(22, 2, 1, SpawnReason.START), "einhyrningsins_spawns_total{reason=\"start\"}"),
                new Step(new Happening.SpawnFailed(1, "no such file"), "einhyrningsins_spawn_failures_total"),
                new Step(new Happening.Acked(20, 0, 1, nanos(0.2)), "einhyrningsins_acks_total"),
                new Step(new Happening.Acked(21, 1, 1, nanos(0.2)), "einhyrningsins_ack_latency_seconds_bucket{le=\"0.25\"}"),
                new Step(new Happening.Acked(22, 2, 1, nanos(200)), "einhyrningsins_ack_latency_seconds_bucket{le=\"+Inf\"}"),
                new Step(new Happening.Signalled(20, "KILL", SignalReason.KILL), "einhyrningsins_signals_total{signal=\"KILL\",reason=\"kill\"}"),
                new Step(new Happening.Signalled(21, "USR2", SignalReason.STOP), "einhyrningsins_signals_total{signal=\"USR2\",reason=\"stop\"}"),
                new Step(new Happening.Exited(20, 0, 1, "killed by SIGKILL", true, 9, true, true, true, false, nanos(31)),
                        "einhyrningsins_worker_exits_total{cause=\"killed\",code=\"KILL\",expected=\"true\"}"),
                new Step(new Happening.Exited(21, 1, 1, "exited with status 0", false, 0, false, true, false, true, nanos(0.5)),
                        "einhyrningsins_worker_exits_total{cause=\"ack_timeout\",code=\"0\",expected=\"true\"}"),
                new Step(new Happening.Exited(22, 2, 1, "killed by SIGSEGV", true, 11, true, false, false, false, -1),
                        "einhyrningsins_worker_exits_total{cause=\"signal\",code=\"SEGV\",expected=\"false\"}"),
                new Step(new Happening.Exited(23, 3, 1, "exited with status 0", false, 0, true, true, false, false, nanos(1)),
                        "einhyrningsins_drain_seconds_count"),
                new Step(new Happening.UpgradeStarted(2, false, 1), "einhyrningsins_upgrades_started_total"),
                new Step(new Happening.UpgradeEnded(3, "failed", "failed", nanos(120)),
                        "einhyrningsins_upgrade_duration_seconds_bucket{outcome=\"failed\",le=\"120.0\"}"),
                new Step(new Happening.UpgradeEnded(4, "interrupted", "interrupted", nanos(1)),
                        "einhyrningsins_upgrades_total{outcome=\"interrupted\"}"),
                new Step(new Happening.UpgradeEnded(5, "abandoned", "an outcome of a later version", nanos(1)),
                        "einhyrningsins_upgrades_total{outcome=\"abandoned\"}"),
                new Step(new Happening.ConfigChanged(List.of("seconds=2 (was 1)")), "einhyrningsins_config_changes_total"),
                new Step(new Happening.CheckFinished(30, 0, 1, CheckKind.LIVE, false, "exited with status 22", nanos(0.3), null),
                        "einhyrningsins_checks_total{kind=\"live\",result=\"failed\"}"),
                new Step(new Happening.CheckFinished(30, 0, 1, CheckKind.LIVE, true, "passed", nanos(0.004), null),
                        "einhyrningsins_check_duration_seconds_count{kind=\"live\"}"),
                new Step(new Happening.WorkerSick(31, 1, 1, Happening.SickCause.PING_TIMEOUT, "no worker:ping for 5s"),
                        "einhyrningsins_workers_sick_total{cause=\"ping_timeout\"}"),
                new Step(new Happening.Recycled(30, 0, 1, "old"), "einhyrningsins_workers_recycled_total"),
                new Step(new Happening.ListenersUnused(32, 1, 1, true, false),
                        "einhyrningsins_workers_without_listeners_total{when=\"acked\"}"),
                new Step(new Happening.ListenersUnused(33, 2, 1, false, true),
                        "einhyrningsins_workers_without_listeners_total{when=\"before_ack\"}"));
        for (Step step : steps) {
            Map<String, String> before = samples(render());
            double was = before.containsKey(step.sample()) ? Double.parseDouble(before.get(step.sample())) : 0;
            metrics.accept(step.happening());
            assertThat(value(step.sample())).as("%s after %s", step.sample(), step.happening()).isGreaterThan(was);
        }
        assertThat(value("einhyrningsins_ack_latency_seconds_sum")).isEqualTo(200.4, org.assertj.core.data.Offset.offset(1e-9));
        assertThat(value("einhyrningsins_ack_latency_seconds_count")).isEqualTo(3);
        assertThat(value("einhyrningsins_drain_seconds_sum")).isEqualTo(32.5);
        assertThat(value("einhyrningsins_drain_seconds_bucket{le=\"0.5\"}")).isEqualTo(1);
        assertThat(value("einhyrningsins_upgrade_duration_seconds_sum{outcome=\"failed\"}")).isEqualTo(120.0);
        assertThat(value("einhyrningsins_check_duration_seconds_sum{kind=\"live\"}")).isEqualTo(0.304, org.assertj.core.data.Offset.offset(1e-9));
        assertThat(value("einhyrningsins_control_connections_total")).isEqualTo(7);
        assertThat(value("einhyrningsins_control_connections_open")).isEqualTo(2);
        assertThat(value("einhyrningsins_control_clients_dropped_total")).isEqualTo(4);
    }

    @Test
    void theGaugesAreTheCoresStateHandedIn() {
        gauges = new Gauges(7, 3, true, true, true, new TreeMap<>(Map.of(3, new int[] {4, 5, 6})));
        assertThat(samples(render())).containsEntry("einhyrningsins_workers{generation=\"3\",state=\"unacked\"}", "4")
                .containsEntry("einhyrningsins_workers{generation=\"3\",state=\"acked\"}", "5")
                .containsEntry("einhyrningsins_workers{generation=\"3\",state=\"retiring\"}", "6")
                .containsEntry("einhyrningsins_workers_target", "7")
                .containsEntry("einhyrningsins_generation", "3")
                .containsEntry("einhyrningsins_ready", "1")
                .containsEntry("einhyrningsins_upgrading", "1")
                .containsEntry("einhyrningsins_stopping", "1")
                .doesNotContainKey("einhyrningsins_workers{generation=\"1\",state=\"acked\"}");
        feed();
        gauges = new Gauges(0, 1, false, false, false, Map.of());
        Map<String, String> s = samples(render());
        assertThat(s).as("the happenings move no gauge").containsEntry("einhyrningsins_workers_target", "0")
                .containsEntry("einhyrningsins_generation", "1")
                .containsEntry("einhyrningsins_ready", "0")
                .containsEntry("einhyrningsins_upgrading", "0")
                .containsEntry("einhyrningsins_stopping", "0");
        assertThat(s.keySet()).noneMatch(k -> k.startsWith("einhyrningsins_workers{"));
    }
}
