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
    KILL,
    /** {@code --drain-timeout}: still alive that long after it was first asked to go, it and its process group get SIGKILL. */
    DRAIN_TIMEOUT,
    /** {@code --ready-check}: the next run, at once after its ack, then an interval after each failure. */
    READY_CHECK,
    /** {@code --live-check}: the next run, an interval after its ack or after the last live check ended. */
    LIVE_CHECK,
    /** {@code --check-timeout}: a check in flight that long is stopped and counts as failed. */
    CHECK_TIMEOUT,
    /** {@code --ping-timeout}: silent that long after its last {@code worker:ping}, it is sick. */
    PING_TIMEOUT,
    /** {@code --max-worker-age}: that long after its spawn, it is sick. */
    MAX_AGE,
    /** {@code --max-worker-rss}: its process tree's RSS is sampled at its ack and then every check interval. */
    RSS_SAMPLE;

    /** A timer that is not running. */
    static final long NEVER = Long.MAX_VALUE;

    /** Every timer, in firing order (values() would copy the array each time). */
    static final WorkerTimer[] ALL = values();

    long dueAt(Worker w, Config c) {
        return switch (this) {
            case ACK_DELAY -> !w.acked() && !w.checking() && !w.retiring() && c.ackMode() instanceof Config.AckMode.Timer t
                    ? w.spawnedAt + t.delay().toNanos() : NEVER;
            case ACK_TIMEOUT -> !w.acked() && !w.retiring() && !c.ackTimeout().isZero()
                    ? w.spawnedAt + c.ackTimeout().toNanos() : NEVER;
            case KILL -> w.retiring() && !w.killed() && !c.signalTimeout().isZero()
                    ? w.retiredAt() + c.signalTimeout().toNanos() : NEVER;
            case DRAIN_TIMEOUT -> Draining.drainDueAt(w, c);
            case READY_CHECK -> w.checking() && !w.retiring() && c.health().readyCheck() != null && !w.ready.running()
                    ? (w.ready.endedAt() < 0 ? w.claimedAt() : w.ready.endedAt() + c.health().checkInterval().toNanos())
                    : NEVER;
            case LIVE_CHECK -> w.healthy() && c.health().liveCheck() != null && !w.live.running()
                    ? Math.max(w.ack().at(), w.live.endedAt()) + c.health().checkInterval().toNanos() : NEVER;
            case CHECK_TIMEOUT -> Math.min(checkDeadline(w.ready, c), checkDeadline(w.live, c));
            case PING_TIMEOUT -> w.healthy() && w.ping() != null && !c.health().pingTimeout().isZero()
                    ? w.ping().at() + c.health().pingTimeout().toNanos() : NEVER;
            case MAX_AGE -> w.healthy() && !c.health().maxWorkerAge().isZero()
                    ? w.spawnedAt + c.health().maxWorkerAge().toNanos() : NEVER;
            case RSS_SAMPLE -> w.healthy() && c.health().maxWorkerRssMb() > 0
                    ? (w.rssAt() < 0 ? w.ack().at() : w.rssAt() + c.health().checkInterval().toNanos()) : NEVER;
        };
    }

    /** When the check in flight of {@code p} overruns {@code --check-timeout}; {@link #NEVER} if none is. */
    static long checkDeadline(Worker.Probe p, Config c) {
        return p.running() ? p.startedAt() + c.health().checkTimeout().toNanos() : NEVER;
    }
}
