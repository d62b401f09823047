package dev.einhyrningsins.supervisor;

import dev.einhyrningsins.json.Json;
import dev.einhyrningsins.supervisor.Event.Command;
import dev.einhyrningsins.supervisor.Os.Level;
import dev.einhyrningsins.supervisor.Os.SpawnResult;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Upgrades: a new generation of workers replaces the serving one, smoothly (up to
 * {@code --max-unacked} unready at a time, each ack retiring the oldest old worker, at most
 * target + {@code --max-upgrade-additional} live) or as a fleet (all at once, the old
 * retired when all new are ready). It gives up safely — on {@code --upgrade-timeout}, on
 * {@code --upgrade-max-failures} new workers in a row failing before their ack, or when the
 * program cannot start — leaving the old generation serving. Clients that asked with an id
 * follow the progress until the final line.
 */
final class Rollout {

    /** The upgrade in progress. */
    private static final class Upgrade {
        final int generation;
        final boolean fleet;
        final long startedAt;
        final long startedWall;
        int failures;
        final List<Object> subscribers = new ArrayList<>();

        Upgrade(int generation, boolean fleet, long startedAt, long startedWall) {
            this.generation = generation;
            this.fleet = fleet;
            this.startedAt = startedAt;
            this.startedWall = startedWall;
        }
    }

    private final Supervisor sup;
    private final Os os;
    private int servingGeneration = 1;
    private int nextGeneration = 2;
    private Upgrade upgrade;
    private Map<String, Object> last;

    Rollout(Supervisor sup, Os os) {
        this.sup = sup;
        this.os = os;
    }

    /** The generation that serves: new workers outside an upgrade belong to it. */
    int servingGeneration() {
        return servingGeneration;
    }

    boolean active() {
        return upgrade != null;
    }

    /** Whether {@code w} belongs to the generation being rolled out. */
    boolean isNew(Worker w) {
        return upgrade != null && w.generation == upgrade.generation;
    }

    /** When the upgrade times out: its start plus the current upgrade timeout. */
    long dueAt() {
        Config c = sup.config();
        return upgrade == null || c.upgradeTimeout().isZero() ? WorkerTimer.NEVER
                : upgrade.startedAt + c.upgradeTimeout().toNanos();
    }

    /** Aborts the upgrade if its timeout passed, or its failures reached a lowered limit. */
    void checkLimits(long now) {
        Config c = sup.config();
        if (upgrade != null && now >= dueAt()) {
            long checking = sup.pool().serving(upgrade.generation, false).stream().filter(Worker::checking).count();
            abort("not fully acked after " + Settings.seconds(c.upgradeTimeout()) + "s ("
                    + newAcked() + "/" + sup.target() + " acked" + (checking == 0 ? ""
                    : ", " + checking + " not passing their ready check") + ")");
        }
        if (upgrade != null && upgrade.failures >= c.upgradeMaxFailures()) {
            // only after config lowered upgrade_max_failures: each failure is checked where it happens
            abort(upgrade.failures + " consecutive new workers failed before acking");
        }
    }

    /**
     * The upgrade and upgrade_fleet commands. When the supervisor's own installation changed
     * on disk, it reloads itself first, and the upgrade follows ({@link Event.UpgradeRequested}).
     */
    void command(boolean fleet, Command c) {
        if (!sup.stopping() && os.installationChanged()) {
            Object client = c == null ? null : c.client();
            boolean streaming = c != null && c.streaming();
            if (client != null) {
                os.reply(client, "Upgrading " + (fleet ? "fleet" : "smoothly") + ", as commanded", !streaming, true);
                if (streaming) {
                    os.reply(client, "The supervisor's own installation changed on disk since it started: "
                            + "reloading the supervisor first", false, true);
                }
            }
            sup.log(Level.INFO, "The supervisor's installation changed on disk: reloading it before the upgrade");
            os.reload(client, streaming, fleet ? "upgrade_fleet" : "upgrade");
            return;
        }
        start(fleet, c);
    }

    /** Starts an upgrade (HUP when {@code c} is null); one during another starts over from a newer generation. */
    void start(boolean fleet, Command c) {
        if (c == null) {
            start(fleet, null, false, null);
            return;
        }
        if (refused(c.client())) return;
        os.reply(c.client(), "Upgrading " + (fleet ? "fleet" : "smoothly") + ", as commanded", !c.streaming(), true);
        begin(fleet, c.client(), c.streaming(), null);
    }

    /** Starts an upgrade for {@code client} (null: HUP), which gets {@code note} first if it follows the progress. */
    void start(boolean fleet, Object client, boolean streaming, String note) {
        if (refused(client)) return;
        begin(fleet, client, streaming, note);
    }

    /**
     * Whether no upgrade may start: the supervisor is stopping, or {@code --env-file} cannot be
     * read (then nothing changes). The environment file is read again here, so the new
     * generation gets its current values.
     */
    private boolean refused(Object client) {
        String why = sup.stopping() ? "the supervisor is stopping" : sup.rereadEnvironment();
        if (why == null) return false;
        if (!sup.stopping()) sup.log(Level.ERROR, "Not upgrading: " + why);
        if (client != null) os.reply(client, "Not upgrading: " + why, true, false);
        return true;
    }

    private void begin(boolean fleet, Object client, boolean streaming, String note) {
        if (client != null && streaming && note != null) os.reply(client, note, false, true);
        sup.draining().beforeUpgrade();
        int generation = nextGeneration++;
        Upgrade previous = upgrade;
        upgrade = new Upgrade(generation, fleet, os.nanoTime(), os.currentTimeMillis());
        // the followers of the upgrade this one supersedes follow it, those still there
        if (previous != null) {
            for (Object c : previous.subscribers) {
                if (os.waiting(c)) upgrade.subscribers.add(c);
            }
        }
        if (client != null && streaming) upgrade.subscribers.add(client);
        sup.backoff().reset();
        os.happened(new Happening.UpgradeStarted(generation, fleet, servingGeneration));
        int target = sup.target();
        if (previous != null) {
            progress("Currently upgrading (" + sup.pool().ackedServing(previous.generation) + " / " + target
                    + " ACKs); bumping to generation " + generation + " and starting over");
        } else {
            progress("Starting " + (fleet ? "fleet" : "smooth") + " upgrade from generation " + servingGeneration
                    + " to generation " + generation + " (" + target + " workers"
                    + (fleet ? "" : ", at most " + sup.config().maxUnacked() + " unacked at once") + ")");
        }
        last = record(upgrade, "in progress", null);
    }

    /** Moves the upgrade on: spawns what may be spawned, retires what new acks paid for, or finishes. */
    void step() {
        Upgrade u = upgrade;
        WorkerPool pool = sup.pool();
        Config c = sup.config();
        int target = sup.target();
        List<Worker> fresh = pool.serving(u.generation, false);
        List<Worker> old = new ArrayList<>(pool.serving(u.generation, true));
        old.sort(WorkerPool.UNHEALTHY_FIRST.thenComparing(WorkerPool.OLDEST_FIRST));
        long acked = fresh.stream().filter(Worker::acked).count();
        if (acked >= target) {
            for (Worker w : old) {
                progress("Retiring old worker " + w.describe() + " with " + c.gracefulSignal());
                sup.retire(w, c.gracefulSignal());
            }
            servingGeneration = u.generation;
            sup.log(Level.INFO, "Upgraded successfully to generation " + u.generation);
            end(true, "Upgrade done");
            return;
        }
        if (fresh.size() > target) {
            sup.retireSurplus(fresh, fresh.size() - target);
            fresh = pool.serving(u.generation, false);
        }
        int live = fresh.size();
        long unacked = fresh.stream().filter(w -> !w.acked()).count();
        while (live < target) {
            if (!u.fleet) {
                if (unacked >= c.maxUnacked()) break;
                int cap = c.maxUpgradeAdditional();
                if (cap != Config.UNLIMITED && pool.size() >= target + cap) break;
            }
            SpawnResult r = sup.spawn(u.generation, Happening.SpawnReason.UPGRADE);
            if (r instanceof SpawnResult.Failed f) {
                abort("could not start the program: " + f.reason());
                return;
            }
            int pid = ((SpawnResult.Spawned) r).pid();
            progress("Spawned worker " + pid + " (slot " + pool.get(pid).slot + ", generation " + u.generation + ")");
            live++;
            unacked++;
        }
        if (!u.fleet) {
            long excess = old.size() + acked - target; // less than old.size(): fewer than target are acked
            for (int i = 0; i < excess; i++) {
                Worker w = old.get(i);
                progress("Retiring old worker " + w.describe() + " with " + c.gracefulSignal() + ": "
                        + acked + "/" + target + " acked");
                sup.retire(w, c.gracefulSignal());
            }
        }
    }

    /** A new worker acked: the failure streak is broken. */
    void acked(Worker w) {
        upgrade.failures = 0;
        progress("Worker " + w.pid + " (slot " + w.slot + ") acked: " + newAcked() + "/" + sup.target() + " acked");
    }

    /** A new worker failed before its ack ({@code what}: "exited with status 1 before acking", "did not ack within 5s"). */
    void failed(Worker w, String what, String abortReason) {
        upgrade.failures++;
        int limit = sup.config().upgradeMaxFailures();
        progress("Worker " + w.pid + " (slot " + w.slot + ") " + what + " (" + upgrade.failures + "/" + limit
                + " consecutive failures)");
        if (upgrade.failures >= limit) abort(upgrade.failures + " consecutive new workers " + abortReason);
    }

    /** An old worker we retired has exited. */
    void oldExited(Worker w) {
        progress("Old worker " + w.pid + " (slot " + w.slot + ") exited");
    }

    void abort(String reason) {
        Upgrade u = upgrade;
        String signal = sup.config().gracefulSignal();
        int n = 0;
        for (Worker w : sup.pool().serving(u.generation, false)) {
            sup.retire(w, signal);
            n++;
        }
        String message = "Upgrade to generation " + u.generation + " failed: " + reason + ". Sent "
                + signal + " to " + n + " new worker" + (n == 1 ? "" : "s")
                + "; generation " + servingGeneration + " keeps serving (" + sup.pool().servingCount() + " of "
                + sup.target() + " workers running, respawning as needed).";
        sup.log(Level.ERROR, message);
        end(false, message);
    }

    /** Ends the upgrade, telling every client that follows it. */
    void end(boolean ok, String message) {
        Upgrade u = upgrade;
        upgrade = null;
        last = record(u, ok ? "done" : "failed", message);
        String outcome = ok ? "done" : sup.stopping() || message.startsWith("Upgrade interrupted") ? "interrupted" : "failed";
        os.happened(new Happening.UpgradeEnded(u.generation, outcome, message, os.nanoTime() - u.startedAt));
        for (Object client : u.subscribers) os.reply(client, message, true, ok);
    }

    /** Sends a progress line to every client following the upgrade, and logs it. */
    void progress(String message) {
        progress(Level.INFO, message);
    }

    /** As {@link #progress(String)}, logged at {@code level}. */
    void progress(Level level, String message) {
        progress(level, message, true);
    }

    /** As {@link #progress(Level, String)}, logged at {@code level} only if {@code logged} (else at DEBUG). */
    void progress(Level level, String message, boolean logged) {
        sup.log(logged ? level : Level.DEBUG, message);
        if (upgrade != null) {
            upgrade.subscribers.removeIf(c -> !os.waiting(c));
            for (Object client : upgrade.subscribers) os.reply(client, message, false, true);
            os.happened(new Happening.UpgradeProgress(upgrade.generation, message));
        }
    }

    private long newAcked() {
        return upgrade == null ? 0 : sup.pool().ackedServing(upgrade.generation);
    }

    Snapshot.RolloutState state(java.util.function.Function<Object, String> clients) {
        Snapshot.UpgradeState u = upgrade == null ? null : new Snapshot.UpgradeState(upgrade.generation, upgrade.fleet,
                upgrade.startedAt, upgrade.startedWall, upgrade.failures,
                upgrade.subscribers.stream().map(clients).filter(java.util.Objects::nonNull).toList());
        return new Snapshot.RolloutState(servingGeneration, nextGeneration, u, last);
    }

    void restore(Snapshot.RolloutState s, java.util.function.Function<String, Object> clients) {
        servingGeneration = s.servingGeneration();
        nextGeneration = s.nextGeneration();
        last = s.last();
        Snapshot.UpgradeState u = s.current();
        if (u != null) {
            upgrade = new Upgrade(u.generation(), u.fleet(), u.startedAt(), u.startedWall());
            upgrade.failures = u.failures();
            for (String ref : u.subscribers()) {
                Object client = clients.apply(ref);
                if (client != null) upgrade.subscribers.add(client);
            }
        }
    }

    /** The upgrade in progress for {@code state}, or null. */
    Map<String, Object> current() {
        return upgrade == null ? null : record(upgrade, "in progress", null);
    }

    /** The last upgrade's outcome for {@code state}, or null if none ever started. */
    Map<String, Object> last() {
        return last;
    }

    private Map<String, Object> record(Upgrade u, String outcome, String message) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("generation", u.generation);
        m.put("mode", u.fleet ? "fleet" : "smooth");
        m.put("outcome", outcome);
        m.put("started_at", Json.timestamp(u.startedWall));
        m.put("ended_at", outcome.equals("in progress") ? null : Json.timestamp(os.currentTimeMillis()));
        m.put("message", message);
        return m;
    }
}
