package dev.einhyrningsins.worker;

/**
 * This process was not started by the supervisor (einhyrningsins or einhorn) as one of its
 * workers, so there are no inherited sockets and nobody to acknowledge to. The message says
 * why in one line. A worker typically catches it to bind a socket of its own in development.
 */
public final class NotSupervisedException extends Exception {
    private static final long serialVersionUID = 1L;

    public NotSupervisedException(String message) {
        super(message);
    }
}
