package dev.einhyrningsins.checks;

import dev.einhyrningsins.posix.PosixException;
import dev.einhyrningsins.shell.Children;
import dev.einhyrningsins.supervisor.CheckKind;
import dev.einhyrningsins.supervisor.Event;
import dev.einhyrningsins.supervisor.Os;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The health checks in flight, by the core's check id: each is {@code /bin/sh -c COMMAND}
 * (through {@code setpriv} as the workers' user with {@code --user}) as a {@link Subprocess} (its own process group, output polled, stragglers killed, reaped
 * by the loop). When one ends by itself, {@link Event.CheckFinished} goes to the loop's
 * queue; a cancelled one is killed and reaped without an event. Loop thread only.
 */
public final class Checks {
    static final String SHELL = "/bin/sh";

    private final Children children;
    private final List<String> prefix;
    private final Map<Long, Running> running = new LinkedHashMap<>();
    private final List<Running> cancelled = new ArrayList<>();

    private record Running(Os.CheckRun run, Subprocess process) {}

    public Checks(Children children) {
        this(children, List.of());
    }

    /**
     * @param prefix the exec chain a check starts through ({@code setpriv --reuid … --}, so that
     *               it runs as the workers' user), empty for none; its first word an absolute path
     */
    public Checks(Children children, List<String> prefix) {
        this.children = children;
        this.prefix = List.copyOf(prefix);
    }

    /**
     * Starts {@code run} with environment {@code envp}; its end goes to {@code finished}.
     *
     * @throws PosixException if it could not be started (nothing is left behind)
     */
    public void start(Os.CheckRun run, List<String> envp, Consumer<Event> finished) {
        List<String> argv = new ArrayList<>(prefix);
        argv.addAll(List.of(SHELL, "-c", run.command()));
        Subprocess p = Subprocess.start(argv, envp, children, ended -> {
            running.remove(run.id());
            finished.accept(new Event.CheckFinished(run.id(), run.workerPid(), run.kind(), ended.passed(),
                    ended.passed() ? "passed" : ended.status().describe(), ended.durationNanos(), ended.lastLine()));
        });
        running.put(run.id(), new Running(run, p));
    }

    /** Stops check {@code id} (SIGKILL to its process group); returns its last line so far, null if none or unknown. */
    public String cancel(long id) {
        Running r = running.remove(id);
        if (r == null) return null;
        cancelled.add(r);
        return r.process().cancel();
    }

    /**
     * Whether a cancelled check of {@code workerPid}'s {@code kind} has not exited yet (one
     * stuck in the kernel, say): no new one starts beside it, so they never pile up.
     */
    public boolean exiting(int workerPid, CheckKind kind) {
        cancelled.removeIf(c -> !c.process().running());
        for (Running c : cancelled) if (c.run().workerPid() == workerPid && c.run().kind() == kind) return true;
        return false;
    }

    /** Checks running or waiting to be reaped. */
    int size() {
        running.values().removeIf(r -> !r.process().running());
        cancelled.removeIf(c -> !c.process().running());
        return running.size() + cancelled.size();
    }
}
