package dev.einhyrningsins.daemon;

import dev.einhyrningsins.cli.Options;
import dev.einhyrningsins.control.ControlException;
import dev.einhyrningsins.control.ControlPaths;
import dev.einhyrningsins.control.ControlServer;
import dev.einhyrningsins.control.Request;
import dev.einhyrningsins.posix.Posix;
import dev.einhyrningsins.supervisor.Event;
import dev.einhyrningsins.supervisor.Supervisor;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The imperative shell: binds, serves the control socket, runs the loop, cleans up. */
public final class Daemon {

    /** Signals the supervisor takes; USR2 only when the JVM leaves it free (_JAVA_SR_SIGNUM). */
    static final List<String> SIGNALS = List.of("TERM", "INT", "HUP", "USR2", "TTIN", "TTOU");

    private Daemon() {}

    /** Runs a supervisor to the end; returns the exit status (0 stopped cleanly, 1 failure). */
    public static int run(Options o, String version, PrintStream err) {
        long pid = Posix.getpid();
        Log log = new Log(err, pid, o.verbosity());
        try {
            return supervise(o, version, pid, log);
        } catch (StartupException e) {
            log.error(e.getMessage());
            return 1;
        }
    }

    private static int supervise(Options o, String version, long pid, Log log) {
        Path socketPath = o.socketPath().orElse(ControlPaths.defaultSocketPath(o.commandName())).toAbsolutePath();
        Path lockfile = o.lockfile().orElse(ControlPaths.defaultLockfile(socketPath, o.commandName()));
        Program.resolve(o.program().getFirst(), System.getenv("PATH"));
        Pidfile pidfile = o.pidfile().map(p -> Pidfile.claim(p, pid)).orElse(null);

        try (Listeners listeners = Listeners.bind(o.binds(), o.family(), o.backlog(), log);
             Loop loop = new Loop(log);
             ControlServer control = openControl(socketPath, lockfile, loop, log)) {
            Map<String, String> env = RealOs.workerEnvironment(System.getenv(), o.dropEnv(),
                    listeners.bound().size(), pid, socketPath);
            RealOs os = new RealOs(loop, log, o.program(), env, listeners.fds(),
                    o.commandSocketAsFd() ? socketPath : null,
                    (client, message, last, ok) -> ((ControlServer.ReplyTo) client).send(message, last, ok));
            Supervisor sup = new Supervisor(o.toConfig(Runtime.getRuntime().availableProcessors()), os, version,
                    staticInfo(o, pid, socketPath, listeners, pidfile));
            Signals.install(SIGNALS, name -> loop.post(new Event.SignalReceived(name)), log);
            log.info("Supervising " + String.join(" ", o.program()) + " (" + o.number() + " worker"
                    + (o.number() == 1 ? "" : "s") + "), control socket " + socketPath);
            try {
                loop.run(sup, () -> {
                    if (pidfile != null) pidfile.write();
                });
            } catch (RuntimeException e) {
                log.error("supervisor loop failed: " + e + "; asking " + loop.children().size()
                        + " workers to stop");
                for (int child : loop.children()) os.signal(child, o.gracefulSignal());
                return 1;
            } finally {
                if (pidfile != null) pidfile.remove();
            }
            log.info("All workers are gone; exiting");
            return 0;
        }
    }

    private static ControlServer openControl(Path socketPath, Path lockfile, Loop loop, Log log) {
        try {
            return ControlServer.open(socketPath, lockfile, inbound -> {
                Request r = inbound.request();
                loop.post(new Event.Command(r.command(), r.args(), r.pid(), r.user(), r.raw().get("request_id"),
                        r.hasId(), inbound.replyTo()));
            }, new ControlServer.Log() {
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
