package dev.einhyrningsins.supervisor;

import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * The core's whole state as plain values, for handing it to the next supervisor process
 * when the supervisor replaces itself ({@code reload}): configuration, target, generations,
 * every worker with its slot, ack, signals and timers, the backoff, an upgrade in progress
 * and the history. Times are the monotonic clock (the same across exec) and wall millis.
 * Clients that follow an upgrade are named by strings the shell chooses.
 */
public record Snapshot(int format, ConfigState config, int target, boolean stopping, int stopRequests,
                       BackoffState backoff, RolloutState rollout, List<WorkerState> workers,
                       List<Map<String, Object>> recentExits) {

    /** Bumped when the shape changes; a supervisor refuses a hand-over of a format it does not know. */
    public static final int FORMAT = 2;

    public record ConfigState(int number, long respawnNanos, String ackMode, long ackDelayNanos, long ackTimeoutNanos,
                              long signalTimeoutNanos, String gracefulSignal, int maxUnacked, int maxUpgradeAdditional,
                              long upgradeTimeoutNanos, int upgradeMaxFailures, int verbosity, HealthState health) {

        static ConfigState of(Config c) {
            long delay = c.ackMode() instanceof Config.AckMode.Timer t ? t.delay().toNanos() : 0;
            HealthConfig h = c.health();
            return new ConfigState(c.number(), c.respawnInterval().toNanos(), Settings.Setting.ACK_MODE.show(c), delay,
                    c.ackTimeout().toNanos(), c.signalTimeout().toNanos(), c.gracefulSignal(), c.maxUnacked(),
                    c.maxUpgradeAdditional(), c.upgradeTimeout().toNanos(), c.upgradeMaxFailures(), c.verbosity(),
                    new HealthState(h.readyCheck(), h.liveCheck(), h.checkInterval().toNanos(), h.checkTimeout().toNanos(),
                            h.liveFailures(), h.pingTimeout().toNanos(), h.maxWorkerRssMb(), h.maxWorkerAge().toNanos()));
        }

        Config toConfig() {
            Config.AckMode mode = switch (ackMode) {
                case "manual" -> new Config.AckMode.Manual();
                case "notify" -> new Config.AckMode.Notify();
                default -> new Config.AckMode.Timer(Duration.ofNanos(ackDelayNanos));
            };
            return new Config(number, Duration.ofNanos(respawnNanos), mode, Duration.ofNanos(ackTimeoutNanos),
                    Duration.ofNanos(signalTimeoutNanos), gracefulSignal, maxUnacked, maxUpgradeAdditional,
                    Duration.ofNanos(upgradeTimeoutNanos), upgradeMaxFailures, verbosity, health.toConfig());
        }
    }

    public record HealthState(String readyCheck, String liveCheck, long checkIntervalNanos, long checkTimeoutNanos,
                              int liveFailures, long pingTimeoutNanos, int maxWorkerRssMb, long maxWorkerAgeNanos) {
        HealthConfig toConfig() {
            return new HealthConfig(readyCheck, liveCheck, Duration.ofNanos(checkIntervalNanos),
                    Duration.ofNanos(checkTimeoutNanos), liveFailures, Duration.ofNanos(pingTimeoutNanos), maxWorkerRssMb,
                    Duration.ofNanos(maxWorkerAgeNanos));
        }
    }

    public record BackoffState(int deaths, boolean spawned, long lastSpawnAt) {}

    public record UpgradeState(int generation, boolean fleet, long startedAt, long startedWall, int failures,
                               List<String> subscribers) {}

    public record RolloutState(int servingGeneration, int nextGeneration, UpgradeState current, Map<String, Object> last) {}

    public record SignalState(String signal, long atWall) {}

    /** How one check ended. */
    public record CheckState(boolean passed, String outcome, long durationNanos, String lastLine, long atWall) {}

    /**
     * One kind of check on a worker. A check in flight is not handed over (its process does
     * not cross the exec): the next one starts when the new process is back.
     */
    public record ProbeState(long endedAt, int failuresInRow, CheckState last) {}

    public record WorkerState(int pid, int slot, int generation, long spawnedAt, long spawnedWall, Long ackedAt,
                              Long ackedWall, Long pingAt, Long pingWall, Object pingId, long claimedAt, ProbeState ready,
                              ProbeState live, String sick, long rssBytes, long rssAt, boolean retiring,
                              long firstRetiredAt, long retiredAt, boolean ackTimedOut, boolean killed, String status,
                              boolean saidStopping, List<SignalState> signals) {}

    /** The pids of every worker in it. */
    public List<Integer> pids() {
        return workers.stream().map(WorkerState::pid).toList();
    }
}
