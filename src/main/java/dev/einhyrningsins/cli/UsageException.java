package dev.einhyrningsins.cli;

/** A command line mistake: printed as one line plus a hint to --help, exit status 2. */
public final class UsageException extends RuntimeException {
    public UsageException(String message) {
        super(message, null, false, false);
    }
}
