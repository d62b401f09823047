package dev.einhyrningsins.examples.nio;

import dev.einhyrningsins.worker.Einhorn;
import dev.einhyrningsins.worker.NotSupervisedException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * A line echo server on plain JDK NIO for einhyrningsins, one selector thread:
 *
 * <pre>
 * einhyrningsins -n 4 -m manual --graceful-signal TERM -b 127.0.0.1:7000,stdin -- java -jar target/nio-worker.jar
 * </pre>
 *
 * It serves on {@code System.inheritedChannel()} (the listener the supervisor gives as standard
 * input) and acks once it accepts. Each line it reads it writes back; {@code slow N} is answered
 * N ms after the worker starts draining (at most a minute in all), a request certainly in flight
 * when the graceful signal comes. On TERM the shutdown hook has the selector thread drain: it
 * stops accepting by cancelling the listener's key — without closing the inherited channel,
 * which would point stdout and stderr at /dev/null — answers everything in flight, closes
 * connections idle for a second, and ends when none is left (at most 30 s). Run on its own it
 * binds 127.0.0.1:7000 (or {@code $PORT}) itself.
 */
public final class EchoWorker {
    static final long PID = ProcessHandle.current().pid();
    /** Lines longer than this close the connection: a bound on what a client can make us buffer. */
    static final int MAX_LINE = 4096;
    static final long GRACE_NANOS = TimeUnit.SECONDS.toNanos(1);
    static final long DRAIN_NANOS = TimeUnit.SECONDS.toNanos(30);

    private final Selector selector;
    private final ServerSocketChannel listener;
    private final Set<Connection> connections = new HashSet<>();
    private final List<Slow> slow = new ArrayList<>();
    private final CountDownLatch done = new CountDownLatch(1);
    private volatile boolean drainRequested;
    private long drainStarted = -1;

    private EchoWorker(ServerSocketChannel listener) throws IOException {
        this.listener = listener;
        this.selector = Selector.open();
    }

    public static void main(String[] args) throws Exception {
        Einhorn einhorn = null;
        ServerSocketChannel listener;
        try {
            einhorn = Einhorn.worker();
            listener = einhorn.inheritedChannel();
        } catch (NotSupervisedException e) {
            int port = Integer.parseInt(System.getenv().getOrDefault("PORT", "7000"));
            System.err.println(e.getMessage() + "; serving on 127.0.0.1:" + port + " myself");
            listener = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", port));
        }
        EchoWorker worker = new EchoWorker(listener);
        listener.configureBlocking(false);
        listener.register(worker.selector, SelectionKey.OP_ACCEPT);
        Runtime.getRuntime().addShutdownHook(new Thread(worker::requestDrain, "drain"));
        System.err.println("nio echo worker " + PID + " serving on " + listener.getLocalAddress());
        if (einhorn != null) einhorn.ack();
        worker.run();
    }

    /** The graceful signal (a shutdown hook): the selector thread drains; the JVM exits when this returns. */
    void requestDrain() {
        drainRequested = true;
        selector.wakeup();
        try {
            done.await(DRAIN_NANOS + GRACE_NANOS, TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    void run() throws IOException {
        try {
            while (true) {
                long now = System.nanoTime();
                if (drainRequested && drainStarted < 0) startDrain(now);
                answerSlow(now);
                if (drainStarted >= 0) {
                    closeIdle(now);
                    if (connections.isEmpty()) break;
                    if (now - drainStarted > DRAIN_NANOS) {
                        System.err.println("nio echo worker " + PID + " gave up on " + connections.size() + " connections");
                        break;
                    }
                }
                selector.select(Math.max(1, TimeUnit.NANOSECONDS.toMillis(nextDeadline(now) - now)));
                for (SelectionKey key : selector.selectedKeys()) {
                    if (!key.isValid()) continue;
                    if (key.isAcceptable()) accept();
                    else if (key.isReadable() || key.isWritable()) ((Connection) key.attachment()).ready(key);
                }
                selector.selectedKeys().clear();
            }
        } finally {
            System.err.println("nio echo worker " + PID + " drained, exiting");
            done.countDown();
        }
    }

    private void startDrain(long now) {
        drainStarted = now;
        System.err.println("nio echo worker " + PID + " draining " + connections.size() + " connections");
        // stop accepting: what waits in the listen queue is the other workers' now
        SelectionKey accepting = listener.keyFor(selector);
        if (accepting != null) accepting.cancel();
        for (Slow s : slow) s.dueAt = now + s.ms;
    }

    private long nextDeadline(long now) {
        long next = now + TimeUnit.SECONDS.toNanos(60);
        for (Slow s : slow) next = Math.min(next, s.dueAt);
        if (drainStarted >= 0) {
            next = Math.min(next, now + TimeUnit.MILLISECONDS.toNanos(100)); // idle connections and the drain deadline
        }
        return next;
    }

    private void accept() throws IOException {
        SocketChannel ch = listener.accept();
        if (ch == null) return; // another worker took it
        ch.configureBlocking(false);
        Connection c = new Connection(ch);
        connections.add(c);
        ch.register(selector, SelectionKey.OP_READ, c);
    }

    private void answerSlow(long now) {
        for (var it = slow.iterator(); it.hasNext(); ) {
            Slow s = it.next();
            if (s.dueAt - now > 0) continue;
            it.remove();
            s.connection.pending--;
            s.connection.send("slow " + PID + ", finished " + (drainStarted >= 0 ? "while draining" : "without a drain"));
        }
    }

    private void closeIdle(long now) {
        for (Connection c : new ArrayList<>(connections)) {
            if (c.pending == 0 && c.out.isEmpty() && now - c.lastActive > GRACE_NANOS) c.close();
        }
    }

    /** A {@code slow N} line waiting for its answer. */
    private static final class Slow {
        final Connection connection;
        final long ms;
        long dueAt;

        Slow(Connection connection, long ms, long dueAt) {
            this.connection = connection;
            this.ms = ms;
            this.dueAt = dueAt;
        }
    }

    private final class Connection {
        final SocketChannel ch;
        final ByteBuffer in = ByteBuffer.allocate(MAX_LINE);
        final ArrayDeque<ByteBuffer> out = new ArrayDeque<>();
        int pending;
        boolean inputEnded;
        long lastActive = System.nanoTime();

        Connection(SocketChannel ch) {
            this.ch = ch;
        }

        void ready(SelectionKey key) {
            lastActive = System.nanoTime();
            try {
                if (key.isReadable()) read();
                flush();
            } catch (IOException e) {
                close();
            }
        }

        void read() throws IOException {
            int n = ch.read(in);
            if (n < 0) {
                inputEnded = true;
                ch.keyFor(selector).interestOps(0);
                return;
            }
            in.flip();
            int start = 0;
            for (int i = 0; i < in.limit(); i++) {
                if (in.get(i) != '\n') continue;
                line(new String(in.array(), start, i - start, StandardCharsets.UTF_8));
                start = i + 1;
            }
            in.position(start);
            in.compact();
            if (!in.hasRemaining()) close(); // a line longer than MAX_LINE
        }

        void line(String text) {
            if (text.matches("slow \\d{1,5}")) {
                long ms = Math.min(60_000, Long.parseLong(text.substring(5)));
                long now = System.nanoTime();
                if (drainStarted < 0) System.err.println("nio echo worker " + PID + ": a slow request waits for the drain");
                pending++;
                slow.add(new Slow(this, ms, drainStarted >= 0 ? now + TimeUnit.MILLISECONDS.toNanos(ms)
                        : now + TimeUnit.SECONDS.toNanos(60)));
            } else {
                send(text);
            }
        }

        void send(String text) {
            out.add(ByteBuffer.wrap((text + "\n").getBytes(StandardCharsets.UTF_8)));
            try {
                flush();
            } catch (IOException e) {
                close();
            }
        }

        void flush() throws IOException {
            while (!out.isEmpty()) {
                ch.write(out.peek());
                if (out.peek().hasRemaining()) break;
                out.poll();
            }
            SelectionKey key = ch.keyFor(selector);
            if (key == null || !key.isValid()) return;
            if (inputEnded && out.isEmpty() && pending == 0) {
                close();
            } else {
                key.interestOps((inputEnded ? 0 : SelectionKey.OP_READ) | (out.isEmpty() ? 0 : SelectionKey.OP_WRITE));
            }
        }

        void close() {
            connections.remove(this);
            slow.removeIf(s -> s.connection == this);
            try {
                ch.close();
            } catch (IOException e) {
                // gone either way
            }
        }
    }
}
