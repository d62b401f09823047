package dev.einhyrningsins.shell;

import dev.einhyrningsins.control.ReplyTo;
import dev.einhyrningsins.control.Request;
import dev.einhyrningsins.posix.Child;
import dev.einhyrningsins.posix.ExitStatus;
import dev.einhyrningsins.posix.Orphans;
import dev.einhyrningsins.posix.Pollable;
import dev.einhyrningsins.posix.Poller;
import dev.einhyrningsins.posix.Processes;
import dev.einhyrningsins.supervisor.Event;
import dev.einhyrningsins.supervisor.Supervisor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

/**
 * The loop thread: the only thread that touches the {@link Supervisor}. It polls the
 * wake-up fd together with one pidfd per child and the workers' {@code -g} channels; the
 * poll timeout is the core's next deadline. Other threads (signal handlers, the metrics
 * endpoint) only {@link #post} events. An event posted on the loop thread itself (a control
 * request read in this wake-up) wakes nothing: it is handled before the next poll, which does
 * not wait while one is queued.
 *
 * <p>As PID 1 or a child subreaper, orphans of the workers become our children too. Their
 * exits are not on any pidfd we poll: SIGCHLD ({@link #childSignal}) wakes the loop, which
 * then reaps every exited child that is not one of ours ({@link #reapOrphans}).
 */
public final class Loop implements AutoCloseable {
    private final ConcurrentLinkedQueue<Event> queue = new ConcurrentLinkedQueue<>();
    private final Poller poller = new Poller();
    private final Children children;
    private final Log log;
    /** SIGCHLD arrived (or a first look is due): exited orphans may be waiting to be reaped. */
    private final AtomicBoolean orphansMayHaveExited = new AtomicBoolean();
    private final List<Consumer<List<Pollable>>> sources = new ArrayList<>();
    private final List<Pollable> polled = new ArrayList<>();
    private final List<java.util.function.LongSupplier> wakeBys = new ArrayList<>();
    // poll arguments, reused from one wake-up to the next
    private int[] fds = new int[16];
    private short[] events = new short[16];
    private short[] revents = new short[16];
    private Object[] owners = new Object[16];
    private final java.util.PriorityQueue<Timer> timers = new java.util.PriorityQueue<>();
    /** The thread that runs the loop, once it runs. */
    private volatile Thread thread;
    /** Wake-ups so far: returns from poll. */
    private volatile long wakeUps;

    /** Something the shell itself has to do at a time (the watchdog, a helper's deadline). */
    private record Timer(long due, Runnable action) implements Comparable<Timer> {
        @Override
        public int compareTo(Timer o) {
            return Long.compare(due - o.due, 0);
        }
    }

    public Loop(Children children, Log log) {
        this.children = children;
        this.log = log;
    }

    /**
     * Thread-safe: queue an event and wake the loop (unless this is the loop's thread: it
     * handles the queue before it polls again). After {@link #close} the event is dropped.
     */
    public void post(Event event) {
        queue.add(event);
        if (Thread.currentThread() != thread) poller.wake();
    }

    /** How many times the loop has woken up (returned from poll) so far; any thread may ask. */
    public long wakeUps() {
        return wakeUps;
    }

    /**
     * Thread-safe: SIGCHLD arrived. Only wired up when orphans are re-parented to us
     * ({@link Orphans#adopted()}); call it once at start too, for orphans already waiting.
     */
    public void childSignal() {
        orphansMayHaveExited.set(true);
        poller.wake();
    }

    /** Thread-safe: a control request, with the handle its replies go to. */
    public void request(Request r, ReplyTo replyTo) {
        post(new Event.Command(r.command(), r.args(), r.pid(), r.user(), r.raw().get("request_id"), r.hasId(), replyTo));
    }

    /** Polls what {@code source} adds to the list at each wake-up (the control socket and its connections). */
    public void poll(Consumer<List<Pollable>> source) {
        sources.add(source);
    }

    /**
     * Wakes up by {@code when} ({@code System.nanoTime()} terms, {@code Long.MAX_VALUE} for never),
     * asked at each wake-up: a source that must look again though nothing is readable.
     */
    public void wakeBy(java.util.function.LongSupplier when) {
        wakeBys.add(when);
    }

    /** Runs {@code action} on the loop thread every {@code nanos} (the systemd watchdog), the first time at once. */
    public void every(long nanos, Runnable action) {
        repeat(System.nanoTime(), nanos, action);
    }

    private void repeat(long due, long nanos, Runnable action) {
        at(due, () -> {
            action.run();
            repeat(System.nanoTime() + nanos, nanos, action);
        });
    }

    /** Runs {@code action} once on the loop thread at {@code nanoTime} (or soon after). */
    public void at(long nanoTime, Runnable action) {
        timers.add(new Timer(nanoTime, action));
    }

    /** Runs until the supervisor has finished stopping. */
    public void run(Supervisor sup, Runnable started) {
        run(sup, false, started);
    }

    /** Runs until the supervisor has finished stopping; {@code resumed}: it took over from a previous process. */
    public void run(Supervisor sup, boolean resumed, Runnable started) {
        thread = Thread.currentThread();
        if (resumed) {
            sup.resume();
        } else {
            sup.start();
        }
        started.run();
        while (!sup.finished()) {
            runTimers();
            int n = pollSet();
            long wait = sup.nanosToNextDeadline();
            if (!timers.isEmpty()) wait = Math.min(wait, Math.max(0, timers.peek().due() - System.nanoTime()));
            for (java.util.function.LongSupplier w : wakeBys) {
                long at = w.getAsLong();
                if (at != Long.MAX_VALUE) wait = Math.min(wait, Math.max(0, at - System.nanoTime()));
            }
            if (!queue.isEmpty()) wait = 0; // posted on this thread since the last poll: no wake-up was written
            poller.await(fds, events, revents, n, timeoutMillis(wait));
            wakeUps++;
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
            if (orphansMayHaveExited.getAndSet(false)) reapOrphans(sup);
            handlePending(sup);
            sup.tick();
            log.verbosity(sup.verbosity());
        }
    }

    /** Hands every queued event to the core (also right before a reload's snapshot, so none is lost). */
    public void handlePending(Supervisor sup) {
        Event e;
        while ((e = queue.poll()) != null) sup.handle(e);
    }

    /** Takes the signals still queued, by name, in order (a reload hands them to the next process). */
    public List<String> takeSignals() {
        List<String> out = new ArrayList<>();
        for (java.util.Iterator<Event> it = queue.iterator(); it.hasNext(); ) {
            if (it.next() instanceof Event.SignalReceived s) {
                out.add(s.name());
                it.remove();
            }
        }
        return out;
    }

    private void runTimers() {
        long now = System.nanoTime();
        while (!timers.isEmpty() && now - timers.peek().due() >= 0) timers.poll().action().run();
    }

    private void reap(Child c, Supervisor sup) {
        if (c.gone()) return; // already reaped in this round (by reapOrphans)
        ExitStatus status = c.reap();
        if (status == null) return;
        children.reaped(c.pid());
        sup.handle(new Event.ChildExited(c.pid(), !status.signaled() && status.code() == 0, status.describe(),
                status.signaled(), status.code()));
    }

    /**
     * Reaps every exited child that is not one of our workers. {@code waitid(P_ALL, WNOWAIT)}
     * names an exited child without reaping it; a worker of ours goes the usual way (its
     * pidfd, then the core), anything else is reaped by its pid. A worker's pid cannot be
     * reused while it is unreaped and only this thread reaps, so a stranger's exit is never
     * taken for a worker's. The supervisor starts no process other than through
     * {@code RealOs.spawn} and helper processes ({@link Children.Helper}) (no ProcessBuilder): every child that is not in {@link Children}
     * is an orphan.
     */
    private void reapOrphans(Supervisor sup) {
        int pid;
        int lastOurs = 0;
        while ((pid = Orphans.peekExited()) > 0) {
            Child ours = children.get(pid);
            Children.Helper helper = children.helper(pid);
            if (ours != null || helper != null) {
                if (pid == lastOurs) return; // its pidfd did not let us reap it: never spin
                lastOurs = pid;
                if (ours != null) {
                    reap(ours, sup);
                } else {
                    helper.exited();
                }
                continue;
            }
            ExitStatus status = Orphans.reap(pid);
            if (status == null) return; // not reapable after all: never spin
            log.debug("Reaped orphan " + pid + " (not a worker; " + status.describe() + ")");
        }
    }

    /** Fills the poll arguments: every unreaped child's pidfd, then every open channel, then the sources'. */
    private int pollSet() {
        java.util.Collection<Child> all = children.view();
        List<Pollable> channels = polled;
        channels.clear();
        children.attached(channels);
        for (Consumer<List<Pollable>> source : sources) source.accept(channels);
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
            short wanted = ch.events();
            if (wanted == 0) continue; // it waits for the loop itself: hang-ups and errors are reported whatever it asks
            fds[k] = ch.fd();
            events[k] = wanted;
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
    public int stopAfterFailure(int gracefulSignal, long waitNanos) {
        for (Child c : children.all()) c.signal(gracefulSignal);
        children.stopHelpers();
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
        poller.close();
        children.close();
    }
}
