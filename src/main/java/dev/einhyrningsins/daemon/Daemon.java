package dev.einhyrningsins.daemon;

import dev.einhyrningsins.checks.Checks;
import dev.einhyrningsins.checks.ProcessTree;
import dev.einhyrningsins.cli.BindSpec;
import dev.einhyrningsins.cli.Options;
import dev.einhyrningsins.control.ControlException;
import dev.einhyrningsins.control.ControlPaths;
import dev.einhyrningsins.control.ControlServer;
import dev.einhyrningsins.control.ReplyTo;
import dev.einhyrningsins.json.Json;
import dev.einhyrningsins.listen.InheritedSockets;
import dev.einhyrningsins.listen.Listeners;
import dev.einhyrningsins.observe.EventStream;
import dev.einhyrningsins.observe.Metrics;
import dev.einhyrningsins.posix.Orphans;
import dev.einhyrningsins.posix.Processes;
import dev.einhyrningsins.reload.Effects;
import dev.einhyrningsins.reload.Handover;
import dev.einhyrningsins.reload.Launch;
import dev.einhyrningsins.reload.LeanStart;
import dev.einhyrningsins.reload.Reload;
import dev.einhyrningsins.reload.Takeover;
import dev.einhyrningsins.shell.Children;
import dev.einhyrningsins.shell.EnvFile;
import dev.einhyrningsins.shell.Log;
import dev.einhyrningsins.shell.Loop;
import dev.einhyrningsins.shell.Pidfile;
import dev.einhyrningsins.shell.Program;
import dev.einhyrningsins.shell.RunAs;
import dev.einhyrningsins.shell.Settle;
import dev.einhyrningsins.shell.SignalIntake;
import dev.einhyrningsins.shell.StartupException;
import dev.einhyrningsins.supervisor.Config;
import dev.einhyrningsins.supervisor.Event;
import dev.einhyrningsins.supervisor.Os;
import dev.einhyrningsins.supervisor.Supervisor;
import dev.einhyrningsins.systemd.FdStore;
import dev.einhyrningsins.systemd.Notifier;
import dev.einhyrningsins.systemd.NotifyDirectory;
import dev.einhyrningsins.systemd.SocketActivation;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;

/**
 * The imperative shell: binds (or takes over from a previous process of itself), serves the
 * control socket, runs the loop, cleans up.
 */
public final class Daemon {

    /** How long workers get to exit after the loop failed, when -t is off. */
    static final Duration FAILURE_STOP_WAIT = Duration.ofSeconds(30);

    private Daemon() {}

    /** Runs a supervisor to the end; returns the exit status (0 stopped cleanly, 1 failure). */
    public static int run(Options o, String version, PrintStream err, List<String> args) {
        return run(o, version, err, args, UnaryOperator.identity());
    }

    /**
     * As {@link #run(Options, String, PrintStream, List)}, with the core's {@link Os} passed
     * through {@code os} first: tests wrap it to inject faults into a real supervisor.
     *
     * @param args the supervisor's own arguments, to start itself again on {@code reload}
     */
    public static int run(Options o, String version, PrintStream err, List<String> args, UnaryOperator<Os> os) {
        long pid = Processes.getpid();
        Log log = new Log(err, pid, o.verbosity());
        try {
            String handover = System.getenv(Handover.ENV);
            Launch launch = Launch.current(System.getenv(), args);
            return handover == null ? supervise(o, version, pid, log, os, launch)
                    : resume(o, version, pid, log, os, launch, handover);
        } catch (StartupException e) {
            log.error(e.getMessage());
            return 1;
        }
    }

    /**
     * {@code --upgrade-check}: what this installation must manage before a running supervisor
     * re-executes into it ({@code reload}) — run Java 25 with native access, find the
     * program, read the hand-over format the running one writes — printed as one line.
     *
     * @return 0 if it can take over, 1 if not
     */
    public static int check(Options o, String version, PrintStream out, PrintStream err) {
        try {
            Processes.getpid();
            Program.resolve(o.program().getFirst(), System.getenv("PATH"));
            String format = System.getenv(Reload.FORMAT_ENV);
            Takeover.check(format == null ? Handover.FORMAT : parseFormat(format));
        } catch (StartupException e) {
            err.println("einhyrningsins: cannot take over: " + e.getMessage());
            return 1;
        }
        out.println("einhyrningsins " + version + " can take over (hand-over formats " + Handover.OLDEST + " to "
                + Handover.FORMAT + ")");
        return 0;
    }

    private static int parseFormat(String text) {
        try {
            return Integer.parseInt(text.trim());
        } catch (NumberFormatException e) {
            throw new StartupException(Reload.FORMAT_ENV + "=" + text + " is not a format number");
        }
    }

    /** What the start and the take-over share once the sockets are there. */
    private record Shell(Options o, String version, long pid, Log log, Path socketPath, Listeners listeners,
                         Children children, Loop loop, ControlServer control, Notifier notifier, Pidfile pidfile,
                         Launch launch, long startedWall, int reloads, Endpoint endpoint, EventStream events, RunAs runAs,
                         NotifyDirectory notifyDirectory, EnvFile envFile) {}

    private static int supervise(Options o, String version, long pid, Log log, UnaryOperator<Os> wrap, Launch launch) {
        Path socketPath = o.socketPath().orElse(ControlPaths.defaultSocketPath(o.commandName())).toAbsolutePath();
        Path lockfile = o.lockfile().orElse(ControlPaths.defaultLockfile(socketPath, o.commandName()));
        Program.resolve(o.program().getFirst(), System.getenv("PATH"));
        RunAs runAs = runAs(o);
        execPrefix(o, runAs);
        EnvFile envFile = o.envFile().map(EnvFile::open).orElse(EnvFile.none());
        Pidfile pidfile = o.pidfile().map(p -> Pidfile.claim(p, pid)).orElse(null);
        Map<String, String> env = System.getenv();
        List<SocketActivation.Passed> passed = SocketActivation.passed(env, pid, log);
        try (Notifier notifier = Notifier.fromEnvironment(env, pid, log);
             Listeners listeners = bind(passed, FdStore.fromEnvironment(env, notifier), o, log);
             Children children = new Children();
             Loop loop = new Loop(children, log);
             ControlServer control = openControl(socketPath, lockfile, loop, log, runAs);
             Endpoint endpoint = o.metrics().isPresent() ? Endpoint.open(o.metrics().get(), loop, log) : null;
             NotifyDirectory notifyDirectory = new NotifyDirectory(socketPath.getParent(), workerUid(runAs))) {
            loop.poll(control::pollables);
            loop.wakeBy(control::wakeAt);
            Shell shell = new Shell(o, version, pid, log, socketPath, listeners, children, loop, control, notifier, pidfile,
                    launch, System.currentTimeMillis(), 0, endpoint, new EventStream(System::currentTimeMillis), runAs,
                    notifyDirectory, envFile);
            SignalIntake signals = signals(shell, false);
            RealOs os = realOs(shell, -1, signals);
            Supervisor sup = new Supervisor(o.toConfig(Runtime.getRuntime().availableProcessors()), wrap.apply(os),
                    version, staticInfo(shell));
            log.info("Supervising " + String.join(" ", o.program()) + " (" + o.number() + " worker"
                    + (o.number() == 1 ? "" : "s") + "), control socket " + socketPath);
            if (runAs != null) log.info("Workers and checks run as " + runAs.describe());
            if (o.gracefulSignal().equals("USR2") && Path.of(o.program().getFirst()).getFileName().toString().equals("java")) {
                log.warn("The workers are JVMs and the graceful signal is USR2, which HotSpot keeps for itself: they will "
                        + "not drain on it; use --graceful-signal TERM");
            }
            return serve(shell, os, sup, false, List.of(), () -> { });
        }
    }

    /**
     * The sockets: those systemd passed, then every {@code -b}'s; with a service manager's fd
     * store ({@code store}), a {@code -b}'s socket that the store kept is adopted, and what is
     * bound here is kept there.
     */
    private static Listeners bind(List<SocketActivation.Passed> passed, FdStore store, Options o, Log log) {
        // sockets the store kept come back by their names even when FDSTORE is unset now: adopted, or closed
        List<List<SocketActivation.Passed>> split = FdStore.split(passed);
        return Listeners.bind(split.get(0), split.get(1), new Listeners.Store() {
            @Override
            public boolean keeps() {
                return store != null;
            }

            @Override
            public String name(int index, BindSpec spec) {
                return FdStore.name(index, spec);
            }

            @Override
            public void keep(int fd, String name) {
                if (store != null) store.keep(fd, name);
            }

            @Override
            public void release(String name) {
                if (store != null) store.release(name);
            }
        }, o.binds(), o.family(), o.backlog(), log);
    }

    /**
     * Takes over from the previous process of this supervisor (same pid, {@code reload}):
     * its workers first, then its listening sockets, control socket (fd 0), the workers'
     * channels, the clients it still owed replies, the core's state and the signals it could
     * not handle any more. If the hand-over cannot be read, every child process this process
     * has is stopped; if anything after the workers' adoption fails, the adopted workers are:
     * either way the stop path, never orphans (exit status 1).
     */
    private static int resume(Options o, String version, long pid, Log log, UnaryOperator<Os> wrap, Launch launch,
                              String handover) {
        Effects fx = Effects.real();
        Takeover t;
        try (Children children = new Children(); Loop loop = new Loop(children, log)) {
            try {
                t = Takeover.read(handover, fx, log);
                t.adoptWorkers(children);
            } catch (RuntimeException | Error e) {
                // the hand-over cannot be read: what this process has of children are the previous
                // process's workers, unsupervised; stop them rather than leave them behind
                for (int child : ProcessTree.childrenOf((int) pid)) {
                    try {
                        children.inherit(fx.adopt().apply(child));
                    } catch (RuntimeException killed) {
                        // killed and reaped already
                    }
                }
                failStop(o, log, loop, children, e);
                return 1;
            }
            try {
                return resume(o, version, pid, log, wrap, launch, t, children, loop);
            } catch (RuntimeException | Error e) {
                failStop(o, log, loop, children, e);
                return 1;
            }
        }
    }

    private static int resume(Options o, String version, long pid, Log log, UnaryOperator<Os> wrap, Launch launch,
                              Takeover t, Children children, Loop loop) {
        Path socketPath = o.socketPath().orElse(ControlPaths.defaultSocketPath(o.commandName())).toAbsolutePath();
        Handover.Process p = t.process();
        RunAs runAs = runAs(o);
        Pidfile pidfile = o.pidfile().map(f -> Pidfile.taken(f, pid, p.pidfileWritten())).orElse(null);
        try (Notifier notifier = Notifier.fromEnvironment(System.getenv(), pid, log);
             Listeners listeners = Listeners.adopt(t.listeners(), log);
             ControlServer control = adoptControl(socketPath, loop, log, runAs);
             Endpoint endpoint = o.metrics().isPresent() ? Endpoint.open(o.metrics().get(), loop, log) : null;
             NotifyDirectory notifyDirectory = t.notifyDirectory(socketPath.getParent(), workerUid(runAs))) {
            loop.poll(control::pollables);
            loop.wakeBy(control::wakeAt);
            t.adoptChannels(children, control, workerUid(runAs), loop::post);
            t.adoptClients(control);
            Shell shell = new Shell(o, version, pid, log, socketPath, listeners, children, loop, control, notifier, pidfile,
                    launch, p.startedWall(), p.reloads(), endpoint, new EventStream(System::currentTimeMillis), runAs,
                    notifyDirectory, adoptEnvFile(o, t, log));
            SignalIntake signals = signals(shell, true);
            RealOs os = realOs(shell, p.stdinFd(), signals);
            Supervisor sup = Supervisor.restore(t.core(), wrap.apply(os), version, staticInfo(shell), t::client);
            int workers = t.core().workers().size() - t.lost().size();
            String done = "Reloaded: einhyrningsins " + version + " (was " + t.handover().from() + ") took over as pid "
                    + pid + " with " + workers + " worker" + (workers == 1 ? "" : "s");
            log.info(done);
            ReplyTo requester = t.client(p.reloadedBy());
            List<Event> first = new java.util.ArrayList<>(t.lostExits());
            first.addAll(t.signals(System.getenv(Handover.LATE_SIGNALS_ENV)));
            // told once the loop runs: a client that stops us right after hears it
            return serve(shell, os, sup, true, first, () -> {
                if (p.then() != null) {
                    loop.post(new Event.UpgradeRequested(p.then().equals("upgrade_fleet"), requester,
                            requester != null, done + "; now upgrading the workers"));
                } else if (requester != null) {
                    requester.send(done, true, true);
                }
            });
        }
    }

    /** The uid the workers run as: --user's, or the supervisor's own. */
    private static int workerUid(RunAs runAs) {
        return runAs == null ? Processes.geteuid() : runAs.uid();
    }

    /** -k, --user: the exec chain workers start through (checked at start); empty without either. */
    private static List<String> execPrefix(Options o, RunAs runAs) {
        return RealOs.execPrefix(runAs, o.killChildrenOnExit() ? o.gracefulSignal() : null, System.getenv("PATH"));
    }

    /** --user, --group: who workers and checks run as; null for the supervisor's own user. */
    private static RunAs runAs(Options o) {
        return o.user().map(u -> RunAs.resolve(u, o.group().orElse(null), Processes.geteuid(), RunAs.Lookup.SYSTEM))
                .orElse(null);
    }

    /**
     * --env-file after a reload: the values the previous process read just before its exec
     * (the file is not read again here: it was read for this reload, and a file broken since
     * must not cost the workers anything). A hand-over without them (an older version's) reads the file.
     */
    private static EnvFile adoptEnvFile(Options o, Takeover t, Log log) {
        if (o.envFile().isEmpty()) return EnvFile.none();
        Map<String, String> values = t.environment();
        if (values != null) return EnvFile.adopt(o.envFile().get(), values);
        try {
            return EnvFile.adopt(o.envFile().get(), EnvFile.read(o.envFile().get()));
        } catch (EnvFile.Malformed e) {
            log.error(e.getMessage() + "; workers get none of its variables until an upgrade reads it again");
            return EnvFile.adopt(o.envFile().get(), Map.of());
        }
    }

    /** The supervisor's own signals: from the kernel (a signalfd the loop polls) or through the JVM's handlers. */
    private static SignalIntake signals(Shell s, boolean resumed) {
        SignalIntake signals = SignalIntake.install(SignalIntake.SIGNALS,
                name -> s.loop().post(new Event.SignalReceived(name)), s.log(), resumed);
        s.loop().poll(signals::pollables);
        return signals;
    }

    /** The core's {@link Os}, with reload wired in. */
    private static RealOs realOs(Shell s, int stdinFd, SignalIntake signals) {
        Options o = s.o();
        Map<String, String> ours = System.getenv();
        int fdCount = s.listeners().bound().size();
        java.util.function.Function<Map<String, String>, Map<String, String>> environment = file ->
                RealOs.workerEnvironment(RealOs.withFile(ours, file), o.dropEnv(), fdCount, s.pid(), s.socketPath());
        Map<String, String> env = environment.apply(s.envFile().values());
        List<String> names = s.listeners().bound().stream()
                .map(b -> b.name() == null ? SocketActivation.UNNAMED : b.name()).toList();
        List<String> checkAddresses = s.listeners().bound().stream().map(Listeners.Bound::connectAddress).toList();
        RealOs.Setup setup = new RealOs.Setup(o.program(), env, s.listeners().fds(), names, o.commandSocketAsFd(),
                o.listenFds(), o.ackMode() instanceof Config.AckMode.Notify ? s.notifyDirectory() : null, s.pid(),
                execPrefix(o, s.runAs()), checkAddresses, s.listeners().stdinFd(), workerUid(s.runAs()));
        Checks checks = new Checks(s.children(), RealOs.execPrefix(s.runAs(), null, System.getenv("PATH")));
        RealOs os = new RealOs(s.children(), checks, s.control()::workerChannel, s.loop()::post, s.log(), setup,
                s.envFile(), environment);
        os.inherited(InheritedSockets.of(s.listeners()));
        Endpoint endpoint = s.endpoint();
        Reload reload = new Reload(new Reload.Shell(s.launch(), s.listeners(), s.children(), s.control(), s.notifier(),
                s.pidfile(), signals, s.startedWall(), s.reloads(), o.killChildrenOnExit(), s.envFile(),
                () -> {
                    if (endpoint != null) endpoint.stop();
                },
                () -> {
                    if (endpoint != null) endpoint.restart();
                }), loopPort(s.loop()), s.log(), s.version(), stdinFd, Effects.real(), checker(s));
        os.reloads(reload, s.launch());
        Settle settle = Settle.memory(s.log(), LeanStart.started());
        os.listen(settle);
        s.control().afterBursts(settle::burst);
        // the monotonic clock goes on across a reload's exec; the start is the first process's
        long startNanos = System.nanoTime() - (System.currentTimeMillis() - s.startedWall()) * 1_000_000L;
        Metrics metrics = new Metrics(s.version(), System::nanoTime, startNanos, s.startedWall(), s.control()::counts,
                s.events()::size);
        metrics.wakeUps(s.loop()::wakeUps);
        if (endpoint != null) metrics.endpoint(endpoint.counts());
        os.observe(metrics, s.events());
        if (s.notifier() != null) {
            os.listen(s.notifier());
            if (s.notifier().watchdogIntervalNanos() > 0) s.loop().every(s.notifier().watchdogIntervalNanos(), s.notifier()::watchdog);
        }
        return os;
    }

    /**
     * The reload's check of the installation it will exec: a helper process running it with
     * {@code --upgrade-check} when it changed on disk since this process started; otherwise it
     * is the running installation, and what the check asks of it (the program found, a full
     * hand-over read back) is done here, without a second JVM start.
     */
    private static Reload.Checker checker(Shell s) {
        Reload.Checker helper = Reload.helperProcess(s.children());
        return (argv, env, done) -> {
            if (s.launch().installationChanged()) return helper.start(argv, env, done);
            try {
                Program.resolve(s.o().program().getFirst(), System.getenv("PATH"));
                Takeover.check(Handover.FORMAT);
                done.accept(new Reload.Checked(true, null, "einhyrningsins " + s.version()
                        + " can take over: it is the running installation (checked in this process)"));
            } catch (StartupException e) {
                done.accept(new Reload.Checked(false, "failed", e.getMessage()));
            }
            return () -> { };
        };
    }

    private static Reload.LoopPort loopPort(Loop loop) {
        return new Reload.LoopPort() {
            @Override
            public void at(long nanoTime, Runnable action) {
                loop.at(nanoTime, action);
            }

            @Override
            public void handlePending(Supervisor sup) {
                loop.handlePending(sup);
            }

            @Override
            public List<String> takeSignals() {
                return loop.takeSignals();
            }

            @Override
            public void post(Event event) {
                loop.post(event);
            }
        };
    }

    /** Runs the loop to the end; the stop path if it fails. {@code first}: events the core hears before anything else. */
    private static int serve(Shell s, RealOs os, Supervisor sup, boolean resumed, List<Event> first, Runnable started) {
        os.reload().supervisor(sup);
        for (Event e : first) s.loop().post(e);
        Pidfile pidfile = s.pidfile();
        try {
            s.loop().run(sup, resumed, () -> {
                // once the first workers are started: prctl is a variadic call, whose link
                // the first worker need not wait for; the first look finds any orphan that
                // exited before the handler was there
                if (Orphans.adopted()) watchOrphans(s, resumed);
                if (pidfile != null && !pidfile.written()) pidfile.write();
                started.run();
            });
        } catch (RuntimeException | Error e) {
            failStop(s.o(), s.log(), s.loop(), s.children(), e);
            s.events().end(1);
            return 1;
        } finally {
            if (pidfile != null) pidfile.remove();
        }
        s.log().info("All workers are gone; exiting");
        s.events().end(0);
        return 0;
    }

    /** PID 1 or a subreaper: the workers' orphans become ours; SIGCHLD says one exited. */
    private static void watchOrphans(Shell s, boolean resumed) {
        SignalIntake.install(List.of("CHLD"), name -> s.loop().childSignal(), s.log(), resumed);
        s.loop().childSignal();
        if (!resumed) {
            s.log().info((s.pid() == 1 ? "Running as PID 1" : "Running as a child subreaper")
                    + ": orphaned processes are reaped too");
        }
    }

    /**
     * The loop failed (a bug, OutOfMemoryError, StackOverflowError, a linkage error, the
     * pidfile could not be written after the first workers started), or a take-over could not
     * be finished: leave nothing behind. Workers get the graceful signal and -t seconds (30 if
     * -t is off) to exit, then SIGKILL; the caller's try-with-resources then removes the
     * control socket, and the pidfile goes too.
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

    /** The control server; with --user, its socket file lets that user's group connect and the server that user ack. */
    private static ControlServer openControl(Path socketPath, Path lockfile, Loop loop, Log log, RunAs runAs) {
        try {
            return ControlServer.open(socketPath, lockfile, inbound -> loop.request(inbound.request(), inbound.replyTo()),
                    serverLog(log), workers(runAs));
        } catch (ControlException e) {
            throw new StartupException(e.getMessage());
        }
    }

    private static ControlServer.Workers workers(RunAs runAs) {
        return runAs == null || runAs.uid() == Processes.geteuid() ? null : new ControlServer.Workers(runAs.uid(), runAs.gid());
    }

    private static ControlServer adoptControl(Path socketPath, Loop loop, Log log, RunAs runAs) {
        try {
            return ControlServer.adopt(socketPath, inbound -> loop.request(inbound.request(), inbound.replyTo()),
                    serverLog(log), workers(runAs));
        } catch (ControlException e) {
            throw new StartupException(e.getMessage());
        }
    }

    private static ControlServer.Log serverLog(Log log) {
        return new ControlServer.Log() {
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
        };
    }

    private static Map<String, Object> staticInfo(Shell s) {
        Map<String, Object> info = new LinkedHashMap<>();
        info.put("pid", s.pid());
        info.put("command_name", s.o().commandName().orElse(null));
        info.put("program", s.o().program());
        info.put("socket_path", s.socketPath().toString());
        info.put("pidfile", s.pidfile() == null ? null : s.pidfile().path().toString());
        info.put("run_as", s.runAs() == null ? null : s.runAs().state());
        List<Listeners.Bound> bound = s.listeners().bound();
        List<Map<String, Object>> sockets = new java.util.ArrayList<>();
        for (int i = 0; i < bound.size(); i++) sockets.add(bound.get(i).describe(i));
        info.put("sockets", sockets);
        info.put("metrics", s.endpoint() == null ? null : s.endpoint().url());
        info.put("env_file", s.envFile().path() == null ? null : s.envFile().path().toString());
        info.put("started_at", Json.timestamp(s.startedWall()));
        info.put("reloads", s.reloads());
        return info;
    }
}
