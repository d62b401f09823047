package dev.einhyrningsins.supervisor;

import static org.assertj.core.api.Assertions.assertThat;

import dev.einhyrningsins.supervisor.Config.AckMode;
import dev.einhyrningsins.supervisor.Os.EnvironmentRead;
import dev.einhyrningsins.supervisor.Settings.Setting;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** --env-file: read again when an upgrade or a reload starts; its generations; a malformed file refuses, nothing changes. */
class EnvironmentTest {
    static final String BROKEN = "--env-file /etc/app.env line 3: the \" opened here is not closed";

    static Harness acked(int n) {
        Harness h = new Harness(Config.defaults(4).with(Setting.NUMBER, n).with(Setting.ACK_MODE, new AckMode.Manual()));
        for (int pid : h.pids()) h.ack(pid);
        return h;
    }

    static Object envGeneration(Harness h, int pid) {
        return h.workers().stream().filter(w -> w.get("pid").equals(pid)).findFirst().orElseThrow().get("env_generation");
    }

    @Test
    void anUpgradeReadsTheFileAgainAndItsNewWorkersGetTheNextGeneration() {
        Harness h = acked(1);
        assertThat(h.sup.state()).containsEntry("env_generation", 1);
        assertThat(envGeneration(h, 100)).isEqualTo(1);
        h.os.environmentReads.add(new EnvironmentRead(true, null, "API_KEY changed; DEBUG added"));
        Object c = h.cmd("upgrade", null);
        assertThat(h.os.environmentReadCount).isEqualTo(1);
        assertThat(h.os.logs).contains("INFO The environment file changed (API_KEY changed; DEBUG added): workers started "
                + "from now on get its generation 2");
        h.ack(101);
        assertThat(h.last(c)).isEqualTo("Upgrade done");
        assertThat(envGeneration(h, 101)).isEqualTo(2);
        assertThat(envGeneration(h, 100)).as("the old worker keeps what it was started with").isEqualTo(1);
        assertThat(h.sup.state()).containsEntry("env_generation", 2);

        // unchanged: the same generation; a replacement gets the current one too
        h.cmd("upgrade", null);
        h.ack(102);
        assertThat(envGeneration(h, 102)).isEqualTo(2);
        h.exit(102);
        h.advance(java.time.Duration.ofSeconds(2));
        assertThat(envGeneration(h, h.lastPid())).isEqualTo(2);
        assertThat(h.sup.state()).containsEntry("env_generation", 2);
    }

    @Test
    void aMalformedFileRefusesTheUpgradeInOneLineAndNothingChanges() {
        Harness h = acked(2);
        h.os.environmentReads.add(new EnvironmentRead(false, BROKEN, ""));
        Object c = h.cmd("upgrade", null);
        assertThat(h.os.repliesTo(c)).containsExactly(new FakeOs.Reply(c, "Not upgrading: " + BROKEN, true, false));
        assertThat(h.os.logs).contains("ERROR Not upgrading: " + BROKEN);
        assertThat(h.os.spawns).hasSize(2);
        assertThat(h.os.happened(Happening.UpgradeStarted.class)).isEmpty();
        assertThat(h.sup.state()).containsEntry("env_generation", 1).containsEntry("upgrading", null)
                .containsEntry("last_upgrade", null);

        // HUP: logged, nothing else; then a good file: the upgrade is generation 2, as if nothing had happened
        h.os.environmentReads.add(new EnvironmentRead(false, BROKEN, ""));
        h.sup.handle(new Event.SignalReceived("HUP"));
        assertThat(h.os.logs.stream().filter(l -> l.equals("ERROR Not upgrading: " + BROKEN))).hasSize(2);
        assertThat(h.os.spawns).hasSize(2);
        Object d = h.cmd("upgrade_fleet", null);
        assertThat(h.os.repliesTo(d).getFirst().message()).isEqualTo("Upgrading fleet, as commanded");
        assertThat(h.os.spawns.getLast().generation()).isEqualTo(2);
    }

    @Test
    void aReloadReadsItThroughTheCoreAndAChangeIsAGeneration() {
        Harness h = acked(1);
        h.os.environmentReads.add(new EnvironmentRead(false, BROKEN, ""));
        assertThat(h.sup.rereadEnvironment()).isEqualTo(BROKEN);
        assertThat(h.sup.state()).containsEntry("env_generation", 1);
        assertThat(h.sup.rereadEnvironment()).as("unchanged").isNull();
        assertThat(h.sup.state()).containsEntry("env_generation", 1);
        h.os.environmentReads.add(new EnvironmentRead(true, null, "A added"));
        assertThat(h.sup.rereadEnvironment()).isNull();
        assertThat(h.sup.state()).containsEntry("env_generation", 2);
    }

    @Test
    void theGenerationsCrossAReload() throws Exception {
        Harness h = acked(1);
        h.os.environmentReads.add(new EnvironmentRead(true, null, "A added"));
        h.cmd("upgrade", null);
        Snapshot s = h.sup.snapshot(c -> null);
        assertThat(s.envGeneration()).isEqualTo(2);
        assertThat(s.workers()).extracting(Snapshot.WorkerState::envGeneration).containsExactly(1, 2);
        FakeOs os = new FakeOs();
        os.now = h.os.now;
        os.nextPid = h.os.nextPid;
        Supervisor next = Supervisor.restore(s, os, "test", Map.of("pid", 42), ref -> null);
        next.resume();
        Harness after = new Harness(next, os);
        assertThat(next.state()).containsEntry("env_generation", 2);
        assertThat(envGeneration(after, 100)).isEqualTo(1);
        assertThat(envGeneration(after, 101)).isEqualTo(2);
        assertThat(List.of(next.snapshot(c -> null).envGeneration())).containsExactly(2);
    }
}
