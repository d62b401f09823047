package dev.einhyrningsins.listen;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.einhyrningsins.cli.BindSpec;
import dev.einhyrningsins.cli.Options.Family;
import dev.einhyrningsins.posix.Fds;
import dev.einhyrningsins.posix.Sockets;
import dev.einhyrningsins.shell.Log;
import dev.einhyrningsins.shell.StartupException;
import dev.einhyrningsins.systemd.SocketActivation;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Binding on real sockets: datagram sockets beside stream ones, stale socket files of either
 * kind, and a service manager's fd store (kept sockets adopted when still asked for,
 * released when not, new ones kept).
 */
class ListenersTest {
    final ByteArrayOutputStream logged = new ByteArrayOutputStream();
    final Log log = new Log(new PrintStream(logged, true, StandardCharsets.UTF_8), 1, 1);

    /** A fake fd store: what it was told. */
    static class FakeStore implements Listeners.Store {
        final List<String> told = new ArrayList<>();

        @Override
        public String name(int index, BindSpec spec) {
            return "einhyrningsins-" + index;
        }

        @Override
        public void keep(int fd, String name) {
            told.add("keep " + name + " " + Sockets.kind(fd).datagram());
        }

        @Override
        public void release(String name) {
            told.add("release " + name);
        }
    }

    static List<BindSpec> specs(String... texts) {
        return java.util.Arrays.stream(texts).map(BindSpec::parse).toList();
    }

    @Test
    void datagramSocketsAreBoundBesideStreamOnesAndSaySo(@TempDir Path dir) {
        Path dgram = dir.resolve("d.sock");
        try (Listeners l = Listeners.bind(List.of(), specs("127.0.0.1:0", "udp:127.0.0.1:0", "udp:0.0.0.0:0",
                "unixgram:" + dgram), Family.ANY, 8, log)) {
            List<Listeners.Bound> b = l.bound();
            assertThat(b).extracting(Listeners.Bound::type).containsExactly("stream", "datagram", "datagram", "datagram");
            assertThat(b.get(1).address()).startsWith("udp:127.0.0.1:").isEqualTo(b.get(1).connectAddress());
            assertThat(b.get(2).address()).startsWith("udp:0.0.0.0:");
            assertThat(b.get(2).connectAddress()).isEqualTo("udp:127.0.0.1:" + b.get(2).port());
            assertThat(b.get(3).address()).isEqualTo("unixgram:" + dgram);
            assertThat(Sockets.kind(b.get(1).fd()).datagram()).isTrue();
            assertThat(Sockets.kind(b.get(3).fd()).datagram()).isTrue();
            assertThat(b.get(1).describe(1)).containsEntry("type", "datagram").containsEntry("fd", 4)
                    .containsEntry("fd_store", null);
            assertThat(l.handOver()).extracting(Listeners.Handed::type).containsExactly("stream", "datagram", "datagram",
                    "datagram");
            assertThat(logged.toString(StandardCharsets.UTF_8)).contains("Bound udp:127.0.0.1:");
        }
        assertThat(dgram).doesNotExist();
    }

    @Test
    void aStaleDatagramSocketFileIsReplacedAndALiveOneOfTheOtherKindRefused(@TempDir Path dir) {
        Path path = dir.resolve("s.sock");
        Fds.close(Sockets.bindUnixDatagram(path, false)); // its file stays: stale
        try (Listeners l = Listeners.bind(List.of(), specs("unixgram:" + path), Family.ANY, 8, log)) {
            assertThat(l.bound()).hasSize(1);
            assertThat(logged.toString(StandardCharsets.UTF_8)).contains("Replacing stale socket file " + path);
            assertThatThrownBy(() -> Listeners.bind(List.of(), specs("unix:" + path), Family.ANY, 8, log))
                    .isInstanceOf(StartupException.class)
                    .hasMessage("cannot bind -b unix:" + path + ": another process is listening on " + path);
            assertThatThrownBy(() -> Listeners.bind(List.of(), specs("unixgram:" + path), Family.ANY, 8, log))
                    .hasMessage("cannot bind -b unixgram:" + path + ": another process is bound to " + path);
        }
    }

    @Test
    void socketsTheStoreKeptAreAdoptedWhenStillAskedForAndReleasedWhenNot(@TempDir Path dir) throws Exception {
        int tcp = Sockets.listenTcp(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), "tcp", true, false, false, 8);
        int port = Sockets.localInetAddress(tcp).getPort();
        int udp = Sockets.bindUdp(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), "udp", false, false, false);
        Path unix = dir.resolve("u.sock");
        int stream = Sockets.listenUnix(unix, false, 8);
        String tcpInode = Files.readSymbolicLink(Path.of("/proc/self/fd/" + tcp)).toString();
        FakeStore store = new FakeStore();
        List<SocketActivation.Passed> stored = List.of(new SocketActivation.Passed(tcp, "einhyrningsins-0"),
                new SocketActivation.Passed(udp, "einhyrningsins-1"), new SocketActivation.Passed(stream, "einhyrningsins-2"));
        // 0: the same TCP socket asked for (ephemeral: any port); 1: now a stream socket, not the stored datagram
        // one; 2: the same unix: path, its file still there; 3: a new one
        try (Listeners l = Listeners.bind(List.of(), stored, store, specs("127.0.0.1:0", "127.0.0.1:0", "unix:" + unix,
                "udp:127.0.0.1:0"), Family.ANY, 8, log)) {
            List<Listeners.Bound> b = l.bound();
            assertThat(b.get(0).fd()).isEqualTo(tcp);
            assertThat(b.get(0).port()).isEqualTo(port);
            assertThat(Files.readSymbolicLink(Path.of("/proc/self/fd/" + b.get(0).fd())).toString()).isEqualTo(tcpInode);
            assertThat(b.get(1).fd()).isNotEqualTo(udp);
            assertThat(b.get(2).fd()).isEqualTo(stream);
            assertThat(b.get(2).unixPath()).isEqualTo(unix);
            assertThat(b).extracting(Listeners.Bound::storeName).containsExactly("einhyrningsins-0", "einhyrningsins-1",
                    "einhyrningsins-2", "einhyrningsins-3");
            assertThat(store.told).containsExactly("release einhyrningsins-1", "keep einhyrningsins-1 false",
                    "keep einhyrningsins-3 true");
            assertThat(Fds.isCloexec(tcp)).isTrue();
            assertThat(Path.of("/proc/self/fd/" + udp)).as("the released socket is closed").doesNotExist();
            String out = logged.toString(StandardCharsets.UTF_8);
            assertThat(out).contains("Adopted 127.0.0.1:" + port + " (-b 127.0.0.1:0) from the service manager's fd store "
                    + "(einhyrningsins-0)");
            assertThat(out).contains("Releasing einhyrningsins-1 from the service manager's fd store");
        }
        assertThat(unix).as("the store keeps the socket: its file stays for the next supervisor").exists();
    }

    @Test
    void aStoredSocketOfAnotherAddressOrWithoutItsFileIsNotAdopted(@TempDir Path dir) throws Exception {
        int tcp = Sockets.listenTcp(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), "tcp", true, false, false, 8);
        int port = Sockets.localInetAddress(tcp).getPort();
        Path unix = dir.resolve("gone.sock");
        int stream = Sockets.listenUnix(unix, false, 8);
        Files.delete(unix);
        FakeStore store = new FakeStore();
        // the same port on another address (port + 1 could be any other socket's, a test's or a connection's)
        try (Listeners l = Listeners.bind(List.of(), List.of(new SocketActivation.Passed(tcp, "einhyrningsins-0"),
                new SocketActivation.Passed(stream, "einhyrningsins-1")), store,
                specs("127.0.0.2:" + port + ",r", "unix:" + unix), Family.ANY, 8, log)) {
            assertThat(l.bound()).extracting(Listeners.Bound::fd).doesNotContain(tcp, stream);
            assertThat(l.bound().get(0).address()).isEqualTo("127.0.0.2:" + port);
            assertThat(store.told).containsExactly("release einhyrningsins-0", "release einhyrningsins-1",
                    "keep einhyrningsins-0 false", "keep einhyrningsins-1 false");
        }
    }

    @Test
    void withoutFdstoreKeptSocketsAreStillAdoptedButNothingIsStoredOrReleased() throws Exception {
        int tcp = Sockets.listenTcp(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), "tcp", true, false, false, 8);
        int udp = Sockets.bindUdp(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), "udp", false, false, false);
        FakeStore store = new FakeStore() {
            @Override
            public boolean keeps() {
                return false;
            }
        };
        try (Listeners l = Listeners.bind(List.of(), List.of(new SocketActivation.Passed(tcp, "einhyrningsins-0"),
                new SocketActivation.Passed(udp, "einhyrningsins-1")), store, specs("127.0.0.1:0", "127.0.0.1:0"),
                Family.ANY, 8, log)) {
            assertThat(l.bound().get(0).fd()).isEqualTo(tcp);
            assertThat(l.bound().get(0).storeName()).isEqualTo("einhyrningsins-0");
            assertThat(l.bound().get(1).storeName()).as("bound here, not stored").isNull();
            assertThat(store.told).isEmpty();
            assertThat(Path.of("/proc/self/fd/" + udp)).doesNotExist();
            assertThat(logged.toString(StandardCharsets.UTF_8)).contains("Closing einhyrningsins-1 from the service "
                    + "manager's fd store: no -b asks for that socket now (FDSTORE is not set: nothing is stored or released)");
        }
    }

    @Test
    void theBindingsOfAPrivateDirectoryCountAsThePathBesideIt() {
        Path path = Path.of("/run/app/web.sock");
        assertThat(StoredSocket.boundAt("/run/app/web.sock", path)).isTrue();
        assertThat(StoredSocket.boundAt("/run/app/.einhyrningsins-123/s", path)).isTrue();
        assertThat(StoredSocket.boundAt("/run/other/.einhyrningsins-123/s", path)).isFalse();
        assertThat(StoredSocket.boundAt("/run/app/.other-123/s", path)).isFalse();
        assertThat(StoredSocket.boundAt("/run/app/.einhyrningsins-123/t", path)).isFalse();
        assertThat(StoredSocket.boundAt("/run/app/api.sock", path)).isFalse();
        assertThat(StoredSocket.boundAt("", path)).isFalse();
    }
}
