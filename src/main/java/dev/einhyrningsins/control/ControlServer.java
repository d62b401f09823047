package dev.einhyrningsins.control;

import dev.einhyrningsins.posix.Errors;
import dev.einhyrningsins.posix.Fds;
import dev.einhyrningsins.posix.Pollable;
import dev.einhyrningsins.posix.Poller;
import java.io.Closeable;
import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.UserPrincipal;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.Predicate;
import jdk.net.ExtendedSocketOptions;
import jdk.net.UnixDomainPrincipal;

/**
 * The einhorn control socket, served with java.nio on a UNIX socket by the supervisor's loop
 * thread: the listening channel and every connection are non-blocking channels whose fds the
 * loop polls together with the workers' pidfds ({@link #pollables}). Nothing here runs on a
 * thread of its own, so a request, its reply and a reload's hand-over of the connections all
 * happen on the thread that owns the supervisor, in order, and never wait for a client.
 * Each connection's protocol is a {@link Session}, its transport a {@link Connection} —
 * the same transport a worker's {@code -g} channel has ({@link #workerChannel}).
 *
 * <p>Only the socket's owner and root may connect, compared by uid ({@code SO_PEERCRED}),
 * so it works under a uid that has no user name (containers). Refused clients are told why.
 * With workers running as another user ({@code --user}, {@link Workers}), the socket file
 * belongs to their group with mode 0660 and their uid may connect too, for
 * {@code worker:ack} and {@code worker:ping} only.
 */
public final class ControlServer implements AutoCloseable {
    public static final int MAX_LINE = Session.MAX_LINE;
    public static final int MAX_CONNECTIONS = 256;
    /** Queued reply bytes beyond which a client that does not read is dropped. */
    static final long MAX_QUEUED_OUTPUT = 16L << 20;
    /** Bytes from clients, all connections together, after which the server reports a burst: 128 KiB. */
    public static final long BURST_BYTES = 128 * 1024;
    /** Connections taken from the listen queue in one wake-up: a burst of clients cannot hold the loop. */
    static final int ACCEPTS_PER_WAKEUP = 64;
    /** What a connection must hold to make room for a newcomer when all are open ({@link #makeRoom}). */
    static final long ROOM_BYTES = 64 * 1024;

    /**
     * The most the control clients together may make the supervisor hold (their unread replies,
     * partial request lines, input waiting for requests in flight, watchers' backlog): a
     * quarter of the maximum heap, between 4 and 64 MiB. Past it the client holding the most is
     * dropped, with a line in the log; everyone else is served on.
     */
    public static long budgetFor(long maxHeap) {
        return Math.max(4L << 20, Math.min(64L << 20, maxHeap / 4));
    }

    /** Where the server's own messages go. */
    public interface Log {
        void info(String message);

        void warn(String message);

        void debug(String message);
    }

    /**
     * The user workers run as ({@code --user}) when it is not the socket's owner: its processes
     * may connect (the file is given to {@code gid}, mode 0660) and send {@code worker:ack}
     * and {@code worker:ping}, nothing else.
     */
    public record Workers(int uid, int gid) {}

    /** What a worker's user is told when it sends any other command. */
    static final String WORKERS_ONLY = "Permission denied: workers' processes may send worker:ack and worker:ping only";

    /** A decoded request and where its replies go. */
    public record Inbound(Request request, ReplyTo replyTo) {}

    /**
     * What the server counted since it opened, for metrics.
     *
     * @param accepted     connections served
     * @param open         connections open now
     * @param refusedUser  connections refused: another user
     * @param refusedLimit connections refused: {@link #MAX_CONNECTIONS} open already
     * @param dropped      clients cut off: not reading their replies (a slow watcher), a line too long,
     *                     over the clients' budget, or to let a newcomer in
     * @param overBudget   of those, the ones cut off because the clients together held more than the budget
     * @param displaced    connections closed to let a newcomer in when all {@link #MAX_CONNECTIONS} were
     *                     open ({@link #makeRoom}); also counted in {@code dropped}
     * @param acceptPauses times accepting paused after a failed accept: no descriptor left, not even
     *                     a spare, or any other failure
     * @param held         what all control clients make the supervisor hold now, in bytes
     * @param budget       what they may, in bytes ({@link #budgetFor})
     */
    public record Counts(long accepted, int open, long refusedUser, long refusedLimit, long dropped, long overBudget,
                         long displaced, long acceptPauses, long held, long budget) {
        public Counts(long accepted, int open, long refusedUser, long refusedLimit, long dropped) {
            this(accepted, open, refusedUser, refusedLimit, dropped, 0, 0, 0, 0, 0);
        }
    }

    private final ServerSocketChannel server;
    private final int serverFd;
    private final Path path;
    private final Object fileKey;
    private final Consumer<Inbound> sink;
    private final Log log;
    private final UserPrincipal owner;
    private final UserPrincipal root;
    /** The workers' user (--user), or null. */
    private final UserPrincipal workers;
    private final ByteBuffer readBuffer = ByteBuffer.allocate(Connection.READ_CAP);
    /** The control socket's clients, in the order they came (kept ones from a previous process first). */
    private final List<Connection> connections = new ArrayList<>();
    private final Connection.Owner counted = new Owner(true);
    private final Connection.Owner uncounted = new Owner(false);
    private final Pollable listener = new Listener();
    /** Every connection of the budget: the control socket's clients and the workers' -g channels. */
    private final Set<Connection> all = Collections.newSetFromMap(new IdentityHashMap<>());
    private final AcceptGuard guard;
    private long budget;
    private long held;
    private long ids;
    private long refusedUser;
    private long refusedLimit;
    private long dropped;
    private long overBudget;
    private long displaced;
    private boolean accepting = true;
    private boolean closed;
    /** Clients of the control socket accepted (the workers' -g channels are not). */
    private long accepted;
    /** Bytes read since the last burst was reported. */
    private long readSinceBurst;
    private Runnable burst = () -> { };

    private ControlServer(ServerSocketChannel server, Path path, Consumer<Inbound> sink, Log log, Workers workers)
            throws IOException {
        this.server = server;
        this.path = path;
        this.fileKey = fileKey(path);
        this.sink = sink;
        this.log = log;
        this.owner = Files.getOwner(path, LinkOption.NOFOLLOW_LINKS);
        this.root = FileSystems.getDefault().getUserPrincipalLookupService().lookupPrincipalByName("0");
        this.workers = workers == null ? null
                : FileSystems.getDefault().getUserPrincipalLookupService().lookupPrincipalByName(Integer.toString(workers.uid()));
        server.configureBlocking(false);
        this.serverFd = NioFd.of(server);
        this.budget = budgetFor(Runtime.getRuntime().maxMemory());
        this.guard = new AcceptGuard(System::nanoTime, log);
    }

    /**
     * Opens the control socket at {@code socketPath} (mode 0600 from the first moment),
     * holding {@code lockfile} while it is set up. Refuses a path where another process
     * listens or that is not a socket; replaces a dead socket file.
     */
    public static ControlServer open(Path socketPath, Path lockfile, Consumer<Inbound> sink, Log log)
            throws ControlException {
        return open(socketPath, lockfile, sink, log, null);
    }

    /** As {@link #open(Path, Path, Consumer, Log)}, letting {@code workers} (null: nobody else) ack. */
    public static ControlServer open(Path socketPath, Path lockfile, Consumer<Inbound> sink, Log log, Workers workers)
            throws ControlException {
        Path path = socketPath.toAbsolutePath();
        ServerSocketChannel channel = ControlSocketFile.bind(path, lockfile, log, workers == null ? -1 : workers.gid());
        try {
            return new ControlServer(channel, path, sink, log, workers);
        } catch (IOException | RuntimeException e) {
            closeQuietly(channel);
            try {
                Files.deleteIfExists(path);
            } catch (IOException gone) {
                // nothing to remove
            }
            throw new ControlException("cannot set up the control socket " + path + ": "
                    + (e instanceof IOException io ? Errors.describe(io) : e.getMessage()));
        }
    }

    /**
     * Serves a listening control socket this process inherited as fd 0 (a previous supervisor
     * process handed it over across exec: connections queued in it meanwhile).
     */
    public static ControlServer adopt(Path socketPath, Consumer<Inbound> sink, Log log, Workers workers)
            throws ControlException {
        Path path = socketPath.toAbsolutePath();
        try {
            if (!(System.inheritedChannel() instanceof ServerSocketChannel channel)) {
                throw new ControlException("the control socket " + path + " was not handed over as standard input");
            }
            return new ControlServer(channel, path, sink, log, workers);
        } catch (IOException | RuntimeException e) {
            throw new ControlException("cannot take over the control socket " + path + ": "
                    + (e instanceof IOException io ? Errors.describe(io) : e.getMessage()));
        }
    }

    public Path path() {
        return path;
    }

    /** The listening socket's fd (what a reload hands over as the next process's standard input). */
    public int listeningFd() {
        return serverFd;
    }

    public Counts counts() {
        return new Counts(accepted, connections.size(), refusedUser, refusedLimit, dropped, overBudget, displaced, guard.pauses(), held,
                budget);
    }

    /** What the control clients together may make the supervisor hold ({@link #budgetFor}). */
    public long budget() {
        return budget;
    }

    /** What they hold now. */
    public long held() {
        return held;
    }

    /** Sets the budget (tests: a small one is reached with little data). */
    void budget(long bytes) {
        budget = bytes;
    }

    /**
     * Runs {@code r} each time the clients together have sent another {@link #BURST_BYTES}
     * (a running total, not a rate): what control traffic made the process take (the YAML
     * parser's classes, the JIT's scratch memory, heap) can then be given back. {@code r}
     * should not block; what it throws is logged.
     */
    public void afterBursts(Runnable r) {
        this.burst = r;
    }

    /** Adds what the loop polls for the control socket: the listening socket (while accepting) and every connection. */
    public void pollables(List<Pollable> out) {
        if (closed) return;
        if (accepting && guard.open()) out.add(listener);
        out.addAll(connections);
    }

    /**
     * When the loop must look again though nothing is readable (accepting paused for want of
     * descriptors), in {@code System.nanoTime()} terms; {@code Long.MAX_VALUE} if never.
     */
    public long wakeAt() {
        return guard.wakeAt();
    }

    /**
     * A worker's own control channel ({@code -g}, our end of its socket pair, non-blocking): the
     * same protocol and transport as a client of the control socket, but it does not count
     * against {@link #MAX_CONNECTIONS}, so a big fleet cannot crowd out operators. The loop
     * polls it with the worker and closes it when the worker is reaped.
     */
    public Connection workerChannel(int fd, int pid) {
        Connection c = Connection.overFd(++ids, "Worker " + pid + "'s control channel", fd, this::dispatch, uncounted,
                readBuffer, MAX_QUEUED_OUTPUT);
        all.add(c);
        return c;
    }

    /**
     * A client connection a previous process of this supervisor handed over ({@code fd}, made
     * non-blocking here): served as if it had just connected, counted like any other.
     */
    public Connection keep(int fd) {
        Fds.setNonBlocking(fd);
        long id = ++ids;
        Connection c = Connection.overFd(id, "Control client " + id + " (kept across a reload)", fd, this::dispatch,
                counted, readBuffer, MAX_QUEUED_OUTPUT);
        connections.add(c);
        all.add(c);
        return c;
    }

    private void dispatch(Request request, ReplyTo replyTo) {
        sink.accept(new Inbound(request, replyTo));
    }

    // ------------------------------------------------------------------ accepting

    private final class Listener implements Pollable {
        @Override
        public int fd() {
            return serverFd;
        }

        @Override
        public short events() {
            return Poller.IN;
        }

        @Override
        public void ready(short revents) {
            acceptSome();
        }

        @Override
        public boolean closed() {
            return closed || !accepting;
        }

        @Override
        public void close() {
            // the server closes it
        }
    }

    private void acceptSome() {
        for (int i = 0; i < ACCEPTS_PER_WAKEUP; i++) {
            SocketChannel ch = guard.accept(server);
            if (ch == null) return;
            try {
                UnixDomainPrincipal peer = ch.getOption(ExtendedSocketOptions.SO_PEERCRED);
                boolean operator = peer.user().equals(owner) || peer.user().equals(root);
                boolean worker = !operator && workers != null && peer.user().equals(workers);
                if (!operator && !worker) {
                    log.warn("Refused a control connection from user " + peer.user().getName());
                    refusedUser++;
                    refuse(ch, "Permission denied: this control socket accepts its owner (" + owner.getName()
                            + ") and root only" + (workers == null ? "" : ", and worker:ack and worker:ping from the "
                            + "workers' user (" + workers.getName() + ")"));
                    continue;
                }
                if (connections.size() >= MAX_CONNECTIONS && !makeRoom(operator)) {
                    log.warn("Refused a control connection: " + MAX_CONNECTIONS + " are open already");
                    refusedLimit++;
                    refuse(ch, "Too many connections (" + MAX_CONNECTIONS + " open); try again later");
                    continue;
                }
                ch.configureBlocking(false);
                accepted++;
                long id = ++ids;
                Connection c = Connection.overChannel(id, worker ? "Worker's control client " + id : "Control client " + id,
                        ch, worker ? workersOnly(this::dispatch, log) : this::dispatch, counted, readBuffer,
                        MAX_QUEUED_OUTPUT);
                connections.add(c);
                all.add(c);
                c.workersUser = worker;
            } catch (IOException | RuntimeException e) {
                closeQuietly(ch);
            }
        }
    }

    /**
     * What a client of the workers' user may send: {@code worker:ack} and {@code worker:ping}
     * go to {@code dispatcher}; anything else is answered with {@link #WORKERS_ONLY}.
     */
    static Session.Dispatcher workersOnly(Session.Dispatcher dispatcher, Log log) {
        boolean[] told = {false}; // one line per connection: a worker could pipeline thousands a second
        return (request, replyTo) -> {
            if ("worker:ack".equals(request.command()) || "worker:ping".equals(request.command())) {
                dispatcher.dispatch(request, replyTo);
            } else {
                if (!told[0]) {
                    told[0] = true;
                    log.warn("Refused '" + request.command() + "' from the workers' user: it may send worker:ack and "
                            + "worker:ping only (said once per connection)");
                }
                replyTo.send(WORKERS_ONLY, true, false);
            }
        };
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

    /** Hears a connection's reads (for the burst count) and its end. */
    private final class Owner implements Connection.Owner {
        private final boolean counts;

        Owner(boolean counts) {
            this.counts = counts;
        }

        @Override
        public void read(Connection c, int bytes) {
            readSinceBurst += bytes;
            if (readSinceBurst >= BURST_BYTES) {
                readSinceBurst -= BURST_BYTES;
                try {
                    burst.run();
                } catch (RuntimeException e) {
                    log.warn("After a burst of control traffic: " + e);
                }
            }
        }

        @Override
        public void held(Connection c, long bytes) {
            held += bytes - c.accounted;
            c.accounted = bytes;
            if (held > budget) evict();
        }

        @Override
        public void closed(Connection c, String why) {
            if (why != null) {
                log.warn(c.label() + " " + why + "; closing it");
                dropped++;
            }
            held -= c.accounted;
            c.accounted = 0;
            all.remove(c);
            if (counts) {
                connections.remove(c);
                // the descriptor it freed goes back to the reserve before a spawn can take it
                guard.refill();
            }
        }
    }

    /**
     * The clients together hold more than the budget: the one holding the most goes (it is
     * the one not reading its replies, or sending one endless line), with a line in the log
     * and a count; until they fit again, the next one.
     */
    private void evict() {
        while (held > budget) {
            Connection biggest = biggest(all);
            if (biggest == null || biggest.accounted == 0) return;
            overBudget++;
            biggest.close("held " + kib(biggest.accounted) + " of the " + kib(budget) + " all control clients together "
                    + "may make the supervisor hold (a quarter of the heap, at most 64 MiB)");
        }
    }

    /**
     * All {@link #MAX_CONNECTIONS} are open and another client comes: the connection holding the
     * most goes if it holds {@link #ROOM_BYTES} or more (a client sending an endless line, a
     * watcher that stopped reading), so that an operator gets in while others flood; else, for an
     * operator, the oldest connection of the workers' user (theirs only ack and ping: they must
     * not be able to lock the operators out); else the newcomer is refused.
     */
    private boolean makeRoom(boolean operator) {
        Connection biggest = biggest(connections);
        if (biggest != null && biggest.accounted >= ROOM_BYTES) {
            displaced++;
            biggest.close("held " + kib(biggest.accounted) + " when all " + MAX_CONNECTIONS + " connections were open "
                    + "and another client came");
            return true;
        }
        if (!operator) return false;
        Connection oldest = null;
        for (Connection c : connections) {
            if (c.workersUser) {
                oldest = c;
                break;
            }
        }
        if (oldest == null) return false;
        displaced++;
        oldest.close("was the oldest of the workers' user's when all " + MAX_CONNECTIONS + " connections were open "
                + "and an operator came");
        return true;
    }

    /** The open connection of {@code among} that holds the most; null if none is open. */
    private static Connection biggest(Iterable<Connection> among) {
        Connection biggest = null;
        for (Connection c : among) {
            if (!c.closed() && (biggest == null || c.accounted > biggest.accounted)) biggest = c;
        }
        return biggest;
    }

    private static String kib(long bytes) {
        return bytes >= 1 << 20 ? String.format("%.1f MiB", bytes / (double) (1 << 20)) : (bytes / 1024) + " KiB";
    }

    // ------------------------------------------------------------------ hand-over (reload)

    /** A client connection kept across the supervisor's exec: its fd and its session. */
    public record Kept(int fd, Session session) {}

    /**
     * A reload's first step: stops accepting (new clients wait in the listen queue for the next
     * process) and reading requests; the connections {@code keep} picks (the requester, an
     * upgrade's followers) go on writing what they owe, every other one is told the
     * supervisor is reloading and closed. The workers' user's connections are never kept: the
     * next process serves a kept connection as an operator's. Nothing here waits: the loop goes
     * on, and the reload looks at {@link #draining()} until it is empty or its deadline has passed.
     */
    public void quiesce(Predicate<Session> keep) {
        accepting = false;
        for (Connection c : List.copyOf(connections)) {
            c.reading(false);
            if (!c.workersUser && keep.test(c.session())) {
                c.flush();
            } else {
                c.farewell("The supervisor is reloading itself; reconnect to go on");
            }
        }
    }

    /** The kept connections that still have replies to write. */
    public List<Connection> draining() {
        List<Connection> out = new ArrayList<>();
        for (Connection c : connections) {
            if (!c.written()) out.add(c);
        }
        return out;
    }

    /** Drops every kept connection that did not take its replies in time (logged and counted, with {@code why}). */
    public void dropDraining(String why) {
        for (Connection c : draining()) c.close(why);
    }

    /** The kept connections, each with its fd (for the next process) and its session. */
    public List<Kept> kept() {
        List<Kept> out = new ArrayList<>();
        for (Connection c : connections) out.add(new Kept(c.fd(), c.session()));
        return out;
    }

    /** Serves again after {@link #quiesce}, when the reload did not happen. */
    public void resume() {
        accepting = true;
        for (Connection c : connections) c.reading(true);
    }

    // ------------------------------------------------------------------ the end

    /**
     * Stops accepting, gives every connection one last non-blocking write of what it was
     * handed (a watcher's last event), closes them, and removes the socket file if it is still ours.
     */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        for (Connection c : List.copyOf(connections)) {
            c.flush();
            c.close();
        }
        closeQuietly(server);
        guard.close();
        if (fileKey != null && fileKey.equals(fileKey(path))) {
            try {
                Files.deleteIfExists(path);
            } catch (IOException e) {
                log.warn("cannot remove control socket " + path + ": " + Errors.describe(e));
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

    /** The name the listening socket was bound to (a private directory's path: it was renamed into place). */
    String boundName() {
        try {
            return server.getLocalAddress() instanceof UnixDomainSocketAddress a ? a.getPath().toString() : "";
        } catch (IOException e) {
            return "";
        }
    }
}
