package dev.einhyrningsins.cli;

import dev.einhyrningsins.supervisor.Config;
import dev.einhyrningsins.supervisor.Settings;
import dev.einhyrningsins.supervisor.Settings.Setting;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * einhorn-compatible command line: {@code einhyrningsins [OPTIONS] [--] PROGRAM [ARGS...]}.
 * Parsing stops at the first word that is not an option; a leading {@code --} is consumed.
 * Long options take {@code --opt VALUE} or {@code --opt=VALUE}; short ones {@code -n 4} or
 * {@code -n4}, and flags bundle ({@code -vg}).
 */
public final class CommandLine {

    /** One option: its spellings, the name of its argument (null for flags) and its help. */
    record Opt(String shortName, String longName, String arg, String help) {
        String label() {
            StringBuilder b = new StringBuilder();
            if (shortName != null) b.append('-').append(shortName);
            if (longName != null) {
                if (!b.isEmpty()) b.append(", ");
                b.append("--").append(longName);
            }
            if (arg != null) b.append(' ').append(arg);
            return b.toString();
        }
    }

    static final List<Opt> OPTIONS = List.of(
            new Opt("b", "bind", "ADDR:PORT[,OPT...]",
                    "Bind a listening socket and pass it to workers (repeatable; order gives EINHORN_FD_0..n-1). "
                            + "ADDR: IPv4, [IPv6], host name, or unix:PATH. OPT: r/so_reuseaddr, n/o_nonblock, p/so_reuseport; "
                            + "for unix: mode=OCTAL, group=NAME|GID, owner=NAME|UID (root), set before anyone can connect"),
            new Opt("n", "number", "COUNT", "Number of workers to run, 1.." + Config.MAX_WORKERS + " (default 1)"),
            new Opt("l", "backlog", "N", "Listen backlog of bound sockets (default 128)"),
            new Opt("4", null, null, "Resolve -b host names to IPv4 addresses only"),
            new Opt("6", null, null, "Resolve -b host names to IPv6 addresses only"),
            new Opt("m", "ack-mode", "MODE",
                    "How workers prove they are ready: SECONDS alive (timer, default 1; 0 = at once), manual "
                            + "(worker:ack), or notify (READY=1 on the NOTIFY_SOCKET each worker gets, as sd_notify "
                            + "sends it); a bare -m means manual"),
            new Opt(null, "manual", null, "Same as --ack-mode manual"),
            new Opt(null, "ack-timeout", "SECONDS", "Treat a worker that has not acked after SECONDS as failed (default off)"),
            new Opt("s", "seconds", "SECONDS", "Base interval between respawns; backs off 1.5x per crash before ack, up to 30 s (default 1)"),
            new Opt("t", "signal-timeout", "SECONDS", "SIGKILL workers still alive SECONDS after being signalled (default off)"),
            new Opt(null, "graceful-signal", "SIG", "Signal that asks a worker to finish in-flight work and exit (default USR2)"),
            new Opt(null, "max-unacked", "N", "Upgrades start at most N unacked new workers at a time (default: number of CPUs)"),
            new Opt(null, "max-upgrade-additional", "N", "At most COUNT+N live workers during an upgrade; 0 counts as 1 "
                    + "(default unlimited: -1, none or unlimited)"),
            new Opt(null, "upgrade-timeout", "SECONDS", "Abort an upgrade whose new workers are not all acked in time (default 120; 0 disables)"),
            new Opt(null, "upgrade-max-failures", "N", "Abort an upgrade after N consecutive new workers die before acking (default 3)"),
            new Opt(null, "ready-check", "CMD", "After a worker acks, run /bin/sh -c CMD every --check-interval until it "
                    + "exits 0; only then does the worker count as acked (within --ack-timeout if set). CMD gets "
                    + "EINHORN_WORKER_PID, EINHORN_CHILD_INDEX and the sockets' addresses as EINHORN_FD_n"),
            new Opt(null, "live-check", "CMD", "Run /bin/sh -c CMD every --check-interval against each acked worker "
                    + "(same environment); after --live-failures failures in a row the worker is replaced"),
            new Opt(null, "live-failures", "N", "Failed live checks in a row that make a worker sick (default 3)"),
            new Opt(null, "check-interval", "SECONDS", "Pause between the end of one check of a worker and the next, "
                    + "and between RSS samples (default 1)"),
            new Opt(null, "check-timeout", "SECONDS", "Kill a check still running after SECONDS; it counts as failed (default 5)"),
            new Opt(null, "ping-timeout", "SECONDS", "Replace a worker that sent worker:ping and then stays silent for "
                    + "SECONDS (default off)"),
            new Opt(null, "max-worker-rss", "MB", "Replace a worker whose process tree's resident memory exceeds MB MiB "
                    + "(default off)"),
            new Opt(null, "max-worker-age", "SECONDS", "Replace a worker SECONDS after its start (default off)"),
            new Opt("c", "command-name", "NAME", "Name of this instance: default files become einhorn-NAME.sock/.lock"),
            new Opt("d", "socket-path", "PATH", "Control socket path (default $TMPDIR/einhorn[-NAME].sock)"),
            new Opt("f", "lockfile", "PATH", "Lock file guarding the control socket (default beside it, einhorn[-NAME].lock)"),
            new Opt("e", "pidfile", "PATH", "Write the supervisor's pid to PATH after a successful start; removed on exit"),
            new Opt("g", "command-socket-as-fd", null, "Give each worker a control channel of its own in EINHORN_SOCK_FD (not counted against the control socket's 256 connections)"),
            new Opt(null, "listen-fds", null, "Also pass the sockets the systemd way: LISTEN_FDS, LISTEN_FDNAMES and "
                    + "LISTEN_PID (the worker's own pid), for workers that use sd_listen_fds"),
            new Opt("k", "kill-children-on-exit", null, "Workers get the graceful signal from the kernel if the supervisor dies "
                    + "(SIGKILL, OOM killer, crash): started through setpriv --pdeathsig (util-linux 2.33+)"),
            new Opt(null, "drop-env-var", "VAR", "Remove VAR from the workers' environment (repeatable)"),
            new Opt(null, "metrics", "[ADDR:]PORT", "Serve OpenMetrics over HTTP at http://ADDR:PORT/metrics; a bare PORT "
                    + "listens on 127.0.0.1, :PORT on every interface (default: only the metrics control command)"),
            new Opt("v", "verbose", null, "Log debug messages too"),
            new Opt("q", "quiet", null, "Log errors and warnings only"),
            new Opt(null, "upgrade-check", null, "Check that this installation can take over a running supervisor "
                    + "with these options (what reload runs before it re-executes), print one line and exit"),
            new Opt("h", "help", null, "Print this help and exit"),
            new Opt(null, "version", null, "Print the version and exit"));

    /** What the command line asks for. */
    public sealed interface Parsed {
        record Run(Options options) implements Parsed {}

        record Help() implements Parsed {}

        record Version() implements Parsed {}
    }

    private CommandLine() {}

    public static Parsed parse(List<String> args) {
        State s = new State();
        int i = 0;
        while (i < args.size()) {
            String word = args.get(i);
            if (word.equals("--")) {
                i++;
                break;
            }
            if (!word.startsWith("-") || word.equals("-")) break;
            i++;
            if (word.startsWith("--")) {
                String name = word.substring(2);
                String inline = null;
                int eq = name.indexOf('=');
                if (eq >= 0) {
                    inline = name.substring(eq + 1);
                    name = name.substring(0, eq);
                }
                Opt opt = byLong(name);
                String value = null;
                if (opt.arg() != null) {
                    if (inline != null) {
                        value = inline;
                    } else if (opt.longName().equals("ack-mode") && !looksLikeAckMode(args, i)) {
                        value = "manual";
                    } else {
                        if (i >= args.size()) throw new UsageException("option --" + name + " needs an argument " + opt.arg());
                        value = args.get(i++);
                    }
                } else if (inline != null) {
                    throw new UsageException("option --" + name + " takes no argument");
                }
                Parsed early = s.apply(opt, value);
                if (early != null) return early;
            } else {
                for (int k = 1; k < word.length(); k++) {
                    Opt opt = byShort(word.charAt(k));
                    String value = null;
                    if (opt.arg() != null) {
                        if (k + 1 < word.length()) {
                            value = word.substring(k + 1);
                        } else if (opt.shortName().equals("m") && !looksLikeAckMode(args, i)) {
                            value = "manual";
                        } else {
                            if (i >= args.size()) throw new UsageException("option -" + opt.shortName() + " needs an argument " + opt.arg());
                            value = args.get(i++);
                        }
                        k = word.length();
                    }
                    Parsed early = s.apply(opt, value);
                    if (early != null) return early;
                }
            }
        }
        List<String> program = List.copyOf(args.subList(i, args.size()));
        if (program.isEmpty()) throw new UsageException("no PROGRAM given: einhyrningsins [OPTIONS] -- PROGRAM [ARGS...]");
        return new Parsed.Run(s.build(program));
    }

    /** einhyrningsins' bare -m: only "manual" or a number after -m is its value. */
    private static boolean looksLikeAckMode(List<String> args, int i) {
        if (i >= args.size()) return false;
        String next = args.get(i);
        return next.equalsIgnoreCase("manual") || next.equalsIgnoreCase("notify") || next.matches("\\d+(\\.\\d*)?|\\.\\d+");
    }

    private static Opt byLong(String name) {
        for (Opt o : OPTIONS) if (name.equals(o.longName())) return o;
        throw new UsageException("unknown option --" + name);
    }

    private static Opt byShort(char c) {
        for (Opt o : OPTIONS) if (String.valueOf(c).equals(o.shortName())) return o;
        if (c == 'p') throw new UsageException("option -p/--preload loads Ruby code into einhorn and has no equivalent here");
        throw new UsageException("unknown option -" + c);
    }

    /** The --help text: every option of {@link #OPTIONS}, wrapped for an 80-column terminal. */
    public static String usage() {
        StringBuilder b = new StringBuilder();
        b.append("Usage: einhyrningsins [OPTIONS] [--] PROGRAM [ARGS...]\n");
        b.append("       einhyrningsins ctl [-d PATH | -c NAME] [-e \"CMD [ARGS]; ...\"] [--json]\n\n");
        b.append("Binds sockets once, runs COUNT copies of PROGRAM that inherit them\n");
        b.append("(EINHORN_FD_*), and replaces workers in rolling upgrades without dropping\n");
        b.append("connections.\n\n");
        b.append("Options:\n");
        for (Opt o : OPTIONS) {
            String label = "  " + o.label();
            List<String> lines = wrap(o.help(), 50);
            if (label.length() > 28) {
                b.append(label).append('\n');
                label = "";
            }
            for (String line : lines) {
                b.append(String.format("%-30s%s%n", label, line));
                label = "";
            }
        }
        b.append("\nSignals: TERM/INT stop gracefully (twice: TERM the workers' process groups),\n");
        b.append("HUP upgrades smoothly, USR2 = die, TTIN/TTOU add/remove a worker.\n");
        b.append("Exit status: 0 ok, 1 runtime failure, 2 usage error. See einhyrningsins(1).\n");
        return b.toString();
    }

    private static List<String> wrap(String text, int width) {
        List<String> lines = new ArrayList<>();
        StringBuilder line = new StringBuilder();
        for (String word : text.split(" ")) {
            if (!line.isEmpty() && line.length() + 1 + word.length() > width) {
                lines.add(line.toString());
                line.setLength(0);
            }
            if (!line.isEmpty()) line.append(' ');
            line.append(word);
        }
        if (!line.isEmpty()) lines.add(line.toString());
        return lines;
    }

    /** Long option names of {@link #OPTIONS}, for documentation checks. */
    public static List<String> optionLabels() {
        return OPTIONS.stream().map(Opt::label).toList();
    }

    private static final class State {
        /** The core's settings, from its defaults; options apply the core's rules to it. */
        Config config = Config.defaults(1);
        boolean maxUnackedGiven; // else the number of CPUs, resolved by Options.toConfig
        final List<BindSpec> binds = new ArrayList<>();
        int backlog = 128;
        Options.Family family = Options.Family.ANY;
        final List<String> dropEnv = new ArrayList<>();
        String commandName;
        Path pidfile;
        Path socketPath;
        Path lockfile;
        boolean commandSocketAsFd;
        boolean listenFds;
        boolean upgradeCheck;
        BindSpec metrics;
        boolean killChildrenOnExit;

        Parsed apply(Opt opt, String v) {
            String name = opt.longName() != null ? opt.longName() : opt.shortName();
            switch (name) {
                case "bind" -> binds.add(BindSpec.parse(v));
                case "number" -> set(opt, Setting.NUMBER, v);
                case "backlog" -> backlog = backlog(opt, v);
                case "4" -> family = Options.Family.INET4;
                case "6" -> family = Options.Family.INET6;
                case "ack-mode" -> set(opt, Setting.ACK_MODE, v);
                case "manual" -> set(opt, Setting.ACK_MODE, "manual");
                case "ack-timeout" -> set(opt, Setting.ACK_TIMEOUT, v);
                case "seconds" -> set(opt, Setting.SECONDS, v);
                case "signal-timeout" -> set(opt, Setting.SIGNAL_TIMEOUT, v);
                case "graceful-signal" -> set(opt, Setting.GRACEFUL_SIGNAL, v);
                case "max-unacked" -> {
                    set(opt, Setting.MAX_UNACKED, v);
                    maxUnackedGiven = true;
                }
                case "max-upgrade-additional" -> set(opt, Setting.MAX_UPGRADE_ADDITIONAL, v);
                case "upgrade-timeout" -> set(opt, Setting.UPGRADE_TIMEOUT, v);
                case "upgrade-max-failures" -> set(opt, Setting.UPGRADE_MAX_FAILURES, v);
                case "ready-check" -> set(opt, Setting.READY_CHECK, v);
                case "live-check" -> set(opt, Setting.LIVE_CHECK, v);
                case "live-failures" -> set(opt, Setting.LIVE_FAILURES, v);
                case "check-interval" -> set(opt, Setting.CHECK_INTERVAL, v);
                case "check-timeout" -> set(opt, Setting.CHECK_TIMEOUT, v);
                case "ping-timeout" -> set(opt, Setting.PING_TIMEOUT, v);
                case "max-worker-rss" -> set(opt, Setting.MAX_WORKER_RSS, v);
                case "max-worker-age" -> set(opt, Setting.MAX_WORKER_AGE, v);
                case "command-name" -> commandName = nonEmpty(opt, v);
                case "socket-path" -> socketPath = Path.of(nonEmpty(opt, v));
                case "lockfile" -> lockfile = Path.of(nonEmpty(opt, v));
                case "pidfile" -> pidfile = Path.of(nonEmpty(opt, v));
                case "command-socket-as-fd" -> commandSocketAsFd = true;
                case "listen-fds" -> listenFds = true;
                case "upgrade-check" -> upgradeCheck = true;
                case "kill-children-on-exit" -> killChildrenOnExit = true;
                case "drop-env-var" -> dropEnv.add(nonEmpty(opt, v));
                case "metrics" -> metrics = metricsAddress(v);
                case "verbose" -> config = config.with(Settings.Setting.VERBOSITY, 0);
                case "quiet" -> config = config.with(Settings.Setting.VERBOSITY, 2);
                case "help" -> {
                    return new Parsed.Help();
                }
                case "version" -> {
                    return new Parsed.Version();
                }
                default -> throw new IllegalStateException("unhandled option " + name);
            }
            return null;
        }

        Options build(List<String> program) {
            Config c = config;
            return new Options(c.number(), List.copyOf(binds), backlog, family, c.verbosity(), List.copyOf(dropEnv),
                    Optional.ofNullable(commandName), Optional.ofNullable(pidfile), Optional.ofNullable(socketPath),
                    Optional.ofNullable(lockfile), commandSocketAsFd, listenFds, upgradeCheck, killChildrenOnExit, c.respawnInterval(), c.signalTimeout(),
                    c.gracefulSignal(), c.ackMode(), c.ackTimeout(), maxUnackedGiven ? c.maxUnacked() : 0,
                    c.maxUpgradeAdditional(), c.upgradeTimeout(), c.upgradeMaxFailures(), c.health(), program,
                    Optional.ofNullable(metrics));
        }

        /** --metrics [ADDR:]PORT: a TCP address as -b takes it, without options; a bare port is loopback. */
        private static BindSpec metricsAddress(String v) {
            String address = v.matches("\\d+") ? "127.0.0.1:" + v : v;
            String problem = address.startsWith("unix:") ? "HTTP is served over TCP only"
                    : address.contains(",") ? "it takes no options" : null;
            if (problem == null) {
                try {
                    return BindSpec.parse(address);
                } catch (UsageException e) {
                    problem = e.getMessage().substring(e.getMessage().indexOf(": ") + 2);
                }
            }
            throw new UsageException("--metrics " + v + ": " + problem + " (e.g. 9100 for 127.0.0.1:9100, or 0.0.0.0:9100)");
        }

        private static String flag(Opt opt) {
            return opt.longName() != null ? "--" + opt.longName() : "-" + opt.shortName();
        }

        /** Applies the core's rule for this setting; its complaint follows the option's name. */
        private void set(Opt opt, Setting setting, String v) {
            try {
                config = setting.apply(config, v);
            } catch (Settings.Invalid e) {
                throw new UsageException(flag(opt) + " " + e.getMessage());
            }
        }

        private static int backlog(Opt opt, String v) {
            try {
                return Settings.count(v, 1, 1 << 20);
            } catch (Settings.Invalid e) {
                throw new UsageException(flag(opt) + " " + e.getMessage());
            }
        }

        private static String nonEmpty(Opt opt, String v) {
            if (v.isEmpty()) throw new UsageException(flag(opt) + " needs a non-empty value");
            return v;
        }
    }
}
