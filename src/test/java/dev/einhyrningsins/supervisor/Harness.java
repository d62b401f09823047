package dev.einhyrningsins.supervisor;

import static org.assertj.core.api.Assertions.assertThat;

import dev.einhyrningsins.supervisor.Config.AckMode;
import dev.einhyrningsins.supervisor.Event.ChildExited;
import dev.einhyrningsins.supervisor.Event.Command;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Drives a Supervisor over a FakeOs; every helper advances logical time only. */
final class Harness {
    static final Duration S1 = Duration.ofSeconds(1);

    final FakeOs os;
    final Supervisor sup;

    Harness(Config cfg) {
        os = new FakeOs();
        sup = new Supervisor(cfg, os, "test", Map.of("pid", 42));
        sup.start();
    }

    /** Drives a supervisor already running over {@code os} (one restored from a snapshot). */
    Harness(Supervisor sup, FakeOs os) {
        this.sup = sup;
        this.os = os;
    }

    static Harness timer(int n) {
        return new Harness(Config.defaults(4).with(Settings.Setting.NUMBER, n));
    }

    static Harness manual(int n) {
        return new Harness(Config.defaults(4).with(Settings.Setting.NUMBER, n).with(Settings.Setting.ACK_MODE, new AckMode.Manual()));
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
