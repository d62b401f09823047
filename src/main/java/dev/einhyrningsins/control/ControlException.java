package dev.einhyrningsins.control;

/** The control socket could not be set up or reached; the message is one line for the user. */
public final class ControlException extends Exception {
    public ControlException(String message) {
        super(message, null, false, false);
    }
}
