package dev.einhyrningsins.checks;

import dev.einhyrningsins.posix.Child;
import dev.einhyrningsins.posix.ExitStatus;
import dev.einhyrningsins.posix.Fds;
import dev.einhyrningsins.posix.Pollable;
import dev.einhyrningsins.posix.Poller;
import dev.einhyrningsins.posix.PosixException;
import dev.einhyrningsins.posix.Processes;
import dev.einhyrningsins.posix.Sockets;
import dev.einhyrningsins.posix.Spawn;
import dev.einhyrningsins.shell.Children;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.function.Consumer;

/**
 * A short-lived helper process of the supervisor's own, not a worker: reload's installation
 * check, a health check. Started with posix_spawn in a process group of its own (the loop
 * thread never waits for it), with stdin, stdout and stderr on one end of a socket pair: the
 * loop polls the other end, keeping only the last line (stdin reads end of input), and the
 * pidfd. When it exits, whatever it left running in its group is SIGKILLed, it is reaped, and
 * {@code done} hears how it ended, unless it was {@link #cancel}led. It is registered in
 * {@link Children} (so an exit seen by the orphan reaper is handed back here) from its start
 * to its reaping. Loop thread only.
 */
public final class Subprocess implements Children.Helper {
    /** How it ended: its exit status, the last line it printed (null if none), and its run time. */
    public record Ended(ExitStatus status, String lastLine, long durationNanos) {
        public boolean passed() {
            return !status.signaled() && status.code() == 0;
        }
    }

    /** Output read per wake-up, at most. */
    static final int MAX_READ_PER_WAKEUP = 64 * 1024;
    /** How long {@link #close} waits for a killed helper to exit. */
    static final int CLOSE_WAIT_MILLIS = 1000;

    private final Child child;
    private final long startedAt = System.nanoTime();
    private final LastLine line = new LastLine();
    private final byte[] buffer = new byte[8192];
    private final Children children;
    private Consumer<Ended> done;
    private int output;
    private boolean reaped;
    private long bytesRead;

    private Subprocess(Child child, int output, Children children, Consumer<Ended> done) {
        this.child = child;
        this.output = output;
        this.children = children;
        this.done = done;
    }

    /**
     * Starts {@code argv} ({@code argv[0]} an absolute path) with environment {@code env} and
     * registers it in {@code children}.
     *
     * @throws PosixException if it cannot be started (nothing is left behind)
     */
    public static Subprocess start(List<String> argv, List<String> env, Children children, Consumer<Ended> done) {
        int[] pair = Sockets.socketPair();
        try {
            Fds.setNonBlocking(pair[0]);
            Sockets.shutdownOutput(pair[0]); // its stdin reads end of input
            Child child = Spawn.start(argv.getFirst(), argv, env, new int[0], Spawn.Stdio.all(pair[1]));
            Subprocess p = new Subprocess(child, pair[0], children, done);
            pair[0] = -1;
            children.helper(p);
            return p;
        } finally {
            Fds.closeQuietly(pair[1]);
            if (pair[0] >= 0) Fds.closeQuietly(pair[0]);
        }
    }

    public int pid() {
        return child.pid();
    }

    /** How much of its output has been read so far. */
    long bytesRead() {
        return bytesRead;
    }

    /** Not reaped yet. */
    public boolean running() {
        return !reaped;
    }

    /** What the loop polls for it: its output while open, and its pidfd. */
    public void pollables(List<Pollable> into) {
        if (reaped) return;
        if (output >= 0) into.add(new Watch(output, this::drain));
        into.add(new Watch(child.pidfd(), this::exited));
    }

    /** SIGKILL to its process group (what it started too) and to itself; it is reaped and reported as usual. */
    public void kill() {
        if (reaped) return;
        try {
            child.signalGroup(Processes.SIGKILL);
            child.signal(Processes.SIGKILL);
        } catch (PosixException e) {
            // exiting anyway: its pidfd tells when
        }
    }

    /** Kills it and reaps it when it exits, without telling anyone; returns its last line so far (null if none). */
    String cancel() {
        done = null;
        kill();
        drain();
        closeOutput();
        return line.last();
    }

    /** Its pidfd is readable (or the orphan reaper saw it exit): clear what it left running, reap it, report. */
    public void exited() {
        if (reaped) return;
        try {
            child.signalGroup(Processes.SIGKILL); // while it is unreaped its group id cannot be reused
        } catch (PosixException e) {
            // nothing left in the group
        }
        ExitStatus status = child.reap();
        if (status == null) return;
        reaped = true;
        drain(); // what it wrote before it exited (a writer that left its group is cut off at the bound)
        closeOutput();
        child.close();
        if (done != null) done.accept(new Ended(status, line.last(), System.nanoTime() - startedAt));
    }

    /**
     * Kills it now and reaps it if it exits within {@link #CLOSE_WAIT_MILLIS}, without telling
     * anyone (the supervisor is leaving, or exec'ing). One stuck in the kernel is left unreaped
     * rather than holding the supervisor up.
     */
    public void close() {
        if (reaped) return;
        reaped = true;
        done = null;
        closeOutput();
        try {
            child.signalGroup(Processes.SIGKILL);
        } catch (PosixException e) {
            // nothing left in the group
        }
        try {
            child.killAndReapWithin(CLOSE_WAIT_MILLIS);
        } finally {
            child.close();
        }
    }

    /**
     * Reads what it wrote, at most {@link #MAX_READ_PER_WAKEUP} bytes (a helper that writes
     * without pause must not hold the loop: the rest waits for the next poll); closes the
     * output at its end.
     */
    private void drain() {
        if (output < 0) return;
        try {
            int n = 0;
            for (int total = 0; total < MAX_READ_PER_WAKEUP
                    && (n = Fds.read(output, buffer, 0, Math.min(buffer.length, MAX_READ_PER_WAKEUP - total))) > 0; total += n) {
                line.add(buffer, n);
                bytesRead += n;
            }
            if (n == 0) closeOutput();
        } catch (PosixException e) {
            closeOutput();
        }
    }

    private void closeOutput() {
        if (output >= 0) {
            Fds.closeQuietly(output);
            output = -1;
        }
    }

    /** One fd of it for the loop's poll; the set is built afresh on every wake-up. */
    private record Watch(int fd, Runnable ready) implements Pollable {
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
            return false;
        }

        @Override
        public void close() {
            // the Subprocess owns the fd
        }
    }

    /** The last non-blank line of a stream, in bounded memory: longer lines are cut at {@link #MAX} bytes. */
    static final class LastLine {
        /** Control characters, shown as blanks (compiled once: a check's output may end a line at every byte). */
        private static final java.util.regex.Pattern CONTROL = java.util.regex.Pattern.compile("\\p{Cntrl}");
        static final int MAX = 512;
        private final byte[] current = new byte[MAX];
        private int length;
        private boolean cut;
        private String last;

        void add(byte[] bytes, int n) {
            for (int i = 0; i < n; i++) {
                byte b = bytes[i];
                if (b == '\n') {
                    String text = text();
                    if (text != null) last = text;
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
            String s = CONTROL.matcher(new String(current, 0, length, StandardCharsets.UTF_8)).replaceAll(" ").strip();
            return s.isEmpty() ? null : cut ? s + "…" : s;
        }
    }
}
