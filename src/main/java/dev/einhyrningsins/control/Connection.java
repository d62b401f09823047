package dev.einhyrningsins.control;

import dev.einhyrningsins.posix.Fds;
import dev.einhyrningsins.posix.Pollable;
import dev.einhyrningsins.posix.Poller;
import dev.einhyrningsins.posix.PosixException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;

/**
 * One control connection's transport, the same for every kind of peer: a {@link Session}
 * over bytes that the loop thread reads and writes without ever blocking. The bytes are a
 * NIO {@link SocketChannel} for a client of the control socket, or a plain fd for a worker's
 * {@code -g} channel and for a client kept across a reload (a fd is what an exec hands
 * over). Each wake-up reads at most {@link #READ_CAP} bytes, so one busy peer cannot hold
 * the loop; whatever ends the connection ends its session too ({@link Session#closed()}),
 * so nothing keeps replying to, or counting, a peer that is gone.
 */
public final class Connection implements Pollable {
    /** The most one connection reads in one wake-up. */
    public static final int READ_CAP = 64 * 1024;

    /** The bytes under a connection. */
    interface Bytes {
        int fd();

        /** Reads into {@code into}: the count, 0 if nothing is there now, -1 at the end of input. */
        int read(ByteBuffer into) throws IOException;

        /** Writes what fits from {@code from} (advancing it): the count, 0 if nothing fits now. */
        int write(ByteBuffer from) throws IOException;

        void close();
    }

    /**
     * Hears what a connection read, what it holds now (after every read and write), and that it
     * ended ({@code why}: null for a normal end, else why it was dropped).
     */
    public interface Owner {
        default void read(Connection c, int bytes) {
        }

        default void held(Connection c, long bytes) {
        }

        void closed(Connection c, String why);
    }

    private final long id;
    private final String label;
    private final Bytes bytes;
    private final Session session;
    private final Owner owner;
    private final ByteBuffer readBuffer;
    private boolean reading = true;
    private boolean closed;
    /** What the owner last counted of this connection against the clients' budget (its own bookkeeping). */
    long accounted;
    /** Whether the workers' user ({@code --user}) opened it: it may only ack and ping (the owner's bookkeeping). */
    boolean workersUser;

    /**
     * @param readBuffer the loop's shared buffer (heap, at least {@link #READ_CAP} bytes is enough)
     * @param maxOutput  queued reply bytes beyond which the peer counts as not reading
     */
    Connection(long id, String label, Bytes bytes, Session.Dispatcher dispatcher, Owner owner, ByteBuffer readBuffer,
               long maxOutput) {
        this.id = id;
        this.label = label;
        this.bytes = bytes;
        this.owner = owner;
        this.readBuffer = readBuffer;
        this.session = new Session(dispatcher, update -> {
            if (closed) return;
            update.run();
            flush();
        }, maxOutput);
    }

    /** A connection over a plain fd (already non-blocking), e.g. a worker's {@code -g} channel. */
    public static Connection overFd(long id, String label, int fd, Session.Dispatcher dispatcher, Owner owner,
                                    ByteBuffer readBuffer, long maxOutput) {
        return new Connection(id, label, new FdBytes(fd), dispatcher, owner, readBuffer, maxOutput);
    }

    static Connection overChannel(long id, String label, SocketChannel ch, Session.Dispatcher dispatcher, Owner owner,
                                  ByteBuffer readBuffer, long maxOutput) {
        return new Connection(id, label, new ChannelBytes(ch), dispatcher, owner, readBuffer, maxOutput);
    }

    public long id() {
        return id;
    }

    public String label() {
        return label;
    }

    public Session session() {
        return session;
    }

    @Override
    public int fd() {
        return bytes.fd();
    }

    /**
     * Input while the session wants it (and neither the reload nor requests in flight paused
     * it), output while replies wait. 0 when it only waits for replies the core will give: the
     * loop then leaves it out of the poll (a peer that hung up would be reported at every turn).
     */
    @Override
    public short events() {
        return (short) ((wantsInput() ? Poller.IN : 0) | (session.output() != null ? Poller.OUT : 0));
    }

    private boolean wantsInput() {
        return reading && session.reading() && !session.paused();
    }

    @Override
    public boolean closed() {
        return closed;
    }

    /** Stops (or resumes) reading this peer's requests; replies still go out. */
    void reading(boolean on) {
        reading = on;
    }

    /** Handles poll's verdict: one read of at most {@link #READ_CAP} bytes, then writes what is queued. */
    @Override
    public void ready(short revents) {
        if (closed) return;
        try {
            if ((revents & (Poller.IN | Poller.HUP)) != 0 && wantsInput()) {
                readBuffer.clear();
                readBuffer.limit(Math.min(readBuffer.capacity(), READ_CAP));
                int n;
                try {
                    n = bytes.read(readBuffer);
                } catch (IOException e) {
                    n = -1; // reset by the peer: the end of its input
                }
                if (n < 0) {
                    session.endOfInput();
                } else if (n > 0) {
                    session.received(readBuffer.array(), readBuffer.arrayOffset(), n);
                    owner.read(this, n);
                }
            }
            flush();
        } catch (OutOfMemoryError e) {
            // what this peer sent did not fit: it goes, with what it held; the others are served on
            close("ran out of memory serving it (" + e.getMessage() + ")");
        }
    }

    /** Writes what is queued, as far as the peer takes it; closes the connection once it is done. */
    void flush() {
        if (closed) return;
        try {
            for (ByteBuffer b = session.output(); b != null && !session.done(); b = session.output()) {
                bytes.write(b);
                if (b.hasRemaining()) break;
            }
        } catch (IOException e) {
            close(null); // the peer is gone: nothing more to say to it
            return;
        }
        if (session.done()) {
            close(session.farewell());
            return;
        }
        owner.held(this, session.held());
    }

    /** Whether everything queued has been written. */
    boolean written() {
        return session.output() == null;
    }

    /** Tells the peer why it is being dropped, as far as its socket buffer takes it, and closes. */
    void farewell(String message) {
        if (closed) return;
        try {
            bytes.write(ByteBuffer.wrap(WireCodec.failureLine(message)));
        } catch (IOException ignored) {
            // gone already
        }
        close(null);
    }

    /** Ends the connection; {@code why} (null for a normal end) goes to the owner, for the log. */
    void close(String why) {
        if (closed) return;
        closed = true;
        session.closed();
        bytes.close();
        owner.closed(this, why);
    }

    @Override
    public void close() {
        close(null);
    }

    @Override
    public String toString() {
        return label;
    }

    /** A NIO channel in non-blocking mode; its fd only for polling. */
    private record ChannelBytes(SocketChannel ch, int fd) implements Bytes {
        ChannelBytes(SocketChannel ch) {
            this(ch, NioFd.of(ch));
        }

        @Override
        public int read(ByteBuffer into) throws IOException {
            return ch.read(into);
        }

        @Override
        public int write(ByteBuffer from) throws IOException {
            return ch.write(from);
        }

        @Override
        public void close() {
            try {
                ch.close();
            } catch (IOException ignored) {
                // nothing to do
            }
        }
    }

    /** A plain non-blocking fd, read and written with read(2)/write(2). */
    private static final class FdBytes implements Bytes {
        private final int fd;
        private byte[] scratch;

        FdBytes(int fd) {
            this.fd = fd;
        }

        @Override
        public int fd() {
            return fd;
        }

        @Override
        public int read(ByteBuffer into) throws IOException {
            try {
                int n = Fds.read(fd, into.array(), into.arrayOffset() + into.position(), into.remaining());
                if (n == Fds.WOULD_BLOCK) return 0;
                if (n == 0) return -1;
                into.position(into.position() + n);
                return n;
            } catch (PosixException e) {
                throw new IOException(e.getMessage(), e);
            }
        }

        @Override
        public int write(ByteBuffer from) throws IOException {
            try {
                byte[] b;
                int off;
                if (from.hasArray()) {
                    b = from.array();
                    off = from.arrayOffset() + from.position();
                } else {
                    if (scratch == null || scratch.length < from.remaining()) scratch = new byte[from.remaining()];
                    from.duplicate().get(scratch, 0, from.remaining());
                    b = scratch;
                    off = 0;
                }
                int n = Fds.write(fd, b, off, from.remaining());
                if (n == Fds.WOULD_BLOCK) return 0;
                from.position(from.position() + n);
                return n;
            } catch (PosixException e) {
                throw new IOException(e.getMessage(), e);
            }
        }

        @Override
        public void close() {
            Fds.closeQuietly(fd);
        }
    }
}
