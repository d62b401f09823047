package dev.einhyrningsins.daemon;

import dev.einhyrningsins.cli.Options;
import dev.einhyrningsins.control.ControlException;
import dev.einhyrningsins.control.ControlPaths;
import dev.einhyrningsins.control.ControlServer;
import dev.einhyrningsins.posix.Processes;
import dev.einhyrningsins.supervisor.Config;
import dev.einhyrningsins.supervisor.Event;
import dev.einhyrningsins.supervisor.Os;
import dev.einhyrningsins.supervisor.Supervisor;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;

/** The imperative shell: binds, serves the control socket, runs the loop, cleans up. */
public final class Daemon {

    /** Signals the supervisor takes; USR2 only when the JVM leaves it free (_JAVA_SR_SIGNUM). */
    static final List<String> SIGNALS = List.of("TERM", "INT", "HUP", "USR2", "TTIN", "TTOU");

    /** How long workers get to exit after the loop failed, when -t is off. */
    static final Duration FAILURE_STOP_WAIT = Duration.ofSeconds(30);

    private Daemon() {}

    /** Runs a supervisor to the end; returns the exit status (0 stopped cleanly, 1 failure). */
    public static int run(Options o, String version, PrintStream err) {
        return run(o, version, err, UnaryOperator.identity());
    }

    /**
     * As {@link #run(Options, String, PrintStream)}, with the core's {@link Os} passed
     * through {@code os} first: tests wrap it to inject faults into a real supervisor.
     */
    public static int run(Options o, String version, PrintStream err, UnaryOperator<Os> os) {
        long pid = Processes.getpid();
        Log log = new Log(err, pid, o.verbosity());
        try {
            return supervise(o, version, pid, log, os);
        } catch (StartupException e) {
            log.error(e.getMessage());
            return 1;
        }
    }

    private static int supervise(Options o, String version, long pid, Log log, UnaryOperator<Os> wrap) {
        Path socketPath = o.socketPath().orElse(ControlPaths.defaultSocketPath(o.commandName())).toAbsolutePath();
        Path lockfile = o.lockfile().orElse(ControlPaths.defaultLockfile(socketPath, o.commandName()));
        Program.resolve(o.program().getFirst(), System.getenv("PATH"));
        Pidfile pidfile = o.pidfile().map(p -> Pidfile.claim(p, pid)).orElse(null);

        Map<String, String> ourEnv = System.getenv();
        List<SocketActivation.Passed> passed = SocketActivation.passed(ourEnv, pid, log);
        try (Notifier notifier = Notifier.fromEnvironment(ourEnv, pid, log);
             Listeners listeners = Listeners.bind(passed, o.binds(), o.family(), o.backlog(), log);
             Children children = new Children();
             Loop loop = new Loop(children, new Checks(), log);
             ControlServer control = openControl(socketPath, lockfile, loop, log)) {
            Map<String, String> env = RealOs.workerEnvironment(ourEnv, o.dropEnv(), listeners.bound().size(), pid, socketPath);
            List<String> names = listeners.bound().stream()
                    .map(b -> b.name() == null ? SocketActivation.UNNAMED : b.name()).toList();
            List<String> checkAddresses = listeners.bound().stream().map(Listeners.Bound::connectAddress).toList();
            RealOs.Setup setup = new RealOs.Setup(o.program(), env, listeners.fds(), names, o.commandSocketAsFd(),
                    o.listenFds(), o.ackMode() instanceof Config.AckMode.Notify, pid, checkAddresses);
            RealOs realOs = new RealOs(children, loop.checks(), loop::channel, loop::post, log, setup);
            if (notifier != null) {
                realOs.listen(notifier);
                if (notifier.watchdogIntervalNanos() > 0) loop.every(notifier.watchdogIntervalNanos(), notifier::watchdog);
            }
            Os os = wrap.apply(realOs);
            Supervisor sup = new Supervisor(o.toConfig(Runtime.getRuntime().availableProcessors()), os, version,
                    staticInfo(o, pid, socketPath, listeners, pidfile));
            SignalHandlers.install(SIGNALS, name -> loop.post(new Event.SignalReceived(name)), log);
            log.info("Supervising " + String.join(" ", o.program()) + " (" + o.number() + " worker"
                    + (o.number() == 1 ? "" : "s") + "), control socket " + socketPath);
            try {
                loop.run(sup, () -> {
                    if (pidfile != null) pidfile.write();
                });
            } catch (RuntimeException | Error e) {
                failStop(o, log, loop, children, e);
                return 1;
            } finally {
                if (pidfile != null) pidfile.remove();
            }
            log.info("All workers are gone; exiting");
            return 0;
        }
    }

    /**
     * The loop failed (a bug, OutOfMemoryError, StackOverflowError, a linkage error, the
     * pidfile could not be written after the first workers started): leave
     * nothing behind. Workers get the graceful signal and -t seconds (30 if -t is off) to
     * exit, then SIGKILL; the caller's try-with-resources then removes the control socket,
     * and the pidfile goes too.
     */
    private static void failStop(Options o, Log log, Loop loop, Children children, Throwable failure) {
        long wait = (o.signalTimeout().isZero() ? FAILURE_STOP_WAIT : o.signalTimeout()).toNanos();
        try {
            String what = failure instanceof StartupException ? failure.getMessage() : "supervisor loop failed: " + failure;
            log.error(what + "; sending " + o.gracefulSignal() + " to " + children.size() + " workers and exiting");
            int killed = loop.stopAfterFailure(Processes.signalNumber(o.gracefulSignal()), wait);
            if (killed > 0) log.error("killed " + killed + " workers that were still running");
        } catch (RuntimeException | Error e) {
            failure.addSuppressed(e);
        }
    }

    private static ControlServer openControl(Path socketPath, Path lockfile, Loop loop, Log log) {
        try {
            return ControlServer.open(socketPath, lockfile, inbound -> loop.request(inbound.request(), inbound.replyTo()),
                    new ControlServer.Log() {
                        @Override
                        public void info(String message) {
                            log.info(message);
                        }

                        @Override
                        public void warn(String message) {
                            log.warn(message);
                        }

                        @Override
                        public void debug(String message) {
                            log.debug(message);
                        }
                    });
        } catch (ControlException e) {
            throw new StartupException(e.getMessage());
        }
    }

    private static Map<String, Object> staticInfo(Options o, long pid, Path socketPath, Listeners listeners,
                                                  Pidfile pidfile) {
        Map<String, Object> info = new LinkedHashMap<>();
        info.put("pid", pid);
        info.put("command_name", o.commandName().orElse(null));
        info.put("program", o.program());
        info.put("socket_path", socketPath.toString());
        info.put("pidfile", pidfile == null ? null : pidfile.path().toString());
        List<Listeners.Bound> bound = listeners.bound();
        List<Map<String, Object>> sockets = new java.util.ArrayList<>();
        for (int i = 0; i < bound.size(); i++) sockets.add(bound.get(i).describe(i));
        info.put("sockets", sockets);
        return info;
    }
}
