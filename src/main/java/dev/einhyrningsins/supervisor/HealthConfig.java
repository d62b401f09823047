package dev.einhyrningsins.supervisor;

import java.time.Duration;
import java.util.Objects;

import static dev.einhyrningsins.supervisor.Config.pick;
import static dev.einhyrningsins.supervisor.Settings.Setting.*;

/**
 * The health tunables, a part of {@link Config}. Commands run through {@code /bin/sh -c};
 * null means no such check. Durations of {@link Duration#ZERO} and a zero RSS mean "off".
 *
 * @param readyCheck     run after a worker acks until it exits 0; only then is the worker acked (--ready-check)
 * @param liveCheck      run against every acked worker (--live-check)
 * @param checkInterval  pause between the end of one check of a worker and the start of the next (--check-interval)
 * @param checkTimeout   a check still running after this is killed and counts as failed (--check-timeout)
 * @param liveFailures   live checks failing in a row that make a worker sick (--live-failures)
 * @param readyFailures  ready checks failing in a row that fail a worker before its ack (--ready-failures)
 * @param pingTimeout    a worker that pinged and then stays silent this long is sick (--ping-timeout)
 * @param maxWorkerRssMb a worker whose process tree's RSS exceeds this many MiB is sick (--max-worker-rss)
 * @param maxWorkerAge   an acked worker this old is sick (--max-worker-age)
 */
public record HealthConfig(String readyCheck, String liveCheck, Duration checkInterval, Duration checkTimeout,
                           int liveFailures, int readyFailures, Duration pingTimeout, int maxWorkerRssMb,
                           Duration maxWorkerAge) {

    /** No checks, no limits; a 1 s interval, a 5 s check timeout, 3 live and 3 ready failures. */
    public static final HealthConfig DEFAULTS = new HealthConfig(null, null, Duration.ofSeconds(1),
            Duration.ofSeconds(5), 3, 3, Duration.ZERO, 0, Duration.ZERO);

    public HealthConfig {
        Objects.requireNonNull(checkInterval);
        Objects.requireNonNull(checkTimeout);
        Objects.requireNonNull(pingTimeout);
        Objects.requireNonNull(maxWorkerAge);
        if (!checkInterval.isPositive() || !checkTimeout.isPositive()) {
            throw new IllegalArgumentException("check interval and timeout must be > 0");
        }
        if (pingTimeout.isNegative() || maxWorkerAge.isNegative()) throw new IllegalArgumentException("limits must be >= 0");
        if (liveFailures < 1 || readyFailures < 1) throw new IllegalArgumentException("failures must be >= 1");
        if (maxWorkerRssMb < 0) throw new IllegalArgumentException("maxWorkerRssMb must be >= 0");
    }

    /** The command of {@code kind}'s check; null if there is none. */
    public String command(CheckKind kind) {
        return kind == CheckKind.READY ? readyCheck : liveCheck;
    }

    /** The RSS limit in bytes; 0 = off. */
    long maxWorkerRssBytes() {
        return maxWorkerRssMb * 1024L * 1024L;
    }

    /** This part with {@code setting} set to {@code value}, already checked by its rule; other settings leave it as it is. */
    HealthConfig with(Settings.Setting setting, Object value) {
        return new HealthConfig(pick(setting, READY_CHECK, value, readyCheck), pick(setting, LIVE_CHECK, value, liveCheck),
                pick(setting, CHECK_INTERVAL, value, checkInterval), pick(setting, CHECK_TIMEOUT, value, checkTimeout),
                pick(setting, LIVE_FAILURES, value, liveFailures), pick(setting, READY_FAILURES, value, readyFailures),
                pick(setting, PING_TIMEOUT, value, pingTimeout),
                pick(setting, MAX_WORKER_RSS, value, maxWorkerRssMb), pick(setting, MAX_WORKER_AGE, value, maxWorkerAge));
    }
}
