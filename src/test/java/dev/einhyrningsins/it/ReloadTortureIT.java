package dev.einhyrningsins.it;

import static dev.einhyrningsins.Await.await;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.parallel.Isolated;

/**
 * Thirty reloads in a row under everything that used to break one: four HTTP workers under
 * continuous load, an upgrade follower and a watcher that never read, and HUP (an upgrade),
 * TTIN and TTOU arriving at random moments — the exec's included. Nothing may be dropped,
 * lost, or left unanswered: zero failed requests, the same supervisor pid, every reload
 * answered within 15 s (done or refused with a reason), {@code state} answered between
 * reloads, the worker count where TTIN and TTOU put it, and the workers gauge equal to the
 * live workers after each reload.
 */
@Isolated // 30 reloads under load on a loaded machine: alone, so its timing is its own
class ReloadTortureIT {
    static final int RELOADS = 30;

    @TempDir
    Path dir;

    /** A client that sends one request and never reads a byte: its replies pile up on our side. */
    SocketChannel silent(Path socket, String request) throws IOException {
        SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
        ch.connect(UnixDomainSocketAddress.of(socket));
        ch.write(ByteBuffer.wrap((request + "\n").getBytes(StandardCharsets.UTF_8)));
        return ch;
    }

    static String tail(String log, int lines) {
        List<String> all = log.lines().toList();
        return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
    }

    static long workersGauge(String metrics) {
        long sum = 0;
        for (String line : metrics.lines().toList()) {
            if (line.startsWith("einhyrningsins_workers{")) sum += (long) Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
        }
        return sum;
    }

    @Test
    void thirtyReloadsUnderLoadSignalsAndClientsThatNeverReadDropNothingAndLoseNothing() throws Exception {
        long seed = System.nanoTime();
        Random random = new Random(seed);
        try (var sup = SupervisorProcess.start(dir, Map.of(), "-n", "4", "-m", "0.2", "-b", "127.0.0.1:0,r",
                "python3", SupervisorProcess.example("http_worker.py").toString())) {
            sup.awaitAcked(4);
            int port = sup.state().path("sockets").get(0).path("port").asInt();
            List<SocketChannel> silentClients = new ArrayList<>();
            AtomicBoolean stop = new AtomicBoolean();
            AtomicInteger target = new AtomicInteger(4);
            List<String> sent = new ArrayList<>();
            // signals at random moments: an upgrade (HUP), one worker more (TTIN) or fewer (TTOU). The
            // kernel merges a standard signal sent while the same one is still pending (POSIX: they
            // do not queue), as it is during an exec's half second: a TTIN or TTOU is sent once the
            // one before took effect, so that every one must count; HUPs go at any time
            AtomicReference<Throwable> signallerFailed = new AtomicReference<>();
            Thread signaller = Thread.ofPlatform().start(() -> {
                Random r = new Random(seed + 1);
                try {
                    while (!stop.get()) {
                        // jitter: the moments are the point, nothing waits on them
                        Thread.sleep(100 + r.nextInt(1100));
                        int pick = r.nextInt(5);
                        String s = pick == 0 ? "HUP" : pick <= 2 ? "TTIN" : "TTOU";
                        if (s.equals("TTIN") && target.get() >= 8) s = "TTOU";
                        if (s.equals("TTOU") && target.get() <= 2) s = "TTIN";
                        if (s.equals("TTIN")) target.incrementAndGet();
                        if (s.equals("TTOU")) target.decrementAndGet();
                        synchronized (sent) {
                            sent.add(s);
                        }
                        sup.signal(s);
                        if (!s.equals("HUP")) {
                            int expected = target.get();
                            await(s + " taking effect (seed " + seed + ")", () -> {
                                try {
                                    return sup.state().path("target").asInt() == expected;
                                } catch (IOException e) {
                                    return false;
                                }
                            });
                        }
                    }
                } catch (Exception | AssertionError e) {
                    signallerFailed.set(e); // rethrown by the test's thread: an uncaught one would be lost
                }
            });
            List<Long> walls = new ArrayList<>();
            try (Load a = new Load(port, "/"); Load b = new Load(port, "/")) {
                a.awaitFlowing(0);
                for (int i = 1; i <= RELOADS; i++) {
                    if (i % 5 == 1) {
                        silentClients.add(silent(sup.socket, "{\"id\":1,\"command\":\"upgrade\"}"));
                        silentClients.add(silent(sup.socket, "{\"id\":2,\"command\":\"watch\"}"));
                    }
                    long start = System.nanoTime();
                    List<JsonNode> replies = sup.request("reload", null);
                    long wall = System.nanoTime() - start;
                    walls.add(wall);
                    JsonNode last = replies.getLast();
                    String message = last.path("message").asText();
                    System.out.printf("ReloadTortureIT: reload %d: %d ms, %s%n", i, wall / 1_000_000, message);
                    assertThat(wall).as("reload %d answered within 15 s (seed %d); the log:%n%s", i, seed,
                            tail(sup.log(), 40)).isLessThan(TimeUnit.SECONDS.toNanos(15));
                    if (last.path("ok").asBoolean(true)) {
                        assertThat(message).as("reload %d (seed %d)", i, seed).startsWith("Reloaded: einhyrningsins ")
                                .contains("took over as pid " + sup.pid());
                    } else {
                        assertThat(message).as("a refusal says why (seed %d)", seed).startsWith("Reload refused: ")
                                .doesNotEndWith("Reload refused: ");
                    }
                    JsonNode state = sup.state();
                    assertThat(state.path("pid").asLong()).isEqualTo(sup.pid());
                    // the gauge is the core's: it equals the workers the state lists, whatever the reloads
                    await("the workers gauge equals the live workers", () -> {
                        try {
                            long gauge = workersGauge(sup.command("metrics"));
                            return gauge == sup.state().path("workers").size();
                        } catch (IOException e) {
                            return false;
                        }
                    });
                    assertThat(sup.process.isAlive()).isTrue();
                }
                stop.set(true);
                signaller.join();
                if (signallerFailed.get() != null) throw new AssertionError("the signaller failed", signallerFailed.get());
                // every TTIN and TTOU counted, those in an exec window included
                await("the target where TTIN and TTOU put it (" + sent + ", seed " + seed + ")", () -> {
                    try {
                        return sup.state().path("target").asInt() == target.get();
                    } catch (IOException e) {
                        return false;
                    }
                });
                try {
                    sup.awaitAcked(target.get());
                } catch (AssertionError e) {
                    throw new AssertionError(e.getMessage() + " (seed " + seed + "); state:\n" + sup.command("state")
                            + "\nthe log:\n" + tail(sup.log(), 60), e);
                }
                assertThat(a.failed() + b.failed()).as("failed requests (first: %s)", a.firstFailure() != null
                        ? a.firstFailure() : b.firstFailure()).isZero();
                assertThat(a.ok() + b.ok()).isPositive();
            } finally {
                stop.set(true);
                for (SocketChannel ch : silentClients) ch.close();
            }
            walls.sort(null);
            System.out.printf("ReloadTortureIT: %d reloads, wall median %d ms, max %d ms; signals %s (seed %d)%n", RELOADS,
                    walls.get(walls.size() / 2) / 1_000_000, walls.getLast() / 1_000_000, sent, seed);
            sup.signal("TERM");
            assertThat(sup.awaitExit()).isZero();
        }
    }
}
