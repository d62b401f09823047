package dev.einhyrningsins.observe;

import static org.assertj.core.api.Assertions.assertThat;

import dev.einhyrningsins.control.ControlServer;
import dev.einhyrningsins.supervisor.CheckKind;
import dev.einhyrningsins.supervisor.Happening;
import dev.einhyrningsins.supervisor.Happening.SignalReason;
import dev.einhyrningsins.supervisor.Happening.SpawnReason;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The exposition as text, line by line, without a parser process: every sample follows the
 * TYPE and HELP of its family, and the values land in the buckets and labels they belong to.
 * (MetricsTest reads the same text with the Prometheus client's own parser.)
 */
class MetricsTextTest {
    final Metrics metrics = new Metrics("1.2.3", () -> 7_000_000_000L, 5_000_000_000L, 1_700_000_000_250L,
            () -> new ControlServer.Counts(7, 2, 1, 3, 4), () -> 1);

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
        for (String line : metrics.render().lines().toList()) {
            if (line.startsWith("# TYPE ")) {
                String[] f = line.split(" ");
                family = f[2];
                type = f[3];
                help = false;
            } else if (line.startsWith("# UNIT ")) {
                assertThat(line).as("a unit before the help").startsWith("# UNIT " + family + " ");
                assertThat(help).isFalse();
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
        assertThat(metrics.render()).endsWith("\n# EOF\n");
    }

    @Test
    void valuesLandInTheirLabelsAndBuckets() {
        feed();
        Map<String, String> s = samples(metrics.render());
        assertThat(s).containsEntry("einhyrningsins_workers{generation=\"1\",state=\"unacked\"}", "0")
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
}
