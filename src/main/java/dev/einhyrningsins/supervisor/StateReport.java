package dev.einhyrningsins.supervisor;

import dev.einhyrningsins.json.Json;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** What the {@code state} command shows, and the recent exits it remembers for that. */
final class StateReport {
    /** Exits kept for the state dump. */
    static final int RECENT_EXITS = 32;

    private final Deque<Map<String, Object>> recentExits = new ArrayDeque<>();

    /** Remembers how a worker ended (newest first, the last {@link #RECENT_EXITS}). */
    void exited(Worker w, String status, boolean success, boolean expected, long wall) {
        Map<String, Object> exit = new LinkedHashMap<>();
        exit.put("pid", w.pid);
        exit.put("slot", w.slot);
        exit.put("generation", w.generation);
        exit.put("status", status);
        exit.put("success", success);
        exit.put("acked", w.acked());
        exit.put("expected", expected);
        exit.put("at", Json.timestamp(wall));
        recentExits.addFirst(exit);
        while (recentExits.size() > RECENT_EXITS) recentExits.removeLast();
    }

    List<Map<String, Object>> recentExits() {
        return List.copyOf(recentExits);
    }

    void restore(List<Map<String, Object>> exits) {
        recentExits.clear();
        recentExits.addAll(exits);
    }

    /** The state dump: the shell's static facts, then the core's own. */
    static Map<String, Object> of(Supervisor sup) {
        Config config = sup.config();
        Map<String, Object> s = new LinkedHashMap<>(sup.info());
        s.put("version", sup.version());
        s.put("target", sup.target());
        s.put("generation", sup.rollout().servingGeneration());
        s.put("verbosity", config.verbosity());
        s.put("stopping", sup.stopping());
        s.put("shutdown_delay_left", sup.delaying() ? sup.draining().left() : null);
        // a readiness probe's question: can connections be served? (an upgrade does not stop that)
        s.put("serving", !sup.stopping() && sup.pool().ackedServing() > 0);
        // what GET /ready answers: the target number of serving workers acked, no stop under way
        s.put("ready", sup.notReady() == null);
        s.put("env_generation", sup.envGeneration());
        s.put("consecutive_deaths_before_ack", sup.backoff().deaths());
        s.put("upgrading", sup.rollout().current());
        s.put("last_upgrade", sup.rollout().last());
        s.put("config", config(config));
        List<Map<String, Object>> ws = new ArrayList<>();
        for (Worker w : sup.pool().all()) ws.add(worker(w));
        s.put("workers", ws);
        s.put("recent_exits", sup.report().recentExits());
        s.put("listeners_unused", sup.listenerUse().state());
        return s;
    }

    private static Map<String, Object> config(Config config) {
        Map<String, Object> cfg = new LinkedHashMap<>();
        cfg.put("number", config.number());
        cfg.put("seconds", Settings.seconds(config.respawnInterval()));
        cfg.put("ack_mode", config.ackMode() instanceof Config.AckMode.Timer t
                ? Map.of("type", "timer", "timeout", Settings.seconds(t.delay()))
                : Map.of("type", Settings.Setting.ACK_MODE.show(config)));
        cfg.put("ack_timeout", secondsOrNull(config.ackTimeout()));
        cfg.put("signal_timeout", secondsOrNull(config.signalTimeout()));
        cfg.put("graceful_signal", config.gracefulSignal());
        cfg.put("max_unacked", config.maxUnacked());
        cfg.put("max_upgrade_additional", config.maxUpgradeAdditional() == Config.UNLIMITED ? null : config.maxUpgradeAdditional());
        cfg.put("upgrade_timeout", secondsOrNull(config.upgradeTimeout()));
        cfg.put("upgrade_max_failures", config.upgradeMaxFailures());
        cfg.put("verbosity", config.verbosity());
        HealthConfig h = config.health();
        cfg.put("ready_check", h.readyCheck());
        cfg.put("live_check", h.liveCheck());
        cfg.put("check_interval", Settings.seconds(h.checkInterval()));
        cfg.put("check_timeout", Settings.seconds(h.checkTimeout()));
        cfg.put("live_failures", h.liveFailures());
        cfg.put("ready_failures", h.readyFailures());
        cfg.put("ping_timeout", secondsOrNull(h.pingTimeout()));
        cfg.put("max_worker_rss", h.maxWorkerRssMb() == 0 ? null : h.maxWorkerRssMb());
        cfg.put("max_worker_age", secondsOrNull(h.maxWorkerAge()));
        DrainConfig d = config.drain();
        cfg.put("shutdown_delay", secondsOrNull(d.shutdownDelay()));
        cfg.put("max_draining", d.maxDraining() == 0 ? null : d.maxDraining());
        cfg.put("drain_timeout", secondsOrNull(d.drainTimeout()));
        return cfg;
    }

    private static String secondsOrNull(java.time.Duration d) {
        return d.isZero() ? null : Settings.seconds(d);
    }

    private static Map<String, Object> worker(Worker w) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("pid", w.pid);
        m.put("slot", w.slot);
        m.put("generation", w.generation);
        m.put("env_generation", w.envGeneration());
        m.put("spawned_at", Json.timestamp(w.spawnedWall));
        m.put("acked", w.acked());
        m.put("acked_at", w.ack() == null ? null : Json.timestamp(w.ack().wall()));
        m.put("signaled", w.signals().stream().map(x -> Map.of("signal", x.signal(),
                "at", Json.timestamp(x.atWall()))).toList());
        m.put("last_ping_at", w.ping() == null ? null : Json.timestamp(w.ping().wall()));
        m.put("last_ping_id", w.ping() == null ? null : w.ping().id());
        m.put("status", w.status());
        m.put("retiring", w.retiring());
        m.put("said_stopping", w.saidStopping());
        m.put("phase", phase(w));
        m.put("sick", w.sick());
        m.put("ready_check", check(w.ready, false));
        m.put("live_check", check(w.live, true));
        m.put("rss_bytes", w.rssAt() < 0 || w.rssBytes() < 0 ? null : w.rssBytes());
        m.put("holds_listeners", w.holdsInherited());
        return m;
    }

    /** starting (not acked yet), checking (acked, ready check not passed yet), acked, sick, retiring. */
    static String phase(Worker w) {
        if (w.retiring()) return "retiring";
        if (w.sick() != null) return "sick";
        if (w.acked()) return "acked";
        return w.checking() ? "checking" : "starting";
    }

    /** A check's last outcome and whether one runs now; null if it never ran. */
    private static Map<String, Object> check(Worker.Probe p, boolean live) {
        Worker.CheckResult r = p.last();
        if (r == null && !p.running()) return null;
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("running", p.running());
        m.put("passed", r == null ? null : r.passed());
        m.put("outcome", r == null ? null : r.outcome());
        m.put("duration_ms", r == null ? null : Math.round(r.durationNanos() / 1e6));
        m.put("last_line", r == null ? null : r.lastLine());
        m.put("at", r == null ? null : Json.timestamp(r.atWall()));
        if (live) m.put("consecutive_failures", p.failuresInRow());
        return m;
    }
}
