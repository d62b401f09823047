import java.io.IOException;
import java.nio.file.*;
import java.util.*;
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
 * It borrows UpgradeBench's supervisor, control and client helpers (the source launcher
 * compiles bench/UpgradeBench.java along).
 *
 * Run: bench/jvm-upgrade.sh [ROUNDS [KINDS]]   (default 3 rounds of each kind: jetty,jetty-c1,python)
 */
public class JvmUpgradeBench {
    static final Path ROOT = Path.of("").toAbsolutePath();
    static final String JAVA = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    static final int WORKERS = 4, UPGRADES = 5, CLIENTS = 4;

    static final List<String> KINDS = List.of("jetty", "jetty-c1", "python");

    record Run(String kind, double startMs, long ok, long failed, String firstFailure, List<Double> upgradesMs, double seconds) {}

    public static void main(String[] args) throws Exception {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 3;
        List<String> kinds = args.length > 1 ? List.of(args[1].split(",")) : KINDS;
        System.out.printf("einhyrningsins JVM workers upgrade benchmark — %d CPUs, %s; -n %d, %d smooth upgrades a run, "
                        + "%d client threads (a connection per request), %d rounds alternating%n",
                Runtime.getRuntime().availableProcessors(), System.getProperty("java.version"), WORKERS, UPGRADES,
                CLIENTS, rounds);
        Map<String, List<Run>> runs = new LinkedHashMap<>();
        for (int round = 1; round <= rounds; round++) {
            for (int k = 0; k < kinds.size(); k++) {
                String kind = kinds.get((k + round - 1) % kinds.size()); // each kind goes first in turn
                Run r = run(kind);
                runs.computeIfAbsent(kind, x -> new ArrayList<>()).add(r);
                System.out.printf("round %d %-8s: 4 acked %.0f ms after start; %6d requests in %.1f s (%.0f/s), %d failed; "
                                + "upgrade wall times (ms): %s%n",
                        round, kind, r.startMs, r.ok, r.seconds, r.ok / r.seconds, r.failed, UpgradeBench.fmt(r.upgradesMs));
                if (r.firstFailure != null) System.out.printf("      the first failure: %s%n", r.firstFailure);
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
        List<String> args = new ArrayList<>(List.of("-n", Integer.toString(WORKERS), "-m", "manual"));
        if (kind.startsWith("jetty")) {
            args.addAll(List.of("--graceful-signal", "TERM", "-b", "127.0.0.1:0,stdin", "--", JAVA));
            if (kind.equals("jetty-c1")) args.addAll(List.of("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"));
            args.addAll(List.of("-jar", ROOT.resolve("examples/jetty/target/jetty-worker.jar").toString()));
        } else {
            args.addAll(List.of("-b", "127.0.0.1:0,r", "--", UpgradeBench.PYTHON, ROOT.resolve("examples/http_worker.py").toString()));
        }
        Files.writeString(dir.resolve("version"), "v1");
        long started = System.nanoTime();
        try (UpgradeBench.Sup s = UpgradeBench.start(dir, args)) {
            UpgradeBench.awaitAcked(s, WORKERS);
            double startMs = (System.nanoTime() - started) / 1e6;
            int port = UpgradeBench.port(s);
            AtomicBoolean stop = new AtomicBoolean();
            AtomicLong ok = new AtomicLong(), failed = new AtomicLong();
            AtomicReference<String> firstFailure = new AtomicReference<>();
            List<Thread> clients = new ArrayList<>();
            for (int i = 0; i < CLIENTS; i++) {
                clients.add(Thread.ofPlatform().start(() -> {
                    while (!stop.get()) {
                        try {
                            UpgradeBench.get(port);
                            ok.incrementAndGet();
                        } catch (IOException e) {
                            failed.incrementAndGet();
                            firstFailure.compareAndSet(null, e.toString());
                        }
                    }
                }));
            }
            List<Double> times = new ArrayList<>();
            long t0 = System.nanoTime();
            for (int i = 0; i < UPGRADES; i++) times.add(UpgradeBench.upgrade(s));
            double seconds = (System.nanoTime() - t0) / 1e9;
            stop.set(true);
            for (Thread t : clients) t.join();
            return new Run(kind, startMs, ok.get(), failed.get(), firstFailure.get(), times, seconds);
        }
    }

    static double median(List<Double> xs) {
        List<Double> s = new ArrayList<>(xs);
        Collections.sort(s);
        int n = s.size();
        return n % 2 == 1 ? s.get(n / 2) : (s.get(n / 2 - 1) + s.get(n / 2)) / 2;
    }
}
