package dev.einhyrningsins.observe;

import dev.einhyrningsins.control.ControlServer;
import dev.einhyrningsins.posix.Processes;
import dev.einhyrningsins.supervisor.Gauges;
import dev.einhyrningsins.supervisor.Happening;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Consumer;
import java.util.function.IntSupplier;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * What the supervisor counted, as OpenMetrics text (the {@code metrics} command and
 * {@code --metrics}). It listens to the core's {@link Happening}s and renders on the loop
 * thread, which owns every number here: the HTTP endpoint asks the loop for the text like a
 * control client, so nothing is shared between threads but the control server's own
 * counts. Names and units follow Prometheus' conventions ({@code _total}, {@code _seconds}).
 */
public final class Metrics implements Consumer<Happening> {
    static final double[] ACK_BUCKETS = {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120};
    static final double[] DRAIN_BUCKETS = {0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300};
    static final double[] UPGRADE_BUCKETS = {1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800};
    static final double[] CHECK_BUCKETS = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
    static final String[] OUTCOMES = {"done", "failed", "interrupted"};

    /** Observations in fixed buckets (upper bounds in seconds); rendered cumulative. */
    private static final class Histogram {
        final double[] bounds;
        final long[] counts;
        double sum;
        long count;

        Histogram(double[] bounds) {
            this.bounds = bounds;
            this.counts = new long[bounds.length];
        }

        void observe(double seconds) {
            for (int i = 0; i < bounds.length; i++) {
                if (seconds <= bounds[i]) {
                    counts[i]++;
                    break;
                }
            }
            sum += seconds;
            count++;
        }
    }

    private final String version;
    private final LongSupplier nanoTime;
    private final long startNanos;
    private final long startMillis;
    private final Supplier<ControlServer.Counts> control;
    private final IntSupplier watchers;
    private final long[] spawns = new long[Happening.SpawnReason.values().length];
    private long spawnFailures;
    private final Histogram ackLatency = new Histogram(ACK_BUCKETS);
    private final Map<String, Long> exits = new TreeMap<>();
    private final Histogram drain = new Histogram(DRAIN_BUCKETS);
    private final Map<String, Long> signals = new TreeMap<>();
    private long upgradesStarted;
    private final Map<String, Histogram> upgrades = new TreeMap<>();
    private long configChanges;
    private final Map<String, Long> checks = new TreeMap<>();
    private final Map<String, Histogram> checkDurations = new TreeMap<>();
    private final long[] sick = new long[Happening.SickCause.values().length];
    private long recycled;
    /** Workers found not using their inherited sockets: [before their ack, acked]. */
    private final long[] listenersUnused = new long[2];
    private EndpointCounts endpoint;
    private LongSupplier wakeUps;

    /**
     * @param startNanos  when the supervisor started on {@code nanoTime}'s clock (before a reload, for one that reloaded)
     * @param startMillis the same in epoch milliseconds
     * @param control  the control server's counts (any thread may read them)
     * @param watchers how many clients watch the event stream
     */
    public Metrics(String version, LongSupplier nanoTime, long startNanos, long startMillis,
                   Supplier<ControlServer.Counts> control, IntSupplier watchers) {
        this.version = version;
        this.nanoTime = nanoTime;
        this.startNanos = startNanos;
        this.startMillis = startMillis;
        this.control = control;
        this.watchers = watchers;
        for (String outcome : OUTCOMES) upgrades.put(outcome, new Histogram(UPGRADE_BUCKETS));
    }

    /** Renders the loop's wake-ups too ({@code einhyrningsins_loop_wakeups_total}). */
    public void wakeUps(LongSupplier count) {
        wakeUps = count;
    }

    /** Renders the {@code --metrics} endpoint's counts too. */
    public void endpoint(EndpointCounts counts) {
        endpoint = counts;
    }

    @Override
    public void accept(Happening h) {
        switch (h) {
            case Happening.Spawned s -> spawns[s.reason().ordinal()]++;
            case Happening.SpawnFailed f -> spawnFailures++;
            case Happening.Acked a -> ackLatency.observe(seconds(a.latencyNanos()));
            case Happening.Signalled s -> signals.merge(labels("signal", s.signal(), "reason", lower(s.reason())), 1L, Long::sum);
            case Happening.Exited e -> {
                String cause = e.ackTimedOut() ? "ack_timeout" : e.killed() ? "killed" : e.bySignal() ? "signal" : "exit";
                String code = e.bySignal() ? Processes.signalName(e.code()) : Integer.toString(e.code());
                exits.merge(labels("cause", cause, "code", code, "expected", Boolean.toString(e.expected())), 1L, Long::sum);
                if (e.drainNanos() >= 0) drain.observe(seconds(e.drainNanos()));
            }
            case Happening.UpgradeStarted u -> upgradesStarted++;
            case Happening.UpgradeProgress p -> { }
            case Happening.UpgradeEnded e -> upgrades.computeIfAbsent(e.outcome(), o -> new Histogram(UPGRADE_BUCKETS))
                    .observe(seconds(e.durationNanos()));
            case Happening.ConfigChanged c -> configChanges++;
            case Happening.CheckFinished c -> {
                String kind = lower(c.kind());
                checks.merge(labels("kind", kind, "result", c.passed() ? "passed" : "failed"), 1L, Long::sum);
                checkDurations.computeIfAbsent(kind, k -> new Histogram(CHECK_BUCKETS)).observe(seconds(c.durationNanos()));
            }
            case Happening.WorkerSick w -> sick[w.cause().ordinal()]++;
            case Happening.Recycled r -> recycled++;
            case Happening.ListenersUnused u -> listenersUnused[u.acked() ? 1 : 0]++;
            case Happening.ShutdownDelayed d -> { }
            case Happening.Stopping s -> { }
            case Happening.Status s -> { }
        }
    }

    /**
     * The OpenMetrics text exposition, ending with {@code # EOF}: the gauges from {@code g}
     * (the core's state now), counters and histograms from the happenings this process saw
     * (they start again at zero after a reload).
     */
    public String render(Gauges g) {
        Text t = new Text();
        t.family("einhyrningsins_build", "info", null, "The running einhyrningsins.");
        t.sample("einhyrningsins_build_info", labels("version", version, "java", Runtime.version().toString()), 1);
        t.family("einhyrningsins_start_time_seconds", "gauge", "seconds", "When the supervisor started, in seconds since the epoch.");
        t.sample("einhyrningsins_start_time_seconds", "", startMillis / 1000.0);
        t.family("einhyrningsins_uptime_seconds", "gauge", "seconds", "How long the supervisor has been running.");
        t.sample("einhyrningsins_uptime_seconds", "", seconds(nanoTime.getAsLong() - startNanos));

        t.family("einhyrningsins_workers", "gauge", null,
                "Live workers by generation and state: unacked, acked, or retiring (asked to go).");
        g.workers().forEach((generation, n) -> {
            String gen = Integer.toString(generation);
            t.sample("einhyrningsins_workers", labels("generation", gen, "state", "unacked"), n[0]);
            t.sample("einhyrningsins_workers", labels("generation", gen, "state", "acked"), n[1]);
            t.sample("einhyrningsins_workers", labels("generation", gen, "state", "retiring"), n[2]);
        });
        t.gauge("einhyrningsins_workers_target", "The number of workers asked for (-n, inc, dec, set_workers).", g.target());
        t.gauge("einhyrningsins_generation", "The generation that serves (the last upgrade that succeeded).", g.generation());
        t.gauge("einhyrningsins_ready", "1 when the target number of workers of the serving generation are acked and no "
                + "upgrade or stop runs (0 from the first TERM, through a shutdown delay).", g.ready() ? 1 : 0);
        t.gauge("einhyrningsins_upgrading", "1 while an upgrade runs.", g.upgrading() ? 1 : 0);
        t.gauge("einhyrningsins_stopping", "1 once the supervisor is stopping (or waits for its shutdown delay).",
                g.stopping() ? 1 : 0);

        t.family("einhyrningsins_spawns", "counter", null, "Workers started, by reason: start (the first launch), replace "
                + "(a missing or added worker), restart (after workers died before acking, paced by the backoff), upgrade.");
        for (Happening.SpawnReason r : Happening.SpawnReason.values()) {
            t.sample("einhyrningsins_spawns_total", labels("reason", lower(r)), spawns[r.ordinal()]);
        }
        t.counter("einhyrningsins_spawn_failures", "Workers that could not be started at all (program missing, out of fds).",
                spawnFailures);
        t.counter("einhyrningsins_acks", "Workers that became ready (timer or worker:ack).", ackLatency.count);
        t.histogram("einhyrningsins_ack_latency_seconds", "From a worker's spawn to its ack.", "", ackLatency);

        t.family("einhyrningsins_worker_exits", "counter", null, "Workers reaped, by cause: exit (with code), signal (code: "
                + "its name), killed (SIGKILL after -t), ack_timeout (retired for not acking in time); expected when we "
                + "had asked it to go.");
        exits.forEach((l, n) -> t.sample("einhyrningsins_worker_exits_total", l, n));
        t.histogram("einhyrningsins_drain_seconds", "From asking a worker to go to its exit.", "", drain);
        t.family("einhyrningsins_signals", "counter", null, "Signals sent to workers, by signal and reason: retire, stop, "
                + "kill (after -t), forward, max_draining and drain_timeout (SIGKILL to the worker and its process group).");
        signals.forEach((l, n) -> t.sample("einhyrningsins_signals_total", l, n));

        t.counter("einhyrningsins_upgrades_started", "Upgrades started (an upgrade during another starts a new one).",
                upgradesStarted);
        t.family("einhyrningsins_upgrades", "counter", null, "Upgrades ended, by outcome: done, failed (aborted), "
                + "interrupted (the supervisor stopped).");
        upgrades.forEach((outcome, hist) -> t.sample("einhyrningsins_upgrades_total", labels("outcome", outcome), hist.count));
        t.family("einhyrningsins_upgrade_duration_seconds", "histogram", "seconds", "From an upgrade's start to its end, "
                + "by outcome.");
        upgrades.forEach((outcome, hist) -> t.buckets("einhyrningsins_upgrade_duration_seconds", labels("outcome", outcome), hist));
        t.counter("einhyrningsins_config_changes", "config commands that changed settings.", configChanges);

        t.family("einhyrningsins_checks", "counter", null, "Health checks that ended, by kind (ready, live) and result "
                + "(passed; failed: a non-zero exit, a signal, a timeout, or it could not start).");
        checks.forEach((l, n) -> t.sample("einhyrningsins_checks_total", l, n));
        t.family("einhyrningsins_check_duration_seconds", "histogram", "seconds", "How long health checks ran, by kind.");
        checkDurations.forEach((kind, hist) -> t.buckets("einhyrningsins_check_duration_seconds", labels("kind", kind), hist));
        t.family("einhyrningsins_workers_sick", "counter", null, "Workers found sick, by cause: live_check, ping_timeout, "
                + "rss, age; each is replaced before it is retired.");
        for (Happening.SickCause c : Happening.SickCause.values()) {
            t.sample("einhyrningsins_workers_sick_total", labels("cause", lower(c)), sick[c.ordinal()]);
        }
        t.counter("einhyrningsins_workers_recycled", "Sick workers retired once their replacement was acked.", recycled);
        t.family("einhyrningsins_workers_without_listeners", "counter", null, "Workers found not using the sockets they "
                + "inherited, by when: before_ack (it exited before its ack holding none of them: it binds the address "
                + "itself, EADDRINUSE), acked (acked, holding none).");
        t.sample("einhyrningsins_workers_without_listeners_total", labels("when", "before_ack"), listenersUnused[0]);
        t.sample("einhyrningsins_workers_without_listeners_total", labels("when", "acked"), listenersUnused[1]);

        if (wakeUps != null) {
            t.counter("einhyrningsins_loop_wakeups", "Times the supervisor's loop woke up: for a worker, a client, a signal "
                    + "or a timer (checks, RSS samples, ping timeouts, the watchdog). A rate far above what the workers, "
                    + "clients and timers explain is a loop spinning.",
                    wakeUps.getAsLong());
        }
        ControlServer.Counts c = control.get();
        t.counter("einhyrningsins_control_connections", "Connections served on the control socket.", c.accepted());
        t.gauge("einhyrningsins_control_connections_open", "Connections open on the control socket.", c.open());
        t.family("einhyrningsins_control_refusals", "counter", null, "Control connections refused: user (not the socket's "
                + "owner or root), limit (" + ControlServer.MAX_CONNECTIONS + " open already).");
        t.sample("einhyrningsins_control_refusals_total", labels("reason", "user"), c.refusedUser());
        t.sample("einhyrningsins_control_refusals_total", labels("reason", "limit"), c.refusedLimit());
        t.counter("einhyrningsins_control_clients_dropped", "Control clients cut off for not reading their replies (slow "
                + "watchers), for a line too long, over the clients' budget, or to let a newcomer in.", c.dropped());
        t.counter("einhyrningsins_control_budget_drops", "Control clients cut off because all of them together made the "
                + "supervisor hold more than the budget (the one holding the most goes).", c.overBudget());
        t.counter("einhyrningsins_control_displaced", "Control connections closed to let a newcomer in when all "
                + ControlServer.MAX_CONNECTIONS + " were open: the one holding the most (64 KiB or more), or for an operator "
                + "the workers' user's oldest.", c.displaced());
        t.counter("einhyrningsins_control_accept_pauses", "Times accepting control connections paused after a failed "
                + "accept: out of file descriptors, the spares included, or any other failure.", c.acceptPauses());
        t.family("einhyrningsins_control_held_bytes", "gauge", "bytes", "What all control clients make the supervisor hold "
                + "now: unread replies, partial request lines, waiting input.");
        t.sample("einhyrningsins_control_held_bytes", "", c.held());
        t.family("einhyrningsins_control_budget_bytes", "gauge", "bytes", "What all control clients together may make the "
                + "supervisor hold: a quarter of the heap, 4 to 64 MiB.");
        t.sample("einhyrningsins_control_budget_bytes", "", c.budget());
        t.gauge("einhyrningsins_watchers", "Clients following the event stream (watch).", watchers.getAsInt());
        if (endpoint != null) {
            t.family("einhyrningsins_http_responses", "counter", null, "Responses of the --metrics endpoint, by path "
                    + "(/metrics, /ready, /live, other) and status code.");
            endpoint.responses().forEach((l, n) -> t.sample("einhyrningsins_http_responses_total", l, n));
            t.family("einhyrningsins_http_refusals", "counter", null, "Requests of the --metrics endpoint its bounds cut "
                    + "short: busy (too many questions waiting for the loop: 503 at once), full (every connection taken), "
                    + "idle (no complete request in time, or closed to make room), unread (response not taken in time).");
            endpoint.refused().forEach((r, n) -> t.sample("einhyrningsins_http_refusals_total", labels("reason", r), n));
        }
        t.b.append("# EOF\n");
        return t.b.toString();
    }

    private static double seconds(long nanos) {
        return nanos / 1e9;
    }

    private static String lower(Enum<?> e) {
        return e.name().toLowerCase(Locale.ROOT);
    }

    /** {@code k1="v1",k2="v2"} with OpenMetrics escaping. */
    static String labels(String... kv) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < kv.length; i += 2) {
            if (i > 0) b.append(',');
            b.append(kv[i]).append("=\"")
                    .append(kv[i + 1].replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n")).append('"');
        }
        return b.toString();
    }

    /** The text being written: metric families, each its TYPE, UNIT and HELP, then its samples. */
    private static final class Text {
        final StringBuilder b = new StringBuilder(8192);

        void family(String name, String type, String unit, String help) {
            b.append("# TYPE ").append(name).append(' ').append(type).append('\n');
            if (unit != null) b.append("# UNIT ").append(name).append(' ').append(unit).append('\n');
            b.append("# HELP ").append(name).append(' ').append(help).append('\n');
        }

        void sample(String name, String labels, long value) {
            b.append(name);
            if (!labels.isEmpty()) b.append('{').append(labels).append('}');
            b.append(' ').append(value).append('\n');
        }

        void sample(String name, String labels, double value) {
            b.append(name);
            if (!labels.isEmpty()) b.append('{').append(labels).append('}');
            b.append(' ').append(value).append('\n');
        }

        void gauge(String name, String help, long value) {
            family(name, "gauge", null, help);
            sample(name, "", value);
        }

        void counter(String name, String help, long value) {
            family(name, "counter", null, help);
            sample(name + "_total", "", value);
        }

        void histogram(String name, String help, String labels, Histogram h) {
            family(name, "histogram", "seconds", help);
            buckets(name, labels, h);
        }

        void buckets(String name, String labels, Histogram h) {
            String sep = labels.isEmpty() ? "" : labels + ",";
            long cumulative = 0;
            for (int i = 0; i < h.bounds.length; i++) {
                cumulative += h.counts[i];
                sample(name + "_bucket", sep + "le=\"" + h.bounds[i] + "\"", cumulative);
            }
            sample(name + "_bucket", sep + "le=\"+Inf\"", h.count);
            sample(name + "_sum", labels, h.sum);
            sample(name + "_count", labels, h.count);
        }
    }
}
