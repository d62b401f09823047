package dev.einhyrningsins.reload;

import dev.einhyrningsins.checks.Subprocess;
import dev.einhyrningsins.control.ControlServer;
import dev.einhyrningsins.control.ReplyTo;
import dev.einhyrningsins.listen.Listeners;
import dev.einhyrningsins.posix.Fds;
import dev.einhyrningsins.posix.Pollable;
import dev.einhyrningsins.posix.PosixException;
import dev.einhyrningsins.posix.Processes;
import dev.einhyrningsins.posix.Sockets;
import dev.einhyrningsins.posix.Spawn;
import dev.einhyrningsins.shell.Children;
import dev.einhyrningsins.shell.Log;
import dev.einhyrningsins.shell.Loop;
import dev.einhyrningsins.shell.Pidfile;
import dev.einhyrningsins.shell.SignalHandlers;
import dev.einhyrningsins.shell.WorkerChannel;
import dev.einhyrningsins.supervisor.Event;
import dev.einhyrningsins.supervisor.Snapshot;
import dev.einhyrningsins.supervisor.Supervisor;
import dev.einhyrningsins.systemd.Notifier;
import dev.einhyrningsins.systemd.NotifyChannel;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * The supervisor replacing itself in place ({@code reload}): same pid, so workers stay its
 * children, EINHORN_MASTER_PID stays true and a service manager's main pid never changes.
 *
 * <ol>
 *   <li>The new installation is started once with {@code --upgrade-check} (a helper process,
 *       polled by the loop): if it fails, the reload is refused with its last line and this
 *       process goes on untouched.</li>
 *   <li>The control socket's thread writes out what it owes, parks, and tags the connections
 *       to keep (the requester, an upgrade's followers) so their fds can be found.</li>
 *   <li>The core's {@link Snapshot} and the shell's fds go into a memfd ({@link Handover});
 *       the control socket's listening fd becomes fd 0 (the kernel queues connections
 *       meanwhile), the original stdin moves up for the workers; every other fd is marked
 *       close-on-exec; the signals we handle are ignored during the exec window.</li>
 *   <li>{@code execve} of the same launch. If it fails, everything above is undone.</li>
 * </ol>
 */
public final class Reload {
    /** How long the new installation's check may take. */
    static final long CHECK_TIMEOUT_NANOS = TimeUnit.SECONDS.toNanos(60);
    /** The variable that tells {@code --upgrade-check} which hand-over format it must read. */
    public static final String FORMAT_ENV = "EINHYRNINGSINS_HANDOVER_FORMAT";
    /** The variables a supervisor passes to itself (the launcher's path, the hand-over's fd): never a worker's. */
    public static final Set<String> OURS = Set.of("EINHYRNINGSINS_LAUNCHER", Handover.ENV);

    /** What the shell holds that the next process needs; {@link Daemon} fills it. */
    public record Shell(Launch launch, Listeners listeners, Children children, ControlServer control, String boundName,
                 Notifier notifier, Pidfile pidfile, long startedWall, int reloads, boolean parentDeathSignal) {}

    private final Shell shell;
    private final Loop loop;
    private final Log log;
    private final String version;
    private Supervisor sup;
    private int stdinFd;
    private boolean busy;

    public Reload(Shell shell, Loop loop, Log log, String version, int stdinFd) {
        this.shell = shell;
        this.loop = loop;
        this.log = log;
        this.version = version;
        this.stdinFd = stdinFd;
    }

    public void supervisor(Supervisor s) {
        sup = s;
    }

    /** The fd workers get as their standard input: the original one, once fd 0 became the control socket. */
    public int stdinFd() {
        return stdinFd;
    }

    /** A reload asked by {@code client} (null: HUP), with an upgrade waiting for it when {@code then} is set. */
    public void request(Object client, boolean streaming, String then) {
        if (busy) {
            reply(client, "A reload of the supervisor is already in progress", true, false);
            return;
        }
        int inherited = shell.children().inherited();
        if (shell.parentDeathSignal() && inherited > 0) {
            // -k: the kernel signals a worker when the *thread* that started it ends, and the exec
            // ends the thread the previous process's workers hang from (it became our main thread)
            refused(client, streaming, then, "with -k, the " + inherited + " worker" + (inherited == 1 ? "" : "s")
                    + " started before the previous reload would get the parent-death signal at this exec; "
                    + "replace them first (upgrade), then reload");
            return;
        }
        if (then == null) reply(client, "Reloading, as commanded", !streaming, true);
        busy = true;
        List<String> argv = shell.launch().argv("--upgrade-check");
        List<String> env = new ArrayList<>();
        System.getenv().forEach((k, v) -> {
            if (!k.equals(Handover.ENV)) env.add(k + "=" + v);
        });
        env.add(FORMAT_ENV + "=" + Snapshot.FORMAT);
        log.info("Reload: checking the installation with " + String.join(" ", argv));
        try {
            Subprocess check = Subprocess.start(argv, env, shell.children(), ended -> checked(client, streaming, then, ended));
            loop.at(System.nanoTime() + CHECK_TIMEOUT_NANOS, check::kill);
        } catch (PosixException e) {
            refused(client, streaming, then, "cannot start " + argv.getFirst() + ": " + e.getMessage());
        }
    }

    private void checked(Object client, boolean streaming, String then, Subprocess.Ended check) {
        String last = check.lastLine() == null ? "" : check.lastLine();
        if (!check.passed()) {
            refused(client, streaming, then, "the new installation's check " + check.status().describe()
                    + (last.isEmpty() ? "" : ": " + last));
            return;
        }
        log.info("Reload: " + last);
        try {
            exec(client, then);
        } catch (RuntimeException e) {
            refused(client, streaming, then, e.getMessage());
        }
    }

    private void refused(Object client, boolean streaming, String then, String why) {
        busy = false;
        String message = "Reload refused: " + why + "; the supervisor goes on as it is";
        log.error(message);
        if (then != null) {
            loop.post(new Event.UpgradeRequested(then.equals("upgrade_fleet"), client, streaming,
                    "Could not reload the supervisor (" + why + "); upgrading the workers only"));
        } else {
            reply(client, message, true, false);
        }
    }

    private void reply(Object client, String message, boolean last, boolean ok) {
        if (client instanceof ReplyTo r) r.send(message, last, ok);
    }

    // ------------------------------------------------------------------ the exec

    private void exec(Object client, String then) {
        loop.handlePending(sup); // an ack or a command queued before this moment is handled, not lost
        Map<Object, String> refs = new IdentityHashMap<>();
        Function<Object, String> ref = c -> refs.computeIfAbsent(c, k -> "c" + refs.size());
        sup.snapshot(ref); // names the clients that follow an upgrade: they are kept
        String requester = client == null ? null : ref.apply(client);
        List<ReplyTo> keep = new ArrayList<>();
        refs.keySet().forEach(c -> {
            if (c instanceof ReplyTo r) keep.add(r);
        });
        List<ControlServer.Kept> kept;
        try {
            kept = shell.control().handOver(keep, this::fdOfTag);
        } catch (IOException e) {
            throw new IllegalStateException("cannot hand the control clients over: " + e.getMessage());
        }
        int memfd = -1;
        int savedStdin = stdinFd;
        List<Processes.Disposition> ignored = new ArrayList<>();
        boolean checksStopped = false;
        try {
            // what arrived until the control socket paused (its clients that are not kept were
            // told to reconnect, so replies to them go nowhere), then the state as it is now
            loop.handlePending(sup);
            Snapshot core = sup.snapshot(ref);
            int controlFd = fdOfControlSocket();
            if (savedStdin < 0) savedStdin = Fds.dupAtLeast(0, 3);
            List<Handover.Client> clients = new ArrayList<>();
            for (ControlServer.Kept k : kept) {
                clients.add(new Handover.Client(k.fd(), k.owed().stream()
                        .map(h -> new Handover.Owed(refs.get(h), h.requestId())).toList()));
            }
            Handover h = new Handover(Snapshot.FORMAT, version, core, listeners(), savedStdin,
                    shell.pidfile() != null && shell.pidfile().written(), channels(core.pids()), notifies(core.pids()),
                    clients, requester, then, shell.startedWall(), shell.reloads() + 1);
            memfd = h.write();
            Set<Integer> keepOpen = keepOpen(h, memfd);
            if (controlFd != 0) Fds.dup2(controlFd, 0);
            for (int fd : Fds.open()) {
                try {
                    Fds.setCloexec(fd, !keepOpen.contains(fd));
                } catch (PosixException e) {
                    // the directory listing's own fd, closed by now
                }
            }
            for (String name : SignalHandlers.SIGNALS) {
                int number = Processes.signalNumber(name);
                if (number > 0) ignored.add(Processes.ignore(number));
            }
            // checks in flight cannot cross the exec: the core starts new ones when it is back
            checksStopped = true;
            shell.children().stopHelpers();
            if (shell.notifier() != null) shell.notifier().reloading();
            Map<String, String> env = new LinkedHashMap<>(System.getenv());
            env.put(Handover.ENV, Integer.toString(memfd));
            List<String> envp = new ArrayList<>();
            env.forEach((k, v) -> envp.add(k + "=" + v));
            log.info("Reload: executing " + String.join(" ", shell.launch().argv()));
            Spawn.execve(shell.launch().executable(), shell.launch().argv(), envp);
            throw new IllegalStateException("execve returned");
        } catch (RuntimeException e) {
            for (Processes.Disposition d : ignored) Processes.restore(d);
            if (savedStdin >= 0 && stdinFd < 0) {
                Fds.dup2(savedStdin, 0);
                Fds.closeQuietly(savedStdin);
            }
            if (memfd >= 0) Fds.closeQuietly(memfd);
            if (checksStopped) sup.checksLost();
            shell.control().resume();
            throw e;
        }
    }

    /** The fd of a kept control connection: an accepted socket of our control socket whose send buffer is 2 × tag. */
    private int fdOfTag(int tag) {
        for (int fd : Fds.open()) {
            Sockets.Kind kind = Sockets.kind(fd);
            if (kind.socket() && kind.unix() && !kind.listeningStream() && Sockets.sendBufferSize(fd) == 2 * tag
                    && shell.boundName().equals(Sockets.localUnixAddress(fd))) {
                return fd;
            }
        }
        return -1;
    }

    /** The control socket's listening fd: the one socket listening under the control socket's bound name. */
    private int fdOfControlSocket() {
        for (int fd : Fds.open()) {
            Sockets.Kind kind = Sockets.kind(fd);
            if (kind.socket() && kind.unix() && kind.listeningStream()
                    && shell.boundName().equals(Sockets.localUnixAddress(fd))) {
                return fd;
            }
        }
        throw new IllegalStateException("cannot find the control socket's fd");
    }

    private List<Handover.Listener> listeners() {
        List<Handover.Listener> out = new ArrayList<>();
        for (Listeners.Bound b : shell.listeners().bound()) {
            out.add(new Handover.Listener(b.fd(), b.spec() == null ? null : b.spec().text(), b.address(), b.port(),
                    b.unixPath() == null ? null : b.unixPath().toString(), b.name()));
        }
        return out;
    }

    private List<Handover.Channel> channels(List<Integer> pids) {
        List<Handover.Channel> out = new ArrayList<>();
        for (int pid : pids) {
            for (Pollable p : shell.children().attached(pid)) {
                if (p instanceof WorkerChannel ch && !ch.closed()) out.add(new Handover.Channel(pid, ch.fd()));
            }
        }
        return out;
    }

    private List<Handover.Notify> notifies(List<Integer> pids) {
        List<Handover.Notify> out = new ArrayList<>();
        for (int pid : pids) {
            for (Pollable p : shell.children().attached(pid)) {
                if (p instanceof NotifyChannel n && !n.closed()) out.add(new Handover.Notify(pid, n.fd(), n.address()));
            }
        }
        return out;
    }

    /** 0, 1, 2 and every fd the hand-over names: everything else closes at the exec. */
    private static Set<Integer> keepOpen(Handover h, int memfd) {
        Set<Integer> keep = new HashSet<>(List.of(0, 1, 2, h.stdinFd(), memfd));
        h.listeners().forEach(l -> keep.add(l.fd()));
        h.channels().forEach(c -> keep.add(c.fd()));
        h.notifies().forEach(n -> keep.add(n.fd()));
        h.clients().forEach(c -> keep.add(c.fd()));
        return keep;
    }
}
