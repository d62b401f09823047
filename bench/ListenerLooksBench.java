import java.io.*;
import java.nio.file.*;
import java.util.*;
import java.util.concurrent.*;

/**
 * What watching whether workers use their sockets costs (ListenerUse, InheritedSockets): a
 * supervisor of 1000 workers (`sleep 600`) through the image launcher, with one inherited
 * socket (-b 127.0.0.1:0: their descriptors are looked at) and with none (nothing to look at),
 * alternating runs. Two ack modes: -m 0 (acked at once: looks at the ack and 5 s later) and
 * -m manual with no ack ever (the full unacked schedule: 10 ms, doubling, then every 5 s).
 * Prints, per variant, the medians of:
 *   loop CPU      CPU time (utime+stime) of the supervisor's loop thread ("main") from the
 *                 1000th launch to WINDOW seconds later
 *   loop wake-ups voluntary context switches of that thread in the same window
 * and what looking costs: CPU and wake-ups with a socket minus without.
 *
 * Run: bench/listener-looks.sh [RUNS]   (after `mvn package`; RUNS defaults to 3; -Dimage=DIR for another
 * runtime image than target/image)
 */
public class ListenerLooksBench {
    static final Path ROOT = Path.of("").toAbsolutePath();
    static final int N = 1000;
    static final int WINDOW = 20;
    static final long TICK_NANOS = 10_000_000L; // USER_HZ = 100 on Linux

    record Run(double cpuMs, long wakeUps) {}

    public static void main(String[] args) throws Exception {
        int runs = args.length > 0 ? Integer.parseInt(args[0]) : 3;
        String launcher = Path.of(System.getProperty("image", ROOT.resolve("target/image").toString()))
                .resolve("bin/einhyrningsins").toString();
        Map<String, List<String>> variants = new LinkedHashMap<>();
        variants.put("-m 0, a socket", List.of("-m", "0", "-b", "127.0.0.1:0"));
        variants.put("-m 0, none", List.of("-m", "0"));
        variants.put("-m manual, a socket", List.of("-m", "manual", "-b", "127.0.0.1:0"));
        variants.put("-m manual, none", List.of("-m", "manual"));
        Map<String, List<Run>> results = new LinkedHashMap<>();
        variants.keySet().forEach(k -> results.put(k, new ArrayList<>()));
        System.out.printf("einhyrningsins socket-use looks — %d workers, %d CPUs, %d s window, %d runs (alternating)%n",
                N, Runtime.getRuntime().availableProcessors(), WINDOW, runs);
        for (int r = 0; r < runs; r++) {
            for (var v : variants.entrySet()) results.get(v.getKey()).add(run(launcher, v.getValue()));
        }
        System.out.printf("%-22s %14s %14s%n", "median", "loop CPU", "loop wake-ups");
        Map<String, double[]> medians = new LinkedHashMap<>();
        for (var e : results.entrySet()) {
            double cpu = median(e.getValue().stream().mapToDouble(Run::cpuMs).toArray());
            double wakes = median(e.getValue().stream().mapToDouble(x -> x.wakeUps()).toArray());
            medians.put(e.getKey(), new double[] {cpu, wakes});
            System.out.printf("%-22s %11.0f ms %14.0f%n", e.getKey(), cpu, wakes);
        }
        extra("-m 0", medians.get("-m 0, a socket"), medians.get("-m 0, none"));
        extra("-m manual", medians.get("-m manual, a socket"), medians.get("-m manual, none"));
    }

    static void extra(String mode, double[] with, double[] without) {
        System.out.printf("%s: looking costs %+.0f ms of loop CPU (%.0f us a worker) and %+.0f loop wake-ups in %d s%n",
                mode, with[0] - without[0], (with[0] - without[0]) * 1000 / N, with[1] - without[1], WINDOW);
    }

    static double median(double[] xs) {
        Arrays.sort(xs);
        return xs[xs.length / 2];
    }

    static Run run(String launcher, List<String> options) throws Exception {
        Path dir = Files.createTempDirectory("einhyrningsins-looks");
        List<String> cmd = new ArrayList<>(List.of(launcher, "-d", dir.resolve("ctl.sock").toString(), "-n",
                String.valueOf(N)));
        cmd.addAll(options);
        cmd.addAll(List.of("--", "sleep", "600"));
        Process p = new ProcessBuilder(cmd).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        CountDownLatch launched = new CountDownLatch(N);
        Thread.ofPlatform().daemon().start(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getErrorStream()))) {
                String line;
                while ((line = r.readLine()) != null) if (line.contains("===> Launched")) launched.countDown();
            } catch (IOException ignored) {
                // process gone
            }
        });
        try {
            if (!launched.await(120, TimeUnit.SECONDS)) throw new IllegalStateException("workers did not start");
            Path loop = loopThread(p.pid());
            long cpu0 = cpuTicks(loop);
            long wakes0 = switches(loop);
            Thread.sleep(WINDOW * 1000L); // the measured window, not a synchronisation
            return new Run((cpuTicks(loop) - cpu0) * TICK_NANOS / 1e6, switches(loop) - wakes0);
        } finally {
            p.destroy();
            if (!p.waitFor(60, TimeUnit.SECONDS)) p.destroyForcibly();
            p.descendants().forEach(ProcessHandle::destroyForcibly);
        }
    }

    /**
     * The supervisor's loop thread: Java's main thread, the first the launcher starts beside
     * the process's first thread (which only waits for it), so the lowest other thread id.
     */
    static Path loopThread(long pid) throws IOException {
        Path proc = Path.of("/proc", Long.toString(pid));
        try (var tasks = Files.list(proc.resolve("task"))) {
            return tasks.filter(t -> !t.getFileName().toString().equals(Long.toString(pid)))
                    .min(Comparator.comparingLong(t -> Long.parseLong(t.getFileName().toString())))
                    .orElseThrow(() -> new IllegalStateException("no main thread in " + pid));
        }
    }

    static long cpuTicks(Path task) throws IOException {
        String stat = Files.readString(task.resolve("stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Long.parseLong(f[11]) + Long.parseLong(f[12]); // utime, stime
    }

    static long switches(Path task) throws IOException {
        for (String l : Files.readAllLines(task.resolve("status"))) {
            if (l.startsWith("voluntary_ctxt_switches:")) return Long.parseLong(l.replaceAll("[^0-9]", ""));
        }
        return -1;
    }
}
