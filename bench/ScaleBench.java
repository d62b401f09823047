import java.io.*;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.util.*;
import java.util.concurrent.*;

/**
 * Scale benchmark: a real supervisor with 1000 workers (`sleep 600`, acked at once with -m 0),
 * through the image launcher and through `java -jar`, alternating runs. Prints, per variant,
 * the median over the runs of:
 *   exec -> 1000 acked   from launching the supervisor to its log line "Up to 1000 / 1000"
 *   spawn 1000           from the first "Launched" log line to the 1000th (posix_spawn + pidfd)
 *   state                round trip of `state` on an open connection (median of 20) and its size
 *   RSS                  supervisor VmRSS with 1000 idle workers, after the state queries
 *   CPU / wake-up        supervisor CPU time (utime+stime) over 2000 sequential `ehlo` requests,
 *                        each one loop wake-up with 1000 pidfds polled, divided by 2000; the same
 *                        with 1 worker for comparison
 *   threads              supervisor threads when idle
 *
 * Run: bench/scale.sh [RUNS]   (after `mvn package`; RUNS defaults to 3)
 */
public class ScaleBench {
    static final Path ROOT = Path.of("").toAbsolutePath();
    static final String JAVA = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    static final int N = 1000;
    static final int REQUESTS = 2000;
    static final long TICK_NANOS = 10_000_000L; // USER_HZ = 100 on Linux

    record Run(double ackedMs, double spawnMs, double stateMs, int stateBytes, long rssKb, double cpuPerWakeUs,
               double cpuPerWakeOneUs, int threads) {}

    public static void main(String[] args) throws Exception {
        int runs = args.length > 0 ? Integer.parseInt(args[0]) : 3;
        Map<String, List<String>> variants = new LinkedHashMap<>();
        variants.put("image", List.of(ROOT.resolve("target/image/bin/einhyrningsins").toString()));
        variants.put("java -jar", List.of(JAVA, "-jar", ROOT.resolve("target/einhyrningsins.jar").toString()));
        Map<String, List<Run>> results = new LinkedHashMap<>();
        variants.keySet().forEach(k -> results.put(k, new ArrayList<>()));
        System.out.printf("einhyrningsins scale benchmark — %d workers, %d CPUs, %d runs per variant (alternating)%n",
                N, Runtime.getRuntime().availableProcessors(), runs);
        for (int r = 0; r < runs; r++) {
            for (var v : variants.entrySet()) results.get(v.getKey()).add(run(v.getValue()));
        }
        System.out.printf("%-22s %12s %12s%n", "median", "image", "java -jar");
        row(results, "exec -> 1000 acked", "%.0f ms", Run::ackedMs);
        row(results, "spawn 1000", "%.0f ms", Run::spawnMs);
        row(results, "state round trip", "%.1f ms", Run::stateMs);
        row(results, "state reply size", "%.0f KB", x -> x.stateBytes() / 1024.0);
        row(results, "RSS, 1000 workers", "%.1f MB", x -> x.rssKb() / 1024.0);
        row(results, "CPU/wake-up, 1000", "%.0f us", Run::cpuPerWakeUs);
        row(results, "CPU/wake-up, 1", "%.0f us", Run::cpuPerWakeOneUs);
        row(results, "threads when idle", "%.0f", x -> (double) x.threads());
    }

    static void row(Map<String, List<Run>> results, String name, String format,
                    java.util.function.ToDoubleFunction<Run> f) {
        StringBuilder b = new StringBuilder(String.format("%-22s", name));
        for (List<Run> rs : results.values()) {
            double[] xs = rs.stream().mapToDouble(f).sorted().toArray();
            b.append(String.format(" %12s", String.format(format, xs[xs.length / 2])));
        }
        System.out.println(b);
    }

    static Run run(List<String> launcher) throws Exception {
        Path dir = Files.createTempDirectory("einhyrningsins-scale");
        Path sock = dir.resolve("ctl.sock");
        List<String> cmd = new ArrayList<>(launcher);
        cmd.addAll(List.of("-d", sock.toString(), "-n", String.valueOf(N), "-m", "0", "-b", "127.0.0.1:0",
                "--", "sleep", "600"));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(ProcessBuilder.Redirect.DISCARD);
        long t0 = System.nanoTime();
        Process p = pb.start();
        long[] firstLaunch = {0}, lastLaunch = {0}, acked = {0};
        CountDownLatch up = new CountDownLatch(1);
        Thread.ofPlatform().daemon().start(() -> {
            int launched = 0;
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getErrorStream()))) {
                String line;
                while ((line = r.readLine()) != null) {
                    long now = System.nanoTime();
                    if (line.contains("===> Launched")) {
                        if (launched++ == 0) firstLaunch[0] = now;
                        if (launched == N) lastLaunch[0] = now;
                    }
                    if (line.contains("Up to " + N + " / " + N)) {
                        acked[0] = now;
                        up.countDown();
                    }
                }
            } catch (IOException ignored) {
                // process gone
            }
        });
        try {
            if (!up.await(120, TimeUnit.SECONDS)) throw new IllegalStateException("workers did not come up");
            long pid = p.pid();
            double[] state = new double[20];
            int size = 0;
            try (Client c = new Client(sock)) {
                for (int i = 0; i < state.length; i++) {
                    long s = System.nanoTime();
                    size = c.ask("{\"id\":1,\"command\":\"state\"}\n").length();
                    state[i] = (System.nanoTime() - s) / 1e6;
                }
            }
            Arrays.sort(state);
            long rss = statusKb(pid, "VmRSS");
            int threads = (int) Files.list(Path.of("/proc", Long.toString(pid), "task")).count();
            double cpu = cpuPerRequest(pid, sock);
            // the same with one worker: set_workers 1 and wait until the others are gone
            try (Client c = new Client(sock)) {
                c.ask("{\"id\":1,\"command\":\"set_workers\",\"args\":[\"1\"]}\n");
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (p.descendants().count() > 1 && System.nanoTime() < deadline) Thread.sleep(50);
            double cpuOne = cpuPerRequest(pid, sock);
            return new Run((acked[0] - t0) / 1e6, (lastLaunch[0] - firstLaunch[0]) / 1e6, state[state.length / 2],
                    size, rss, cpu, cpuOne, threads);
        } finally {
            p.destroy();
            if (!p.waitFor(60, TimeUnit.SECONDS)) p.destroyForcibly();
            p.descendants().forEach(ProcessHandle::destroyForcibly);
        }
    }

    static double cpuPerRequest(long pid, Path sock) throws IOException {
        try (Client c = new Client(sock)) {
            for (int i = 0; i < 200; i++) c.ask("{\"id\":1,\"command\":\"ehlo\"}\n"); // warm up
            long before = cpuTicks(pid);
            for (int i = 0; i < REQUESTS; i++) c.ask("{\"id\":1,\"command\":\"ehlo\"}\n");
            return (cpuTicks(pid) - before) * TICK_NANOS / 1e3 / REQUESTS;
        }
    }

    static long cpuTicks(long pid) throws IOException {
        String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Long.parseLong(f[11]) + Long.parseLong(f[12]); // utime, stime
    }

    static long statusKb(long pid, String field) throws IOException {
        for (String l : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
            if (l.startsWith(field + ":")) return Long.parseLong(l.replaceAll("[^0-9]", ""));
        }
        return -1;
    }

    static final class Client implements AutoCloseable {
        final SocketChannel ch;
        final BufferedReader in;

        Client(Path sock) throws IOException {
            ch = SocketChannel.open(StandardProtocolFamily.UNIX);
            ch.connect(UnixDomainSocketAddress.of(sock));
            in = new BufferedReader(new InputStreamReader(Channels.newInputStream(ch), StandardCharsets.UTF_8), 1 << 20);
        }

        String ask(String line) throws IOException {
            ch.write(ByteBuffer.wrap(line.getBytes(StandardCharsets.UTF_8)));
            String reply = in.readLine();
            if (reply == null) throw new IOException("no reply");
            return reply;
        }

        public void close() throws IOException {
            ch.close();
        }
    }
}
