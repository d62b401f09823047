import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * Footprint and start-up of einhyrningsins (image launcher, {@code java -jar}) against einhorn,
 * measured in one run, the variants alternating round by round, on the same workers. Prints a
 * Markdown table of medians and the ratios to einhorn. See bench/footprint.sh.
 */
public class FootprintBench {
    static final Path ROOT = Path.of(System.getProperty("bench.root", ".")).toAbsolutePath().normalize();
    static final int GARBAGE_LINES = 2000;
    static final int GARBAGE_CONNECTIONS = 8;
    static final int CTL_PER_ROUND = 5;
    /** From the last worker running to "idle": every worker acked (-m 1 s, both supervisors' default)
     *  and what einhyrningsins does once it is up (a collection and malloc_trim 10 s later) done. */
    static final long IDLE_AFTER_START_MILLIS = 15_000;

    /** How to run one supervisor implementation and its control client. */
    record Variant(String name, List<String> supervisor, List<String> ctl, Map<String, String> env) {}

    /** Figures of one round of one variant. */
    record Round(double firstWorkerMs, double firstHttpMs, List<Double> ctlMs, long rss4Kb, long garbageGrowthKb) {}

    /** Figures of the idle run with 64 workers. */
    record Idle(long rssKb, int threads, long wakeUps, Map<String, Long> wakeUpsByThread) {}

    static Path work;
    static int runs;
    static final List<ProcessHandle> started = new ArrayList<>();

    public static void main(String[] args) throws Exception {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 5;
        int idleSeconds = args.length > 1 ? Integer.parseInt(args[1]) : 30;
        String java = System.getProperty("bench.java");
        String einhorn = System.getenv("EINHORN");
        work = Files.createTempDirectory(Path.of("/tmp"), "fp"); // short: UNIX socket paths are limited to 107 bytes
        Runtime.getRuntime().addShutdownHook(new Thread(FootprintBench::cleanup));

        List<Variant> variants = new ArrayList<>();
        variants.add(new Variant("image", List.of(ROOT.resolve("target/image/bin/einhyrningsins").toString()),
                List.of(ROOT.resolve("target/image/bin/einhyrningsinsctl").toString()), Map.of()));
        String jar = ROOT.resolve("target/einhyrningsins.jar").toString();
        variants.add(new Variant("java -jar", List.of(java, "-jar", jar), List.of(java, "-jar", jar, "ctl"), Map.of()));
        if (einhorn != null && !einhorn.isEmpty()) {
            Path e = Path.of(einhorn).toAbsolutePath();
            Map<String, String> env = Map.of("RUBYLIB", e.resolve("lib").toString());
            variants.add(new Variant("einhorn", List.of("ruby", e.resolve("bin/einhorn").toString()),
                    List.of("ruby", e.resolve("bin/einhornsh").toString()), env));
        }

        Path marker = work.resolve("worker.sh");
        Files.writeString(marker, """
                #!/bin/sh
                date +%s%N >"$MARKER_DIR/.w$$" && mv "$MARKER_DIR/.w$$" "$MARKER_DIR/w$$"
                exec sleep 600
                """);
        Files.setPosixFilePermissions(marker, PosixFilePermissions.fromString("rwxr-xr-x"));

        PrintStream out = System.out;
        out.printf("einhyrningsins footprint: %d CPUs, %s %s; %d rounds, variants alternating; medians%n",
                Runtime.getRuntime().availableProcessors(), System.getProperty("os.name"), System.getProperty("os.version"),
                rounds);
        out.printf("java -jar: %s (%s)%s%n", java, javaVersion(java),
                variants.size() > 2 ? "; einhorn " + firstLine(List.of("ruby", variants.get(2).supervisor().get(1), "--version"),
                        variants.get(2).env()) + " on " + firstLine(List.of("ruby", "--version"), Map.of()) : "; einhorn: EINHORN not set, column skipped");

        Map<String, List<Round>> results = new LinkedHashMap<>();
        for (Variant v : variants) results.put(v.name(), new ArrayList<>());
        for (int r = 0; r < rounds; r++) {
            for (int k = 0; k < variants.size(); k++) {
                Variant v = variants.get((r + k) % variants.size());
                results.get(v.name()).add(round(v, marker));
            }
            System.err.printf("round %d/%d done%n", r + 1, rounds);
        }
        Map<String, Idle> idle = idle(variants, marker, idleSeconds);

        out.println();
        out.print("| figure |");
        for (Variant v : variants) out.print(" " + v.name() + " |");
        boolean ratios = variants.size() > 2;
        if (ratios) out.print(" image ÷ einhorn | java -jar ÷ einhorn |");
        out.println(" target |");
        out.println("|---".repeat(variants.size() + 2 + (ratios ? 2 : 0)) + "|");
        row(out, variants, "exec → first worker running", "%.0f ms", "image ≤ 1.0×, java -jar ≤ 1.5×",
                v -> median(results.get(v).stream().map(Round::firstWorkerMs).toList()));
        row(out, variants, "exec → first HTTP 200 (Python worker)", "%.0f ms", "",
                v -> median(results.get(v).stream().map(Round::firstHttpMs).toList()));
        row(out, variants, "`ctl -e state` wall time (einhornsh)", "%.0f ms", "image ≤ 0.5×, java -jar ≤ 1.0×",
                v -> median(results.get(v).stream().flatMap(x -> x.ctlMs().stream()).toList()));
        row(out, variants, "supervisor RSS, 4 idle workers", "%.1f MB", "image ≤ 2.5×, java -jar ≤ 4×",
                v -> median(results.get(v).stream().map(x -> x.rss4Kb() / 1024.0).toList()));
        row(out, variants, "supervisor RSS, 64 idle workers", "%.1f MB", "",
                v -> idle.get(v).rssKb() / 1024.0);
        row(out, variants, "RSS growth, " + GARBAGE_LINES + " garbage control lines", "%+.1f MB", "≤ 10 MB",
                v -> median(results.get(v).stream().map(x -> x.garbageGrowthKb() / 1024.0).toList()));
        row(out, variants, "threads, 64 idle workers", "%.0f", "≤ 8", v -> (double) idle.get(v).threads());
        row(out, variants, "wake-ups in " + idleSeconds + " s idle, 64 workers", "%.0f", "0",
                v -> (double) idle.get(v).wakeUps());
        out.println();
        out.println("wake-ups (context switches) by thread in the idle window:");
        for (Variant v : variants) out.printf("  %-10s %s%n", v.name(), idle.get(v.name()).wakeUpsByThread());
    }

    static void row(PrintStream out, List<Variant> variants, String figure, String format, String target,
                    Function<String, Double> value) {
        StringBuilder b = new StringBuilder("| " + figure + " |");
        Map<String, Double> xs = new HashMap<>();
        for (Variant v : variants) {
            double x = value.apply(v.name());
            xs.put(v.name(), x);
            b.append(' ').append(String.format(format, x)).append(" |");
        }
        if (variants.size() > 2) {
            double e = xs.get("einhorn");
            for (String n : List.of("image", "java -jar")) {
                b.append(e > 0 ? String.format(" %.2f× |", xs.get(n) / e) : " – |");
            }
        }
        b.append(' ').append(target).append(" |");
        out.println(b);
    }

    static double median(List<Double> xs) {
        double[] a = xs.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        if (a.length == 0) return Double.NaN;
        return a.length % 2 == 1 ? a[a.length / 2] : (a[a.length / 2 - 1] + a[a.length / 2]) / 2;
    }

    // ------------------------------------------------------------------ one round

    static Round round(Variant v, Path marker) throws Exception {
        double firstWorker;
        try (Supervisor s = Supervisor.start(v, 1, List.of(marker.toString()), Map.of())) {
            firstWorker = (s.awaitWorkers(1) - s.t0Nanos) / 1e6;
        }
        double firstHttp;
        int port = freePort();
        try (Supervisor s = Supervisor.start(v, 1, port, List.of("python3", ROOT.resolve("examples/http_worker.py").toString()),
                Map.of("EINHORN_ACK", "0"))) {
            long ok = firstHttp200(port, s);
            firstHttp = (ok - s.t0Nanos) / 1e6;
        }
        List<Double> ctl = new ArrayList<>();
        long rss4;
        long growth;
        try (Supervisor s = Supervisor.start(v, 4, List.of(marker.toString()), Map.of())) {
            s.awaitWorkers(4);
            Thread.sleep(IDLE_AFTER_START_MILLIS);
            ctlState(v, s.socket); // warm-up, not counted: the page cache, a CPU woken from idle
            for (int i = 0; i < CTL_PER_ROUND; i++) ctl.add(ctlState(v, s.socket));
            rss4 = statusKb(s.pid(), "VmRSS");
            garbage(s.socket);
            growth = statusKb(s.pid(), "VmRSS") - rss4;
        }
        return new Round(firstWorker, firstHttp, ctl, rss4, growth);
    }

    /** A supervisor of one variant with its own directory: socket, markers, log. */
    static final class Supervisor implements AutoCloseable {
        final Path dir;
        final Path socket;
        final Process process;
        final long t0Nanos;

        private Supervisor(Path dir, Process process, long t0Nanos) {
            this.dir = dir;
            this.socket = dir.resolve("ctl.sock");
            this.process = process;
            this.t0Nanos = t0Nanos;
        }

        static Supervisor start(Variant v, int n, List<String> worker, Map<String, String> env) throws Exception {
            return start(v, n, freePort(), worker, env);
        }

        /** Starts it through sh, which writes the wall clock (ns) just before it execs the supervisor. */
        static Supervisor start(Variant v, int n, int port, List<String> worker, Map<String, String> env) throws Exception {
            Path dir = Files.createDirectory(work.resolve("r" + ++runs));
            List<String> cmd = new ArrayList<>(List.of("/bin/sh", "-c", "date +%s%N >\"$MARKER_DIR/t0\"; exec \"$@\"", "sh"));
            cmd.addAll(v.supervisor());
            cmd.addAll(List.of("-n", String.valueOf(n), "-b", "127.0.0.1:" + port + ",r", "-d",
                    dir.resolve("ctl.sock").toString(), "--"));
            cmd.addAll(worker);
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(dir.resolve("out.log").toFile())
                    .redirectError(dir.resolve("err.log").toFile());
            pb.environment().putAll(v.env());
            pb.environment().putAll(env);
            pb.environment().put("MARKER_DIR", dir.toString());
            Process p = pb.start();
            started.add(p.toHandle());
            Path t0 = dir.resolve("t0");
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (!Files.exists(t0) || Files.size(t0) == 0) {
                check(p, dir, deadline, "no start");
                Thread.sleep(1);
            }
            return new Supervisor(dir, p, Long.parseLong(Files.readString(t0).strip()));
        }

        long pid() {
            return process.pid();
        }

        /** Waits until n workers have written their markers; returns the latest marker's wall clock (ns). */
        long awaitWorkers(int n) throws Exception {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (true) {
                List<Path> markers;
                try (var s = Files.list(dir)) {
                    markers = s.filter(x -> x.getFileName().toString().matches("w\\d+")).toList();
                }
                if (markers.size() >= n) {
                    long latest = 0;
                    for (Path m : markers) latest = Math.max(latest, Long.parseLong(Files.readString(m).strip()));
                    return latest;
                }
                check(process, dir, deadline, "fewer than " + n + " workers");
                Thread.sleep(1);
            }
        }

        /** TERM, then waits; whatever is left of it and its children is killed. */
        @Override
        public void close() throws Exception {
            List<ProcessHandle> kids = process.descendants().toList();
            process.toHandle().destroy();
            if (!process.waitFor(30, TimeUnit.SECONDS)) process.destroyForcibly().waitFor();
            for (ProcessHandle k : kids) k.destroyForcibly();
            for (ProcessHandle k : kids) k.onExit().get(10, TimeUnit.SECONDS);
        }
    }

    static void check(Process p, Path dir, long deadline, String what) throws IOException {
        if (!p.isAlive() || System.nanoTime() > deadline) {
            throw new IllegalStateException(what + "; supervisor " + (p.isAlive() ? "still running" : "exited " + p.exitValue())
                    + ", its log:\n" + Files.readString(dir.resolve("err.log")));
        }
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    /** Connects (retrying while refused) and sends GET /; returns the wall clock (ns) of the 200 status line. */
    static long firstHttp200(int port, Supervisor s) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (true) {
            try (Socket c = new Socket()) {
                c.connect(new InetSocketAddress("127.0.0.1", port));
                c.getOutputStream().write("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                String status = new BufferedReader(new InputStreamReader(c.getInputStream(), StandardCharsets.US_ASCII)).readLine();
                long now = wallNanos();
                if (status != null && status.contains(" 200 ")) return now;
            } catch (IOException refused) {
                // not bound yet, or the worker is not there yet
            }
            check(s.process, s.dir, deadline, "no HTTP 200");
            Thread.sleep(1);
        }
    }

    static long wallNanos() {
        java.time.Instant i = java.time.Instant.now();
        return i.getEpochSecond() * 1_000_000_000L + i.getNano();
    }

    /** Wall time of one {@code ctl -e state} (einhornsh -e state), from start to exit, in ms. */
    static double ctlState(Variant v, Path socket) throws Exception {
        List<String> cmd = new ArrayList<>(v.ctl());
        cmd.addAll(List.of("-d", socket.toString(), "-e", "state"));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .redirectError(ProcessBuilder.Redirect.INHERIT).redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()));
        pb.environment().putAll(v.env());
        long t0 = System.nanoTime();
        Process p = pb.start();
        int status = p.waitFor();
        double ms = (System.nanoTime() - t0) / 1e6;
        if (status != 0) throw new IllegalStateException(String.join(" ", cmd) + " exited " + status);
        return ms;
    }

    /**
     * Sends {@link #GARBAGE_LINES} lines of garbage over {@link #GARBAGE_CONNECTIONS} connections at once and
     * reads every reply ("Could not parse command", or einhorn's answer to a mapping without a command).
     * The lines are printable text without YAML's alias, anchor and tag characters, so that einhorn's
     * parser answers each of them instead of raising.
     */
    static void garbage(Path socket) throws Exception {
        Random random = new Random(42);
        String alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ,.:;=+/()[]{}<>?-_'\"";
        int per = GARBAGE_LINES / GARBAGE_CONNECTIONS;
        List<SocketChannel> chs = new ArrayList<>();
        try {
            for (int c = 0; c < GARBAGE_CONNECTIONS; c++) {
                StringBuilder b = new StringBuilder();
                for (int i = 0; i < per; i++) {
                    b.append('x'); // never blank, never a document marker or a comment
                    int len = 20 + random.nextInt(140);
                    for (int k = 0; k < len; k++) b.append(alphabet.charAt(random.nextInt(alphabet.length())));
                    b.append('\n');
                }
                SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
                ch.connect(UnixDomainSocketAddress.of(socket));
                chs.add(ch);
                ByteBuffer buf = ByteBuffer.wrap(b.toString().getBytes(StandardCharsets.US_ASCII));
                while (buf.hasRemaining()) ch.write(buf);
            }
            for (SocketChannel ch : chs) {
                int lines = 0;
                ByteBuffer buf = ByteBuffer.allocate(64 * 1024);
                while (lines < per) {
                    buf.clear();
                    int n = ch.read(buf);
                    if (n < 0) throw new IllegalStateException("connection closed after " + lines + " replies");
                    for (int i = 0; i < n; i++) if (buf.get(i) == '\n') lines++;
                }
            }
        } finally {
            for (SocketChannel ch : chs) ch.close();
        }
    }

    // ------------------------------------------------------------------ idle with 64 workers

    /** All variants at once with 64 workers each: RSS, threads, and context switches over the idle window. */
    static Map<String, Idle> idle(List<Variant> variants, Path marker, int seconds) throws Exception {
        Map<String, Supervisor> sups = new LinkedHashMap<>();
        Map<String, Idle> idle = new LinkedHashMap<>();
        try {
            for (Variant v : variants) sups.put(v.name(), Supervisor.start(v, 64, List.of(marker.toString()), Map.of()));
            for (Supervisor s : sups.values()) s.awaitWorkers(64);
            Thread.sleep(IDLE_AFTER_START_MILLIS);
            Map<String, Map<Long, Switches>> before = new HashMap<>();
            for (var e : sups.entrySet()) before.put(e.getKey(), switches(e.getValue().pid()));
            Thread.sleep(TimeUnit.SECONDS.toMillis(seconds));
            for (var e : sups.entrySet()) {
                long pid = e.getValue().pid();
                Map<Long, Switches> after = switches(pid);
                Map<String, Long> byThread = new TreeMap<>();
                long total = 0;
                for (var t : after.entrySet()) {
                    Switches b = before.get(e.getKey()).get(t.getKey());
                    long d = t.getValue().count() - (b == null ? 0 : b.count());
                    total += d;
                    if (d > 0) byThread.merge(t.getValue().name(), d, Long::sum);
                }
                idle.put(e.getKey(), new Idle(statusKb(pid, "VmRSS"), after.size(), total, byThread));
            }
        } finally {
            for (Supervisor s : sups.values()) s.close();
        }
        return idle;
    }

    record Switches(String name, long count) {}

    static Map<Long, Switches> switches(long pid) throws IOException {
        Map<Long, Switches> m = new HashMap<>();
        try (var tasks = Files.list(Path.of("/proc", Long.toString(pid), "task"))) {
            for (Path t : tasks.toList()) {
                try {
                    long n = 0;
                    for (String line : Files.readAllLines(t.resolve("status"))) {
                        if (line.startsWith("voluntary_ctxt_switches:") || line.startsWith("nonvoluntary_ctxt_switches:")) {
                            n += Long.parseLong(line.substring(line.indexOf(':') + 1).strip());
                        }
                    }
                    m.put(Long.parseLong(t.getFileName().toString()), new Switches(Files.readString(t.resolve("comm")).strip(), n));
                } catch (IOException gone) {
                    // the thread ended meanwhile
                }
            }
        }
        return m;
    }

    // ------------------------------------------------------------------ helpers

    static long statusKb(long pid, String key) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
            if (line.startsWith(key + ":")) return Long.parseLong(line.replaceAll("[^0-9]", ""));
        }
        throw new IllegalStateException("no " + key + " for " + pid);
    }

    static String javaVersion(String java) throws Exception {
        return firstLine(List.of(java, "-version"), Map.of());
    }

    static String firstLine(List<String> cmd, Map<String, String> env) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().putAll(env);
        Process p = pb.start();
        String line = new BufferedReader(new InputStreamReader(p.getInputStream())).readLine();
        p.waitFor();
        return line == null ? "?" : line.strip();
    }

    static void cleanup() {
        for (ProcessHandle h : started) {
            if (h.isAlive()) {
                h.descendants().forEach(ProcessHandle::destroyForcibly);
                h.destroyForcibly();
            }
        }
        try (var s = Files.walk(work)) {
            s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // best effort
        }
    }
}
