package dev.einhyrningsins.it;

import dev.einhyrningsins.worker.Einhorn;
import dev.einhyrningsins.worker.Listener;
import dev.einhyrningsins.worker.NotSupervisedException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;

/**
 * A JVM worker that uses the worker API (run from einhyrningsins-worker.jar) and reports what
 * it saw to $PROBE_DIR/PID.api.json: the listeners with their descriptors, addresses and which
 * is standard input, the inherited channel, where the API's classes came from. It answers
 * every connection on the inherited channel with its pid, acks, pings once if PING=1, and
 * says "draining" on the graceful signal (TERM: a shutdown hook). Outside the supervisor it
 * prints the API's reason and exits 3.
 */
public final class ApiProbeWorker {
    private ApiProbeWorker() {}

    public static void main(String[] args) throws Exception {
        Einhorn einhorn;
        try {
            einhorn = Einhorn.worker();
        } catch (NotSupervisedException e) {
            System.err.println("not supervised: " + e.getMessage());
            System.exit(3);
            return;
        }
        long pid = einhorn.pid();
        List<String> listeners = new ArrayList<>();
        for (Listener l : einhorn.listeners()) {
            listeners.add("{\"index\":" + l.index() + ",\"fd\":" + l.fd() + ",\"address\":" + quote(String.valueOf(l.address()))
                    + ",\"stdin\":" + l.stdin() + ",\"nonBlocking\":" + l.nonBlocking() + "}");
        }
        ServerSocketChannel channel = null;
        String channelText;
        try {
            channel = einhorn.inheritedChannel();
            channelText = "{\"local\":" + quote(String.valueOf(channel.getLocalAddress())) + ",\"class\":"
                    + quote(channel.getClass().getName()) + ",\"blocking\":" + channel.isBlocking() + "}";
        } catch (IOException e) {
            channelText = "{\"error\":" + quote(e.getMessage()) + "}";
        }
        String json = "{\"pid\":" + pid + ",\"master\":" + einhorn.masterPid() + ",\"index\":" + einhorn.childIndex().orElse(-1)
                + ",\"listeners\":[" + String.join(",", listeners) + "],\"channel\":" + channelText
                + ",\"api\":" + quote(Einhorn.class.getProtectionDomain().getCodeSource().getLocation().getPath()) + "}";
        Path dir = Path.of(System.getenv("PROBE_DIR"));
        Path tmp = dir.resolve("." + pid + ".api.tmp");
        Files.writeString(tmp, json);
        Files.move(tmp, dir.resolve(pid + ".api.json"), StandardCopyOption.ATOMIC_MOVE);

        Runtime.getRuntime().addShutdownHook(new Thread(() -> System.err.println("api probe " + pid + " draining")));
        if (channel != null) {
            ServerSocketChannel server = channel;
            Thread accepting = new Thread(() -> {
                while (true) {
                    try (SocketChannel c = server.accept()) {
                        c.write(ByteBuffer.wrap((pid + "\n").getBytes(StandardCharsets.US_ASCII)));
                    } catch (IOException e) {
                        return;
                    }
                }
            });
            accepting.setDaemon(true);
            accepting.start();
        }
        einhorn.ack();
        if ("1".equals(System.getenv("PING"))) einhorn.ping();
        Thread.currentThread().join();
    }

    static String quote(String s) {
        return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }
}
