import java.io.*;
import java.nio.file.*;
import java.util.*;
import java.util.concurrent.*;

/**
 * Reload benchmark: a real supervisor with 4 workers (`sleep`), reloaded RUNS times, through
 * the image launcher and through `java -jar` (alternating). Prints, per variant, the median of:
 *   reload (ctl)   wall time of `ctl -e reload`, from the request to "Reloaded: ..."
 *   check          the new installation's --upgrade-check run (from the supervisor's log)
 *   exec → served  from the old process's execve to the new one serving again (log lines)
 * Log lines are time-stamped by this program as they arrive (stderr is unbuffered).
 *
 * Run: bench/reload.sh [RUNS]   (after `mvn package`; RUNS defaults to 5)
 */
public class ReloadBench {
    static final Path ROOT = Path.of("").toAbsolutePath();
    static final String JAVA = Path.of(System.getProperty("java.home"), "bin", "java").toString();

    record Run(double totalMs, double checkMs, double execMs) {}

    public static void main(String[] args) throws Exception {
        int runs = args.length > 0 ? Integer.parseInt(args[0]) : 5;
        Map<String, List<String>> variants = new LinkedHashMap<>();
        variants.put("image", List.of(ROOT.resolve("target/image/bin/einhyrningsins").toString()));
        variants.put("java -jar", List.of(JAVA, "-jar", ROOT.resolve("target/einhyrningsins.jar").toString()));
        Map<String, List<Run>> results = new LinkedHashMap<>();
        Map<String, Sup> sups = new LinkedHashMap<>();
        for (var v : variants.entrySet()) sups.put(v.getKey(), new Sup(v.getValue()));
        try {
            for (int r = 0; r < runs; r++) {
                for (var e : sups.entrySet()) results.computeIfAbsent(e.getKey(), k -> new ArrayList<>()).add(e.getValue().reload());
            }
        } finally {
            for (Sup s : sups.values()) s.close();
        }
        System.out.printf("einhyrningsins reload benchmark — 4 workers, %d CPUs, %d reloads per variant (alternating)%n",
                Runtime.getRuntime().availableProcessors(), runs);
        System.out.printf("%-26s %12s %12s%n", "median", "image", "java -jar");
        row(results, "reload (ctl round trip)", Run::totalMs);
        row(results, "  --upgrade-check run", Run::checkMs);
        row(results, "  exec -> serving again", Run::execMs);
    }

    static void row(Map<String, List<Run>> results, String name, java.util.function.ToDoubleFunction<Run> f) {
        StringBuilder b = new StringBuilder(String.format("%-26s", name));
        for (List<Run> rs : results.values()) {
            double[] xs = rs.stream().mapToDouble(f).sorted().toArray();
            b.append(String.format(" %9.0f ms", xs[xs.length / 2]));
        }
        System.out.println(b);
    }

    static final class Sup implements AutoCloseable {
        final Process p;
        final Path sock;
        final List<String> ctl;
        final BlockingQueue<long[]> marks = new LinkedBlockingQueue<>();

        Sup(List<String> launcher) throws Exception {
            Path dir = Files.createTempDirectory("einhyrningsins-reload");
            sock = dir.resolve("ctl.sock");
            List<String> cmd = new ArrayList<>(launcher);
            cmd.addAll(List.of("-d", sock.toString(), "-n", "4", "-m", "0.2", "--", "sleep", "600"));
            p = new ProcessBuilder(cmd).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            ctl = new ArrayList<>(launcher);
            ctl.addAll(List.of("ctl", "-d", sock.toString(), "-e", "reload"));
            CountDownLatch up = new CountDownLatch(1);
            Thread.ofPlatform().daemon().start(() -> {
                try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getErrorStream()))) {
                    String line;
                    while ((line = r.readLine()) != null) {
                        long now = System.nanoTime();
                        if (line.contains("Up to 4 / 4")) up.countDown();
                        if (line.contains("Reload: checking")) marks.add(new long[] {0, now});
                        if (line.contains("can take over")) marks.add(new long[] {1, now});
                        if (line.contains("Reload: executing")) marks.add(new long[] {2, now});
                        if (line.contains("Reloaded: ")) marks.add(new long[] {3, now});
                    }
                } catch (IOException ignored) {
                    // gone
                }
            });
            if (!up.await(60, TimeUnit.SECONDS)) throw new IllegalStateException("workers did not come up");
        }

        Run reload() throws Exception {
            marks.clear();
            long start = System.nanoTime();
            Process c = new ProcessBuilder(ctl).redirectErrorStream(true).start();
            String out = new String(c.getInputStream().readAllBytes());
            if (c.waitFor() != 0) throw new IllegalStateException("reload failed: " + out);
            long end = System.nanoTime();
            long[] t = new long[4];
            for (int i = 0; i < 4; i++) {
                long[] m = marks.poll(30, TimeUnit.SECONDS);
                if (m == null) throw new IllegalStateException("missing log line " + i);
                t[(int) m[0]] = m[1];
            }
            return new Run((end - start) / 1e6, (t[1] - t[0]) / 1e6, (t[3] - t[2]) / 1e6);
        }

        @Override
        public void close() throws Exception {
            p.destroy();
            if (!p.waitFor(60, TimeUnit.SECONDS)) p.destroyForcibly();
        }
    }
}
