package dev.einhyrningsins.supervisor;

import dev.einhyrningsins.supervisor.Config.AckMode;
import dev.einhyrningsins.supervisor.Event.ChildExited;
import dev.einhyrningsins.supervisor.Event.Command;
import dev.einhyrningsins.supervisor.Event.SignalReceived;
import dev.einhyrningsins.supervisor.Os.Level;
import dev.einhyrningsins.supervisor.Os.SpawnResult;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;

/**
 * The supervisor state machine: workers, slots, generations, acks, backoff, upgrades and
 * timers. It does no I/O: it consumes {@link Event}s and {@link #tick()}s and acts through
 * {@link Os}. One thread (the shell's loop thread) owns an instance; nothing here is locked.
 */
public final class Supervisor {

    /** Exits kept for the state dump. */
    static final int RECENT_EXITS = 32;
    static final String EINHORN_VERSION = "1.0.0";

    private final Os os;
    private final String version;
    private final Map<String, Object> staticInfo;
    private Config config;
    private int target;

    private final Map<Integer, Worker> workers = new LinkedHashMap<>();
    private final Deque<Map<String, Object>> recentExits = new ArrayDeque<>();
    private int servingGeneration = 1;
    private int nextGeneration = 2;
    private int consecutiveDeathsBeforeAck;
    private long lastSpawnAt;
    private boolean everSpawned;
    private boolean stopping;
    private int stopRequests;
    private boolean finished;
    private Upgrade upgrade;
    private Map<String, Object> lastUpgrade;

    /**
     * @param staticInfo facts the core does not own but the state dump shows (pid, program,
     *                   sockets, control socket path…); rendered as given
     */
    public Supervisor(Config config, Os os, String version, Map<String, Object> staticInfo) {
        this.config = config;
        this.os = os;
        this.version = version;
        this.staticInfo = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(staticInfo));
        this.target = config.number();
    }

    // ------------------------------------------------------------------ entry points

    /** Spawns the first workers, all at once (einhorn's replenish_immediately). */
    public void start() {
        reconcile();
    }

    /** Handles one event, then runs whatever timers are due. */
    public void handle(Event event) {
        switch (event) {
            case ChildExited e -> childExited(e);
            case SignalReceived s -> signalReceived(s.name());
            case Command c -> command(c);
        }
        tick();
    }

    /** Fires every due timer (acks, ack timeouts, kills, spawns, upgrade timeout) and reconciles. */
    public void tick() {
        long now = os.nanoTime();
        for (Worker w : List.copyOf(workers.values())) {
            if (!workers.containsKey(w.pid)) continue;
            if (!w.acked() && !w.retiring() && config.ackMode() instanceof AckMode.Timer t
                    && now - w.spawnedAt >= t.delay().toNanos()) {
                log(Level.INFO, "Worker " + w.pid + " has been up for " + seconds(t.delay())
                        + "s, so we are considering it alive.");
                ack(w);
            }
            if (!w.acked() && !w.retiring() && !config.ackTimeout().isZero()
                    && now - w.spawnedAt >= config.ackTimeout().toNanos()) {
                ackTimedOut(w);
            }
            if (w.retiring() && !w.killed && now >= killAt(w)) {
                log(Level.WARN, "Worker " + w.pid + " is still alive " + seconds(config.signalTimeout())
                        + "s after " + w.signals.getLast().signal() + "; sending SIGKILL");
                w.killed = true;
                w.signals.add(new Sent("KILL", os.currentTimeMillis()));
                os.signal(w.pid, "KILL");
            }
        }
        if (upgrade != null && now >= upgradeDeadline()) {
            abortUpgrade("not fully acked after " + seconds(config.upgradeTimeout()) + "s ("
                    + countNewAcked() + "/" + target + " acked)");
        }
        if (upgrade != null && upgrade.failures >= config.upgradeMaxFailures()) {
            // only after config lowered upgrade_max_failures: each failure is checked where it happens
            abortUpgrade(upgrade.failures + " consecutive new workers failed before acking");
        }
        reconcile();
    }

    /** When {@link #tick()} should run next, in {@link Os#nanoTime()} terms; Long.MAX_VALUE if never. */
    public long nextDeadline() {
        long next = Long.MAX_VALUE;
        for (Worker w : workers.values()) {
            if (!w.acked() && !w.retiring()) {
                if (config.ackMode() instanceof AckMode.Timer t) {
                    next = Math.min(next, w.spawnedAt + t.delay().toNanos());
                }
                if (!config.ackTimeout().isZero()) {
                    next = Math.min(next, w.spawnedAt + config.ackTimeout().toNanos());
                }
            }
            if (w.retiring() && !w.killed) next = Math.min(next, killAt(w));
        }
        if (upgrade != null) next = Math.min(next, upgradeDeadline());
        if (upgrade == null && !stopping && everSpawned && missing() > 0 && unackedServing() < config.maxUnacked()) {
            next = Math.min(next, lastSpawnAt + spawnInterval());
        }
        return next;
    }

    /** True once a stop finished: every worker is gone. The shell then exits 0. */
    public boolean finished() {
        return finished;
    }

    public int verbosity() {
        return config.verbosity();
    }

    /** The current configuration, as {@code config} last changed it. */
    public Config config() {
        return config;
    }

    // ------------------------------------------------------------------ events

    private void childExited(ChildExited e) {
        Worker w = workers.remove(e.pid());
        if (w == null) {
            log(Level.WARN, "Reaped unknown child " + e.pid() + " (" + e.description() + ")");
            return;
        }
        boolean unexpected = !w.retiring();
        String extra = w.acked() ? "" : " before it was acked";
        Level level = unexpected ? Level.WARN : Level.INFO;
        log(level, "Worker " + w.pid + " (slot " + w.slot + ", generation " + w.generation + ") "
                + e.description() + extra);
        Map<String, Object> exit = new LinkedHashMap<>();
        exit.put("pid", w.pid);
        exit.put("slot", w.slot);
        exit.put("generation", w.generation);
        exit.put("status", e.description());
        exit.put("success", e.success());
        exit.put("acked", w.acked());
        exit.put("expected", !unexpected);
        exit.put("at", Instant.ofEpochMilli(os.currentTimeMillis()).toString());
        recentExits.addFirst(exit);
        while (recentExits.size() > RECENT_EXITS) recentExits.removeLast();

        if (!w.acked() && unexpected) {
            consecutiveDeathsBeforeAck++;
            if (upgrade != null && w.generation == upgrade.generation) {
                upgrade.failures++;
                progress("Worker " + w.pid + " (slot " + w.slot + ") " + e.description()
                        + " before acking (" + upgrade.failures + "/" + config.upgradeMaxFailures()
                        + " consecutive failures)");
                if (upgrade.failures >= config.upgradeMaxFailures()) {
                    abortUpgrade(upgrade.failures + " consecutive new workers died before acking");
                }
            }
        } else if (upgrade != null && w.generation != upgrade.generation && !unexpected) {
            progress("Old worker " + w.pid + " (slot " + w.slot + ") exited");
        }
        if (stopping && workers.isEmpty()) {
            log(Level.INFO, "Last worker is gone; exiting");
        }
    }

    private void signalReceived(String name) {
        switch (name) {
            case "INT", "TERM" -> stop(name);
            case "HUP" -> {
                log(Level.INFO, "Got SIGHUP: starting a smooth upgrade");
                startUpgrade(false, null);
            }
            case "USR2" -> {
                log(Level.INFO, "Got SIGUSR2: sending " + config.gracefulSignal()
                        + " to all workers and exiting when they are gone");
                die(config.gracefulSignal());
            }
            case "TTIN" -> log(Level.INFO, increment());
            case "TTOU" -> log(Level.INFO, decrement());
            default -> log(Level.DEBUG, "Ignoring SIG" + name);
        }
    }

    private void stop(String signal) {
        stopRequests++;
        if (stopRequests == 1) {
            log(Level.INFO, "Got SIG" + signal + ": sending " + config.gracefulSignal() + " to "
                    + workers.size() + " workers and exiting when they are gone");
            die(config.gracefulSignal());
        } else {
            log(Level.WARN, "Got SIG" + signal + " again: sending TERM to the process groups of "
                    + workers.size() + " workers");
            for (Worker w : workers.values()) {
                w.signals.add(new Sent("TERM", os.currentTimeMillis()));
                os.signalGroup(w.pid, "TERM");
            }
        }
    }

    private String die(String signal) {
        if (upgrade != null) {
            endUpgrade(false, "Upgrade interrupted: the supervisor is stopping");
        }
        stopping = true;
        int n = 0;
        for (Worker w : workers.values()) {
            retire(w, signal);
            n++;
        }
        if (workers.isEmpty()) log(Level.INFO, "No workers left; exiting");
        return "Sent " + signal + " to " + n + " worker" + (n == 1 ? "" : "s") + ".";
    }

    // ------------------------------------------------------------------ control commands

    /** Command names with their help text, einhorn's wording where it has one. */
    static final Map<String, String> COMMANDS = commands();

    private static Map<String, String> commands() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("config", "Merge in a new set of config options: KEY=VALUE ... or a YAML-encoded hash such as "
                + "{seconds: 2, max_unacked: 4}. Keys: " + Settings.known()
                + ". All or nothing; the new values show in state");
        m.put("dec", "Decrement the number of Einhorn child processes");
        m.put("die", "Send SIGNAL (default: the graceful signal, USR2) to all workers, stop spawning new ones, "
                + "and exit once all workers die (args: [SIGNAL])");
        m.put("ehlo", "Say hello; replies with the supervisor's pid and version");
        m.put("help", "Print out available commands");
        m.put("inc", "Increment the number of Einhorn child processes (at most " + Config.MAX_WORKERS + ")");
        m.put("louder", "Increase verbosity");
        m.put("quieter", "Decrease verbosity");
        m.put("reload", "Reload Einhorn (not supported: upgrades replace workers without restarting the supervisor)");
        m.put("set_workers", "Set the number of Einhorn child processes (args: N, 1.." + Config.MAX_WORKERS + ")");
        m.put("signal", "Send one or more signals to all workers (args: SIG1 [SIG2 ...])");
        m.put("state", "Get a dump of Einhorn's current state (JSON)");
        m.put("upgrade", "Upgrade all Einhorn workers smoothly");
        m.put("upgrade_fleet", "Upgrade all Einhorn workers a fleet at a time");
        m.put("worker:ack", "Used by workers: report that worker PID is ready (pid: PID)");
        m.put("worker:ping", "Used by workers: report that worker PID is alive (pid: PID, request_id: ID)");
        return Map.copyOf(m);
    }

    static String commandDescriptions() {
        return new TreeSet<>(COMMANDS.keySet()).stream()
                .map(name -> name + ": " + COMMANDS.get(name))
                .collect(Collectors.joining("\n"));
    }

    private void command(Command c) {
        if (c.name() == null) {
            reply(c, "No \"command\" parameter provided; not sure what you want me to do.", false);
            return;
        }
        log(Level.DEBUG, "Received command: " + c.name());
        switch (c.name()) {
            case "worker:ack" -> manualAck(c);
            case "worker:ping" -> ping(c);
            case "ehlo" -> reply(c, "Welcome, " + (c.user() == null ? "" : c.user())
                    + "! You are speaking to Einhorn Master Process " + staticInfo.getOrDefault("pid", "?")
                    + (staticInfo.get("command_name") instanceof String n ? " (" + n + ")" : "")
                    + ".\nThis is einhyrningsins " + version + " (einhorn " + EINHORN_VERSION + " protocol).\n", true);
            case "help" -> reply(c, "You are speaking to the Einhorn command socket. You can run the following commands:\n\n"
                    + commandDescriptions() + "\n", true);
            case "state" -> reply(c, StateJson.render(state()), true);
            case "inc" -> {
                boolean ok = target < Config.MAX_WORKERS;
                reply(c, increment(), ok);
            }
            case "dec" -> reply(c, decrement(), true);
            case "set_workers" -> setWorkers(c);
            case "quieter" -> {
                if (config.verbosity() < 2) config = config.withVerbosity(config.verbosity() + 1);
                reply(c, logged("Verbosity set to " + config.verbosity()), true);
            }
            case "louder" -> {
                if (config.verbosity() > 0) config = config.withVerbosity(config.verbosity() - 1);
                reply(c, logged("Verbosity set to " + config.verbosity()), true);
            }
            case "config" -> configCommand(c);
            case "signal" -> signalCommand(c);
            case "die" -> dieCommand(c);
            case "upgrade" -> startUpgrade(false, c);
            case "upgrade_fleet" -> startUpgrade(true, c);
            case "reload" -> reply(c, "reload is not supported by einhyrningsins: the supervisor keeps running; "
                    + "use upgrade to replace the workers", false);
            default -> reply(c, "Unrecognized command: " + quote(c.name()) + "\n\n" + commandDescriptions() + "\n", false);
        }
    }

    private String logged(String message) {
        log(Level.INFO, message);
        return message;
    }

    private void reply(Command c, String message, boolean ok) {
        os.reply(c.client(), message, true, ok);
    }

    private void manualAck(Command c) {
        Integer pid = pidOf(c.pid());
        if (pid == null) {
            log(Level.ERROR, "Invalid worker:ack request (no pid): " + c.pid());
            return;
        }
        if (!(config.ackMode() instanceof AckMode.Manual)) {
            log(Level.ERROR, "Received a manual ACK for " + pid + ", but ack mode is timer. Ignoring ACK.");
            return;
        }
        Worker w = workers.get(pid);
        if (w == null) {
            log(Level.ERROR, "Could not find state for PID " + pid + "; ignoring ACK.");
            return;
        }
        if (w.acked()) {
            log(Level.WARN, "Pid " + pid + " already ACKed; ignoring new ACK.");
            return;
        }
        log(Level.INFO, "Received a manual ACK from " + pid);
        ack(w);
    }

    private void ping(Command c) {
        Integer pid = pidOf(c.pid());
        Worker w = pid == null ? null : workers.get(pid);
        if (w == null) {
            log(Level.ERROR, "Could not find state for PID " + c.pid() + "; ignoring ping.");
            return;
        }
        w.lastPingWall = os.currentTimeMillis();
        w.pingId = c.pingId();
    }

    private String increment() {
        if (target >= Config.MAX_WORKERS) {
            return logged("Can't increase number of workers (already at " + target + ", the limit is "
                    + Config.MAX_WORKERS + ").");
        }
        int old = target;
        target++;
        return logged("Incrementing number of workers from " + old + " -> " + target);
    }

    private String decrement() {
        if (target <= 1) {
            return logged("Can't decrease number of workers (already at " + target + ").  Run kill "
                    + staticInfo.getOrDefault("pid", "<pid>") + " if you really want to kill einhorn.");
        }
        int old = target;
        target--;
        return logged("Decrementing number of workers from " + old + " -> " + target);
    }

    private void setWorkers(Command c) {
        String bad = validateArgs(c.args());
        if (bad != null) {
            reply(c, bad, false);
            return;
        }
        List<?> args = (List<?>) c.args();
        int count;
        try {
            count = Settings.workers(args.isEmpty() ? "" : (String) args.getFirst());
        } catch (Settings.Invalid e) {
            reply(c, "Invalid count: '" + (args.isEmpty() ? "" : args.getFirst()) + "'. Must be an integer in [1,"
                    + Config.MAX_WORKERS + "].", false);
            return;
        }
        if (count == target) {
            reply(c, "Worker count is already " + count + ".", true);
            return;
        }
        int old = target;
        target = count;
        reply(c, logged("Altering worker count, " + old + " -> " + count + ". Will "
                + (old < count ? "spin up additional workers." : "gracefully terminate workers.")), true);
    }

    /**
     * einhorn's {@code config}, for the run-time {@link Settings.Setting}s, all or nothing. New
     * values rule every later decision; running timers are measured again from their start
     * (a worker's spawn for ack_timeout, its last signal for signal_timeout, the upgrade's
     * start for upgrade_timeout), so a shorter timeout can expire at the next tick.
     */
    private void configCommand(Command c) {
        String bad = validateArgs(c.args());
        if (bad != null) {
            reply(c, bad, false);
            return;
        }
        @SuppressWarnings("unchecked")
        ConfigArgs.Parsed parsed = ConfigArgs.parse((List<String>) c.args());
        List<String> problems = parsed.problem() != null ? List.of(parsed.problem()) : List.of();
        Settings.Change change = null;
        if (problems.isEmpty()) {
            change = Settings.change(config, parsed.entries());
            problems = change.problems();
        }
        if (!problems.isEmpty()) {
            reply(c, "Config not changed: " + String.join("; ", problems) + ".\nKnown settings: "
                    + Settings.known() + ".\nGive them as KEY=VALUE ... or a YAML-encoded hash such as {seconds: 2}.", false);
            return;
        }
        config = change.config();
        reply(c, logged("Successfully merged in config: "
                + (change.applied().isEmpty() ? "nothing" : String.join(", ", change.applied()))), true);
    }

    private void signalCommand(Command c) {
        String bad = validateArgs(c.args());
        if (bad == null && ((List<?>) c.args()).isEmpty()) bad = "No signals given (args: SIG1 [SIG2 ...])";
        List<String> sigs = bad == null ? normalizeSignals(c.args()) : List.of();
        if (bad == null) bad = validateSignals(sigs);
        if (bad != null) {
            reply(c, bad, false);
            return;
        }
        List<String> lines = new ArrayList<>();
        for (String sig : sigs) {
            List<Integer> pids = new ArrayList<>(workers.keySet());
            log(Level.INFO, "Sending " + sig + " to " + pids);
            for (int pid : pids) os.signal(pid, sig);
            lines.add("Sent " + sig + " to " + pids.size() + " worker" + (pids.size() == 1 ? "" : "s")
                    + (pids.isEmpty() ? "." : ": " + pids.stream().map(String::valueOf).collect(Collectors.joining(", "))));
        }
        reply(c, String.join("\n", lines), true);
    }

    private void dieCommand(Command c) {
        String sig = config.gracefulSignal();
        if (c.args() != null) {
            String bad = validateArgs(c.args());
            List<String> sigs = bad == null ? normalizeSignals(c.args()) : List.of();
            if (bad == null) bad = validateSignals(sigs);
            if (bad != null) {
                reply(c, bad, false);
                return;
            }
            if (!sigs.isEmpty()) sig = sigs.getFirst();
        }
        if (stopping) {
            reply(c, "Einhorn is already going down (" + workers.size() + " workers left).", true);
            return;
        }
        reply(c, "Einhorn is going down! " + die(sig), true);
    }

    static String validateArgs(Object args) {
        if (args == null) return "No args provided";
        if (!(args instanceof List<?> list)) return "Args must be an array";
        for (Object a : list) {
            if (!(a instanceof String)) {
                return "Argument is a " + (a == null ? "nil" : a.getClass().getSimpleName()) + ", not a string: " + a;
            }
        }
        return null;
    }

    static List<String> normalizeSignals(Object args) {
        List<String> out = new ArrayList<>();
        for (Object a : (List<?>) args) {
            String s = ((String) a).toUpperCase(Locale.ROOT).trim();
            if (s.startsWith("SIG")) s = s.substring(3);
            out.add(s);
        }
        return out;
    }

    static String validateSignals(List<String> sigs) {
        for (String s : sigs) {
            if (!Signals.NAMES.contains(s)) return "Invalid signal: " + quote(s);
        }
        return null;
    }

    static Integer pidOf(Object raw) {
        return switch (raw) {
            case Integer i -> i;
            case Long l when l > 0 && l <= Integer.MAX_VALUE -> l.intValue();
            case String s when s.trim().matches("\\d{1,9}") -> Integer.parseInt(s.trim());
            case null, default -> null;
        };
    }

    private static String quote(String s) {
        return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }

    // ------------------------------------------------------------------ acks

    private void ack(Worker w) {
        w.ackedAt = os.nanoTime();
        w.ackedWall = os.currentTimeMillis();
        String streak = consecutiveDeathsBeforeAck > 0
                ? ", breaking the streak of " + consecutiveDeathsBeforeAck + " consecutive unacked workers dying"
                : "";
        consecutiveDeathsBeforeAck = 0;
        String mode = config.ackMode() instanceof AckMode.Manual ? "manual" : "timer";
        if (upgrade != null && w.generation == upgrade.generation) {
            upgrade.failures = 0;
            progress("Worker " + w.pid + " (slot " + w.slot + ") acked: " + countNewAcked() + "/" + target + " acked");
        } else {
            log(Level.INFO, "Up to " + countAcked() + " / " + target + " " + mode + " ACKs" + streak);
        }
    }

    private void ackTimedOut(Worker w) {
        log(Level.WARN, "Worker " + w.pid + " (slot " + w.slot + ") has not acked within "
                + seconds(config.ackTimeout()) + "s; treating it as failed");
        consecutiveDeathsBeforeAck++;
        retire(w, config.gracefulSignal());
        if (upgrade != null && w.generation == upgrade.generation) {
            upgrade.failures++;
            progress("Worker " + w.pid + " (slot " + w.slot + ") did not ack within " + seconds(config.ackTimeout())
                    + "s (" + upgrade.failures + "/" + config.upgradeMaxFailures() + " consecutive failures)");
            if (upgrade.failures >= config.upgradeMaxFailures()) {
                abortUpgrade(upgrade.failures + " consecutive new workers failed before acking");
            }
        }
    }

    // ------------------------------------------------------------------ upgrades

    private void startUpgrade(boolean fleet, Command c) {
        String mode = fleet ? "fleet" : "smoothly";
        if (stopping) {
            if (c != null) reply(c, "Not upgrading: the supervisor is stopping", false);
            return;
        }
        if (c != null) {
            os.reply(c.client(), "Upgrading " + mode + ", as commanded", !c.streaming(), true);
        }
        int generation = nextGeneration++;
        long now = os.nanoTime();
        Upgrade previous = upgrade;
        upgrade = new Upgrade(generation, fleet, now, os.currentTimeMillis());
        if (previous != null) {
            upgrade.subscribers.addAll(previous.subscribers);
        }
        if (c != null && c.streaming()) upgrade.subscribers.add(c.client());
        consecutiveDeathsBeforeAck = 0;
        if (previous != null) {
            progress("Currently upgrading (" + countAcked(previous.generation) + " / " + target
                    + " ACKs); bumping to generation " + generation + " and starting over");
        } else {
            progress("Starting " + (fleet ? "fleet" : "smooth") + " upgrade from generation " + servingGeneration
                    + " to generation " + generation + " (" + target + " workers"
                    + (fleet ? "" : ", at most " + config.maxUnacked() + " unacked at once") + ")");
        }
        lastUpgrade = upgradeRecord(upgrade, "in progress", null);
    }

    private void progressUpgrade() {
        Upgrade u = upgrade;
        List<Worker> fresh = serving().stream().filter(w -> w.generation == u.generation).toList();
        List<Worker> old = serving().stream().filter(w -> w.generation != u.generation)
                .sorted(Comparator.comparingInt((Worker w) -> w.generation).thenComparingLong(w -> w.spawnedAt))
                .toList();
        long acked = fresh.stream().filter(Worker::acked).count();
        if (acked >= target) {
            for (Worker w : old) {
                progress("Retiring old worker " + w.pid + " (slot " + w.slot + ", generation " + w.generation
                        + ") with " + config.gracefulSignal());
                retire(w, config.gracefulSignal());
            }
            servingGeneration = u.generation;
            log(Level.INFO, "Upgraded successfully to generation " + u.generation);
            endUpgrade(true, "Upgrade done");
            return;
        }
        if (fresh.size() > target) {
            retireSurplus(fresh, fresh.size() - target);
            fresh = serving().stream().filter(w -> w.generation == u.generation).toList();
        }
        int live = fresh.size();
        long unacked = fresh.stream().filter(w -> !w.acked()).count();
        while (live < target) {
            if (!u.fleet) {
                if (unacked >= config.maxUnacked()) break;
                int cap = config.maxUpgradeAdditional();
                if (cap >= 0 && workers.size() >= target + cap) break;
            }
            SpawnResult r = spawn(u.generation);
            if (r instanceof SpawnResult.Failed f) {
                abortUpgrade("could not start the program: " + f.reason());
                return;
            }
            progress("Spawned worker " + ((SpawnResult.Spawned) r).pid() + " (slot " + workers.get(((SpawnResult.Spawned) r).pid()).slot
                    + ", generation " + u.generation + ")");
            live++;
            unacked++;
        }
        if (!u.fleet) {
            long excess = old.size() + acked - target;
            for (int i = 0; i < excess && i < old.size(); i++) {
                Worker w = old.get(i);
                progress("Retiring old worker " + w.pid + " (slot " + w.slot + ", generation " + w.generation
                        + ") with " + config.gracefulSignal() + ": " + acked + "/" + target + " acked");
                retire(w, config.gracefulSignal());
            }
        }
    }

    private void abortUpgrade(String reason) {
        Upgrade u = upgrade;
        int n = 0;
        for (Worker w : serving()) {
            if (w.generation == u.generation) {
                retire(w, config.gracefulSignal());
                n++;
            }
        }
        long keep = serving().size();
        String message = "Upgrade to generation " + u.generation + " failed: " + reason + ". Sent "
                + config.gracefulSignal() + " to " + n + " new worker" + (n == 1 ? "" : "s")
                + "; generation " + servingGeneration + " keeps serving (" + keep + " of " + target
                + " workers running, respawning as needed).";
        log(Level.ERROR, message);
        endUpgrade(false, message);
    }

    private void endUpgrade(boolean ok, String message) {
        Upgrade u = upgrade;
        upgrade = null;
        lastUpgrade = upgradeRecord(u, ok ? "done" : "failed", message);
        for (Object client : u.subscribers) os.reply(client, message, true, ok);
    }

    private Map<String, Object> upgradeRecord(Upgrade u, String outcome, String message) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("generation", u.generation);
        m.put("mode", u.fleet ? "fleet" : "smooth");
        m.put("outcome", outcome);
        m.put("started_at", Instant.ofEpochMilli(u.startedWall).toString());
        m.put("ended_at", outcome.equals("in progress") ? null : Instant.ofEpochMilli(os.currentTimeMillis()).toString());
        m.put("message", message);
        return m;
    }

    /** Sends a progress line to every client following the upgrade, and logs it. */
    private void progress(String message) {
        log(Level.INFO, message);
        if (upgrade != null) {
            for (Object client : upgrade.subscribers) os.reply(client, message, false, true);
        }
    }

    // ------------------------------------------------------------------ reconciliation

    private void reconcile() {
        if (stopping) {
            if (workers.isEmpty()) finished = true;
            return;
        }
        if (upgrade != null) progressUpgrade();
        if (upgrade != null) return;
        List<Worker> serving = serving();
        if (serving.size() > target) {
            retireSurplus(serving, serving.size() - target);
        }
        int missing = missing();
        if (missing <= 0) return;
        if (!everSpawned) {
            log(Level.INFO, "Launching " + missing + " new workers");
            for (int i = 0; i < missing; i++) {
                spawnOrBackOff();
            }
            return;
        }
        long now = os.nanoTime();
        long interval = spawnInterval();
        if (now - lastSpawnAt >= interval && unackedServing() < config.maxUnacked()) {
            if (consecutiveDeathsBeforeAck > 0) {
                log(Level.INFO, "Spawning a replacement (spawn interval " + seconds(Duration.ofNanos(interval))
                        + "s after " + consecutiveDeathsBeforeAck + " consecutive unacked worker deaths)");
            }
            spawnOrBackOff();
        }
    }

    private void spawnOrBackOff() {
        if (spawn(servingGeneration) instanceof SpawnResult.Failed f) {
            consecutiveDeathsBeforeAck++;
            log(Level.ERROR, "Could not start a worker: " + f.reason() + "; retrying in "
                    + seconds(Duration.ofNanos(spawnInterval())) + "s");
        }
    }

    private SpawnResult spawn(int generation) {
        int slot = freeSlot();
        SpawnResult r = os.spawn(slot, generation);
        lastSpawnAt = os.nanoTime();
        everSpawned = true;
        if (r instanceof SpawnResult.Spawned s) {
            workers.put(s.pid(), new Worker(s.pid(), slot, generation, lastSpawnAt, os.currentTimeMillis()));
            log(Level.INFO, "===> Launched " + s.pid() + " (index: " + slot + ", generation: " + generation + ")");
        }
        return r;
    }

    /** einhorn's spinup interval: seconds × 1.5^k, capped at 30 s. */
    long spawnInterval() {
        double nanos = config.respawnInterval().toNanos() * Math.pow(1.5, consecutiveDeathsBeforeAck);
        return (long) Math.min(nanos, Config.MAX_SPAWN_INTERVAL.toNanos());
    }

    private int missing() {
        return target - serving().size();
    }

    private long unackedServing() {
        return serving().stream().filter(w -> !w.acked()).count();
    }

    /** Workers not asked to go: they count toward the target. */
    private List<Worker> serving() {
        return workers.values().stream().filter(w -> !w.retiring()).toList();
    }

    /** Retires {@code count} of {@code pool}: unacked first, then older generations, then highest slot. */
    private void retireSurplus(List<Worker> pool, int count) {
        List<Worker> order = pool.stream()
                .sorted(Comparator.comparing(Worker::acked)
                        .thenComparingInt(w -> w.generation)
                        .thenComparing(Comparator.comparingInt((Worker w) -> w.slot).reversed()))
                .toList();
        log(Level.INFO, "Have " + pool.size() + " workers for a target of " + target + "; retiring " + count);
        for (int i = 0; i < count && i < order.size(); i++) retire(order.get(i), config.gracefulSignal());
    }

    private void retire(Worker w, String signal) {
        long now = os.nanoTime();
        if (w.retiring() && w.signals.stream().anyMatch(s -> s.signal().equals(signal))) {
            log(Level.WARN, "Re-sending " + signal + " to already-signaled worker " + w.pid
                    + ". It may be slow to spin down, or it may be swallowing " + signal + "s.");
        }
        w.retiredAt = now;
        w.signals.add(new Sent(signal, os.currentTimeMillis()));
        os.signal(w.pid, signal);
    }

    /** When a retiring worker gets SIGKILL: its last signal plus the current signal timeout. */
    private long killAt(Worker w) {
        return config.signalTimeout().isZero() ? Long.MAX_VALUE : w.retiredAt + config.signalTimeout().toNanos();
    }

    /** When the running upgrade is aborted: its start plus the current upgrade timeout. */
    private long upgradeDeadline() {
        return config.upgradeTimeout().isZero() ? Long.MAX_VALUE : upgrade.startedAt + config.upgradeTimeout().toNanos();
    }

    private int freeSlot() {
        Set<Integer> used = new TreeSet<>();
        for (Worker w : workers.values()) used.add(w.slot);
        int i = 0;
        while (used.contains(i)) i++;
        return i;
    }

    private long countAcked() {
        return serving().stream().filter(Worker::acked).count();
    }

    private long countAcked(int generation) {
        return serving().stream().filter(w -> w.acked() && w.generation == generation).count();
    }

    private long countNewAcked() {
        return upgrade == null ? 0 : countAcked(upgrade.generation);
    }

    // ------------------------------------------------------------------ state

    /** The state dump served by the {@code state} command. */
    public Map<String, Object> state() {
        Map<String, Object> s = new LinkedHashMap<>(staticInfo);
        s.put("version", version);
        s.put("target", target);
        s.put("generation", servingGeneration);
        s.put("verbosity", config.verbosity());
        s.put("stopping", stopping);
        s.put("consecutive_deaths_before_ack", consecutiveDeathsBeforeAck);
        s.put("upgrading", upgrade == null ? null : upgradeRecord(upgrade, "in progress", null));
        s.put("last_upgrade", lastUpgrade);
        Map<String, Object> cfg = new LinkedHashMap<>();
        cfg.put("number", config.number());
        cfg.put("seconds", seconds(config.respawnInterval()));
        cfg.put("ack_mode", config.ackMode() instanceof AckMode.Timer t ? Map.of("type", "timer", "timeout", seconds(t.delay()))
                : Map.of("type", "manual"));
        cfg.put("ack_timeout", config.ackTimeout().isZero() ? null : seconds(config.ackTimeout()));
        cfg.put("signal_timeout", config.signalTimeout().isZero() ? null : seconds(config.signalTimeout()));
        cfg.put("graceful_signal", config.gracefulSignal());
        cfg.put("max_unacked", config.maxUnacked());
        cfg.put("max_upgrade_additional", config.maxUpgradeAdditional() < 0 ? null : config.maxUpgradeAdditional());
        cfg.put("upgrade_timeout", config.upgradeTimeout().isZero() ? null : seconds(config.upgradeTimeout()));
        cfg.put("upgrade_max_failures", config.upgradeMaxFailures());
        cfg.put("verbosity", config.verbosity());
        s.put("config", cfg);
        List<Map<String, Object>> ws = new ArrayList<>();
        for (Worker w : workers.values()) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("pid", w.pid);
            m.put("slot", w.slot);
            m.put("generation", w.generation);
            m.put("spawned_at", Instant.ofEpochMilli(w.spawnedWall).toString());
            m.put("acked", w.acked());
            m.put("acked_at", w.acked() ? Instant.ofEpochMilli(w.ackedWall).toString() : null);
            m.put("signaled", w.signals.stream().map(x -> Map.of("signal", x.signal(),
                    "at", Instant.ofEpochMilli(x.atWall()).toString())).toList());
            m.put("last_ping_at", w.lastPingWall < 0 ? null : Instant.ofEpochMilli(w.lastPingWall).toString());
            m.put("last_ping_id", w.pingId);
            ws.add(m);
        }
        s.put("workers", ws);
        s.put("recent_exits", List.copyOf(recentExits));
        return s;
    }

    // ------------------------------------------------------------------ helpers

    private void log(Level level, String message) {
        int rank = switch (level) {
            case DEBUG -> 0;
            case INFO -> 1;
            case WARN, ERROR -> 2;
        };
        if (rank >= config.verbosity()) os.log(level, message);
    }

    static String seconds(Duration d) {
        double s = d.toNanos() / 1e9;
        return s == Math.rint(s) ? String.valueOf((long) s) : String.valueOf(s);
    }

    private record Sent(String signal, long atWall) {}

    private static final class Worker {
        final int pid;
        final int slot;
        final int generation;
        final long spawnedAt;
        final long spawnedWall;
        long ackedAt = -1;
        long ackedWall;
        long retiredAt = -1;
        boolean killed;
        long lastPingWall = -1;
        Object pingId;
        final List<Sent> signals = new ArrayList<>();

        Worker(int pid, int slot, int generation, long spawnedAt, long spawnedWall) {
            this.pid = pid;
            this.slot = slot;
            this.generation = generation;
            this.spawnedAt = spawnedAt;
            this.spawnedWall = spawnedWall;
        }

        boolean acked() {
            return ackedAt >= 0;
        }

        boolean retiring() {
            return retiredAt >= 0;
        }
    }

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
}
