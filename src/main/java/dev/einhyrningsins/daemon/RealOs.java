package dev.einhyrningsins.daemon;

import dev.einhyrningsins.posix.Posix;
import dev.einhyrningsins.posix.PosixException;
import dev.einhyrningsins.supervisor.Os;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The supervisor's {@link Os} on the real machine: posix_spawn, pidfds, the control connections. */
final class RealOs implements Os {

    /** Sends one reply to a control client handle (adapts the control package). */
    interface Replier {
        void reply(Object client, String message, boolean last, boolean ok);
    }

    private final Loop loop;
    private final Log log;
    private final List<String> argv;
    private final Map<String, String> baseEnv;
    private final int[] listenFds;
    private final Path commandSocket;
    private final Replier replier;

    /**
     * @param commandSocket when non-null (-g), each worker gets a fresh connection to it as EINHORN_SOCK_FD
     */
    RealOs(Loop loop, Log log, List<String> argv, Map<String, String> baseEnv, int[] listenFds,
           Path commandSocket, Replier replier) {
        this.loop = loop;
        this.log = log;
        this.argv = List.copyOf(argv);
        this.baseEnv = baseEnv;
        this.listenFds = listenFds.clone();
        this.commandSocket = commandSocket;
        this.replier = replier;
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
        int sockFd = -1;
        try {
            if (commandSocket != null) {
                sockFd = Posix.connectUnix(commandSocket);
                fds = java.util.Arrays.copyOf(listenFds, listenFds.length + 1);
                fds[listenFds.length] = sockFd;
                env.put("EINHORN_SOCK_FD", Integer.toString(3 + listenFds.length));
            }
            List<String> envp = new ArrayList<>(env.size());
            env.forEach((k, v) -> envp.add(k + "=" + v));
            int pid = Posix.spawn(program.toString(), argv, envp, fds);
            loop.track(pid, Posix.pidfdOpen(pid));
            return new SpawnResult.Spawned(pid);
        } catch (PosixException e) {
            return new SpawnResult.Failed(e.getMessage());
        } finally {
            if (sockFd >= 0) Posix.close(sockFd);
        }
    }

    @Override
    public void signal(int pid, String signal) {
        Integer pidfd = loop.pidfd(pid);
        if (pidfd == null) return;
        try {
            Posix.pidfdSendSignal(pidfd, Posix.signalNumber(signal));
        } catch (PosixException e) {
            log.warn("cannot send SIG" + signal + " to " + pid + ": " + e.getMessage());
        }
    }

    @Override
    public void signalGroup(int pid, String signal) {
        if (loop.pidfd(pid) == null) return; // reaped: its pid (and group id) may be reused
        try {
            Posix.kill(-pid, Posix.signalNumber(signal));
        } catch (PosixException e) {
            log.warn("cannot send SIG" + signal + " to process group " + pid + ": " + e.getMessage());
        }
    }

    @Override
    public void reply(Object client, String message, boolean last, boolean ok) {
        replier.reply(client, message, last, ok);
    }

    @Override
    public void log(Level level, String message) {
        log.emit(level, message);
    }

}
