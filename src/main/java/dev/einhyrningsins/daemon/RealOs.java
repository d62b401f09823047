package dev.einhyrningsins.daemon;

import dev.einhyrningsins.checks.Checks;
import dev.einhyrningsins.checks.ProcessTree;
import dev.einhyrningsins.control.ReplyTo;
import dev.einhyrningsins.listen.InheritedSockets;
import dev.einhyrningsins.observe.EventStream;
import dev.einhyrningsins.observe.Metrics;
import dev.einhyrningsins.posix.Child;
import dev.einhyrningsins.posix.Fds;
import dev.einhyrningsins.posix.Pollable;
import dev.einhyrningsins.posix.PosixException;
import dev.einhyrningsins.posix.Processes;
import dev.einhyrningsins.posix.Sockets;
import dev.einhyrningsins.posix.Spawn;
import dev.einhyrningsins.reload.Launch;
import dev.einhyrningsins.reload.Reload;
import dev.einhyrningsins.shell.Children;
import dev.einhyrningsins.shell.EnvFile;
import dev.einhyrningsins.shell.Log;
import dev.einhyrningsins.shell.Program;
import dev.einhyrningsins.shell.RunAs;
import dev.einhyrningsins.shell.StartupException;
import dev.einhyrningsins.supervisor.Event;
import dev.einhyrningsins.supervisor.Gauges;
import dev.einhyrningsins.supervisor.Happening;
import dev.einhyrningsins.supervisor.Os;
import dev.einhyrningsins.systemd.NotifyChannel;
import dev.einhyrningsins.systemd.NotifyDirectory;
import dev.einhyrningsins.systemd.SocketActivation;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.Function;

/** The supervisor's {@link Os} on the real machine: posix_spawn, pidfds, the control connections. */
public final class RealOs implements Os {

    /**
     * How workers are started.
     *
     * @param argv              PROGRAM ARGS as given
     * @param env               the environment every worker shares ({@link #workerEnvironment}), from
     *                          the variables of --env-file (the last good read's) over ours
     * @param listenFds         the listening sockets, in EINHORN_FD order
     * @param fdNames           their names, for LISTEN_FDNAMES
     * @param commandSocketAsFd -g: each worker gets a control channel of its own as EINHORN_SOCK_FD
     * @param listenFdsOut      --listen-fds: LISTEN_FDS, LISTEN_FDNAMES, LISTEN_PID = the worker's pid
     * @param notifySockets     -m notify: each worker gets a NOTIFY_SOCKET of its own, in this directory (else null)
     * @param execPrefix        a program that sets something up and then execs the worker in
     *                          its place (-k, --user: {@link #execPrefix}); empty for none
     * @param checkAddresses    where a check reaches each socket (EINHORN_FD_n of a check)
     * @param stdinListener     the listening socket that is also each worker's fd 0 (-b ...,stdin),
     *                          or -1: then workers get the supervisor's standard input
     * @param workerUid         the uid workers run as (--user, else ours): whose notify messages count
     */
    record Setup(List<String> argv, Map<String, String> env, int[] listenFds, List<String> fdNames,
                 boolean commandSocketAsFd, boolean listenFdsOut, NotifyDirectory notifySockets, long supervisorPid,
                 List<String> execPrefix, List<String> checkAddresses,
                 int stdinListener, int workerUid) {}

    /** Makes a worker's {@code -g} control channel over our end {@code fd} of its socket pair. */
    @FunctionalInterface
    public interface Channels {
        Pollable open(int fd, int pid);
    }

    private Reload reload;
    private Launch launch;

    Reload reload() {
        return reload;
    }

    /**
     * The exec chain that starts a worker ({@code -k}, {@code --user}) or a check
     * ({@code --user}; {@code parentDeathSignal} null) as asked: posix_spawn cannot set a
     * parent-death signal or change ids, and no Java may run between fork and exec, so
     * util-linux's setpriv does it and then execs the program in place: same pid,
     * environment, fds, signal state and process group; the program's argv is unchanged
     * (setpriv looks its first word up in the same PATH the supervisor checked it against).
     * The kernel keeps a parent-death signal set after the ids changed, and setpriv sets it
     * last. Empty when neither is asked for.
     *
     * @param runAs             who it runs as, or null for the supervisor's own user
     * @param parentDeathSignal the graceful signal's name (setpriv takes names), or null
     * @throws StartupException if there is no setpriv in {@code pathVariable}
     */
    static List<String> execPrefix(RunAs runAs, String parentDeathSignal, String pathVariable) {
        if (runAs == null && parentDeathSignal == null) return List.of();
        Path setpriv;
        try {
            setpriv = Program.resolve("setpriv", pathVariable);
        } catch (StartupException e) {
            throw new StartupException((parentDeathSignal != null ? "-k" : "--user") + " needs setpriv (util-linux 2.33 or "
                    + "later): " + e.getMessage());
        }
        List<String> chain = new ArrayList<>(List.of(setpriv.toString()));
        if (runAs != null) chain.addAll(runAs.setprivOptions());
        if (parentDeathSignal != null) chain.addAll(List.of("--pdeathsig", parentDeathSignal));
        chain.add("--");
        return List.copyOf(chain);
    }

    /** Where {@code reload} goes, and the launch whose installation it watches. */
    void reloads(Reload r, Launch l) {
        reload = r;
        launch = l;
    }

    @Override
    public void reload(Object client, boolean streaming, String then) {
        if (reload == null) {
            Os.super.reload(client, streaming, then);
        } else {
            reload.request(client, streaming, then);
        }
    }

    @Override
    public boolean installationChanged() {
        return launch != null && launch.installationChanged();
    }

    private final Children children;
    private final Checks checks;
    private final ProcessTree processTree = new ProcessTree();
    private final EnvFile envFile;
    private final Function<Map<String, String>, Map<String, String>> environment;
    private Map<String, String> env;
    private List<String> checkEnv;
    private final Channels channels;
    private final Consumer<Event> events;
    private final Log log;
    private final Setup setup;
    private final List<Consumer<Happening>> listeners = new ArrayList<>();
    private final Thread loopThread = Thread.currentThread();
    private Metrics metrics;
    private EventStream stream;
    private InheritedSockets inherited;

    /**
     * @param events      where a worker's own notify messages and the checks' ends go (the loop's queue)
     * @param envFile     --env-file, read again at every upgrade and reload
     * @param environment the workers' environment for the file's variables ({@link #workerEnvironment})
     */
    RealOs(Children children, Checks checks, Channels channels, Consumer<Event> events, Log log, Setup setup,
           EnvFile envFile, Function<Map<String, String>, Map<String, String>> environment) {
        this.children = children;
        this.checks = checks;
        this.envFile = envFile;
        this.environment = environment;
        this.env = setup.env();
        this.checkEnv = envp(checkEnvironment(env, setup.checkAddresses()));
        this.channels = channels;
        this.events = events;
        this.log = log;
        this.setup = setup;
    }

    /**
     * The environment every worker shares: ours, minus --drop-env-var and what systemd set
     * for us (LISTEN_*, NOTIFY_SOCKET, WATCHDOG_*: never a worker's), plus einhorn's variables.
     * {@code ours} includes the variables of --env-file ({@link #withFile}).
     */
    static Map<String, String> workerEnvironment(Map<String, String> ours, List<String> drop, int fdCount,
                                                 long masterPid, Path socketPath) {
        Map<String, String> env = new LinkedHashMap<>(ours);
        drop.forEach(env::remove);
        env.keySet().removeAll(SocketActivation.OURS);
        env.keySet().removeAll(Reload.OURS);
        env.keySet().removeIf(k -> k.startsWith("EINHORN_FD_") || k.equals("EINHORN_SOCK_FD"));
        env.put("EINHORN_FD_COUNT", Integer.toString(fdCount));
        List<String> fds = new ArrayList<>();
        for (int i = 0; i < fdCount; i++) {
            env.put("EINHORN_FD_" + i, Integer.toString(3 + i));
            fds.add(Integer.toString(3 + i));
        }
        env.put("EINHORN_FDS", String.join(" ", fds));
        env.put("EINHORN_MASTER_PID", Long.toString(masterPid));
        env.put("EINHORN_SOCK_PATH", socketPath.toString());
        return env;
    }

    /**
     * A check's environment: the workers', but the sockets as addresses a check can connect
     * to (EINHORN_FD_n = 127.0.0.1:8080, [::1]:80, unix:/path; it inherits no fds), so no
     * EINHORN_FDS or EINHORN_SOCK_FD. EINHORN_WORKER_PID and EINHORN_CHILD_INDEX come per check.
     */
    public static Map<String, String> checkEnvironment(Map<String, String> workerEnv, List<String> addresses) {
        Map<String, String> env = new LinkedHashMap<>(workerEnv);
        env.keySet().removeIf(k -> k.startsWith("EINHORN_FD") || k.equals("EINHORN_SOCK_FD"));
        env.put("EINHORN_FD_COUNT", Integer.toString(addresses.size()));
        for (int i = 0; i < addresses.size(); i++) env.put("EINHORN_FD_" + i, addresses.get(i));
        return env;
    }

    /** Our environment with the variables of --env-file over it. */
    static Map<String, String> withFile(Map<String, String> ours, Map<String, String> file) {
        Map<String, String> env = new LinkedHashMap<>(ours);
        env.putAll(file);
        return env;
    }

    /** --env-file is read again (an upgrade or a reload starts): workers started from now on get its values. */
    @Override
    public EnvironmentRead readEnvironment() {
        EnvironmentRead read = envFile.reread();
        if (read.changed()) {
            env = environment.apply(envFile.values());
            checkEnv = envp(checkEnvironment(env, setup.checkAddresses()));
        }
        return read;
    }

    /** The environment workers started now get. */
    Map<String, String> environment() {
        return env;
    }

    private static List<String> envp(Map<String, String> env) {
        List<String> envp = new ArrayList<>(env.size() + 2);
        env.forEach((k, v) -> envp.add(k + "=" + v));
        return envp;
    }

    @Override
    public long nanoTime() {
        return System.nanoTime();
    }

    @Override
    public long currentTimeMillis() {
        return System.currentTimeMillis();
    }

    /**
     * Everything that can fail is done before posix_spawn (resolving the program, the -g
     * socket pair, the notify socket); once it returned a pid, the child is tracked at once,
     * so it is always signalled and reaped whatever happens next.
     *
     * <p>Only on the loop thread: a parent-death signal (-k) fires when the <em>thread</em>
     * that started the child exits, and the loop thread (the one that called
     * {@link Daemon#run}) lives exactly as long as the supervisor.
     */
    @Override
    public SpawnResult spawn(int slot, int generation) {
        if (Thread.currentThread() != loopThread) {
            throw new IllegalStateException("spawn from " + Thread.currentThread() + ", not the loop thread " + loopThread);
        }
        List<String> argv = setup.argv();
        Path program;
        try {
            program = Program.resolve(argv.getFirst(), env.get("PATH"));
        } catch (StartupException e) {
            return new SpawnResult.Failed(e.getMessage());
        }
        if (shortOfFds) {
            // an episode: try only when a spawn's descriptors fit beside the control plane's reserve
            long free = freeDescriptors();
            if (free < SPAWN_FDS) return new SpawnResult.Failed(outOfFds(), true);
        }
        Map<String, String> env = new LinkedHashMap<>(this.env);
        env.put("EINHORN_CHILD_INDEX", Integer.toString(slot));
        int[] listen = setup.listenFds();
        int[] fds = listen;
        int[] pair = null;
        NotifyChannel notify = null;
        try {
            if (setup.commandSocketAsFd()) {
                pair = Sockets.socketPair();
                Fds.setNonBlocking(pair[0]);
                fds = Arrays.copyOf(listen, listen.length + 1);
                fds[listen.length] = pair[1];
                env.put("EINHORN_SOCK_FD", Integer.toString(3 + listen.length));
            }
            if (setup.notifySockets() != null) {
                notify = NotifyChannel.open(setup.notifySockets(), setup.workerUid(), log);
                env.put("NOTIFY_SOCKET", notify.address());
            }
            String path = program.toString();
            if (setup.listenFdsOut()) {
                SocketActivation.exportTo(env, setup.fdNames());
                argv = SocketActivation.execChain(path, argv);
                path = argv.getFirst();
            }
            List<String> envp = envp(env);
            if (!setup.execPrefix().isEmpty()) {
                List<String> chain = new ArrayList<>(setup.execPrefix());
                chain.addAll(argv);
                argv = chain;
                path = argv.getFirst();
            }
            int stdin = setup.stdinListener() >= 0 ? setup.stdinListener() : reload == null ? -1 : reload.stdinFd();
            Child child = Spawn.start(path, argv, envp, fds, new Spawn.Stdio(stdin, -1, -1));
            children.add(child);
            if (pair != null) {
                children.attach(child.pid(), channels.open(pair[0], child.pid()));
                pair[0] = -1; // the channel owns it now
            }
            if (notify != null) {
                notify.attach(child.pid(), events);
                children.attach(child.pid(), notify);
                notify = null;
            }
            if (shortOfFds) {
                shortOfFds = false;
                log.info("File descriptors suffice again: workers are started as usual");
            }
            return new SpawnResult.Spawned(child.pid());
        } catch (PosixException e) {
            if (e.outOfDescriptors()) {
                if (!shortOfFds) {
                    shortOfFds = true;
                    log.warn("Out of file descriptors (" + e.getMessage() + "): " + outOfFds()
                            + "; until they suffice again, workers are started only when there is room (no line each time)");
                }
                return new SpawnResult.Failed(outOfFds(), true);
            }
            return new SpawnResult.Failed(e.getMessage());
        } finally {
            if (pair != null) {
                Fds.closeQuietly(pair[1]);
                if (pair[0] >= 0) Fds.closeQuietly(pair[0]);
            }
            if (notify != null) notify.close();
        }
    }

    /** Descriptors one spawn may take (pidfd, a -g pair, a notify socket) and a margin for the control plane. */
    static final int SPAWN_FDS = 8;
    /** In an episode of running out of file descriptors (see {@link #spawn}). */
    private boolean shortOfFds;

    private static long freeDescriptors() {
        try {
            return Fds.limit() - Fds.count();
        } catch (RuntimeException e) {
            return 0;
        }
    }

    private static String outOfFds() {
        String limit;
        try {
            limit = Long.toString(Fds.limit());
        } catch (RuntimeException e) {
            limit = "?";
        }
        return "out of file descriptors (RLIMIT_NOFILE " + limit + "): lower the number of workers or raise the limit";
    }

    @Override
    public String startCheck(CheckRun check) {
        if (checks.exiting(check.workerPid(), check.kind())) {
            return "the " + check.kind().word + " check before it has not exited yet";
        }
        List<String> envp = new ArrayList<>(checkEnv);
        envp.add("EINHORN_WORKER_PID=" + check.workerPid());
        envp.add("EINHORN_CHILD_INDEX=" + check.slot());
        try {
            checks.start(check, envp, events);
            return null;
        } catch (PosixException e) {
            return e.getMessage();
        }
    }

    @Override
    public String cancelCheck(long id) {
        return checks.cancel(id);
    }

    @Override
    public long rssBytes(int workerPid) {
        return processTree.rssBytes(workerPid);
    }

    @Override
    public boolean inheritsSockets() {
        return inherited != null && inherited.any();
    }

    @Override
    public Holding holdsInherited(int pid) {
        return inherited == null ? Holding.UNKNOWN : inherited.look(pid);
    }

    /** The sockets workers inherit, whose use the core watches; null: none watched. */
    void inherited(InheritedSockets sockets) {
        inherited = sockets;
    }

    @Override
    public void signal(int pid, String signal) {
        Child c = children.get(pid);
        if (c == null) return;
        try {
            c.signal(Processes.signalNumber(signal));
        } catch (PosixException e) {
            log.warn("cannot send SIG" + signal + " to " + pid + ": " + e.getMessage());
        }
    }

    @Override
    public void signalGroup(int pid, String signal) {
        Child c = children.get(pid);
        if (c == null) return; // reaped: its pid (and group id) may be reused
        try {
            c.signalGroup(Processes.signalNumber(signal));
        } catch (PosixException e) {
            log.warn("cannot send SIG" + signal + " to process group " + pid + ": " + e.getMessage());
        }
    }

    @Override
    public void reply(Object client, String message, boolean last, boolean ok) {
        ((ReplyTo) client).send(message, last, ok);
    }

    @Override
    public boolean waiting(Object client) {
        return ((ReplyTo) client).open();
    }

    /** Adds a listener for what the core tells (metrics, event streams, notifications); loop thread. */
    void listen(Consumer<Happening> listener) {
        listeners.add(listener);
    }

    @Override
    public void happened(Happening happening) {
        for (Consumer<Happening> l : listeners) l.accept(happening);
    }

    /** Serves the metrics and watch commands from these listeners (and makes them listen). */
    void observe(Metrics metrics, EventStream events) {
        this.metrics = metrics;
        this.stream = events;
        listen(metrics);
        listen(events);
    }

    @Override
    public String metrics(Gauges gauges) {
        return metrics == null ? null : metrics.render(gauges);
    }

    @Override
    public boolean watch(Object client) {
        if (stream == null) return false;
        stream.watch((ReplyTo) client);
        return true;
    }

    @Override
    public void log(Level level, String message) {
        log.emit(level, message);
    }
}
