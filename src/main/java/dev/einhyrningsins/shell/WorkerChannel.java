package dev.einhyrningsins.shell;

import dev.einhyrningsins.control.ReplyTo;
import dev.einhyrningsins.control.Request;
import dev.einhyrningsins.control.Session;
import dev.einhyrningsins.posix.Fds;
import dev.einhyrningsins.posix.Pollable;
import dev.einhyrningsins.posix.Poller;
import dev.einhyrningsins.posix.PosixException;
import java.nio.ByteBuffer;
import java.util.function.BiConsumer;

/**
 * A worker's own control channel ({@code -g}, EINHORN_SOCK_FD): our end of a socket pair
 * whose other end the worker inherited. It speaks the control protocol like a connection
 * to the control socket, but is served by the loop thread and never counts against the
 * control socket's connection limit, so a big fleet cannot crowd out operators. It ends when
 * the worker closes it, after {@code worker:ack} (as einhorn), or when the worker is reaped.
 */
public final class WorkerChannel implements Pollable {
    /** Makes the channel for worker {@code pid} over our end {@code fd} of its socket pair. */
    @FunctionalInterface
    public interface Opener {
        WorkerChannel open(int fd, int pid);
    }

    /** A worker that lets this much output pile up without reading is cut off. */
    private static final long MAX_QUEUED_OUTPUT = 16L << 20;

    private final int fd;
    private final String label;
    private final Session session;
    private final Log log;
    private final byte[] buffer;
    private boolean closed;

    /**
     * @param fd       our end, already non-blocking
     * @param requests where decoded requests go (the loop's queue)
     * @param buffer   the loop's shared read buffer
     */
    WorkerChannel(int fd, String label, BiConsumer<Request, ReplyTo> requests, Log log, byte[] buffer) {
        this.fd = fd;
        this.label = label;
        this.log = log;
        this.buffer = buffer;
        this.session = new Session(requests::accept, update -> {
            if (closed) return;
            update.run();
            flush();
        }, MAX_QUEUED_OUTPUT);
    }

    @Override
    public int fd() {
        return fd;
    }

    /** What to poll for: input while the worker may still send, output while replies are queued. */
    @Override
    public short events() {
        return (short) ((session.reading() ? Poller.IN : 0) | (session.output() != null ? Poller.OUT : 0));
    }

    @Override
    public boolean closed() {
        return closed;
    }

    /** Handles poll's verdict: reads what arrived, writes what is queued; closes when the channel is done. */
    @Override
    public void ready(short revents) {
        if (closed) return;
        try {
            if ((revents & (Poller.IN | Poller.HUP)) != 0 && session.reading()) {
                int n;
                while ((n = Fds.read(fd, buffer)) > 0) {
                    session.received(buffer, 0, n);
                    if (!session.reading()) break;
                }
                if (n == 0) session.endOfInput();
            }
        } catch (PosixException e) {
            session.endOfInput();
        }
        flush();
    }

    private void flush() {
        if (closed) return;
        try {
            for (ByteBuffer b = session.output(); b != null && !session.done(); b = session.output()) {
                int n = Fds.write(fd, b.array(), b.arrayOffset() + b.position(), b.remaining());
                if (n == Fds.WOULD_BLOCK) break;
                b.position(b.position() + n);
            }
        } catch (PosixException e) {
            close(); // the worker is gone
            return;
        }
        if (session.done()) {
            if (session.farewell() != null) log.warn(label + " " + session.farewell() + "; closing it");
            close();
        }
    }

    /** The session, to adopt requests a previous supervisor process read on this connection. */
    public Session session() {
        return session;
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            Fds.closeQuietly(fd);
        }
    }
}
