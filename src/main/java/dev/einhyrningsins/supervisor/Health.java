package dev.einhyrningsins.supervisor;

import dev.einhyrningsins.DoNotMutate;
import dev.einhyrningsins.supervisor.Os.Level;
import java.time.Duration;
import java.util.Objects;

/**
 * Keeping workers healthy. Ready and live checks are processes the shell runs
 * ({@link Os#startCheck}); this room decides when each starts (at most one in flight per
 * worker and kind, the next an interval after the last ended), stops the ones that overrun
 * {@code --check-timeout}, and judges their outcomes: a passed ready check acks its worker,
 * {@code --live-failures} failed live checks in a row make it sick, as do silence after a
 * {@code worker:ping} ({@code --ping-timeout}), {@code --max-worker-rss} and
 * {@code --max-worker-age}. A sick worker keeps serving while one replacement starts beside
 * it (the goal is the target plus one); once the others are enough to keep the target
 * acked, it is retired with the graceful signal — one at a time, never below the target.
 */
final class Health {
    /** A failed ready check that repeats the one before is logged every this many failures in a row. */
    static final int REPEATS_LOGGED_EVERY = 10;

    private final Supervisor sup;
    private final Os os;
    private long lastCheckId;

    Health(Supervisor sup, Os os) {
        this.sup = sup;
        this.os = os;
    }

    /** Fires one of the health timers of {@link WorkerTimer}. */
    void fire(WorkerTimer t, Worker w) {
        HealthConfig h = sup.config().health();
        switch (t) {
            case READY_CHECK -> start(w, CheckKind.READY);
            case LIVE_CHECK -> start(w, CheckKind.LIVE);
            case CHECK_TIMEOUT -> timedOut(w);
            case PING_TIMEOUT -> sick(w, Happening.SickCause.PING_TIMEOUT, "no worker:ping for " + Settings.seconds(h.pingTimeout()) + "s");
            case MAX_AGE -> sick(w, Happening.SickCause.AGE, "older than --max-worker-age " + Settings.seconds(h.maxWorkerAge()) + "s");
            case RSS_SAMPLE -> sample(w);
            default -> throw new IllegalArgumentException(t + " is not a health timer");
        }
    }

    /** A worker said it is ready (timer, worker:ack, READY=1): with a ready check it is checked first. */
    void claimedReady(Worker w) {
        w.claimReady(os.nanoTime());
        sup.log(Level.INFO, "Worker " + w.pid + " is up; it counts as acked once its ready check passes");
    }

    private void start(Worker w, CheckKind kind) {
        long id = nextCheckId();
        w.probe(kind).started(id, os.nanoTime());
        String command = sup.config().health().command(kind);
        sup.log(Level.DEBUG, "Running the " + kind.word + " check of worker " + w.pid + ": " + command);
        String failure = os.startCheck(new Os.CheckRun(id, w.pid, w.slot, kind, command));
        if (failure != null) ended(w, kind, false, "could not start: " + failure, 0, null);
    }

    @DoNotMutate("ids need only differ from each other and from 0 (none in flight), which counting down keeps too")
    private long nextCheckId() {
        return ++lastCheckId;
    }

    /** A check process ended by itself; one the core stopped meanwhile is ignored. */
    void finished(Event.CheckFinished f) {
        Worker w = sup.pool().get(f.pid());
        if (w == null || w.probe(f.kind()).runningId() != f.id()) {
            sup.log(Level.DEBUG, "Ignoring the end of a stopped " + f.kind().word + " check of " + f.pid());
            return;
        }
        ended(w, f.kind(), f.passed(), f.outcome(), f.durationNanos(), f.lastLine());
    }

    private void timedOut(Worker w) {
        long now = os.nanoTime();
        Duration limit = sup.config().health().checkTimeout();
        for (CheckKind kind : CheckKind.values()) {
            Worker.Probe p = w.probe(kind);
            if (now >= WorkerTimer.checkDeadline(p, sup.config())) {
                String line = os.cancelCheck(p.runningId());
                ended(w, kind, false, "timed out after " + Settings.seconds(limit) + "s", now - p.startedAt(), line);
            }
        }
    }

    private void ended(Worker w, CheckKind kind, boolean passed, String outcome, long durationNanos, String lastLine) {
        Worker.Probe p = w.probe(kind);
        Worker.CheckResult before = p.last();
        Worker.CheckResult result = new Worker.CheckResult(passed, outcome, durationNanos, lastLine, os.currentTimeMillis());
        int failuresBefore = p.failuresInRow();
        p.ended(result, os.nanoTime());
        os.happened(new Happening.CheckFinished(w.pid, w.slot, w.generation, kind, passed, outcome, durationNanos, lastLine));
        String text = "Worker " + w.pid + " (slot " + w.slot + ") " + kind.word + " check " + describe(result);
        if (kind == CheckKind.READY) {
            readyEnded(w, p, passed, text, before == null || before.passed() || !Objects.equals(before.outcome(), outcome)
                    || !Objects.equals(before.lastLine(), lastLine));
        } else if (passed) {
            if (failuresBefore > 0) tell(w, Level.INFO, text + " after " + failuresBefore + " failed");
        } else {
            int limit = sup.config().health().liveFailures();
            tell(w, Level.WARN, text + " (" + p.failuresInRow() + "/" + limit + " in a row)");
            if (p.failuresInRow() >= limit) {
                sick(w, Happening.SickCause.LIVE_CHECK, "its live check failed " + p.failuresInRow() + " times in a row (" + outcome + ")");
            }
        }
    }

    /**
     * A ready check ended. Each one goes to the clients following an upgrade of its worker;
     * the log gets a pass, a failure that differs from the one before, every
     * {@link #REPEATS_LOGGED_EVERY}th repeat and the last one, so it never hides that checks go
     * on failing. {@code --ready-failures} in a row fail the worker before its ack.
     */
    private void readyEnded(Worker w, Worker.Probe p, boolean passed, String text, boolean news) {
        if (passed) {
            tell(w, Level.INFO, text, true);
            sup.readiness().ack(w);
            return;
        }
        int failures = p.failuresInRow();
        int limit = sup.config().health().readyFailures();
        boolean last = failures >= limit;
        String count = " (" + failures + "/" + limit + " in a row)";
        tell(w, Level.INFO, text + count + (last ? "" : "; next try in " + Settings.seconds(sup.config().health().checkInterval()) + "s"),
                news || last || failures % REPEATS_LOGGED_EVERY == 0);
        if (last) sup.readiness().readyFailed(w, failures);
    }

    /** "passed (0.012s)", "failed (exited with status 22, 0.03s): curl: (22) … 503". */
    static String describe(Worker.CheckResult r) {
        String took = Settings.seconds(Duration.ofMillis(Math.round(r.durationNanos() / 1e6))) + "s";
        return (r.passed() ? "passed (" + took + ")" : "failed (" + r.outcome() + ", " + took + ")")
                + (r.lastLine() == null ? "" : ": " + r.lastLine());
    }

    private void sample(Worker w) {
        long bytes = os.rssBytes(w.pid);
        w.rss(bytes, os.nanoTime());
        HealthConfig h = sup.config().health();
        if (bytes > h.maxWorkerRssBytes()) {
            sick(w, Happening.SickCause.RSS, "its RSS of " + bytes / (1024 * 1024) + " MiB is over --max-worker-rss " + h.maxWorkerRssMb() + " MiB");
        }
    }

    private void sick(Worker w, Happening.SickCause cause, String reason) {
        w.sick(reason);
        cancel(w);
        os.happened(new Happening.WorkerSick(w.pid, w.slot, w.generation, cause, reason));
        tell(w, Level.WARN, "Worker " + w.describe() + " is sick: " + reason
                + "; it keeps serving until a replacement is acked");
    }

    /** Logs, and streams to the upgrade's followers when {@code w} belongs to the generation being rolled out. */
    private void tell(Worker w, Level level, String message) {
        tell(w, level, message, true);
    }

    /** As {@link #tell(Worker, Level, String)}, logged at {@code level} only if {@code logged} (else at DEBUG). */
    private void tell(Worker w, Level level, String message, boolean logged) {
        if (sup.rollout().isNew(w)) {
            sup.rollout().progress(level, message, logged);
        } else {
            sup.log(logged ? level : Level.DEBUG, message);
        }
    }

    /** Stops the checks in flight of a worker that is going (retired, sick, reaped): no outcome is recorded. */
    void cancel(Worker w) {
        for (Worker.Probe p : new Worker.Probe[] {w.ready, w.live}) {
            if (p.running()) {
                os.cancelCheck(p.runningId());
                p.dropped();
            }
        }
    }

    /** The shell lost {@code w}'s checks in flight without an outcome (they did not cross a failed exec). */
    void lost(Worker w) {
        for (Worker.Probe p : new Worker.Probe[] {w.ready, w.live}) {
            if (p.running()) p.dropped();
        }
    }

    /**
     * Retires sick workers while the rest keep the target acked (outside upgrades; reconcile
     * calls it). The replacement that made room was started by reconcile, because of
     * {@link #goal()}.
     */
    void recycle() {
        WorkerPool pool = sup.pool();
        for (Worker w = firstSick(); w != null && pool.ackedServing() - 1 >= sup.target(); w = firstSick()) {
            sup.log(Level.INFO, "Retiring sick worker " + w.describe() + ": " + w.sick() + "; " + (pool.ackedServing() - 1)
                    + " other workers are acked for a target of " + sup.target());
            os.happened(new Happening.Recycled(w.pid, w.slot, w.generation, w.sick()));
            sup.retire(w, sup.config().gracefulSignal());
        }
    }

    /** How many workers should serve: the target, plus one while a sick worker still serves (its replacement). */
    int goal() {
        return sup.target() + (firstSick() == null ? 0 : 1);
    }

    /** The first (oldest) sick worker still serving; null if none. */
    Worker firstSick() {
        for (Worker w : sup.pool().all()) {
            if (w.sick() != null && !w.retiring()) return w;
        }
        return null;
    }
}
