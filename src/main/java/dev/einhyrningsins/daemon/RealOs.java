package dev.einhyrningsins.daemon;

import dev.einhyrningsins.control.ReplyTo;
import dev.einhyrningsins.observe.EventStream;
import dev.einhyrningsins.observe.Metrics;
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
    private final List<Consumer<Happening>> listeners = new ArrayList<>();
    private Metrics metrics;
    private EventStream events;

    /**
     * @param commandSocketAsFd -g: each worker gets a control channel of its own as EINHORN_SOCK_FD
     */
    RealOs(Children children, WorkerChannel.Opener channels, Log log, List<String> argv, Map<String, String> baseEnv, int[] listenFds,
           boolean commandSocketAsFd) {
        this.children = children;
        this.channels = channels;
        this.log = log;
        this.argv = List.copyOf(argv);
        this.baseEnv = baseEnv;
        this.listenFds = listenFds.clone();
        this.commandSocketAsFd = commandSocketAsFd;
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
     */
    @Override
    public SpawnResult spawn(int slot, int generation) {
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
            Child child = Spawn.start(program.toString(), argv, envp, fds);
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

    /** Serves the metrics and watch commands from these listeners (and makes them listen). */
    void observe(Metrics metrics, EventStream events) {
        this.metrics = metrics;
        this.events = events;
        listen(metrics);
        listen(events);
    }

    @Override
    public String metrics() {
        return metrics == null ? null : metrics.render();
    }

    @Override
    public boolean watch(Object client) {
        if (events == null) return false;
        events.watch((ReplyTo) client);
        return true;
    }

    @Override
    public void log(Level level, String message) {
        log.emit(level, message);
    }
}
