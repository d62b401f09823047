package dev.einhyrningsins.posix;

import dev.einhyrningsins.posix.libc.Libc;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;
import static dev.einhyrningsins.Await.await;

class SocketsTest {

    private static final InetAddress V4 = ip("127.0.0.1");
    private static final InetAddress V6 = ip("::1");

    private static InetAddress ip(String text) {
        try {
            return InetAddress.getByName(text);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    /** How the daemon names an address in errors (its Addresses.format). */
    private static String label(InetAddress ip, int port) {
        return (ip instanceof Inet6Address ? "[" + ip.getHostAddress().replace("0:0:0:0:0:0:0:1", "::1") + "]" : ip.getHostAddress())
                + ":" + port;
    }

    private static void assumeIpv6() {
        boolean available;
        try (ServerSocket s = new ServerSocket(0, 1, V6)) {
            available = s.getLocalPort() > 0;
        } catch (IOException e) {
            available = false;
        }
        assumeTrue(available, "IPv6 loopback [::1] is not available on this host");
    }

    @Test
    void listensOnIpv4WithAllOptionsSet() throws IOException {
        int fd = Sockets.listenTcp(new InetSocketAddress(V4, 0), label(V4, 0), true, true, true, 16);
        try {
            InetSocketAddress local = Sockets.localInetAddress(fd);
            assertThat(local.getAddress()).isEqualTo(V4);
            assertThat(local.getPort()).isPositive();
            assertThat(Sockets.getsockoptInt(fd, Libc.SOL_SOCKET(), Libc.SO_REUSEADDR())).isEqualTo(1);
            assertThat(Sockets.getsockoptInt(fd, Libc.SOL_SOCKET(), Libc.SO_REUSEPORT())).isEqualTo(1);
            assertThat(Sockets.getsockoptInt(fd, Libc.SOL_SOCKET(), Libc.SO_ACCEPTCONN())).isEqualTo(1);
            assertThat(Sockets.getsockoptInt(fd, Libc.SOL_SOCKET(), Libc.SO_TYPE())).isEqualTo(Libc.SOCK_STREAM());
            assertThat(Sockets.getsockoptInt(fd, Libc.SOL_SOCKET(), Libc.SO_DOMAIN())).isEqualTo(Libc.AF_INET());
            assertThat(Fds.isNonBlocking(fd)).isTrue();
            assertThat(Fds.isCloexec(fd)).isTrue();
            try (Socket client = new Socket(V4, local.getPort())) {
                assertThat(client.isConnected()).isTrue();
            }
        } finally {
            Fds.close(fd);
        }
    }

    @Test
    void optionsNotAskedForStayOff() {
        int fd = Sockets.listenTcp(new InetSocketAddress(V4, 0), label(V4, 0), false, false, false, 1);
        try {
            assertThat(Sockets.getsockoptInt(fd, Libc.SOL_SOCKET(), Libc.SO_REUSEADDR())).isZero();
            assertThat(Sockets.getsockoptInt(fd, Libc.SOL_SOCKET(), Libc.SO_REUSEPORT())).isZero();
            assertThat(Fds.isNonBlocking(fd)).isFalse();
            assertThat(Fds.isCloexec(fd)).isTrue();
        } finally {
            Fds.close(fd);
        }
    }

    @Test
    void listensOnIpv6OnlyV6() throws IOException {
        assumeIpv6();
        int fd = Sockets.listenTcp(new InetSocketAddress(V6, 0), label(V6, 0), true, false, false, 16);
        try {
            InetSocketAddress local = Sockets.localInetAddress(fd);
            assertThat(local.getAddress()).isInstanceOf(Inet6Address.class).isEqualTo(V6);
            assertThat(Sockets.getsockoptInt(fd, Libc.IPPROTO_IPV6(), Libc.IPV6_V6ONLY())).isEqualTo(1);
            assertThat(Sockets.getsockoptInt(fd, Libc.SOL_SOCKET(), Libc.SO_DOMAIN())).isEqualTo(Libc.AF_INET6());
            assertThat(Fds.isCloexec(fd)).isTrue();
            try (Socket client = new Socket(V6, local.getPort())) {
                assertThat(client.isConnected()).isTrue();
            }
        } finally {
            Fds.close(fd);
        }
    }

    @Test
    void bindConflictNamesTheCallTheAddressAndTheError() {
        int fd = Sockets.listenTcp(new InetSocketAddress(V4, 0), label(V4, 0), false, false, false, 1);
        try {
            int port = Sockets.localInetAddress(fd).getPort();
            assertThatThrownBy(() -> Sockets.listenTcp(new InetSocketAddress(V4, port), label(V4, port), false, false, false, 1))
                    .isInstanceOfSatisfying(PosixException.class, e -> {
                        assertThat(e.errnoName()).isEqualTo("EADDRINUSE");
                        assertThat(e.call()).isEqualTo("bind 127.0.0.1:" + port);
                        assertThat(e.getMessage())
                                .isEqualTo("bind 127.0.0.1:" + port + ": EADDRINUSE (Address already in use)");
                    });
        } finally {
            Fds.close(fd);
        }
    }

    @Test
    void ipv6BindConflictShowsTheAddressInBrackets() {
        assumeIpv6();
        int fd = Sockets.listenTcp(new InetSocketAddress(V6, 0), label(V6, 0), false, false, false, 1);
        try {
            int port = Sockets.localInetAddress(fd).getPort();
            assertThatThrownBy(() -> Sockets.listenTcp(new InetSocketAddress(V6, port), label(V6, port), false, false, false, 1))
                    .isInstanceOf(PosixException.class)
                    .hasMessage("bind [::1]:" + port + ": EADDRINUSE (Address already in use)");
        } finally {
            Fds.close(fd);
        }
    }

    @Test
    void unixListenerAcceptsConnections(@TempDir Path dir) {
        Path path = dir.resolve("ctl.sock");
        int listener = Sockets.listenUnix(path, true, 8);
        try {
            assertThat(Files.exists(path)).isTrue();
            assertThat(Sockets.getsockoptInt(listener, Libc.SOL_SOCKET(), Libc.SO_ACCEPTCONN())).isEqualTo(1);
            assertThat(Sockets.getsockoptInt(listener, Libc.SOL_SOCKET(), Libc.SO_DOMAIN())).isEqualTo(Libc.AF_UNIX());
            assertThat(Fds.isNonBlocking(listener)).isTrue();
            assertThat(Fds.isCloexec(listener)).isTrue();
            int client = Sockets.connectUnix(path);
            try {
                assertThat(Fds.isCloexec(client)).isTrue();
                assertThat(Fds.isNonBlocking(client)).isFalse();
                assertThat(Sockets.getsockoptInt(client, Libc.SOL_SOCKET(), Libc.SO_ACCEPTCONN())).isZero();
            } finally {
                Fds.close(client);
            }
            assertThatThrownBy(() -> Sockets.listenUnix(path, false, 1))
                    .isInstanceOfSatisfying(PosixException.class, e -> {
                        assertThat(e.errnoName()).isEqualTo("EADDRINUSE");
                        assertThat(e.getMessage()).startsWith("bind " + path + ": EADDRINUSE");
                    });
        } finally {
            Fds.close(listener);
        }
    }

    @Test
    void connectToNothingIsRefusedOrMissing(@TempDir Path dir) {
        Path path = dir.resolve("nobody.sock");
        assertThatThrownBy(() -> Sockets.connectUnix(path))
                .isInstanceOfSatisfying(PosixException.class, e -> {
                    assertThat(e.errnoName()).isEqualTo("ENOENT");
                    assertThat(e.call()).isEqualTo("connect " + path);
                });
    }

    @Test
    void aUnixSocketBoundToAPathOfAllOf108BytesIsNamed(@TempDir Path dir) {
        // such a socket comes from elsewhere (systemd, say): its path has no NUL, and the kernel
        // reports an address one byte longer than sockaddr_un
        String path = dir.resolve("s").toString();
        path = path + "x".repeat((int) CStructs.SUN_PATH_LENGTH - path.length());
        Downcall socket = Downcall.of("socket", FunctionDescriptor.of(Libc.C_INT, Libc.C_INT, Libc.C_INT, Libc.C_INT));
        Downcall bind = Downcall.of("bind", FunctionDescriptor.of(Libc.C_INT, Libc.C_INT, Libc.C_POINTER, Libc.C_INT));
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = Downcall.captureState(arena);
            int fd = (int) socket.call(st, Libc.AF_UNIX(), Libc.SOCK_STREAM() | Libc.SOCK_CLOEXEC(), 0);
            assertThat(fd).isNotNegative();
            try {
                MemorySegment sa = arena.allocate(CStructs.SOCKADDR_UN_SIZE);
                sa.set(ValueLayout.JAVA_SHORT, CStructs.SUN_FAMILY, (short) Libc.AF_UNIX());
                MemorySegment.copy(path.getBytes(StandardCharsets.UTF_8), 0, sa, ValueLayout.JAVA_BYTE, CStructs.SUN_PATH,
                        (int) CStructs.SUN_PATH_LENGTH);
                assertThat(bind.call(st, fd, sa.address(), (int) sa.byteSize())).as("bind errno %d", Downcall.errno(st))
                        .isZero();
                assertThat(Sockets.localUnixAddress(fd)).isEqualTo(path);
            } finally {
                Fds.close(fd);
            }
        }
    }

    @Test
    void tooLongUnixPathIsRejected(@TempDir Path dir) {
        Path path = dir.resolve("x".repeat(120));
        assertThatThrownBy(() -> Sockets.listenUnix(path, false, 1))
                .isInstanceOfSatisfying(PosixException.class,
                        e -> assertThat(e.errnoName()).isEqualTo("ENAMETOOLONG"));
    }

    @Test
    void closingABadFdFails() {
        assertThatThrownBy(() -> Fds.close(1_000_000))
                .isInstanceOfSatisfying(PosixException.class, e -> {
                    assertThat(e.errnoName()).isEqualTo("EBADF");
                    assertThat(e.getMessage()).isEqualTo("close fd 1000000: EBADF (Bad file descriptor)");
                });
    }

    @Test
    void socketPairCarriesBytesBothWaysAndReportsEndOfInputAndWouldBlock() {
        int[] pair = Sockets.socketPair();
        try {
            assertThat(Fds.isCloexec(pair[0])).isTrue();
            assertThat(Fds.isCloexec(pair[1])).isTrue();
            assertThat(Sockets.getsockoptInt(pair[0], Libc.SOL_SOCKET(), Libc.SO_TYPE())).isEqualTo(Libc.SOCK_STREAM());
            Fds.setNonBlocking(pair[0]);
            byte[] buf = new byte[16];
            assertThat(Fds.read(pair[0], buf)).as("nothing sent yet").isEqualTo(Fds.WOULD_BLOCK);

            byte[] hello = "hello\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
            assertThat(Fds.write(pair[1], hello, 0, hello.length)).isEqualTo(hello.length);
            assertThat(Fds.read(pair[0], buf)).isEqualTo(hello.length);
            assertThat(new String(buf, 0, hello.length, java.nio.charset.StandardCharsets.US_ASCII)).isEqualTo("hello\n");

            assertThat(Fds.write(pair[0], hello, 1, 3)).isEqualTo(3);
            assertThat(Fds.read(pair[1], buf)).isEqualTo(3);
            assertThat(new String(buf, 0, 3, java.nio.charset.StandardCharsets.US_ASCII)).isEqualTo("ell");

            Fds.close(pair[1]);
            pair[1] = -1;
            assertThat(Fds.read(pair[0], buf)).as("end of input").isZero();
            assertThatThrownBy(() -> Fds.write(pair[0], hello, 0, hello.length))
                    .isInstanceOfSatisfying(PosixException.class, e -> assertThat(e.errnoName()).isEqualTo("EPIPE"));
        } finally {
            Fds.close(pair[0]);
            if (pair[1] >= 0) Fds.close(pair[1]);
        }
    }

    @Test
    void aFullNonBlockingSocketSaysWouldBlock() {
        int[] pair = Sockets.socketPair();
        try {
            Fds.setNonBlocking(pair[0]);
            byte[] chunk = new byte[64 * 1024];
            long written = 0;
            int n;
            while ((n = Fds.write(pair[0], chunk, 0, chunk.length)) != Fds.WOULD_BLOCK) {
                written += n;
                assertThat(written).as("a socket buffer is finite").isLessThan(64L << 20);
            }
            assertThat(written).isPositive();
        } finally {
            Fds.close(pair[0]);
            Fds.close(pair[1]);
        }
    }

    @Test
    void aUdpSocketIsBoundNotListeningAndSaysSoAsADatagramSocket() throws IOException {
        int fd = Sockets.bindUdp(new InetSocketAddress(V4, 0), label(V4, 0), true, true, true);
        try {
            InetSocketAddress local = Sockets.localInetAddress(fd);
            assertThat(local.getAddress()).isEqualTo(V4);
            assertThat(local.getPort()).isPositive();
            assertThat(Sockets.getsockoptInt(fd, Libc.SOL_SOCKET(), Libc.SO_TYPE())).isEqualTo(Libc.SOCK_DGRAM());
            assertThat(Sockets.getsockoptInt(fd, Libc.SOL_SOCKET(), Libc.SO_REUSEADDR())).isEqualTo(1);
            assertThat(Sockets.getsockoptInt(fd, Libc.SOL_SOCKET(), Libc.SO_REUSEPORT())).isEqualTo(1);
            assertThat(Fds.isNonBlocking(fd)).isTrue();
            assertThat(Fds.isCloexec(fd)).isTrue();
            Sockets.Kind kind = Sockets.kind(fd);
            assertThat(kind.socket()).isTrue();
            assertThat(kind.inet()).isTrue();
            assertThat(kind.datagram()).isTrue();
            assertThat(kind.listeningStream()).isFalse();
            try (java.net.DatagramSocket client = new java.net.DatagramSocket()) {
                byte[] hello = "hello".getBytes(StandardCharsets.UTF_8);
                client.send(new java.net.DatagramPacket(hello, hello.length, local));
                byte[] in = new byte[16];
                await("the datagram", () -> Fds.read(fd, in) == hello.length);
                assertThat(new String(in, 0, hello.length, StandardCharsets.UTF_8)).isEqualTo("hello");
            }
        } finally {
            Fds.close(fd);
        }
    }

    @Test
    void aUdpSocketOnIpv6IsV6OnlyAndAPortTakenIsNamed() {
        assumeIpv6();
        int fd = Sockets.bindUdp(new InetSocketAddress(V6, 0), label(V6, 0), false, false, false);
        try {
            int port = Sockets.localInetAddress(fd).getPort();
            assertThat(Sockets.getsockoptInt(fd, Libc.IPPROTO_IPV6(), Libc.IPV6_V6ONLY())).isEqualTo(1);
            assertThat(Sockets.getsockoptInt(fd, Libc.SOL_SOCKET(), Libc.SO_DOMAIN())).isEqualTo(Libc.AF_INET6());
            assertThat(Fds.isNonBlocking(fd)).isFalse();
            assertThatThrownBy(() -> Sockets.bindUdp(new InetSocketAddress(V6, port), label(V6, port), false, false, false))
                    .isInstanceOf(PosixException.class).hasMessageStartingWith("bind [::1]:" + port + ": EADDRINUSE");
        } finally {
            Fds.close(fd);
        }
    }

    @Test
    void aUnixDatagramSocketIsBoundAtItsPathAndRefusesConnectionsOnceClosed(@TempDir Path dir) {
        Path path = dir.resolve("dgram.sock");
        int fd = Sockets.bindUnixDatagram(path, false);
        try {
            assertThat(Files.exists(path)).isTrue();
            assertThat(Sockets.localUnixAddress(fd)).isEqualTo(path.toString());
            Sockets.Kind kind = Sockets.kind(fd);
            assertThat(kind.unix()).isTrue();
            assertThat(kind.datagram()).isTrue();
            assertThat(kind.listeningStream()).isFalse();
            int client = Sockets.connectUnix(path, true);
            byte[] ping = "ping".getBytes(StandardCharsets.UTF_8);
            Fds.write(client, ping, 0, ping.length);
            Fds.close(client);
            byte[] in = new byte[8];
            assertThat(Fds.read(fd, in)).isEqualTo(4);
            assertThatThrownBy(() -> Sockets.connectUnix(path, false)).as("no stream socket there")
                    .isInstanceOf(PosixException.class);
        } finally {
            Fds.close(fd);
        }
        assertThatThrownBy(() -> Sockets.connectUnix(path, true)).isInstanceOf(PosixException.class)
                .hasMessageContaining("ECONNREFUSED");
    }

    @Test
    void aListeningStreamSocketIsNotADatagramOne() {
        int fd = Sockets.listenTcp(new InetSocketAddress(V4, 0), label(V4, 0), false, false, false, 1);
        try {
            Sockets.Kind kind = Sockets.kind(fd);
            assertThat(kind.listeningStream()).isTrue();
            assertThat(kind.datagram()).isFalse();
        } finally {
            Fds.close(fd);
        }
        int[] pair = Sockets.socketPair();
        try {
            assertThat(Sockets.kind(pair[0]).listeningStream()).as("connected, not listening").isFalse();
            assertThat(Sockets.kind(pair[0]).datagram()).isFalse();
        } finally {
            Fds.close(pair[0]);
            Fds.close(pair[1]);
        }
    }
}
