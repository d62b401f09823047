package dev.einhyrningsins.observe;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.einhyrningsins.control.ReplyTo;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;

/**
 * {@code --metrics ADDR:PORT}: {@code GET /metrics} over HTTP with the JDK's own server
 * (module jdk.httpserver), answering with what the {@code metrics} command answers. The
 * loop owns the numbers, so each scrape asks it as a control client would and waits for
 * the text; the loop never waits for HTTP. One handler thread; nothing of this is loaded or
 * started without {@code --metrics}.
 */
public final class MetricsEndpoint implements AutoCloseable {
    /** OpenMetrics 1.0's media type; Prometheus asks for it. */
    static final String CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    /** How long a scrape waits for the loop's answer before a 503. */
    static final long ANSWER_SECONDS = 5;

    private final HttpServer server;
    private final ExecutorService handler;

    private MetricsEndpoint(HttpServer server, ExecutorService handler) {
        this.server = server;
        this.handler = handler;
    }

    /**
     * Binds {@code address} and starts serving.
     *
     * @param ask hands a {@code metrics} request to the loop, with where its answer goes
     */
    public static MetricsEndpoint start(InetSocketAddress address, Consumer<ReplyTo> ask) throws IOException {
        HttpServer server = HttpServer.create(address, 0);
        ExecutorService handler = Executors.newSingleThreadExecutor(
                Thread.ofPlatform().name("einhyrningsins-metrics").daemon(true).factory());
        server.setExecutor(handler);
        server.createContext("/", exchange -> serve(exchange, ask));
        server.start();
        return new MetricsEndpoint(server, handler);
    }

    /** Where it listens (the real port when 0 was asked for). */
    public InetSocketAddress address() {
        return server.getAddress();
    }

    private static void serve(HttpExchange exchange, Consumer<ReplyTo> ask) throws IOException {
        try (exchange) {
            String method = exchange.getRequestMethod();
            if (!exchange.getRequestURI().getPath().equals("/metrics")) {
                respond(exchange, 404, "text/plain; charset=utf-8", "Not found: the metrics are at /metrics\n");
                return;
            }
            if (!method.equals("GET") && !method.equals("HEAD")) {
                exchange.getResponseHeaders().set("Allow", "GET, HEAD");
                respond(exchange, 405, "text/plain; charset=utf-8", "Method not allowed: GET or HEAD\n");
                return;
            }
            CompletableFuture<String> answer = new CompletableFuture<>();
            ask.accept((message, last, ok) -> {
                if (ok) {
                    answer.complete(message);
                } else {
                    answer.completeExceptionally(new IOException(message));
                }
            });
            String text;
            try {
                text = answer.get(ANSWER_SECONDS, TimeUnit.SECONDS);
            } catch (TimeoutException | ExecutionException e) {
                String why = e instanceof TimeoutException ? "the supervisor loop did not answer within "
                        + ANSWER_SECONDS + " s" : e.getCause().getMessage();
                respond(exchange, 503, "text/plain; charset=utf-8", "Metrics unavailable: " + why + "\n");
                return;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                respond(exchange, 503, "text/plain; charset=utf-8", "Metrics unavailable: the supervisor is stopping\n");
                return;
            }
            respond(exchange, 200, CONTENT_TYPE, text);
        }
    }

    private static void respond(HttpExchange exchange, int status, String type, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", type);
        boolean head = exchange.getRequestMethod().equals("HEAD");
        exchange.sendResponseHeaders(status, head ? -1 : bytes.length);
        if (!head) {
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(bytes);
            }
        }
    }

    /** Stops serving: the listening socket and the server's dispatcher thread are gone when it returns, the handler thread too. */
    @Override
    public void close() {
        server.stop(0);
        handler.shutdownNow();
        try {
            handler.awaitTermination(ANSWER_SECONDS + 1, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
