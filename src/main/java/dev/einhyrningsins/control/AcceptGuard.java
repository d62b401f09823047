package dev.einhyrningsins.control;

import dev.einhyrningsins.posix.Fds;
import java.io.Closeable;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongSupplier;

/**
 * Accepting on the control socket through its failures, so that the control plane stays an
 * operator's and never spins: {@link #SPARE_FDS} descriptors kept in reserve (open on
 * /dev/null) for when the process runs out of them (workers took them all): one is given up to
 * accept the client waiting in the queue, so that {@code state}, {@code dec} or
 * {@code set_workers} still get through. With none left, or after any other failure, accepting
 * pauses {@link #PAUSE_NANOS} (the client waits in the listen queue, which would otherwise wake
 * the loop at every turn). Each kind of trouble is logged once a minute at most.
 */
final class AcceptGuard implements Closeable {
    /** Descriptors kept in reserve. */
    static final int SPARE_FDS = 4;
    /** How long accepting waits when a client cannot be taken. */
    static final long PAUSE_NANOS = 100_000_000L;
    private static final long LOG_EVERY_NANOS = 60_000_000_000L;

    private final LongSupplier clock;
    private final ControlServer.Log log;
    private final List<FileChannel> spares = new ArrayList<>();
    /** Until when accepting waits; 0 for not waiting. */
    private long pausedUntil;
    private long pauses;
    private boolean outOfFds;
    private long outOfFdsLogged;
    private long failedLogged;

    AcceptGuard(LongSupplier clock, ControlServer.Log log) {
        this.clock = clock;
        this.log = log;
        refill();
    }

    /**
     * The next client waiting on {@code server}; null when none waits (the spares are refilled
     * then) or when this one cannot be taken now (accepting pauses).
     */
    SocketChannel accept(ServerSocketChannel server) {
        SocketChannel ch;
        try {
            ch = server.accept();
        } catch (IOException e) {
            if (!outOfDescriptors(e)) {
                long now = clock.getAsLong();
                if (failedLogged == 0 || now - failedLogged >= LOG_EVERY_NANOS) {
                    failedLogged = now == 0 ? 1 : now;
                    log.warn("control socket accept failed: " + e.getMessage() + "; trying again in "
                            + PAUSE_NANOS / 1_000_000 + " ms (at most one such line a minute)");
                }
                pause();
                return null;
            }
            return withASpare(server);
        }
        if (ch == null) refill();
        return ch;
    }

    private static boolean outOfDescriptors(IOException e) {
        String m = e.getMessage();
        return m != null && m.contains("Too many open files");
    }

    /** Out of descriptors: a spare makes room for the client waiting in the queue; with none left, a pause. */
    private SocketChannel withASpare(ServerSocketChannel server) {
        outOfFds = true;
        long now = clock.getAsLong();
        if (outOfFdsLogged == 0 || now - outOfFdsLogged >= LOG_EVERY_NANOS) {
            outOfFdsLogged = now == 0 ? 1 : now;
            log.warn("Out of file descriptors (RLIMIT_NOFILE " + Fds.limit() + "): control connections are served from the "
                    + SPARE_FDS + " kept in reserve; lower the number of workers (dec, set_workers) or raise the limit"
                    + " (at most one such line a minute)");
        }
        while (!spares.isEmpty()) {
            closeQuietly(spares.removeLast());
            try {
                SocketChannel ch = server.accept();
                if (ch == null) refill(); // the client left meanwhile: the spare goes back to the reserve
                return ch;
            } catch (IOException again) {
                if (!outOfDescriptors(again)) return null;
            }
        }
        pause();
        return null;
    }

    private void pause() {
        pauses++;
        pausedUntil = clock.getAsLong() + PAUSE_NANOS;
        if (pausedUntil == 0) pausedUntil = 1;
    }

    /** Whether accepting may go on now (a pause that is over is forgotten). */
    boolean open() {
        if (pausedUntil != 0 && clock.getAsLong() - pausedUntil < 0) return false;
        pausedUntil = 0;
        return true;
    }

    /** When a pause ends, in the clock's terms; {@code Long.MAX_VALUE} if none runs. */
    long wakeAt() {
        return pausedUntil == 0 ? Long.MAX_VALUE : pausedUntil;
    }

    /** Times accepting paused. */
    long pauses() {
        return pauses;
    }

    /** Opens the spares that are missing, as far as the process has room; the end of an episode is logged. */
    void refill() {
        while (spares.size() < SPARE_FDS) {
            try {
                spares.add(FileChannel.open(Path.of("/dev/null"), StandardOpenOption.READ));
            } catch (IOException | RuntimeException e) {
                return;
            }
        }
        if (outOfFds) {
            outOfFds = false;
            log.debug("File descriptors are back: the control plane's " + SPARE_FDS + " spares are open again");
        }
    }

    @Override
    public void close() {
        spares.forEach(AcceptGuard::closeQuietly);
        spares.clear();
    }

    private static void closeQuietly(Closeable c) {
        try {
            c.close();
        } catch (IOException ignored) {
            // nothing to do
        }
    }
}
