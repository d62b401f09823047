package dev.einhyrningsins.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.parallel.Isolated;

/**
 * The example JVM workers under examples/ (Jetty 12 on the inherited channel, Netty on the
 * epoll transport from EINHORN_FD_0, a plain NIO echo server), built as a user builds them
 * ({@link Examples}) and run under a real supervisor with {@code --graceful-signal TERM}: 0
 * failed requests across 5 smooth upgrades under load from two clients (a connection per
 * request), and a request in flight on an old worker that finishes while that worker drains.
 */
@Isolated // builds the examples with Maven and runs JVM workers: the heaviest IT, alone
class JvmExamplesIT {
    static final int UPGRADES = 5;

    @TempDir
    Path dir;

    /** The examples' build, outside any one test's timeout: Jetty and Netty come from Maven Central on a fresh machine. */
    @BeforeAll
    @Timeout(value = 16, unit = TimeUnit.MINUTES) // Examples allows the build 15
    static void buildTheExamples() throws Exception {
        for (String project : Examples.PROJECTS) Examples.jar(project);
    }

    /** How the test talks to one example: a quick request (its answer), the slow one (its answer). */
    interface Client {
        String request(int port) throws IOException;

        String slow(int port) throws IOException;
    }

    /** HTTP/1.1, a connection per request; the body's one line. */
    static final Client HTTP = new Client() {
        @Override
        public String request(int port) throws IOException {
            return get(port, "/", 10_000);
        }

        @Override
        public String slow(int port) throws IOException {
            return get(port, "/slow?ms=200", 120_000);
        }

        static String get(int port, String path, int timeoutMs) throws IOException {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
                s.setSoTimeout(timeoutMs);
                OutputStream out = s.getOutputStream();
                out.write(("GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                out.flush();
                String response = new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                if (!response.startsWith("HTTP/1.1 200")) throw new IOException("bad response: " + response);
                return response.substring(response.indexOf("\r\n\r\n") + 4).trim();
            }
        }
    };

    /** The echo protocol: one line out, the same line back, then the client closes. */
    static final Client ECHO = new Client() {
        final AtomicLong n = new AtomicLong();

        @Override
        public String request(int port) throws IOException {
            String line = "hello " + n.incrementAndGet();
            String answer = exchange(port, line, 10_000);
            if (!line.equals(answer)) throw new IOException("sent '" + line + "', got back '" + answer + "'");
            return answer;
        }

        @Override
        public String slow(int port) throws IOException {
            return exchange(port, "slow 200", 120_000);
        }

        static String exchange(int port, String line, int timeoutMs) throws IOException {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
                s.setSoTimeout(timeoutMs);
                s.getOutputStream().write((line + "\n").getBytes(StandardCharsets.UTF_8));
                String answer = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8)).readLine();
                if (answer == null) throw new IOException("connection closed without an answer to '" + line + "'");
                return answer;
            }
        }
    };

    @Test
    void jettyOnTheInheritedChannel() throws Exception {
        scenario("jetty", "stdin", "jetty worker", HTTP, "jetty (\\d+) slow, finished while draining");
    }

    @Test
    void nettyOnTheEpollTransportFromEinhornFd0() throws Exception {
        scenario("netty", "n", "netty worker", HTTP, "netty (\\d+) slow, finished while draining");
    }

    @Test
    void plainNioEchoOnTheInheritedChannel() throws Exception {
        scenario("nio", "stdin", "nio echo worker", ECHO, "slow (\\d+), finished while draining");
    }

    void scenario(String example, String bindOption, String logName, Client client, String slowAnswer) throws Exception {
        Path jar = Examples.jar(example);
        try (var sup = SupervisorProcess.start(dir, Map.of(), "-n", "2", "-m", "manual", "--graceful-signal", "TERM",
                "-b", "127.0.0.1:0," + bindOption, "--", SupervisorProcess.java(), "-XX:TieredStopAtLevel=1",
                "-XX:+UseSerialGC", "-Xmx64m", "-jar", jar.toString())) {
            List<Integer> first = sup.awaitAcked(2);
            int port = UpgradeIT.port(sup);
            client.request(port);

            // a request in flight on a first-generation worker, answered only once that worker drains
            CompletableFuture<String> slow = CompletableFuture.supplyAsync(() -> {
                try {
                    return client.slow(port);
                } catch (IOException e) {
                    return e.toString();
                }
            }, r -> Thread.ofPlatform().start(r));
            sup.awaitLine(Pattern.quote(logName) + " \\d+: a slow request waits for the drain");

            try (Load a = new Load(() -> client.request(port)); Load b = new Load(() -> client.request(port))) {
                for (int i = 0; i < UPGRADES; i++) {
                    long before = a.ok();
                    String done = sup.request("upgrade", null).getLast().path("message").asText();
                    assertThat(done).as("upgrade %d", i + 1).isEqualTo("Upgrade done");
                    a.awaitFlowing(before);
                }
                a.close();
                b.close();
                assertThat(a.failed() + b.failed()).as("failed requests (first: %s)",
                        a.firstFailure() != null ? a.firstFailure() : b.firstFailure()).isZero();
                assertThat(a.ok() + b.ok()).isPositive();
            }

            String answer = slow.get(2, TimeUnit.MINUTES);
            Matcher m = Pattern.compile(slowAnswer).matcher(answer);
            assertThat(m.matches()).as("the slow request's answer: %s", answer).isTrue();
            int drained = Integer.parseInt(m.group(1));
            assertThat(first).as("it was in flight on a first-generation worker").contains(drained);
            assertThat(sup.log()).contains(logName + " " + drained + " draining");

            assertThat(sup.state().path("generation").asInt()).isEqualTo(1 + UPGRADES);
            assertThat(sup.awaitAcked(2)).doesNotContainAnyElementsOf(first);
            sup.signal("TERM");
            assertThat(sup.awaitExit()).isZero();
            assertThat(sup.process.descendants().toList()).isEmpty();
        }
    }
}
