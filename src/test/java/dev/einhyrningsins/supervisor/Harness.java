package dev.einhyrningsins.supervisor;

import static org.assertj.core.api.Assertions.assertThat;

import dev.einhyrningsins.supervisor.Config.AckMode;
import dev.einhyrningsins.supervisor.Event.ChildExited;
import dev.einhyrningsins.supervisor.Event.Command;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;

/**
 * Drives a Supervisor over a FakeOs; every helper advances logical time only. Events reach
 * the core through {@link #handle}, which refuses any about a pid that is not a live worker
 * of the fake OS (never spawned, or already exited): a test that exits or acks pid 107 must
 * have seen the core spawn it, so no test passes on events the core merely ignores. A test
 * about such an event says so with {@link #handleUnknown}.
 */
final class Harness {
    static final Duration S1 = Duration.ofSeconds(1);

    final FakeOs os;
    final Supervisor sup;

    Harness(Config cfg) {
        this(cfg, new FakeOs());
    }

    /** Starts a supervisor over {@code os} (its clock, its answers) as it is. */
    Harness(Config cfg, FakeOs os) {
        this.os = os;
        sup = new Supervisor(cfg, os, "test", Map.of("pid", 42));
        sup.start();
    }

    /** Drives {@code sup} over {@code os}, with no worker live but those {@code os} spawns from now on. */
    Harness(Supervisor sup, FakeOs os) {
        this(sup, os, List.of());
    }

    /**
     * Drives a supervisor already running over {@code os} (one restored from a snapshot):
     * {@code running} are the pids it took over, live in {@code os} from now on.
     */
    Harness(Supervisor sup, FakeOs os, Collection<Integer> running) {
        this.sup = sup;
        this.os = os;
        os.alive.addAll(running);
    }

    static Harness timer(int n) {
        return new Harness(Config.defaults(4).with(Settings.Setting.NUMBER, n));
    }

    static Harness manual(int n) {
        return new Harness(Config.defaults(4).with(Settings.Setting.NUMBER, n).with(Settings.Setting.ACK_MODE, new AckMode.Manual()));
    }

    /** A worker's crash: "exited with status 1". */
    void exit(int pid) {
        handle(new ChildExited(pid, false, "exited with status 1"));
    }

    /**
     * Hands {@code event} to the core; an event about a worker (its exit, ack, ping,
     * notification, check) must name a live one. An exit makes it not live.
     */
    void handle(Event event) {
        Integer pid = pidOf(event);
        if (pid != null && !os.alive.contains(pid)) {
            throw new AssertionError("the test sends " + event + " about pid " + pid
                    + ", which the fake OS has not spawned or has reaped already; use handleUnknown for that");
        }
        if (event instanceof ChildExited) os.alive.remove(pid);
        sup.handle(event);
    }

    /** Hands the core an event about a pid that is not a live worker, as a test of how that is ignored. */
    void handleUnknown(Event event) {
        Integer pid = pidOf(event);
        assertThat(pid).as("an event about a pid").isNotNull();
        assertThat(os.alive).as("live workers").doesNotContain(pid);
        sup.handle(event);
    }

    /** The worker an event is about; null if none (a control command, a signal, a malformed pid). */
    private static Integer pidOf(Event event) {
        return switch (event) {
            case ChildExited e -> e.pid();
            case Event.WorkerNotified n -> n.pid();
            case Event.CheckFinished f -> f.pid();
            case Command c when "worker:ack".equals(c.name()) || "worker:ping".equals(c.name()) -> Commands.pidOf(c.pid());
            default -> null;
        };
    }

    void exitAllSignalled() {
        for (int pid : new ArrayList<>(os.alive)) {
            if (os.signals.stream().anyMatch(s -> s.pid() == pid)) exit(pid);
        }
    }

    Object cmd(String name, Object args) {
        Object client = new Object();
        handle(new Command(name, args, null, "me", null, true, client));
        return client;
    }

    Object cmdNoId(String name) {
        Object client = new Object();
        handle(new Command(name, null, null, "me", null, false, client));
        return client;
    }

    void ack(int pid) {
        handle(new Command("worker:ack", null, pid, null, null, false, new Object()));
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
