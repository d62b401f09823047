package dev.einhyrningsins.reload;

import dev.einhyrningsins.posix.Fds;
import dev.einhyrningsins.posix.Signals;
import dev.einhyrningsins.posix.Spawn;
import dev.einhyrningsins.shell.SignalIntake;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import sun.misc.Signal;

/**
 * A plain {@code java -jar einhyrningsins.jar …} supervisor starts itself again, in place
 * ({@code execve}: the same pid), as the runtime image's launcher starts it: with the
 * launcher's lean JVM flags, {@code _JAVA_SR_SIGNUM=40} (so USR2 reaches the supervisor), and
 * its signals waiting in the kernel from the new JVM's first instruction (HUP, INT and TERM
 * ignored and blocked, USR2, TTIN and TTOU blocked). A jar cannot name JVM flags, and without
 * them the JDK's defaults — G1 with a heap of a quarter of the machine's memory, both JIT
 * compilers — keep what a burst of control traffic touched (measured, bench/settle.py: 60 s
 * of upgrades left {@code java -jar} 14–25 MB above idle and 230 MB at the peak, against
 * 4 MB and 58 MB with these flags), wake an idle supervisor hundreds of times a minute, and
 * give HotSpot USR2.
 *
 * <p>Only a JVM started exactly as {@code JAVA -jar JAR ARGS} (from /proc/self/cmdline) with
 * none of the JDK's option variables set starts again: whoever passes JVM options of their
 * own chooses them all, and a reload's exec (which passes the options it was started with,
 * these included) never does. {@code EINHYRNINGSINS_JAVA_OPTS} adds options after these, as it
 * does for the image's launcher. The cost is a first JVM's start, its parse of the command
 * line and FFM's first link without an AOT cache before the real one: exec → first worker
 * 1.39× the previous build's (README, "Measured here").
 */
public final class LeanStart {
    /**
     * The image launcher's JVM flags that any JDK takes ({@code src/main/image/bin/einhyrningsins}
     * explains each; {@code LeanStartTest} keeps the two lists the same). Not its AOT cache, and not
     * the module options the jar's manifest already gives.
     */
    static final List<String> FLAGS = List.of(
            "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-XX:-UsePerfData",
            "-Xss512k", "-Xms8m", "-Xmx64m", "-XX:MinHeapFreeRatio=10", "-XX:MaxHeapFreeRatio=30",
            "--finalization=disabled",
            "-Djava.nio.channels.spi.SelectorProvider=sun.nio.ch.EPollSelectorProvider",
            "-Djdk.reflect.useNativeAccessorOnly=true",
            "-XX:+UnlockDiagnosticVMOptions",
            "-XX:AsyncDeflationInterval=0", "-XX:GuaranteedAsyncDeflationInterval=86400000",
            "-XX:ServiceThreadCleanupInterval=86400000");

    /** A system property the lean start sets: its flags are in force (no need to set any at run time). */
    public static final String MARKER = "einhyrningsins.lean";

    /** Whether this JVM is a lean start's. */
    public static boolean started() {
        return Boolean.getBoolean(MARKER);
    }

    /**
     * First: the jar runs on any Java from 25 on, and a later release may drop a flag (the
     * diagnostic ones above are the likeliest); one it does not know must not stop the
     * supervisor from starting. The image's launcher runs its own JDK and needs none.
     */
    static final String IGNORE_UNKNOWN = "-XX:+IgnoreUnrecognizedVMOptions";

    /** The JDK's own variables of JVM options: set, they would meet ours (conflicting collectors, a smaller -Xmx). */
    static final List<String> JDK_OPTION_VARIABLES = List.of("JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "_JAVA_OPTIONS");
    /**
     * The first JVM's descriptors of its modules image and jar, for the second to close ("3,4").
     * A supervisor's own variable: never a worker's, and not passed on by a reload.
     */
    public static final String LEFTOVERS = "EINHYRNINGSINS_LEAN_FDS";
    /** Extra JVM options for the launchers, after theirs. */
    static final String EXTRA = "EINHYRNINGSINS_JAVA_OPTS";
    /** HotSpot's suspend/resume signal, moved off USR2 as the image's launcher does. */
    static final String SR_SIGNUM = "_JAVA_SR_SIGNUM";


    private LeanStart() {}

    /** What to execve: argv (argv[0] kept) and the environment. */
    record Exec(List<String> argv, Map<String, String> env) {}

    /**
     * The lean start of this JVM, or empty when it is to run as it was started.
     *
     * @param cmdline this process's argv (from /proc/self/cmdline)
     * @param args    the supervisor's own arguments (main's)
     * @param env     this process's environment
     */
    static Optional<Exec> plan(List<String> cmdline, List<String> args, Map<String, String> env) {
        if (cmdline.size() != 3 + args.size() || !cmdline.get(1).equals("-jar")
                || !cmdline.subList(3, cmdline.size()).equals(args)) {
            return Optional.empty(); // JVM options of the caller's own, a class path, or an @argfile
        }
        if (set(env, "EINHYRNINGSINS_LAUNCHER") || set(env, Handover.ENV)) return Optional.empty();
        for (String v : JDK_OPTION_VARIABLES) {
            if (set(env, v)) return Optional.empty();
        }
        List<String> argv = new ArrayList<>();
        argv.add(cmdline.get(0));
        argv.add(IGNORE_UNKNOWN);
        argv.addAll(FLAGS);
        argv.add("-D" + MARKER + "=true");
        String extra = env.getOrDefault(EXTRA, "").strip();
        if (!extra.isEmpty()) argv.addAll(List.of(extra.split("[ \t\n]+")));
        argv.addAll(cmdline.subList(1, cmdline.size()));
        Map<String, String> next = new LinkedHashMap<>(env);
        if (!set(env, SR_SIGNUM)) next.put(SR_SIGNUM, "40"); // empty is unset, as for the launcher's ${:=}
        return Optional.of(new Exec(argv, next));
    }

    private static boolean set(Map<String, String> env, String name) {
        String v = env.get(name);
        return v != null && !v.isEmpty();
    }

    /**
     * At the supervisor's start: in the first JVM of a plain {@code java -jar}, starts this JVM
     * again lean ({@link #plan}), returning only if it is not to or if the exec failed (said in
     * one line on {@code err}: the supervisor then runs as it was started); in the second,
     * closes the descriptors the first one left open ({@link #LEFTOVERS}).
     */
    public static void begin(List<String> args, PrintStream err) {
        Optional<Exec> plan;
        String java;
        try {
            closeLeftovers(System.getenv(LEFTOVERS));
            plan = plan(Launch.cmdline(), args, System.getenv());
            // a JDK replaced on disk since this JVM started may be another Java: not without a check
            java = Launch.exeLink();
        } catch (IOException | RuntimeException e) {
            return; // no /proc: run as started
        }
        if (plan.isEmpty() || java.endsWith(Launch.DELETED)) return;
        start(plan.get(), java, Spawn::execve, err);
    }

    /**
     * Execs {@code plan} with the signals set for it; if the exec fails, puts the signals back
     * as they were and says so on {@code err}. No lambdas or streams on this path: without an
     * AOT cache each one's first run costs milliseconds of the start.
     */
    static void start(Exec plan, String java, Effects.Exec exec, PrintStream err) {
        // all blocked; those the JVM would take for its shutdown also ignored, so that the new JVM
        // installs no handler over them: they wait in the kernel
        int[] ignored = numbers(SignalIntake.JVM_SHUTDOWN);
        int[] all = numbers(SignalIntake.SIGNALS);
        List<Signals.Disposition> saved = new ArrayList<>();
        int[] blocked = {};
        try {
            List<String> envp = new ArrayList<>(plan.env().size() + 1);
            for (Map.Entry<String, String> e : plan.env().entrySet()) {
                if (!e.getKey().equals(LEFTOVERS)) envp.add(e.getKey() + "=" + e.getValue());
            }
            String own = ownFiles();
            if (!own.isEmpty()) envp.add(LEFTOVERS + "=" + own);
            // blocked in this thread, which becomes the next process's only one, then ignored:
            // one arriving from now until the exec at another of this JVM's threads is discarded
            // (microseconds; before them the JVM's handlers take it and this JVM exits)
            blocked = notBlocked(all);
            Signals.block(blocked);
            for (int s : ignored) saved.add(Signals.ignore(s));
            forgetPerfData();
            exec.exec(java, plan.argv(), envp);
            throw new IllegalStateException("execve returned");
        } catch (RuntimeException | Error e) {
            for (Signals.Disposition d : saved) Signals.restore(d);
            if (blocked.length > 0) Signals.unblock(blocked);
            err.println("einhyrningsins: cannot start the JVM again with lean flags (" + e.getMessage()
                    + "); running as started");
        }
    }

    /** Those of {@code signals} this thread does not block now. */
    private static int[] notBlocked(int[] signals) {
        long mask;
        try {
            mask = Signals.maskOf(Path.of("/proc/thread-self/status"), "SigBlk:");
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        int[] out = new int[signals.length];
        int n = 0;
        for (int s : signals) {
            if (!Signals.has(mask, s)) out[n++] = s;
        }
        return java.util.Arrays.copyOf(out, n);
    }

    private static int[] numbers(List<String> names) {
        int[] n = new int[names.size()];
        for (int i = 0; i < n.length; i++) n[i] = new Signal(names.get(i)).getNumber();
        return n;
    }

    /**
     * The files every JVM opens at its start and keeps open — its modules image and the jar it
     * runs — without close-on-exec; the real paths, for comparing with /proc/self/fd's links.
     */
    private static Set<Path> ownFilePaths() {
        Set<Path> real = new HashSet<>();
        for (Path p : new Path[] {Path.of(System.getProperty("java.home"), "lib", "modules"), Launch.jar()}) {
            if (p == null) continue;
            try {
                real.add(p.toRealPath());
            } catch (IOException e) {
                // not there: nothing of it is open
            }
        }
        return real;
    }

    /**
     * This JVM's descriptors of {@link #ownFilePaths}, as "3,4". They cross the exec (setting
     * close-on-exec here would link the C library's variadic {@code fcntl}, ~50 ms more of the
     * first JVM, measured); the second JVM closes them ({@link #closeLeftovers}). Anything else
     * open was inherited (systemd's sockets) and crosses the exec as it would have reached this
     * JVM.
     */
    private static String ownFiles() {
        Set<Path> real = ownFilePaths();
        StringBuilder out = new StringBuilder();
        try (DirectoryStream<Path> fds = Files.newDirectoryStream(Path.of("/proc/self/fd"))) {
            for (Path fd : fds) {
                try {
                    int n = Integer.parseInt(fd.getFileName().toString());
                    if (n > 2 && real.contains(Files.readSymbolicLink(fd))) out.append(out.isEmpty() ? "" : ",").append(n);
                } catch (IOException | RuntimeException e) {
                    // closed meanwhile (the listing's own fd), or not a path: leave it
                }
            }
        } catch (IOException e) {
            throw new java.io.UncheckedIOException("cannot list /proc/self/fd", e);
        }
        return out.toString();
    }

    /**
     * Closes the descriptors {@code leftovers} ("3,4", from {@link #LEFTOVERS}) names that are
     * still open on the modules image or the jar (the second JVM's own are on other numbers:
     * these were taken when it opened them).
     */
    static void closeLeftovers(String leftovers) {
        if (leftovers != null && !leftovers.isEmpty()) closeLeftovers(leftovers, ownFilePaths());
    }

    /** Closes the descriptors {@code leftovers} names that are open on one of {@code real}. */
    static void closeLeftovers(String leftovers, Set<Path> real) {
        for (String n : leftovers.split(",")) {
            try {
                int fd = Integer.parseInt(n.strip());
                if (fd > 2 && real.contains(Files.readSymbolicLink(Path.of("/proc/self/fd/" + fd)))) Fds.close(fd);
            } catch (IOException | RuntimeException e) {
                // not a number, not open, or not ours: leave it
            }
        }
    }

    /**
     * HotSpot's performance data file of this JVM ({@code /tmp/hsperfdata_USER/PID}), which it
     * removes when it exits: an exec is no exit, and the lean JVM ({@code -XX:-UsePerfData})
     * neither uses nor removes it, so it would stay behind, stale, for as long as the pid.
     */
    private static void forgetPerfData() {
        try {
            Files.deleteIfExists(Path.of("/tmp", "hsperfdata_" + System.getProperty("user.name"),
                    Long.toString(ProcessHandle.current().pid())));
        } catch (IOException | RuntimeException e) {
            // not there, or not ours to remove: nothing more to do
        }
    }
}
