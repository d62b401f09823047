package dev.einhyrningsins.posix;


/**
 * Something of a worker's that the loop polls besides its pidfd — its {@code -g} control
 * channel, its notify socket — and closes when the worker is reaped. Loop thread only.
 */
public interface Pollable extends AutoCloseable {
    int fd();

    /** What to poll for now (Poller.IN, Poller.OUT). */
    short events();

    /** Handles what poll reported. */
    void ready(short revents);

    boolean closed();

    @Override
    void close();
}
