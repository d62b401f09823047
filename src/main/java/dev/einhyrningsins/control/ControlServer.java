package dev.einhyrningsins.control;

import dev.einhyrningsins.shell.Log;
import java.io.Closeable;
import java.io.IOException;
import java.net.StandardSocketOptions;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedSelectorException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.UserPrincipal;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import java.util.function.IntUnaryOperator;
import jdk.net.ExtendedSocketOptions;
import jdk.net.UnixDomainPrincipal;

/**
 * The einhorn control socket, served with java.nio on a UNIX socket by one platform thread
 * running a {@link Selector}: accepting is never held up by a slow client, idle connections
 * cost nothing, and replies come back from the supervisor loop through {@link ReplyTo}
 * without ever blocking it. Each connection's protocol is a {@link Session}.
 *
 * <p>Only the socket's owner and root may connect, compared by uid ({@code SO_PEERCRED}),
 * so it works under a uid that has no user name (containers). Refused clients are told why.
 */
public final class ControlServer implements AutoCloseable {
    public static final int MAX_LINE = Session.MAX_LINE;
    public static final int MAX_CONNECTIONS = 256;
    /** Queued reply bytes beyond which a client that does not read is dropped. */
    static final long MAX_QUEUED_OUTPUT = 16L << 20;
    /** Bytes from clients, all connections together, after which the server reports a burst: 128 KiB. */
    public static final long BURST_BYTES = 128 * 1024;

    /** Where the server's own messages go. */
    public interface Log {
        void info(String message);

        void warn(String message);

        void debug(String message);
    }

    /** A decoded request and where its replies go. */
    public record Inbound(Request request, ReplyTo replyTo) {}

    /**
     * What the server counted since it opened, for metrics; safe to read from any thread.
     *
     * @param accepted     connections served
     * @param open         connections open now
     * @param refusedUser  connections refused: another user
     * @param refusedLimit connections refused: {@link #MAX_CONNECTIONS} open already
     * @param dropped      clients cut off: not reading their replies (a slow watcher) or a line too long
     */
    public record Counts(long accepted, int open, long refusedUser, long refusedLimit, long dropped) {}

    private final ServerSocketChannel server;
    private final Selector selector;
    private final Path path;
    private final Object fileKey;
    private final Consumer<Inbound> sink;
    private final Log log;
    private final UserPrincipal owner;
    private final UserPrincipal root;
    private final ConcurrentLinkedQueue<Runnable> tasks = new ConcurrentLinkedQueue<>();
    private final ByteBuffer readBuffer = ByteBuffer.allocate(64 * 1024);
    private final Thread thread;
    // written by the selector thread only; volatile so that counts() can read them anywhere
    private volatile int connections;
    private volatile long refusedUser;
    private volatile long refusedLimit;
    private volatile long dropped;
    private volatile long ids;
    private volatile boolean closed;
    /** Bytes read since the last burst was reported; the selector thread's own. */
    private long readSinceBurst;
    private volatile Runnable burst = () -> { };

    private ControlServer(ServerSocketChannel server, Path path, Consumer<Inbound> sink, Log log) throws IOException {
        this.server = server;
        this.path = path;
        this.fileKey = fileKey(path);
        this.sink = sink;
        this.log = log;
        this.owner = Files.getOwner(path, LinkOption.NOFOLLOW_LINKS);
        this.root = FileSystems.getDefault().getUserPrincipalLookupService().lookupPrincipalByName("0");
        this.selector = Selector.open();
        server.configureBlocking(false);
        server.register(selector, SelectionKey.OP_ACCEPT);
        this.thread = Thread.ofPlatform().name("einhyrningsins-control").daemon(true).unstarted(this::run);
    }

    /**
     * Opens the control socket at {@code socketPath} (mode 0600 from the first moment),
     * holding {@code lockfile} while it is set up. Refuses a path where another process
     * listens or that is not a socket; replaces a dead socket file.
     */
    public static ControlServer open(Path socketPath, Path lockfile, Consumer<Inbound> sink, Log log)
            throws ControlException {
        Path path = socketPath.toAbsolutePath();
        ServerSocketChannel channel = ControlSocketFile.bind(path, lockfile, log);
        try {
            ControlServer s = new ControlServer(channel, path, sink, log);
            s.thread.start();
            return s;
        } catch (IOException | RuntimeException e) {
            closeQuietly(channel);
            try {
                Files.deleteIfExists(path);
            } catch (IOException gone) {
                // nothing to remove
            }
            throw new ControlException("cannot set up the control socket " + path + ": " + e.getMessage());
        }
    }

    /**
     * Serves a listening control socket this process inherited as fd 0 (a previous supervisor
     * process handed it over across exec: connections queued in it meanwhile).
     */
    public static ControlServer adopt(Path socketPath, Consumer<Inbound> sink, Log log) throws ControlException {
        Path path = socketPath.toAbsolutePath();
        try {
            if (!(System.inheritedChannel() instanceof ServerSocketChannel channel)) {
                throw new ControlException("the control socket " + path + " was not handed over as standard input");
            }
            ControlServer s = new ControlServer(channel, path, sink, log);
            s.thread.start();
            return s;
        } catch (IOException e) {
            throw new ControlException("cannot take over the control socket " + path + ": " + e.getMessage());
        }
    }

    public Path path() {
        return path;
    }

    /**
     * The name the listening socket was bound to, as getsockname reports it for it and for
     * every connection it accepted: a private directory's path, since the socket was renamed
     * into place after binding.
     */
    public String boundName() {
        try {
            return server.getLocalAddress() instanceof UnixDomainSocketAddress a ? a.getPath().toString() : "";
        } catch (IOException e) {
            return "";
        }
    }

    public Counts counts() {
        return new Counts(ids, connections, refusedUser, refusedLimit, dropped);
    }

    /**
     * Runs {@code r}, on the selector thread, each time the clients together have sent another
     * {@link #BURST_BYTES} (a running total, not a rate): what control traffic made the process
     * take (the YAML parser's classes, the JIT's scratch memory, heap) can then be given back.
     * {@code r} should not block; what it throws is logged.
     */
    public void afterBursts(Runnable r) {
        this.burst = r;
    }

    // ------------------------------------------------------------------ the selector thread

    private void run() {
        try {
            while (!closed) {
                selector.select();
                Runnable task;
                while ((task = tasks.poll()) != null) task.run();
                for (SelectionKey key : selector.selectedKeys()) {
                    if (!key.isValid()) continue;
                    if (key.isAcceptable()) {
                        acceptAll();
                    } else {
                        Connection c = (Connection) key.attachment();
                        if (key.isReadable()) c.read();
                        if (key.isValid() && key.isWritable()) c.flush();
                    }
                }
                selector.selectedKeys().clear();
            }
        } catch (IOException | ClosedSelectorException e) {
            if (!closed) log.warn("control socket stopped: " + e.getMessage());
        } finally {
            // replies handed over before close (a watch's last event) get one non-blocking try
            Runnable task;
            while ((task = tasks.poll()) != null) {
                try {
                    task.run();
                } catch (RuntimeException e) {
                    break; // the selector is gone: nothing more can be written
                }
            }
            shutdown();
        }
    }

    private void acceptAll() {
        while (true) {
            SocketChannel ch;
            try {
                ch = server.accept();
            } catch (IOException e) {
                log.warn("control socket accept failed: " + e.getMessage());
                return;
            }
            if (ch == null) return;
            try {
                UnixDomainPrincipal peer = ch.getOption(ExtendedSocketOptions.SO_PEERCRED);
                if (!peer.user().equals(owner) && !peer.user().equals(root)) {
                    log.warn("Refused a control connection from user " + peer.user().getName());
                    refusedUser++;
                    refuse(ch, "Permission denied: this control socket accepts its owner (" + owner.getName()
                            + ") and root only");
                    continue;
                }
                if (connections >= MAX_CONNECTIONS) {
                    log.warn("Refused a control connection: " + MAX_CONNECTIONS + " are open already");
                    refusedLimit++;
                    refuse(ch, "Too many connections (" + MAX_CONNECTIONS + " open); try again later");
                    continue;
                }
                ch.configureBlocking(false);
                Connection c = new Connection(++ids, ch);
                c.key = ch.register(selector, SelectionKey.OP_READ, c);
                connections++;
            } catch (IOException e) {
                closeQuietly(ch);
            }
        }
    }

    /** Tells a refused client why, then closes: a short line always fits the empty send buffer. */
    private static void refuse(SocketChannel ch, String message) {
        try (ch) {
            ch.configureBlocking(false);
            ch.write(ByteBuffer.wrap(WireCodec.failureLine(message)));
        } catch (IOException ignored) {
            // the peer is gone already
        }
    }

    private static void closeQuietly(Closeable c) {
        try {
            c.close();
        } catch (IOException ignored) {
            // nothing to do
        }
    }

    // ------------------------------------------------------------------ hand-over (reload)

    /** A client connection kept across the supervisor's exec: its fd and its requests still owed replies. */
    public record Kept(int fd, List<Session.Handle> owed) {}

    private final Semaphore paused = new Semaphore(0);

    /**
     * Gets ready for the supervisor's exec: the selector thread writes out what is queued for
     * the connections {@code keep} belongs to, stops accepting and reading, and parks. Each
     * kept connection's socket is tagged with a distinct send buffer size so that
     * {@code fdOfTag} (which looks at this process's fds) finds its number. Other connections
     * are told the supervisor is reloading and closed. Connections that arrive meanwhile wait
     * in the listen queue. {@link #resume} undoes it if the exec does not happen.
     *
     * @param fdOfTag the fd whose send buffer the kernel reports as {@code 2 × tag}, or -1
     * @throws IOException if a kept connection could not be prepared (then it goes on serving)
     */
    public List<Kept> handOver(List<ReplyTo> keep, IntUnaryOperator fdOfTag) throws IOException {
        CompletableFuture<List<Kept>> result = new CompletableFuture<>();
        post(() -> {
            List<Connection> kept = new ArrayList<>();
            try {
                result.complete(prepareHandOver(keep, fdOfTag, kept));
            } catch (IOException | RuntimeException e) {
                reregister(kept);
                result.completeExceptionally(e);
                return;
            }
            paused.acquireUninterruptibly(); // until resume(), or the exec replaces the process
            reregister(kept);
        });
        try {
            return result.get(10, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            throw e.getCause() instanceof IOException io ? io : new IOException(e.getCause());
        } catch (InterruptedException | TimeoutException e) {
            throw new IOException("the control socket did not get ready for the hand-over: " + e);
        }
    }

    private List<Kept> prepareHandOver(List<ReplyTo> keep, IntUnaryOperator fdOfTag,
                                       List<Connection> keptConnections) throws IOException {
        List<Kept> kept = new ArrayList<>();
        int tag = 4096;
        for (SelectionKey key : List.copyOf(selector.keys())) {
            if (!(key.attachment() instanceof Connection c)) continue;
            List<Session.Handle> owed = new ArrayList<>();
            for (ReplyTo r : keep) {
                if (r instanceof Session.Handle h && h.session() == c.session) owed.add(h);
            }
            if (owed.isEmpty()) continue;
            keptConnections.add(c);
            c.drain();
            c.ch.setOption(StandardSocketOptions.SO_SNDBUF, ++tag);
            int fd = fdOfTag.applyAsInt(tag);
            if (fd < 0) throw new IOException("cannot find the fd of control client " + c.id);
            kept.add(new Kept(fd, owed));
        }
        for (SelectionKey key : List.copyOf(selector.keys())) {
            if (key.attachment() instanceof Connection c && !keptConnections.contains(c)) {
                c.farewell("The supervisor is reloading itself; reconnect to go on");
            }
        }
        return kept;
    }

    /** Puts connections the hand-over took out back under the selector. */
    private void reregister(List<Connection> kept) {
        for (Connection c : kept) {
            try {
                c.ch.configureBlocking(false);
                c.key = c.ch.register(selector, SelectionKey.OP_READ, c);
                c.flush();
            } catch (IOException e) {
                c.session.closed();
                closeQuietly(c.ch);
                connections--;
            }
        }
    }

    /** Serves again after {@link #handOver}, when the exec did not happen. */
    public void resume() {
        paused.release();
    }

    /** Runs {@code task} on the selector thread. */
    private void post(Runnable task) {
        if (closed) return;
        tasks.add(task);
        selector.wakeup();
    }

    /** Stops accepting, closes every connection, and removes the socket file if it is still ours. */
    @Override
    public void close() {
        closed = true;
        selector.wakeup();
        if (Thread.currentThread() != thread) {
            try {
                thread.join(5000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        shutdown();
    }

    private synchronized void shutdown() {
        if (!selector.isOpen()) return;
        for (SelectionKey key : selector.keys()) {
            if (key.attachment() instanceof Connection c) c.session.closed();
            closeQuietly(key.channel());
        }
        closeQuietly(selector);
        closeQuietly(server);
        if (fileKey != null && fileKey.equals(fileKey(path))) {
            try {
                Files.deleteIfExists(path);
            } catch (IOException e) {
                log.warn("cannot remove control socket " + path + ": " + e.getMessage());
            }
        }
    }

    private static Object fileKey(Path p) {
        try {
            return Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).fileKey();
        } catch (IOException e) {
            return null;
        }
    }

    /** One client connection, touched by the selector thread only. */
    private final class Connection {
        private final long id;
        private final SocketChannel ch;
        private final Session session;
        private SelectionKey key;

        Connection(long id, SocketChannel ch) {
            this.id = id;
            this.ch = ch;
            this.session = new Session((request, replyTo) -> sink.accept(new Inbound(request, replyTo)),
                    update -> post(() -> {
                        if (!key.isValid()) return;
                        update.run();
                        flush();
                    }), MAX_QUEUED_OUTPUT);
        }

        /** Writes out everything queued, blocking if it must (the hand-over), and leaves the selector. */
        void drain() throws IOException {
            key.cancel();
            selector.selectNow();
            ch.configureBlocking(true);
            for (ByteBuffer b = session.output(); b != null; b = session.output()) ch.write(b);
        }

        /** Tells the client why it is dropped, as far as its send buffer allows, and closes. */
        void farewell(String message) {
            try {
                ch.write(ByteBuffer.wrap(WireCodec.failureLine(message)));
            } catch (IOException ignored) {
                // gone already
            }
            close(null);
        }

        void read() {
            readBuffer.clear();
            int n;
            try {
                n = ch.read(readBuffer);
            } catch (IOException e) {
                n = -1; // reset by the peer: treat it as the end of its input
            }
            if (n < 0) {
                session.endOfInput();
            } else {
                session.received(readBuffer.array(), 0, n);
                readSinceBurst += n;
                if (readSinceBurst >= BURST_BYTES) {
                    readSinceBurst -= BURST_BYTES;
                    try {
                        burst.run();
                    } catch (RuntimeException e) {
                        log.warn("After a burst of control traffic: " + e);
                    }
                }
            }
            flush();
        }

        void flush() {
            try {
                for (ByteBuffer b = session.output(); b != null && !session.done(); b = session.output()) {
                    ch.write(b);
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
            int ops = (session.reading() ? SelectionKey.OP_READ : 0) | (session.output() != null ? SelectionKey.OP_WRITE : 0);
            if (key.interestOps() != ops) key.interestOps(ops);
        }

        private void close(String why) {
            if (!key.isValid()) return;
            if (why != null) {
                log.warn("Control client " + id + " " + why + "; closing it");
                dropped++;
            }
            session.closed();
            key.cancel();
            closeQuietly(ch);
            connections--;
        }
    }
}
