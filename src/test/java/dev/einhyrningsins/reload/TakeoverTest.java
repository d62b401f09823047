package dev.einhyrningsins.reload;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.einhyrningsins.posix.Child;
import dev.einhyrningsins.posix.PosixException;
import dev.einhyrningsins.posix.Spawn;
import dev.einhyrningsins.posix.libc.Libc;
import dev.einhyrningsins.shell.Children;
import dev.einhyrningsins.shell.Log;
import dev.einhyrningsins.shell.StartupException;
import dev.einhyrningsins.supervisor.Event;
import dev.einhyrningsins.supervisor.Snapshot;
import dev.einhyrningsins.supervisor.Supervisor;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The new process's side, with real child processes standing in for the workers. */
class TakeoverTest {
    final ByteArrayOutputStream logBytes = new ByteArrayOutputStream();
    final Log log = new Log(new PrintStream(logBytes, true, StandardCharsets.UTF_8), 42, 0);
    final List<Child> started = new ArrayList<>();
    final Children children = new Children();

    @AfterEach
    void cleanUp() {
        children.close();
        for (Child c : started) {
            try {
                c.killAndReapWithin(2000);
            } catch (PosixException reapedAlready) {
                // the take-over killed and reaped it
            }
            c.close();
        }
    }

    Child sleeper() {
        Child c = Spawn.start("/bin/sleep", List.of("sleep", "600"), List.of(), new int[0]);
        started.add(c);
        return c;
    }

    /** The sample core with the given pids as its workers (the first two of the sample's, renumbered). */
    static Snapshot coreOf(int... pids) {
        Snapshot s = Snapshot.sample();
        List<Snapshot.WorkerState> workers = new ArrayList<>();
        for (int i = 0; i < pids.length; i++) {
            Snapshot.WorkerState w = s.workers().get(i);
            workers.add(new Snapshot.WorkerState(pids[i], w.slot(), w.generation(), w.spawnedAt(), w.spawnedWall(),
                    w.ackedAt(), w.ackedWall(), w.pingAt(), w.pingWall(), w.pingId(), w.claimedAt(), w.ready(), w.live(),
                    w.sick(), w.rssBytes(), w.rssAt(), w.retiring(), w.firstRetiredAt(), w.retiredAt(), w.ackTimedOut(),
                    w.killed(), w.status(), w.saidStopping(), w.signals(), w.holdsInherited(), w.envGeneration()));
        }
        return new Snapshot(s.config(), s.target(), false, 0, s.backoff(), new Snapshot.RolloutState(1, 2, null, null),
                workers, s.recentExits(), s.listenerUse(), s.envGeneration());
    }

    static Handover handOver(Snapshot core, List<String> signals) {
        return Handover.of("0.1.0", new Handover.Process(0, false, 1_700_000_000_000L, 1, null, null), List.of(), core,
                List.of(), List.of(), List.of(), signals, null);
    }

    @Test
    void aWorkerWhosePidfdCannotBeOpenedIsKilledAndLeavesTheCoreAsAnExit() {
        Child kept = sleeper();
        Child lost = sleeper();
        Handover h = handOver(coreOf(kept.pid(), lost.pid()), List.of());
        Effects fx = Effects.real().withRead(fd -> h.bytes()).withAdopt(pid -> pid == lost.pid()
                ? Child.adopt(pid, p -> {
                    throw new PosixException("pidfd_open " + p, Libc.EMFILE());
                })
                : Child.adopt(pid));
        Takeover t = Takeover.read("77", fx, log);
        t.adoptWorkers(children);

        assertThat(t.lost()).extracting(Takeover.Lost::pid).containsExactly(lost.pid());
        assertThat(children.get(kept.pid())).isNotNull();
        assertThat(children.get(lost.pid())).isNull();
        assertThat(Path.of("/proc/" + lost.pid())).as("killed and reaped").doesNotExist();
        assertThat(logBytes.toString(StandardCharsets.UTF_8)).contains("Worker " + lost.pid()
                + " could not be taken over (pidfd_open " + lost.pid() + ": EMFILE");

        // the core hears it as an exit: it leaves the pool, and counts toward the target no more
        CoreOs os = new CoreOs(() -> 5_000_000_000L, () -> 9000, log, null);
        Supervisor sup = Supervisor.restore(t.core(), os, "test", Map.of(), r -> null);
        for (Event e : t.lostExits()) sup.handle(e);
        sup.resume();
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> workers = (List<Map<String, Object>>) sup.state().get("workers");
        assertThat(workers).extracting(w -> w.get("pid")).contains(kept.pid()).doesNotContain(lost.pid());
        // and a stop (which waits out the snapshot's --shutdown-delay, the workers serving on)
        // counts the adopted one as its own: its exit leaves the pool
        sup.handle(new Event.SignalReceived("TERM"));
        assertThat(sup.state()).containsEntry("stopping", true);
        assertThat(sup.finished()).isFalse();
        sup.handle(new Event.ChildExited(kept.pid(), true, "exited with status 0"));
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> left = (List<Map<String, Object>>) sup.state().get("workers");
        assertThat(left).extracting(w -> w.get("pid")).doesNotContain(kept.pid(), lost.pid());
    }

    @Test
    void signalsThePreviousProcessCouldNotHandleReachTheCore() {
        Handover h = handOver(coreOf(), List.of("TTIN", "HUP"));
        Takeover t = Takeover.read("77", Effects.real().withRead(fd -> h.bytes()), log);
        assertThat(t.signals(null)).containsExactly(new Event.SignalReceived("TTIN"), new Event.SignalReceived("HUP"));
        assertThat(t.signals("TERM,TTOU")).containsExactly(new Event.SignalReceived("TTIN"), new Event.SignalReceived("HUP"),
                new Event.SignalReceived("TERM"), new Event.SignalReceived("TTOU"));
    }

    @Test
    void aHandOverThatCannotBeReadIsOneLineNamingIt() {
        Effects fx = Effects.real().withRead(fd -> "{\"format\":3,\"from\":\"x\"".getBytes(StandardCharsets.UTF_8));
        assertThatThrownBy(() -> Takeover.read("77", fx, log)).isInstanceOf(StartupException.class)
                .hasMessageStartingWith("cannot take over: cannot read the hand-over in fd 77: ")
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n"));
        assertThatThrownBy(() -> Takeover.read("seven", fx, log))
                .hasMessage("cannot take over: EINHYRNINGSINS_HANDOVER=seven is not an fd number");
    }

    @Test
    void aPartOfAKindThisVersionDoesNotKnowIsLoggedAndSkipped() throws Exception {
        Handover h = handOver(coreOf(), List.of());
        var tree = (com.fasterxml.jackson.databind.node.ObjectNode) Handover.json().readTree(h.bytes());
        ((com.fasterxml.jackson.databind.node.ObjectNode) tree.get("parts")).putObject("hologram").put("x", 1);
        byte[] text = Handover.json().writeValueAsBytes(tree);
        Takeover t = Takeover.read("77", Effects.real().withRead(fd -> text), log);
        assertThat(logBytes.toString(StandardCharsets.UTF_8))
                .contains("The hand-over has a part this version does not know, skipped: hologram");
        assertThat(t.core().target()).isEqualTo(4);
    }

    @Test
    void theRealReadClosesTheMemfd() throws Exception {
        int fd = Effects.real().memfd().get();
        Effects.real().write().write(fd, handOver(coreOf(), List.of()).bytes());
        Takeover t = Takeover.read(Integer.toString(fd), Effects.real(), log);
        assertThat(t.core().target()).isEqualTo(4);
        assertThat(Files.exists(Path.of("/proc/self/fd/" + fd))).isFalse();
    }
}
