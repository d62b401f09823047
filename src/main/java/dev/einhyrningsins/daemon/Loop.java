package dev.einhyrningsins.daemon;

import dev.einhyrningsins.control.ReplyTo;
import dev.einhyrningsins.control.Request;
import dev.einhyrningsins.posix.Child;
import dev.einhyrningsins.posix.ExitStatus;
import dev.einhyrningsins.posix.Poller;
import dev.einhyrningsins.posix.Processes;
import dev.einhyrningsins.supervisor.Event;
import dev.einhyrningsins.supervisor.Supervisor;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;

/**
 * The loop thread: the only thread that touches the {@link Supervisor}. It polls the
 * wake-up fd together with one pidfd per child and the workers' {@code -g} channels; the
 * poll timeout is the core's next deadline. Other threads (signal handlers, the control
 * server) only {@link #post} events.
 */
final class Loop implements AutoCloseable {
    private final ConcurrentLinkedQueue<Event> queue = new ConcurrentLinkedQueue<>();
    private final Poller poller = new Poller();
    private final Children children;
    private final Checks checks;
    private final Log log;
    private final byte[] readBuffer = new byte[64 * 1024];
    // poll arguments, reused from one wake-up to the next
    private int[] fds = new int[16];
    private short[] events = new short[16];
    private short[] revents = new short[16];
    private Object[] owners = new Object[16];
    private long periodNanos;
    private Runnable periodic;
    private long periodicDue;

    Loop(Children children, Checks checks, Log log) {
        this.children = children;
        this.checks = checks;
        this.log = log;
    }

    /** The health checks it polls. */
    Checks checks() {
        return checks;
    }

    /** Thread-safe: queue an event and wake the loop. After {@link #close} the event is dropped. */
    void post(Event event) {
        queue.add(event);
        poller.wake();
    }

    /** Thread-safe: a control request, with the handle its replies go to. */
    void request(Request r, ReplyTo replyTo) {
        post(new Event.Command(r.command(), r.args(), r.pid(), r.user(), r.raw().get("request_id"), r.hasId(), replyTo));
    }

    /** A channel for a worker's {@code -g} socket (fd already non-blocking); it posts its requests here. */
    WorkerChannel channel(int fd, int pid) {
        return new WorkerChannel(fd, pid, this::request, log, readBuffer);
    }

    /** Runs {@code action} on the loop thread every {@code nanos} (the systemd watchdog), the first time at once. */
    void every(long nanos, Runnable action) {
        periodNanos = nanos;
        periodic = action;
        periodicDue = System.nanoTime();
    }

    /** Runs until the supervisor has finished stopping. */
    void run(Supervisor sup, Runnable started) {
        sup.start();
        started.run();
        while (!sup.finished()) {
            runPeriodic();
            int n = pollSet();
            long wait = sup.nanosToNextDeadline();
            if (periodic != null) wait = Math.min(wait, Math.max(0, periodicDue - System.nanoTime()));
            poller.await(fds, events, revents, n, timeoutMillis(wait));
            for (int i = 0; i < n; i++) {
                if (revents[i] == 0) continue;
                switch (owners[i]) {
                    case Child c -> reap(c, sup);
                    case Pollable p -> {
                        if (!p.closed()) p.ready(revents[i]);
                    }
                    default -> throw new IllegalStateException("unknown poll entry " + owners[i]);
                }
            }
            Event e;
            while ((e = queue.poll()) != null) sup.handle(e);
            sup.tick();
            log.verbosity(sup.verbosity());
        }
    }

    private void runPeriodic() {
        if (periodic != null && System.nanoTime() - periodicDue >= 0) {
            periodic.run();
            periodicDue = System.nanoTime() + periodNanos;
        }
    }

    private void reap(Child c, Supervisor sup) {
        ExitStatus status = c.reap();
        if (status == null) return;
        children.reaped(c.pid());
        sup.handle(new Event.ChildExited(c.pid(), !status.signaled() && status.code() == 0, status.describe(),
                status.signaled(), status.code()));
    }

    /** Fills the poll arguments: every unreaped child's pidfd, then every open channel, then the checks. */
    private int pollSet() {
        List<Child> all = children.all();
        List<Pollable> channels = children.attached();
        channels.addAll(checks.pollables());
        int n = all.size() + channels.size();
        if (n > fds.length) {
            int size = Math.max(n, fds.length * 2);
            fds = Arrays.copyOf(fds, size);
            events = Arrays.copyOf(events, size);
            revents = Arrays.copyOf(revents, size);
            owners = Arrays.copyOf(owners, size);
        }
        int k = 0;
        for (Child c : all) {
            fds[k] = c.pidfd();
            events[k] = Poller.IN;
            owners[k++] = c;
        }
        for (Pollable ch : channels) {
            fds[k] = ch.fd();
            events[k] = ch.events();
            owners[k++] = ch;
        }
        Arrays.fill(owners, k, owners.length, null);
        return k;
    }

    /** poll's timeout: -1 for no deadline, else the nanos rounded up to whole milliseconds. */
    private static int timeoutMillis(long nanos) {
        if (nanos == Long.MAX_VALUE) return -1;
        return (int) Math.min(Integer.MAX_VALUE, (nanos + 999_999) / 1_000_000);
    }

    /**
     * The way out when the loop itself failed (an exception or Error escaped the core): no
     * more decisions, just make sure no worker is left behind. Every child gets
     * {@code gracefulSignal}; those still running after {@code waitNanos} get SIGKILL, with
     * their process groups.
     *
     * @return how many children had to be killed
     */
    int stopAfterFailure(int gracefulSignal, long waitNanos) {
        for (Child c : children.all()) c.signal(gracefulSignal);
        checks.close();
        awaitExits(System.nanoTime() + waitNanos);
        int killed = children.size();
        for (Child c : children.all()) {
            c.signalGroup(Processes.SIGKILL);
            c.signal(Processes.SIGKILL);
        }
        awaitExits(System.nanoTime() + TimeUnit.SECONDS.toNanos(5));
        return killed;
    }

    private void awaitExits(long deadline) {
        while (!children.isEmpty()) {
            long left = deadline - System.nanoTime();
            if (left <= 0) return;
            List<Child> all = children.all();
            int n = all.size();
            int[] pidfds = new int[n];
            short[] in = new short[n];
            short[] out = new short[n];
            for (int i = 0; i < n; i++) {
                pidfds[i] = all.get(i).pidfd();
                in[i] = Poller.IN;
            }
            poller.await(pidfds, in, out, n, (int) Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
            for (int i = 0; i < n; i++) {
                if (out[i] != 0 && all.get(i).reap() != null) children.reaped(all.get(i).pid());
            }
        }
    }

    @Override
    public void close() {
        checks.close();
        poller.close();
        children.close();
    }
}
