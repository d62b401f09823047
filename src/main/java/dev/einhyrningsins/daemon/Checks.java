package dev.einhyrningsins.daemon;

import dev.einhyrningsins.posix.Child;
import dev.einhyrningsins.posix.ExitStatus;
import dev.einhyrningsins.posix.Fds;
import dev.einhyrningsins.posix.Poller;
import dev.einhyrningsins.posix.PosixException;
import dev.einhyrningsins.posix.Processes;
import dev.einhyrningsins.posix.Sockets;
import dev.einhyrningsins.posix.Spawn;
import dev.einhyrningsins.supervisor.CheckKind;
import dev.einhyrningsins.supervisor.Event;
import dev.einhyrningsins.supervisor.Os;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.function.IntSupplier;

/**
 * The health checks in flight. Each is {@code /bin/sh -c COMMAND}, started with posix_spawn
 * (the loop thread never waits for it) in a process group of its own, with stdin, stdout
 * and stderr on one end of a socket pair: the loop polls the other end (keeping only the
 * last line; stdin reads end of input) and the check's pidfd. When it exits, whatever it
 * left running in its group is SIGKILLed, it is reaped, and {@link Event.CheckFinished}
 * goes to the loop's queue. A cancelled check's group is SIGKILLed at once and it is reaped
 * when its pidfd says so, without an event. Checks are not workers: they are not in
 * {@link Children}, so their exits never become {@code ChildExited}. Loop thread only.
 */
final class Checks implements AutoCloseable {
    static final String SHELL = "/bin/sh";
    /** How long {@link #close} waits for killed checks to be reapable. */
    private static final long CLOSE_WAIT_NANOS = TimeUnit.SECONDS.toNanos(5);

    private final Map<Long, Running> running = new LinkedHashMap<>();
    private final List<Running> cancelled = new ArrayList<>();
    private final byte[] buffer = new byte[8192];

    /**
     * Starts {@code run} with environment {@code envp}; its end goes to {@code finished}.
     *
     * @throws PosixException if it could not be started (nothing is left behind)
     */
    void start(Os.CheckRun run, List<String> envp, Consumer<Event> finished) {
        int[] pair = Sockets.socketPair();
        try {
            Fds.setNonBlocking(pair[0]);
            Sockets.shutdownOutput(pair[0]); // the check's stdin reads end of input
            Child child = Spawn.start(SHELL, List.of("sh", "-c", run.command()), envp, new int[0], pair[1]);
            running.put(run.id(), new Running(run, child, pair[0], finished));
            pair[0] = -1; // the check owns it now
        } finally {
            Fds.closeQuietly(pair[1]);
            if (pair[0] >= 0) Fds.closeQuietly(pair[0]);
        }
    }

    /** Stops check {@code id} (SIGKILL to its process group); returns its last line so far, null if none or unknown. */
    String cancel(long id) {
        Running r = running.remove(id);
        if (r == null) return null;
        r.drain();
        r.closeOutput();
        r.kill();
        cancelled.add(r);
        return r.line.last();
    }

    /**
     * Whether a cancelled check of {@code workerPid}'s {@code kind} has not exited yet (one
     * stuck in the kernel, say): no new one starts beside it, so they never pile up.
     */
    boolean exiting(int workerPid, CheckKind kind) {
        for (Running r : cancelled) if (r.run.workerPid() == workerPid && r.run.kind() == kind) return true;
        return false;
    }

    /** Checks running or waiting to be reaped. */
    int size() {
        return running.size() + cancelled.size();
    }

    /** What the loop polls for them: every check's output and pidfd, and the pidfds of cancelled ones. */
    List<Pollable> pollables() {
        List<Pollable> out = new ArrayList<>(running.size() * 2 + cancelled.size());
        for (Running r : running.values()) {
            if (r.out >= 0) out.add(r.output);
            out.add(r.exit);
        }
        for (Running r : cancelled) out.add(r.exit);
        return out;
    }

    /** Kills every check left and reaps what exits within a few seconds. */
    @Override
    public void close() {
        for (Long id : List.copyOf(running.keySet())) cancel(id);
        long deadline = System.nanoTime() + CLOSE_WAIT_NANOS;
        try (Poller poller = new Poller()) {
            while (!cancelled.isEmpty() && System.nanoTime() < deadline) {
                int n = cancelled.size();
                int[] fds = new int[n];
                short[] events = new short[n];
                short[] revents = new short[n];
                for (int i = 0; i < n; i++) {
                    fds[i] = cancelled.get(i).child.pidfd();
                    events[i] = Poller.IN;
                }
                poller.await(fds, events, revents, n, 100);
                for (Running r : List.copyOf(cancelled)) if (r.child.reap() != null) cancelled.remove(r);
            }
        }
        for (Running r : cancelled) r.child.close();
        cancelled.clear();
    }

    /** One check process. */
    private final class Running {
        final Os.CheckRun run;
        final Child child;
        final long startedAt = System.nanoTime();
        final Consumer<Event> finished;
        final LastLine line = new LastLine();
        int out;
        final Pollable output = new Watch(() -> out, this::drain, () -> out < 0, this::closeOutput);
        final Pollable exit;

        Running(Os.CheckRun run, Child child, int out, Consumer<Event> finished) {
            this.run = run;
            this.child = child;
            this.exit = new Watch(child::pidfd, this::exited, child::gone, this::kill);
            this.out = out;
            this.finished = finished;
        }

        /** Reads what the check wrote so far; closes the output at its end. */
        void drain() {
            if (out < 0) return;
            try {
                int n;
                while ((n = Fds.read(out, buffer)) > 0) line.add(buffer, n);
                if (n == 0) closeOutput();
            } catch (PosixException e) {
                closeOutput();
            }
        }

        void closeOutput() {
            if (out >= 0) {
                Fds.closeQuietly(out);
                out = -1;
            }
        }

        /** SIGKILL to its process group (what it started too) and to itself, should it have left the group. */
        void kill() {
            try {
                child.signalGroup(Processes.SIGKILL);
                child.signal(Processes.SIGKILL);
            } catch (PosixException e) {
                // it is exiting anyway; its pidfd tells when
            }
        }

        /** Its pidfd is readable: clear what it left running, reap it, and tell the loop unless it was cancelled. */
        void exited() {
            if (child.gone()) return;
            drain();
            try {
                child.signalGroup(Processes.SIGKILL); // while it is unreaped its group id cannot be reused
            } catch (PosixException e) {
                // nothing left in the group
            }
            ExitStatus status = child.reap();
            if (status == null) return;
            long duration = System.nanoTime() - startedAt;
            closeOutput();
            if (cancelled.remove(this) || running.remove(run.id()) == null) return;
            boolean passed = !status.signaled() && status.code() == 0;
            finished.accept(new Event.CheckFinished(run.id(), run.workerPid(), run.kind(), passed,
                    passed ? "passed" : status.describe(), duration, line.last()));
        }
    }

    /** One fd of a check that the loop polls for input: its output socket, its pidfd. */
    private static final class Watch implements Pollable {
        private final IntSupplier fd;
        private final Runnable ready;
        private final BooleanSupplier closed;
        private final Runnable close;

        Watch(IntSupplier fd, Runnable ready, BooleanSupplier closed, Runnable close) {
            this.fd = fd;
            this.ready = ready;
            this.closed = closed;
            this.close = close;
        }

        @Override
        public int fd() {
            return fd.getAsInt();
        }

        @Override
        public short events() {
            return Poller.IN;
        }

        @Override
        public void ready(short revents) {
            ready.run();
        }

        @Override
        public boolean closed() {
            return closed.getAsBoolean();
        }

        @Override
        public void close() {
            close.run();
        }
    }

    /** The last non-blank line of a stream, in bounded memory: longer lines are cut at {@link #MAX} bytes. */
    static final class LastLine {
        static final int MAX = 512;
        private final byte[] current = new byte[MAX];
        private int length;
        private boolean cut;
        private String last;

        void add(byte[] bytes, int n) {
            for (int i = 0; i < n; i++) {
                byte b = bytes[i];
                if (b == '\n') {
                    String line = text();
                    if (line != null) last = line;
                    length = 0;
                    cut = false;
                } else if (length < MAX) {
                    current[length++] = b;
                } else {
                    cut = true;
                }
            }
        }

        /** The last line, or the unfinished one after it if it is not blank; null if nothing but blanks came. */
        String last() {
            String partial = text();
            return partial != null ? partial : last;
        }

        private String text() {
            String s = new String(current, 0, length, StandardCharsets.UTF_8).replaceAll("\\p{Cntrl}", " ").strip();
            return s.isEmpty() ? null : cut ? s + "…" : s;
        }
    }
}
