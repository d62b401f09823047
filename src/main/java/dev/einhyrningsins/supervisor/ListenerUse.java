package dev.einhyrningsins.supervisor;

import dev.einhyrningsins.supervisor.Os.Holding;
import dev.einhyrningsins.supervisor.Os.Level;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * Whether workers use the sockets they inherit — the most asked question of every socket
 * supervisor: a worker that binds the port itself instead of using {@code EINHORN_FD_0}
 * crash-loops with EADDRINUSE. A process's descriptors are gone once it exits (a zombie keeps
 * none), so what a worker holds is looked at while it lives ({@link Os#holdsInherited}):
 * 10 ms after its spawn, then at doubling intervals (at most {@link #MAX_INTERVAL} apart)
 * while it has not acked, at its ack, and {@link #AFTER_ACK} later; never while it is asked
 * to go (a draining worker closes its sockets on purpose), never after a look found none
 * (it cannot get them back). Looks due close together are made in one wake-up
 * ({@link #nextLook}): a lone crash-looping worker is looked at on its own schedule, the
 * workers of one start or upgrade together. An idle supervisor makes none.
 *
 * <p>A worker is named when it exits before its ack, unasked, after a look found it holding
 * none of its sockets, or when a look finds an acked worker holding none: logged as a warning
 * once per generation (then at debug level), counted in {@code state} and the metrics.
 * Honestly undetectable: a worker that keeps the inherited sockets open and fails to bind
 * the address itself looks, from outside, like any worker that dies before its ack; one that
 * drops them and dies before the first look is named only if a later one of its generation
 * is seen (a crash loop repeats it).
 */
final class ListenerUse {
    static final long FIRST_LOOK = 10_000_000L;
    static final long MAX_INTERVAL = 5_000_000_000L;
    static final long AFTER_ACK = 5_000_000_000L;
    /** The finest grid looks fall on, 5 ms; the coarsest, 5 ms × 2^8 = 1.28 s (the most a look is put off). */
    static final long GRID = 5_000_000L;
    static final long MAX_GRID = GRID << 8;
    /** The grid is no finer than this per worker: 1000 workers' looks fall on multiples of 320 ms. */
    static final long PER_WORKER = 500_000L;

    private final Supervisor sup;
    private final Os os;
    private final boolean watching;
    private final TreeSet<Integer> named = new TreeSet<>();
    /** At most this many named generations are kept (the newest): one is added per upgrade whose workers ignore their sockets. */
    static final int MAX_NAMED = 32;
    private int workers;

    ListenerUse(Supervisor sup, Os os) {
        this.sup = sup;
        this.os = os;
        this.watching = os.inheritsSockets();
    }

    /** When {@code w} is to be looked at next; {@link WorkerTimer#NEVER} if not. */
    long dueAt(Worker w) {
        if (!watching || w.retiring() || w.withoutInherited()) return WorkerTimer.NEVER;
        return nextLook(w.spawnedAt, w.lookedAt(), w.acked() ? w.ack().at() : -1, w.acked(), sup.pool().size());
    }

    /**
     * When a worker spawned at {@code spawnedAt}, last looked at {@code lookedAt} (-1: not
     * yet), acked at {@code ackedAt} if {@code acked}, is looked at next, among {@code workers}
     * workers: unacked, {@link #FIRST_LOOK} after its spawn, then after as long again as it has
     * lived at its last look (doubling), at most {@link #MAX_INTERVAL}; acked, at its ack and
     * {@link #AFTER_ACK} later, then never. Each is put off to the next instant of a grid that
     * all workers share ({@link #grid}): as fine as half its interval, but no finer than
     * {@link #PER_WORKER} per worker, so a fleet started together is looked at in a few
     * wake-ups rather than one for each worker's instant.
     */
    static long nextLook(long spawnedAt, long lookedAt, long ackedAt, boolean acked, int workers) {
        long fleet = workers * PER_WORKER;
        if (acked) {
            if (lookedAt < ackedAt) return roundUp(ackedAt, grid(fleet));
            return lookedAt < ackedAt + AFTER_ACK ? roundUp(ackedAt + AFTER_ACK, MAX_GRID) : WorkerTimer.NEVER;
        }
        if (lookedAt < 0) return roundUp(spawnedAt + FIRST_LOOK, grid(fleet));
        long interval = Math.min(MAX_INTERVAL, Math.max(FIRST_LOOK, lookedAt - spawnedAt));
        return roundUp(lookedAt + interval, grid(Math.max(interval / 2, fleet)));
    }

    /**
     * The step of the grid looks fall on: the largest {@link #GRID} × 2^k that is at most
     * {@code atMost} (but at least {@link #GRID}, at most {@link #MAX_GRID}). The grids nest,
     * so looks on different steps still meet.
     */
    static long grid(long atMost) {
        long step = GRID;
        while (step * 2 <= atMost && step * 2 <= MAX_GRID) step *= 2;
        return step;
    }

    /** {@code t} rounded up to a multiple of {@code step}: looks of many workers fall on the same instants. */
    static long roundUp(long t, long step) {
        return Math.floorDiv(t + step - 1, step) * step;
    }

    /** The earliest look due. */
    long dueAt() {
        long next = WorkerTimer.NEVER;
        if (!watching) return next;
        for (Worker w : sup.pool().all()) next = Math.min(next, dueAt(w));
        return next;
    }

    /** Makes every look due by {@code now}. */
    void tick(long now) {
        if (!watching) return;
        for (Worker w : sup.pool().all()) {
            if (now >= dueAt(w)) look(w, now);
        }
    }

    private void look(Worker w, long now) {
        Holding h = os.holdsInherited(w.pid);
        w.looked(now, h == Holding.UNKNOWN ? null : h == Holding.HELD);
        if (h == Holding.NONE && w.acked()) name(w, true);
    }

    /** A worker was reaped: named if it died before its ack, unasked, after a look found none of its sockets. */
    void exited(Worker w) {
        if (watching && !w.acked() && !w.retiring() && w.withoutInherited()) name(w, false);
    }

    private void name(Worker w, boolean acked) {
        workers++;
        boolean first = named.add(w.generation);
        if (named.size() > MAX_NAMED) named.pollFirst(); // the oldest: long replaced, and state stays small
        String what = acked ? "is acked but holds none of the sockets it inherited: it does not serve them (it may listen "
                + "on an address of its own)"
                : "exited before its ack, and it held none of the sockets it inherited: it does not use them, and binding "
                + "the address itself fails with EADDRINUSE (the supervisor holds it)";
        sup.log(first ? Level.WARN : Level.DEBUG, "Worker " + w.describe() + " " + what + ". A worker must serve the "
                + "sockets it inherits: the descriptors in EINHORN_FD_0, EINHORN_FD_1, ... (3, 4, ... in -b order), or "
                + "LISTEN_FDS with --listen-fds" + (first ? " (said once per generation)" : ""));
        os.happened(new Happening.ListenersUnused(w.pid, w.slot, w.generation, acked, first));
    }

    /** What {@code state} shows: how many workers were named, and the generations they belonged to. */
    Map<String, Object> state() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("workers", workers);
        m.put("generations", new ArrayList<>(named));
        return m;
    }

    Snapshot.ListenerUseState snapshot() {
        return new Snapshot.ListenerUseState(workers, List.copyOf(named));
    }

    void restore(Snapshot.ListenerUseState s) {
        workers = s.workers();
        named.clear();
        named.addAll(s.generations());
    }
}
