package dev.einhyrningsins.supervisor;

/**
 * The only way the supervisor core acts on the world. The real implementation spawns with
 * posix_spawn and signals through pidfds; tests use a fake with a fake clock.
 */
public interface Os {

    /** Monotonic time in nanoseconds. */
    long nanoTime();

    /** Wall clock, epoch milliseconds, for the state dump only. */
    long currentTimeMillis();

    /** Starts one worker in {@code slot} (EINHORN_CHILD_INDEX). */
    SpawnResult spawn(int slot, int generation);

    /** Sends a signal (name without SIG) to one worker; a worker that already exited is ignored. */
    void signal(int pid, String signal);

    /** Sends a signal to a worker's whole process group. */
    void signalGroup(int pid, String signal);

    /** Sends one reply line to a control client; {@code last} ends a streamed reply. */
    void reply(Object client, String message, boolean last, boolean ok);

    /**
     * Replaces the supervisor process with a new start of its installation, handing over the
     * state ({@code reload}). The shell answers {@code client} itself; {@code then} is
     * "upgrade" or "upgrade_fleet" when an upgrade of the workers waits for it, else null.
     * The default says it cannot.
     */
    default void reload(Object client, boolean streaming, String then) {
        reply(client, "reload is not supported here", true, false);
    }

    /** Whether the supervisor's own installation (jar, image, JDK) changed on disk since it started. */
    default boolean installationChanged() {
        return false;
    }

    /** Tells the world what happened (metrics, event streams, notifications); the default ignores it. */
    default void happened(Happening happening) {}

    /** The {@code metrics} command's text (OpenMetrics), from what the shell counted; null if it keeps none. */
    default String metrics() {
        return null;
    }

    /**
     * Makes {@code client} a watcher: what happens from now on streams to it, one event a
     * reply line, until it goes away. False if the shell has no event stream.
     */
    default boolean watch(Object client) {
        return false;
    }

    /** Emits one log line. The core has already applied the verbosity filter. */
    void log(Level level, String message);

    enum Level { DEBUG, INFO, WARN, ERROR }

    sealed interface SpawnResult {
        record Spawned(int pid) implements SpawnResult {}

        record Failed(String reason) implements SpawnResult {}
    }
}
