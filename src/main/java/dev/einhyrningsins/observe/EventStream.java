package dev.einhyrningsins.observe;

import dev.einhyrningsins.control.ReplyTo;
import dev.einhyrningsins.json.Json;
import dev.einhyrningsins.posix.Processes;
import dev.einhyrningsins.supervisor.Happening;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.LongSupplier;

/**
 * The {@code watch} command's stream: every {@link Happening} as one JSON event (one reply
 * line, {@code wait: true}, the event as its message), to every watcher, until it goes.
 * A watcher's first event is the current {@code status}; its last, when the supervisor
 * exits, is {@code supervisor_exit} (the final reply). Loop thread only: sending never
 * blocks (the connection queues, and drops a watcher that falls behind), and a watcher
 * whose connection is gone ({@link ReplyTo#open()}) is forgotten at the next event.
 */
public final class EventStream implements Consumer<Happening> {

    private final LongSupplier wallClock;
    private final List<ReplyTo> watchers = new ArrayList<>();
    private Happening.Status status = new Happening.Status(0, 0, 0, 1, false, false, false);

    /** @param wallClock epoch milliseconds, for each event's {@code time} */
    public EventStream(LongSupplier wallClock) {
        this.wallClock = wallClock;
    }

    /** Adds a watcher; it gets the current status at once. */
    public void watch(ReplyTo watcher) {
        watchers.add(watcher);
        watcher.send(render(status), false, true);
    }

    /** Watchers still connected. */
    public int size() {
        watchers.removeIf(w -> !w.open());
        return watchers.size();
    }

    @Override
    public void accept(Happening h) {
        if (h instanceof Happening.Status s) status = s;
        if (watchers.isEmpty()) return;
        send(render(h), false, true);
    }

    /** The supervisor exits: every watcher gets {@code supervisor_exit} as its final reply. */
    public void end(int exitStatus) {
        if (watchers.isEmpty()) return;
        Map<String, Object> m = event("supervisor_exit");
        m.put("status", exitStatus);
        send(json(m), true, exitStatus == 0);
        watchers.clear();
    }

    private void send(String line, boolean last, boolean ok) {
        for (Iterator<ReplyTo> it = watchers.iterator(); it.hasNext(); ) {
            ReplyTo w = it.next();
            if (w.open()) {
                w.send(line, last, ok);
            } else {
                it.remove();
            }
        }
    }

    /** One happening as its JSON event: {@code time}, {@code event}, then its fields in snake_case, durations in seconds. */
    String render(Happening h) {
        Map<String, Object> m = switch (h) {
            case Happening.Spawned s -> with(event("spawned"), "pid", s.pid(), "slot", s.slot(),
                    "generation", s.generation(), "reason", lower(s.reason()));
            case Happening.SpawnFailed f -> with(event("spawn_failed"), "generation", f.generation(), "reason", f.reason());
            case Happening.Acked a -> with(event("acked"), "pid", a.pid(), "slot", a.slot(),
                    "generation", a.generation(), "latency_seconds", seconds(a.latencyNanos()));
            case Happening.Signalled s -> with(event("signalled"), "pid", s.pid(), "signal", s.signal(),
                    "reason", lower(s.reason()));
            case Happening.Exited e -> with(event("exited"), "pid", e.pid(), "slot", e.slot(),
                    "generation", e.generation(), "status", e.status(),
                    "exit_code", e.bySignal() ? null : e.code(),
                    "signal", e.bySignal() ? Processes.signalName(e.code()) : null,
                    "acked", e.acked(), "expected", e.expected(), "killed", e.killed(), "ack_timeout", e.ackTimedOut(),
                    "drain_seconds", e.drainNanos() < 0 ? null : seconds(e.drainNanos()));
            case Happening.UpgradeStarted u -> with(event("upgrade_started"), "generation", u.generation(),
                    "mode", u.fleet() ? "fleet" : "smooth", "from_generation", u.fromGeneration());
            case Happening.UpgradeProgress p -> with(event("upgrade_progress"), "generation", p.generation(),
                    "message", p.message());
            case Happening.UpgradeEnded e -> with(event(e.outcome().equals("done") ? "upgrade_done" : "upgrade_aborted"),
                    "generation", e.generation(), "outcome", e.outcome(), "message", e.message(),
                    "duration_seconds", seconds(e.durationNanos()));
            case Happening.ConfigChanged c -> with(event("config_changed"), "applied", c.applied());
            case Happening.CheckFinished c -> with(event("check"), "pid", c.pid(), "slot", c.slot(),
                    "generation", c.generation(), "kind", lower(c.kind()), "passed", c.passed(), "outcome", c.outcome(),
                    "duration_seconds", seconds(c.durationNanos()), "last_line", c.lastLine());
            case Happening.WorkerSick w -> with(event("sick"), "pid", w.pid(), "slot", w.slot(),
                    "generation", w.generation(), "cause", lower(w.cause()), "reason", w.reason());
            case Happening.Recycled r -> with(event("recycled"), "pid", r.pid(), "slot", r.slot(),
                    "generation", r.generation(), "reason", r.reason());
            case Happening.ListenersUnused u -> with(event("listeners_unused"), "pid", u.pid(), "slot", u.slot(),
                    "generation", u.generation(), "acked", u.acked());
            case Happening.ShutdownDelayed d -> with(event("shutdown_delayed"), "signal", d.signal(),
                    "delay_seconds", seconds(d.delayNanos()));
            case Happening.Stopping s -> with(event("stopping"), "signal", s.signal());
            case Happening.Status s -> with(event("status"), "target", s.target(), "workers", s.workers(),
                    "acked", s.acked(), "generation", s.generation(), "upgrading", s.upgrading(),
                    "stopping", s.stopping(), "ready", s.ready());
        };
        return json(m);
    }

    private Map<String, Object> event(String name) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("time", Json.timestamp(wallClock.getAsLong()));
        m.put("event", name);
        return m;
    }

    private static Map<String, Object> with(Map<String, Object> m, Object... kv) {
        for (int i = 0; i < kv.length; i += 2) m.put((String) kv[i], kv[i + 1]);
        return m;
    }

    /** Events are rendered only once somebody watches; Jackson only for one with seconds in it. */
    private static String json(Map<String, Object> m) {
        return Json.write(m);
    }

    private static double seconds(long nanos) {
        return nanos / 1e9;
    }

    private static String lower(Enum<?> e) {
        return e.name().toLowerCase(Locale.ROOT);
    }
}
