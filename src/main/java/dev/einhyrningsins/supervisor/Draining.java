package dev.einhyrningsins.supervisor;

import dev.einhyrningsins.supervisor.Os.Level;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;

/**
 * Letting workers go within bounds. The stop (TERM and INT: the first drains every worker,
 * the next sends TERM to their process groups) and its delay ({@code --shutdown-delay}): on
 * the first TERM or INT the supervisor reports not ready while the workers keep serving (and
 * are replaced if they die), and only when the delay is over (or at the next TERM or INT)
 * asks them to go, as a load balancer needs to stop routing to it first. The retiring workers' bounds: at most
 * {@code --max-draining} generations retire at once (an upgrade that would exceed it first
 * ends the oldest retiring generations), and a retiring worker outliving
 * {@code --drain-timeout} is ended. Ending means SIGKILL to the worker and its process group.
 * Nothing here stores a deadline derived from a setting: a {@code config} change applies at once.
 */
final class Draining {
    private final Supervisor sup;
    private final Os os;
    private int stopRequests;
    private boolean delaying;
    private long delayedAt;

    Draining(Supervisor sup, Os os) {
        this.sup = sup;
        this.os = os;
    }

    // ------------------------------------------------------------------ the stop and its delay

    /**
     * INT or TERM: the first drains every worker (after the shutdown delay, if there is one;
     * the next then ends the delay), the one after sends TERM to their process groups.
     */
    void stop(String signal) {
        Config c = sup.config();
        int workers = sup.pool().size();
        int requests = ++stopRequests;
        if (requests == 1 && !sup.stopBegan() && c.drain().shutdownDelay().isPositive()) {
            delay(signal);
        } else if (delaying) {
            sup.log(Level.INFO, "Got SIG" + signal + " again: skipping the rest of the shutdown delay; sending "
                    + c.gracefulSignal() + " to " + workers + " workers and exiting when they are gone");
            sup.die(c.gracefulSignal());
        } else if (requests == 1) {
            sup.log(Level.INFO, "Got SIG" + signal + ": sending " + c.gracefulSignal() + " to " + workers
                    + " workers and exiting when they are gone");
            sup.die(c.gracefulSignal());
        } else {
            sup.log(Level.WARN, "Got SIG" + signal + " again: sending TERM to the process groups of " + workers + " workers");
            for (Worker w : sup.pool().all()) {
                w.signalled("TERM", os.currentTimeMillis());
                os.signalGroup(w.pid, "TERM");
                os.happened(new Happening.Signalled(w.pid, "TERM", Happening.SignalReason.FORWARD));
            }
        }
    }

    /** TERMs and INTs received, for the hand-over. */
    int stopRequests() {
        return stopRequests;
    }

    void stopRequests(int n) {
        stopRequests = n;
    }

    /** Whether a stop waits for its delay to end: not ready, the workers serving on. */
    boolean delaying() {
        return delaying;
    }

    /** The first TERM or INT with a shutdown delay: not ready from now on; the stop follows when the delay is over. */
    private void delay(String signal) {
        Config c = sup.config();
        if (sup.rollout().active()) sup.rollout().end(false, "Upgrade interrupted: the supervisor is stopping");
        delaying = true;
        delayedAt = os.nanoTime();
        Duration delay = c.drain().shutdownDelay();
        sup.log(Level.INFO, "Got SIG" + signal + ": not ready from now on; the " + sup.pool().size() + " workers keep serving "
                + "for the shutdown delay of " + Settings.seconds(delay) + "s, then get " + c.gracefulSignal()
                + " (SIG" + signal + " again stops at once)");
        os.happened(new Happening.ShutdownDelayed(signal, delay.toNanos()));
    }

    /** When the delay ends; {@link WorkerTimer#NEVER} if no stop waits. */
    long dueAt() {
        return delaying ? delayedAt + sup.config().drain().shutdownDelay().toNanos() : WorkerTimer.NEVER;
    }

    /** How long the delay still runs, in seconds as replies write them. */
    String left() {
        return Settings.seconds(Duration.ofNanos(Math.max(0, dueAt() - os.nanoTime())));
    }

    /** Stops once the delay is over. */
    void tick(long now) {
        if (delaying && now >= dueAt()) {
            sup.log(Level.INFO, "The shutdown delay is over: sending " + sup.config().gracefulSignal() + " to "
                    + sup.pool().size() + " workers and exiting when they are gone");
            sup.die(sup.config().gracefulSignal());
        }
    }

    /** The stop began: the delay is over or was skipped. */
    void ended() {
        delaying = false;
    }

    // ------------------------------------------------------------------ bounds on retiring workers

    /**
     * An upgrade starts, and it will retire every worker that serves now: with
     * {@code --max-draining N}, the oldest generations whose workers are all retiring already
     * are ended until no more than N generations will be retiring. A generation with a
     * serving worker is never ended.
     */
    void beforeUpgrade() {
        int limit = sup.config().drain().maxDraining();
        if (limit == 0) return;
        TreeSet<Integer> serving = new TreeSet<>();
        TreeSet<Integer> draining = new TreeSet<>();
        for (Worker w : sup.pool().all()) {
            if (!w.killed()) (w.retiring() ? draining : serving).add(w.generation);
        }
        draining.removeAll(serving);
        while (serving.size() + draining.size() > limit && !draining.isEmpty()) {
            int generation = draining.pollFirst();
            List<Worker> ending = new ArrayList<>();
            for (Worker w : sup.pool().all()) {
                if (w.generation == generation && !w.killed()) ending.add(w);
            }
            sup.log(Level.WARN, "At most " + limit + " generation" + (limit == 1 ? "" : "s") + " may be retiring at once "
                    + "(--max-draining): ending generation " + generation + ", " + ending.size() + " worker"
                    + (ending.size() == 1 ? "" : "s") + " still draining, with SIGKILL to "
                    + (ending.size() == 1 ? "its process group" : "their process groups"));
            for (Worker w : ending) end(w, Happening.SignalReason.MAX_DRAINING);
        }
    }

    /** When {@code w} outlives {@code --drain-timeout}: its first retirement plus the timeout. */
    static long drainDueAt(Worker w, Config c) {
        Duration timeout = c.drain().drainTimeout();
        return w.retiring() && !w.killed() && !timeout.isZero() ? w.firstRetiredAt() + timeout.toNanos() : WorkerTimer.NEVER;
    }

    /** A retiring worker outlived {@code --drain-timeout}. */
    void timedOut(Worker w) {
        sup.log(Level.WARN, "Worker " + w.describe() + " is still draining " + Settings.seconds(sup.config().drain().drainTimeout())
                + "s after it was asked to go (--drain-timeout); sending SIGKILL to its process group");
        end(w, Happening.SignalReason.DRAIN_TIMEOUT);
    }

    /** SIGKILL to a worker and its process group (what it started that stayed in its group). */
    private void end(Worker w, Happening.SignalReason reason) {
        w.kill(os.currentTimeMillis());
        os.signalGroup(w.pid, "KILL");
        os.signal(w.pid, "KILL");
        os.happened(new Happening.Signalled(w.pid, "KILL", reason));
    }
}
