package dev.einhyrningsins.observe;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * What the {@code --metrics} endpoint counted: responses by path and status, and the
 * connections its bounds closed or refused, by reason. Written by the endpoint's thread, read
 * by the loop when it renders the metrics; kept across a restart of the endpoint.
 */
public final class EndpointCounts {
    /** Every connection was taken and none was still sending its request: closed at once. */
    static final String FULL = "full";
    /** No complete request within the deadline, or closed to make room for a new connection. */
    static final String IDLE = "idle";
    /** Its response was not taken within the deadline. */
    static final String UNREAD = "unread";
    /** Answered 503 at once: too many questions were waiting for the loop already. */
    static final String BUSY = "busy";

    private final Map<String, LongAdder> responses = new ConcurrentHashMap<>();
    private final Map<String, LongAdder> closed = new ConcurrentHashMap<>();

    void responded(String path, int status) {
        responses.computeIfAbsent(Metrics.labels("path", path, "code", Integer.toString(status)), k -> new LongAdder())
                .increment();
    }

    void closed(String reason) {
        closed.computeIfAbsent(reason, k -> new LongAdder()).increment();
    }

    /** Responses by their labels ({@code path="/metrics",code="200"}). */
    public Map<String, Long> responses() {
        return snapshot(responses);
    }

    /** Connections ended by a bound, by reason (full, idle, unread, busy); every reason present. */
    public Map<String, Long> refused() {
        Map<String, Long> out = new TreeMap<>();
        for (String reason : new String[] {BUSY, FULL, IDLE, UNREAD}) {
            LongAdder n = closed.get(reason);
            out.put(reason, n == null ? 0 : n.sum());
        }
        return out;
    }

    private static Map<String, Long> snapshot(Map<String, LongAdder> m) {
        Map<String, Long> out = new TreeMap<>();
        m.forEach((k, v) -> out.put(k, v.sum()));
        return out;
    }
}
