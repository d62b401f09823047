package dev.einhyrningsins.posix;

import dev.einhyrningsins.posix.libc.Libc;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import static dev.einhyrningsins.posix.Downcall.captureState;
import static dev.einhyrningsins.posix.PosixException.failure;

/** Listening TCP and UNIX sockets, bound UDP and UNIX datagram sockets, UNIX clients and socket pairs, and what they can tell. */
public final class Sockets {
    private Sockets() {
    }

    private static final Downcall SOCKET = Downcall.of("socket",
            FunctionDescriptor.of(Libc.C_INT, Libc.C_INT, Libc.C_INT, Libc.C_INT));
    private static final Downcall SOCKETPAIR = Downcall.of("socketpair",
            FunctionDescriptor.of(Libc.C_INT, Libc.C_INT, Libc.C_INT, Libc.C_INT, Libc.C_POINTER));
    private static final Downcall SETSOCKOPT = Downcall.of("setsockopt",
            FunctionDescriptor.of(Libc.C_INT, Libc.C_INT, Libc.C_INT, Libc.C_INT, Libc.C_POINTER, Libc.C_INT));
    private static final Downcall GETSOCKOPT = Downcall.of("getsockopt",
            FunctionDescriptor.of(Libc.C_INT, Libc.C_INT, Libc.C_INT, Libc.C_INT, Libc.C_POINTER, Libc.C_POINTER));
    private static final Downcall BIND = Downcall.of("bind",
            FunctionDescriptor.of(Libc.C_INT, Libc.C_INT, Libc.C_POINTER, Libc.C_INT));
    private static final Downcall LISTEN = Downcall.of("listen",
            FunctionDescriptor.of(Libc.C_INT, Libc.C_INT, Libc.C_INT));
    private static final Downcall GETSOCKNAME = Downcall.of("getsockname",
            FunctionDescriptor.of(Libc.C_INT, Libc.C_INT, Libc.C_POINTER, Libc.C_POINTER));
    private static final Downcall CONNECT = Downcall.of("connect",
            FunctionDescriptor.of(Libc.C_INT, Libc.C_INT, Libc.C_POINTER, Libc.C_INT));
    private static final Downcall SHUTDOWN = Downcall.of("shutdown",
            FunctionDescriptor.of(Libc.C_INT, Libc.C_INT, Libc.C_INT));

    private static final Charset FILE_NAME_CHARSET = fileNameCharset();

    /**
     * A listening TCP socket: {@code socket(AF_INET/AF_INET6, SOCK_STREAM|SOCK_CLOEXEC)},
     * {@code IPV6_V6ONLY=1} for IPv6, {@code SO_REUSEADDR}/{@code SO_REUSEPORT} before bind
     * when asked, bind, listen, and {@code O_NONBLOCK} after listen when asked. On failure
     * the socket is closed and a {@link PosixException} names the step and {@code label},
     * e.g. {@code bind 127.0.0.1:8080: EADDRINUSE (Address already in use)}.
     *
     * @param label how errors name the address, e.g. {@code 127.0.0.1:8080}
     * @return the listening socket's fd
     */
    public static int listenTcp(InetSocketAddress addr, String label, boolean reuseAddr, boolean reusePort,
                                boolean nonBlocking, int backlog) {
        return inet(addr, label, Libc.SOCK_STREAM(), reuseAddr, reusePort, nonBlocking, backlog);
    }

    /**
     * A bound UDP socket, as {@link #listenTcp} binds a TCP one but without {@code listen}:
     * {@code socket(AF_INET/AF_INET6, SOCK_DGRAM|SOCK_CLOEXEC)}, {@code IPV6_V6ONLY=1} for IPv6,
     * the reuse options when asked, bind, and {@code O_NONBLOCK} when asked.
     *
     * @return the bound socket's fd
     */
    public static int bindUdp(InetSocketAddress addr, String label, boolean reuseAddr, boolean reusePort,
                              boolean nonBlocking) {
        return inet(addr, label, Libc.SOCK_DGRAM(), reuseAddr, reusePort, nonBlocking, -1);
    }

    /** An IPv4 or IPv6 socket of {@code type}, bound, listening unless {@code backlog} is negative. */
    private static int inet(InetSocketAddress addr, String label, int type, boolean reuseAddr, boolean reusePort,
                            boolean nonBlocking, int backlog) {
        InetAddress ip = addr.getAddress();
        if (ip == null) {
            throw new IllegalArgumentException("unresolved address " + label);
        }
        boolean v6 = ip instanceof Inet6Address;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = captureState(arena);
            MemorySegment sa = inetAddress(arena, ip, addr.getPort());
            int fd = socket(st, v6 ? Libc.AF_INET6() : Libc.AF_INET(), type, label);
            boolean ok = false;
            try {
                MemorySegment one = arena.allocateFrom(ValueLayout.JAVA_INT, 1);
                if (v6) {
                    setsockopt(st, fd, Libc.IPPROTO_IPV6(), Libc.IPV6_V6ONLY(), one, "IPV6_V6ONLY " + label);
                }
                if (reuseAddr) {
                    setsockopt(st, fd, Libc.SOL_SOCKET(), Libc.SO_REUSEADDR(), one, "SO_REUSEADDR " + label);
                }
                if (reusePort) {
                    setsockopt(st, fd, Libc.SOL_SOCKET(), Libc.SO_REUSEPORT(), one, "SO_REUSEPORT " + label);
                }
                bindAndListen(st, fd, sa, backlog, label, nonBlocking);
                ok = true;
                return fd;
            } finally {
                if (!ok) {
                    Fds.closeQuietly(fd);
                }
            }
        }
    }

    /**
     * A {@code sockaddr_in} or {@code sockaddr_in6}. Socket addresses are built and read as
     * byte arrays ({@link ByteBuffer}) and copied in bulk: the first short-typed access to a
     * segment spins that access's VarHandle, a big-endian one another (measured, ~4 ms of
     * the start).
     */
    private static MemorySegment inetAddress(Arena arena, InetAddress ip, int port) {
        boolean v6 = ip instanceof Inet6Address;
        ByteBuffer b = ByteBuffer.allocate((int) (v6 ? CStructs.SOCKADDR_IN6_SIZE : CStructs.SOCKADDR_IN_SIZE));
        b.order(ByteOrder.nativeOrder()).putShort((int) (v6 ? CStructs.SIN6_FAMILY : CStructs.SIN_FAMILY),
                (short) (v6 ? Libc.AF_INET6() : Libc.AF_INET()));
        b.order(ByteOrder.BIG_ENDIAN).putShort((int) (v6 ? CStructs.SIN6_PORT : CStructs.SIN_PORT), (short) port);
        b.put((int) (v6 ? CStructs.SIN6_ADDR : CStructs.SIN_ADDR), ip.getAddress());
        if (v6) b.order(ByteOrder.nativeOrder()).putInt((int) CStructs.SIN6_SCOPE_ID, ((Inet6Address) ip).getScopeId());
        return copy(arena, b.array(), b.capacity());
    }

    /** {@code bytes[0..length)} in a new segment (bulk copy, no VarHandle). */
    private static MemorySegment copy(Arena arena, byte[] bytes, int length) {
        MemorySegment sa = CStructs.allocate(arena, length);
        MemorySegment.copy(bytes, 0, sa, ValueLayout.JAVA_BYTE, 0, length);
        return sa;
    }

    /**
     * A listening UNIX stream socket bound at {@code path} ({@code SOCK_CLOEXEC}). The caller
     * deals with stale socket files: binding fails with EADDRINUSE if the path exists.
     */
    public static int listenUnix(Path path, boolean nonBlocking, int backlog) {
        return unix(path, Libc.SOCK_STREAM(), nonBlocking, backlog);
    }

    /** A UNIX datagram socket bound at {@code path} ({@code SOCK_CLOEXEC}), as {@link #listenUnix} but without listen. */
    public static int bindUnixDatagram(Path path, boolean nonBlocking) {
        return unix(path, Libc.SOCK_DGRAM(), nonBlocking, -1);
    }

    private static int unix(Path path, int type, boolean nonBlocking, int backlog) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = captureState(arena);
            MemorySegment sa = unixAddress(arena, path.toString(), "bind " + path);
            int fd = socket(st, Libc.AF_UNIX(), type, path.toString());
            boolean ok = false;
            try {
                bindAndListen(st, fd, sa, backlog, path.toString(), nonBlocking);
                ok = true;
                return fd;
            } finally {
                if (!ok) {
                    Fds.closeQuietly(fd);
                }
            }
        }
    }

    /** A connected UNIX stream client socket ({@code SOCK_CLOEXEC}, blocking) to {@code path}. */
    public static int connectUnix(Path path) {
        return connectUnix(path, false);
    }

    /**
     * A connected UNIX client socket to {@code path}: a stream one, or a datagram one (then
     * connect fails with ECONNREFUSED when no socket is bound there any more).
     */
    public static int connectUnix(Path path, boolean datagram) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = captureState(arena);
            MemorySegment sa = unixAddress(arena, path.toString(), "connect " + path);
            int fd = socket(st, Libc.AF_UNIX(), datagram ? Libc.SOCK_DGRAM() : Libc.SOCK_STREAM(), path.toString());
            if (CONNECT.call(st, fd, sa.address(), (int) sa.byteSize()) < 0) {
                PosixException e = failure("connect " + path, st);
                Fds.closeQuietly(fd);
                throw e;
            }
            return fd;
        }
    }

    /**
     * {@code socketpair(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC)}: two connected sockets, e.g. one
     * for a child to inherit and one to keep.
     *
     * @return the two fds
     */
    public static int[] socketPair() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = captureState(arena);
            MemorySegment fds = arena.allocate(ValueLayout.JAVA_INT, 2);
            int type = Libc.SOCK_STREAM() | Libc.SOCK_CLOEXEC();
            if (SOCKETPAIR.call(st, Libc.AF_UNIX(), type, 0, fds.address()) < 0) {
                throw failure("socketpair", st);
            }
            return new int[] {fds.getAtIndex(ValueLayout.JAVA_INT, 0), fds.getAtIndex(ValueLayout.JAVA_INT, 1)};
        }
    }

    /** {@code shutdown(fd, SHUT_WR)}: the peer reads end of input; reading on {@code fd} goes on. */
    public static void shutdownOutput(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = captureState(arena);
            if (SHUTDOWN.call(st, fd, Libc.SHUT_WR()) < 0) {
                throw failure("shutdown SHUT_WR fd " + fd, st);
            }
        }
    }

    /** The local address of an IPv4 or IPv6 socket ({@code getsockname}). */
    public static InetSocketAddress localInetAddress(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = captureState(arena);
            MemorySegment ss = CStructs.allocate(arena, CStructs.SOCKADDR_STORAGE_SIZE);
            MemorySegment len = arena.allocateFrom(ValueLayout.JAVA_INT, (int) ss.byteSize());
            if (GETSOCKNAME.call(st, fd, ss.address(), len.address()) < 0) {
                throw failure("getsockname fd " + fd, st);
            }
            ByteBuffer b = ByteBuffer.wrap(ss.toArray(ValueLayout.JAVA_BYTE));
            int family = b.order(ByteOrder.nativeOrder()).getShort((int) CStructs.SS_FAMILY) & 0xffff;
            try {
                if (family == Libc.AF_INET()) {
                    byte[] ip = new byte[4];
                    b.get((int) CStructs.SIN_ADDR, ip);
                    int port = b.order(ByteOrder.BIG_ENDIAN).getShort((int) CStructs.SIN_PORT) & 0xffff;
                    return new InetSocketAddress(InetAddress.getByAddress(ip), port);
                }
                if (family == Libc.AF_INET6()) {
                    byte[] ip = new byte[16];
                    b.get((int) CStructs.SIN6_ADDR, ip);
                    int scope = b.getInt((int) CStructs.SIN6_SCOPE_ID);
                    int port = b.order(ByteOrder.BIG_ENDIAN).getShort((int) CStructs.SIN6_PORT) & 0xffff;
                    InetAddress address = scope != 0
                            ? Inet6Address.getByAddress(null, ip, scope)
                            : InetAddress.getByAddress(ip);
                    return new InetSocketAddress(address, port);
                }
            } catch (UnknownHostException e) {
                throw new IllegalStateException("getsockname fd " + fd + ": bad address length", e);
            }
            throw new IllegalArgumentException("getsockname fd " + fd + ": not an inet socket (family " + family + ")");
        }
    }

    /**
     * What {@code fd} is, for sockets handed to us (systemd's): its family, whether it is a
     * datagram socket, and whether it listens for streams.
     */
    public record Kind(boolean socket, int family, boolean datagram, boolean listeningStream) {
        public boolean inet() {
            return family == Libc.AF_INET() || family == Libc.AF_INET6();
        }

        public boolean unix() {
            return family == Libc.AF_UNIX();
        }
    }

    /** Looks at an inherited fd: is it a socket, of which family, a datagram socket, a listening stream socket? */
    public static Kind kind(int fd) {
        int family;
        try {
            family = getsockoptInt(fd, Libc.SOL_SOCKET(), Libc.SO_DOMAIN());
        } catch (PosixException e) {
            return new Kind(false, -1, false, false); // ENOTSOCK, EBADF
        }
        int type = getsockoptInt(fd, Libc.SOL_SOCKET(), Libc.SO_TYPE());
        boolean listening = getsockoptInt(fd, Libc.SOL_SOCKET(), Libc.SO_ACCEPTCONN()) == 1;
        return new Kind(true, family, type == Libc.SOCK_DGRAM(), type == Libc.SOCK_STREAM() && listening);
    }

    /** The local address of a UNIX socket: its path, {@code @name} for an abstract one, "" if unnamed. */
    public static String localUnixAddress(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = captureState(arena);
            MemorySegment sa = CStructs.allocate(arena, CStructs.SOCKADDR_UN_SIZE);
            MemorySegment len = arena.allocateFrom(ValueLayout.JAVA_INT, (int) sa.byteSize());
            if (GETSOCKNAME.call(st, fd, sa.address(), len.address()) < 0) {
                throw failure("getsockname fd " + fd, st);
            }
            // a path of the full 108 bytes has no NUL, and the kernel then reports one byte more
            long pathLength = Math.min(len.get(ValueLayout.JAVA_INT, 0) - CStructs.SUN_PATH, CStructs.SUN_PATH_LENGTH);
            if (pathLength <= 0) return "";
            byte[] path = sa.asSlice(CStructs.SUN_PATH, pathLength).toArray(ValueLayout.JAVA_BYTE);
            if (path[0] == 0) return "@" + new String(path, 1, path.length - 1, FILE_NAME_CHARSET);
            int end = 0;
            while (end < path.length && path[end] != 0) end++;
            return new String(path, 0, end, FILE_NAME_CHARSET);
        }
    }

    /** The socket's send buffer size as the kernel keeps it (twice what was set). */
    public static int sendBufferSize(int fd) {
        return getsockoptInt(fd, Libc.SOL_SOCKET(), Libc.SO_SNDBUF());
    }

    /** {@code getsockopt} of an {@code int} option. */
    public static int getsockoptInt(int fd, int level, int option) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = captureState(arena);
            MemorySegment value = arena.allocate(ValueLayout.JAVA_INT);
            MemorySegment len = arena.allocateFrom(ValueLayout.JAVA_INT, 4);
            if (GETSOCKOPT.call(st, fd, level, option, value.address(), len.address()) < 0) {
                throw failure("getsockopt " + level + "/" + option + " fd " + fd, st);
            }
            return value.get(ValueLayout.JAVA_INT, 0);
        }
    }

    /** {@code socket(domain, type|SOCK_CLOEXEC)}, failing with {@code socket LABEL: …}. */
    static int socket(MemorySegment st, int domain, int type, String label) {
        int fd = (int) SOCKET.call(st, domain, type | Libc.SOCK_CLOEXEC(), 0);
        if (fd < 0) {
            throw failure("socket " + label, st);
        }
        return fd;
    }

    /** {@code setsockopt} of {@code value}, failing with {@code setsockopt WHAT: …}. */
    static void setsockopt(MemorySegment st, int fd, int level, int option, MemorySegment value, String what) {
        if (SETSOCKOPT.call(st, fd, level, option, value.address(), (int) value.byteSize()) < 0) {
            throw failure("setsockopt " + what, st);
        }
    }

    /** bind, listen (unless {@code backlog} is negative: a datagram socket), O_NONBLOCK when asked. */
    private static void bindAndListen(MemorySegment st, int fd, MemorySegment sa, int backlog, String label,
                                      boolean nonBlocking) {
        if (BIND.call(st, fd, sa.address(), (int) sa.byteSize()) < 0) {
            throw failure("bind " + label, st);
        }
        if (backlog >= 0 && LISTEN.call(st, fd, backlog) < 0) {
            throw failure("listen " + label, st);
        }
        if (nonBlocking) {
            Fds.setNonBlocking(st, fd, "fcntl O_NONBLOCK " + label);
        }
    }

    /**
     * A {@code sockaddr_un} for a path, or for {@code @name} in the abstract namespace (then
     * without a terminating NUL), trimmed to its length.
     */
    static MemorySegment unixAddress(Arena arena, String address, String call) {
        boolean isAbstract = address.startsWith("@");
        byte[] bytes = (isAbstract ? address.substring(1) : address).getBytes(FILE_NAME_CHARSET);
        long pathOffset = CStructs.SUN_PATH;
        long capacity = CStructs.SUN_PATH_LENGTH;
        if (bytes.length == 0 || bytes.length + 1 > capacity) {
            throw new PosixException(call, Libc.ENAMETOOLONG());
        }
        ByteBuffer b = ByteBuffer.allocate((int) CStructs.SOCKADDR_UN_SIZE).order(ByteOrder.nativeOrder());
        b.putShort((int) CStructs.SUN_FAMILY, (short) Libc.AF_UNIX());
        int at = (int) pathOffset + (isAbstract ? 1 : 0);
        b.put(at, bytes);
        return copy(arena, b.array(), at + bytes.length + (isAbstract ? 0 : 1));
    }

    private static Charset fileNameCharset() {
        String name = System.getProperty("sun.jnu.encoding");
        try {
            return name == null ? StandardCharsets.UTF_8 : Charset.forName(name);
        } catch (RuntimeException e) {
            return StandardCharsets.UTF_8;
        }
    }
}
