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
 *
 * @param envGeneration the environment file's generation that new workers get
 */
public record Snapshot(ConfigState config, int target, boolean stopping, int stopRequests,
                       BackoffState backoff, RolloutState rollout, List<WorkerState> workers,
                       List<Map<String, Object>> recentExits, ListenerUseState listenerUse, int envGeneration) {

    public record ConfigState(int number, long respawnNanos, String ackMode, long ackDelayNanos, long ackTimeoutNanos,
                              long signalTimeoutNanos, String gracefulSignal, int maxUnacked, int maxUpgradeAdditional,
                              long upgradeTimeoutNanos, int upgradeMaxFailures, int verbosity, HealthState health,
                              DrainState drain) {

        static ConfigState of(Config c) {
            long delay = c.ackMode() instanceof Config.AckMode.Timer t ? t.delay().toNanos() : 0;
            HealthConfig h = c.health();
            return new ConfigState(c.number(), c.respawnInterval().toNanos(), Settings.Setting.ACK_MODE.show(c), delay,
                    c.ackTimeout().toNanos(), c.signalTimeout().toNanos(), c.gracefulSignal(), c.maxUnacked(),
                    c.maxUpgradeAdditional(), c.upgradeTimeout().toNanos(), c.upgradeMaxFailures(), c.verbosity(),
                    new HealthState(h.readyCheck(), h.liveCheck(), h.checkInterval().toNanos(), h.checkTimeout().toNanos(),
                            h.liveFailures(), h.readyFailures(), h.pingTimeout().toNanos(), h.maxWorkerRssMb(),
                            h.maxWorkerAge().toNanos()),
                    new DrainState(c.drain().shutdownDelay().toNanos(), c.drain().maxDraining(), c.drain().drainTimeout().toNanos()));
        }

        Config toConfig() {
            Config.AckMode mode = switch (ackMode) {
                case "manual" -> new Config.AckMode.Manual();
                case "notify" -> new Config.AckMode.Notify();
                default -> new Config.AckMode.Timer(Duration.ofNanos(ackDelayNanos));
            };
            return new Config(number, Duration.ofNanos(respawnNanos), mode, Duration.ofNanos(ackTimeoutNanos),
                    Duration.ofNanos(signalTimeoutNanos), gracefulSignal, maxUnacked, maxUpgradeAdditional,
                    Duration.ofNanos(upgradeTimeoutNanos), upgradeMaxFailures, verbosity, health.toConfig(), drain.toConfig());
        }
    }

    public record HealthState(String readyCheck, String liveCheck, long checkIntervalNanos, long checkTimeoutNanos,
                              int liveFailures, int readyFailures, long pingTimeoutNanos, int maxWorkerRssMb,
                              long maxWorkerAgeNanos) {
        HealthConfig toConfig() {
            return new HealthConfig(readyCheck, liveCheck, Duration.ofNanos(checkIntervalNanos),
                    Duration.ofNanos(checkTimeoutNanos), liveFailures, readyFailures, Duration.ofNanos(pingTimeoutNanos),
                    maxWorkerRssMb, Duration.ofNanos(maxWorkerAgeNanos));
        }
    }

    public record DrainState(long shutdownDelayNanos, int maxDraining, long drainTimeoutNanos) {
        DrainConfig toConfig() {
            return new DrainConfig(Duration.ofNanos(shutdownDelayNanos), maxDraining, Duration.ofNanos(drainTimeoutNanos));
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

    /**
     * @param holdsInherited what the last look at its descriptors found (null: nothing told yet)
     */
    public record WorkerState(int pid, int slot, int generation, long spawnedAt, long spawnedWall, Long ackedAt,
                              Long ackedWall, Long pingAt, Long pingWall, Object pingId, long claimedAt, ProbeState ready,
                              ProbeState live, String sick, long rssBytes, long rssAt, boolean retiring,
                              long firstRetiredAt, long retiredAt, boolean ackTimedOut, boolean killed, String status,
                              boolean saidStopping, List<SignalState> signals, Boolean holdsInherited,
                              int envGeneration) {}

    /**
     * Workers found not using their inherited sockets ({@code ListenerUse}): how many, and the
     * generations already named in the log (once each).
     */
    public record ListenerUseState(int workers, List<Integer> generations) {}

    /**
     * A core in the middle of everything a hand-over must carry: a smooth upgrade with a
     * follower, a failure behind it, a backoff, health checks with outcomes, pings, signals,
     * a retiring worker and recent exits — every field set. A new installation's
     * {@code --upgrade-check} reads it back, and the golden files of the hand-over are made
     * of it, so that a change of shape shows.
     */
    public static Snapshot sample() {
        HealthState health = new HealthState("curl -fs http://127.0.0.1:8080/ready", "test -e /proc/$EINHORN_WORKER_PID",
                1_000_000_000L, 5_000_000_000L, 3, 5, 30_000_000_000L, 512, 86_400_000_000_000L);
        ConfigState config = new ConfigState(4, 1_000_000_000L, "timer", 1_000_000_000L, 60_000_000_000L,
                30_000_000_000L, "USR2", 2, 1, 120_000_000_000L, 3, 1, health,
                new DrainState(5_000_000_000L, 2, 300_000_000_000L));
        CheckState passed = new CheckState(true, "exit 0", 12_000_000L, "ok", 1_764_000_000_500L);
        CheckState failed = new CheckState(false, "exit 1", 8_000_000L, "503 Service Unavailable", 1_764_000_000_900L);
        WorkerState serving = new WorkerState(4101, 0, 1, 1_000_000_000L, 1_764_000_000_000L, 2_000_000_000L,
                1_764_000_001_000L, 3_000_000_000L, 1_764_000_002_000L, "ping-7", 1_900_000_000L,
                new ProbeState(1_950_000_000L, 0, passed), new ProbeState(2_950_000_000L, 1, failed), null,
                52_428_800L, 2_900_000_000L, false, 0, 0, false, false, "serving", false, List.of(), true, 1);
        WorkerState retiring = new WorkerState(4102, 1, 1, 1_100_000_000L, 1_764_000_000_100L, 2_100_000_000L,
                1_764_000_001_100L, null, null, null, 2_000_000_000L, new ProbeState(2_050_000_000L, 0, passed),
                new ProbeState(0, 0, null), "live check failed 3 times in a row", 41_943_040L, 2_950_000_000L, true,
                3_500_000_000L, 3_500_000_000L, false, false, null, true,
                List.of(new SignalState("USR2", 1_764_000_003_500L)), null, 1);
        WorkerState upgrading = new WorkerState(4107, 1, 2, 3_400_000_000L, 1_764_000_003_400L, null, null, null,
                null, null, 0, new ProbeState(0, 0, null), new ProbeState(0, 0, null), null, 0, 0, false, 0, 0, false,
                false, null, false, List.of(), false, 2);
        Map<String, Object> last = new java.util.LinkedHashMap<>();
        last.put("generation", 1);
        last.put("mode", "smooth");
        last.put("outcome", "done");
        last.put("started_at", "2025-11-24T16:00:00Z");
        last.put("ended_at", "2025-11-24T16:00:02Z");
        last.put("message", "Upgrade done: 4 new workers acked");
        Map<String, Object> exit = new java.util.LinkedHashMap<>();
        exit.put("pid", 4106);
        exit.put("slot", 1);
        exit.put("generation", 2);
        exit.put("status", "exited with status 1");
        exit.put("success", false);
        exit.put("acked", false);
        exit.put("expected", false);
        exit.put("at", "2025-11-24T16:00:03.300Z");
        return new Snapshot(config, 4, false, 0, new BackoffState(1, true, 3_400_000_000L),
                new RolloutState(1, 2, new UpgradeState(2, false, 3_000_000_000L, 1_764_000_003_000L, 1, List.of("c1")),
                        last),
                List.of(serving, retiring, upgrading), List.of(exit), new ListenerUseState(1, List.of(2)), 2);
    }

    /** The pids of every worker in it. */
    public List<Integer> pids() {
        return workers.stream().map(WorkerState::pid).toList();
    }
}
