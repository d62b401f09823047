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
    public static final int FORMAT = 1;

    public record ConfigState(int number, long respawnNanos, String ackMode, long ackDelayNanos, long ackTimeoutNanos,
                              long signalTimeoutNanos, String gracefulSignal, int maxUnacked, int maxUpgradeAdditional,
                              long upgradeTimeoutNanos, int upgradeMaxFailures, int verbosity) {

        static ConfigState of(Config c) {
            long delay = c.ackMode() instanceof Config.AckMode.Timer t ? t.delay().toNanos() : 0;
            return new ConfigState(c.number(), c.respawnInterval().toNanos(), Settings.Setting.ACK_MODE.show(c), delay,
                    c.ackTimeout().toNanos(), c.signalTimeout().toNanos(), c.gracefulSignal(), c.maxUnacked(),
                    c.maxUpgradeAdditional(), c.upgradeTimeout().toNanos(), c.upgradeMaxFailures(), c.verbosity());
        }

        Config toConfig() {
            Config.AckMode mode = switch (ackMode) {
                case "manual" -> new Config.AckMode.Manual();
                case "notify" -> new Config.AckMode.Notify();
                default -> new Config.AckMode.Timer(Duration.ofNanos(ackDelayNanos));
            };
            return new Config(number, Duration.ofNanos(respawnNanos), mode, Duration.ofNanos(ackTimeoutNanos),
                    Duration.ofNanos(signalTimeoutNanos), gracefulSignal, maxUnacked, maxUpgradeAdditional,
                    Duration.ofNanos(upgradeTimeoutNanos), upgradeMaxFailures, verbosity);
        }
    }

    public record BackoffState(int deaths, boolean spawned, long lastSpawnAt) {}

    public record UpgradeState(int generation, boolean fleet, long startedAt, long startedWall, int failures,
                               List<String> subscribers) {}

    public record RolloutState(int servingGeneration, int nextGeneration, UpgradeState current, Map<String, Object> last) {}

    public record SignalState(String signal, long atWall) {}

    public record WorkerState(int pid, int slot, int generation, long spawnedAt, long spawnedWall, Long ackedAt,
                              Long ackedWall, Long pingWall, Object pingId, boolean retiring, long firstRetiredAt,
                              long retiredAt, boolean ackTimedOut, boolean killed, String status, boolean saidStopping,
                              List<SignalState> signals) {}

    /** The pids of every worker in it. */
    public List<Integer> pids() {
        return workers.stream().map(WorkerState::pid).toList();
    }
}
