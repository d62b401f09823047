import java.io.*;
import java.net.*;
import java.net.http.*;
import java.nio.ByteBuffer;
import java.nio.channels.*;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.util.*;
import java.util.concurrent.*;
import java.util.concurrent.atomic.*;

/**
 * Rolling-upgrade benchmark: a real supervisor (target/einhyrningsins.jar) running
 * examples/http_worker.py, a load generator on 127.0.0.1 (wrk if installed, else Java
 * client threads), and 5 smooth upgrades for n=4 and n=16. Prints requests, failures and
 * each upgrade's wall time; then the upgrade time of 16 instantly-acking workers.
 *
 * Run: bench/upgrade.sh   (needs `mvn package` first)
 */
public class UpgradeBench {
    static final Path ROOT = Path.of("").toAbsolutePath();
    static final String JAVA = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    /** The real interpreter, not a pyenv shim (a shell script that costs ~200 ms per start). */
    static final String PYTHON = realPython();

    static String realPython() {
        try {
            Process p = new ProcessBuilder("python3", "-c", "import sys; print(sys.executable)").start();
            String path = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            return p.waitFor() == 0 && !path.isEmpty() ? path : "python3";
        } catch (IOException | InterruptedException e) {
            return "python3";
        }
    }

    public static void main(String[] args) throws Exception {
        System.out.printf("einhyrningsins upgrade benchmark — %d CPUs, %s%n", Runtime.getRuntime().availableProcessors(),
                haveWrk() ? "load: wrk (keep-alive) + Java (connection per request)" : "load: Java clients");
        if (args.length == 0 || !args[0].equals("--instant-only")) {
            for (int n : new int[] {4, 16}) httpScenario(n, 5);
        }
        for (int n : new int[] {4, 16}) instantAckScenario(n, 5, 0);
        instantAckScenario(16, 5, 16);
    }

    static boolean haveWrk() {
        try {
            return new ProcessBuilder("wrk", "--version").redirectErrorStream(true).start().waitFor() <= 1;
        } catch (IOException | InterruptedException e) {
            return false;
        }
    }

    record Sup(Process process, Path dir, Path socket) implements AutoCloseable {
        public void close() throws Exception {
            process.destroy();
            process.waitFor(30, TimeUnit.SECONDS);
            process.destroyForcibly();
        }
    }

    static Sup start(Path dir, List<String> args) throws Exception {
        Path sock = dir.resolve("ctl.sock");
        List<String> cmd = new ArrayList<>(List.of(JAVA, "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-jar",
                ROOT.resolve("target/einhyrningsins.jar").toString(), "-q", "-d", sock.toString()));
        cmd.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve("sup.log").toFile());
        pb.environment().put("VERSION_FILE", dir.resolve("version").toString());
        Sup s = new Sup(pb.start(), dir, sock);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!Files.exists(sock)) {
            if (System.nanoTime() > deadline || !s.process.isAlive()) throw new IllegalStateException("no control socket; see " + dir.resolve("sup.log"));
            Thread.sleep(10);
        }
        return s;
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

    static void awaitAcked(Sup s, int n) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (true) {
            String state = send(s.socket, "state").getLast();
            int acked = state.split("\\\\\"acked\\\\\" : true", -1).length - 1;
            if (acked >= n) return;
            if (System.nanoTime() > deadline) throw new IllegalStateException("workers never acked");
            Thread.sleep(20);
        }
    }

    static int port(Sup s) throws IOException {
        String state = send(s.socket, "state").getLast();
        int i = state.indexOf("\\\"port\\\" : ");
        String rest = state.substring(i + 11);
        return Integer.parseInt(rest.substring(0, rest.indexOf(',')).trim());
    }

    static double upgrade(Sup s) throws IOException {
        long t0 = System.nanoTime();
        List<String> replies = send(s.socket, "upgrade");
        double ms = (System.nanoTime() - t0) / 1e6;
        if (!replies.getLast().contains("Upgrade done")) throw new IllegalStateException("upgrade failed: " + replies.getLast());
        return ms;
    }

    static void httpScenario(int n, int upgrades) throws Exception {
        Path dir = Files.createTempDirectory("einh-bench");
        Files.writeString(dir.resolve("version"), "v1");
        try (Sup s = start(dir, List.of("-n", Integer.toString(n), "-m", "manual", "-b", "127.0.0.1:0,r",
                PYTHON, ROOT.resolve("examples/http_worker.py").toString()))) {
            awaitAcked(s, n);
            int port = port(s);
            AtomicBoolean stop = new AtomicBoolean();
            AtomicLong ok = new AtomicLong(), failed = new AtomicLong();
            List<Thread> clients = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
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
            Process wrk = null;
            Path wrkOut = dir.resolve("wrk.txt");
            if (haveWrk()) {
                wrk = new ProcessBuilder("wrk", "-t2", "-c16", "-d120s", "--latency", "http://127.0.0.1:" + port + "/")
                        .redirectErrorStream(true).redirectOutput(wrkOut.toFile()).start();
            }
            List<Double> times = new ArrayList<>();
            long t0 = System.nanoTime();
            for (int i = 2; i < 2 + upgrades; i++) {
                Files.writeString(dir.resolve("version"), "v" + i);
                times.add(upgrade(s));
            }
            double seconds = (System.nanoTime() - t0) / 1e9;
            stop.set(true);
            for (Thread t : clients) t.join();
            String wrkSummary = "";
            if (wrk != null) {
                // wrk prints its summary when interrupted (SIGINT), not on SIGTERM
                new ProcessBuilder("kill", "-INT", Long.toString(wrk.pid())).start().waitFor();
                if (!wrk.waitFor(10, TimeUnit.SECONDS)) wrk.destroyForcibly();
                wrkSummary = summariseWrk(Files.readString(wrkOut));
            }
            System.out.printf("n=%-2d http worker: %d upgrades in %.1f s; connection-per-request client: %d requests, %d failures; upgrade wall times (ms): %s%n",
                    n, upgrades, seconds, ok.get(), failed.get(), fmt(times));
            if (!wrkSummary.isEmpty()) System.out.printf("      wrk (16 keep-alive connections): %s%n", wrkSummary);
        }
    }

    static String summariseWrk(String out) {
        String requests = out.lines().filter(l -> l.contains("requests in")).findFirst().orElse("?").trim();
        String errors = out.lines().filter(l -> l.contains("Socket errors") || l.contains("Non-2xx")).map(String::trim)
                .reduce((a, b) -> a + "; " + b).orElse("no socket errors, no non-2xx responses");
        return requests + "; " + errors;
    }

    static void instantAckScenario(int n, int upgrades, int maxUnacked) throws Exception {
        Path dir = Files.createTempDirectory("einh-bench");
        List<String> args = new ArrayList<>(List.of("-n", Integer.toString(n), "-m", "manual"));
        if (maxUnacked > 0) args.addAll(List.of("--max-unacked", Integer.toString(maxUnacked)));
        args.addAll(List.of(PYTHON, ROOT.resolve("bench/ack_worker.py").toString()));
        try (Sup s = start(dir, args)) {
            awaitAcked(s, n);
            List<Double> times = new ArrayList<>();
            for (int i = 0; i < upgrades; i++) times.add(upgrade(s));
            // the workers' own start-up: one python3 start, measured alone
            List<Double> starts = new ArrayList<>();
            for (int i = 0; i < 5; i++) {
                long t0 = System.nanoTime();
                new ProcessBuilder(PYTHON, "-c", "import json, os, signal, socket, sys").start().waitFor();
                starts.add((System.nanoTime() - t0) / 1e6);
            }
            Collections.sort(starts);
            System.out.printf("n=%-2d instantly-acking workers (max-unacked = %s): upgrade wall times (ms): %s; one worker start-up alone ≈ %.0f ms%n",
                    n, maxUnacked > 0 ? Integer.toString(maxUnacked) : Runtime.getRuntime().availableProcessors() + " = CPUs",
                    fmt(times), starts.get(2));
        }
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

    static String fmt(List<Double> xs) {
        StringBuilder b = new StringBuilder();
        for (double x : xs) b.append(b.isEmpty() ? "" : ", ").append(String.format("%.0f", x));
        return b.toString();
    }
}
