package dev.einhyrningsins.reload;

import dev.einhyrningsins.checks.Subprocess;
import dev.einhyrningsins.control.ControlServer;
import dev.einhyrningsins.control.ReplyTo;
import dev.einhyrningsins.control.Session;
import dev.einhyrningsins.listen.Listeners;
import dev.einhyrningsins.posix.Pollable;
import dev.einhyrningsins.posix.PosixException;
import dev.einhyrningsins.shell.Children;
import dev.einhyrningsins.shell.EnvFile;
import dev.einhyrningsins.shell.Log;
import dev.einhyrningsins.shell.Pidfile;
import dev.einhyrningsins.shell.SignalIntake;
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
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * The supervisor replacing itself in place ({@code reload}): same pid, so workers stay its
 * children, EINHORN_MASTER_PID stays true and a service manager's main pid never changes.
 * The plan, top to bottom (the new process's half is {@link Takeover}):
 *
 * <ol>
 *   <li><b>check</b>: {@code --env-file} must be readable, and the new installation is
 *       started once with {@code --upgrade-check} (a helper process, polled by the loop); if
 *       either fails, the reload is refused with its line and nothing changed.</li>
 *   <li><b>quiesce</b>: the control socket stops accepting (new clients wait in its listen
 *       queue for the next process) and reading; the clients the core still owes replies (an
 *       upgrade's followers) and the requester are kept, every other one is told to reconnect;
 *       threads that could open an fd stop (the metrics endpoint). The loop goes on meanwhile:
 *       the kept clients get what they are owed, for at most {@link #DRAIN_NANOS}; one that
 *       does not take it is dropped, with its reason in the log.</li>
 *   <li><b>snapshot</b>: what is queued is handed to the core; if the supervisor began to
 *       stop meanwhile the reload is refused; {@code --env-file} is read again for the workers
 *       started from now on (its values cross the exec: the next process does not read it, so a
 *       file broken after this point costs nothing); the core's {@link Snapshot} and every part's
 *       state (listeners, channels, notify sockets, kept clients with what they were not sent
 *       yet) go into a memfd ({@link Handover}); the control socket's fd becomes fd 0 (the
 *       original stdin moves up, for the workers); every other fd is marked close-on-exec;
 *       signals wait in the kernel for the next process ({@link SignalIntake#blockForExec},
 *       {@link SignalIntake#ignoreForExec}), and those the JVM took but the loop did not
 *       handle go with the hand-over.</li>
 *   <li><b>exec</b> of the same launch. If anything above fails, each step is undone, the
 *       control socket serves again, and the requester hears why.</li>
 * </ol>
 */
public final class Reload {
    /** How long the new installation's check may take. */
    public static final long CHECK_TIMEOUT_NANOS = TimeUnit.SECONDS.toNanos(60);
    /** How long kept clients get to take the replies they are owed before the exec. */
    public static final long DRAIN_NANOS = TimeUnit.SECONDS.toNanos(2);
    /** How often the loop looks whether they did. */
    static final long DRAIN_POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(10);
    /** The variable that tells {@code --upgrade-check} which hand-over format it must read. */
    public static final String FORMAT_ENV = "EINHYRNINGSINS_HANDOVER_FORMAT";
    /** The variables a supervisor passes to itself (the launcher's path, the hand-over's fd): never a worker's. */
    public static final Set<String> OURS = Set.of("EINHYRNINGSINS_LAUNCHER", Handover.ENV, Handover.LATE_SIGNALS_ENV,
            LeanStart.LEFTOVERS);

    /** What the shell holds that the next process needs; {@code Daemon} fills it. */
    public record Shell(Launch launch, Listeners listeners, Children children, ControlServer control, Notifier notifier,
                        Pidfile pidfile, SignalIntake signals, long startedWall, int reloads, boolean parentDeathSignal,
                        EnvFile envFile, Runnable quiesceThreads, Runnable resumeThreads) {}

    /** What the reload asks of the loop: its timers and its queue. */
    public interface LoopPort {
        /** Runs {@code action} on the loop thread at {@code nanoTime} (or soon after). */
        void at(long nanoTime, Runnable action);

        /** Hands every queued event to the core. */
        void handlePending(Supervisor sup);

        /** Takes the signals still queued (by name): they go to the next process. */
        List<String> takeSignals();

        /** Queues an event for the core. */
        void post(Event event);
    }

    /** Runs the new installation's check: {@code done} hears whether it passed, with its last line. */
    @FunctionalInterface
    public interface Checker {
        /** @return what kills the check when its time is up */
        Runnable start(List<String> argv, List<String> env, Consumer<Checked> done);
    }

    /** How the check ended; {@code why} describes a failure ({@code exited with status 1}…). */
    public record Checked(boolean passed, String why, String lastLine) {}

    private final Shell shell;
    private final LoopPort loop;
    private final Log log;
    private final String version;
    private final Effects fx;
    private final Checker checker;
    private Supervisor sup;
    private int stdinFd;
    private boolean busy;

    /**
     * @param stdinFd the fd workers get as their standard input: the original one, once a
     *                reload made fd 0 the control socket; -1 before the first reload
     */
    public Reload(Shell shell, LoopPort loop, Log log, String version, int stdinFd, Effects fx, Checker checker) {
        this.shell = shell;
        this.loop = loop;
        this.log = log;
        this.version = version;
        this.stdinFd = stdinFd;
        this.fx = fx;
        this.checker = checker;
    }

    /** The real check: a helper process registered in {@code children}. */
    public static Checker helperProcess(Children children) {
        return (argv, env, done) -> {
            Subprocess p = Subprocess.start(argv, env, children, ended -> done.accept(new Checked(ended.passed(),
                    ended.status().describe(), ended.lastLine())));
            return p::kill;
        };
    }

    public void supervisor(Supervisor s) {
        sup = s;
    }

    /** The fd workers get as their standard input: the original one, once fd 0 became the control socket. */
    public int stdinFd() {
        return stdinFd;
    }

    /** Whether a reload is under way (checking, or quiescing before the exec). */
    public boolean busy() {
        return busy;
    }

    // ------------------------------------------------------------------ 1. check

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
        if (shell.envFile().path() != null) {
            try {
                EnvFile.read(shell.envFile().path());
            } catch (EnvFile.Malformed e) {
                refused(client, streaming, then, e.getMessage());
                return;
            }
        }
        if (then == null) reply(client, "Reloading, as commanded", !streaming, true);
        busy = true;
        List<String> argv = shell.launch().argv("--upgrade-check");
        List<String> env = new ArrayList<>();
        System.getenv().forEach((k, v) -> {
            if (!OURS.contains(k) || k.equals("EINHYRNINGSINS_LAUNCHER")) env.add(k + "=" + v);
        });
        env.add(FORMAT_ENV + "=" + Handover.FORMAT);
        log.info("Reload: checking the installation (" + String.join(" ", argv) + " if it changed on disk)");
        try {
            // heard on a turn of its own: a check done at once must not run the plan inside the command that asked
            Runnable kill = checker.start(argv, env,
                    checked -> loop.at(fx.nanoTime().getAsLong(), () -> checked(client, streaming, then, checked)));
            loop.at(fx.nanoTime().getAsLong() + CHECK_TIMEOUT_NANOS, kill);
        } catch (PosixException e) {
            refused(client, streaming, then, "cannot start " + argv.getFirst() + ": " + e.getMessage());
        }
    }

    private void checked(Object client, boolean streaming, String then, Checked check) {
        String last = check.lastLine() == null ? "" : check.lastLine();
        if (!check.passed()) {
            refused(client, streaming, then, "the new installation's check " + check.why() + (last.isEmpty() ? "" : ": " + last));
            return;
        }
        log.info("Reload: " + last);
        quiesce(client, streaming, then);
    }

    // ------------------------------------------------------------------ 2. quiesce

    private void quiesce(Object client, boolean streaming, String then) {
        loop.handlePending(sup);
        Set<Session> keep = new HashSet<>();
        for (Object c : named(client).keySet()) {
            if (c instanceof Session.Handle h) keep.add(h.session());
        }
        shell.control().quiesce(keep::contains);
        shell.quiesceThreads().run();
        drained(client, streaming, then, fx.nanoTime().getAsLong() + DRAIN_NANOS);
    }

    /** The clients the core names (an upgrade's followers) and the requester, with the names the hand-over gives them. */
    private Map<Object, String> named(Object client) {
        Map<Object, String> refs = new IdentityHashMap<>();
        Function<Object, String> ref = c -> refs.computeIfAbsent(c, k -> "c" + refs.size());
        if (client != null) ref.apply(client);
        sup.snapshot(ref);
        return refs;
    }

    private void drained(Object client, boolean streaming, String then, long deadline) {
        long now = fx.nanoTime().getAsLong();
        if (!shell.control().draining().isEmpty() && now - deadline < 0) {
            loop.at(now + DRAIN_POLL_NANOS, () -> drained(client, streaming, then, deadline));
            return;
        }
        shell.control().dropDraining("did not take the replies it was owed within "
                + TimeUnit.NANOSECONDS.toSeconds(DRAIN_NANOS) + " s of a reload");
        exec(client, streaming, then);
    }

    // ------------------------------------------------------------------ 3. snapshot and 4. exec

    private void exec(Object client, boolean streaming, String then) {
        int memfd = -1;
        int savedStdin = stdinFd;
        boolean gated = false;
        boolean checksStopped = false;
        List<String> carried = new ArrayList<>();
        try {
            // from here on the signals the JVM takes queue up for the hand-over, not the loop thread
            gated = true;
            shell.signals().blockForExec();
            // what arrived while the kept clients drained; a stop that began meanwhile wins
            loop.handlePending(sup);
            if (sup.stopping()) throw new IllegalStateException("the supervisor is stopping");
            String environment = sup.rereadEnvironment();
            if (environment != null) throw new IllegalStateException(environment);
            Map<Object, String> refs = new IdentityHashMap<>();
            Function<Object, String> ref = c -> refs.computeIfAbsent(c, k -> "c" + refs.size());
            String requester = client == null ? null : ref.apply(client);
            Snapshot core = sup.snapshot(ref);
            List<Handover.Client> clients = clients(refs);
            int controlFd = shell.control().listeningFd();
            if (savedStdin < 0) savedStdin = fx.dupAbove().dup(0, 3);
            memfd = fx.memfd().get();
            Handover.Process process = new Handover.Process(savedStdin,
                    shell.pidfile() != null && shell.pidfile().written(), shell.startedWall(), shell.reloads() + 1,
                    requester, then);
            List<Listeners.Handed> listeners = shell.listeners().handOver();
            List<Handover.Channel> channels = channels(core.pids());
            List<Handover.Notify> notifies = notifies(core.pids());
            Set<Integer> keepOpen = keepOpen(process, memfd, listeners, channels, notifies, clients);
            if (controlFd != 0) fx.dup2().dup2(controlFd, 0);
            for (int fd : fx.openFds().get()) {
                try {
                    fx.cloexec().set(fd, !keepOpen.contains(fd));
                } catch (PosixException e) {
                    // the directory listing's own fd, closed by now
                }
            }
            // checks in flight cannot cross the exec: the core starts new ones when it is back
            checksStopped = true;
            shell.children().stopHelpers();
            if (shell.notifier() != null) shell.notifier().reloading();
            carried = new ArrayList<>(loop.takeSignals());
            Handover h = Handover.of(version, process, listeners, core, channels, notifies, clients, carried,
                    shell.envFile().path() == null ? null : shell.envFile().values());
            fx.write().write(memfd, h.bytes());
            Map<String, String> env = new LinkedHashMap<>(System.getenv());
            env.remove(Handover.LATE_SIGNALS_ENV); // what this process was handed at its start: handled
            env.remove(LeanStart.LEFTOVERS);
            env.put(Handover.ENV, Integer.toString(memfd));
            log.info("Reload: executing " + String.join(" ", shell.launch().argv()));
            // the last moment: HUP, INT and TERM ignored for the exec, and what the JVM's handlers
            // took since the hand-over was written goes with it, in the environment
            shell.signals().ignoreForExec();
            List<String> late = loop.takeSignals();
            carried.addAll(late);
            if (!late.isEmpty()) env.put(Handover.LATE_SIGNALS_ENV, String.join(",", late));
            List<String> envp = new ArrayList<>(env.size());
            env.forEach((k, v) -> envp.add(k + "=" + v));
            fx.exec().exec(shell.launch().executable(), shell.launch().argv(), envp);
            throw new IllegalStateException("execve returned");
        } catch (RuntimeException | IOException e) {
            if (gated) shell.signals().afterFailedExec();
            for (String signal : carried) loop.post(new Event.SignalReceived(signal));
            if (savedStdin >= 0 && stdinFd < 0) {
                fx.dup2().dup2(savedStdin, 0);
                fx.close().close(savedStdin);
            }
            if (memfd >= 0) fx.close().close(memfd);
            if (checksStopped) sup.checksLost();
            shell.control().resume();
            shell.resumeThreads().run();
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

    private static void reply(Object client, String message, boolean last, boolean ok) {
        if (client instanceof ReplyTo r) r.send(message, last, ok);
    }

    /** Every kept connection with the requests of it the core (or the reload) named. */
    private List<Handover.Client> clients(Map<Object, String> refs) {
        List<Handover.Client> out = new ArrayList<>();
        for (ControlServer.Kept k : shell.control().kept()) {
            List<Session.Owed> owed = new ArrayList<>();
            refs.forEach((c, ref) -> {
                if (c instanceof Session.Handle h && h.session() == k.session()) owed.add(new Session.Owed(ref, h.requestId()));
            });
            out.add(new Handover.Client(k.fd(), k.session().handOver(owed)));
        }
        return out;
    }

    private List<Handover.Channel> channels(List<Integer> pids) {
        List<Handover.Channel> out = new ArrayList<>();
        for (int pid : pids) {
            for (Pollable p : shell.children().attached(pid)) {
                if (p instanceof dev.einhyrningsins.control.Connection c && !c.closed()) out.add(new Handover.Channel(pid, c.fd()));
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
    private static Set<Integer> keepOpen(Handover.Process process, int memfd, List<Listeners.Handed> listeners,
                                         List<Handover.Channel> channels, List<Handover.Notify> notifies,
                                         List<Handover.Client> clients) {
        Set<Integer> keep = new HashSet<>(List.of(0, 1, 2, process.stdinFd(), memfd));
        listeners.forEach(l -> keep.add(l.fd()));
        channels.forEach(c -> keep.add(c.fd()));
        notifies.forEach(n -> keep.add(n.fd()));
        clients.forEach(c -> keep.add(c.fd()));
        return keep;
    }
}
