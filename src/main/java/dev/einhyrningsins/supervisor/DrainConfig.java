package dev.einhyrningsins.supervisor;

import java.time.Duration;
import java.util.Objects;

import static dev.einhyrningsins.supervisor.Config.pick;
import static dev.einhyrningsins.supervisor.Settings.Setting.*;

/**
 * How workers are let go, a part of {@link Config}: the stop's delay and the bounds on
 * retiring workers. Durations of {@link Duration#ZERO} and a zero count mean "off"; the
 * defaults are einhorn's behaviour (stop at once, retiring workers unbounded but for -t).
 *
 * @param shutdownDelay on TERM or INT, report not ready this long while the workers keep
 *                      serving (and are replaced if they die), then stop (--shutdown-delay)
 * @param maxDraining   at most this many generations retiring at once: an upgrade that would
 *                      exceed it first ends the oldest retiring generations (--max-draining)
 * @param drainTimeout  a retiring worker still alive this long after it was first asked to go
 *                      is killed with its process group (--drain-timeout)
 */
public record DrainConfig(Duration shutdownDelay, int maxDraining, Duration drainTimeout) {

    /** No delay, no bounds. */
    public static final DrainConfig DEFAULTS = new DrainConfig(Duration.ZERO, 0, Duration.ZERO);

    public DrainConfig {
        Objects.requireNonNull(shutdownDelay);
        Objects.requireNonNull(drainTimeout);
        if (shutdownDelay.isNegative() || drainTimeout.isNegative()) throw new IllegalArgumentException("durations must be >= 0");
        if (maxDraining < 0) throw new IllegalArgumentException("maxDraining must be >= 0");
    }

    /** This part with {@code setting} set to {@code value}, already checked by its rule; other settings leave it as it is. */
    DrainConfig with(Settings.Setting setting, Object value) {
        return new DrainConfig(pick(setting, SHUTDOWN_DELAY, value, shutdownDelay), pick(setting, MAX_DRAINING, value, maxDraining),
                pick(setting, DRAIN_TIMEOUT, value, drainTimeout));
    }
}
