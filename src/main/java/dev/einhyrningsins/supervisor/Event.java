package dev.einhyrningsins.supervisor;

/** Everything that can happen to the supervisor. Produced by the shell, consumed by the core. */
public sealed interface Event {

    /** A child was reaped. {@code description} is human text such as "exited with status 1". */
    record ChildExited(int pid, boolean success, String description, boolean bySignal, int code) implements Event {
        /** An exit known only by its description (tests): code 0 on success, else 1. */
        public ChildExited(int pid, boolean success, String description) {
            this(pid, success, description, false, success ? 0 : 1);
        }
    }

    /**
     * A worker said something on its own notify socket (sd_notify(3), {@code -m notify}):
     * {@code READY=1}, {@code STOPPING=1}, {@code STATUS=…} (null when the message had none).
     */
    record WorkerNotified(int pid, boolean ready, boolean stopping, String status) implements Event {}

    /**
     * An upgrade that waited for the supervisor to reload itself (or found it could not):
     * start it for {@code client}, telling it {@code note} first.
     */
    record UpgradeRequested(boolean fleet, Object client, boolean streaming, String note) implements Event {}

    /**
     * A health check ended by itself (one the core stopped with {@link Os#cancelCheck} never
     * ends this way).
     *
     * @param id            the id the core gave it ({@link Os.CheckRun#id()})
     * @param passed        it exited 0
     * @param outcome       "passed", "exited with status 1", "killed by SIGSEGV", …
     * @param durationNanos from its start to its exit
     * @param lastLine      the last line it printed (stdout and stderr together); null if none
     */
    record CheckFinished(long id, int pid, CheckKind kind, boolean passed, String outcome, long durationNanos,
                         String lastLine) implements Event {}

    /** A signal the supervisor itself received, by name without SIG ("TERM", "HUP"). */
    record SignalReceived(String name) implements Event {}

    /**
     * A control command. {@code client} is an opaque handle the core passes back to
     * {@link Os#reply}; {@code streaming} tells whether the request carried an id, so that
     * more than one reply can be sent (einhorn's subscription rule).
     *
     * @param args raw arguments as decoded (null, a List, or anything else a client sent)
     * @param pid  raw pid field (Integer, Long, String or null)
     */
    record Command(String name, Object args, Object pid, String user, Object pingId,
                   boolean streaming, Object client) implements Event {}
}
