package dev.einhyrningsins.cli;

import dev.einhyrningsins.shell.Log;
import dev.einhyrningsins.supervisor.Config;
import dev.einhyrningsins.supervisor.Settings.Setting;
import dev.einhyrningsins.supervisor.Settings;
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
                    "Bind a socket and pass it to workers (repeatable; order gives EINHORN_FD_0..n-1). "
                            + "ADDR: IPv4, [IPv6], host name, or unix:PATH; datagram sockets: udp:ADDR:PORT, unixgram:PATH. "
                            + "OPT: r/so_reuseaddr, n/o_nonblock, p/so_reuseport, "
                            + "name=NAME, stdin (also the workers' fd 0, for System.inheritedChannel(); one -b at most); "
                            + "for unix and unixgram: mode=OCTAL, group=NAME|GID, owner=NAME|UID (root), set before anyone "
                            + "can connect"),
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
            new Opt(null, "ready-failures", "N", "Failed ready checks in a row that fail a worker before its ack (default "
                    + "3): an upgrade whose build never passes aborts after --upgrade-max-failures such workers"),
            new Opt(null, "check-interval", "SECONDS", "Pause between the end of one check of a worker and the next, "
                    + "and between RSS samples (default 1)"),
            new Opt(null, "check-timeout", "SECONDS", "Kill a check still running after SECONDS; it counts as failed (default 5)"),
            new Opt(null, "ping-timeout", "SECONDS", "Replace a worker that sent worker:ping and then stays silent for "
                    + "SECONDS (default off)"),
            new Opt(null, "max-worker-rss", "MB", "Replace a worker whose process tree's resident memory exceeds MB MiB "
                    + "(default off)"),
            new Opt(null, "max-worker-age", "SECONDS", "Replace a worker SECONDS after its start (default off)"),
            new Opt(null, "shutdown-delay", "SECONDS", "On TERM or INT, first report not ready for SECONDS (GET /ready, "
                    + "the ready gauge, STATUS= to systemd) while the workers keep serving, then stop; TERM or INT "
                    + "again stops at once (default off)"),
            new Opt(null, "max-draining", "N", "At most N generations retiring at once: an upgrade that would exceed it "
                    + "first SIGKILLs the oldest draining generation with its process groups (default unlimited)"),
            new Opt(null, "drain-timeout", "SECONDS", "SIGKILL a retiring worker with its process group SECONDS after it "
                    + "was first asked to go, whatever -t says (default off)"),
            new Opt(null, "env-file", "FILE", "Add FILE's variables to the workers' environment (systemd "
                    + "EnvironmentFile= syntax: KEY=VALUE lines, # comments, quotes); read again at every upgrade and "
                    + "reload, which a malformed file refuses, naming its line"),
            new Opt("c", "command-name", "NAME", "Name of this instance: default files become einhorn-NAME.sock/.lock"),
            new Opt("d", "socket-path", "PATH", "Control socket path (default $TMPDIR/einhorn[-NAME].sock)"),
            new Opt("f", "lockfile", "PATH", "Lock file guarding the control socket (default beside it, einhorn[-NAME].lock)"),
            new Opt("e", "pidfile", "PATH", "Write the supervisor's pid to PATH after a successful start; removed on exit"),
            new Opt("g", "command-socket-as-fd", null, "Give each worker a control channel of its own in EINHORN_SOCK_FD (not counted against the control socket's 256 connections)"),
            new Opt(null, "listen-fds", null, "Also pass the sockets the systemd way: LISTEN_FDS, LISTEN_FDNAMES and "
                    + "LISTEN_PID (the worker's own pid), for workers that use sd_listen_fds"),
            new Opt("k", "kill-children-on-exit", null, "Workers get the graceful signal from the kernel if the supervisor dies "
                    + "(SIGKILL, OOM killer, crash): started through setpriv --pdeathsig (util-linux 2.33+)"),
            new Opt(null, "user", "NAME|UID", "Run workers and checks as this user, with its groups (none for a uid "
                    + "without a passwd entry), through setpriv; root only. The control socket lets it ack"),
            new Opt(null, "group", "NAME|GID", "With --user: the group they run with (default: the user's, or the uid's "
                    + "own number)"),
            new Opt(null, "drop-env-var", "VAR", "Remove VAR from the workers' environment (repeatable)"),
            new Opt(null, "metrics", "[ADDR:]PORT", "Serve HTTP at ADDR:PORT: OpenMetrics at /metrics, probes at /ready "
                    + "(200 when the target number of workers are acked and no stop is under way) and /live (200 when "
                    + "the supervisor loop answers within 1 s); a bare PORT listens on 127.0.0.1, :PORT on every "
                    + "interface (default: only the metrics and ready control commands)"),
            new Opt("v", "verbose", null, "Log debug messages too"),
            new Opt("q", "quiet", null, "Log errors and warnings only"),
            new Opt(null, "config", "FILE", "Read options and PROGRAM from FILE, written as on a command line (quotes, "
                    + "no expansion; see CONFIGURATION FILE in einhyrningsins(1)); options after --config override it"),
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
        Scan scan = scan(s, args, null);
        if (scan.early() != null) return scan.early();
        List<String> program = scan.program();
        if (!s.confProgram.isEmpty()) {
            if (!program.isEmpty()) {
                throw new UsageException("PROGRAM given twice: in --config " + s.conf + " and on the command line");
            }
            program = s.confProgram;
        }
        if (program.isEmpty()) throw new UsageException("no PROGRAM given: einhyrningsins [OPTIONS] -- PROGRAM [ARGS...]");
        return new Parsed.Run(s.build(program));
    }

    /** What one list of words gave: a --help or --version that ends parsing, or the PROGRAM after the options. */
    private record Scan(Parsed early, List<String> program) {}

    /**
     * Applies the options of {@code args} to {@code s} up to the PROGRAM. {@code --config FILE}
     * scans the file's words in its place (its PROGRAM, if any, kept aside); {@code file} is the
     * config file being scanned, or null for the command line.
     */
    private static Scan scan(State s, List<String> args, Path file) {
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
                Opt opt = byLong(name, file);
                String value = null;
                if (opt.arg() != null) {
                    if (inline != null) {
                        value = inline;
                    } else if (opt.longName().equals("ack-mode") && !looksLikeAckMode(args, i)) {
                        value = "manual";
                    } else {
                        if (i >= args.size()) throw new UsageException(in(file) + "option --" + name + " needs an argument " + opt.arg());
                        value = args.get(i++);
                    }
                } else if (inline != null) {
                    throw new UsageException(in(file) + "option --" + name + " takes no argument");
                }
                if (opt.longName().equals("config")) {
                    if (file != null) throw new UsageException(in(file) + "--config cannot be used in a config file");
                    if (s.conf != null) throw new UsageException("--config given twice");
                    if (value.isEmpty()) throw new UsageException("--config needs a non-empty value");
                    s.conf = Path.of(value);
                    Scan conf = scan(s, ConfFile.words(s.conf), s.conf);
                    if (conf.early() != null) return conf;
                    s.confProgram = conf.program();
                    continue;
                }
                Parsed early = s.apply(opt, value, file);
                if (early != null) return new Scan(early, List.of());
            } else {
                for (int k = 1; k < word.length(); k++) {
                    Opt opt = byShort(word.charAt(k), file);
                    String value = null;
                    if (opt.arg() != null) {
                        if (k + 1 < word.length()) {
                            value = word.substring(k + 1);
                        } else if (opt.shortName().equals("m") && !looksLikeAckMode(args, i)) {
                            value = "manual";
                        } else {
                            if (i >= args.size()) {
                                throw new UsageException(in(file) + "option -" + opt.shortName() + " needs an argument " + opt.arg());
                            }
                            value = args.get(i++);
                        }
                        k = word.length();
                    }
                    Parsed early = s.apply(opt, value, file);
                    if (early != null) return new Scan(early, List.of());
                }
            }
        }
        return new Scan(null, List.copyOf(args.subList(i, args.size())));
    }

    /** The prefix of a complaint about a config file's words: which file. */
    private static String in(Path file) {
        return file == null ? "" : "in --config " + file + ": ";
    }

    /** einhyrningsins' bare -m: only "manual" or a number after -m is its value. */
    private static boolean looksLikeAckMode(List<String> args, int i) {
        if (i >= args.size()) return false;
        String next = args.get(i);
        return next.equalsIgnoreCase("manual") || next.equalsIgnoreCase("notify") || next.matches("\\d+(\\.\\d*)?|\\.\\d+");
    }

    private static Opt byLong(String name, Path file) {
        for (Opt o : OPTIONS) if (name.equals(o.longName())) return o;
        throw new UsageException(in(file) + "unknown option --" + name);
    }

    private static Opt byShort(char c, Path file) {
        for (Opt o : OPTIONS) if (String.valueOf(c).equals(o.shortName())) return o;
        if (c == 'p') throw new UsageException(in(file) + "option -p/--preload loads Ruby code into einhorn and has no equivalent here");
        throw new UsageException(in(file) + "unknown option -" + c);
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
        Path envFile;
        boolean killChildrenOnExit;
        String user;
        String group;
        Path conf;
        List<String> confProgram = List.of();

        /** Applies one option; a complaint about its value names the config file it came from, if any. */
        Parsed apply(Opt opt, String v, Path file) {
            try {
                return apply(opt, v);
            } catch (UsageException e) {
                if (file == null) throw e;
                throw new UsageException(in(file) + e.getMessage());
            }
        }

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
                case "ready-failures" -> set(opt, Setting.READY_FAILURES, v);
                case "shutdown-delay" -> set(opt, Setting.SHUTDOWN_DELAY, v);
                case "max-draining" -> set(opt, Setting.MAX_DRAINING, v);
                case "drain-timeout" -> set(opt, Setting.DRAIN_TIMEOUT, v);
                case "env-file" -> envFile = Path.of(nonEmpty(opt, v));
                case "command-name" -> commandName = nonEmpty(opt, v);
                case "socket-path" -> socketPath = Path.of(nonEmpty(opt, v));
                case "lockfile" -> lockfile = Path.of(nonEmpty(opt, v));
                case "pidfile" -> pidfile = Path.of(nonEmpty(opt, v));
                case "command-socket-as-fd" -> commandSocketAsFd = true;
                case "listen-fds" -> listenFds = true;
                case "upgrade-check" -> upgradeCheck = true;
                case "kill-children-on-exit" -> killChildrenOnExit = true;
                case "drop-env-var" -> dropEnv.add(nonEmpty(opt, v));
                case "user" -> user = id(opt, v, "a user name or a uid, e.g. --user www-data or --user 1000");
                case "group" -> group = id(opt, v, "a group name or a gid, e.g. --group www-data or --group 33");
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
            List<String> stdin = binds.stream().filter(BindSpec::stdin).map(BindSpec::text).toList();
            if (stdin.size() > 1) {
                throw new UsageException("-b " + stdin.get(0) + " and -b " + stdin.get(1)
                        + " both say stdin: a worker has one standard input, give it to one socket");
            }
            if (group != null && user == null) {
                throw new UsageException("--group " + group + " needs --user: it is the group workers run with as that user");
            }
            Config c = config;
            return new Options(c.number(), List.copyOf(binds), backlog, family, c.verbosity(), List.copyOf(dropEnv),
                    Optional.ofNullable(commandName), Optional.ofNullable(pidfile), Optional.ofNullable(socketPath),
                    Optional.ofNullable(lockfile), commandSocketAsFd, listenFds, upgradeCheck, killChildrenOnExit, c.respawnInterval(), c.signalTimeout(),
                    c.gracefulSignal(), c.ackMode(), c.ackTimeout(), maxUnackedGiven ? c.maxUnacked() : 0,
                    c.maxUpgradeAdditional(), c.upgradeTimeout(), c.upgradeMaxFailures(), c.health(), c.drain(), program,
                    Optional.ofNullable(metrics), Optional.ofNullable(user), Optional.ofNullable(group),
                    Optional.ofNullable(envFile));
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

        /** A user or group: a name (no blanks or ':') or a number. */
        private static String id(Opt opt, String v, String example) {
            if (v.isEmpty() || v.contains(":") || v.chars().anyMatch(Character::isWhitespace)) {
                throw new UsageException(flag(opt) + " takes " + example + ", not '" + v + "'");
            }
            return v;
        }

        private static String nonEmpty(Opt opt, String v) {
            if (v.isEmpty()) throw new UsageException(flag(opt) + " needs a non-empty value");
            return v;
        }
    }
}
