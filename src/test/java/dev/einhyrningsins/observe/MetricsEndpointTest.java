package dev.einhyrningsins.observe;

import static dev.einhyrningsins.Await.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.einhyrningsins.Await;
import dev.einhyrningsins.control.ReplyTo;
import java.io.IOException;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The {@code --metrics} endpoint over real sockets, with a stand-in for the supervisor loop:
 * what each path answers, and each bound attacked — connections (idle ones make room, busy
 * ones refuse), questions waiting for the loop, the request's and the answer's deadlines, a
 * response nobody reads — and that a question nobody waits for any more says so to the loop.
 */
class MetricsEndpointTest {
    static final MetricsEndpoint.Limits SMALL = small(Duration.ofMillis(300));
    /** SMALL for tests of another deadline: a stall between the test's connect and its write is not "idle". */
    static final MetricsEndpoint.Limits SMALL_BUT_REQUEST = small(Duration.ofSeconds(30));

    static MetricsEndpoint.Limits small(Duration request) {
        return new MetricsEndpoint.Limits(4, 2, 256, request, Duration.ofMillis(400), Duration.ofMillis(200), Duration.ofMillis(300));
    }

    /** A question the stand-in loop holds until the test answers it. */
    record Held(MetricsEndpoint.Question question, ReplyTo answer) {}

    final ConcurrentLinkedQueue<Held> held = new ConcurrentLinkedQueue<>();
    final List<String> warnings = new CopyOnWriteArrayList<>();
    final EndpointCounts counts = new EndpointCounts();
    final List<Socket> sockets = new ArrayList<>();
    MetricsEndpoint endpoint;

    MetricsEndpoint start(MetricsEndpoint.Limits limits, MetricsEndpoint.Asker asker) throws IOException {
        endpoint = MetricsEndpoint.start(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), asker, limits, counts,
                warnings::add);
        return endpoint;
    }

    /** A loop that answers at once, as the supervisor's does. */
    static void answering(MetricsEndpoint.Question q, ReplyTo r) {
        switch (q) {
            case METRICS -> r.send("# TYPE x gauge\nx 1\n# EOF\n", true, true);
            case READY, LIVE -> r.send("not ready: 1 of 2 workers acked", true, false);
        }
    }

    @AfterEach
    void close() throws IOException {
        for (Socket s : sockets) s.close();
        if (endpoint != null) endpoint.close();
    }

    Socket connect() throws IOException {
        Socket s = new Socket();
        sockets.add(s);
        s.connect(endpoint.address());
        s.setSoTimeout((int) Await.WAIT.toMillis());
        return s;
    }

    /** Sends {@code request} and reads the whole response (the endpoint closes after it). */
    String exchange(String request) throws IOException {
        Socket s = connect();
        s.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
        return readAll(s);
    }

    String get(String path) throws IOException {
        return exchange("GET " + path + " HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n");
    }

    static String readAll(Socket s) throws IOException {
        try {
            return new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        } catch (java.net.SocketTimeoutException e) {
            throw e; // the endpoint neither answered nor closed: not a reset
        } catch (IOException e) {
            return "reset: " + e.getMessage();
        }
    }

    static int status(String response) {
        return response.startsWith("HTTP/1.1 ") ? Integer.parseInt(response.substring(9, 12)) : -1;
    }

    static String body(String response) {
        return response.substring(response.indexOf("\r\n\r\n") + 4);
    }

    @Test
    void eachPathAnswersWhatTheLoopSays() throws IOException {
        start(MetricsEndpoint.Limits.DEFAULTS, MetricsEndpointTest::answering);
        String metrics = get("/metrics");
        assertThat(status(metrics)).isEqualTo(200);
        assertThat(metrics).contains("Content-Type: application/openmetrics-text; version=1.0.0; charset=utf-8\r\n")
                .contains("Content-Length: 25\r\n").contains("Connection: close\r\n");
        assertThat(body(metrics)).isEqualTo("# TYPE x gauge\nx 1\n# EOF\n");
        String ready = get("/ready?verbose=1");
        assertThat(status(ready)).isEqualTo(503);
        assertThat(body(ready)).isEqualTo("not ready: 1 of 2 workers acked\n");
        String live = get("/live");
        assertThat(status(live)).as("the loop answered: live, whatever it said").isEqualTo(200);
        assertThat(body(live)).startsWith("live: the supervisor loop answered in ").endsWith(" ms\n");

        String head = exchange("HEAD /metrics HTTP/1.1\r\n\r\n");
        assertThat(status(head)).isEqualTo(200);
        assertThat(head).contains("Content-Length: 25\r\n").endsWith("\r\n\r\n");
        String other = get("/");
        assertThat(status(other)).isEqualTo(404);
        assertThat(body(other)).isEqualTo("Not found: /metrics, /ready and /live are served here\n");
        String post = exchange("POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
        assertThat(status(post)).isEqualTo(405);
        assertThat(post).contains("Allow: GET, HEAD\r\n");
        assertThat(status(exchange("nonsense\n\n"))).isEqualTo(400);
        assertThat(status(exchange("GET /metrics HTTP/1.0\n\n"))).as("bare newlines").isEqualTo(200);
        assertThat(counts.responses()).containsEntry("path=\"/metrics\",code=\"200\"", 3L)
                .containsEntry("path=\"/ready\",code=\"503\"", 1L).containsEntry("path=\"/live\",code=\"200\"", 1L)
                .containsEntry("path=\"other\",code=\"404\"", 1L).containsEntry("path=\"/metrics\",code=\"405\"", 1L);
        assertThat(warnings).isEmpty();
    }

    @Test
    void anAnswerNotThereInTimeIsA503AndTheLoopThenSeesNobodyWaits() throws IOException {
        start(SMALL_BUT_REQUEST, (q, r) -> held.add(new Held(q, r)));
        String live = get("/live");
        assertThat(status(live)).isEqualTo(503);
        assertThat(body(live)).isEqualTo("not live: the supervisor loop did not answer within 0.2 s\n");
        String metrics = get("/metrics");
        assertThat(body(metrics)).isEqualTo("Metrics unavailable: the supervisor loop did not answer within 0.4 s\n");
        assertThat(held).hasSize(2).allSatisfy(h -> assertThat(h.answer().open()).as("nobody waits: not rendered").isFalse());
        held.peek().answer().send("too late", true, true); // dropped, nothing breaks
        assertThat(status(get("/ready"))).isEqualTo(503);
    }

    @Test
    void aQuestionStillWaitedForIsOpenForTheLoop() throws Exception {
        start(MetricsEndpoint.Limits.DEFAULTS, (q, r) -> held.add(new Held(q, r)));
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try {
            Future<String> response = pool.submit(() -> get("/metrics"));
            await("the question", () -> !held.isEmpty());
            Held h = held.poll();
            assertThat(h.question()).isEqualTo(MetricsEndpoint.Question.METRICS);
            assertThat(h.answer().open()).isTrue();
            h.answer().send("metrics are not kept by this supervisor", true, false);
            String r = response.get(30, TimeUnit.SECONDS);
            assertThat(status(r)).isEqualTo(503);
            assertThat(body(r)).isEqualTo("Metrics unavailable: metrics are not kept by this supervisor\n");
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void atMostSoManyQuestionsWaitForTheLoopMoreAreBusyAtOnce() throws Exception {
        start(new MetricsEndpoint.Limits(8, 2, 256, Duration.ofSeconds(30), Duration.ofSeconds(30), Duration.ofSeconds(30),
                Duration.ofSeconds(30)), (q, r) -> held.add(new Held(q, r)));
        Socket a = connect();
        Socket b = connect();
        a.getOutputStream().write("GET /metrics HTTP/1.1\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
        await("the first question", () -> held.size() == 1);
        b.getOutputStream().write("GET /ready HTTP/1.1\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
        await("two questions", () -> held.size() == 2);
        String busy = get("/live");
        assertThat(status(busy)).isEqualTo(503);
        assertThat(body(busy)).isEqualTo("not live: 2 questions already wait for the supervisor loop\n");
        assertThat(counts.refused()).containsEntry("busy", 1L);
        // the loop takes one (it looks whether anyone waits): room for the next
        Held first = held.poll();
        assertThat(first.answer().open()).isTrue();
        Socket c = connect();
        c.getOutputStream().write("GET /live HTTP/1.1\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
        await("the third question", () -> held.size() == 2);
        first.answer().send("# EOF\n", true, true);
        assertThat(status(readAll(a))).isEqualTo(200);
        for (Held h : held) h.answer().send("ready: 2 of 2 workers acked", true, true);
        assertThat(body(readAll(b))).isEqualTo("ready: 2 of 2 workers acked\n");
        assertThat(status(readAll(c))).isEqualTo(200);
    }

    @Test
    void clientsThatConnectAndSendNothingCannotHoldTheEndpoint() throws Exception {
        start(new MetricsEndpoint.Limits(4, 2, 256, Duration.ofSeconds(30), Duration.ofMillis(400), Duration.ofMillis(200),
                Duration.ofMillis(300)), MetricsEndpointTest::answering);
        List<Socket> idle = new ArrayList<>();
        for (int i = 0; i < 10; i++) idle.add(connect());
        // every connection taken by one that sent nothing: each new one makes room by closing the oldest
        for (int i = 0; i < 5; i++) assertThat(status(get("/metrics"))).isEqualTo(200);
        assertThat(counts.refused().get("idle")).isGreaterThanOrEqualTo(5L);
        assertThat(readAll(idle.getFirst())).as("the oldest idle connection was closed").isEmpty();
    }

    @Test
    void whenEveryConnectionWaitsForAnAnswerANewOneIsClosedAtOnce() throws Exception {
        start(new MetricsEndpoint.Limits(4, 4, 256, Duration.ofMillis(300), Duration.ofSeconds(30), Duration.ofSeconds(30),
                Duration.ofMillis(300)), (q, r) -> held.add(new Held(q, r)));
        List<Socket> waiting = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            Socket s = connect();
            s.getOutputStream().write("GET /metrics HTTP/1.1\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
            waiting.add(s);
        }
        await("four connections asking", () -> held.size() == 4);
        assertThat(get("/metrics")).as("no room: closed without a response").doesNotStartWith("HTTP/1.1 200");
        assertThat(counts.refused()).containsEntry("full", 1L);
        for (Held h : held) h.answer().send("# EOF\n", true, true);
        for (Socket s : waiting) assertThat(status(readAll(s))).isIn(200, 503);
    }

    @Test
    void aRequestThatDoesNotArriveInTimeOrIsTooLargeEndsItsConnection() throws Exception {
        start(SMALL, MetricsEndpointTest::answering);
        Socket slow = connect();
        slow.getOutputStream().write("GET /metrics HTTP/1.1\r\nHost: x\r\n".getBytes(StandardCharsets.ISO_8859_1));
        assertThat(readAll(slow)).as("closed without a response after the request deadline").isEmpty();
        assertThat(counts.refused()).containsEntry("idle", 1L);
        String large = exchange("GET /metrics HTTP/1.1\r\nX-Filler: " + "x".repeat(300) + "\r\n\r\n");
        assertThat(status(large)).isEqualTo(431);
        assertThat(body(large)).isEqualTo("Request headers too large: at most 256 bytes\n");
    }

    @Test
    void aResponseNobodyReadsIsDroppedAfterItsDeadline() throws Exception {
        String big = "x".repeat(32 << 20);
        start(SMALL_BUT_REQUEST, (q, r) -> {
            if (q == MetricsEndpoint.Question.METRICS) {
                r.send(big, true, true);
            } else {
                answering(q, r);
            }
        });
        Socket s = connect();
        s.setReceiveBufferSize(4096);
        s.getOutputStream().write("GET /metrics HTTP/1.1\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
        await("the unread response dropped", () -> counts.refused().get("unread") == 1L);
        assertThat(counts.responses()).containsEntry("path=\"/metrics\",code=\"200\"", 1L);
        assertThat(status(get("/ready"))).as("the endpoint goes on").isEqualTo(503);
    }

    @Test
    void fiveHundredConcurrentScrapesNeverPutMoreThanTheLimitOfQuestionsBeforeTheLoop() throws Exception {
        AtomicInteger outstanding = new AtomicInteger();
        AtomicInteger most = new AtomicInteger();
        ExecutorService loop = Executors.newSingleThreadExecutor();
        start(MetricsEndpoint.Limits.DEFAULTS, (q, r) -> {
            most.accumulateAndGet(outstanding.incrementAndGet(), Math::max);
            loop.execute(() -> {
                outstanding.decrementAndGet();
                if (r.open()) answering(q, r);
            });
        });
        try {
            List<Socket> scrapes = new ArrayList<>();
            for (int i = 0; i < 500; i++) {
                Socket s = connect();
                s.getOutputStream().write(("GET " + (i % 3 == 0 ? "/live" : "/metrics") + " HTTP/1.1\r\n\r\n")
                        .getBytes(StandardCharsets.ISO_8859_1));
                scrapes.add(s);
            }
            int ok = 0;
            for (Socket s : scrapes) {
                String r = readAll(s);
                if (status(r) == 200) ok++;
                assertThat(status(r)).as(r).isIn(-1, 200, 503);
            }
            assertThat(ok).isPositive();
            assertThat(most.get()).isLessThanOrEqualTo(MetricsEndpoint.Limits.DEFAULTS.asks());
            assertThat(status(get("/metrics"))).as("and then it serves as before").isEqualTo(200);
        } finally {
            loop.shutdownNow();
        }
    }

    @Test
    void closingStopsServingAtOnce() throws IOException {
        start(MetricsEndpoint.Limits.DEFAULTS, MetricsEndpointTest::answering);
        InetSocketAddress address = endpoint.address();
        Socket idle = connect();
        endpoint.close();
        assertThat(readAll(idle)).as("closed (or reset, if it was still in the listen queue)").doesNotStartWith("HTTP");
        assertThatThrownBy(() -> new Socket(address.getAddress(), address.getPort()).close()).isInstanceOf(ConnectException.class);
        endpoint = null;
    }
}
