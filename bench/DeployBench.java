import java.io.*;
import java.net.*;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.*;
import java.util.concurrent.*;
import java.util.concurrent.atomic.*;
import java.util.regex.*;

/**
 * Deploy benchmark (issue 22), on a real supervisor (target/einhyrningsins.jar) and
 * examples/http_worker.py. Prints, over ROUNDS rounds (default 5), medians and maxima of:
 *
 * <ol>
 *   <li>the readiness gate: the wall time of an {@code upgrade} to a build whose ready check
 *       never passes, until it is given up (-n 2, --check-interval 0.5, default
 *       --ready-failures 3 and --upgrade-max-failures 3);</li>
 *   <li>the shutdown delay: from a TERM to the first 503 of {@code GET /ready}, polled back to
 *       back (--shutdown-delay 1), and how many requests of a client looping meanwhile were
 *       served and failed during the delay;</li>
 *   <li>the endpoint under attack: {@code state} round trips on the control socket while 500
 *       connections scrape {@code /metrics} at once, against the same with no attack.</li>
 * </ol>
 *
 * Run: bench/deploy.sh [ROUNDS]   (needs `mvn package` first)
 */
public class DeployBench {
    static final Path ROOT = Path.of("").toAbsolutePath();
    static final String JAVA = Path.of(System.getProperty("java.home"), "bin", "java").toString();

    public static void main(String[] args) throws Exception {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 5;
        System.out.printf("einhyrningsins deploy benchmark — %d CPUs, load average %s, %d rounds%n",
                Runtime.getRuntime().availableProcessors(), Files.readString(Path.of("/proc/loadavg")).split(" ")[0], rounds);
        List<Double> gate = new ArrayList<>();
        List<Double> notReady = new ArrayList<>();
        long served = 0;
        long failed = 0;
        List<Double> calm = new ArrayList<>();
        List<Double> attacked = new ArrayList<>();
        for (int r = 0; r < rounds; r++) {
            gate.add(readinessGate());
            long[] delay = shutdownDelay(notReady);
            served += delay[0];
            failed += delay[1];
            stateUnderAttack(calm, attacked);
        }
        System.out.printf("upgrade to a build that never passes its ready check, given up after: median %.2f s, max %.2f s%n",
                median(gate), max(gate));
        System.out.printf("TERM -> first 503 of /ready (--shutdown-delay 1): median %.1f ms, max %.1f ms; requests during the "
                + "delays: %d served, %d failed%n", median(notReady), max(notReady), served, failed);
        System.out.printf("state round trip, calm: median %.1f ms, max %.1f ms (%d)%n", median(calm), max(calm), calm.size());
        System.out.printf("state round trip, 500 scrapes at once: median %.1f ms, max %.1f ms (%d)%n", median(attacked),
                max(attacked), attacked.size());
    }

    // ------------------------------------------------------------------ scenarios

    static double readinessGate() throws Exception {
        try (Sup sup = Sup.start("v1", "", "-n", "2", "-m", "manual", "--check-interval", "0.5", "--ready-check",
                "curl -fsS --max-time 5 --unix-socket \"$HEALTH_DIR/$EINHORN_WORKER_PID.sock\" http://worker/health")) {
            sup.awaitAcked(2);
            sup.deploy("v2", "HEALTH=fail");
            long t = System.nanoTime();
            String last = sup.request("upgrade");
            double took = (System.nanoTime() - t) / 1e9;
            if (!last.contains("failed their ready check")) throw new AssertionError("not given up by the gate: " + last);
            return took;
        }
    }

    static long[] shutdownDelay(List<Double> notReady) throws Exception {
        try (Sup sup = Sup.start("v1", "", "-n", "2", "-m", "manual", "--shutdown-delay", "1", "--metrics", "127.0.0.1:0")) {
            sup.awaitAcked(2);
            int port = sup.port();
            int probe = URI.create(field(sup.request("state"), "metrics")).getPort();
            AtomicBoolean stop = new AtomicBoolean();
            AtomicLong ok = new AtomicLong();
            AtomicLong bad = new AtomicLong();
            AtomicLong termAt = new AtomicLong(Long.MAX_VALUE);
            AtomicLong overAt = new AtomicLong(Long.MAX_VALUE);
            Thread client = Thread.ofPlatform().start(() -> {
                while (!stop.get()) {
                    long at = System.nanoTime();
                    boolean good = status(port, "/") == 200;
                    if (at > termAt.get() && at < overAt.get()) (good ? ok : bad).incrementAndGet();
                }
            });
            long[] first503 = {0};
            Thread poller = Thread.ofPlatform().start(() -> {
                while (first503[0] == 0) {
                    int s = status(probe, "/ready");
                    if (s == 503 && System.nanoTime() > termAt.get()) first503[0] = System.nanoTime();
                }
            });
            Thread.sleep(300);
            termAt.set(System.nanoTime());
            sup.process.toHandle().destroy();
            poller.join(10_000);
            notReady.add((first503[0] - termAt.get()) / 1e6);
            sup.awaitLog("The shutdown delay is over");
            overAt.set(System.nanoTime());
            stop.set(true);
            sup.process.waitFor(30, TimeUnit.SECONDS);
            client.join(15_000);
            return new long[] {ok.get(), bad.get()};
        }
    }

    static void stateUnderAttack(List<Double> calm, List<Double> attacked) throws Exception {
        try (Sup sup = Sup.start("v1", "", "-n", "4", "-m", "manual", "--metrics", "127.0.0.1:0")) {
            sup.awaitAcked(4);
            int probe = URI.create(field(sup.request("state"), "metrics")).getPort();
            for (int i = 0; i < 50; i++) sup.state(); // warm-up, not counted
            for (int i = 0; i < 200; i++) calm.add(timed(sup::state));
            Thread attack = Thread.ofPlatform().start(() -> {
                List<Socket> sockets = new ArrayList<>();
                try {
                    for (int i = 0; i < 500; i++) {
                        Socket s = new Socket();
                        sockets.add(s);
                        s.connect(new InetSocketAddress("127.0.0.1", probe), 10_000);
                        s.setSoTimeout(30_000);
                        s.getOutputStream().write("GET /metrics HTTP/1.1\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                    }
                    for (Socket s : sockets) {
                        try {
                            s.getInputStream().readAllBytes();
                        } catch (IOException reset) {
                            // closed by a bound
                        }
                    }
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                } finally {
                    for (Socket s : sockets) {
                        try {
                            s.close();
                        } catch (IOException ignored) {
                            // closing
                        }
                    }
                }
            });
            while (attack.isAlive()) attacked.add(timed(sup::state));
        }
    }

    // ------------------------------------------------------------------ helpers

    interface Call {
        Object run() throws Exception;
    }

    static double timed(Call c) throws Exception {
        long t = System.nanoTime();
        c.run();
        return (System.nanoTime() - t) / 1e6;
    }

    static int status(int port, String path) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 2000);
            s.setSoTimeout(5000);
            s.getOutputStream().write(("GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            String r = new String(s.getInputStream().readNBytes(12), StandardCharsets.US_ASCII);
            return r.length() == 12 ? Integer.parseInt(r.substring(9, 12)) : -1;
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
    }

    static String field(String json, String name) {
        Matcher m = Pattern.compile("\"" + name + "\"\\s*:\\s*\"([^\"]*)\"").matcher(json);
        if (!m.find()) throw new AssertionError("no " + name + " in " + json);
        return m.group(1);
    }

    static double median(List<Double> xs) {
        List<Double> s = new ArrayList<>(xs);
        Collections.sort(s);
        int n = s.size();
        return n == 0 ? Double.NaN : n % 2 == 1 ? s.get(n / 2) : (s.get(n / 2 - 1) + s.get(n / 2)) / 2;
    }

    static double max(List<Double> xs) {
        return xs.stream().mapToDouble(Double::doubleValue).max().orElse(Double.NaN);
    }

    /** A supervisor of examples/http_worker.py in a directory of its own. */
    record Sup(Process process, Path dir, Path socket, StringBuffer log) implements AutoCloseable {
        static Sup start(String version, String env, String... args) throws IOException {
            Path dir = Files.createTempDirectory("einhyrningsins-deploy");
            Sup sup0 = new Sup(null, dir, dir.resolve("ctl.sock"), new StringBuffer());
            sup0.deploy(version, env);
            List<String> cmd = new ArrayList<>(List.of(JAVA, "-jar", ROOT.resolve("target/einhyrningsins.jar").toString(),
                    "-d", sup0.socket.toString(), "-b", "127.0.0.1:0"));
            cmd.addAll(List.of(args));
            cmd.add(dir.resolve("app").toString());
            ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile()).redirectOutput(ProcessBuilder.Redirect.DISCARD);
            pb.environment().put("VERSION_FILE", dir.resolve("version").toString());
            pb.environment().put("HEALTH_DIR", dir.toString());
            Process p = pb.start();
            Sup sup = new Sup(p, dir, sup0.socket, sup0.log);
            Thread.ofPlatform().daemon().start(() -> {
                try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getErrorStream(), StandardCharsets.UTF_8))) {
                    for (String line; (line = r.readLine()) != null; ) sup.log.append(line).append('\n');
                } catch (IOException ignored) {
                    // gone
                }
            });
            long deadline = System.nanoTime() + 30_000_000_000L;
            while (!Files.exists(sup.socket)) {
                if (System.nanoTime() > deadline || !p.isAlive()) throw new IOException("no control socket:\n" + sup.log);
                sleep(20);
            }
            return sup;
        }

        void deploy(String version, String env) throws IOException {
            Files.writeString(dir.resolve("version"), version);
            Path tmp = dir.resolve("app.new");
            Files.writeString(tmp, "#!/bin/sh\n" + env + " exec python3 " + ROOT.resolve("examples/http_worker.py") + "\n");
            Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
            Files.move(tmp, dir.resolve("app"), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        }

        /** One request with an id; returns the final reply's message. */
        String request(String command) throws IOException {
            try (SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
                ch.write(ByteBuffer.wrap(("{\"id\":1,\"command\":\"" + command + "\"}\n").getBytes(StandardCharsets.UTF_8)));
                BufferedReader r = new BufferedReader(new InputStreamReader(java.nio.channels.Channels.newInputStream(ch),
                        StandardCharsets.UTF_8));
                String last = "";
                for (String line; (line = r.readLine()) != null; ) {
                    last = line.replace("%0A", "\n").replace("%25", "%");
                    if (!last.contains("\"wait\":true")) break;
                }
                Matcher m = Pattern.compile("\"message\":\"((?:[^\"\\\\]++|\\\\.)*+)\"").matcher(last);
                return m.find() ? m.group(1).replace("\\\"", "\"").replace("\\\\", "\\") : last;
            }
        }

        /** A state request; fails unless the reply is the state. */
        String state() throws IOException {
            String s = request("state");
            if (!s.contains("\"workers\"")) throw new IOException("not a state: " + s);
            return s;
        }

        int port() throws IOException {
            Matcher m = Pattern.compile("\"port\"\\s*:\\s*(\\d+)").matcher(request("state"));
            if (!m.find()) throw new IOException("no port");
            return Integer.parseInt(m.group(1));
        }

        void awaitAcked(int n) throws IOException {
            long deadline = System.nanoTime() + 60_000_000_000L;
            while (count(request("state"), "\"acked\"\\s*:\\s*true") < n) {
                if (System.nanoTime() > deadline) throw new IOException("not acked:\n" + log);
                sleep(50);
            }
        }

        void awaitLog(String text) throws IOException {
            long deadline = System.nanoTime() + 60_000_000_000L;
            while (log.indexOf(text) < 0) {
                if (System.nanoTime() > deadline) throw new IOException("no \"" + text + "\" in:\n" + log);
                sleep(10);
            }
        }

        static int count(String s, String regex) {
            Matcher m = Pattern.compile(regex).matcher(s);
            int n = 0;
            while (m.find()) n++;
            return n;
        }

        static void sleep(long ms) {
            try {
                Thread.sleep(ms);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        @Override
        public void close() throws Exception {
            if (process.isAlive()) {
                process.toHandle().destroy();
                if (!process.waitFor(30, TimeUnit.SECONDS)) process.destroyForcibly();
            }
            process.descendants().forEach(ProcessHandle::destroyForcibly);
            try (var files = Files.walk(dir)) {
                files.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
            }
        }
    }
}
