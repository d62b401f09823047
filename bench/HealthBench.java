import java.io.*;
import java.nio.file.*;
import java.util.*;
import java.util.concurrent.*;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.*;

/**
 * What health checks cost the supervisor: a real supervisor (`java -jar`) with 20 idle workers
 * (`sleep 600`, -m 0, -v so each check logs one debug line we count), in three variants run
 * alternately: no checks; `--live-check true` every 0.1 s; `--max-worker-rss` sampled every
 * 0.1 s. Over a 5 s window after all workers are acked it prints the medians over the runs of:
 *   CPU            supervisor CPU time (utime+stime) in the window, as % of one core
 *   checks/s       live checks started per second (counted from the log)
 *   CPU/check      (CPU - the no-check CPU) / checks: spawning /bin/sh, polling, reaping,
 *                  reading its output, the core's decision and the log line
 *   check duration the last live check's duration per worker (state: spawn to reap)
 *   CPU/RSS sample (CPU - the no-check CPU) / (20 workers x 10 samples/s x 5 s)
 *
 * Run: bench/health.sh [RUNS]   (after `mvn package`; RUNS defaults to 3)
 */
public class HealthBench {
    static final Path ROOT = Path.of("").toAbsolutePath();
    static final String JAVA = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    static final int N = 20;
    static final double INTERVAL = 0.1;
    static final long WINDOW_MS = 5000;
    static final long TICK_NANOS = 10_000_000L; // USER_HZ = 100 on Linux

    record Run(double cpuPercent, double checksPerSecond, double durationMs) {}

    public static void main(String[] args) throws Exception {
        int runs = args.length > 0 ? Integer.parseInt(args[0]) : 3;
        Map<String, List<String>> variants = new LinkedHashMap<>();
        variants.put("no checks", List.of());
        variants.put("live check", List.of("--live-check", "true", "--check-interval", String.valueOf(INTERVAL)));
        variants.put("RSS sampling", List.of("--max-worker-rss", "100000", "--check-interval", String.valueOf(INTERVAL)));
        Map<String, List<Run>> results = new LinkedHashMap<>();
        variants.keySet().forEach(k -> results.put(k, new ArrayList<>()));
        System.out.printf("einhyrningsins health benchmark — %d workers, checks every %.1f s, %d CPUs, %d runs (alternating)%n",
                N, INTERVAL, Runtime.getRuntime().availableProcessors(), runs);
        for (int r = 0; r < runs; r++) {
            for (var v : variants.entrySet()) results.get(v.getKey()).add(run(v.getValue()));
        }
        double base = median(results.get("no checks"), Run::cpuPercent);
        double live = median(results.get("live check"), Run::cpuPercent);
        double rss = median(results.get("RSS sampling"), Run::cpuPercent);
        double checks = median(results.get("live check"), Run::checksPerSecond);
        System.out.printf("%-16s %8s %10s %12s %14s%n", "median", "CPU", "checks/s", "CPU/check", "check duration");
        System.out.printf("%-16s %7.1f%% %10s %12s %14s%n", "no checks", base, "-", "-", "-");
        System.out.printf("%-16s %7.1f%% %10.0f %9.0f us %11.1f ms%n", "live check", live, checks,
                (live - base) / 100 * 1e6 / checks, median(results.get("live check"), Run::durationMs));
        double samples = N / INTERVAL;
        System.out.printf("%-16s %7.1f%% %10s %9.0f us %14s  (per RSS sample, %.0f samples/s)%n", "RSS sampling", rss, "-",
                (rss - base) / 100 * 1e6 / samples, "-", samples);
    }

    static double median(List<Run> runs, java.util.function.ToDoubleFunction<Run> f) {
        double[] xs = runs.stream().mapToDouble(f).sorted().toArray();
        return xs[xs.length / 2];
    }

    static Run run(List<String> extra) throws Exception {
        Path dir = Files.createTempDirectory("einhyrningsins-health");
        Path sock = dir.resolve("ctl.sock");
        List<String> cmd = new ArrayList<>(List.of(JAVA, "-jar", ROOT.resolve("target/einhyrningsins.jar").toString(),
                "-v", "-d", sock.toString(), "-n", String.valueOf(N), "-m", "0"));
        cmd.addAll(extra);
        cmd.addAll(List.of("--", "sleep", "600"));
        Process p = new ProcessBuilder(cmd).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        AtomicLong checks = new AtomicLong();
        CountDownLatch up = new CountDownLatch(1);
        Thread.ofPlatform().daemon().start(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getErrorStream()))) {
                String line;
                while ((line = r.readLine()) != null) {
                    if (line.contains("Running the live check")) checks.incrementAndGet();
                    if (line.contains("Up to " + N + " / " + N)) up.countDown();
                }
            } catch (IOException ignored) {
                // process gone
            }
        });
        try {
            if (!up.await(60, TimeUnit.SECONDS)) throw new IllegalStateException("workers did not come up");
            Thread.sleep(1000); // settle: JIT, the first checks
            long cpu0 = cpuTicks(p.pid());
            long checks0 = checks.get();
            long t0 = System.nanoTime();
            Thread.sleep(WINDOW_MS); // the measurement window itself, not a synchronisation
            long elapsed = System.nanoTime() - t0;
            double cpu = (cpuTicks(p.pid()) - cpu0) * TICK_NANOS * 100.0 / elapsed;
            double perSecond = (checks.get() - checks0) * 1e9 / elapsed;
            return new Run(cpu, perSecond, lastDurations(sock));
        } finally {
            p.destroy();
            if (!p.waitFor(60, TimeUnit.SECONDS)) p.destroyForcibly();
            p.descendants().forEach(ProcessHandle::destroyForcibly);
        }
    }

    /** The median of every worker's last live check duration, from `state`. */
    static double lastDurations(Path sock) throws Exception {
        Process ctl = new ProcessBuilder(JAVA, "-jar", ROOT.resolve("target/einhyrningsins.jar").toString(), "ctl",
                "-d", sock.toString(), "-e", "state", "--json").redirectErrorStream(true).start();
        String out = new String(ctl.getInputStream().readAllBytes());
        ctl.waitFor();
        List<Double> ds = new ArrayList<>();
        Matcher m = Pattern.compile("\"duration_ms\"\\s*:\\s*(\\d+)").matcher(out);
        while (m.find()) ds.add(Double.parseDouble(m.group(1)));
        Collections.sort(ds);
        return ds.isEmpty() ? 0 : ds.get(ds.size() / 2);
    }

    static long cpuTicks(long pid) throws IOException {
        String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Long.parseLong(f[11]) + Long.parseLong(f[12]); // utime, stime
    }
}
