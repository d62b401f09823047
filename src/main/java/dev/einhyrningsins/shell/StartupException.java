package dev.einhyrningsins.shell;

/** A start-up failure that is not a usage error: one line, exit status 1. */
public final class StartupException extends RuntimeException {
    public StartupException(String message) {
        super(message, null, false, false);
    }
}
