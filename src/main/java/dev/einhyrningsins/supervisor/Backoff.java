package dev.einhyrningsins.supervisor;

import java.time.Duration;

/**
 * einhorn's respawn pacing: after the first launch, one spawn per {@code seconds × 1.5^k},
 * k being the workers in a row that died (or timed out) before they acked, capped at 30 s,
 * so a crash-looping program never becomes a fork storm. An ack resets k.
 */
final class Backoff {
    /** Longest interval between spawns of a crash-looping program (einhorn's MAX_SPINUP_INTERVAL). */
    static final Duration MAX_INTERVAL = Config.MAX_SPAWN_INTERVAL;

    private int deaths;
    private boolean spawned;
    private long lastSpawnAt;

    /** Consecutive workers that failed before acking. */
    int deaths() {
        return deaths;
    }

    void died() {
        deaths++;
    }

    /** An ack breaks the streak; returns how long it was. */
    int reset() {
        int was = deaths;
        deaths = 0;
        return was;
    }

    /** Whether anything was ever spawned: the first launch is all at once, later ones paced. */
    boolean everSpawned() {
        return spawned;
    }

    void spawned(long at) {
        spawned = true;
        lastSpawnAt = at;
    }

    Snapshot.BackoffState state() {
        return new Snapshot.BackoffState(deaths, spawned, lastSpawnAt);
    }

    void restore(Snapshot.BackoffState s) {
        deaths = s.deaths();
        spawned = s.spawned();
        lastSpawnAt = s.lastSpawnAt();
    }

    /** The current interval for a base of {@code seconds}. */
    long intervalNanos(Duration seconds) {
        double nanos = seconds.toNanos() * Math.pow(1.5, deaths);
        return (long) Math.min(nanos, MAX_INTERVAL.toNanos());
    }

    /** When the next paced spawn may happen. */
    long dueAt(Duration seconds) {
        return lastSpawnAt + intervalNanos(seconds);
    }
}
