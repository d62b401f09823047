package dev.einhyrningsins.image;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.StandardProtocolFamily;
import java.net.URI;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.parallel.Isolated;

/**
 * The runtime image (its real -Xmx64m) under attack by its own user and by others, while it
 * upgrades its workers: 250 connections each sending a mebibyte without a newline and never
 * reading, 50 watchers that never read, 100,000 datagrams at a worker's notify socket from
 * another uid, 500 concurrent scrapes of --metrics; meanwhile 20 smooth upgrades of 4 HTTP
 * workers under load. The supervisor stays up, every upgrade completes, {@code state} from the
 * owner answers within a second each time, no request to a worker fails, and its RSS stays
 * under {@link #RSS_BOUND_KIB}: the heap's 64 MiB at most, plus what the JVM needs beside it
 * (its idle RSS less its idle heap, ~35 MiB measured), plus margin for NIO's buffers and the
 * metrics endpoint's threads. Its figures are printed for bench/README.
 */
@Isolated // its figures (RSS, latencies, upgrade walls) are the supervisor's, not a neighbour's load
class HostileIT {
    static final ObjectMapper JSON = new ObjectMapper();
    static final Path LAUNCHER = ImageIT.LAUNCHER;
    static final Path WORKER = ImageIT.WORKER;
    /** The supervisor's RSS bound under this attack, in KiB (see the class comment). */
    static final long RSS_BOUND_KIB = 160 * 1024;

    @TempDir
    Path dir;

    static long rssKib(long pid) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
            if (line.startsWith("VmRSS:")) return Long.parseLong(line.replaceAll("[^0-9]", ""));
        }
        return -1;
    }

    /** One request to the control socket, its final reply's message, or null when none came within {@code millis}. */
    static String request(Path sock, String command, long millis) {
        ExecutorService one = Executors.newSingleThreadExecutor();
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(sock));
            ch.write(ByteBuffer.wrap(("{\"id\":1,\"command\":\"" + command + "\"}\n").getBytes(StandardCharsets.UTF_8)));
            BufferedReader r = new BufferedReader(new InputStreamReader(Channels.newInputStream(ch), StandardCharsets.UTF_8));
            Future<String> reply = one.submit(() -> {
                String line;
                String last = null;
                while ((line = r.readLine()) != null) {
                    JsonNode n = JSON.readTree(line.replace("%0A", "\n").replace("%25", "%"));
                    last = n.path("message").asText();
                    if (!n.path("wait").asBoolean(false)) break;
                }
                return last;
            });
            return reply.get(millis, TimeUnit.MILLISECONDS);
        } catch (Exception e) {
            return null;
        } finally {
            one.shutdownNow();
        }
    }

    @Test
    void itStaysUpServesItsOwnerAndUpgradesWhileClientsAndStrangersAttackIt() throws Exception {
        ImageIT.imageBuilt();
        assumeTrue("root".equals(System.getProperty("user.name")), "needs root to send as another uid");
        Path sock = dir.resolve("ctl.sock");
        try (ImageIT.Supervisor sup = ImageIT.Supervisor.start(dir, LAUNCHER.toString(), "-n", "4", "-m", "notify",
                "-b", "127.0.0.1:0,r", "--metrics", "127.0.0.1:0", "-d", sock.toString(), "--", "python3", WORKER.toString())) {
            JsonNode state = sup.awaitAckedWorkers(sock, 4).isEmpty() ? null : sup.state(sock);
            int port = state.path("sockets").get(0).path("port").asInt();
            URI metrics = URI.create(state.path("metrics").asText());
            long idleKib = rssKib(sup.process.pid());
            // the same requests without the attack first, for the figures' comparison
            List<Long> calmStateMillis = new ArrayList<>();
            List<Long> calmUpgradeMillis = new ArrayList<>();
            for (int i = 1; i <= 5; i++) {
                long t0 = System.nanoTime();
                assertThat(request(sock, "state", 1000)).as("calm state %d", i).isNotNull().startsWith("{");
                calmStateMillis.add((System.nanoTime() - t0) / 1_000_000);
                long u0 = System.nanoTime();
                assertThat(request(sock, "upgrade", 120_000)).as("calm upgrade %d", i).isEqualTo("Upgrade done");
                calmUpgradeMillis.add((System.nanoTime() - u0) / 1_000_000);
            }
            calmStateMillis.sort(null);
            calmUpgradeMillis.sort(null);
            AtomicBoolean stop = new AtomicBoolean();
            AtomicLong served = new AtomicLong();
            AtomicLong failed = new AtomicLong();
            List<Thread> threads = new ArrayList<>();
            List<SocketChannel> attackers = new ArrayList<>();
            try {
                // load on the workers: none of it may fail
                for (int i = 0; i < 2; i++) {
                    threads.add(Thread.ofPlatform().start(() -> {
                        while (!stop.get()) {
                            try (Socket s = new Socket()) {
                                s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
                                s.setSoTimeout(10_000);
                                OutputStream out = s.getOutputStream();
                                out.write("GET / HTTP/1.0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                                String r = new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
                                if (r.startsWith("HTTP/1.0 200") || r.startsWith("HTTP/1.1 200")) served.incrementAndGet();
                                else failed.incrementAndGet();
                            } catch (IOException e) {
                                failed.incrementAndGet();
                            }
                        }
                    }));
                }
                // 250 endless lines and 50 silent watchers, all of the owner's uid
                byte[] mebibyte = new byte[1 << 20];
                java.util.Arrays.fill(mebibyte, (byte) 'x');
                threads.add(Thread.ofPlatform().start(() -> {
                    for (int i = 0; i < 300 && !stop.get(); i++) {
                        try {
                            SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
                            ch.connect(UnixDomainSocketAddress.of(sock));
                            ch.configureBlocking(false);
                            synchronized (attackers) {
                                attackers.add(ch);
                            }
                            if (i % 6 == 5) {
                                ch.write(ByteBuffer.wrap("{\"id\":1,\"command\":\"watch\"}\n".getBytes(StandardCharsets.UTF_8)));
                            } else {
                                ByteBuffer b = ByteBuffer.wrap(mebibyte);
                                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
                                while (b.hasRemaining() && System.nanoTime() < deadline) {
                                    // the send buffer is full: a millisecond's pause, not a spin that takes
                                    // a core from the supervisor under test
                                    if (ch.write(b) == 0) java.util.concurrent.locks.LockSupport.parkNanos(1_000_000);
                                }
                            }
                        } catch (IOException e) {
                            // dropped or refused: that is the point
                        }
                    }
                }));
                // a stranger floods a worker's notify socket
                // a worker of the newest generation (the calm upgrades' retiring ones may still be in state)
                JsonNode now = sup.state(sock);
                int newest = 0;
                int target = -1;
                for (JsonNode w : now.path("workers")) newest = Math.max(newest, w.path("generation").asInt());
                for (JsonNode w : now.path("workers")) {
                    if (w.path("generation").asInt() == newest && w.path("acked").asBoolean()) target = w.path("pid").asInt();
                }
                assertThat(target).as("an acked worker of generation %d", newest).isPositive();
                String environ = Files.readString(Path.of("/proc/" + target + "/environ"));
                Matcher m = Pattern.compile("NOTIFY_SOCKET=([^\0]*)").matcher(environ);
                assertThat(m.find()).as("a worker's NOTIFY_SOCKET").isTrue();
                String py = "import socket,sys\n"
                        + "s=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\nsent=refused=0\n"
                        + "for i in range(100000):\n"
                        + "  try:\n    s.sendto(b'READY=1', sys.argv[1]); sent+=1\n"
                        + "  except OSError: refused+=1\n"
                        + "print(sent, refused)\n";
                Process stranger = new ProcessBuilder("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                        "/usr/bin/python3", "-c", py, m.group(1)).redirectErrorStream(true).start();
                // 500 concurrent scrapes
                List<CompletableFuture<Integer>> scrapes = new ArrayList<>();
                try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
                    for (int i = 0; i < 500; i++) {
                        scrapes.add(CompletableFuture.supplyAsync(() -> scrape(metrics), pool));
                    }
                    // 20 smooth upgrades, the owner asking for state around each
                    List<Long> stateMillis = new ArrayList<>();
                    List<Long> upgradeMillis = new ArrayList<>();
                    long peakKib = 0;
                    for (int i = 1; i <= 20; i++) {
                        long t0 = System.nanoTime();
                        String s = request(sock, "state", 1000);
                        stateMillis.add((System.nanoTime() - t0) / 1_000_000);
                        assertThat(s).as("state %d answered within 1 s", i).isNotNull().startsWith("{");
                        long u0 = System.nanoTime();
                        String done = request(sock, "upgrade", 120_000);
                        upgradeMillis.add((System.nanoTime() - u0) / 1_000_000);
                        assertThat(done).as("upgrade %d", i).isEqualTo("Upgrade done");
                        peakKib = Math.max(peakKib, rssKib(sup.process.pid()));
                    }
                    assertThat(stranger.waitFor(60, TimeUnit.SECONDS)).as("the stranger's datagrams sent").isTrue();
                    String strangerSaid = new String(stranger.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
                    assertThat(stranger.exitValue()).isZero();
                    assertThat(strangerSaid).as("the stranger reached no notify socket").isEqualTo("0 100000");
                    int ok = 0;
                    for (CompletableFuture<Integer> f : scrapes) {
                        if (f.get(60, TimeUnit.SECONDS) == 200) ok++;
                    }
                    stateMillis.sort(null);
                    upgradeMillis.sort(null);
                    System.out.printf("HostileIT: RSS idle %d KiB, peak %d KiB (bound %d KiB); state under attack median "
                                    + "%d ms, max %d ms; upgrade wall under attack median %d ms, max %d ms; scrapes 200: %d of 500;"
                                    + " requests to workers %d served, %d failed; calm before: state median %d ms, max %d ms,"
                                    + " upgrade median %d ms, max %d ms%n", idleKib, peakKib, RSS_BOUND_KIB,
                            stateMillis.get(stateMillis.size() / 2), stateMillis.getLast(),
                            upgradeMillis.get(upgradeMillis.size() / 2), upgradeMillis.getLast(), ok, served.get(), failed.get(),
                            calmStateMillis.get(calmStateMillis.size() / 2), calmStateMillis.getLast(),
                            calmUpgradeMillis.get(calmUpgradeMillis.size() / 2), calmUpgradeMillis.getLast());
                    assertThat(peakKib).as("RSS under attack").isLessThan(RSS_BOUND_KIB);
                    assertThat(sup.process.isAlive()).isTrue();
                }
                assertThat(failed.get()).as("requests to the workers that failed").isZero();
                assertThat(served.get()).isPositive();
            } finally {
                stop.set(true);
                for (Thread t : threads) t.join(10_000);
                synchronized (attackers) {
                    for (SocketChannel ch : attackers) ch.close();
                }
            }
            String counted = request(sock, "metrics", 5000);
            assertThat(counted).contains("einhyrningsins_control_budget_drops_total");
            sup.process.destroy();
            assertThat(sup.awaitExit()).isZero();
        }
    }

    static int scrape(URI metrics) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(metrics.getHost(), metrics.getPort()), 10_000);
            s.setSoTimeout(30_000);
            s.getOutputStream().write(("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            String r = new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
            return Integer.parseInt(r.substring(9, 12));
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }
}
