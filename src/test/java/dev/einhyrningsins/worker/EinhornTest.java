package dev.einhyrningsins.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.einhyrningsins.posix.Fds;
import dev.einhyrningsins.posix.Sockets;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The worker API against its environment: real listening sockets of this JVM found through
 * /proc, and a fake control socket that takes or refuses what it is told.
 */
class EinhornTest {
    static final Path PROC = Path.of("/proc/self");
    static final long PID = 4242;
    static final long MASTER = 4241;

    @TempDir
    Path dir;

    final List<Integer> fds = new ArrayList<>();

    @AfterEach
    void close() {
        fds.forEach(Fds::closeQuietly);
    }

    Map<String, String> env(int... listenFds) {
        Map<String, String> env = new HashMap<>();
        env.put("EINHORN_MASTER_PID", Long.toString(MASTER));
        env.put("EINHORN_FD_COUNT", Integer.toString(listenFds.length));
        for (int i = 0; i < listenFds.length; i++) env.put("EINHORN_FD_" + i, Integer.toString(listenFds[i]));
        env.put("EINHORN_SOCK_PATH", dir.resolve("ctl.sock").toString());
        env.put("EINHORN_CHILD_INDEX", "1");
        return env;
    }

    Einhorn worker(Map<String, String> env) throws NotSupervisedException {
        return Einhorn.of(env, PID, MASTER, PROC);
    }

    int tcp(String host) {
        return tcp(host, false);
    }

    int tcp(String host, boolean nonBlocking) {
        int fd = Sockets.listenTcp(new InetSocketAddress(host, 0), host, false, false, nonBlocking, 8);
        fds.add(fd);
        return fd;
    }

    @Test
    void outsideTheSupervisorItSaysSoInOneLine() {
        assertThatThrownBy(() -> Einhorn.of(Map.of(), PID, MASTER, PROC))
                .isInstanceOf(NotSupervisedException.class)
                .hasMessageStartingWith("not run by einhyrningsins or einhorn: EINHORN_MASTER_PID is not set")
                .message().doesNotContain("\n");
        // this test JVM is nobody's worker
        assertThat(Einhorn.isSupervised()).isFalse();
    }

    @Test
    void aProcessThatAWorkerStartedIsNotAWorker() {
        assertThatThrownBy(() -> Einhorn.of(env(), PID, 777, PROC))
                .isInstanceOf(NotSupervisedException.class)
                .hasMessage("EINHORN_MASTER_PID is 4241 but the parent of this process (4242) is 777: it was started by "
                        + "a worker, not by the supervisor (a wrapper script must 'exec java ...' so that the JVM is the worker)");
    }

    @Test
    void malformedOrMissingVariablesAreNamed() {
        Map<String, String> env = env();
        env.put("EINHORN_FD_COUNT", "2");
        env.put("EINHORN_FD_0", "3");
        assertThatThrownBy(() -> worker(env)).hasMessage("EINHORN_FD_COUNT is 2 but EINHORN_FD_1 is not set");
        env.put("EINHORN_FD_1", "127.0.0.1:8080");
        assertThatThrownBy(() -> worker(env)).hasMessageStartingWith("EINHORN_FD_1=127.0.0.1:8080 is not a number");
        env.put("EINHORN_MASTER_PID", "x");
        assertThatThrownBy(() -> worker(env)).hasMessageStartingWith("EINHORN_MASTER_PID=x is not a number");
    }

    @Test
    void listenersComeInOrderWithTheirDescriptorsAndAddresses() throws Exception {
        int v4 = tcp("127.0.0.1");
        int v6 = tcp("::1");
        Path path = dir.resolve("app.sock");
        int unix = Sockets.listenUnix(path, false, 8);
        fds.add(unix);
        Einhorn einhorn = worker(env(v4, v6, unix));

        assertThat(einhorn.listeners()).extracting(Listener::index).containsExactly(0, 1, 2);
        assertThat(einhorn.listeners()).extracting(Listener::fd).containsExactly(v4, v6, unix);
        assertThat(einhorn.listener(0).address()).isEqualTo(Sockets.localInetAddress(v4));
        InetSocketAddress six = (InetSocketAddress) einhorn.listener(1).address();
        assertThat(six.getAddress()).isEqualTo(InetAddress.getByName("::1"));
        assertThat(six.getPort()).isEqualTo(Sockets.localInetAddress(v6).getPort());
        assertThat(einhorn.listener(2).address()).isEqualTo(UnixDomainSocketAddress.of(path));
        assertThat(einhorn.listeners()).noneMatch(Listener::stdin);
        assertThat(einhorn.stdinListener()).isEmpty();
        assertThat(einhorn.childIndex()).hasValue(1);
        assertThat(einhorn.masterPid()).isEqualTo(MASTER);
        assertThat(einhorn.pid()).isEqualTo(PID);
        assertThatThrownBy(() -> einhorn.listener(3)).isInstanceOf(IndexOutOfBoundsException.class)
                .hasMessage("no EINHORN_FD_3: this worker inherited 3 sockets (one per -b)");
    }

    @Test
    void datagramSocketsHaveTheirAddressesToo() throws Exception {
        int v4 = Sockets.bindUdp(new InetSocketAddress("127.0.0.1", 0), "udp", false, false, false);
        fds.add(v4);
        int v6 = Sockets.bindUdp(new InetSocketAddress("::1", 0), "udp6", false, false, false);
        fds.add(v6);
        Path path = dir.resolve("log.sock");
        int unix = Sockets.bindUnixDatagram(path, false);
        fds.add(unix);
        Einhorn einhorn = worker(env(v4, v6, unix));
        assertThat(einhorn.listener(0).address()).isEqualTo(Sockets.localInetAddress(v4));
        assertThat(((InetSocketAddress) einhorn.listener(1).address()).getPort()).isEqualTo(Sockets.localInetAddress(v6).getPort());
        assertThat(einhorn.listener(2).address()).isEqualTo(UnixDomainSocketAddress.of(path));
    }

    @Test
    void theNonBlockingFlagIsReadFromTheDescriptor() throws Exception {
        int blocking = tcp("127.0.0.1");
        int nonBlocking = tcp("127.0.0.1", true);
        assertThat(worker(env(blocking, nonBlocking)).listeners()).extracting(Listener::nonBlocking).containsExactly(false, true);
    }

    @Test
    void aDescriptorThatIsNoSocketHasNoAddress() throws Exception {
        Einhorn einhorn = worker(env(1));
        assertThat(einhorn.listener(0).address()).isNull();
        assertThat(einhorn.listener(0).stdin()).isFalse();
    }

    @Test
    void onlyStandardInputCanBecomeAChannel() throws Exception {
        int v4 = tcp("127.0.0.1");
        Listener l = worker(env(v4)).listener(0);
        assertThatThrownBy(l::channel).isInstanceOf(UnsupportedOperationException.class)
                .hasMessage("EINHORN_FD_0 (fd " + v4 + ") cannot become a channel in pure Java, only standard input can "
                        + "(System.inheritedChannel()): give this -b the stdin option, or pass fd " + v4
                        + " to a library that takes descriptors");
        // surefire's fork reads its standard input from a pipe: not a listening socket
        assertThatThrownBy(() -> worker(env(v4)).inheritedChannel()).isInstanceOf(IOException.class)
                .hasMessageStartingWith("standard input is not a listening socket")
                .hasMessageEndingWith(": give one -b the stdin option, e.g. -b 127.0.0.1:8080,stdin");
    }

    @Test
    void procNetAddressesAreDecodedFromTheKernelsByteOrder() throws Exception {
        assertThat(ProcNet.inet("0100007F:1F90")).isEqualTo(new InetSocketAddress("127.0.0.1", 8080));
        assertThat(ProcNet.inet("00000000000000000000000001000000:0050")).isEqualTo(new InetSocketAddress("::1", 80));
        assertThat(ProcNet.inet("0000000000000000FFFF00000100007F:0016"))
                .isEqualTo(new InetSocketAddress(InetAddress.getByAddress(new byte[] {0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                        (byte) 0xff, (byte) 0xff, 127, 0, 0, 1}), 22));
    }

    /** A control socket that records each connection's bytes and answers as {@code reply} says (null: closes at once). */
    CompletableFuture<List<String>> fakeSupervisor(int connections, String reply) throws IOException {
        ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(dir.resolve("ctl.sock")));
        CompletableFuture<List<String>> got = new CompletableFuture<>();
        Thread.ofPlatform().daemon().start(() -> {
            List<String> lines = new ArrayList<>();
            try (server) {
                for (int i = 0; i < connections; i++) {
                    try (SocketChannel c = server.accept()) {
                        ByteArrayOutputStream in = new ByteArrayOutputStream();
                        ByteBuffer buf = ByteBuffer.allocate(256);
                        while (c.read(buf.clear()) >= 0) in.write(buf.array(), 0, buf.position());
                        lines.add(in.toString(StandardCharsets.UTF_8));
                        if (reply != null) c.write(ByteBuffer.wrap(reply.getBytes(StandardCharsets.UTF_8)));
                    }
                }
                got.complete(lines);
            } catch (IOException e) {
                got.completeExceptionally(e);
            }
        });
        return got;
    }

    @Test
    void ackAndPingWriteEinhornsJsonAndReturnOnceTheSupervisorTookThem() throws Exception {
        CompletableFuture<List<String>> got = fakeSupervisor(3, null);
        Einhorn einhorn = worker(env());
        einhorn.ack();
        assertThat(einhorn.ping()).isEqualTo(1);
        assertThat(einhorn.withTimeout(Duration.ofSeconds(5)).ping()).as("a copy counts on").isEqualTo(2);
        assertThat(got.get(30, TimeUnit.SECONDS)).containsExactly(
                "{\"command\":\"worker:ack\",\"pid\":4242}\n",
                "{\"command\":\"worker:ping\",\"pid\":4242,\"request_id\":1}\n",
                "{\"command\":\"worker:ping\",\"pid\":4242,\"request_id\":2}\n");
    }

    @Test
    void aRefusalIsReportedWithTheSupervisorsReason() throws Exception {
        fakeSupervisor(1, "{\"message\":\"Refused: 256 control connections are open%0Atry again\",\"ok\":false}\n");
        assertThatThrownBy(() -> worker(env()).ack()).isInstanceOf(IOException.class)
                .hasMessage("the supervisor at " + dir.resolve("ctl.sock") + " refused the message: "
                        + "Refused: 256 control connections are open\ntry again");
        assertThat(ControlSocket.message("not json\n")).isEqualTo("not json");
        assertThat(ControlSocket.message("{\"message\":\"a \\\"b\\\" \\u00e9\"}")).isEqualTo("a \"b\" é");
    }

    @Test
    void aSupervisorThatNeverTakesTheMessageTimesOut() throws Exception {
        ServerSocketChannel silent = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        silent.bind(UnixDomainSocketAddress.of(dir.resolve("ctl.sock")));
        try (silent) {
            // it is connected (in the listen queue) but never reads nor closes
            assertThatThrownBy(() -> worker(env()).withTimeout(Duration.ofMillis(200)).ack()).isInstanceOf(IOException.class)
                    .hasMessage("no answer from the supervisor at " + dir.resolve("ctl.sock")
                            + " within the timeout (waiting for it to take the message)");
        }
    }

    @Test
    void noControlSocketIsAClearError() throws Exception {
        Map<String, String> env = env();
        assertThatThrownBy(() -> worker(env).ack()).isInstanceOf(IOException.class)
                .hasMessageContaining("ctl.sock").hasMessageContaining("No such file");
        env.remove("EINHORN_SOCK_PATH");
        assertThat(worker(env).controlSocket()).isEmpty();
        assertThatThrownBy(() -> worker(env).ping()).isInstanceOf(IOException.class)
                .hasMessage("EINHORN_SOCK_PATH is not set: there is no control socket to tell");
        assertThatThrownBy(() -> worker(env).withTimeout(Duration.ZERO)).isInstanceOf(IllegalArgumentException.class);
    }
}
