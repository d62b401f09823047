package dev.einhyrningsins.supervisor;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The rules of the supervisor's tunables, in one place. The command line applies its options
 * through {@link Setting#apply}, and the {@code config} control command changes the
 * {@link Setting#runtime() run-time} settings through the very same method, so both take the
 * same values and word their complaints the same way: a rule says what it needs ("needs a
 * whole number in 1..10000, got '0'") and the caller puts the name the user typed in front
 * ({@code --number}, {@code seconds}). Defaults live in {@link Config#defaults(int)}.
 * No I/O and no YAML here ({@link ConfigArgs} parses {@code config}'s YAML form); no lambdas
 * either: the command line loads this class at start-up, and every lambda's first use costs.
 */
public final class Settings {

    /** Upper bound of the counting options other than the number of workers. */
    static final int MAX_COUNT = 100_000;
    /** Upper bound of every duration, in seconds (about 11.5 days). */
    static final double MAX_SECONDS = 1e6;
    /** Upper bound of --max-worker-rss, in MiB (1 TiB). */
    static final int MAX_RSS_MB = 1 << 20;

    private Settings() {}

    /** A value that breaks its rule. The message starts with "needs …" and ends with what was given. */
    public static final class Invalid extends Exception {
        Invalid(String message) {
            super(message, null, false, false);
        }
    }

    /** The supervisor's settings: their names in {@code state}, their rules, and whether they may change while running. */
    public enum Setting {
        NUMBER("number", null),
        ACK_MODE("ack_mode", null),
        GRACEFUL_SIGNAL("graceful_signal", null),
        VERBOSITY("verbosity", "0 debug, 1 info, 2 errors only"),
        SECONDS("seconds", "seconds > 0"),
        SIGNAL_TIMEOUT("signal_timeout", "seconds, 0 = off"),
        ACK_TIMEOUT("ack_timeout", "seconds, 0 = off"),
        MAX_UNACKED("max_unacked", "1.." + MAX_COUNT),
        MAX_UPGRADE_ADDITIONAL("max_upgrade_additional", "0.." + MAX_COUNT + " or unlimited"),
        UPGRADE_TIMEOUT("upgrade_timeout", "seconds, 0 = off"),
        UPGRADE_MAX_FAILURES("upgrade_max_failures", "1.." + MAX_COUNT),
        READY_CHECK("ready_check", null),
        LIVE_CHECK("live_check", null),
        CHECK_INTERVAL("check_interval", "seconds > 0"),
        CHECK_TIMEOUT("check_timeout", "seconds > 0"),
        LIVE_FAILURES("live_failures", "1.." + MAX_COUNT),
        READY_FAILURES("ready_failures", "1.." + MAX_COUNT),
        PING_TIMEOUT("ping_timeout", "seconds, 0 = off"),
        MAX_WORKER_RSS("max_worker_rss", "MiB, 0 = off"),
        MAX_WORKER_AGE("max_worker_age", "seconds, 0 = off"),
        SHUTDOWN_DELAY("shutdown_delay", "seconds, 0 = off"),
        MAX_DRAINING("max_draining", "0.." + MAX_COUNT + ", 0 = unlimited"),
        DRAIN_TIMEOUT("drain_timeout", "seconds, 0 = off");

        /** einhorn's state name, as {@code state}'s config section shows it. */
        public final String key;
        /** The rule in a few words, for replies and {@code help}; null for settings fixed at start. */
        public final String help;

        Setting(String key, String help) {
            this.key = key;
            this.help = help;
        }

        /** Whether {@code config} may change it while the supervisor runs. */
        public boolean runtime() {
            return help != null;
        }

        /**
         * {@code config} with this setting set to {@code value} by its rule. A null value (a
         * YAML {@code ~}) means off or unlimited where the setting has such a state, as
         * {@code state} shows it.
         */
        public Config apply(Config c, String value) throws Invalid {
            return c.with(this, parse(value));
        }

        private Object parse(String value) throws Invalid {
            return switch (this) {
                case NUMBER -> workers(value);
                case ACK_MODE -> ackMode(value);
                case GRACEFUL_SIGNAL -> signal(value);
                case VERBOSITY -> count(value, 0, 2);
                case SECONDS, CHECK_INTERVAL, CHECK_TIMEOUT -> seconds(value, false);
                case SIGNAL_TIMEOUT, ACK_TIMEOUT, UPGRADE_TIMEOUT, PING_TIMEOUT, MAX_WORKER_AGE, SHUTDOWN_DELAY, DRAIN_TIMEOUT ->
                        seconds(value, true);
                case MAX_UNACKED, UPGRADE_MAX_FAILURES, LIVE_FAILURES, READY_FAILURES -> count(value, 1, MAX_COUNT);
                case MAX_DRAINING -> maxDraining(value);
                case MAX_UPGRADE_ADDITIONAL -> upgradeAdditional(value);
                case READY_CHECK, LIVE_CHECK -> command(value);
                case MAX_WORKER_RSS -> count(value, 0, MAX_RSS_MB);
            };
        }

        /** The value in {@code c} as replies show it: seconds as "0.5", "off", "unlimited". */
        public String show(Config c) {
            return switch (this) {
                case NUMBER -> String.valueOf(c.number());
                case ACK_MODE -> switch (c.ackMode()) {
                    case Config.AckMode.Timer t -> seconds(t.delay());
                    case Config.AckMode.Manual m -> "manual";
                    case Config.AckMode.Notify n -> "notify";
                };
                case GRACEFUL_SIGNAL -> c.gracefulSignal();
                case VERBOSITY -> String.valueOf(c.verbosity());
                case SECONDS -> seconds(c.respawnInterval());
                case SIGNAL_TIMEOUT -> offText(c.signalTimeout());
                case ACK_TIMEOUT -> offText(c.ackTimeout());
                case MAX_UNACKED -> String.valueOf(c.maxUnacked());
                case MAX_UPGRADE_ADDITIONAL -> c.maxUpgradeAdditional() == Config.UNLIMITED ? "unlimited"
                        : String.valueOf(c.maxUpgradeAdditional());
                case UPGRADE_TIMEOUT -> offText(c.upgradeTimeout());
                case UPGRADE_MAX_FAILURES -> String.valueOf(c.upgradeMaxFailures());
                case READY_CHECK -> String.valueOf(c.health().readyCheck());
                case LIVE_CHECK -> String.valueOf(c.health().liveCheck());
                case CHECK_INTERVAL -> seconds(c.health().checkInterval());
                case CHECK_TIMEOUT -> seconds(c.health().checkTimeout());
                case LIVE_FAILURES -> String.valueOf(c.health().liveFailures());
                case READY_FAILURES -> String.valueOf(c.health().readyFailures());
                case PING_TIMEOUT -> offText(c.health().pingTimeout());
                case MAX_WORKER_RSS -> c.health().maxWorkerRssMb() == 0 ? "off" : String.valueOf(c.health().maxWorkerRssMb());
                case MAX_WORKER_AGE -> offText(c.health().maxWorkerAge());
                case SHUTDOWN_DELAY -> offText(c.drain().shutdownDelay());
                case MAX_DRAINING -> c.drain().maxDraining() == 0 ? "unlimited" : String.valueOf(c.drain().maxDraining());
                case DRAIN_TIMEOUT -> offText(c.drain().drainTimeout());
            };
        }
    }

    // ------------------------------------------------------------------ run-time changes (config)

    /** The run-time keys with their rules, for replies and help: "verbosity (0 debug, …), seconds (seconds > 0), …". */
    static String known() {
        StringBuilder b = new StringBuilder();
        for (Setting s : Setting.values()) {
            if (!s.runtime()) continue;
            if (!b.isEmpty()) b.append(", ");
            b.append(s.key).append(" (").append(s.help).append(')');
        }
        return b.toString();
    }

    /** einhorn's key spellings: a leading ':' (Ruby's YAML.dump of a symbol), '-' or '_', any case. */
    static String normalize(String key) {
        String k = key.trim();
        if (k.startsWith(":")) k = k.substring(1);
        return k.toLowerCase(Locale.ROOT).replace('-', '_');
    }

    static Setting byKey(String normalizedKey) {
        for (Setting s : Setting.values()) if (s.key.equals(normalizedKey)) return s;
        return null;
    }

    /**
     * An all-or-nothing change: either {@code problems} is empty and {@code config} is the new
     * configuration with a line per setting in {@code applied} ("seconds=2 (was 1)"), or
     * {@code config} is the old one and {@code problems} names every key or value refused.
     */
    record Change(Config config, List<String> applied, List<String> problems) {}

    /** Applies {@code entries} (key as given, value text or null) to {@code current}, all or nothing. */
    static Change change(Config current, List<Map.Entry<String, String>> entries) {
        Config next = current;
        List<String> applied = new ArrayList<>();
        List<String> problems = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        for (Map.Entry<String, String> e : entries) {
            String key = normalize(e.getKey());
            Setting s = byKey(key);
            if (s == null) {
                problems.add("unknown setting \"" + e.getKey() + "\"");
            } else if (s == Setting.NUMBER) {
                problems.add("number is changed with set_workers N, inc or dec, not with config");
            } else if (!s.runtime()) {
                problems.add(key + " cannot be changed at run time");
            } else if (!seen.add(key)) {
                problems.add(key + " is given more than once");
            } else {
                try {
                    Config after = s.apply(next, e.getValue());
                    String was = s.show(current);
                    String now = s.show(after);
                    applied.add(key + "=" + now + (was.equals(now) ? " (unchanged)" : " (was " + was + ")"));
                    next = after;
                } catch (Invalid x) {
                    problems.add(key + " " + x.getMessage());
                }
            }
        }
        return problems.isEmpty() ? new Change(next, List.copyOf(applied), List.of())
                : new Change(current, List.of(), List.copyOf(problems));
    }

    // ------------------------------------------------------------------ rules

    /** -n and set_workers: 1..{@link Config#MAX_WORKERS}. */
    public static int workers(String v) throws Invalid {
        return count(v, 1, Config.MAX_WORKERS);
    }

    /** A whole number in min..max. */
    public static int count(String v, int min, int max) throws Invalid {
        if (v != null) {
            try {
                int n = Integer.parseInt(v.trim());
                if (n >= min && n <= max) return n;
            } catch (NumberFormatException ignored) {
                // reported below
            }
        }
        throw new Invalid("needs a whole number in " + min + ".." + max + ", got " + given(v));
    }

    /** Seconds, fractions allowed; with {@code zeroAllowed} 0 (and null) mean "off". */
    static Duration seconds(String v, boolean zeroAllowed) throws Invalid {
        if (v == null && zeroAllowed) return Duration.ZERO;
        Duration d = secondsOrNull(v, zeroAllowed);
        if (d != null) return d;
        throw new Invalid("needs a number of seconds" + (zeroAllowed ? " (0 = off)" : " > 0") + ", got " + given(v));
    }

    private static Duration secondsOrNull(String v, boolean zeroAllowed) {
        if (v == null || v.trim().matches(".*[a-zA-Z].*")) return null;
        try {
            double d = Double.parseDouble(v.trim());
            if (Double.isFinite(d) && (d > 0 || (zeroAllowed && d == 0)) && d <= MAX_SECONDS) {
                return Duration.ofNanos(Math.round(d * 1e9));
            }
        } catch (NumberFormatException ignored) {
            // null
        }
        return null;
    }

    /** -m: {@code manual}, {@code notify}, or seconds alive; 0 = acked as soon as it is spawned (einhorn accepts it). */
    static Config.AckMode ackMode(String v) throws Invalid {
        if (v != null && v.trim().equalsIgnoreCase("manual")) return new Config.AckMode.Manual();
        if (v != null && v.trim().equalsIgnoreCase("notify")) return new Config.AckMode.Notify();
        Duration d = secondsOrNull(v, true);
        if (d != null) return new Config.AckMode.Timer(d);
        throw new Invalid("needs manual, notify or a number of seconds >= 0, got " + given(v));
    }

    /** A shell command for a check: anything but blank. */
    static String command(String v) throws Invalid {
        if (v != null && !v.isBlank()) return v;
        throw new Invalid("needs a shell command, got " + given(v));
    }

    /** A signal name, with or without SIG, any case. */
    static String signal(String v) throws Invalid {
        if (v != null) {
            String s = v.trim().toUpperCase(Locale.ROOT);
            if (s.startsWith("SIG")) s = s.substring(3);
            if (SignalNames.NAMES.contains(s)) return s;
        }
        throw new Invalid("needs a signal name such as TERM or USR2, got " + given(v));
    }

    /** 0..MAX_COUNT with 0 taken as 1 (so an upgrade can progress), or unlimited (-1, none, unlimited, null). */
    static int upgradeAdditional(String v) throws Invalid {
        if (v == null) return Config.UNLIMITED;
        String t = v.trim().toLowerCase(Locale.ROOT);
        if (t.equals("-1") || t.equals("none") || t.equals("unlimited")) return Config.UNLIMITED;
        try {
            return Math.max(1, count(v, 0, MAX_COUNT));
        } catch (Invalid e) {
            throw new Invalid("needs a whole number in 0.." + MAX_COUNT + " (0 counts as 1) or unlimited, got " + given(v));
        }
    }

    /** 0..MAX_COUNT, 0 (or unlimited, none, null) for no limit. */
    static int maxDraining(String v) throws Invalid {
        if (v == null) return 0;
        String t = v.trim().toLowerCase(Locale.ROOT);
        if (t.equals("none") || t.equals("unlimited")) return 0;
        try {
            return count(v, 0, MAX_COUNT);
        } catch (Invalid e) {
            throw new Invalid("needs a whole number in 0.." + MAX_COUNT + " (0 = unlimited), got " + given(v));
        }
    }

    /** A duration as replies and {@code state} write it: "1", "0.5". */
    static String seconds(Duration d) {
        double s = d.toNanos() / 1e9;
        return s == Math.rint(s) ? String.valueOf((long) s) : String.valueOf(s);
    }

    private static String given(String v) {
        return v == null ? "null" : "'" + v + "'";
    }

    private static String offText(Duration d) {
        return d.isZero() ? "off" : seconds(d);
    }
}
