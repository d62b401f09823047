import java.io.*;
import java.net.*;
import java.nio.ByteBuffer;
import java.nio.channels.*;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.util.*;
import java.util.concurrent.*;
import java.util.concurrent.atomic.*;

/**
 * JVM workers under rolling upgrades: the Jetty example (examples/jetty, its listener on
 * standard input, --graceful-signal TERM) run with `java -jar` as it is ("jetty") and with
 * lean JVM flags ("jetty-c1": C1 only, Serial GC), next to the Python example worker
 * (examples/http_worker.py), taking turns in the same run. Each run: a real supervisor
 * (target/einhyrningsins.jar) with -n 4 -m manual; the time from its start to 4 acked workers
 * (no load yet); then 4 Java client threads sending GET / with a connection per request
 * through 5 smooth upgrades one after the other. Prints requests served and failed during the
 * upgrades, each upgrade's wall time (ctl request to "Upgrade done"), and medians per kind.
 *
 * Run: bench/jvm-upgrade.sh [ROUNDS]   (default 3 rounds of each kind: jetty, jetty-c1, python)
 */
public class JvmUpgradeBench {
    static final Path ROOT = Path.of("").toAbsolutePath();
    static final String JAVA = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    static final String PYTHON = realPython();
    static final int WORKERS = 4, UPGRADES = 5, CLIENTS = 4;

    static final List<String> KINDS = List.of("jetty", "jetty-c1", "python");

    record Run(String kind, double startMs, long ok, long failed, List<Double> upgradesMs, double seconds) {}

    public static void main(String[] args) throws Exception {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 3;
        System.out.printf("einhyrningsins JVM workers upgrade benchmark — %d CPUs, %s; -n %d, %d smooth upgrades a run, "
                        + "%d client threads (a connection per request), %d rounds alternating%n",
                Runtime.getRuntime().availableProcessors(), System.getProperty("java.version"), WORKERS, UPGRADES,
                CLIENTS, rounds);
        Map<String, List<Run>> runs = new LinkedHashMap<>();
        for (int round = 1; round <= rounds; round++) {
            for (int k = 0; k < KINDS.size(); k++) {
                String kind = KINDS.get((k + round - 1) % KINDS.size()); // each kind goes first in turn
                Run r = run(kind);
                runs.computeIfAbsent(kind, x -> new ArrayList<>()).add(r);
                System.out.printf("round %d %-8s: 4 acked %.0f ms after start; %6d requests in %.1f s (%.0f/s), %d failed; "
                                + "upgrade wall times (ms): %s%n",
                        round, kind, r.startMs, r.ok, r.seconds, r.ok / r.seconds, r.failed, fmt(r.upgradesMs));
            }
        }
        System.out.println("medians over the rounds:");
        for (var e : runs.entrySet()) {
            List<Run> rs = e.getValue();
            List<Double> all = new ArrayList<>();
            rs.forEach(r -> all.addAll(r.upgradesMs));
            System.out.printf("  %-8s: start to %d acked %.0f ms; %.0f requests a run (%.0f/s), %d failed in all; an upgrade "
                            + "of %d workers under load %.0f ms (%.0f-%.0f over %d upgrades)%n",
                    e.getKey(), WORKERS, median(rs.stream().map(Run::startMs).toList()),
                    median(rs.stream().map(r -> (double) r.ok).toList()),
                    median(rs.stream().map(r -> r.ok / r.seconds).toList()),
                    rs.stream().mapToLong(r -> r.failed).sum(), WORKERS, median(all), Collections.min(all),
                    Collections.max(all), all.size());
        }
    }

    static Run run(String kind) throws Exception {
        Path dir = Files.createTempDirectory("einh-jvm-bench");
        Path sock = dir.resolve("ctl.sock");
        List<String> cmd = new ArrayList<>(List.of(JAVA, "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-jar",
                ROOT.resolve("target/einhyrningsins.jar").toString(), "-q", "-d", sock.toString(),
                "-n", Integer.toString(WORKERS), "-m", "manual"));
        if (kind.startsWith("jetty")) {
            cmd.addAll(List.of("--graceful-signal", "TERM", "-b", "127.0.0.1:0,stdin", "--", JAVA));
            if (kind.equals("jetty-c1")) cmd.addAll(List.of("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"));
            cmd.addAll(List.of("-jar", ROOT.resolve("examples/jetty/target/jetty-worker.jar").toString()));
        } else {
            cmd.addAll(List.of("-b", "127.0.0.1:0,r", "--", PYTHON, ROOT.resolve("examples/http_worker.py").toString()));
        }
        long started = System.nanoTime();
        Process sup = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve("sup.log").toFile()).start();
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (!Files.exists(sock)) {
                if (System.nanoTime() > deadline || !sup.isAlive()) throw new IllegalStateException("no control socket; see " + dir);
                Thread.sleep(10);
            }
            awaitAcked(sock, deadline);
            double startMs = (System.nanoTime() - started) / 1e6;
            int port = port(sock);
            AtomicBoolean stop = new AtomicBoolean();
            AtomicLong ok = new AtomicLong(), failed = new AtomicLong();
            List<Thread> clients = new ArrayList<>();
            for (int i = 0; i < CLIENTS; i++) {
                clients.add(Thread.ofPlatform().start(() -> {
                    while (!stop.get()) {
                        try {
                            get(port);
                            ok.incrementAndGet();
                        } catch (IOException e) {
                            failed.incrementAndGet();
                        }
                    }
                }));
            }
            List<Double> times = new ArrayList<>();
            long t0 = System.nanoTime();
            for (int i = 0; i < UPGRADES; i++) times.add(upgrade(sock));
            double seconds = (System.nanoTime() - t0) / 1e9;
            stop.set(true);
            for (Thread t : clients) t.join();
            return new Run(kind, startMs, ok.get(), failed.get(), times, seconds);
        } finally {
            sup.destroy();
            if (!sup.waitFor(60, TimeUnit.SECONDS)) sup.destroyForcibly();
        }
    }

    static List<String> send(Path sock, String command) throws IOException {
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(sock));
            ch.write(ByteBuffer.wrap(("{\"id\":1,\"command\":\"" + command + "\"}\n").getBytes(StandardCharsets.UTF_8)));
            BufferedReader r = new BufferedReader(new InputStreamReader(Channels.newInputStream(ch), StandardCharsets.UTF_8));
            List<String> out = new ArrayList<>();
            String line;
            while ((line = r.readLine()) != null) {
                out.add(line.replace("%0A", "\n").replace("%25", "%"));
                if (!line.contains("\"wait\":true")) break;
            }
            return out;
        }
    }

    static void awaitAcked(Path sock, long deadline) throws Exception {
        while (true) {
            String state = send(sock, "state").getLast();
            if (state.split("\\\\\"acked\\\\\" : true", -1).length - 1 >= WORKERS) return;
            if (System.nanoTime() > deadline) throw new IllegalStateException("workers never acked");
            Thread.sleep(5);
        }
    }

    static int port(Path sock) throws IOException {
        String state = send(sock, "state").getLast();
        String rest = state.substring(state.indexOf("\\\"port\\\" : ") + 11);
        return Integer.parseInt(rest.substring(0, rest.indexOf(',')).trim());
    }

    static double upgrade(Path sock) throws IOException {
        long t0 = System.nanoTime();
        List<String> replies = send(sock, "upgrade");
        double ms = (System.nanoTime() - t0) / 1e6;
        if (!replies.getLast().contains("Upgrade done")) throw new IllegalStateException("upgrade failed: " + replies.getLast());
        return ms;
    }

    static void get(int port) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            s.setSoTimeout(10_000);
            s.getOutputStream().write("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            String r = new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
            if (!r.startsWith("HTTP/1.0 200") && !r.startsWith("HTTP/1.1 200")) throw new IOException("bad response");
        }
    }

    static String realPython() {
        try {
            Process p = new ProcessBuilder("python3", "-c", "import sys; print(sys.executable)").start();
            String path = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            return p.waitFor() == 0 && !path.isEmpty() ? path : "python3";
        } catch (IOException | InterruptedException e) {
            return "python3";
        }
    }

    static double median(List<Double> xs) {
        List<Double> s = new ArrayList<>(xs);
        Collections.sort(s);
        int n = s.size();
        return n % 2 == 1 ? s.get(n / 2) : (s.get(n / 2 - 1) + s.get(n / 2)) / 2;
    }

    static String fmt(List<Double> xs) {
        StringBuilder b = new StringBuilder();
        for (double x : xs) b.append(b.isEmpty() ? "" : ", ").append(String.format("%.0f", x));
        return b.toString();
    }
}
