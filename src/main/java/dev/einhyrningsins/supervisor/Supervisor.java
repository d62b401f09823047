package dev.einhyrningsins.supervisor;

import dev.einhyrningsins.supervisor.Event.ChildExited;
import dev.einhyrningsins.supervisor.Event.Command;
import dev.einhyrningsins.supervisor.Event.SignalReceived;
import dev.einhyrningsins.supervisor.Os.Level;
import dev.einhyrningsins.supervisor.Os.SpawnResult;
import java.time.Duration;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * The supervisor state machine. It does no I/O: it consumes {@link Event}s and
 * {@link #tick()}s and acts through {@link Os}. One thread (the shell's loop thread) owns an
 * instance; nothing here is locked.
 *
 * <p>Its rooms: {@link WorkerPool} (workers and slots), {@link Backoff} (respawn pacing),
 * {@link WorkerTimer} (acks, ack timeouts, kills, checks, limits), {@link Readiness} (acks,
 * pings, notify messages, ack timeouts), {@link Rollout} (upgrades), {@link Health} (checks,
 * the ping watchdog, recycling), {@link ListenerUse} (workers that do not use their sockets),
 * {@link Draining} (the stop's delay, the bounds on retiring workers), {@link Commands} (the
 * control commands and signals) and {@link StateReport} (the state dump). This class keeps the
 * target and the environment file's generation, spawns and retires, reaps, and stops.
 */
public final class Supervisor {

    private final Os os;
    private final String version;
    private final Map<String, Object> info;
    private final WorkerPool pool = new WorkerPool();
    private final Backoff backoff = new Backoff();
    private final Rollout rollout;
    private final Health health;
    private final Readiness readiness;
    private final Commands commands;
    private final Draining draining;
    private final StateReport report = new StateReport();
    private final ListenerUse listenerUse;
    private Config config;
    private int target;
    /** The environment file's generation new workers get: 1 at start, one more for each read that changed it. */
    private int envGeneration = 1;
    private boolean stopping;
    private boolean finished;

    /**
     * @param info facts the core does not own but the state dump shows (pid, program,
     *             sockets, control socket path…); rendered as given
     */
    public Supervisor(Config config, Os os, String version, Map<String, Object> info) {
        this.config = config;
        this.os = os;
        this.version = version;
        this.info = Collections.unmodifiableMap(new LinkedHashMap<>(info));
        this.target = config.number();
        this.rollout = new Rollout(this, os);
        this.health = new Health(this, os);
        this.readiness = new Readiness(this, os, health);
        this.commands = new Commands(this, os);
        this.listenerUse = new ListenerUse(this, os);
        this.draining = new Draining(this, os);
    }

    // ------------------------------------------------------------------ entry points

    /** Spawns the first workers, all at once (einhorn's replenish_immediately). */
    public void start() {
        reconcile();
        status();
    }

    /** Handles one event, then runs whatever timers are due. */
    public void handle(Event event) {
        switch (event) {
            case ChildExited e -> childExited(e);
            case SignalReceived s -> commands.signal(s.name());
            case Event.WorkerNotified n -> readiness.notified(n);
            case Event.UpgradeRequested u -> rollout.start(u.fleet(), u.client(), u.streaming(), u.note());
            case Event.CheckFinished f -> health.finished(f);
            case Command c -> commands.run(c);
        }
        tick();
    }

    /** Fires every due timer (acks, ack timeouts, kills, checks, limits, the upgrade's, respawns) and reconciles. */
    public void tick() {
        long now = os.nanoTime();
        for (Worker w : List.copyOf(pool.all())) {
            for (WorkerTimer t : WorkerTimer.ALL) {
                // the deadline first: a lookup in the pool per worker and timer was most of a
                // wake-up's time with 1000 workers (bench/scale.sh); a fire may remove one
                if (now >= t.dueAt(w, config) && pool.contains(w)) fire(t, w);
            }
        }
        if (rollout.active()) rollout.checkLimits(now);
        listenerUse.tick(now);
        draining.tick(now);
        reconcile();
        status();
    }

    private Happening.Status lastStatus;

    /** The target number of workers of the serving generation are acked, and no upgrade or stop runs. */
    private boolean ready() {
        return !rollout.active() && !stopping() && pool.ackedServing(rollout.servingGeneration()) >= target;
    }

    /**
     * Why the supervisor cannot take traffic (the {@code ready} command, {@code GET /ready}):
     * a stop is under way or waits for its delay, or fewer than the target number of serving
     * workers are acked (of any generation: an upgrade keeps it ready); null when it can.
     */
    String notReady() {
        if (draining.delaying()) return "shutting down: the shutdown delay ends in " + draining.left() + "s";
        if (stopping) return "stopping";
        int acked = pool.ackedServing();
        return acked >= target ? null : acked + " of " + target + " workers acked";
    }

    /** The gauges of {@code metrics}, from the state as it is now. */
    Gauges gauges() {
        return Gauges.of(this, ready());
    }

    /** Emits {@link Happening.Status} when a count changed. */
    private void status() {
        int generation = rollout.servingGeneration();
        boolean ready = ready();
        Happening.Status s = new Happening.Status(target, pool.size(), pool.ackedServing(), generation,
                rollout.active(), stopping(), ready);
        if (!s.equals(lastStatus)) {
            lastStatus = s;
            os.happened(s);
        }
    }

    /** When {@link #tick()} should run next, in {@link Os#nanoTime()} terms; Long.MAX_VALUE if never. */
    public long nextDeadline() {
        long next = Math.min(rollout.dueAt(), Math.min(listenerUse.dueAt(), draining.dueAt()));
        for (Worker w : pool.all()) {
            for (WorkerTimer t : WorkerTimer.ALL) next = Math.min(next, t.dueAt(w, config));
        }
        if (respawnPaced()) next = Math.min(next, backoff.dueAt(config.respawnInterval()));
        return next;
    }

    /** How long until {@link #nextDeadline()}, on the core's own clock: the shell's poll timeout. */
    public long nanosToNextDeadline() {
        long next = nextDeadline();
        return next == WorkerTimer.NEVER ? Long.MAX_VALUE : Math.max(0, next - os.nanoTime());
    }

    /** True once a stop finished: every worker is gone. The shell then exits 0. */
    public boolean finished() {
        return finished;
    }

    public int verbosity() {
        return config.verbosity();
    }

    /** The current configuration, as {@code config} last changed it. */
    public Config config() {
        return config;
    }

    /** The state dump served by the {@code state} command. */
    public Map<String, Object> state() {
        return StateReport.of(this);
    }

    // ------------------------------------------------------------------ handing over to the next process

    /**
     * The whole state as plain values, for the next supervisor process ({@code reload}).
     *
     * @param clients names a client that follows the upgrade (null: it cannot be handed over)
     */
    public Snapshot snapshot(Function<Object, String> clients) {
        return new Snapshot(Snapshot.ConfigState.of(config), target, stopping, draining.stopRequests(),
                backoff.state(), rollout.state(clients), pool.all().stream().map(Worker::state).toList(),
                report.recentExits(), listenerUse.snapshot(), envGeneration);
    }

    /**
     * A supervisor that goes on from {@code s}: the workers are there already, timers resume
     * from the times recorded (the monotonic clock is the same across exec). Call
     * {@link #resume()} instead of {@link #start()}.
     *
     * @param clients the client a name in {@code s} stands for (null if it was not handed over)
     */
    public static Supervisor restore(Snapshot s, Os os, String version, Map<String, Object> info,
                                     Function<String, Object> clients) {
        Supervisor sup = new Supervisor(s.config().toConfig(), os, version, info);
        sup.target = s.target();
        sup.stopping = s.stopping();
        sup.draining.stopRequests(s.stopRequests());
        sup.envGeneration = s.envGeneration();
        sup.backoff.restore(s.backoff());
        sup.rollout.restore(s.rollout(), clients);
        for (Snapshot.WorkerState w : s.workers()) sup.pool.restore(Worker.of(w));
        sup.report.restore(s.recentExits());
        sup.listenerUse.restore(s.listenerUse());
        return sup;
    }

    /**
     * The shell lost the health checks in flight (it killed them for a reload whose exec then
     * failed): nothing is recorded for them, and the next ones start when due.
     */
    public void checksLost() {
        for (Worker w : pool.all()) health.lost(w);
    }

    /** Goes on after {@link #restore}: runs whatever timers came due meanwhile. */
    public void resume() {
        tick();
    }

    // ------------------------------------------------------------------ for the rooms

    WorkerPool pool() {
        return pool;
    }

    Backoff backoff() {
        return backoff;
    }

    Rollout rollout() {
        return rollout;
    }

    StateReport report() {
        return report;
    }

    ListenerUse listenerUse() {
        return listenerUse;
    }

    Readiness readiness() {
        return readiness;
    }

    Draining draining() {
        return draining;
    }

    /** The environment file's generation that workers started now get. */
    int envGeneration() {
        return envGeneration;
    }

    /**
     * {@code --env-file}: reads it again, for the workers started from now on (an upgrade or a
     * reload is starting); a change makes a new generation of it.
     *
     * @return null, or why the file cannot be used (then nothing changed)
     */
    public String rereadEnvironment() {
        Os.EnvironmentRead r = os.readEnvironment();
        if (r.problem() != null) return r.problem();
        if (r.changed()) {
            envGeneration++;
            log(Level.INFO, "The environment file changed (" + r.changes() + "): workers started from now on get its "
                    + "generation " + envGeneration);
        }
        return null;
    }

    Map<String, Object> info() {
        return info;
    }

    String version() {
        return version;
    }

    int target() {
        return target;
    }

    void target(int n) {
        target = n;
    }

    void config(Config c) {
        config = c;
    }

    /**
     * Whether a stop began (TERM, INT, {@code die}), or waits for its shutdown delay: no
     * upgrade or reload starts any more.
     */
    public boolean stopping() {
        return stopping || draining.delaying();
    }

    /** Whether the stop began: every worker was asked to go (not while a shutdown delay runs). */
    boolean stopBegan() {
        return stopping;
    }

    /** Whether a stop waits for its shutdown delay (the workers serve on). */
    boolean delaying() {
        return draining.delaying();
    }

    // ------------------------------------------------------------------ a worker's life

    private void fire(WorkerTimer t, Worker w) {
        switch (t) {
            case ACK_DELAY -> readiness.timerElapsed(w);
            case ACK_TIMEOUT -> readiness.timedOut(w);
            case DRAIN_TIMEOUT -> draining.timedOut(w);
            case KILL -> {
                log(Level.WARN, "Worker " + w.pid + " is still alive " + Settings.seconds(config.signalTimeout())
                        + "s after " + w.lastSignal() + "; sending SIGKILL");
                w.kill(os.currentTimeMillis());
                os.signal(w.pid, "KILL");
                os.happened(new Happening.Signalled(w.pid, "KILL", Happening.SignalReason.KILL));
            }
            default -> health.fire(t, w);
        }
    }

    SpawnResult spawn(int generation, Happening.SpawnReason reason) {
        int slot = pool.nextSlot();
        SpawnResult r = os.spawn(slot, generation);
        long now = os.nanoTime();
        backoff.spawned(now);
        if (r instanceof SpawnResult.Spawned s) {
            pool.add(s.pid(), slot, generation, now, os.currentTimeMillis()).envGeneration(envGeneration);
            log(Level.INFO, "===> Launched " + s.pid() + " (index: " + slot + ", generation: " + generation + ")");
            os.happened(new Happening.Spawned(s.pid(), slot, generation, reason));
        } else if (r instanceof SpawnResult.Failed f) {
            os.happened(new Happening.SpawnFailed(generation, f.reason()));
        }
        return r;
    }

    /** Asks a worker to go with {@code signal}; it no longer counts toward the target. */
    void retire(Worker w, String signal) {
        retire(w, signal, Happening.SignalReason.RETIRE);
    }

    private void retire(Worker w, String signal, Happening.SignalReason reason) {
        if (w.retiring() && w.wasSent(signal)) {
            log(Level.WARN, "Re-sending " + signal + " to already-signaled worker " + w.pid
                    + ". It may be slow to spin down, or it may be swallowing " + signal + "s.");
        }
        w.retire(signal, os.nanoTime(), os.currentTimeMillis());
        health.cancel(w);
        os.signal(w.pid, signal);
        os.happened(new Happening.Signalled(w.pid, signal, reason));
    }

    /** Retires {@code count} of {@code candidates} (no more than there are) in {@link WorkerPool#SURPLUS_ORDER}. */
    void retireSurplus(List<Worker> candidates, int count) {
        List<Worker> order = candidates.stream().sorted(WorkerPool.SURPLUS_ORDER).toList();
        log(Level.INFO, "Have " + candidates.size() + " workers for a target of " + target + "; retiring " + count);
        for (Worker w : order.subList(0, count)) retire(w, config.gracefulSignal());
    }

    private void childExited(ChildExited e) {
        Worker w = pool.remove(e.pid());
        if (w == null) {
            log(Level.WARN, "Reaped unknown child " + e.pid() + " (" + e.description() + ")");
            return;
        }
        health.cancel(w);
        boolean unexpected = !w.retiring();
        log(unexpected ? Level.WARN : Level.INFO, "Worker " + w.describe() + " " + e.description()
                + (w.acked() ? "" : " before it was acked"));
        listenerUse.exited(w);
        report.exited(w, e.description(), e.success(), !unexpected, os.currentTimeMillis());
        os.happened(new Happening.Exited(w.pid, w.slot, w.generation, e.description(), e.bySignal(), e.code(),
                w.acked(), !unexpected, w.killed(), w.ackTimedOut(),
                w.retiring() ? os.nanoTime() - w.firstRetiredAt() : -1));
        if (!w.acked() && unexpected) {
            backoff.died();
            if (rollout.isNew(w)) rollout.failed(w, e.description() + " before acking", "died before acking");
        } else if (rollout.active() && !rollout.isNew(w) && !unexpected) {
            rollout.oldExited(w);
        }
        if (stopping && pool.isEmpty()) log(Level.INFO, "Last worker is gone; exiting");
    }

    // ------------------------------------------------------------------ the target and respawns

    private void reconcile() {
        if (stopping) {
            if (pool.isEmpty()) finished = true;
            return;
        }
        if (rollout.active()) rollout.step();
        if (rollout.active()) return;
        health.recycle();
        int goal = health.goal();
        List<Worker> serving = pool.serving();
        if (serving.size() > goal) retireSurplus(serving, serving.size() - goal);
        int missing = goal - pool.servingCount();
        if (missing <= 0) return;
        if (!backoff.everSpawned()) {
            log(Level.INFO, "Launching " + missing + " new workers");
            for (int i = 0; i < missing; i++) spawnOrBackOff(Happening.SpawnReason.START);
            return;
        }
        if (os.nanoTime() >= backoff.dueAt(config.respawnInterval()) && pool.unackedServing() < config.maxUnacked()) {
            if (backoff.deaths() > 0) {
                log(Level.INFO, "Spawning a replacement (spawn interval " + intervalText()
                        + "s after " + backoff.deaths() + " consecutive unacked worker deaths)");
            }
            if (pool.servingCount() >= target) { // beyond the target: goal() made room for a sick worker's replacement
                Worker sick = health.firstSick();
                log(Level.INFO, "Starting a replacement for sick worker " + sick.describe() + ": " + sick.sick());
            }
            spawnOrBackOff(backoff.deaths() > 0 ? Happening.SpawnReason.RESTART : Happening.SpawnReason.REPLACE);
        }
    }

    /** Whether a paced respawn is waiting for its time. */
    private boolean respawnPaced() {
        return !rollout.active() && !stopping && backoff.everSpawned() && health.goal() > pool.servingCount()
                && pool.unackedServing() < config.maxUnacked();
    }

    private void spawnOrBackOff(Happening.SpawnReason reason) {
        if (spawn(rollout.servingGeneration(), reason) instanceof SpawnResult.Failed f) {
            backoff.died();
            log(f.reported() ? Level.DEBUG : Level.ERROR, "Could not start a worker: " + f.reason() + "; retrying in "
                    + intervalText() + "s");
        }
    }

    private String intervalText() {
        return Settings.seconds(Duration.ofNanos(backoff.intervalNanos(config.respawnInterval())));
    }

    // ------------------------------------------------------------------ stopping

    /** Asks every worker to go with {@code signal}, spawns no more, and finishes when all are gone. */
    String die(String signal) {
        if (rollout.active()) rollout.end(false, "Upgrade interrupted: the supervisor is stopping");
        draining.ended();
        stopping = true;
        os.happened(new Happening.Stopping(signal));
        int n = pool.size();
        for (Worker w : pool.all()) retire(w, signal, Happening.SignalReason.STOP);
        if (pool.isEmpty()) log(Level.INFO, "No workers left; exiting");
        return "Sent " + signal + " to " + n + " worker" + (n == 1 ? "" : "s") + ".";
    }

    // ------------------------------------------------------------------ logging

    void log(Level level, String message) {
        int rank = switch (level) {
            case DEBUG -> 0;
            case INFO -> 1;
            case WARN, ERROR -> 2;
        };
        if (rank >= config.verbosity()) os.log(level, message);
    }

    String logged(String message) {
        log(Level.INFO, message);
        return message;
    }
}
