package dev.einhyrningsins.posix;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class PosixSocketTest {

    private static final InetAddress V4 = ip("127.0.0.1");
    private static final InetAddress V6 = ip("::1");

    private static InetAddress ip(String text) {
        try {
            return InetAddress.getByName(text);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
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
        int fd = Posix.listenTcp(new InetSocketAddress(V4, 0), true, true, true, 16);
        try {
            InetSocketAddress local = Posix.localInetAddress(fd);
            assertThat(local.getAddress()).isEqualTo(V4);
            assertThat(local.getPort()).isPositive();
            assertThat(Posix.getsockoptInt(fd, Posix.SOL_SOCKET, Posix.SO_REUSEADDR)).isEqualTo(1);
            assertThat(Posix.getsockoptInt(fd, Posix.SOL_SOCKET, Posix.SO_REUSEPORT)).isEqualTo(1);
            assertThat(Posix.getsockoptInt(fd, Posix.SOL_SOCKET, Posix.SO_ACCEPTCONN)).isEqualTo(1);
            assertThat(Posix.getsockoptInt(fd, Posix.SOL_SOCKET, Posix.SO_TYPE)).isEqualTo(Posix.SOCK_STREAM);
            assertThat(Posix.getsockoptInt(fd, Posix.SOL_SOCKET, Posix.SO_DOMAIN)).isEqualTo(Posix.AF_INET);
            assertThat(Posix.isNonBlocking(fd)).isTrue();
            assertThat(Posix.isCloexec(fd)).isTrue();
            try (Socket client = new Socket(V4, local.getPort())) {
                assertThat(client.isConnected()).isTrue();
            }
        } finally {
            Posix.close(fd);
        }
    }

    @Test
    void optionsNotAskedForStayOff() {
        int fd = Posix.listenTcp(new InetSocketAddress(V4, 0), false, false, false, 1);
        try {
            assertThat(Posix.getsockoptInt(fd, Posix.SOL_SOCKET, Posix.SO_REUSEADDR)).isZero();
            assertThat(Posix.getsockoptInt(fd, Posix.SOL_SOCKET, Posix.SO_REUSEPORT)).isZero();
            assertThat(Posix.isNonBlocking(fd)).isFalse();
            assertThat(Posix.isCloexec(fd)).isTrue();
        } finally {
            Posix.close(fd);
        }
    }

    @Test
    void listensOnIpv6OnlyV6() throws IOException {
        assumeIpv6();
        int fd = Posix.listenTcp(new InetSocketAddress(V6, 0), true, false, false, 16);
        try {
            InetSocketAddress local = Posix.localInetAddress(fd);
            assertThat(local.getAddress()).isInstanceOf(Inet6Address.class).isEqualTo(V6);
            assertThat(Posix.getsockoptInt(fd, Posix.IPPROTO_IPV6, Posix.IPV6_V6ONLY)).isEqualTo(1);
            assertThat(Posix.getsockoptInt(fd, Posix.SOL_SOCKET, Posix.SO_DOMAIN)).isEqualTo(Posix.AF_INET6);
            assertThat(Posix.isCloexec(fd)).isTrue();
            try (Socket client = new Socket(V6, local.getPort())) {
                assertThat(client.isConnected()).isTrue();
            }
        } finally {
            Posix.close(fd);
        }
    }

    @Test
    void bindConflictNamesTheCallTheAddressAndTheError() {
        int fd = Posix.listenTcp(new InetSocketAddress(V4, 0), false, false, false, 1);
        try {
            int port = Posix.localInetAddress(fd).getPort();
            assertThatThrownBy(() -> Posix.listenTcp(new InetSocketAddress(V4, port), false, false, false, 1))
                    .isInstanceOfSatisfying(PosixException.class, e -> {
                        assertThat(e.errno()).isEqualTo(Posix.EADDRINUSE);
                        assertThat(e.errnoName()).isEqualTo("EADDRINUSE");
                        assertThat(e.call()).isEqualTo("bind 127.0.0.1:" + port);
                        assertThat(e.getMessage())
                                .isEqualTo("bind 127.0.0.1:" + port + ": EADDRINUSE (Address already in use)");
                    });
        } finally {
            Posix.close(fd);
        }
    }

    @Test
    void ipv6BindConflictShowsTheAddressInBrackets() {
        assumeIpv6();
        int fd = Posix.listenTcp(new InetSocketAddress(V6, 0), false, false, false, 1);
        try {
            int port = Posix.localInetAddress(fd).getPort();
            assertThatThrownBy(() -> Posix.listenTcp(new InetSocketAddress(V6, port), false, false, false, 1))
                    .isInstanceOf(PosixException.class)
                    .hasMessage("bind [::1]:" + port + ": EADDRINUSE (Address already in use)");
        } finally {
            Posix.close(fd);
        }
    }

    @Test
    void unixListenerAcceptsConnections(@TempDir Path dir) {
        Path path = dir.resolve("ctl.sock");
        int listener = Posix.listenUnix(path, true, 8);
        try {
            assertThat(Files.exists(path)).isTrue();
            assertThat(Posix.getsockoptInt(listener, Posix.SOL_SOCKET, Posix.SO_ACCEPTCONN)).isEqualTo(1);
            assertThat(Posix.getsockoptInt(listener, Posix.SOL_SOCKET, Posix.SO_DOMAIN)).isEqualTo(Posix.AF_UNIX);
            assertThat(Posix.isNonBlocking(listener)).isTrue();
            assertThat(Posix.isCloexec(listener)).isTrue();
            int client = Posix.connectUnix(path);
            try {
                assertThat(Posix.isCloexec(client)).isTrue();
                assertThat(Posix.isNonBlocking(client)).isFalse();
                assertThat(Posix.getsockoptInt(client, Posix.SOL_SOCKET, Posix.SO_ACCEPTCONN)).isZero();
            } finally {
                Posix.close(client);
            }
            assertThatThrownBy(() -> Posix.listenUnix(path, false, 1))
                    .isInstanceOfSatisfying(PosixException.class, e -> {
                        assertThat(e.errnoName()).isEqualTo("EADDRINUSE");
                        assertThat(e.getMessage()).startsWith("bind " + path + ": EADDRINUSE");
                    });
        } finally {
            Posix.close(listener);
        }
    }

    @Test
    void connectToNothingIsRefusedOrMissing(@TempDir Path dir) {
        Path path = dir.resolve("nobody.sock");
        assertThatThrownBy(() -> Posix.connectUnix(path))
                .isInstanceOfSatisfying(PosixException.class, e -> {
                    assertThat(e.errno()).isEqualTo(Posix.ENOENT);
                    assertThat(e.call()).isEqualTo("connect " + path);
                });
    }

    @Test
    void tooLongUnixPathIsRejected(@TempDir Path dir) {
        Path path = dir.resolve("x".repeat(120));
        assertThatThrownBy(() -> Posix.listenUnix(path, false, 1))
                .isInstanceOfSatisfying(PosixException.class,
                        e -> assertThat(e.errnoName()).isEqualTo("ENAMETOOLONG"));
    }

    @Test
    void closingABadFdFails() {
        assertThatThrownBy(() -> Posix.close(1_000_000))
                .isInstanceOfSatisfying(PosixException.class, e -> {
                    assertThat(e.errnoName()).isEqualTo("EBADF");
                    assertThat(e.getMessage()).isEqualTo("close fd 1000000: EBADF (Bad file descriptor)");
                });
    }

    @Test
    void formatsIpv6Compactly() {
        assertThat(Posix.formatIpv6(ip("::1").getAddress())).isEqualTo("::1");
        assertThat(Posix.formatIpv6(new byte[16])).isEqualTo("::");
        assertThat(Posix.formatIpv6(ip("2001:db8:0:0:0:0:0:1").getAddress())).isEqualTo("2001:db8::1");
        assertThat(Posix.formatIpv6(ip("1:0:0:1:0:0:0:1").getAddress())).isEqualTo("1:0:0:1::1");
        assertThat(Posix.formatIpv6(ip("1:0:1:0:1:0:1:0").getAddress())).isEqualTo("1:0:1:0:1:0:1:0");
        assertThat(Posix.formatIpv6(ip("fe80:0:0:1::").getAddress())).isEqualTo("fe80:0:0:1::");
    }
}
