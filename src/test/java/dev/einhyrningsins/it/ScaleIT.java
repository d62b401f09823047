package dev.einhyrningsins.it;

import static dev.einhyrningsins.Await.await;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A thousand workers: start, state, inc/dec, a smooth upgrade and a stop, with nothing left behind. */
class ScaleIT {
    static final int N = 1000;

    @TempDir
    Path dir;

    static Set<Integer> pids(JsonNode state) {
        Set<Integer> pids = new HashSet<>();
        for (JsonNode w : state.path("workers")) pids.add(w.path("pid").asInt());
        return pids;
    }

    @Test
    void aThousandWorkersStartScaleUpgradeAndStopWithNoOrphans() throws Exception {
        List<Integer> everyPid = new ArrayList<>();
        try (var sup = SupervisorProcess.start(dir, Map.of(), "-n", String.valueOf(N), "-m", "0",
                "-b", "127.0.0.1:0", "--", "sleep", "600")) {
            List<Integer> first = sup.awaitAcked(N);
            everyPid.addAll(first);
            JsonNode state = sup.state();
            assertThat(state.path("workers")).hasSize(N);
            Set<Integer> slots = new HashSet<>();
            for (JsonNode w : state.path("workers")) slots.add(w.path("slot").asInt());
            assertThat(slots).as("every slot 0..N-1 exactly once").hasSize(N).allMatch(s -> s >= 0 && s < N);

            assertThat(sup.command("inc")).isEqualTo("Incrementing number of workers from " + N + " -> " + (N + 1));
            List<Integer> more = sup.awaitAcked(N + 1);
            everyPid.addAll(more);
            assertThat(sup.command("dec")).isEqualTo("Decrementing number of workers from " + (N + 1) + " -> " + N);
            sup.awaitAcked(N);

            List<JsonNode> upgrade = sup.request("upgrade", null);
            assertThat(upgrade.getLast().path("message").asText()).isEqualTo("Upgrade done");
            await("the old generation to be gone", () -> {
                try {
                    JsonNode s = sup.state();
                    if (s.path("workers").size() != N) return false;
                    for (JsonNode w : s.path("workers")) if (w.path("generation").asInt() != 2) return false;
                    everyPid.addAll(pids(s));
                    return true;
                } catch (IOException e) {
                    return false;
                }
            });
            Set<Integer> upgraded = pids(sup.state());
            assertThat(upgraded).doesNotContainAnyElementsOf(first);

            sup.signal("TERM");
            assertThat(sup.awaitExit()).isZero();
        }
        for (int pid : everyPid) {
            assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)).as("worker %d", pid).isFalse();
        }
    }
}
