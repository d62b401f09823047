package dev.einhyrningsins.observe;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.einhyrningsins.control.ReplyTo;
import dev.einhyrningsins.supervisor.CheckKind;
import dev.einhyrningsins.supervisor.Happening;
import dev.einhyrningsins.supervisor.Happening.SignalReason;
import dev.einhyrningsins.supervisor.Happening.SpawnReason;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The watch stream: one JSON event a line, first the status, last supervisor_exit; gone watchers forgotten. */
class EventStreamTest {
    static final ObjectMapper JSON = new ObjectMapper();

    record Line(String message, boolean last, boolean ok) {}

    static final class Watcher implements ReplyTo {
        final List<Line> lines = new ArrayList<>();
        boolean open = true;

        @Override
        public void send(String message, boolean last, boolean ok) {
            lines.add(new Line(message, last, ok));
        }

        @Override
        public boolean open() {
            return open;
        }

        List<JsonNode> events() {
            return lines.stream().map(l -> {
                try {
                    return JSON.readTree(l.message());
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
            }).toList();
        }
    }

    final EventStream stream = new EventStream(() -> 1_700_000_000_123L);

    @Test
    void aWatcherGetsTheCurrentStatusThenEveryHappeningInOrder() {
        stream.accept(new Happening.Status(2, 2, 1, 1, false, false, false));
        Watcher w = new Watcher();
        stream.watch(w);
        stream.accept(new Happening.Spawned(7, 1, 2, SpawnReason.UPGRADE));
        stream.accept(new Happening.Acked(7, 1, 2, 1_500_000_000L));
        List<JsonNode> events = w.events();
        assertThat(events).extracting(e -> e.path("event").asText()).containsExactly("status", "spawned", "acked");
        assertThat(events.getFirst().toString()).isEqualTo("{\"time\":\"2023-11-14T22:13:20.123Z\",\"event\":\"status\","
                + "\"target\":2,\"workers\":2,\"acked\":1,\"generation\":1,\"upgrading\":false,\"stopping\":false,\"ready\":false}");
        assertThat(events.get(1).toString()).contains("\"pid\":7,\"slot\":1,\"generation\":2,\"reason\":\"upgrade\"");
        assertThat(events.get(2).path("latency_seconds").asDouble()).isEqualTo(1.5);
        assertThat(w.lines).allMatch(l -> !l.last() && l.ok());
    }

    @Test
    void everyHappeningHasItsEvent() {
        Watcher w = new Watcher();
        stream.watch(w);
        stream.accept(new Happening.SpawnFailed(1, "no such file"));
        stream.accept(new Happening.Signalled(7, "USR2", SignalReason.RETIRE));
        stream.accept(new Happening.Exited(7, 0, 1, "killed by SIGKILL", true, 9, true, true, true, false, 31_000_000_000L));
        stream.accept(new Happening.Exited(8, 1, 1, "exited with status 3", false, 3, false, false, false, false, -1));
        stream.accept(new Happening.UpgradeStarted(2, true, 1));
        stream.accept(new Happening.Exited(6, 1, 1, "exited with status 0", false, 0, false, true, false, false, 0));
        stream.accept(new Happening.UpgradeProgress(2, "1/2 acked"));
        stream.accept(new Happening.UpgradeEnded(2, "done", "Upgrade done", 2_000_000_000L));
        stream.accept(new Happening.UpgradeEnded(3, "failed", "Upgrade to generation 3 failed", 1_000_000_000L));
        stream.accept(new Happening.ConfigChanged(List.of("seconds=2 (was 1)")));
        stream.accept(new Happening.CheckFinished(9, 2, 2, CheckKind.LIVE, false, "timed out after 5s", 5_000_000_000L, "connecting"));
        stream.accept(new Happening.WorkerSick(9, 2, 2, Happening.SickCause.LIVE_CHECK, "its live check failed 3 times in a row"));
        stream.accept(new Happening.Recycled(9, 2, 2, "its live check failed 3 times in a row"));
        stream.accept(new Happening.ListenersUnused(10, 1, 2, false, true));
        stream.accept(new Happening.Stopping("TERM"));
        List<JsonNode> e = w.events();
        assertThat(e).extracting(n -> n.path("event").asText()).containsExactly("status", "spawn_failed", "signalled",
                "exited", "exited", "upgrade_started", "exited", "upgrade_progress", "upgrade_done", "upgrade_aborted",
                "config_changed", "check", "sick", "recycled", "listeners_unused", "stopping");
        assertThat(e.get(14).path("pid").asInt()).isEqualTo(10);
        assertThat(e.get(14).path("slot").asInt()).isEqualTo(1);
        assertThat(e.get(14).path("generation").asInt()).isEqualTo(2);
        assertThat(e.get(14).path("acked").asBoolean()).isFalse();
        assertThat(e.get(11).path("kind").asText()).isEqualTo("live");
        assertThat(e.get(11).path("passed").asBoolean()).isFalse();
        assertThat(e.get(11).path("duration_seconds").asDouble()).isEqualTo(5.0);
        assertThat(e.get(11).path("last_line").asText()).isEqualTo("connecting");
        assertThat(e.get(12).path("cause").asText()).isEqualTo("live_check");
        assertThat(e.get(13).path("reason").asText()).startsWith("its live check failed");
        assertThat(e.get(2).path("reason").asText()).isEqualTo("retire");
        assertThat(e.get(3).path("signal").asText()).isEqualTo("KILL");
        assertThat(e.get(3).path("exit_code").isNull()).isTrue();
        assertThat(e.get(3).path("killed").asBoolean()).isTrue();
        assertThat(e.get(3).path("drain_seconds").asDouble()).isEqualTo(31.0);
        assertThat(e.get(4).path("exit_code").asInt()).isEqualTo(3);
        assertThat(e.get(4).path("drain_seconds").isNull()).isTrue();
        assertThat(e.get(5).path("mode").asText()).isEqualTo("fleet");
        assertThat(e.get(6).path("drain_seconds").isNumber()).as("asked to go and gone at once").isTrue();
        assertThat(e.get(6).path("drain_seconds").asDouble()).isEqualTo(0.0);
        assertThat(e.get(9).path("outcome").asText()).isEqualTo("failed");
        assertThat(e.get(9).path("duration_seconds").asDouble()).isEqualTo(1.0);
        assertThat(e.get(10).path("applied").get(0).asText()).isEqualTo("seconds=2 (was 1)");
    }

    @Test
    void aWatcherThatIsGoneIsForgottenAndTheRestGetTheEndAsTheirFinalReply() {
        Watcher gone = new Watcher();
        Watcher stays = new Watcher();
        stream.watch(gone);
        stream.watch(stays);
        assertThat(stream.size()).isEqualTo(2);
        gone.open = false;
        stream.accept(new Happening.Stopping("TERM"));
        assertThat(stream.size()).isEqualTo(1);
        assertThat(gone.lines).hasSize(1);
        stream.end(0);
        assertThat(stays.lines.getLast()).satisfies(l -> {
            assertThat(l.last()).isTrue();
            assertThat(l.ok()).isTrue();
            assertThat(l.message()).contains("\"event\":\"supervisor_exit\"").contains("\"status\":0");
        });
        assertThat(stream.size()).isZero();
    }
}
