package dev.einhyrningsins.control;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The client's own line reading, against a raw UNIX socket server that writes chosen bytes. */
class ControlClientTest {
    @TempDir
    Path dir;

    /** Accepts one connection, reads the request line, writes {@code reply} in pieces of {@code chunk} bytes, closes. */
    private CompletableFuture<String> serveOnce(ServerSocketChannel server, byte[] reply, int chunk) {
        return CompletableFuture.supplyAsync(() -> {
            try (SocketChannel ch = server.accept()) {
                ByteBuffer in = ByteBuffer.allocate(4096);
                StringBuilder request = new StringBuilder();
                while (request.indexOf("\n") < 0 && ch.read(in) > 0) {
                    request.append(new String(in.array(), 0, in.position(), StandardCharsets.UTF_8));
                    in.clear();
                }
                for (int off = 0; off < reply.length; off += chunk) {
                    ByteBuffer b = ByteBuffer.wrap(reply, off, Math.min(chunk, reply.length - off));
                    while (b.hasRemaining()) ch.write(b);
                }
                return request.toString();
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        });
    }

    @Test
    void repliesLargerThanOneReadAndSplitInsideACharacterAreWholeLines() throws Exception {
        Path sock = dir.resolve("raw.sock");
        // a long message of multi-byte characters, streamed (wait: true), then a CRLF final reply,
        // written 7 bytes at a time so that reads end inside characters and inside "\r\n"
        String big = "ø€".repeat(20_000);
        String replies = WireCodec.encodeReply(big, 7, false, true)
                + WireCodec.encodeReply("done", 7, true, true).replace("\n", "\r\n");
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            server.bind(UnixDomainSocketAddress.of(sock));
            CompletableFuture<String> request = serveOnce(server, replies.getBytes(StandardCharsets.UTF_8), 7);
            List<Reply> seen = new ArrayList<>();
            try (ControlClient client = ControlClient.connect(sock)) {
                Reply last = client.send("state", List.of(), 7, seen::add);
                assertThat(last.message()).isEqualTo("done");
            }
            assertThat(seen).extracting(Reply::message).containsExactly(big, "done");
            assertThat(request.get()).contains("\"command\":\"state\"");
        }
    }

    @Test
    void aFinalReplyWithoutItsNewlineBeforeTheEndOfInputIsStillRead() throws Exception {
        Path sock = dir.resolve("raw.sock");
        String reply = WireCodec.encodeReply("bye", null, true, true).strip();
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            server.bind(UnixDomainSocketAddress.of(sock));
            serveOnce(server, reply.getBytes(StandardCharsets.UTF_8), 1 << 16);
            try (ControlClient client = ControlClient.connect(sock)) {
                assertThat(client.send("ehlo", List.of(), null, r -> { }).message()).isEqualTo("bye");
            }
        }
    }

    @Test
    void aReplyThatIsNotUtf8IsReadWithReplacementsAndClosingTwiceIsHarmless() throws Exception {
        Path sock = dir.resolve("raw.sock");
        byte[] reply = "{\"message\":\"caf\u00ff\"}\n".getBytes(StandardCharsets.ISO_8859_1); // a lone 0xff
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            server.bind(UnixDomainSocketAddress.of(sock));
            serveOnce(server, reply, 1 << 16);
            ControlClient client = ControlClient.connect(sock);
            assertThat(client.send("ehlo", List.of(), null, r -> { }).message()).isEqualTo("caf\ufffd");
            client.close();
            client.close();
        }
    }

    /** Runs {@code body} with the JVM's user.name set to {@code name} (null: unset), then puts it back. */
    static <T> T asUser(String name, java.util.concurrent.Callable<T> body) throws Exception {
        String was = System.getProperty("user.name");
        try {
            if (name == null) System.clearProperty("user.name"); else System.setProperty("user.name", name);
            return body.call();
        } finally {
            System.setProperty("user.name", was);
        }
    }

    String requestAs(String name) throws Exception {
        Path sock = dir.resolve("user-" + System.nanoTime() + ".sock");
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            server.bind(UnixDomainSocketAddress.of(sock));
            CompletableFuture<String> request = serveOnce(server, WireCodec.encodeReply("hi", null, true, true)
                    .getBytes(StandardCharsets.UTF_8), 1 << 16);
            try (ControlClient client = asUser(name, () -> ControlClient.connect(sock))) {
                client.send("ehlo", null, null, r -> { });
            }
            return request.get();
        }
    }

    @Test
    void requestsNameTheUserOrTheUidWhenThereIsNoName() throws Exception {
        String uid = String.valueOf(java.nio.file.Files.getAttribute(Path.of("/proc/self"), "unix:uid"));
        assertThat(requestAs("alice")).isEqualTo("{\"command\":\"ehlo\",\"user\":\"alice\"}\n");
        assertThat(requestAs("?")).isEqualTo("{\"command\":\"ehlo\",\"user\":\"" + uid + "\"}\n");
        assertThat(requestAs("")).isEqualTo("{\"command\":\"ehlo\",\"user\":\"" + uid + "\"}\n");
        assertThat(requestAs(null)).isEqualTo("{\"command\":\"ehlo\",\"user\":\"" + uid + "\"}\n");
    }

    @Test
    void aServerThatEndsWithoutAFinalReplyOrWithGarbageIsAnError() throws Exception {
        Path sock = dir.resolve("raw.sock");
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            server.bind(UnixDomainSocketAddress.of(sock));
            serveOnce(server, WireCodec.encodeReply("1/2", 1, false, true).getBytes(StandardCharsets.UTF_8), 1 << 16);
            try (ControlClient client = ControlClient.connect(sock)) {
                org.assertj.core.api.Assertions.assertThatThrownBy(() -> client.send("upgrade", null, 1, r -> { }))
                        .isInstanceOf(java.io.IOException.class)
                        .hasMessage("the supervisor closed the connection without a final reply");
            }
            serveOnce(server, "[1, 2]\n".getBytes(StandardCharsets.UTF_8), 1 << 16);
            try (ControlClient client = ControlClient.connect(sock)) {
                org.assertj.core.api.Assertions.assertThatThrownBy(() -> client.send("state", null, 2, r -> { }))
                        .isInstanceOf(java.io.IOException.class).hasMessageStartingWith("reply is not a mapping");
            }
        }
    }

    @Test
    void aServerThatClosedBeforeTheRequestIsABrokenPipeUnlessItSaidWhy() throws Exception {
        Path sock = dir.resolve("raw.sock");
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            server.bind(UnixDomainSocketAddress.of(sock));
            for (String said : new String[] {null, "Too many connections (256 open)"}) {
                CompletableFuture<Void> closed = CompletableFuture.runAsync(() -> {
                    try (SocketChannel ch = server.accept()) {
                        if (said != null) ch.write(ByteBuffer.wrap(WireCodec.failureLine(said)));
                    } catch (java.io.IOException e) {
                        throw new RuntimeException(e);
                    }
                });
                try (ControlClient client = ControlClient.connect(sock)) {
                    closed.get();
                    org.assertj.core.api.Assertions.assertThatThrownBy(() -> client.send("state", null, 3, r -> { }))
                            .isInstanceOf(java.io.IOException.class).hasMessage(said == null ? "Broken pipe" : said);
                }
            }
        }
    }

    @Test
    void closingEndsTheConnection() throws Exception {
        Path sock = dir.resolve("raw.sock");
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            server.bind(UnixDomainSocketAddress.of(sock));
            CompletableFuture<Integer> eof = CompletableFuture.supplyAsync(() -> {
                try (SocketChannel ch = server.accept()) {
                    return ch.read(ByteBuffer.allocate(16));
                } catch (java.io.IOException e) {
                    throw new RuntimeException(e);
                }
            });
            ControlClient.connect(sock).close();
            assertThat(eof.get(20, java.util.concurrent.TimeUnit.SECONDS)).as("the server reads the end of input").isEqualTo(-1);
        }
    }

    @Test
    void aConnectionThatFailsLeavesNoDescriptorOpen() throws Exception {
        Path nowhere = dir.resolve("nobody-listens.sock");
        long before;
        try (var fds = java.nio.file.Files.list(Path.of("/proc/self/fd"))) {
            before = fds.count();
        }
        for (int i = 0; i < 50; i++) {
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> ControlClient.connect(nowhere))
                    .isInstanceOf(ControlException.class).hasMessageContaining("cannot reach the control socket " + nowhere);
        }
        try (var fds = java.nio.file.Files.list(Path.of("/proc/self/fd"))) {
            assertThat(fds.count()).as("descriptors open after 50 failed connects").isLessThan(before + 50);
        }
    }
}
