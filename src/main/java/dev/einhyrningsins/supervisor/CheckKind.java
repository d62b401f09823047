package dev.einhyrningsins.supervisor;

/** The two health checks a worker can have. */
public enum CheckKind {
    /** {@code --ready-check}: after its ack, until it passes; only then does the worker count as acked. */
    READY("ready"),
    /** {@code --live-check}: every interval while it is acked; {@code --live-failures} in a row make it sick. */
    LIVE("live");

    /** "ready", "live": as logs, {@code state} and the check's own name say it. */
    public final String word;

    CheckKind(String word) {
        this.word = word;
    }
}
