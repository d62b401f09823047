package dev.einhyrningsins.supervisor;

import java.time.Duration;
import java.util.Objects;

/**
 * The supervisor's tunables, already validated by the command line parser. Durations of
 * {@link Duration#ZERO} mean "off" where the option is optional.
 *
 * @param number              target number of workers (-n)
 * @param respawnInterval     base interval between gradual spawns (-s); backoff multiplies it
 * @param ackMode             how a worker proves it is ready (-m)
 * @param ackTimeout          unacked workers older than this are failed (--ack-timeout); ZERO = off
 * @param signalTimeout       signalled workers alive after this get SIGKILL (-t); ZERO = off
 * @param gracefulSignal      the signal asking a worker to drain and exit (--graceful-signal)
 * @param maxUnacked          new workers that may be unacked at once during an upgrade (--max-unacked)
 * @param maxUpgradeAdditional live processes allowed above the target during an upgrade; -1 = no cap
 * @param upgradeTimeout      an upgrade not fully acked after this is aborted; ZERO = off
 * @param upgradeMaxFailures  consecutive new workers dying before ack that abort an upgrade
 * @param verbosity           0 debug, 1 info, 2 errors only (einhorn's scale)
 */
public record Config(
        int number,
        Duration respawnInterval,
        AckMode ackMode,
        Duration ackTimeout,
        Duration signalTimeout,
        String gracefulSignal,
        int maxUnacked,
        int maxUpgradeAdditional,
        Duration upgradeTimeout,
        int upgradeMaxFailures,
        int verbosity) {

    /** Longest backoff between spawns of a crash-looping program (einhorn's MAX_SPINUP_INTERVAL). */
    public static final Duration MAX_SPAWN_INTERVAL = Duration.ofSeconds(30);

    public Config {
        Objects.requireNonNull(respawnInterval);
        Objects.requireNonNull(ackMode);
        Objects.requireNonNull(ackTimeout);
        Objects.requireNonNull(signalTimeout);
        Objects.requireNonNull(gracefulSignal);
        Objects.requireNonNull(upgradeTimeout);
        if (number < 1) throw new IllegalArgumentException("number must be >= 1");
        if (maxUnacked < 1) throw new IllegalArgumentException("maxUnacked must be >= 1");
        if (upgradeMaxFailures < 1) throw new IllegalArgumentException("upgradeMaxFailures must be >= 1");
    }

    /** einhorn's defaults for everything but the number of CPUs. */
    public static Config defaults(int cpus) {
        return new Config(1, Duration.ofSeconds(1), new AckMode.Timer(Duration.ofSeconds(1)),
                Duration.ZERO, Duration.ZERO, "USR2", Math.max(1, cpus), -1,
                Duration.ofSeconds(120), 3, 1);
    }

    public Config withNumber(int n) {
        return new Config(n, respawnInterval, ackMode, ackTimeout, signalTimeout, gracefulSignal,
                maxUnacked, maxUpgradeAdditional, upgradeTimeout, upgradeMaxFailures, verbosity);
    }

    public Config withAckMode(AckMode mode) {
        return new Config(number, respawnInterval, mode, ackTimeout, signalTimeout, gracefulSignal,
                maxUnacked, maxUpgradeAdditional, upgradeTimeout, upgradeMaxFailures, verbosity);
    }

    /** How a worker proves it is ready. */
    public sealed interface AckMode {
        /** Alive for {@code delay} after spawn counts as ready. */
        record Timer(Duration delay) implements AckMode {}

        /** Ready only after it sends {@code worker:ack} on the control socket. */
        record Manual() implements AckMode {}
    }
}
