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

    /**
     * Starts a health check: {@code /bin/sh -c command} for one worker, as a process of its
     * own (never waited for: its end comes back as {@link Event.CheckFinished} with the same
     * id). It must never be taken for a worker.
     *
     * @return null, or why it could not be started (then no event follows)
     */
    String startCheck(CheckRun check);

    /**
     * Stops check {@code id} if it still runs (kills it with everything it started); no
     * {@link Event.CheckFinished} follows.
     *
     * @return the last line it printed so far; null if none
     */
    String cancelCheck(long id);

    /**
     * The resident memory of a worker and every process below it, in bytes, read from the
     * kernel's in-memory counters (never blocks); -1 if unknown.
     */
    long rssBytes(int workerPid);

    /**
     * Whether workers inherit sockets at all (then the core looks at whether each holds them,
     * {@link #holdsInherited}); false by default.
     */
    default boolean inheritsSockets() {
        return false;
    }

    /**
     * Whether worker {@code pid} (or a process below it) holds any of the sockets it
     * inherited, from its descriptor table now; {@link Holding#UNKNOWN} when that cannot be
     * told (the process is gone or exiting). Never blocks.
     */
    default Holding holdsInherited(int pid) {
        return Holding.UNKNOWN;
    }

    /** What a look at a worker's descriptors found. */
    enum Holding { HELD, NONE, UNKNOWN }

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

    /**
     * Whether {@code client} still waits for its reply: false once it went away, or gave up
     * waiting (an HTTP scrape past its deadline). What nobody waits for is not worked out.
     */
    default boolean waiting(Object client) {
        return true;
    }

    /**
     * {@code --env-file}: reads the workers' environment file again, for the workers started
     * from now on (an upgrade or a reload is about to start). On a problem nothing changes.
     * The default has no such file.
     */
    default EnvironmentRead readEnvironment() {
        return EnvironmentRead.UNCHANGED;
    }

    /**
     * What a read of the environment file found.
     *
     * @param changed whether the values differ from the last read's
     * @param problem why the file cannot be used ("--env-file /etc/app.env line 3: …"); null if it can
     * @param changes the names that changed, as a log line says it ("API_KEY changed, DEBUG added");
     *                never the values
     */
    record EnvironmentRead(boolean changed, String problem, String changes) {
        public static final EnvironmentRead UNCHANGED = new EnvironmentRead(false, null, "");
    }

    /** Tells the world what happened (metrics, event streams, notifications); the default ignores it. */
    default void happened(Happening happening) {}

    /**
     * The {@code metrics} command's text (OpenMetrics): the gauges from the core's state now,
     * the rest from what the shell counted; null if it keeps none.
     */
    default String metrics(Gauges gauges) {
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

    /** A check to run for worker {@code workerPid} in {@code slot} (EINHORN_WORKER_PID, EINHORN_CHILD_INDEX). */
    record CheckRun(long id, int workerPid, int slot, CheckKind kind, String command) {}

    sealed interface SpawnResult {
        record Spawned(int pid) implements SpawnResult {}

        /**
         * The worker could not be started. {@code reported}: the shell has said so already (once
         * for an episode, such as running out of file descriptors), so the core's own line about
         * each try is only a debug line.
         */
        record Failed(String reason, boolean reported) implements SpawnResult {
            public Failed(String reason) {
                this(reason, false);
            }
        }
    }
}
