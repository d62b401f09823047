package dev.einhyrningsins.control;

import java.io.ByteArrayOutputStream;
import java.util.Arrays;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.Base64;
import java.util.List;
import java.util.TreeSet;

/**
 * One control connection's protocol, without its transport: splits what was read into
 * lines, decodes each request and hands it on, queues the encoded replies, and knows when
 * the connection is done.
 *
 * <ul>
 *   <li>A client's end of input does not drop what is still owed to it: every request read
 *       before it gets its replies (a streamed upgrade up to its last line), then the
 *       connection is finished.</li>
 *   <li>Replies keep the order of the requests, as einhorn's single thread gives it: an
 *       answer the session gives itself ("Could not parse command", a line too long) waits
 *       until every earlier request has had its first reply.</li>
 *   <li>{@code worker:ack} and {@code worker:ping} get no reply and end the input (einhorn
 *       closes such a connection).</li>
 *   <li>{@code watch} is owed replies forever: it ends when the client goes. Its lines have a
 *       budget of their own, {@link #WATCH_MAX_OUTPUT}: a watcher that falls that far behind
 *       is dropped. A watcher's end of input (a half-close, or a close) is answered at once with
 *       {@link #INPUT_CLOSED}: a client still reading gets it and the stream goes on; a client
 *       that has closed makes that write fail, so its connection ends now rather than at the
 *       next event.</li>
 * </ul>
 *
 * <p>Not thread-safe: its transport drives it from one thread (the control server's
 * selector thread, or the supervisor loop for a worker's channel); replies from other
 * threads come back through {@link Transport#onOwnThread}.
 */
public final class Session {
    /** Longest request line; a longer one is answered with an error and ends the input. */
    public static final int MAX_LINE = 1 << 20;
    /**
     * Requests one connection may have in flight (read and owed their final reply): past it the
     * session reads on only once replies come (a pipelining client waits, it is not dropped).
     * A {@code watch} is in flight until the client goes.
     */
    public static final int MAX_IN_FLIGHT = 32;
    /** Queued output beyond which a watcher counts as too slow and is dropped. */
    public static final long WATCH_MAX_OUTPUT = 1 << 20;
    /** The event a watch gets when its client's input ends. */
    public static final String INPUT_CLOSED = "{\"event\":\"input_closed\"}";

    /** Receives every decoded request with the handle its replies go to. */
    @FunctionalInterface
    public interface Dispatcher {
        void dispatch(Request request, ReplyTo replyTo);
    }

    /** The connection the session belongs to. */
    @FunctionalInterface
    public interface Transport {
        /** Runs {@code update} on the session's own thread, then writes what it queued. */
        void onOwnThread(Runnable update);
    }

    private record Held(long afterSeq, byte[] line, boolean farewell) {}

    /**
     * einhorn's answer to a line that is not a request: the same bytes every time, so that a
     * burst of garbage is not encoded, and allocated for, line by line.
     */
    private static final class Unparsable {
        static final byte[] REPLY = WireCodec.failureLine("Could not parse command");
    }

    private final Dispatcher dispatcher;
    private final Transport transport;
    private final long maxOutput;
    /** The request line read so far (without its newline); its capacity counts in {@link #held()}. */
    private byte[] partial = new byte[0];
    private int partialLength;
    /** Input read but not parsed yet: what arrived while {@link #MAX_IN_FLIGHT} requests were in flight. */
    private byte[] pending = new byte[0];
    private int pendingLength;
    /** Parsing now: a reply given from inside a dispatch does not start parsing again. */
    private boolean parsing;
    private final ArrayDeque<ByteBuffer> output = new ArrayDeque<>();
    private final TreeSet<Long> unanswered = new TreeSet<>();
    private final ArrayDeque<Held> held = new ArrayDeque<>();
    private long nextSeq;
    private long outputBytes;
    private int owed;
    private boolean reading = true;
    private boolean overflowed;
    private String farewell;
    private int watches;
    private Object watchId;
    private boolean probed;
    /** Set when the connection is gone; read by other threads through {@link ReplyTo#open()}. */
    private volatile boolean gone;

    /** @param maxOutput queued reply bytes beyond which the client counts as not reading */
    public Session(Dispatcher dispatcher, Transport transport, long maxOutput) {
        this.dispatcher = dispatcher;
        this.transport = transport;
        this.maxOutput = maxOutput;
    }

    /**
     * Takes bytes read from the client; dispatches every complete request line. The loop goes
     * line by line, the search for the newline in a method of its own: a loop over every byte
     * that also handled the lines became hot enough, under a burst of lines, for C2 to compile
     * it with the whole request path inlined, and that one compilation took 23 MB of scratch
     * memory, which the process kept.
     */
    public void received(byte[] data, int offset, int length) {
        if (pendingLength > 0) {
            stash(data, offset, offset + length); // behind what waits already
            resume();
        } else {
            parse(data, offset, offset + length);
        }
    }

    /** Dispatches the complete lines of {@code data[start..end)}, keeping what cannot be parsed yet. */
    private void parse(byte[] data, int start, int end) {
        parsing = true;
        try {
            while (reading) {
                if (owed >= MAX_IN_FLIGHT) {
                    stash(data, start, end);
                    return;
                }
                int nl = indexOfNewline(data, start, end);
                if (nl < 0) break;
                appendPartial(data, start, nl - start);
                start = nl + 1;
                if (!tooLong()) {
                    line(Arrays.copyOf(partial, partialLength));
                    partialLength = 0;
                }
            }
            if (reading) {
                appendPartial(data, start, end - start);
                tooLong();
            }
        } finally {
            parsing = false;
        }
    }

    /** Parses what waited for requests in flight to be answered, as far as the limit lets it. */
    private void resume() {
        if (parsing || pendingLength == 0 || owed >= MAX_IN_FLIGHT) return;
        byte[] waiting = Arrays.copyOf(pending, pendingLength);
        pending = new byte[0];
        pendingLength = 0;
        parse(waiting, 0, waiting.length);
    }

    private void stash(byte[] data, int start, int end) {
        int n = end - start;
        if (n <= 0) return;
        if (pendingLength + n > pending.length) pending = Arrays.copyOf(pending, pendingLength + n);
        System.arraycopy(data, start, pending, pendingLength, n);
        pendingLength += n;
    }

    /** Appends to the line read so far; the buffer grows by doubling up to just past {@link #MAX_LINE}. */
    private void appendPartial(byte[] data, int from, int n) {
        if (n <= 0) return;
        int needed = partialLength + n;
        if (needed > partial.length) {
            int grown = Math.max(needed, Math.min(partial.length * 2, MAX_LINE + 1));
            partial = Arrays.copyOf(partial, Math.max(grown, 256));
        }
        System.arraycopy(data, from, partial, partialLength, n);
        partialLength = needed;
    }

    /**
     * Whether the session reads no more for now: {@link #MAX_IN_FLIGHT} requests are in flight,
     * or input waits for them. Its transport stops asking for input meanwhile.
     */
    public boolean paused() {
        return owed >= MAX_IN_FLIGHT || pendingLength > 0;
    }

    /**
     * The bytes this session makes the supervisor hold for its client: the request line read
     * so far (its buffer), input not parsed yet, replies not written yet and answers held for
     * their turn. What the control clients' budget counts.
     */
    public long held() {
        long answers = 0;
        for (Held h : held) answers += h.line().length;
        return partial.length + pending.length + outputBytes + answers;
    }

    private static int indexOfNewline(byte[] data, int from, int to) {
        for (int i = from; i < to; i++) {
            if (data[i] == '\n') return i;
        }
        return -1;
    }

    private boolean tooLong() {
        if (partialLength <= MAX_LINE) return false;
        stopReading();
        answer(WireCodec.failureLine("Command too long (over " + MAX_LINE + " bytes); closing the connection"), true);
        return true;
    }

    private void line(byte[] bytes) {
        if (bytes.length == 0 || (bytes.length == 1 && bytes[0] == '\r')) return;
        Request r;
        try {
            r = WireCodec.decode(bytes);
        } catch (WireCodec.ParseException e) {
            answer(Unparsable.REPLY, false);
            return;
        }
        if ("worker:ack".equals(r.command()) || "worker:ping".equals(r.command())) {
            stopReading();
            dispatcher.dispatch(r, (message, last, ok) -> { });
            return;
        }
        boolean watch = "watch".equals(r.command());
        if (watch) {
            watches++;
            watchId = r.id();
        }
        dispatcher.dispatch(r, owe(r.id(), watch ? Math.min(WATCH_MAX_OUTPUT, maxOutput) : maxOutput));
    }

    /** Counts a request as owed its replies and makes the handle they go through ({@code budget}: its output limit). */
    private Handle owe(Object requestId, long budget) {
        long seq = nextSeq++;
        owed++;
        unanswered.add(seq);
        return new Handle(this, seq, requestId, budget);
    }

    /**
     * A request a previous supervisor process read on this connection and still owes replies
     * to (a {@code reload}'s requester, an upgrade's followers): its handle, as if it had
     * just been read. Its first reply was already sent, so nothing waits for it.
     */
    public ReplyTo adopt(Object requestId) {
        Handle h = owe(requestId, maxOutput);
        unanswered.remove(h.seq);
        return h;
    }

    /** A request still owed replies, named for the hand-over ({@code ref}: the name the core's snapshot uses). */
    public record Owed(String ref, Object requestId) {}

    /**
     * A session as a reload hands it to the next process: the requests it still owes replies
     * to that the core named, the start of a request line not finished yet ({@code input}) and
     * the reply bytes not written yet ({@code output}), both base64 or null.
     */
    public record Handed(List<Owed> owed, String input, String output) {}

    /** This session's state for a reload's hand-over, with {@code owed} the requests the core named. */
    public Handed handOver(List<Owed> owed) {
        byte[] unread = Arrays.copyOf(partial, partialLength + pendingLength);
        System.arraycopy(pending, 0, unread, partialLength, pendingLength);
        String input = reading && unread.length > 0 ? Base64.getEncoder().encodeToString(unread) : null;
        ByteArrayOutputStream unwritten = new ByteArrayOutputStream();
        for (ByteBuffer b : output) unwritten.write(b.array(), b.arrayOffset() + b.position(), b.remaining());
        String out = unwritten.size() > 0 ? Base64.getEncoder().encodeToString(unwritten.toByteArray()) : null;
        return new Handed(List.copyOf(owed), input, out);
    }

    /**
     * Goes on from a session a previous process handed over: its owed requests get handles
     * here ({@code named} hears each ref with its handle), its unwritten replies are queued
     * first and its unfinished line is read on.
     */
    public void adopt(Handed h, java.util.function.BiConsumer<String, ReplyTo> named) {
        if (h.output() != null) queue(Base64.getDecoder().decode(h.output()));
        for (Owed o : h.owed()) named.accept(o.ref(), adopt(o.requestId()));
        if (h.input() != null) {
            byte[] in = Base64.getDecoder().decode(h.input());
            received(in, 0, in.length);
        }
    }

    /** Where one request's replies go; any thread may send, the transport brings it home. */
    public static final class Handle implements ReplyTo {
        private final Session session;
        private final long seq;
        private final Object requestId;
        private final long budget;

        private Handle(Session session, long seq, Object requestId, long budget) {
            this.session = session;
            this.seq = seq;
            this.requestId = requestId;
            this.budget = budget;
        }

        /** The connection's session the request came on. */
        public Session session() {
            return session;
        }

        /** The request's id, echoed in every reply. */
        public Object requestId() {
            return requestId;
        }

        @Override
        public void send(String message, boolean last, boolean ok) {
            String line = WireCodec.encodeReply(message, requestId, last, ok);
            session.transport.onOwnThread(() -> session.reply(seq, line, last, budget));
        }

        @Override
        public boolean open() {
            return !session.gone;
        }
    }

    /** A failed reply of the session's own, encoded, in request order; {@code farewell}: the connection ends with it. */
    private void answer(byte[] line, boolean farewell) {
        if (unanswered.isEmpty()) {
            queue(line);
            if (farewell) this.farewell = "sent a line over " + MAX_LINE + " bytes";
        } else {
            held.add(new Held(nextSeq, line, farewell));
        }
    }

    private void reply(long seq, String line, boolean last, long budget) {
        if (last) owed--;
        boolean first = unanswered.remove(seq);
        queue(utf8(line), budget);
        if (first) release();
        if (last) resume();
    }

    /** Queues the held answers whose earlier requests have all been answered. */
    private void release() {
        long oldestUnanswered = unanswered.isEmpty() ? Long.MAX_VALUE : unanswered.first();
        while (!held.isEmpty() && held.peek().afterSeq() <= oldestUnanswered) {
            Held h = held.poll();
            queue(h.line());
            if (h.farewell()) farewell = "sent a line over " + MAX_LINE + " bytes";
        }
    }

    /** The client closed its sending side (or the connection broke): answer what was asked, then finish. */
    public void endOfInput() {
        stopReading();
        if (watches > 0 && !probed && !overflowed) {
            probed = true;
            byte[] line = utf8(WireCodec.encodeReply(INPUT_CLOSED, watchId, false, true));
            if (unanswered.isEmpty()) {
                queue(line, WATCH_MAX_OUTPUT);
            } else {
                held.add(new Held(nextSeq, line, false));
            }
        }
    }

    /** The transport closed the connection: replies still sent to it are dropped, and {@link ReplyTo#open()} says so. */
    public void closed() {
        gone = true;
    }

    private void stopReading() {
        reading = false;
        partial = new byte[0];
        partialLength = 0;
        pending = new byte[0];
        pendingLength = 0;
    }

    private static byte[] utf8(String line) {
        return line.getBytes(StandardCharsets.UTF_8);
    }

    private void queue(byte[] line) {
        queue(line, maxOutput);
    }

    private void queue(byte[] bytes, long budget) {
        if (overflowed) return;
        output.add(ByteBuffer.wrap(bytes));
        outputBytes += bytes.length;
        if (outputBytes > budget) {
            overflowed = true;
            gone = true;
            farewell = "is not reading its replies";
            output.clear();
            outputBytes = 0;
            stopReading();
        }
    }

    /** The next bytes to write, or null if nothing is queued. Advance its position by what was written. */
    public ByteBuffer output() {
        while (!output.isEmpty() && !output.peek().hasRemaining()) {
            outputBytes -= output.poll().capacity();
        }
        return output.peek();
    }

    /** Whether more input is wanted (false after EOF, worker:ack/ping, an over-long line or an overflow). */
    public boolean reading() {
        return reading;
    }

    /** True when the connection can be closed: no more input, nothing owed or held, everything written. */
    public boolean done() {
        return overflowed || (!reading && owed == 0 && held.isEmpty() && output() == null);
    }

    /** Why the connection is being dropped, for the log; null for a normal end. */
    public String farewell() {
        return farewell;
    }
}
