package dev.einhyrningsins.daemon;

import dev.einhyrningsins.posix.Child;
import dev.einhyrningsins.posix.ExitStatus;
import dev.einhyrningsins.posix.Fds;
import dev.einhyrningsins.posix.Poller;
import dev.einhyrningsins.posix.PosixException;
import dev.einhyrningsins.posix.Processes;
import dev.einhyrningsins.posix.Sockets;
import dev.einhyrningsins.posix.Spawn;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.function.BiConsumer;

/**
 * A short-lived helper process of the supervisor's own (not a worker): started with
 * posix_spawn, its standard output and error captured through a socket pair, watched by the
 * loop through its pidfd, killed if it outlives its deadline. The loop thread only spawns and
 * polls, so a helper that hangs cannot hold the supervisor up. When it ends, {@code done}
 * gets its exit status and the last line it printed.
 */
final class Subprocess implements Pollable {
    private static final int KEEP = 4096;

    private final Child child;
    private final int output;
    private final long deadline;
    private final BiConsumer<ExitStatus, String> done;
    private final StringBuilder tail = new StringBuilder();
    private final byte[] buffer = new byte[KEEP];
    private boolean finished;

    private Subprocess(Child child, int output, long deadline, BiConsumer<ExitStatus, String> done) {
        this.child = child;
        this.output = output;
        this.deadline = deadline;
        this.done = done;
    }

    /**
     * Starts {@code argv} ({@code argv[0]} an absolute path) with {@code env}, stdin from
     * {@code stdin} (-1: ours), and registers it to be polled.
     *
     * @throws PosixException if it cannot be started
     */
    static Subprocess start(List<String> argv, List<String> env, int stdin, long timeoutNanos, Children children,
                            BiConsumer<ExitStatus, String> done) {
        int[] pair = Sockets.socketPair();
        try {
            Fds.setNonBlocking(pair[0]);
            Child child = Spawn.start(argv.getFirst(), argv, env, new int[0], new Spawn.Stdio(stdin, pair[1], pair[1]));
            Subprocess p = new Subprocess(child, pair[0], System.nanoTime() + timeoutNanos, done);
            pair[0] = -1;
            children.helper(child.pid(), p);
            return p;
        } finally {
            Fds.closeQuietly(pair[1]);
            if (pair[0] >= 0) Fds.closeQuietly(pair[0]);
        }
    }

    /** Its pidfd; its output is read when it has ended (a helper says little). */
    @Override
    public int fd() {
        return child.pidfd();
    }

    @Override
    public short events() {
        return Poller.IN;
    }

    /** When it is killed if it is still running. */
    long deadline() {
        return deadline;
    }

    /** Kills it if it is still running (its deadline passed); it is then reaped as usual. */
    void kill() {
        if (!finished) child.signal(Processes.SIGKILL);
    }

    @Override
    public void ready(short revents) {
        if (finished) return;
        drainOutput();
        ExitStatus status = child.reap();
        if (status == null) return;
        drainOutput();
        finished = true;
        Fds.closeQuietly(output);
        String text = tail.toString().strip();
        String last = text.isEmpty() ? "" : text.substring(text.lastIndexOf('\n') + 1);
        done.accept(status, last);
    }

    private void drainOutput() {
        try {
            int n;
            while ((n = Fds.read(output, buffer)) > 0) {
                tail.append(new String(buffer, 0, n, StandardCharsets.UTF_8));
                if (tail.length() > KEEP) tail.delete(0, tail.length() - KEEP);
            }
        } catch (PosixException e) {
            // the helper's output is gone: keep what we have
        }
    }

    @Override
    public boolean closed() {
        return finished;
    }

    /** Kills and reaps it (the supervisor is leaving). */
    @Override
    public void close() {
        if (!finished) {
            finished = true;
            child.killAndReap();
            Fds.closeQuietly(output);
        }
    }
}
