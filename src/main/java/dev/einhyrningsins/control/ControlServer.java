package dev.einhyrningsins.control;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import jdk.net.ExtendedSocketOptions;
import jdk.net.UnixDomainPrincipal;

/**
 * The einhorn control socket, served with java.nio on a UNIX socket. Each connection gets a
 * reader and a writer virtual thread (idle connections cost no CPU); decoded requests go to
 * the sink in order, and replies come back through {@link ReplyTo} from any thread without
 * ever blocking it.
 */
public final class ControlServer implements AutoCloseable {
    public static final int MAX_LINE = 1 << 20;
    public static final int MAX_CONNECTIONS = 256;
    private static final int MAX_QUEUED_REPLIES = 10_000;
    private static final int S_IFMT = 0170000;
    private static final int S_IFSOCK = 0140000;

    /** Where the server's own messages go. */
    public interface Log {
        void info(String message);

        void warn(String message);

        void debug(String message);
    }

    /** A decoded request and where its replies go. */
    public record Inbound(Request request, ReplyTo replyTo) {}

    /** The reply channel of one request: remembers its id, so every reply echoes it. */
    public record ReplyTo(Connection connection, Object requestId) {
        public void send(String message, boolean last, boolean ok) {
            connection.send(WireCodec.encodeReply(message, requestId, last, ok));
        }
    }

    private final ServerSocketChannel server;
    private final Path path;
    private final Object fileKey;
    private final Consumer<Inbound> sink;
    private final Log log;
    private final String owner;
    private final Set<Connection> connections = ConcurrentHashMap.newKeySet();
    private final AtomicLong ids = new AtomicLong();
    private final Thread acceptor;
    private volatile boolean closed;

    private ControlServer(ServerSocketChannel server, Path path, Consumer<Inbound> sink, Log log) {
        this.server = server;
        this.path = path;
        this.fileKey = fileKey(path);
        this.sink = sink;
        this.log = log;
        this.owner = System.getProperty("user.name");
        this.acceptor = Thread.ofVirtual().name("control-accept").start(this::acceptLoop);
    }

    /**
     * Opens the control socket at {@code socketPath} (mode 0600 from the first moment),
     * holding {@code lockfile} while it is set up. Refuses a path where another process
     * listens or that is not a socket; replaces a dead socket file.
     */
    public static ControlServer open(Path socketPath, Path lockfile, Consumer<Inbound> sink, Log log)
            throws ControlException {
        Path path = socketPath.toAbsolutePath();
        try (FileChannel lock = FileChannel.open(lockfile, Set.of(StandardOpenOption.CREATE, StandardOpenOption.WRITE),
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")))) {
            FileLock held = lock.tryLock();
            if (held == null) {
                throw new ControlException("lock file " + lockfile + " is held by another process (another einhyrningsins"
                        + " starting with the same -c NAME or -d PATH?); pass -d PATH or -f LOCKFILE to run another instance");
            }
            clearStale(path, log);
            return new ControlServer(bindPrivately(path), path, sink, log);
        } catch (IOException e) {
            throw new ControlException("cannot set up the control socket " + path + ": " + e.getMessage());
        }
    }

    private static void clearStale(Path path, Log log) throws ControlException, IOException {
        if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS)) return;
        int mode = (Integer) Files.getAttribute(path, "unix:mode", LinkOption.NOFOLLOW_LINKS);
        if ((mode & S_IFMT) != S_IFSOCK) {
            throw new ControlException(path + " exists and is not a socket; remove it or pass -d PATH to use another control socket");
        }
        try (SocketChannel probe = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            probe.connect(UnixDomainSocketAddress.of(path));
            throw new ControlException("another process is listening on the control socket " + path
                    + "; pass -d PATH (or -c NAME) to run another instance");
        } catch (IOException refused) {
            log.info("Replacing stale control socket " + path + " (left by a supervisor that did not exit cleanly)");
            Files.delete(path);
        }
    }

    /** Binds in a fresh 0700 directory beside the target, chmods 0600, then renames into place. */
    private static ServerSocketChannel bindPrivately(Path path) throws IOException {
        Path dir = Files.createTempDirectory(path.getParent(), ".einhyrningsins-",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        Path tmp = dir.resolve("s");
        ServerSocketChannel ch = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            ch.bind(UnixDomainSocketAddress.of(tmp), 128);
            Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-------"));
            Files.move(tmp, path, StandardCopyOption.ATOMIC_MOVE);
            return ch;
        } catch (IOException e) {
            ch.close();
            Files.deleteIfExists(tmp);
            throw e;
        } finally {
            Files.deleteIfExists(dir);
        }
    }

    public Path path() {
        return path;
    }

    private void acceptLoop() {
        while (!closed) {
            SocketChannel ch;
            try {
                ch = server.accept();
            } catch (ClosedChannelException e) {
                return;
            } catch (IOException e) {
                if (!closed) log.warn("control socket accept failed: " + e.getMessage());
                continue;
            }
            try {
                UnixDomainPrincipal peer = ch.getOption(ExtendedSocketOptions.SO_PEERCRED);
                String user = peer.user().getName();
                if (!user.equals(owner) && !user.equals("root")) {
                    log.warn("Refused a control connection from user " + user);
                    refuse(ch, "Permission denied: this control socket accepts its owner (" + owner + ") and root only");
                    continue;
                }
                if (connections.size() >= MAX_CONNECTIONS) {
                    log.warn("Refused a control connection: " + MAX_CONNECTIONS + " are open already");
                    refuse(ch, "Too many connections (" + MAX_CONNECTIONS + " open); try again later");
                    continue;
                }
            } catch (IOException e) {
                closeQuietly(ch);
                continue;
            }
            Connection c = new Connection(ids.incrementAndGet(), ch);
            connections.add(c);
            c.start();
        }
    }

    private static void refuse(SocketChannel ch, String message) {
        try (ch) {
            ch.write(ByteBuffer.wrap(WireCodec.encodeReply(message, null, true, false).getBytes(StandardCharsets.UTF_8)));
        } catch (IOException ignored) {
            // the peer is gone already
        }
    }

    private static void closeQuietly(SocketChannel ch) {
        try {
            ch.close();
        } catch (IOException ignored) {
            // nothing to do
        }
    }

    /** Stops accepting, closes every connection, and removes the socket file if it is still ours. */
    @Override
    public void close() {
        closed = true;
        try {
            server.close();
        } catch (IOException ignored) {
            // closing anyway
        }
        for (Connection c : connections) c.close();
        if (fileKey != null && fileKey.equals(fileKey(path))) {
            try {
                Files.deleteIfExists(path);
            } catch (IOException e) {
                log.warn("cannot remove control socket " + path + ": " + e.getMessage());
            }
        }
        try {
            acceptor.join(1000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static Object fileKey(Path p) {
        try {
            return Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).fileKey();
        } catch (IOException e) {
            return null;
        }
    }

    /** One client connection: a reader and a writer virtual thread. */
    public final class Connection {
        private static final String CLOSE = new String("close");
        private final long id;
        private final SocketChannel ch;
        private final LinkedBlockingQueue<String> out = new LinkedBlockingQueue<>(MAX_QUEUED_REPLIES);
        private volatile boolean open = true;

        Connection(long id, SocketChannel ch) {
            this.id = id;
            this.ch = ch;
        }

        public long id() {
            return id;
        }

        void start() {
            Thread.ofVirtual().name("control-" + id + "-in").start(this::readLoop);
            Thread.ofVirtual().name("control-" + id + "-out").start(this::writeLoop);
        }

        /** Queues one encoded line; never blocks. A client that stops reading is dropped. */
        void send(String line) {
            if (!open) return;
            if (!out.offer(line)) {
                log.warn("Control client " + id + " is not reading its replies; closing it");
                close();
            }
        }

        private void readLoop() {
            ByteBuffer buf = ByteBuffer.allocate(64 * 1024);
            ByteArrayOutputStream line = new ByteArrayOutputStream();
            try {
                while (open) {
                    buf.clear();
                    int n = ch.read(buf);
                    if (n < 0) break;
                    byte[] a = buf.array();
                    int start = 0;
                    for (int i = 0; i < n; i++) {
                        if (a[i] != '\n') continue;
                        line.write(a, start, i - start);
                        start = i + 1;
                        if (line.size() > MAX_LINE) {
                            tooLong();
                            return;
                        }
                        if (!handle(line.toByteArray())) return;
                        line.reset();
                    }
                    line.write(a, start, n - start);
                    if (line.size() > MAX_LINE) {
                        tooLong();
                        return;
                    }
                }
            } catch (IOException e) {
                // peer went away
            } finally {
                finish();
            }
        }

        private void tooLong() {
            log.warn("Control client " + id + " sent a line over " + MAX_LINE + " bytes; closing it");
            send(WireCodec.encodeReply("Command too long (over " + MAX_LINE + " bytes); closing the connection", null, true, false));
            finish();
        }

        /** Returns false when the connection is done (worker:ack and worker:ping close it, as einhorn does). */
        private boolean handle(byte[] bytes) {
            if (bytes.length == 0 || (bytes.length == 1 && bytes[0] == '\r')) return true;
            Request r;
            try {
                r = WireCodec.decode(bytes);
            } catch (WireCodec.ParseException e) {
                send(WireCodec.encodeReply("Could not parse command", null, true, false));
                return true;
            }
            sink.accept(new Inbound(r, new ReplyTo(this, r.id())));
            if ("worker:ack".equals(r.command()) || "worker:ping".equals(r.command())) {
                finish();
                return false;
            }
            return true;
        }

        /** Stops reading; the writer flushes what is queued, then closes. */
        private void finish() {
            if (open) {
                open = false;
                out.offer(CLOSE);
            }
        }

        private void writeLoop() {
            try {
                while (true) {
                    String s = out.take();
                    if (s == CLOSE) break;
                    ByteBuffer b = ByteBuffer.wrap(s.getBytes(StandardCharsets.UTF_8));
                    while (b.hasRemaining()) ch.write(b);
                }
            } catch (IOException | InterruptedException e) {
                // peer went away or we are shutting down
            } finally {
                open = false;
                closeQuietly(ch);
                connections.remove(this);
            }
        }

        void close() {
            open = false;
            out.clear();
            out.offer(CLOSE);
            closeQuietly(ch);
        }
    }
}
