package dev.einhyrningsins.supervisor;

/**
 * The timers each worker carries. None stores a deadline: {@link #dueAt} computes it from
 * when its clock started (the spawn, the last signal) and the current configuration, so a
 * {@code config} change applies at once. {@link Supervisor#tick()} fires what {@code dueAt}
 * says is due and {@link Supervisor#nextDeadline()} is the least {@code dueAt}: one source
 * for both. (The upgrade's timeout and the respawn pacing are the other two timers, in
 * {@link Rollout#dueAt} and {@link Backoff#dueAt}.)
 */
enum WorkerTimer {
    /** Timer ack mode: alive for the delay counts as ready. */
    ACK_DELAY,
    /** {@code --ack-timeout}: not ready in time counts as a failure. */
    ACK_TIMEOUT,
    /** {@code -t}: still alive that long after being asked to go, it gets SIGKILL. */
    KILL;

    /** A timer that is not running. */
    static final long NEVER = Long.MAX_VALUE;

    /** Every timer, in firing order (values() would copy the array each time). */
    static final WorkerTimer[] ALL = values();

    long dueAt(Worker w, Config c) {
        return switch (this) {
            case ACK_DELAY -> !w.acked() && !w.retiring() && c.ackMode() instanceof Config.AckMode.Timer t
                    ? w.spawnedAt + t.delay().toNanos() : NEVER;
            case ACK_TIMEOUT -> !w.acked() && !w.retiring() && !c.ackTimeout().isZero()
                    ? w.spawnedAt + c.ackTimeout().toNanos() : NEVER;
            case KILL -> w.retiring() && !w.killed() && !c.signalTimeout().isZero()
                    ? w.retiredAt() + c.signalTimeout().toNanos() : NEVER;
        };
    }
}
