import java.io.*;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.util.*;
import java.util.concurrent.*;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Reload benchmark: a real supervisor with 4 workers (`sleep`), reloaded RUNS times, through
 * the image launcher, through `java -jar`, and einhorn's own `reload` when EINHORN points at a
 * checkout of it (ruby with RUBYLIB=$EINHORN/lib; fetched by whoever runs the bench, never
 * committed) — variants alternating. While each reload runs, a prober asks `state` on a fresh
 * connection back to back (each answer within 10 s or it counts as unanswered). Prints, per
 * variant, the median over the runs of:
 *   reload wall          from the request to the reload being done: einhyrningsins' requester
 *                        hears "Reloaded: …" (the new process serving); einhorn answers
 *                        "Reloading" and closes, so for it: to the first `state` the new
 *                        master answers after the old one closed the requester's connection
 *   longest unanswered   the longest stretch during the reload (and 0.5 s after) in which no
 *                        `state` was answered: from the last answer before to the next answer
 *   --upgrade-check      einhyrningsins only: the new installation's check (from its log)
 *   exec -> serving      einhyrningsins only: from the old process's execve to the new one
 *                        serving (log lines)
 * Log lines are time-stamped by this program as they arrive (stderr is unbuffered).
 *
 * Run: [EINHORN=/path/to/einhorn] bench/reload.sh [RUNS]   (after `mvn package`; RUNS defaults to 5)
 */
public class ReloadBench {
    static final Path ROOT = Path.of("").toAbsolutePath();
    static final String JAVA = Path.of(System.getProperty("java.home"), "bin", "java").toString();

    record Run(double wallMs, double unansweredMs, double checkMs, double execMs) {}

    public static void main(String[] args) throws Exception {
        int runs = args.length > 0 ? Integer.parseInt(args[0]) : 5;
        Map<String, List<String>> variants = new LinkedHashMap<>();
        variants.put("image", List.of(ROOT.resolve("target/image/bin/einhyrningsins").toString()));
        variants.put("java -jar", List.of(JAVA, "-jar", ROOT.resolve("target/einhyrningsins.jar").toString()));
        String einhorn = System.getenv("EINHORN");
        if (einhorn != null && !einhorn.isEmpty()) variants.put("einhorn", List.of("ruby", einhorn + "/bin/einhorn"));
        Map<String, List<Run>> results = new LinkedHashMap<>();
        Map<String, Sup> sups = new LinkedHashMap<>();
        for (var v : variants.entrySet()) sups.put(v.getKey(), new Sup(v.getKey(), v.getValue(), einhorn));
        try {
            for (int r = 0; r < runs; r++) {
                List<String> order = new ArrayList<>(sups.keySet());
                Collections.rotate(order, r);
                for (String name : order) results.computeIfAbsent(name, k -> new ArrayList<>()).add(sups.get(name).reload());
            }
        } finally {
            for (Sup s : sups.values()) s.close();
        }
        System.out.printf("einhyrningsins reload benchmark: 4 workers, %d CPUs, %d reloads per variant (alternating)%n",
                Runtime.getRuntime().availableProcessors(), runs);
        StringBuilder head = new StringBuilder(String.format("%-32s", "median"));
        for (String name : results.keySet()) head.append(String.format(" %12s", name));
        if (results.containsKey("einhorn")) head.append("   image ÷ einhorn   java -jar ÷ einhorn");
        System.out.println(head);
        row(results, "reload wall", Run::wallMs);
        row(results, "longest `state` unanswered", Run::unansweredMs);
        row(results, "  --upgrade-check run", Run::checkMs);
        row(results, "  exec -> serving again", Run::execMs);
    }

    static double median(List<Run> rs, java.util.function.ToDoubleFunction<Run> f) {
        double[] xs = rs.stream().mapToDouble(f).sorted().toArray();
        return xs[xs.length / 2];
    }

    static void row(Map<String, List<Run>> results, String name, java.util.function.ToDoubleFunction<Run> f) {
        StringBuilder b = new StringBuilder(String.format("%-32s", name));
        for (Map.Entry<String, List<Run>> e : results.entrySet()) {
            double m = median(e.getValue(), f);
            b.append(Double.isNaN(m) ? String.format(" %12s", "–") : String.format(" %9.0f ms", m));
        }
        if (results.containsKey("einhorn")) {
            double base = median(results.get("einhorn"), f);
            for (String v : List.of("image", "java -jar")) {
                double m = median(results.get(v), f);
                b.append(Double.isNaN(base) || Double.isNaN(m) ? String.format(" %18s", "–") : String.format(" %17.2fx", m / base));
            }
        }
        System.out.println(b);
    }

    /** One `state` request on a fresh connection: true if a reply line came within 10 s. */
    static boolean readLine(Path sock) {
        return stateLine(sock) != null;
    }

    /** einhorn's generation in a `state` reply (it grows at each of its reloads), or -1. */
    static long einhornGeneration(Path sock) {
        String line = stateLine(sock);
        if (line == null) return -1;
        java.util.regex.Matcher m = java.util.regex.Pattern.compile(":generation: (\\d+)")
                .matcher(java.net.URLDecoder.decode(line.replace("+", "%2B"), StandardCharsets.UTF_8));
        return m.find() ? Long.parseLong(m.group(1)) : -1;
    }

    /** One `state` request on a fresh connection: its reply line, or null if none came within 10 s. */
    static String stateLine(Path sock) {
        ExecutorService one = Executors.newSingleThreadExecutor();
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(sock));
            ch.write(ByteBuffer.wrap("{\"command\":\"state\"}\n".getBytes(StandardCharsets.UTF_8)));
            Future<String> got = one.submit(() -> {
                ByteArrayOutputStream text = new ByteArrayOutputStream();
                ByteBuffer b = ByteBuffer.allocate(1 << 16);
                while (ch.read(b) >= 0) {
                    for (int i = 0; i < b.position(); i++) {
                        if (b.get(i) == '\n') {
                            text.write(b.array(), 0, i);
                            return text.toString(StandardCharsets.UTF_8);
                        }
                    }
                    text.write(b.array(), 0, b.position());
                    b.clear();
                }
                return null;
            });
            return got.get(10, TimeUnit.SECONDS);
        } catch (Exception e) {
            return null;
        } finally {
            one.shutdownNow();
        }
    }

    static final class Sup implements AutoCloseable {
        final String name;
        final Process p;
        final Path sock;
        final List<String> reload;
        final boolean einhorn;
        final BlockingQueue<long[]> marks = new LinkedBlockingQueue<>();

        Sup(String name, List<String> launcher, String einhornHome) throws Exception {
            this.name = name;
            this.einhorn = name.equals("einhorn");
            Path dir = Files.createTempDirectory("einhyrningsins-reload");
            sock = dir.resolve("ctl.sock");
            List<String> cmd = new ArrayList<>(launcher);
            cmd.addAll(List.of("-d", sock.toString(), "-n", "4", "-m", "0.2", "--", "sleep", "600"));
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(ProcessBuilder.Redirect.DISCARD);
            if (einhorn) pb.environment().put("RUBYLIB", einhornHome + "/lib");
            p = pb.start();
            reload = List.of("reload");
            CountDownLatch up = new CountDownLatch(1);
            AtomicLong acked = new AtomicLong();
            Thread.ofPlatform().daemon().start(() -> {
                try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getErrorStream()))) {
                    String line;
                    while ((line = r.readLine()) != null) {
                        long now = System.nanoTime();
                        if (line.contains("Up to 4 / 4") || line.contains("4/4 acked") || line.contains("acked: 4/4")) up.countDown();
                        if (line.contains("considering it alive") && acked.incrementAndGet() >= 4) up.countDown();
                        if (line.contains("Reload: checking")) marks.add(new long[] {0, now});
                        if (line.contains("can take over")) marks.add(new long[] {1, now});
                        if (line.contains("Reload: executing")) marks.add(new long[] {2, now});
                        if (line.contains("Reloaded: ")) marks.add(new long[] {3, now});
                    }
                } catch (IOException ignored) {
                    // gone
                }
            });
            if (!up.await(60, TimeUnit.SECONDS)) throw new IllegalStateException(name + ": workers did not come up");
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (!readLine(sock)) {
                if (System.nanoTime() > deadline) throw new IllegalStateException(name + ": control socket does not answer");
            }
        }

        Run reload() throws Exception {
            marks.clear();
            List<long[]> answers = Collections.synchronizedList(new ArrayList<>());
            AtomicLong stopProbing = new AtomicLong(Long.MAX_VALUE);
            Thread prober = Thread.ofPlatform().start(() -> {
                while (System.nanoTime() < stopProbing.get()) {
                    if (readLine(sock)) answers.add(new long[] {System.nanoTime()});
                }
            });
            while (answers.isEmpty()) Thread.onSpinWait(); // the prober is answered before the reload starts
            long generation = einhorn ? einhornGeneration(sock) : -1;
            long start = System.nanoTime();
            long done;
            try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
                ch.connect(UnixDomainSocketAddress.of(sock));
                ch.write(ByteBuffer.wrap("{\"id\":1,\"command\":\"reload\"}\n".getBytes(StandardCharsets.UTF_8)));
                BufferedReader r = new BufferedReader(new InputStreamReader(java.nio.channels.Channels.newInputStream(ch),
                        StandardCharsets.UTF_8));
                String line;
                long closedAt = 0;
                String last = null;
                while ((line = r.readLine()) != null) {
                    last = line;
                    // ours: the final reply ("Reloaded: …"); einhorn: "Reloading, as commanded" and then
                    // its exec (which keeps the connection open in the new master, unread)
                    if (einhorn || (!line.contains("\"wait\":true"))) break;
                }
                closedAt = System.nanoTime();
                if (einhorn) {
                    // done when the new master answers: its state has the next generation
                    while (einhornGeneration(sock) <= generation) Thread.onSpinWait();
                    done = System.nanoTime();
                } else {
                    if (last == null || !last.contains("Reloaded")) throw new IllegalStateException(name + ": reload failed: " + last);
                    done = closedAt;
                }
            }
            stopProbing.set(System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(500));
            prober.join();
            long longest = 0;
            long previous = 0;
            synchronized (answers) {
                for (long[] a : answers) {
                    if (previous != 0 && a[0] > start) longest = Math.max(longest, a[0] - Math.max(previous, start));
                    previous = a[0];
                }
            }
            double check = Double.NaN;
            double exec = Double.NaN;
            if (!einhorn) {
                long[] t = new long[4];
                for (int i = 0; i < 4; i++) {
                    long[] m = marks.poll(30, TimeUnit.SECONDS);
                    if (m == null) throw new IllegalStateException(name + ": missing log line " + i);
                    t[(int) m[0]] = m[1];
                }
                check = (t[1] - t[0]) / 1e6;
                exec = (t[3] - t[2]) / 1e6;
            }
            return new Run((done - start) / 1e6, longest / 1e6, check, exec);
        }

        @Override
        public void close() throws Exception {
            p.destroy();
            if (!p.waitFor(60, TimeUnit.SECONDS)) p.destroyForcibly();
        }
    }
}
