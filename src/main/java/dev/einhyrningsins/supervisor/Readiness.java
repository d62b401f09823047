package dev.einhyrningsins.supervisor;

import dev.einhyrningsins.supervisor.Config.AckMode;
import dev.einhyrningsins.supervisor.Os.Level;

/**
 * How a worker becomes ready: the ack timer, {@code worker:ack}, {@code READY=1} on its
 * notify socket (whichever {@code -m} says counts), then its ready check if there is one
 * ({@link Health}); and what happens when it does not within {@code --ack-timeout}. Pings and
 * a worker's other notify messages ({@code STATUS=}, {@code STOPPING=1}) come here too.
 */
final class Readiness {
    private final Supervisor sup;
    private final Os os;
    private final Health health;

    Readiness(Supervisor sup, Os os, Health health) {
        this.sup = sup;
        this.os = os;
        this.health = health;
    }

    /** The ack timer ran out ({@code -m SECONDS}): the worker lived long enough. */
    void timerElapsed(Worker w) {
        sup.log(Level.INFO, "Worker " + w.pid + " has been up for "
                + Settings.seconds(((AckMode.Timer) sup.config().ackMode()).delay()) + "s, so we are considering it alive.");
        claimedReady(w);
    }

    /** {@code worker:ack} from a worker (its channel, the control socket). */
    void manualAck(int pid) {
        if (sup.config().ackMode() instanceof AckMode.Timer) {
            sup.log(Level.ERROR, "Received a manual ACK for " + pid + ", but ack mode is timer. Ignoring ACK.");
            return;
        }
        Worker w = sup.pool().get(pid);
        if (w == null) {
            sup.log(Level.ERROR, "Could not find state for PID " + pid + "; ignoring ACK.");
            return;
        }
        if (w.acked() || w.checking()) {
            sup.log(Level.WARN, "Pid " + pid + " already ACKed; ignoring new ACK.");
            return;
        }
        sup.log(Level.INFO, "Received a manual ACK from " + pid);
        claimedReady(w);
    }

    /** {@code worker:ping}: remembered for the state and the ping watchdog. */
    void ping(Integer pid, Object rawPid, Object pingId) {
        Worker w = pid == null ? null : sup.pool().get(pid);
        if (w == null) {
            sup.log(Level.ERROR, "Could not find state for PID " + rawPid + "; ignoring ping.");
            return;
        }
        w.ping(os.nanoTime(), os.currentTimeMillis(), boundedPingId(pingId));
    }

    /** The longest ping id kept: a worker sends what it likes, the supervisor keeps a short text of it. */
    static final int MAX_PING_ID = 128;

    /**
     * A ping's id as the worker's state keeps it: a number or boolean as it is, anything else
     * (a string, or any JSON a client sends) as text of at most {@link #MAX_PING_ID} characters.
     */
    static Object boundedPingId(Object id) {
        if (id == null || id instanceof Boolean) return id;
        String text = id.toString();
        if (id instanceof Number && text.length() <= MAX_PING_ID) return id;
        return text.length() <= MAX_PING_ID ? text : text.substring(0, MAX_PING_ID);
    }

    /** The worker says it is ready: acked now, or with a ready check once that passes. */
    private void claimedReady(Worker w) {
        if (sup.config().health().readyCheck() == null) {
            ack(w);
        } else {
            health.claimedReady(w);
        }
    }

    /** The worker counts as acked. */
    void ack(Worker w) {
        w.ack(os.nanoTime(), os.currentTimeMillis());
        os.happened(new Happening.Acked(w.pid, w.slot, w.generation, w.ack().at() - w.spawnedAt));
        int streak = sup.backoff().reset();
        if (sup.rollout().isNew(w)) {
            sup.rollout().acked(w);
        } else {
            String mode = sup.config().ackMode() instanceof AckMode.Timer ? "timer" : Settings.Setting.ACK_MODE.show(sup.config());
            sup.log(Level.INFO, "Up to " + sup.pool().ackedServing() + " / " + sup.target() + " " + mode + " ACKs" + (streak > 0
                    ? ", breaking the streak of " + streak + " consecutive unacked workers dying" : ""));
        }
    }

    /** A worker's sd_notify message: READY=1 acks it (-m notify), STATUS= is kept, STOPPING=1 drains it. */
    void notified(Event.WorkerNotified n) {
        Worker w = sup.pool().get(n.pid());
        if (w == null) return;
        if (n.status() != null) w.status(n.status());
        if (n.ready() && !w.acked() && !w.checking() && !w.retiring()) {
            if (sup.config().ackMode() instanceof AckMode.Notify) {
                sup.log(Level.INFO, "Worker " + w.pid + " is ready (READY=1)");
                claimedReady(w);
            } else {
                sup.log(Level.DEBUG, "Worker " + w.pid + " said READY=1, but ack mode is not notify; ignoring it");
            }
        }
        if (n.stopping() && !w.retiring()) {
            sup.log(Level.INFO, "Worker " + w.describe() + " is stopping (STOPPING=1); it no longer counts toward "
                    + sup.target() + " workers");
            w.draining(os.nanoTime());
            health.cancel(w);
        }
    }

    /** Its ready check failed --ready-failures times in a row: retired, counted as a failure before its ack. */
    void readyFailed(Worker w, int failures) {
        sup.log(Level.WARN, "Worker " + w.pid + " (slot " + w.slot + ") failed its ready check " + failures
                + " times in a row (--ready-failures); treating it as failed");
        sup.backoff().died();
        sup.retire(w, sup.config().gracefulSignal());
        if (sup.rollout().isNew(w)) {
            sup.rollout().failed(w, "failed its ready check " + failures + " times in a row", "failed their ready check");
        }
    }

    /** It did not ack (or pass its ready check) within --ack-timeout: retired, counted as a failure. */
    void timedOut(Worker w) {
        String within = Settings.seconds(sup.config().ackTimeout()) + "s";
        boolean checking = w.checking();
        Worker.CheckResult check = w.ready.last();
        String last = check == null ? "" : " (last: " + Health.describe(check) + ")";
        sup.log(Level.WARN, "Worker " + w.pid + " (slot " + w.slot + ") has not " + (checking ? "passed its ready check" : "acked")
                + " within " + within + last + "; treating it as failed");
        sup.backoff().died();
        w.ackTimedOut(true);
        sup.retire(w, sup.config().gracefulSignal());
        if (sup.rollout().isNew(w)) {
            sup.rollout().failed(w, checking ? "did not pass its ready check within " + within + last : "did not ack within " + within,
                    checking ? "failed their ready check" : "failed before acking");
        }
    }
}
