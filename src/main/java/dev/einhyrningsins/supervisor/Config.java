package dev.einhyrningsins.supervisor;

import java.time.Duration;
import dev.einhyrningsins.supervisor.Settings.Setting;
import java.util.Objects;

import static dev.einhyrningsins.supervisor.Settings.Setting.*;

/**
 * The supervisor's tunables, already validated against {@link Settings}' rules (by the command
 * line parser, or by the {@code config} control command at run time). Durations of
 * {@link Duration#ZERO} mean "off" where the option is optional.
 *
 * @param number              target number of workers (-n), 1..{@link #MAX_WORKERS}
 * @param respawnInterval     base interval between gradual spawns (-s); backoff multiplies it
 * @param ackMode             how a worker proves it is ready (-m); a ZERO timer acks at the next tick
 * @param ackTimeout          unacked workers older than this are failed (--ack-timeout); ZERO = off
 * @param signalTimeout       signalled workers alive after this get SIGKILL (-t); ZERO = off
 * @param gracefulSignal      the signal asking a worker to drain and exit (--graceful-signal)
 * @param maxUnacked          new workers that may be unacked at once during an upgrade (--max-unacked)
 * @param maxUpgradeAdditional live processes allowed above the target during an upgrade; {@link #UNLIMITED} (-1) = no cap
 * @param upgradeTimeout      an upgrade not fully acked after this is aborted; ZERO = off
 * @param upgradeMaxFailures  consecutive new workers dying before ack that abort an upgrade
 * @param verbosity           0 debug, 1 info, 2 errors only (einhorn's scale)
 * @param health              checks, the ping watchdog and recycling limits
 * @param drain               the stop's delay and the bounds on retiring workers
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
        int verbosity,
        HealthConfig health,
        DrainConfig drain) {

    /** Longest backoff between spawns of a crash-looping program (einhorn's MAX_SPINUP_INTERVAL). */
    public static final Duration MAX_SPAWN_INTERVAL = Duration.ofSeconds(30);

    /** {@link #maxUpgradeAdditional()} without a cap. */
    public static final int UNLIMITED = -1;

    /** The most workers there can be: the limit of -n, set_workers, inc and TTIN. */
    public static final int MAX_WORKERS = 10_000;

    public Config {
        Objects.requireNonNull(respawnInterval);
        Objects.requireNonNull(ackMode);
        Objects.requireNonNull(ackTimeout);
        Objects.requireNonNull(signalTimeout);
        Objects.requireNonNull(gracefulSignal);
        Objects.requireNonNull(upgradeTimeout);
        Objects.requireNonNull(health);
        Objects.requireNonNull(drain);
        if (number < 1 || number > MAX_WORKERS) throw new IllegalArgumentException("number must be in 1.." + MAX_WORKERS);
        if (respawnInterval.isNegative() || respawnInterval.isZero()) throw new IllegalArgumentException("respawnInterval must be > 0");
        if (ackTimeout.isNegative() || signalTimeout.isNegative() || upgradeTimeout.isNegative()) {
            throw new IllegalArgumentException("timeouts must be >= 0");
        }
        if (ackMode instanceof AckMode.Timer t && t.delay().isNegative()) throw new IllegalArgumentException("ack delay must be >= 0");
        if (maxUpgradeAdditional < UNLIMITED) throw new IllegalArgumentException("maxUpgradeAdditional must be >= -1");
        if (verbosity < 0 || verbosity > 2) throw new IllegalArgumentException("verbosity must be in 0..2");
        if (maxUnacked < 1) throw new IllegalArgumentException("maxUnacked must be >= 1");
        if (upgradeMaxFailures < 1) throw new IllegalArgumentException("upgradeMaxFailures must be >= 1");
    }

    /** A configuration without a shutdown delay or drain bounds ({@link DrainConfig#DEFAULTS}). */
    public Config(int number, Duration respawnInterval, AckMode ackMode, Duration ackTimeout, Duration signalTimeout,
                  String gracefulSignal, int maxUnacked, int maxUpgradeAdditional, Duration upgradeTimeout,
                  int upgradeMaxFailures, int verbosity, HealthConfig health) {
        this(number, respawnInterval, ackMode, ackTimeout, signalTimeout, gracefulSignal, maxUnacked, maxUpgradeAdditional,
                upgradeTimeout, upgradeMaxFailures, verbosity, health, DrainConfig.DEFAULTS);
    }

    /** A configuration without health checks or limits ({@link HealthConfig#DEFAULTS}). */
    public Config(int number, Duration respawnInterval, AckMode ackMode, Duration ackTimeout, Duration signalTimeout,
                  String gracefulSignal, int maxUnacked, int maxUpgradeAdditional, Duration upgradeTimeout,
                  int upgradeMaxFailures, int verbosity) {
        this(number, respawnInterval, ackMode, ackTimeout, signalTimeout, gracefulSignal, maxUnacked, maxUpgradeAdditional,
                upgradeTimeout, upgradeMaxFailures, verbosity, HealthConfig.DEFAULTS);
    }

    /** einhorn's defaults for everything but the number of CPUs (the command line starts from these too). */
    public static Config defaults(int cpus) {
        return new Config(1, Duration.ofSeconds(1), new AckMode.Timer(Duration.ofSeconds(1)),
                Duration.ZERO, Duration.ZERO, "USR2", Math.max(1, cpus), UNLIMITED,
                Duration.ofSeconds(120), 3, 1);
    }

    /** This configuration with {@code setting} set to {@code value}, already checked by its rule. */
    public Config with(Setting setting, Object value) {
        return new Config(pick(setting, NUMBER, value, number), pick(setting, SECONDS, value, respawnInterval),
                pick(setting, ACK_MODE, value, ackMode), pick(setting, ACK_TIMEOUT, value, ackTimeout),
                pick(setting, SIGNAL_TIMEOUT, value, signalTimeout), pick(setting, GRACEFUL_SIGNAL, value, gracefulSignal),
                pick(setting, MAX_UNACKED, value, maxUnacked), pick(setting, MAX_UPGRADE_ADDITIONAL, value, maxUpgradeAdditional),
                pick(setting, UPGRADE_TIMEOUT, value, upgradeTimeout),
                pick(setting, UPGRADE_MAX_FAILURES, value, upgradeMaxFailures), pick(setting, VERBOSITY, value, verbosity),
                health.with(setting, value), drain.with(setting, value));
    }

    /** {@code value} if {@code setting} is {@code component}, else {@code current}. */
    @SuppressWarnings("unchecked")
    static <T> T pick(Setting setting, Setting component, Object value, T current) {
        return setting == component ? (T) value : current;
    }

    /** How a worker proves it is ready. */
    public sealed interface AckMode {
        /** Alive for {@code delay} after spawn counts as ready. */
        record Timer(Duration delay) implements AckMode {}

        /** Ready only after it sends {@code worker:ack} on the control socket. */
        record Manual() implements AckMode {}

        /**
         * Ready when it says {@code READY=1} on its own {@code NOTIFY_SOCKET} (sd_notify(3)), as
         * workers written for systemd do; {@code worker:ack} is accepted too.
         */
        record Notify() implements AckMode {}
    }
}
