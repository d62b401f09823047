package dev.einhyrningsins.reload;

import dev.einhyrningsins.control.Connection;
import dev.einhyrningsins.control.ControlServer;
import dev.einhyrningsins.control.ReplyTo;
import dev.einhyrningsins.listen.Listeners;
import dev.einhyrningsins.posix.Child;
import dev.einhyrningsins.posix.Processes;
import dev.einhyrningsins.shell.Children;
import dev.einhyrningsins.shell.Log;
import dev.einhyrningsins.shell.StartupException;
import dev.einhyrningsins.supervisor.Event;
import dev.einhyrningsins.supervisor.Snapshot;
import dev.einhyrningsins.systemd.NotifyChannel;
import dev.einhyrningsins.systemd.NotifyDirectory;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The new process's half of a reload: reads the {@link Handover} and adopts each part the
 * previous process wrote, in order — the workers first (so that whatever fails later can stop
 * them instead of orphaning them), then their channels and notify sockets, the kept control
 * clients, the core, and the signals that arrived too late for the previous process.
 *
 * <p>What cannot be adopted leaves cleanly: a worker whose pidfd cannot be opened is killed
 * and reaped ({@link Child#adopt}) and reaches the core as an exit ({@link #lost}); a channel,
 * notify socket or client whose fd is gone is closed and logged; a part of a kind this version
 * does not know is logged and skipped.
 */
public final class Takeover {
    /** The parts this version adopts. */
    static final Set<String> KNOWN = Set.of(Handover.LISTENERS, Handover.CORE, Handover.CHANNELS, Handover.NOTIFIES,
            Handover.CLIENTS, Handover.SIGNALS, Handover.ENVIRONMENT);

    /** A worker of the hand-over that could not be adopted (killed and reaped), and why. */
    public record Lost(int pid, String why) {}

    private final Handover handover;
    private final Effects fx;
    private final Log log;
    private final List<Lost> lost = new ArrayList<>();
    private final Map<String, ReplyTo> clients = new HashMap<>();

    private Takeover(Handover handover, Effects fx, Log log) {
        this.handover = handover;
        this.fx = fx;
        this.log = log;
    }

    /**
     * Reads the hand-over whose memfd's number is {@code value} (the {@link Handover#ENV}
     * variable), of this format or an earlier one it can upgrade.
     *
     * @throws StartupException what is wrong, in one line
     */
    public static Takeover read(String value, Effects fx, Log log) {
        int fd;
        try {
            fd = Integer.parseInt(value.trim());
        } catch (NumberFormatException e) {
            throw new StartupException("cannot take over: " + Handover.ENV + "=" + value + " is not an fd number");
        }
        Handover h;
        try {
            h = Handover.parse(fx.read().read(fd));
        } catch (IOException | RuntimeException e) {
            throw new StartupException("cannot take over: cannot read the hand-over in fd " + fd + ": " + oneLine(e));
        }
        Takeover t = new Takeover(h, fx, log);
        for (String part : h.parts().keySet()) {
            if (!KNOWN.contains(part)) log.warn("The hand-over has a part this version does not know, skipped: " + part);
        }
        return t;
    }

    /**
     * What {@code --upgrade-check} asks of this installation: can it take over from a supervisor
     * that writes hand-over format {@code format}? It must know the format, and read a full
     * hand-over back with the classes on its own class path.
     *
     * @throws StartupException why not, in one line
     */
    public static void check(int format) {
        if (format < Handover.OLDEST || format > Handover.FORMAT) {
            throw new StartupException("this version reads hand-over formats " + Handover.OLDEST + " to " + Handover.FORMAT
                    + ", the running supervisor writes format " + format);
        }
        try {
            Handover.selfTest();
        } catch (IOException | RuntimeException | LinkageError e) {
            throw new StartupException("cannot read a hand-over: " + oneLine(e));
        }
    }

    public Handover handover() {
        return handover;
    }

    public Handover.Process process() {
        return handover.process();
    }

    /** The core's state. */
    public Snapshot core() {
        return part(Handover.CORE, Snapshot.class);
    }

    public List<Listeners.Handed> listeners() {
        return list(Handover.LISTENERS, Listeners.Handed.class);
    }

    /**
     * Takes charge of every worker of the core (its pidfd), into {@code children}. A worker
     * that cannot be adopted is killed and reaped, and recorded in {@link #lost}.
     */
    public void adoptWorkers(Children children) {
        for (int pid : core().pids()) {
            try {
                children.inherit(fx.adopt().apply(pid));
            } catch (RuntimeException e) {
                String why = oneLine(e);
                log.warn("Worker " + pid + " could not be taken over (" + why + "); it was killed");
                lost.add(new Lost(pid, why));
            }
        }
    }

    /** The workers that could not be adopted. */
    public List<Lost> lost() {
        return List.copyOf(lost);
    }

    /**
     * What the core hears of the workers it could not adopt: each one's exit (killed), so that
     * it leaves the pool and counts like any unexpected exit.
     */
    public List<Event> lostExits() {
        List<Event> out = new ArrayList<>();
        for (Lost l : lost) {
            out.add(new Event.ChildExited(l.pid(), false, "could not be taken over after a reload (" + l.why()
                    + ") and was killed", true, Processes.SIGKILL));
        }
        return out;
    }

    /** Re-attaches every adopted worker's {@code -g} channel and notify socket; the others' fds are closed. */
    public void adoptChannels(Children children, ControlServer control, int uid, java.util.function.Consumer<Event> events) {
        for (Handover.Channel c : list(Handover.CHANNELS, Handover.Channel.class)) {
            if (children.get(c.pid()) == null) {
                fx.close().close(c.fd());
                continue;
            }
            children.attach(c.pid(), control.workerChannel(c.fd(), c.pid()));
        }
        for (Handover.Notify n : list(Handover.NOTIFIES, Handover.Notify.class)) {
            if (children.get(n.pid()) == null) {
                fx.close().close(n.fd());
                continue;
            }
            NotifyChannel channel = NotifyChannel.adopt(n.fd(), n.address(), uid, log);
            channel.attach(n.pid(), events);
            children.attach(n.pid(), channel);
        }
    }

    /**
     * Serves the control clients the previous process kept, their sessions going on where they
     * were; the requests they are owed replies to become handles, by the names the core uses.
     */
    public void adoptClients(ControlServer control) {
        for (Handover.Client c : list(Handover.CLIENTS, Handover.Client.class)) {
            Connection kept;
            try {
                kept = control.keep(c.fd());
            } catch (RuntimeException e) {
                log.warn("A control client kept across the reload is gone (fd " + c.fd() + ": " + oneLine(e) + ")");
                fx.close().close(c.fd());
                continue;
            }
            kept.session().adopt(c.session(), clients::put);
        }
    }

    /** The client the core (or the reload) named {@code ref}, or null if it was not kept. */
    public ReplyTo client(String ref) {
        return ref == null ? null : clients.get(ref);
    }

    /** The environment file's variables as the previous process last read them; null if it had none. */
    public Map<String, String> environment() {
        try {
            return handover.environment();
        } catch (IOException e) {
            throw new StartupException("cannot take over: the hand-over's " + Handover.ENVIRONMENT + " cannot be read: "
                    + oneLine(e));
        }
    }

    /**
     * The directory the previous process made for the workers' notify sockets (where its
     * sockets are), or a new one to be made in {@code base} when first needed.
     */
    public NotifyDirectory notifyDirectory(java.nio.file.Path base, int workerUid) {
        for (Handover.Notify n : list(Handover.NOTIFIES, Handover.Notify.class)) {
            if (n.address().startsWith("/")) return NotifyDirectory.adopt(java.nio.file.Path.of(n.address()), workerUid);
        }
        return new NotifyDirectory(base, workerUid);
    }

    /**
     * The signals that arrived when the previous process could no longer handle them: the
     * hand-over's, then those taken after it was written ({@code late}, the value of
     * {@link Handover#LATE_SIGNALS_ENV}, may be null).
     */
    public List<Event> signals(String late) {
        List<Event> out = new ArrayList<>();
        for (String s : list(Handover.SIGNALS, String.class)) out.add(new Event.SignalReceived(s));
        if (late != null) {
            for (String s : late.split(",")) {
                if (!s.isBlank()) out.add(new Event.SignalReceived(s.trim()));
            }
        }
        return out;
    }

    private <T> T part(String name, Class<T> type) {
        try {
            T t = handover.part(name, type);
            if (t == null) throw new StartupException("cannot take over: the hand-over has no " + name);
            return t;
        } catch (IOException e) {
            throw new StartupException("cannot take over: the hand-over's " + name + " cannot be read: " + oneLine(e));
        }
    }

    private <T> List<T> list(String name, Class<T> type) {
        try {
            return handover.list(name, type);
        } catch (IOException e) {
            throw new StartupException("cannot take over: the hand-over's " + name + " cannot be read: " + oneLine(e));
        }
    }

    private static String oneLine(Throwable e) {
        String m = e.getMessage() == null ? e.toString() : e.getMessage();
        int nl = m.indexOf('\n');
        return nl < 0 ? m : m.substring(0, nl);
    }
}
