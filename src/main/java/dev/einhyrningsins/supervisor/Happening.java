package dev.einhyrningsins.supervisor;

import dev.einhyrningsins.DoNotMutate;
import java.util.List;

/**
 * What the core tells the world happened, through {@link Os#happened}: the shell turns these
 * into metrics, a live event stream, service-manager notifications. They describe decisions
 * already taken and carry no handles; the core never waits on anyone who listens.
 */
public sealed interface Happening {

    /** Why a worker was started. */
    enum SpawnReason {
        /** the first launch, all at once */
        START,
        /** a replacement or an added worker, paced by the respawn interval ({@code -s}) */
        REPLACE,
        /** a replacement after workers died before acking: a restart paced by the backoff ({@code -s} × 1.5^k) */
        RESTART,
        /** part of an upgrade's new generation */
        UPGRADE
    }

    /** Why we sent a worker a signal. */
    enum SignalReason {
        /** asked to go: surplus, upgrade, abort, ack timeout, a sick worker replaced */
        RETIRE,
        /** asked to go because the supervisor is stopping */
        STOP,
        /** still alive after -t: SIGKILL */
        KILL,
        /** sent on request (the signal command), or the second TERM to its process group */
        FORWARD,
        /** SIGKILL to a worker and its process group: more generations retiring than --max-draining */
        MAX_DRAINING,
        /** SIGKILL to a worker and its process group: still draining after --drain-timeout */
        DRAIN_TIMEOUT
    }

    record Spawned(int pid, int slot, int generation, SpawnReason reason) implements Happening {}

    /** A spawn that failed before there was a process (program missing, out of fds…). */
    record SpawnFailed(int generation, String reason) implements Happening {}

    /** @param latencyNanos from spawn to ack */
    record Acked(int pid, int slot, int generation, long latencyNanos) implements Happening {}

    record Signalled(int pid, String signal, SignalReason reason) implements Happening {}

    /**
     * A worker was reaped.
     *
     * @param code        exit code, or the signal number when {@code bySignal}
     * @param expected    we had asked it to go
     * @param killed      we SIGKILLed it after the signal timeout
     * @param ackTimedOut it was retired for not acking in time
     * @param drainNanos  from the first time we asked it to go to its exit; -1 if we never asked
     */
    record Exited(int pid, int slot, int generation, String status, boolean bySignal, int code, boolean acked,
                  boolean expected, boolean killed, boolean ackTimedOut, long drainNanos) implements Happening {}

    /**
     * A health check of a worker ended: by itself, timed out, or could not start.
     *
     * @param outcome  "passed", "exited with status 1", "timed out after 5s", "could not start: …"
     * @param lastLine the last line it printed; null if none
     */
    record CheckFinished(int pid, int slot, int generation, CheckKind kind, boolean passed, String outcome,
                         long durationNanos, String lastLine) implements Happening {}

    /**
     * A worker is to be replaced: live checks failed, it stopped pinging, it grew past
     * --max-worker-rss or it is older than --max-worker-age. It keeps serving until a
     * replacement is acked.
     */
    record WorkerSick(int pid, int slot, int generation, SickCause cause, String reason) implements Happening {}

    /** What made a worker sick. */
    enum SickCause { LIVE_CHECK, PING_TIMEOUT, RSS, AGE }

    /** A sick worker was asked to go (the graceful signal follows) because enough healthy workers are acked. */
    record Recycled(int pid, int slot, int generation, String reason) implements Happening {}

    /**
     * A worker does not use the sockets it inherited: it exited before its ack, or is acked,
     * holding none of them (most often it binds the address itself, and fails with EADDRINUSE).
     *
     * @param acked false: it exited before its ack; true: it is acked and holds none
     * @param first the first of its generation (the one that is logged as a warning)
     */
    record ListenersUnused(int pid, int slot, int generation, boolean acked, boolean first) implements Happening {}

    record UpgradeStarted(int generation, boolean fleet, int fromGeneration) implements Happening {}

    /** A line of an upgrade's progress, as its clients see it. */
    record UpgradeProgress(int generation, String message) implements Happening {}

    /**
     * @param outcome       "done", "failed" or "interrupted" (the supervisor is stopping)
     * @param durationNanos from its start
     */
    record UpgradeEnded(int generation, String outcome, String message, long durationNanos) implements Happening {}

    /** {@code config} changed settings; {@code applied} as its reply lists them ("seconds=2 (was 1)"). */
    record ConfigChanged(List<String> applied) implements Happening {}

    /**
     * TERM or INT with a shutdown delay: the supervisor is not ready from now on, its workers
     * serve on, and the stop ({@link Stopping}) follows after {@code delayNanos}.
     */
    record ShutdownDelayed(String signal, long delayNanos) implements Happening {}

    /** The supervisor stops: no more spawns, every worker asked to go. */
    record Stopping(String signal) implements Happening {}

    /**
     * The counts that describe the supervisor at a glance, emitted whenever one of them
     * changed (after the event or tick that changed it).
     *
     * @param ready true once the target number of workers of the serving generation are
     *              acked with no upgrade running: the service is up
     */
    record Status(int target, int workers, int acked, int generation, boolean upgrading, boolean stopping,
                  boolean ready) implements Happening {
        // Written out: a record's generated equals and hashCode are linked by an
        // invokedynamic bootstrap on first use (ObjectMethods), ~5 ms of a supervisor's start
        // that the AOT cache of JDK 25 does not keep, and the core compares statuses from
        // its first event on.
        @Override
        public boolean equals(Object o) {
            return o instanceof Status s && target == s.target && workers == s.workers && acked == s.acked
                    && generation == s.generation && upgrading == s.upgrading && stopping == s.stopping
                    && ready == s.ready;
        }

        @Override
        @DoNotMutate("any function of the compared fields keeps hashCode's contract; nothing hashes statuses")
        public int hashCode() {
            return ((((target * 31 + workers) * 31 + acked) * 31 + generation) * 8)
                    + (upgrading ? 4 : 0) + (stopping ? 2 : 0) + (ready ? 1 : 0);
        }
    }
}
