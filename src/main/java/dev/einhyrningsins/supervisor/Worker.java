package dev.einhyrningsins.supervisor;

import dev.einhyrningsins.DoNotMutate;
import java.util.ArrayList;
import java.util.List;

/**
 * One worker as the core knows it, from spawn to reap. Times ending in {@code At} are the
 * monotonic clock ({@link Os#nanoTime()}), those ending in {@code Wall} epoch milliseconds
 * for the state dump.
 */
final class Worker {
    /** When it became ready. */
    record Ack(long at, long wall) {}

    /** Its last {@code worker:ping}. */
    record Ping(long at, long wall, Object id) {}

    /**
     * How one check ended.
     *
     * @param outcome  "passed", "exited with status 1", "timed out after 5s", "could not start: …"
     * @param lastLine the last line it printed (stdout and stderr together); null if none
     */
    record CheckResult(boolean passed, String outcome, long durationNanos, String lastLine, long atWall) {}

    /** One kind of check on this worker: the run in flight, the last outcome, the failures in a row. */
    static final class Probe {
        private long runningId;
        private long startedAt;
        private long endedAt = -1;
        private CheckResult last;
        private int failuresInRow;

        /** The id of the check in flight; 0 if none. */
        long runningId() {
            return runningId;
        }

        boolean running() {
            return runningId != 0;
        }

        /** When the check in flight started. Meaningful while {@link #running()}. */
        long startedAt() {
            return startedAt;
        }

        /** When the last check ended; -1 if none did. */
        long endedAt() {
            return endedAt;
        }

        /** The last outcome; null before the first check ended. */
        CheckResult last() {
            return last;
        }

        /** Checks that failed in a row, up to the last one. */
        int failuresInRow() {
            return failuresInRow;
        }

        void started(long id, long at) {
            runningId = id;
            startedAt = at;
        }

        void ended(CheckResult result, long at) {
            runningId = 0;
            endedAt = at;
            last = result;
            failuresInRow = result.passed() ? 0 : failuresInRow + 1;
        }

        /** The check in flight was stopped without an outcome (its worker is going). */
        void dropped() {
            runningId = 0;
        }

        Snapshot.ProbeState state() {
            return new Snapshot.ProbeState(endedAt, failuresInRow, last == null ? null
                    : new Snapshot.CheckState(last.passed(), last.outcome(), last.durationNanos(), last.lastLine(), last.atWall()));
        }

        void restore(Snapshot.ProbeState s) {
            endedAt = s.endedAt();
            failuresInRow = s.failuresInRow();
            Snapshot.CheckState c = s.last();
            last = c == null ? null : new CheckResult(c.passed(), c.outcome(), c.durationNanos(), c.lastLine(), c.atWall());
        }
    }

    /** A signal we sent it. */
    record Sent(String signal, long atWall) {}

    final int pid;
    final int slot;
    final int generation;
    final long spawnedAt;
    final long spawnedWall;
    private Ack ack;
    private Ping ping;
    private long claimedAt = -1;
    final Probe ready = new Probe();
    final Probe live = new Probe();
    private String sick;
    private long rssBytes = -1;
    private long rssAt = -1;
    private boolean retiring;
    private long firstRetiredAt;
    private long retiredAt;
    private boolean ackTimedOut;
    private boolean killed;
    private String status;
    private boolean saidStopping;
    /** When its descriptors were last looked at ({@link ListenerUse}); -1: not yet (in this process). */
    private long lookedAt = -1;
    /** What the last look found: null (none yet, or it could not tell), true, false. */
    private Boolean holdsInherited;
    private int envGeneration = 1;
    private final List<Sent> signals = new ArrayList<>();

    Worker(int pid, int slot, int generation, long spawnedAt, long spawnedWall) {
        this.pid = pid;
        this.slot = slot;
        this.generation = generation;
        this.spawnedAt = spawnedAt;
        this.spawnedWall = spawnedWall;
    }

    /** The generation of the environment file it was started with (--env-file). */
    int envGeneration() {
        return envGeneration;
    }

    void envGeneration(int generation) {
        envGeneration = generation;
    }

    /** Ready: it acked (manual) or lived long enough (timer). */
    boolean acked() {
        return ack != null;
    }

    /** When it became ready; null before. */
    Ack ack() {
        return ack;
    }

    void ack(long at, long wall) {
        ack = new Ack(at, wall);
    }

    /** Its last ping; null if it never pinged. */
    Ping ping() {
        return ping;
    }

    void ping(long at, long wall, Object id) {
        ping = new Ping(at, wall, id);
    }

    /** It said it is ready but its ready check has not passed yet. */
    boolean checking() {
        return claimedAt >= 0 && ack == null;
    }

    /** When it said it is ready (the ready check's first run); meaningful while {@link #checking()}. */
    @DoNotMutate("read only as the first ready check's due time, and a claim is made at the tick that runs it: 0 is as due")
    long claimedAt() {
        return claimedAt;
    }

    void claimReady(long at) {
        claimedAt = at;
    }

    Probe probe(CheckKind kind) {
        return kind == CheckKind.READY ? ready : live;
    }

    /** Why it is to be replaced (live check, ping, RSS, age); null while healthy. */
    String sick() {
        return sick;
    }

    void sick(String reason) {
        sick = reason;
    }

    /** Acked, not sick, not retiring: a worker the target can rely on. */
    boolean healthy() {
        return ack != null && sick == null && !retiring;
    }

    /** Its process tree's last RSS sample in bytes; -1 if never sampled. */
    long rssBytes() {
        return rssBytes;
    }

    /** When the RSS was last sampled; -1 if never. */
    long rssAt() {
        return rssAt;
    }

    void rss(long bytes, long at) {
        rssBytes = bytes;
        rssAt = at;
    }

    /** Asked to go (the graceful signal, or a stop's signal): no longer counts toward the target. */
    boolean retiring() {
        return retiring;
    }

    /** When it was last asked to go; the signal timeout runs from here. Meaningful while retiring. */
    long retiredAt() {
        return retiredAt;
    }

    /** When it was first asked to go: its drain time runs from here. Meaningful while retiring. */
    long firstRetiredAt() {
        return firstRetiredAt;
    }

    /** What it last said about itself ({@code STATUS=} on its notify socket); null if nothing. */
    String status() {
        return status;
    }

    void status(String text) {
        status = text;
    }

    /** It said it is stopping ({@code STOPPING=1}): it no longer counts toward the target, no signal is sent. */
    void draining(long at) {
        saidStopping = true;
        if (!retiring) firstRetiredAt = at;
        retiring = true;
        retiredAt = at;
    }

    /** Whether it said STOPPING=1. */
    boolean saidStopping() {
        return saidStopping;
    }

    /** Records {@code signal} as sent to ask it to go. */
    void retire(String signal, long at, long wall) {
        if (!retiring) firstRetiredAt = at;
        retiring = true;
        retiredAt = at;
        signals.add(new Sent(signal, wall));
    }

    /** Records a signal that does not change what it is doing (a forwarded one, the escalation to TERM). */
    void signalled(String signal, long wall) {
        signals.add(new Sent(signal, wall));
    }

    /** When its descriptors were last looked at; -1 if not yet. */
    long lookedAt() {
        return lookedAt;
    }

    /** Whether the last look found it holding one of its inherited sockets; null if none told yet. */
    Boolean holdsInherited() {
        return holdsInherited;
    }

    /** A look at its descriptors at {@code at} found {@code holds} (null: it could not tell). */
    void looked(long at, Boolean holds) {
        lookedAt = at;
        if (holds != null) holdsInherited = holds;
    }

    /** A look found it holding none of its inherited sockets (it cannot get them back). */
    boolean withoutInherited() {
        return Boolean.FALSE.equals(holdsInherited);
    }

    /** It was retired for not acking within --ack-timeout. */
    boolean ackTimedOut() {
        return ackTimedOut;
    }

    void ackTimedOut(boolean value) {
        ackTimedOut = value;
    }

    boolean killed() {
        return killed;
    }

    void kill(long wall) {
        killed = true;
        signals.add(new Sent("KILL", wall));
    }

    boolean wasSent(String signal) {
        return signals.stream().anyMatch(s -> s.signal().equals(signal));
    }

    String lastSignal() {
        return signals.isEmpty() ? null : signals.getLast().signal();
    }

    List<Sent> signals() {
        return List.copyOf(signals);
    }

    Snapshot.WorkerState state() {
        return new Snapshot.WorkerState(pid, slot, generation, spawnedAt, spawnedWall,
                ack == null ? null : ack.at(), ack == null ? null : ack.wall(),
                ping == null ? null : ping.at(), ping == null ? null : ping.wall(), ping == null ? null : ping.id(),
                claimedAt, ready.state(), live.state(), sick, rssBytes, rssAt, retiring, firstRetiredAt, retiredAt,
                ackTimedOut, killed, status, saidStopping,
                signals.stream().map(s -> new Snapshot.SignalState(s.signal(), s.atWall())).toList(), holdsInherited,
                envGeneration);
    }

    static Worker of(Snapshot.WorkerState s) {
        Worker w = new Worker(s.pid(), s.slot(), s.generation(), s.spawnedAt(), s.spawnedWall());
        if (s.ackedAt() != null) w.ack = new Ack(s.ackedAt(), s.ackedWall());
        if (s.pingWall() != null) w.ping = new Ping(s.pingAt(), s.pingWall(), s.pingId());
        w.claimedAt = s.claimedAt();
        w.ready.restore(s.ready());
        w.live.restore(s.live());
        w.sick = s.sick();
        w.rssBytes = s.rssBytes();
        w.rssAt = s.rssAt();
        w.retiring = s.retiring();
        w.firstRetiredAt = s.firstRetiredAt();
        w.retiredAt = s.retiredAt();
        w.ackTimedOut = s.ackTimedOut();
        w.killed = s.killed();
        w.status = s.status();
        w.saidStopping = s.saidStopping();
        w.envGeneration = s.envGeneration();
        for (Snapshot.SignalState x : s.signals()) w.signals.add(new Sent(x.signal(), x.atWall()));
        w.holdsInherited = s.holdsInherited();
        return w;
    }

    /** "pid (slot s, generation g)" as logs name it. */
    String describe() {
        return pid + " (slot " + slot + ", generation " + generation + ")";
    }
}
