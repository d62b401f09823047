package dev.einhyrningsins.observe;

import dev.einhyrningsins.control.ReplyTo;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/**
 * {@code --metrics ADDR:PORT}: HTTP for Prometheus and for probes. {@code GET /metrics}
 * answers what the {@code metrics} command answers; {@code GET /ready} what the {@code ready}
 * command says (200, or 503 with the reason); {@code GET /live} 200 when the supervisor loop
 * answered within {@link Limits#probeAnswer}, else 503. The loop owns every number, so each
 * request asks it as a control client would ({@link Asker}); the loop never waits for HTTP.
 *
 * <p>One thread, non-blocking throughout, and a bound for everything a peer can make it hold
 * (the endpoint may listen on every interface, unauthenticated): at most
 * {@link Limits#connections} connections — when they are all taken, the oldest one that has
 * not finished sending its request is closed to make room, so clients that connect and send
 * nothing cannot hold the endpoint; a request must arrive complete within
 * {@link Limits#request} and fit {@link Limits#requestBytes}; at most {@link Limits#asks}
 * questions wait in the loop's queue (more get 503 at once); an answer not there within its
 * deadline is a 503, and the loop, seeing that nobody waits any more ({@link ReplyTo#open}),
 * does not render it; a response not taken within {@link Limits#write} is dropped. One
 * request a connection ({@code Connection: close}). What was refused or dropped is counted
 * ({@link EndpointCounts}).
 */
public final class MetricsEndpoint implements AutoCloseable {
    /** OpenMetrics 1.0's media type; Prometheus asks for it. */
    static final String CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    static final String TEXT = "text/plain; charset=utf-8";
    /** The paths served. */
    static final String METRICS = "/metrics";
    static final String READY = "/ready";
    static final String LIVE = "/live";
    /** The listen queue: connections the kernel holds until the endpoint accepts them. */
    static final int BACKLOG = 128;

    /** What a request asks the supervisor loop. */
    public enum Question { METRICS, READY, LIVE }

    /** Hands a question to the loop with where its answer goes; any thread, never blocks. */
    @FunctionalInterface
    public interface Asker {
        void ask(Question question, ReplyTo answer);
    }

    /**
     * The endpoint's bounds.
     *
     * @param connections   connections open at once
     * @param asks          questions waiting in the loop's queue at once
     * @param requestBytes  the request line and headers, at most
     * @param request       from the connection to the end of its request's headers
     * @param metricsAnswer how long {@code /metrics} waits for the loop
     * @param probeAnswer   how long {@code /ready} and {@code /live} wait for the loop: the bound of "live"
     * @param write         how long a client may take to read its response
     */
    public record Limits(int connections, int asks, int requestBytes, Duration request, Duration metricsAnswer,
                         Duration probeAnswer, Duration write) {
        public static final Limits DEFAULTS = new Limits(64, 8, 8192, Duration.ofSeconds(2), Duration.ofSeconds(5),
                Duration.ofSeconds(1), Duration.ofSeconds(5));
    }

    /** A connection's life: its request comes, the loop is asked, the response goes, then the client closes. */
    private enum Phase { READING, ASKING, WRITING, CLOSING }

    /** One connection; touched by the endpoint's thread only, but for {@link #waiting}. */
    private static final class Conn {
        final SocketChannel channel;
        final SelectionKey key;
        final ByteBuffer in;
        Phase phase = Phase.READING;
        long deadline;
        String path = "-";
        boolean head;
        Question question;
        long askedAt;
        ByteBuffer out;
        /** Its answer is still wanted; the loop reads it. */
        volatile boolean waiting;

        Conn(SocketChannel channel, SelectionKey key, int requestBytes, long deadline) {
            this.channel = channel;
            this.key = key;
            this.in = ByteBuffer.allocate(requestBytes);
            this.deadline = deadline;
        }
    }

    private record Answer(Conn conn, String text, boolean ok) {}

    /** Where the loop answers one question: at most once, and it counts as taken from the queue the first time the loop touches it. */
    private final class Ask implements ReplyTo {
        private final Conn conn;
        private final AtomicBoolean taken = new AtomicBoolean();

        Ask(Conn conn) {
            this.conn = conn;
        }

        @Override
        public boolean open() {
            take();
            return conn.waiting;
        }

        @Override
        public void send(String message, boolean last, boolean ok) {
            take();
            if (conn.waiting) {
                answers.add(new Answer(conn, message, ok));
                selector.wakeup();
            }
        }

        private void take() {
            if (taken.compareAndSet(false, true)) inLoop.decrementAndGet();
        }
    }

    private final ServerSocketChannel server;
    private final SelectionKey serverKey;
    private final Selector selector;
    private final Asker asker;
    private final Limits limits;
    private final EndpointCounts counts;
    private final Consumer<String> warn;
    private final List<Conn> connections = new ArrayList<>();
    private final ConcurrentLinkedQueue<Answer> answers = new ConcurrentLinkedQueue<>();
    private final AtomicInteger inLoop = new AtomicInteger();
    private final Thread thread;
    private volatile boolean running = true;
    /** While accepting fails (out of fds), accepts wait until this time; 0 when they do not. */
    private long acceptsPausedUntil;
    /** Accepting failed and has not succeeded since: said once per such streak. */
    private boolean acceptFailing;

    private MetricsEndpoint(ServerSocketChannel server, Selector selector, Asker asker, Limits limits, EndpointCounts counts,
                            Consumer<String> warn) throws IOException {
        this.server = server;
        this.selector = selector;
        this.asker = asker;
        this.limits = limits;
        this.counts = counts;
        this.warn = warn;
        this.serverKey = server.register(selector, SelectionKey.OP_ACCEPT);
        this.thread = Thread.ofPlatform().name("einhyrningsins-http").daemon(true).unstarted(this::run);
    }

    /**
     * Binds {@code address} and starts serving.
     *
     * @param asker  hands a question to the loop
     * @param counts where refusals and responses are counted (kept across a restart)
     * @param warn   where the endpoint's own trouble is told (a log line)
     */
    public static MetricsEndpoint start(InetSocketAddress address, Asker asker, Limits limits, EndpointCounts counts,
                                        Consumer<String> warn) throws IOException {
        ServerSocketChannel server = ServerSocketChannel.open();
        Selector selector = null;
        try {
            server.setOption(StandardSocketOptions.SO_REUSEADDR, true);
            server.bind(address, Math.max(BACKLOG, limits.connections())); // a burst waits in the kernel, not here
            server.configureBlocking(false);
            selector = Selector.open();
            MetricsEndpoint e = new MetricsEndpoint(server, selector, asker, limits, counts, warn);
            e.thread.start();
            return e;
        } catch (IOException | RuntimeException e) {
            if (selector != null) selector.close();
            server.close();
            throw e;
        }
    }

    /** Where it listens (the real port when 0 was asked for). */
    public InetSocketAddress address() {
        try {
            return (InetSocketAddress) server.getLocalAddress();
        } catch (IOException e) {
            throw new IllegalStateException("the --metrics socket is closed", e);
        }
    }

    // ------------------------------------------------------------------ the thread

    private void run() {
        try {
            while (running) {
                answered();
                long now = System.nanoTime();
                long next = expire(now);
                long wait = next == Long.MAX_VALUE ? 0 : Math.max(1, (next - now + 999_999) / 1_000_000);
                selector.select(wait);
                if (!running) break;
                for (SelectionKey key : selector.selectedKeys()) {
                    if (!key.isValid()) continue;
                    if (key == serverKey) {
                        accept();
                        continue;
                    }
                    Conn c = (Conn) key.attachment();
                    try {
                        if (key.isReadable()) {
                            read(c);
                        } else if (key.isWritable()) {
                            write(c);
                        }
                    } catch (IOException e) {
                        close(c);
                    }
                }
                selector.selectedKeys().clear();
            }
        } catch (IOException | RuntimeException | Error e) {
            if (running) warn.accept("the --metrics endpoint stopped serving: " + e);
        } finally {
            for (Conn c : List.copyOf(connections)) close(c);
            closeQuietly(selector);
            closeQuietly(server);
        }
    }

    private void accept() {
        long now = System.nanoTime();
        for (int i = 0; i < limits.connections(); i++) {
            SocketChannel channel;
            try {
                channel = server.accept();
            } catch (IOException e) {
                // out of fds, most likely: the queued connection would wake us at once, for ever
                serverKey.interestOps(0);
                if (!acceptFailing) warn.accept("the --metrics endpoint cannot accept connections (" + e.getMessage()
                        + "); trying again every second");
                acceptFailing = true;
                acceptsPausedUntil = now + 1_000_000_000L;
                return;
            }
            acceptFailing = false;
            if (channel == null) return;
            if (connections.size() >= limits.connections() && !closeOldestReading()) {
                counts.closed(EndpointCounts.FULL);
                closeQuietly(channel);
                continue;
            }
            try {
                channel.configureBlocking(false);
                SelectionKey key = channel.register(selector, SelectionKey.OP_READ);
                Conn c = new Conn(channel, key, limits.requestBytes(), now + limits.request().toNanos());
                key.attach(c);
                connections.add(c);
            } catch (IOException e) {
                closeQuietly(channel);
            }
        }
    }

    /**
     * Makes room: closes the oldest connection that has been answered already, else the
     * oldest one still sending its request. False if every connection waits for the loop or
     * its response.
     */
    private boolean closeOldestReading() {
        for (Phase phase : new Phase[] {Phase.CLOSING, Phase.READING}) {
            for (Conn c : connections) {
                if (c.phase == phase) {
                    if (phase == Phase.READING) counts.closed(EndpointCounts.IDLE);
                    close(c);
                    return true;
                }
            }
        }
        return false;
    }

    private void read(Conn c) throws IOException {
        if (c.phase == Phase.CLOSING) {
            // what the client still sends is dropped until it closes (closing with unread input
            // would reset the connection, and the client could lose its response)
            c.in.clear();
            if (c.channel.read(c.in) < 0) close(c);
            return;
        }
        if (c.channel.read(c.in) < 0) {
            close(c); // gone before its request was complete
            return;
        }
        int end = headersEnd(c.in);
        if (end < 0) {
            if (!c.in.hasRemaining()) respond(c, 431, TEXT, "Request headers too large: at most " + limits.requestBytes() + " bytes\n");
            return;
        }
        String request = new String(c.in.array(), 0, end, StandardCharsets.ISO_8859_1);
        int eol = request.indexOf('\n');
        String[] line = (eol < 0 ? request : request.substring(0, eol)).strip().split(" ");
        if (line.length != 3 || !line[2].startsWith("HTTP/")) {
            respond(c, 400, TEXT, "Bad request\n");
            return;
        }
        String target = line[1];
        int query = target.indexOf('?');
        String path = query < 0 ? target : target.substring(0, query);
        Question q = switch (path) {
            case METRICS -> Question.METRICS;
            case READY -> Question.READY;
            case LIVE -> Question.LIVE;
            default -> null;
        };
        c.path = q == null ? "other" : path;
        c.head = line[0].equals("HEAD");
        if (q == null) {
            respond(c, 404, TEXT, "Not found: " + METRICS + ", " + READY + " and " + LIVE + " are served here\n");
        } else if (!line[0].equals("GET") && !c.head) {
            respond(c, 405, TEXT, "Method not allowed: GET or HEAD\n");
        } else {
            ask(c, q);
        }
    }

    /** Where the request's headers end (after the blank line); -1 if they have not all come. */
    static int headersEnd(ByteBuffer in) {
        byte[] b = in.array();
        int n = in.position();
        for (int i = 0; i < n; i++) {
            if (b[i] != '\n') continue;
            if (i + 1 < n && b[i + 1] == '\n') return i + 2;
            if (i + 2 < n && b[i + 1] == '\r' && b[i + 2] == '\n') return i + 3;
        }
        return -1;
    }

    private void ask(Conn c, Question q) {
        long now = System.nanoTime();
        int queued = inLoop.get();
        if (queued >= limits.asks()) {
            counts.closed(EndpointCounts.BUSY);
            respond(c, 503, TEXT, unavailable(q) + queued + " questions already wait for the supervisor loop\n");
            return;
        }
        inLoop.incrementAndGet();
        c.question = q;
        c.phase = Phase.ASKING;
        c.askedAt = now;
        c.deadline = now + (q == Question.METRICS ? limits.metricsAnswer() : limits.probeAnswer()).toNanos();
        c.waiting = true;
        c.key.interestOps(0);
        asker.ask(q, new Ask(c));
    }

    /** The loop's answers, as responses. */
    private void answered() {
        Answer a;
        while ((a = answers.poll()) != null) {
            Conn c = a.conn();
            if (c.phase != Phase.ASKING || !c.waiting) continue;
            c.waiting = false;
            switch (c.question) {
                case METRICS -> {
                    if (a.ok()) {
                        respond(c, 200, CONTENT_TYPE, a.text());
                    } else {
                        respond(c, 503, TEXT, "Metrics unavailable: " + a.text() + "\n");
                    }
                }
                case READY -> respond(c, a.ok() ? 200 : 503, TEXT, a.text() + "\n");
                case LIVE -> respond(c, 200, TEXT, "live: the supervisor loop answered in "
                        + String.format(Locale.ROOT, "%.1f", (System.nanoTime() - c.askedAt) / 1e6) + " ms\n");
            }
        }
    }

    /** How a 503 to {@code q} begins. */
    private static String unavailable(Question q) {
        return switch (q) {
            case LIVE -> "not live: ";
            case READY -> "not ready: ";
            case METRICS -> "Metrics unavailable: ";
        };
    }

    /** Ends what is past its deadline; returns the next deadline (Long.MAX_VALUE if none). */
    private long expire(long now) {
        if (acceptsPausedUntil != 0 && now - acceptsPausedUntil >= 0) {
            acceptsPausedUntil = 0; // the pause is over: no deadline of its own any more
            if (serverKey.isValid()) serverKey.interestOps(SelectionKey.OP_ACCEPT);
        }
        long next = acceptsPausedUntil != 0 ? acceptsPausedUntil : Long.MAX_VALUE;
        for (Conn c : List.copyOf(connections)) {
            if (now - c.deadline >= 0) {
                switch (c.phase) {
                    case READING -> {
                        counts.closed(EndpointCounts.IDLE);
                        close(c);
                    }
                    case ASKING -> {
                        c.waiting = false;
                        Duration bound = c.question == Question.METRICS ? limits.metricsAnswer() : limits.probeAnswer();
                        String why = "the supervisor loop did not answer within " + seconds(bound) + " s\n";
                        respond(c, 503, TEXT, unavailable(c.question) + why);
                    }
                    case WRITING -> {
                        counts.closed(EndpointCounts.UNREAD);
                        close(c);
                    }
                    case CLOSING -> close(c);
                }
            }
            if (connections.contains(c)) next = Math.min(next, c.deadline);
        }
        return next;
    }

    private void respond(Conn c, int status, String type, String body) {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        String header = "HTTP/1.1 " + status + " " + reason(status) + "\r\nContent-Type: " + type + "\r\nContent-Length: "
                + bytes.length + "\r\nCache-Control: no-store\r\nConnection: close\r\n"
                + (status == 405 ? "Allow: GET, HEAD\r\n" : "") + "\r\n";
        byte[] head = header.getBytes(StandardCharsets.ISO_8859_1);
        ByteBuffer out = ByteBuffer.allocate(head.length + (c.head ? 0 : bytes.length));
        out.put(head);
        if (!c.head) out.put(bytes);
        c.out = out.flip();
        c.phase = Phase.WRITING;
        c.deadline = System.nanoTime() + limits.write().toNanos();
        counts.responded(c.path, status);
        try {
            c.key.interestOps(SelectionKey.OP_WRITE);
            write(c);
        } catch (IOException | RuntimeException e) {
            close(c);
        }
    }

    private void write(Conn c) throws IOException {
        c.channel.write(c.out);
        if (c.out.hasRemaining()) return;
        c.out = null;
        c.channel.shutdownOutput();
        c.phase = Phase.CLOSING;
        c.deadline = System.nanoTime() + limits.write().toNanos();
        c.key.interestOps(SelectionKey.OP_READ);
    }

    private void close(Conn c) {
        c.waiting = false;
        connections.remove(c);
        c.key.cancel();
        closeQuietly(c.channel);
    }

    private static String reason(int status) {
        return switch (status) {
            case 200 -> "OK";
            case 400 -> "Bad Request";
            case 404 -> "Not Found";
            case 405 -> "Method Not Allowed";
            case 431 -> "Request Header Fields Too Large";
            default -> "Service Unavailable";
        };
    }

    private static String seconds(Duration d) {
        double s = d.toMillis() / 1000.0;
        return s == Math.rint(s) ? Long.toString((long) s) : Double.toString(s);
    }

    private static void closeQuietly(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception ignored) {
            // closing
        }
    }

    /** Stops serving: no connection is accepted or open any more when this returns. */
    @Override
    public void close() {
        running = false;
        selector.wakeup();
        try {
            thread.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        closeQuietly(server);
    }
}
