package dev.einhyrningsins.supervisor;

import dev.einhyrningsins.DoNotMutate;
import dev.einhyrningsins.supervisor.Event.Command;
import dev.einhyrningsins.supervisor.Os.Level;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import java.util.stream.Collectors;

/**
 * The control commands: their table and help texts, argument checks, and replies in
 * einhorn's words. What a command does to the workers is the {@link Supervisor}'s; this
 * room decides what was asked and what to answer.
 */
final class Commands {
    static final String EINHORN_VERSION = "1.0.0";

    /**
     * Command names with their help text, einhorn's wording where it has one: one command a
     * line, {@code name: help}. {@code config}'s keys are added from {@link Settings}.
     */
    private static final String TABLE = """
            config: Merge in a new set of config options: KEY=VALUE ... or a YAML-encoded hash such as \
            {seconds: 2, max_unacked: 4}. Keys: %s. All or nothing; the new values show in state
            dec: Decrement the number of Einhorn child processes
            die: Send SIGNAL (default: the graceful signal, USR2) to all workers, stop spawning new ones, \
            and exit once all workers die (args: [SIGNAL])
            ehlo: Say hello; replies with the supervisor's pid and version
            help: Print out available commands
            inc: Increment the number of Einhorn child processes
            louder: Increase verbosity
            metrics: Counters, gauges and histograms of workers, acks, exits, upgrades and control clients (OpenMetrics text, as served by --metrics)
            quieter: Decrease verbosity
            ready: Whether the supervisor takes traffic: the target number of workers acked and no stop under way, as GET /ready on --metrics answers (fails when not, saying why)
            reload: Reload Einhorn: the supervisor replaces itself with a new start of its installation, keeping its pid, sockets, workers and state
            set_workers: Set the number of Einhorn child processes (args: N, 1..%d)
            signal: Send one or more signals to all workers (args: SIG1 [SIG2 ...])
            state: Get a dump of Einhorn's current state (JSON)
            upgrade: Upgrade all Einhorn workers smoothly (reloading the supervisor first if its installation changed on disk)
            upgrade_fleet: Upgrade all Einhorn workers a fleet at a time (reloading the supervisor first if its installation changed on disk)
            watch: Stream what happens (spawns, acks, signals, exits, upgrades, config changes, status) as one \
            JSON event a reply line, until the client disconnects
            worker:ack: Used by workers: report that worker PID is ready (pid: PID)
            worker:ping: Used by workers: report that worker PID is alive (pid: PID, request_id: ID)
            """;

    /** Command names with their help text (built on first use: a supervisor's start needs none of it). */
    private static final class Help {
        static final Map<String, String> HELP = table();
    }

    static Map<String, String> help() {
        return Help.HELP;
    }

    @DoNotMutate("runs once per JVM, in Help's initialiser: a mutant swapped in later never runs")
    private static Map<String, String> table() {
        Map<String, String> m = new LinkedHashMap<>();
        for (String line : TABLE.formatted(Settings.known(), Config.MAX_WORKERS).split("\n")) {
            int colon = line.indexOf(": ");
            m.put(line.substring(0, colon), line.substring(colon + 2));
        }
        return Map.copyOf(m);
    }

    static String descriptions() {
        return new TreeSet<>(help().keySet()).stream()
                .map(name -> name + ": " + help().get(name))
                .collect(Collectors.joining("\n"));
    }

    private final Supervisor sup;
    private final Os os;

    Commands(Supervisor sup, Os os) {
        this.sup = sup;
        this.os = os;
    }

    void run(Command c) {
        if (c.name() == null) {
            reply(c, "No \"command\" parameter provided; not sure what you want me to do.", false);
            return;
        }
        sup.log(Level.DEBUG, "Received command: " + c.name());
        switch (c.name()) {
            case "worker:ack" -> {
                Integer pid = pidOf(c.pid());
                if (pid == null) {
                    sup.log(Level.ERROR, "Invalid worker:ack request (no pid): " + c.pid());
                } else {
                    sup.readiness().manualAck(pid);
                }
            }
            case "worker:ping" -> sup.readiness().ping(pidOf(c.pid()), c.pid(), c.pingId());
            case "ehlo" -> reply(c, "Welcome, " + (c.user() == null ? "" : c.user())
                    + "! You are speaking to Einhorn Master Process " + sup.info().getOrDefault("pid", "?")
                    + (sup.info().get("command_name") instanceof String n ? " (" + n + ")" : "")
                    + ".\nThis is einhyrningsins " + sup.version() + " (einhorn " + EINHORN_VERSION + " protocol).\n", true);
            case "help" -> reply(c, "You are speaking to the Einhorn command socket. You can run the following commands:\n\n"
                    + descriptions() + "\n", true);
            case "state" -> {
                if (waiting(c, "the state")) reply(c, StateJson.render(StateReport.of(sup)), true);
            }
            case "ready" -> {
                String why = sup.notReady();
                reply(c, why == null ? "ready: " + sup.pool().ackedServing() + " of " + sup.target() + " workers acked"
                        : "not ready: " + why, why == null);
            }
            case "inc" -> {
                boolean ok = sup.target() < Config.MAX_WORKERS;
                reply(c, increment(), ok);
            }
            case "dec" -> reply(c, decrement(), true);
            case "set_workers" -> setWorkers(c);
            case "config" -> config(c);
            case "quieter" -> reply(c, verbosity(Math.min(2, sup.config().verbosity() + 1)), true);
            case "louder" -> reply(c, verbosity(Math.max(0, sup.config().verbosity() - 1)), true);
            case "signal" -> signal(c);
            case "die" -> die(c);
            case "metrics" -> {
                if (!waiting(c, "the metrics")) return;
                String text = os.metrics(sup.gauges());
                reply(c, text != null ? text : "metrics are not kept by this supervisor", text != null);
            }
            case "watch" -> {
                if (!os.watch(c.client())) reply(c, "watch is not available in this supervisor", false);
            }
            case "upgrade" -> sup.rollout().command(false, c);
            case "upgrade_fleet" -> sup.rollout().command(true, c);
            case "reload" -> {
                if (sup.stopping()) {
                    reply(c, "Not reloading: the supervisor is stopping", false);
                } else {
                    sup.log(Level.INFO, "Reloading the supervisor, as commanded");
                    os.reload(c.client(), c.streaming(), null);
                }
            }
            default -> reply(c, "Unrecognized command: " + quote(c.name()) + "\n\n" + descriptions() + "\n", false);
        }
    }

    /** Whether the client still waits for {@code what}: a reply nobody waits for is not worked out. */
    private boolean waiting(Command c, String what) {
        if (os.waiting(c.client())) return true;
        sup.log(Level.DEBUG, "Not rendering " + what + ": nobody waits for them any more");
        return false;
    }

    private void reply(Command c, String message, boolean ok) {
        os.reply(c.client(), message, true, ok);
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
        int old = sup.target();
        String will;
        if (count > old) {
            will = "spin up additional workers.";
        } else if (count < old) {
            will = "gracefully terminate workers.";
        } else {
            reply(c, "Worker count is already " + count + ".", true);
            return;
        }
        sup.target(count);
        reply(c, sup.logged("Altering worker count, " + old + " -> " + count + ". Will " + will), true);
    }

    /**
     * einhorn's {@code config}, for the run-time {@link Settings.Setting}s, all or nothing. New
     * values rule every later decision; running timers are measured again from their start
     * (a worker's spawn for ack_timeout, its last signal for signal_timeout, the upgrade's
     * start for upgrade_timeout), so a shorter timeout can expire at the next tick.
     */
    private void config(Command c) {
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
            change = Settings.change(sup.config(), parsed.entries());
            problems = change.problems();
        }
        if (!problems.isEmpty()) {
            reply(c, "Config not changed: " + String.join("; ", problems) + ".\nKnown settings: "
                    + Settings.known() + ".\nGive them as KEY=VALUE ... or a YAML-encoded hash such as {seconds: 2}.", false);
            return;
        }
        sup.config(change.config());
        os.happened(new Happening.ConfigChanged(change.applied()));
        reply(c, sup.logged("Successfully merged in config: "
                + (change.applied().isEmpty() ? "nothing" : String.join(", ", change.applied()))), true);
    }

    private void signal(Command c) {
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
            List<Integer> pids = signalAll(sig);
            lines.add("Sent " + sig + " to " + pids.size() + " worker" + (pids.size() == 1 ? "" : "s")
                    + (pids.isEmpty() ? "." : ": " + pids.stream().map(String::valueOf).collect(Collectors.joining(", "))));
        }
        reply(c, String.join("\n", lines), true);
    }

    private void die(Command c) {
        String sig = sup.config().gracefulSignal();
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
        if (sup.stopping() && !sup.delaying()) {
            reply(c, "Einhorn is already going down (" + sup.pool().size() + " workers left).", true);
            return;
        }
        reply(c, "Einhorn is going down! " + sup.die(sig), true);
    }

    /** inc and TTIN. */
    String increment() {
        if (sup.target() >= Config.MAX_WORKERS) {
            return sup.logged("Can't increase number of workers (already at " + sup.target() + ", the limit is "
                    + Config.MAX_WORKERS + ").");
        }
        int old = sup.target();
        sup.target(old + 1);
        return sup.logged("Incrementing number of workers from " + old + " -> " + (old + 1));
    }

    /** dec and TTOU. */
    String decrement() {
        if (sup.target() <= 1) {
            return sup.logged("Can't decrease number of workers (already at " + sup.target() + ").  Run kill "
                    + sup.info().getOrDefault("pid", "<pid>") + " if you really want to kill einhorn.");
        }
        int old = sup.target();
        sup.target(old - 1);
        return sup.logged("Decrementing number of workers from " + old + " -> " + (old - 1));
    }

    /** Sends {@code signal} to every worker; returns their pids. */
    List<Integer> signalAll(String signal) {
        List<Integer> pids = sup.pool().pids();
        sup.log(Level.INFO, "Sending " + signal + " to " + pids);
        for (int pid : pids) {
            os.signal(pid, signal);
            os.happened(new Happening.Signalled(pid, signal, Happening.SignalReason.FORWARD));
        }
        return pids;
    }

    String verbosity(int level) {
        sup.config(sup.config().with(Settings.Setting.VERBOSITY, level));
        return sup.logged("Verbosity set to " + level);
    }

    // ------------------------------------------------------------------ argument checks (einhorn's)

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
            if (!SignalNames.NAMES.contains(s)) return "Invalid signal: " + quote(s);
        }
        return null;
    }

    /** A worker's pid as requests carry it: a number or a numeric string; null otherwise. */
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

    /** A signal the supervisor received, as einhorn takes them: stop, upgrade, die, more or fewer workers. */
    void signal(String name) {
        switch (name) {
            case "INT", "TERM" -> sup.draining().stop(name);
            case "HUP" -> {
                sup.log(Level.INFO, "Got SIGHUP: starting a smooth upgrade");
                sup.rollout().command(false, null);
            }
            case "USR2" -> {
                sup.log(Level.INFO, "Got SIGUSR2: sending " + sup.config().gracefulSignal()
                        + " to all workers and exiting when they are gone");
                sup.die(sup.config().gracefulSignal());
            }
            case "TTIN" -> increment();
            case "TTOU" -> decrement();
            default -> sup.log(Level.DEBUG, "Ignoring SIG" + name);
        }
    }
}
