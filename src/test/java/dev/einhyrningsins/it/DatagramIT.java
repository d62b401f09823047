package dev.einhyrningsins.it;

import static dev.einhyrningsins.Await.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.einhyrningsins.posix.Datagrams;
import dev.einhyrningsins.posix.Fds;
import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Datagram sockets (-b udp:…, unixgram:…): bound once, inherited like listeners, shown with
 * their type, kept through upgrades and a reload with every datagram answered, and taken
 * from systemd's socket activation (ListenDatagram=).
 */
class DatagramIT {

    @TempDir
    Path dir;

    /** One datagram to {@code to} and its answer ("PID payload"), or null if none came within {@code millis}. */
    static String ask(DatagramSocket client, InetSocketAddress to, String payload, int millis) throws IOException {
        byte[] out = payload.getBytes(StandardCharsets.UTF_8);
        client.send(new DatagramPacket(out, out.length, to));
        byte[] in = new byte[512];
        DatagramPacket answer = new DatagramPacket(in, in.length);
        client.setSoTimeout(millis);
        try {
            client.receive(answer);
        } catch (SocketTimeoutException e) {
            return null;
        }
        return new String(in, 0, answer.getLength(), StandardCharsets.UTF_8);
    }

    static InetSocketAddress udp(String address) {
        // "udp:127.0.0.1:5353", "udp:[::1]:5353"
        String rest = address.substring("udp:".length());
        int colon = rest.lastIndexOf(':');
        String host = rest.substring(0, colon).replace("[", "").replace("]", "");
        return new InetSocketAddress(host, Integer.parseInt(rest.substring(colon + 1)));
    }

    /** The socket a process has as {@code fd}: "socket:[inode]". */
    static String socketOf(long pid, int fd) throws IOException {
        return Files.readSymbolicLink(Path.of("/proc", Long.toString(pid), "fd", Integer.toString(fd))).toString();
    }

    @Test
    void udpAndUnixDatagramSocketsServeEveryDatagramThroughFiveUpgradesAndAReload() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/python3")), "needs /usr/bin/python3");
        Path unixgram = dir.resolve("dgram.sock");
        try (var sup = SupervisorProcess.start(dir, Map.of(), "-n", "2", "-m", "0.1", "-b", "udp:127.0.0.1:0,name=v4",
                "-b", "udp:[::1]:0", "-b", "unixgram:" + unixgram + ",mode=0660",
                "/usr/bin/python3", SupervisorProcess.worker("udp_echo.py").toString())) {
            List<Integer> first = sup.awaitAcked(2);
            JsonNode sockets = sup.state().path("sockets");
            assertThat(sockets).hasSize(3);
            for (JsonNode s : sockets) assertThat(s.path("type").asText()).isEqualTo("datagram");
            assertThat(sockets.get(0).path("address").asText()).startsWith("udp:127.0.0.1:");
            assertThat(sockets.get(0).path("name").asText()).isEqualTo("v4");
            assertThat(sockets.get(1).path("address").asText()).startsWith("udp:[::1]:");
            assertThat(sockets.get(2).path("address").asText()).isEqualTo("unixgram:" + unixgram);
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(unixgram, LinkOption.NOFOLLOW_LINKS)))
                    .isEqualTo("rw-rw----");
            sup.awaitLine("Bound udp:127.0.0.1:\\d+ \\(-b udp:127.0.0.1:0,name=v4\\)");
            InetSocketAddress v4 = udp(sockets.get(0).path("address").asText());
            InetSocketAddress v6 = udp(sockets.get(1).path("address").asText());
            String inode = socketOf(first.getFirst(), 3);
            try (DatagramSocket client = new DatagramSocket(0, InetAddress.getLoopbackAddress());
                 DatagramSocket client6 = new DatagramSocket(new InetSocketAddress("::1", 0))) {
                assertThat(ask(client, v4, "hello", 5000)).matches("\\d+ hello");
                assertThat(ask(client6, v6, "hello6", 5000)).matches("\\d+ hello6");
            }
            assertThat(unixDatagram(unixgram, "hello-unix")).matches("\\d+ hello-unix");

            AtomicBoolean stop = new AtomicBoolean();
            AtomicLong answered = new AtomicLong();
            AtomicLong missing = new AtomicLong();
            AtomicReference<String> wrong = new AtomicReference<>();
            CompletableFuture<Void> load = CompletableFuture.runAsync(() -> {
                try (DatagramSocket client = new DatagramSocket(0, InetAddress.getLoopbackAddress())) {
                    for (long n = 0; !stop.get(); n++) {
                        String answer = ask(client, v4, "n" + n, 5000);
                        if (answer == null) {
                            missing.incrementAndGet();
                            client.setSoTimeout(200);
                            // a late answer must not be taken for the next one's
                            try {
                                client.receive(new DatagramPacket(new byte[512], 512));
                            } catch (SocketTimeoutException none) {
                                // really lost
                            }
                        } else if (answer.endsWith(" n" + n)) {
                            answered.incrementAndGet();
                        } else {
                            wrong.compareAndSet(null, "n" + n + " answered with " + answer);
                        }
                    }
                } catch (IOException e) {
                    wrong.compareAndSet(null, e.toString());
                }
            }, Thread::startVirtualThread);
            await("the load going", () -> answered.get() > 20);
            for (int i = 0; i < 5; i++) {
                long before = answered.get();
                List<JsonNode> replies = sup.request("upgrade", null);
                assertThat(replies.getLast().path("message").asText()).as(sup.log()).isEqualTo("Upgrade done");
                await("datagrams answered by generation " + (i + 2), () -> answered.get() > before + 5);
            }
            List<JsonNode> reload = sup.request("reload", null);
            assertThat(reload.getLast().path("message").asText()).startsWith("Reloaded: einhyrningsins ");
            long beforeUpgrade = answered.get();
            assertThat(sup.request("upgrade", null).getLast().path("message").asText()).isEqualTo("Upgrade done");
            await("datagrams answered after the reload", () -> answered.get() > beforeUpgrade + 5);
            stop.set(true);
            load.get(30, TimeUnit.SECONDS);
            assertThat(wrong.get()).isNull();
            assertThat(missing.get()).as("datagrams without an answer of " + answered.get()).isZero();

            List<Integer> last = sup.awaitAcked(2);
            assertThat(last).doesNotContainAnyElementsOf(first);
            assertThat(socketOf(last.getFirst(), 3)).as("the same socket, bound once").isEqualTo(inode);
            JsonNode after = sup.state();
            assertThat(after.path("sockets")).isEqualTo(sockets);
            assertThat(after.path("generation").asInt()).isEqualTo(7);
            assertThat(unixDatagram(unixgram, "still")).matches("\\d+ still");
            sup.signal("TERM");
            assertThat(sup.awaitExit()).isZero();
            assertThat(unixgram).as("its file is removed with it").doesNotExist();
        }
    }

    /** One datagram to a UNIX datagram socket from a bound client (so it can be answered), and the answer. */
    String unixDatagram(Path server, String payload) throws IOException {
        String client = dir.resolve("client-" + System.nanoTime() + ".sock").toString();
        int fd = Datagrams.receiver(client);
        try {
            Datagrams.send(fd, server.toString(), payload.getBytes(StandardCharsets.UTF_8));
            AtomicReference<String> answer = new AtomicReference<>();
            await("an answer on " + server, () -> {
                Datagrams.Received r = Datagrams.receive(fd, 512);
                if (r != null) answer.set(new String(r.data(), StandardCharsets.UTF_8));
                return r != null;
            });
            return answer.get();
        } finally {
            Fds.close(fd);
            Files.deleteIfExists(Path.of(client));
        }
    }

    @Test
    void aDatagramSocketFromSystemdSocketActivationIsServedWithTheDatagramThatStartedIt() throws Exception {
        SystemdIT.assumeTool("/usr/bin/systemd-socket-activate");
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/python3")), "needs /usr/bin/python3");
        int port;
        try (DatagramSocket probe = new DatagramSocket(0, InetAddress.getLoopbackAddress())) {
            port = probe.getLocalPort();
        }
        List<String> cmd = List.of("systemd-socket-activate", "--datagram", "-l", "127.0.0.1:" + port, "--fdname=dns",
                "-E", "PROBE_DIR", "-E", "TMPDIR", "-E", "PATH",
                SupervisorProcess.java(), "-jar", SupervisorProcess.jar().toString());
        try (var sup = SupervisorProcess.launchOnly(cmd, dir, Map.of(), "-m", "0.2",
                "/usr/bin/python3", SupervisorProcess.worker("udp_echo.py").toString());
             DatagramSocket client = new DatagramSocket(0, InetAddress.getLoopbackAddress())) {
            sup.awaitLine("Listening on 127.0.0.1:" + port + " as 3");
            // the first datagram starts the supervisor; it waits in the socket for the first worker
            String answer = ask(client, new InetSocketAddress(InetAddress.getLoopbackAddress(), port), "first", 30_000);
            assertThat(answer).as(sup.log()).matches("\\d+ first");
            await("the supervisor's control socket", () -> Files.exists(sup.socket));
            JsonNode socket = sup.state().path("sockets").get(0);
            assertThat(socket.path("from").asText()).isEqualTo("systemd");
            assertThat(socket.path("name").asText()).isEqualTo("dns");
            assertThat(socket.path("type").asText()).isEqualTo("datagram");
            assertThat(socket.path("address").asText()).isEqualTo("udp:127.0.0.1:" + port);
            sup.awaitLine("Using udp:127.0.0.1:" + port + " from systemd \\(dns\\)");
            sup.signal("TERM");
            assertThat(sup.awaitExit()).isZero();
        }
    }

    @Test
    void aPassedSocketThatIsNeitherListeningNorDatagramStopsTheStartInOneLine() throws Exception {
        int[] pair = dev.einhyrningsins.posix.Sockets.socketPair();
        Path log = dir.resolve("refused.log");
        try {
            var child = dev.einhyrningsins.posix.Spawn.start("/bin/sh", List.of("/bin/sh", "-c",
                    "LISTEN_PID=$$ LISTEN_FDS=1 LISTEN_FDNAMES=conn; export LISTEN_PID LISTEN_FDS LISTEN_FDNAMES; "
                            + "exec \"$0\" \"$@\" 2>>'" + log + "'", SupervisorProcess.java(), "-jar",
                    SupervisorProcess.jar().toString(), "-d", dir.resolve("ctl.sock").toString(), "--", "true"),
                    List.of("PATH=/usr/bin:/bin", "TMPDIR=" + dir), new int[] {pair[0]});
            dev.einhyrningsins.posix.ExitStatus status = null;
            long deadline = System.nanoTime() + SupervisorProcess.WAIT.toNanos();
            while ((status = child.reap()) == null && System.nanoTime() < deadline) {
                dev.einhyrningsins.posix.Poller.readable(child.pidfd(), 100);
            }
            assertThat(status).isNotNull();
            assertThat(status.code()).isEqualTo(1);
            assertThat(Files.readString(log).strip()).matches("einhyrningsins\\[\\d+\\]: ERROR systemd passed fd 3 \\(conn\\), "
                    + "which is neither a listening TCP or UNIX stream socket nor a UDP or UNIX datagram socket; "
                    + "einhyrningsins hands sockets to its workers \\(use ListenStream= or ListenDatagram= in the "
                    + "\\.socket unit\\)");
            assertThat(dir.resolve("ctl.sock")).doesNotExist();
        } finally {
            Fds.close(pair[0]);
            Fds.close(pair[1]);
        }
    }
}
