package dev.einhyrningsins.observe;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.einhyrningsins.control.ReplyTo;
import java.io.IOException;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** {@code --metrics}: real HTTP on loopback, the loop played by whoever answers the {@code metrics} request. */
class MetricsEndpointTest {
    final HttpClient http = HttpClient.newHttpClient();
    final List<ReplyTo> asked = new ArrayList<>();
    MetricsEndpoint endpoint;

    MetricsEndpoint start(Consumer<ReplyTo> loop) throws IOException {
        endpoint = MetricsEndpoint.start(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), to -> {
            asked.add(to);
            loop.accept(to);
        });
        return endpoint;
    }

    @AfterEach
    void close() {
        if (endpoint != null) endpoint.close();
        http.close();
    }

    HttpResponse<String> send(String method, String path) throws Exception {
        URI uri = URI.create("http://127.0.0.1:" + endpoint.address().getPort() + path);
        return http.send(HttpRequest.newBuilder(uri).method(method, HttpRequest.BodyPublishers.noBody()).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void getMetricsIsTheLoopsAnswerAsOpenMetrics() throws Exception {
        start(to -> to.send("# EOF\n", true, true));
        HttpResponse<String> r = send("GET", "/metrics");
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.headers().firstValue("Content-Type")).hasValue("application/openmetrics-text; version=1.0.0; charset=utf-8");
        assertThat(r.body()).isEqualTo("# EOF\n");
        assertThat(asked).hasSize(1);
    }

    @Test
    void headAsksTheLoopAndSendsNoBody() throws Exception {
        start(to -> to.send("# EOF\n", true, true));
        HttpResponse<String> r = send("HEAD", "/metrics");
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.headers().firstValue("Content-Type")).hasValue(MetricsEndpoint.CONTENT_TYPE);
        assertThat(r.body()).isEmpty();
        assertThat(asked).hasSize(1);
    }

    @Test
    void otherPathsAndMethodsAreRefusedWithoutAskingTheLoop() throws Exception {
        start(to -> to.send("# EOF\n", true, true));
        HttpResponse<String> notFound = send("GET", "/");
        assertThat(notFound.statusCode()).isEqualTo(404);
        assertThat(notFound.body()).isEqualTo("Not found: the metrics are at /metrics\n");
        assertThat(notFound.headers().firstValue("Content-Type")).hasValue("text/plain; charset=utf-8");
        HttpResponse<String> post = send("POST", "/metrics");
        assertThat(post.statusCode()).isEqualTo(405);
        assertThat(post.headers().firstValue("Allow")).hasValue("GET, HEAD");
        assertThat(post.body()).isEqualTo("Method not allowed: GET or HEAD\n");
        assertThat(asked).isEmpty();
    }

    @Test
    void aFailureFromTheLoopIsA503SayingWhy() throws Exception {
        start(to -> to.send("metrics are not kept by this supervisor", true, false));
        HttpResponse<String> r = send("GET", "/metrics");
        assertThat(r.statusCode()).isEqualTo(503);
        assertThat(r.body()).isEqualTo("Metrics unavailable: metrics are not kept by this supervisor\n");
    }

    @Test
    void aClosedEndpointTakesNoConnections() throws Exception {
        start(to -> to.send("# EOF\n", true, true));
        int port = endpoint.address().getPort();
        assertThat(port).isPositive();
        endpoint.close();
        endpoint = null;
        URI uri = URI.create("http://127.0.0.1:" + port + "/metrics");
        assertThatThrownBy(() -> http.send(HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.ofString()))
                .isInstanceOf(ConnectException.class);
    }
}
