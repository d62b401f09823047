package dev.einhyrningsins.daemon;

import dev.einhyrningsins.posix.ExitStatus;
import dev.einhyrningsins.posix.Posix;
import dev.einhyrningsins.supervisor.Event;
import dev.einhyrningsins.supervisor.Supervisor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * The loop thread: the only thread that touches the {@link Supervisor}. It polls the wake-up
 * eventfd together with one pidfd per child; the poll timeout is the core's next deadline.
 * Other threads (signal handlers, control connections) only {@link #post} events.
 */
final class Loop implements AutoCloseable {
    private final ConcurrentLinkedQueue<Event> queue = new ConcurrentLinkedQueue<>();
    private final int wakeFd = Posix.eventfd();
    /** pid → pidfd of every unreaped child; loop thread only. */
    private final Map<Integer, Integer> pidfds = new LinkedHashMap<>();
    private final Log log;

    Loop(Log log) {
        this.log = log;
    }

    /** Thread-safe: queue an event and wake the loop. */
    void post(Event event) {
        queue.add(event);
        Posix.eventfdSignal(wakeFd);
    }

    void track(int pid, int pidfd) {
        pidfds.put(pid, pidfd);
    }

    /** The pidfd of an unreaped child, or null once it has been reaped. */
    Integer pidfd(int pid) {
        return pidfds.get(pid);
    }

    List<Integer> children() {
        return new ArrayList<>(pidfds.keySet());
    }

    /** Runs until the supervisor has finished stopping. */
    void run(Supervisor sup, Runnable started) {
        sup.start();
        started.run();
        while (!sup.finished()) {
            int n = pidfds.size();
            int[] fds = new int[n + 1];
            int[] pids = new int[n + 1];
            boolean[] ready = new boolean[n + 1];
            fds[0] = wakeFd;
            int k = 1;
            for (Map.Entry<Integer, Integer> e : pidfds.entrySet()) {
                pids[k] = e.getKey();
                fds[k++] = e.getValue();
            }
            Posix.poll(fds, ready, timeoutMillis(sup.nextDeadline()));
            if (ready[0]) Posix.eventfdDrain(wakeFd);
            for (int i = 1; i <= n; i++) {
                if (!ready[i]) continue;
                ExitStatus status = Posix.waitPidfd(fds[i]);
                if (status == null) continue;
                pidfds.remove(pids[i]);
                Posix.close(fds[i]);
                sup.handle(new Event.ChildExited(pids[i], !status.signaled() && status.code() == 0, status.describe()));
            }
            Event e;
            while ((e = queue.poll()) != null) sup.handle(e);
            sup.tick();
            log.verbosity(sup.verbosity());
        }
    }

    private static int timeoutMillis(long deadline) {
        if (deadline == Long.MAX_VALUE) return -1;
        long nanos = deadline - System.nanoTime();
        if (nanos <= 0) return 0;
        return (int) Math.min(Integer.MAX_VALUE, (nanos + 999_999) / 1_000_000);
    }

    @Override
    public void close() {
        for (int fd : pidfds.values()) Posix.close(fd);
        pidfds.clear();
        Posix.close(wakeFd);
    }
}
