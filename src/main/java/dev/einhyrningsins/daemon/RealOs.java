package dev.einhyrningsins.daemon;

import dev.einhyrningsins.control.ReplyTo;
import dev.einhyrningsins.posix.Child;
import dev.einhyrningsins.posix.Fds;
import dev.einhyrningsins.posix.PosixException;
import dev.einhyrningsins.posix.Processes;
import dev.einhyrningsins.posix.Sockets;
import dev.einhyrningsins.posix.Spawn;
import dev.einhyrningsins.supervisor.Happening;
import dev.einhyrningsins.supervisor.Os;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/** The supervisor's {@link Os} on the real machine: posix_spawn, pidfds, the control connections. */
final class RealOs implements Os {

    private final Children children;
    private final WorkerChannel.Opener channels;
    private final Log log;
    private final List<String> argv;
    private final Map<String, String> baseEnv;
    private final int[] listenFds;
    private final boolean commandSocketAsFd;
    private final List<String> execPrefix;
    private final Thread loopThread = Thread.currentThread();
    private final List<Consumer<Happening>> listeners = new ArrayList<>();

    /**
     * Made on the loop thread, which must be the one that spawns (see {@link #spawn}).
     *
     * @param commandSocketAsFd -g: each worker gets a control channel of its own as EINHORN_SOCK_FD
     * @param execPrefix        a program that sets something up and then execs the worker in
     *                          its place (-k: {@link #parentDeathSignal}); empty for none
     */
    RealOs(Children children, WorkerChannel.Opener channels, Log log, List<String> argv, Map<String, String> baseEnv, int[] listenFds,
           boolean commandSocketAsFd, List<String> execPrefix) {
        this.children = children;
        this.channels = channels;
        this.log = log;
        this.argv = List.copyOf(argv);
        this.baseEnv = baseEnv;
        this.listenFds = listenFds.clone();
        this.commandSocketAsFd = commandSocketAsFd;
        this.execPrefix = List.copyOf(execPrefix);
    }

    /**
     * -k: the exec chain that gives a worker a parent-death signal. posix_spawn cannot set
     * one and no Java may run between fork and exec, so util-linux's setpriv does it and
     * then execs the worker: same pid, environment, fds, signal state and process group;
     * the worker's argv is unchanged (setpriv looks its first word up in the same PATH the
     * supervisor checked it against).
     *
     * @param signal the graceful signal's name (setpriv takes names, not numbers)
     * @throws StartupException if there is no setpriv in {@code pathVariable}
     */
    static List<String> parentDeathSignal(String signal, String pathVariable) {
        Path setpriv;
        try {
            setpriv = Program.resolve("setpriv", pathVariable);
        } catch (StartupException e) {
            throw new StartupException("-k needs setpriv (util-linux 2.33 or later): " + e.getMessage());
        }
        return List.of(setpriv.toString(), "--pdeathsig", signal, "--");
    }

    /** The environment every worker shares: ours, minus --drop-env-var, plus einhorn's variables. */
    static Map<String, String> workerEnvironment(Map<String, String> ours, List<String> drop, int fdCount,
                                                 long masterPid, Path socketPath) {
        Map<String, String> env = new LinkedHashMap<>(ours);
        drop.forEach(env::remove);
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
     * socket pair); once it returned a pid, the child is tracked at once, so it is always
     * signalled and reaped whatever happens next.
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
        Path program;
        try {
            program = Program.resolve(argv.getFirst(), baseEnv.get("PATH"));
        } catch (StartupException e) {
            return new SpawnResult.Failed(e.getMessage());
        }
        Map<String, String> env = new LinkedHashMap<>(baseEnv);
        env.put("EINHORN_CHILD_INDEX", Integer.toString(slot));
        int[] fds = listenFds;
        int[] pair = null;
        try {
            if (commandSocketAsFd) {
                pair = Sockets.socketPair();
                Fds.setNonBlocking(pair[0]);
                fds = Arrays.copyOf(listenFds, listenFds.length + 1);
                fds[listenFds.length] = pair[1];
                env.put("EINHORN_SOCK_FD", Integer.toString(3 + listenFds.length));
            }
            List<String> envp = new ArrayList<>(env.size());
            env.forEach((k, v) -> envp.add(k + "=" + v));
            Child child = execPrefix.isEmpty() ? Spawn.start(program.toString(), argv, envp, fds)
                    : Spawn.start(execPrefix.getFirst(), concat(execPrefix, argv), envp, fds);
            children.add(child);
            if (pair != null) {
                children.attach(child.pid(), channels.open(pair[0], child.pid()));
                pair[0] = -1; // the channel owns it now
            }
            return new SpawnResult.Spawned(child.pid());
        } catch (PosixException e) {
            return new SpawnResult.Failed(e.getMessage());
        } finally {
            if (pair != null) {
                Fds.closeQuietly(pair[1]);
                if (pair[0] >= 0) Fds.closeQuietly(pair[0]);
            }
        }
    }

    private static List<String> concat(List<String> a, List<String> b) {
        List<String> all = new ArrayList<>(a);
        all.addAll(b);
        return all;
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

    /** Adds a listener for what the core tells (metrics, event streams, notifications); loop thread. */
    void listen(Consumer<Happening> listener) {
        listeners.add(listener);
    }

    @Override
    public void happened(Happening happening) {
        for (Consumer<Happening> l : listeners) l.accept(happening);
    }

    @Override
    public void log(Level level, String message) {
        log.emit(level, message);
    }
}
