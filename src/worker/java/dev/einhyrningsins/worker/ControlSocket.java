package dev.einhyrningsins.worker;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * One message to the supervisor's control socket, as einhorn's {@code Einhorn::Worker} sends
 * it: connect, write one line, and wait for the supervisor to close the connection, which it
 * does once it has taken a {@code worker:ack} or {@code worker:ping} (einhorn and einhyrningsins
 * alike; neither replies to them). Anything it writes instead is a refusal, reported as such.
 * Non-blocking under a selector, so every step has the deadline.
 */
final class ControlSocket {
    /** At most this much of a refusal is kept (they are one short line). */
    private static final int MAX_REPLY = 4096;

    private ControlSocket() {}

    static void send(Path socket, String line, Duration timeout) throws IOException {
        long deadline = System.nanoTime() + timeout.toNanos();
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX); Selector selector = Selector.open()) {
            ch.configureBlocking(false);
            SelectionKey key = ch.register(selector, 0);
            boolean connected;
            try {
                connected = ch.connect(UnixDomainSocketAddress.of(socket));
            } catch (IOException e) {
                throw new IOException("cannot reach the supervisor at " + socket + ": " + e.getMessage(), e);
            }
            if (!connected) {
                do {
                    await(selector, key, SelectionKey.OP_CONNECT, deadline, socket, "connecting");
                } while (!ch.finishConnect());
            }
            ByteBuffer out = ByteBuffer.wrap((line + "\n").getBytes(StandardCharsets.UTF_8));
            while (out.hasRemaining()) {
                if (ch.write(out) == 0) await(selector, key, SelectionKey.OP_WRITE, deadline, socket, "writing");
            }
            ch.shutdownOutput();
            ByteArrayOutputStream reply = new ByteArrayOutputStream();
            ByteBuffer in = ByteBuffer.allocate(512);
            while (true) {
                in.clear();
                int n = ch.read(in);
                if (n < 0) break;
                if (n == 0) {
                    await(selector, key, SelectionKey.OP_READ, deadline, socket, "waiting for it to take the message");
                    continue;
                }
                if (reply.size() < MAX_REPLY) reply.write(in.array(), 0, n);
            }
            if (reply.size() > 0) {
                throw new IOException("the supervisor at " + socket + " refused the message: "
                        + message(reply.toString(StandardCharsets.UTF_8)));
            }
        }
    }

    private static void await(Selector selector, SelectionKey key, int op, long deadline, Path socket, String doing)
            throws IOException {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
            throw new IOException("no answer from the supervisor at " + socket + " within the timeout (" + doing + ")");
        }
        key.interestOps(op);
        selector.select(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
        selector.selectedKeys().clear();
    }

    /**
     * The {@code message} of a reply line ({@code {"message":"...","ok":false}}, with einhorn's
     * {@code %25}/{@code %0A} escaping), or the line itself if it is not one.
     */
    static String message(String line) {
        String text = line.strip().replace("%0A", "\n").replace("%25", "%");
        int at = text.indexOf("\"message\"");
        if (at < 0) return text;
        int quote = text.indexOf('"', text.indexOf(':', at) + 1);
        if (quote < 0) return text;
        StringBuilder b = new StringBuilder();
        for (int i = quote + 1; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == '"') return b.toString().strip();
            if (c == '\\' && i + 1 < text.length()) {
                char e = text.charAt(++i);
                switch (e) {
                    case 'n' -> b.append('\n');
                    case 't' -> b.append('\t');
                    case 'r' -> b.append('\r');
                    case 'u' -> {
                        if (i + 4 >= text.length() || !text.substring(i + 1, i + 5).matches("[0-9a-fA-F]{4}")) return text;
                        b.append((char) Integer.parseInt(text.substring(i + 1, i + 5), 16));
                        i += 4;
                    }
                    default -> b.append(e); // \" \\ \/
                }
            } else {
                b.append(c);
            }
        }
        return text;
    }
}
