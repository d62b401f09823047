package dev.einhyrningsins.posix;

import dev.einhyrningsins.posix.libc.Libc;
import dev.einhyrningsins.posix.libc.__sigset_t;
import dev.einhyrningsins.posix.libc.pollfd;
import dev.einhyrningsins.posix.libc.posix_spawn_file_actions_t;
import dev.einhyrningsins.posix.libc.posix_spawnattr_t;
import dev.einhyrningsins.posix.libc.siginfo_t;
import dev.einhyrningsins.posix.libc.sigset_t;
import dev.einhyrningsins.posix.libc.sockaddr_in;
import dev.einhyrningsins.posix.libc.sockaddr_in6;
import dev.einhyrningsins.posix.libc.sockaddr_storage;
import dev.einhyrningsins.posix.libc.sockaddr_un;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.ByteOrder;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;

/**
 * The libc calls einhyrningsins needs, with errors turned into {@link PosixException}s.
 *
 * <p>Calls that report failure through errno are re-linked from the jextract-generated
 * address and descriptor with {@code Linker.Option.captureCallState("errno")}, so the
 * errno read is the one the call set (the JVM's own libc use in between cannot clobber
 * it). Method handles are linked once, lazily per group of calls; memory is allocated in
 * a confined arena per call. Blocking calls ({@link #poll}) belong on platform threads.
 */
public final class Posix {
    private Posix() {
    }

    // Constants for callers outside this package (values from the bindings).
    public static final int SOL_SOCKET = Libc.SOL_SOCKET();
    public static final int SO_REUSEADDR = Libc.SO_REUSEADDR();
    public static final int SO_REUSEPORT = Libc.SO_REUSEPORT();
    public static final int SO_ACCEPTCONN = Libc.SO_ACCEPTCONN();
    public static final int SO_TYPE = Libc.SO_TYPE();
    public static final int SO_DOMAIN = Libc.SO_DOMAIN();
    public static final int SOCK_STREAM = Libc.SOCK_STREAM();
    public static final int AF_UNIX = Libc.AF_UNIX();
    public static final int AF_INET = Libc.AF_INET();
    public static final int AF_INET6 = Libc.AF_INET6();
    public static final int IPPROTO_IPV6 = Libc.IPPROTO_IPV6();
    public static final int IPV6_V6ONLY = Libc.IPV6_V6ONLY();

    public static final int SIGHUP = Libc.SIGHUP();
    public static final int SIGINT = Libc.SIGINT();
    public static final int SIGQUIT = Libc.SIGQUIT();
    public static final int SIGKILL = Libc.SIGKILL();
    public static final int SIGUSR1 = Libc.SIGUSR1();
    public static final int SIGUSR2 = Libc.SIGUSR2();
    public static final int SIGTERM = Libc.SIGTERM();
    public static final int SIGCHLD = Libc.SIGCHLD();
    public static final int SIGCONT = Libc.SIGCONT();
    public static final int SIGSTOP = Libc.SIGSTOP();
    public static final int SIGTTIN = Libc.SIGTTIN();
    public static final int SIGTTOU = Libc.SIGTTOU();
    public static final int SIGWINCH = Libc.SIGWINCH();
    public static final int SIGALRM = Libc.SIGALRM();

    public static final int ENOENT = Libc.ENOENT();
    public static final int ESRCH = Libc.ESRCH();
    public static final int EINTR = Libc.EINTR();
    public static final int EAGAIN = Libc.EAGAIN();
    public static final int EACCES = Libc.EACCES();
    public static final int EEXIST = Libc.EEXIST();
    public static final int EADDRINUSE = Libc.EADDRINUSE();
    public static final int ECONNREFUSED = Libc.ECONNREFUSED();

    // ------------------------------------------------------------------ linking

    private static final StructLayout CAPTURE_LAYOUT = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE_LAYOUT.varHandle(groupElement("errno"));
    private static final Linker.Option CAPTURE_ERRNO = Linker.Option.captureCallState("errno");

    /** Links an errno-capturing handle; its first parameter is the capture-state segment. */
    @SuppressWarnings("restricted")
    private static MethodHandle link(MemorySegment address, FunctionDescriptor descriptor, Linker.Option... more) {
        Linker.Option[] options = new Linker.Option[more.length + 1];
        options[0] = CAPTURE_ERRNO;
        System.arraycopy(more, 0, options, 1, more.length);
        return Linker.nativeLinker().downcallHandle(address, descriptor, options);
    }

    // One holder class per function: each handle is linked on first use only. (Linking a
    // downcall of a new shape costs several milliseconds, and touching a generated
    // Libc.x$address()/x$descriptor() also links jextract's own handle for x.)

    private static final class Socket {
        static final MethodHandle H = link(Libc.socket$address(), Libc.socket$descriptor());
    }

    private static final class Setsockopt {
        static final MethodHandle H = link(Libc.setsockopt$address(), Libc.setsockopt$descriptor());
    }

    private static final class Getsockopt {
        static final MethodHandle H = link(Libc.getsockopt$address(), Libc.getsockopt$descriptor());
    }

    private static final class Bind {
        static final MethodHandle H = link(Libc.bind$address(), Libc.bind$descriptor());
    }

    private static final class Listen {
        static final MethodHandle H = link(Libc.listen$address(), Libc.listen$descriptor());
    }

    private static final class Getsockname {
        static final MethodHandle H = link(Libc.getsockname$address(), Libc.getsockname$descriptor());
    }

    private static final class Connect {
        static final MethodHandle H = link(Libc.connect$address(), Libc.connect$descriptor());
    }

    private static final class Close {
        static final MethodHandle H = link(Libc.close$address(), Libc.close$descriptor());
    }

    /**
     * {@code int fcntl(int fd, int cmd, ...)} with one variadic argument, passed as a
     * {@code long} so no garbage ends up in the upper half of the register (glibc reads it
     * with {@code va_arg(ap, void *)}). jextract gives variadic functions an invoker
     * factory instead of a descriptor, so the fixed part is spelled out here.
     */
    private static final class Fcntl {
        static final MethodHandle H = link(Libc.fcntl.address(),
                FunctionDescriptor.of(Libc.C_INT, Libc.C_INT, Libc.C_INT, Libc.C_LONG),
                Linker.Option.firstVariadicArg(2));
    }

    private static final class Read {
        static final MethodHandle H = link(Libc.read$address(), Libc.read$descriptor());
    }

    private static final class Write {
        static final MethodHandle H = link(Libc.write$address(), Libc.write$descriptor());
    }

    private static final class Eventfd {
        static final MethodHandle H = link(Libc.eventfd$address(), Libc.eventfd$descriptor());
    }

    private static final class Poll {
        static final MethodHandle H = link(Libc.poll$address(), Libc.poll$descriptor());
    }

    /**
     * {@code long syscall(long number, ...)} with four variadic {@code long}s (unused ones
     * are ignored by the kernel).
     */
    private static final class Syscall {
        static final MethodHandle H = link(Libc.syscall.address(),
                FunctionDescriptor.of(Libc.C_LONG, Libc.C_LONG, Libc.C_LONG, Libc.C_LONG, Libc.C_LONG, Libc.C_LONG),
                Linker.Option.firstVariadicArg(1));
    }

    private static final class Waitid {
        static final MethodHandle H = link(Libc.waitid$address(), Libc.waitid$descriptor());
        static final long SI_PID = siginfo_t.layout().byteOffset(
                groupElement("_sifields"), groupElement("_sigchld"), groupElement("si_pid"));
        static final long SI_STATUS = siginfo_t.layout().byteOffset(
                groupElement("_sifields"), groupElement("_sigchld"), groupElement("si_status"));
    }

    private static final class Kill {
        static final MethodHandle H = link(Libc.kill$address(), Libc.kill$descriptor());
    }

    private static final class Execve {
        static final MethodHandle H = link(Libc.execve$address(), Libc.execve$descriptor());
    }

    private static MemorySegment captureState(Arena arena) {
        return arena.allocate(CAPTURE_LAYOUT);
    }

    private static int errno(MemorySegment state) {
        return (int) ERRNO.get(state, 0L);
    }

    private static PosixException failure(String call, MemorySegment state) {
        return new PosixException(call, errno(state));
    }

    private static RuntimeException unchecked(Throwable t) {
        if (t instanceof RuntimeException r) {
            return r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new IllegalStateException("unexpected exception from a downcall", t);
    }

    // Thin invokers: return the raw result, errno lands in `st`.

    private static int socket(MemorySegment st, int domain, int type, int protocol) {
        try {
            return (int) Socket.H.invokeExact(st, domain, type, protocol);
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    private static int setsockopt(MemorySegment st, int fd, int level, int option, MemorySegment value, int length) {
        try {
            return (int) Setsockopt.H.invokeExact(st, fd, level, option, value, length);
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    private static int getsockopt(MemorySegment st, int fd, int level, int option, MemorySegment value, MemorySegment length) {
        try {
            return (int) Getsockopt.H.invokeExact(st, fd, level, option, value, length);
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    private static int bind(MemorySegment st, int fd, MemorySegment addr, int length) {
        try {
            return (int) Bind.H.invokeExact(st, fd, addr, length);
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    private static int listen(MemorySegment st, int fd, int backlog) {
        try {
            return (int) Listen.H.invokeExact(st, fd, backlog);
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    private static int getsockname(MemorySegment st, int fd, MemorySegment addr, MemorySegment length) {
        try {
            return (int) Getsockname.H.invokeExact(st, fd, addr, length);
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    private static int connect(MemorySegment st, int fd, MemorySegment addr, int length) {
        try {
            return (int) Connect.H.invokeExact(st, fd, addr, length);
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    private static int close(MemorySegment st, int fd) {
        try {
            return (int) Close.H.invokeExact(st, fd);
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    private static int fcntl(MemorySegment st, int fd, int cmd, long arg) {
        try {
            return (int) Fcntl.H.invokeExact(st, fd, cmd, arg);
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    private static long read(MemorySegment st, int fd, MemorySegment buf, long count) {
        try {
            return (long) Read.H.invokeExact(st, fd, buf, count);
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    private static long write(MemorySegment st, int fd, MemorySegment buf, long count) {
        try {
            return (long) Write.H.invokeExact(st, fd, buf, count);
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    private static int eventfd(MemorySegment st, int initval, int flags) {
        try {
            return (int) Eventfd.H.invokeExact(st, initval, flags);
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    private static int poll(MemorySegment st, MemorySegment fds, long nfds, int timeout) {
        try {
            return (int) Poll.H.invokeExact(st, fds, nfds, timeout);
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    private static long syscall(MemorySegment st, long number, long a, long b, long c, long d) {
        try {
            return (long) Syscall.H.invokeExact(st, number, a, b, c, d);
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    private static int waitid(MemorySegment st, int idtype, int id, MemorySegment info, int options) {
        try {
            return (int) Waitid.H.invokeExact(st, idtype, id, info, options);
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    private static int kill(MemorySegment st, int pid, int signal) {
        try {
            return (int) Kill.H.invokeExact(st, pid, signal);
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    private static int execve(MemorySegment st, MemorySegment path, MemorySegment argv, MemorySegment envp) {
        try {
            return (int) Execve.H.invokeExact(st, path, argv, envp);
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    // ------------------------------------------------------------------ processes

    public static int getpid() {
        return Libc.getpid();
    }

    // ------------------------------------------------------------------ sockets

    private static final ValueLayout.OfShort NET_SHORT = ValueLayout.JAVA_SHORT.withOrder(ByteOrder.BIG_ENDIAN);

    /**
     * A listening TCP socket: {@code socket(AF_INET/AF_INET6, SOCK_STREAM|SOCK_CLOEXEC)},
     * {@code IPV6_V6ONLY=1} for IPv6, {@code SO_REUSEADDR}/{@code SO_REUSEPORT} before bind
     * when asked, bind, listen, and {@code O_NONBLOCK} after listen when asked. On failure
     * the socket is closed and a {@link PosixException} names the step and the address,
     * e.g. {@code bind 127.0.0.1:8080: EADDRINUSE (Address already in use)}.
     *
     * @return the listening socket's fd
     */
    public static int listenTcp(InetSocketAddress addr, boolean reuseAddr, boolean reusePort,
                                boolean nonBlocking, int backlog) {
        InetAddress ip = addr.getAddress();
        if (ip == null) {
            throw new IllegalArgumentException("unresolved address " + addr.getHostString() + ":" + addr.getPort());
        }
        String where = format(addr);
        boolean v6 = ip instanceof Inet6Address;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = captureState(arena);
            MemorySegment sa;
            if (v6) {
                sa = sockaddr_in6.allocate(arena);
                sockaddr_in6.sin6_family(sa, (short) Libc.AF_INET6());
                sa.set(NET_SHORT, sockaddr_in6.sin6_port$offset(), (short) addr.getPort());
                MemorySegment.copy(ip.getAddress(), 0, sa, ValueLayout.JAVA_BYTE, sockaddr_in6.sin6_addr$offset(), 16);
                sockaddr_in6.sin6_scope_id(sa, ((Inet6Address) ip).getScopeId());
            } else {
                sa = sockaddr_in.allocate(arena);
                sockaddr_in.sin_family(sa, (short) Libc.AF_INET());
                sa.set(NET_SHORT, sockaddr_in.sin_port$offset(), (short) addr.getPort());
                MemorySegment.copy(ip.getAddress(), 0, sa, ValueLayout.JAVA_BYTE, sockaddr_in.sin_addr$offset(), 4);
            }
            int fd = socket(st, v6 ? Libc.AF_INET6() : Libc.AF_INET(), Libc.SOCK_STREAM() | Libc.SOCK_CLOEXEC(), 0);
            if (fd < 0) {
                throw failure("socket " + where, st);
            }
            boolean ok = false;
            try {
                MemorySegment one = arena.allocateFrom(ValueLayout.JAVA_INT, 1);
                if (v6 && setsockopt(st, fd, Libc.IPPROTO_IPV6(), Libc.IPV6_V6ONLY(), one, 4) < 0) {
                    throw failure("setsockopt IPV6_V6ONLY " + where, st);
                }
                if (reuseAddr && setsockopt(st, fd, Libc.SOL_SOCKET(), Libc.SO_REUSEADDR(), one, 4) < 0) {
                    throw failure("setsockopt SO_REUSEADDR " + where, st);
                }
                if (reusePort && setsockopt(st, fd, Libc.SOL_SOCKET(), Libc.SO_REUSEPORT(), one, 4) < 0) {
                    throw failure("setsockopt SO_REUSEPORT " + where, st);
                }
                if (bind(st, fd, sa, (int) sa.byteSize()) < 0) {
                    throw failure("bind " + where, st);
                }
                if (listen(st, fd, backlog) < 0) {
                    throw failure("listen " + where, st);
                }
                if (nonBlocking) {
                    setNonBlocking(st, fd, "fcntl O_NONBLOCK " + where);
                }
                ok = true;
                return fd;
            } finally {
                if (!ok) {
                    closeQuietly(fd);
                }
            }
        }
    }

    /**
     * A listening UNIX stream socket bound at {@code path} ({@code SOCK_CLOEXEC}). The caller
     * deals with stale socket files: binding fails with EADDRINUSE if the path exists.
     */
    public static int listenUnix(Path path, boolean nonBlocking, int backlog) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = captureState(arena);
            MemorySegment sa = unixAddress(arena, path, "bind " + path);
            int fd = socket(st, Libc.AF_UNIX(), Libc.SOCK_STREAM() | Libc.SOCK_CLOEXEC(), 0);
            if (fd < 0) {
                throw failure("socket " + path, st);
            }
            boolean ok = false;
            try {
                if (bind(st, fd, sa, (int) sa.byteSize()) < 0) {
                    throw failure("bind " + path, st);
                }
                if (listen(st, fd, backlog) < 0) {
                    throw failure("listen " + path, st);
                }
                if (nonBlocking) {
                    setNonBlocking(st, fd, "fcntl O_NONBLOCK " + path);
                }
                ok = true;
                return fd;
            } finally {
                if (!ok) {
                    closeQuietly(fd);
                }
            }
        }
    }

    /** A connected UNIX stream client socket ({@code SOCK_CLOEXEC}, blocking) to {@code path}. */
    public static int connectUnix(Path path) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = captureState(arena);
            MemorySegment sa = unixAddress(arena, path, "connect " + path);
            int fd = socket(st, Libc.AF_UNIX(), Libc.SOCK_STREAM() | Libc.SOCK_CLOEXEC(), 0);
            if (fd < 0) {
                throw failure("socket " + path, st);
            }
            if (connect(st, fd, sa, (int) sa.byteSize()) < 0) {
                PosixException e = failure("connect " + path, st);
                closeQuietly(fd);
                throw e;
            }
            return fd;
        }
    }

    /** A {@code sockaddr_un} for {@code path}, trimmed to the path's length (plus the NUL). */
    private static MemorySegment unixAddress(Arena arena, Path path, String call) {
        byte[] bytes = path.toString().getBytes(FILE_NAME_CHARSET);
        long pathOffset = sockaddr_un.sun_path$offset();
        long capacity = sockaddr_un.sun_path$dimensions()[0];
        if (bytes.length == 0 || bytes.length >= capacity) {
            throw new PosixException(call, Libc.ENAMETOOLONG());
        }
        MemorySegment sa = sockaddr_un.allocate(arena);
        sockaddr_un.sun_family(sa, (short) Libc.AF_UNIX());
        MemorySegment.copy(bytes, 0, sa, ValueLayout.JAVA_BYTE, pathOffset, bytes.length);
        return sa.asSlice(0, pathOffset + bytes.length + 1);
    }

    private static final Charset FILE_NAME_CHARSET = fileNameCharset();

    private static Charset fileNameCharset() {
        String name = System.getProperty("sun.jnu.encoding");
        try {
            return name == null ? StandardCharsets.UTF_8 : Charset.forName(name);
        } catch (RuntimeException e) {
            return StandardCharsets.UTF_8;
        }
    }

    /** The local address of an IPv4 or IPv6 socket ({@code getsockname}). */
    public static InetSocketAddress localInetAddress(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = captureState(arena);
            MemorySegment ss = sockaddr_storage.allocate(arena);
            MemorySegment len = arena.allocateFrom(ValueLayout.JAVA_INT, (int) ss.byteSize());
            if (getsockname(st, fd, ss, len) < 0) {
                throw failure("getsockname fd " + fd, st);
            }
            int family = sockaddr_storage.ss_family(ss) & 0xffff;
            try {
                if (family == Libc.AF_INET()) {
                    byte[] ip = ss.asSlice(sockaddr_in.sin_addr$offset(), 4).toArray(ValueLayout.JAVA_BYTE);
                    int port = ss.get(NET_SHORT, sockaddr_in.sin_port$offset()) & 0xffff;
                    return new InetSocketAddress(InetAddress.getByAddress(ip), port);
                }
                if (family == Libc.AF_INET6()) {
                    byte[] ip = ss.asSlice(sockaddr_in6.sin6_addr$offset(), 16).toArray(ValueLayout.JAVA_BYTE);
                    int port = ss.get(NET_SHORT, sockaddr_in6.sin6_port$offset()) & 0xffff;
                    int scope = ss.get(ValueLayout.JAVA_INT, sockaddr_in6.sin6_scope_id$offset());
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

    /** {@code getsockopt} of an {@code int} option. */
    public static int getsockoptInt(int fd, int level, int option) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = captureState(arena);
            MemorySegment value = arena.allocate(ValueLayout.JAVA_INT);
            MemorySegment len = arena.allocateFrom(ValueLayout.JAVA_INT, 4);
            if (getsockopt(st, fd, level, option, value, len) < 0) {
                throw failure("getsockopt " + level + "/" + option + " fd " + fd, st);
            }
            return value.get(ValueLayout.JAVA_INT, 0);
        }
    }

    public static boolean isNonBlocking(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = captureState(arena);
            int flags = fcntl(st, fd, Libc.F_GETFL(), 0);
            if (flags < 0) {
                throw failure("fcntl F_GETFL fd " + fd, st);
            }
            return (flags & Libc.O_NONBLOCK()) != 0;
        }
    }

    public static boolean isCloexec(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = captureState(arena);
            int flags = fcntl(st, fd, Libc.F_GETFD(), 0);
            if (flags < 0) {
                throw failure("fcntl F_GETFD fd " + fd, st);
            }
            return (flags & Libc.FD_CLOEXEC()) != 0;
        }
    }

    private static void setNonBlocking(MemorySegment st, int fd, String call) {
        int flags = fcntl(st, fd, Libc.F_GETFL(), 0);
        if (flags < 0 || fcntl(st, fd, Libc.F_SETFL(), flags | Libc.O_NONBLOCK()) < 0) {
            throw failure(call, st);
        }
    }

    /** {@code close}; EINTR is ignored (on Linux the fd is released anyway, never retry). */
    public static void close(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = captureState(arena);
            if (close(st, fd) < 0 && errno(st) != Libc.EINTR()) {
                throw failure("close fd " + fd, st);
            }
        }
    }

    private static void closeQuietly(int fd) {
        try {
            close(fd);
        } catch (PosixException ignored) {
            // already failing; the original error matters
        }
    }

    /** {@code 127.0.0.1:8080}, {@code [::1]:8080}. */
    public static String format(InetSocketAddress addr) {
        InetAddress ip = addr.getAddress();
        if (ip instanceof Inet6Address v6) {
            String scope = v6.getScopeId() != 0 ? "%" + v6.getScopeId() : "";
            return "[" + formatIpv6(v6.getAddress()) + scope + "]:" + addr.getPort();
        }
        if (ip instanceof Inet4Address) {
            return ip.getHostAddress() + ":" + addr.getPort();
        }
        return addr.getHostString() + ":" + addr.getPort();
    }

    /** RFC 5952 text: lower-case hex, the longest run of two or more zero groups as "::". */
    static String formatIpv6(byte[] b) {
        int[] g = new int[8];
        for (int i = 0; i < 8; i++) {
            g[i] = ((b[2 * i] & 0xff) << 8) | (b[2 * i + 1] & 0xff);
        }
        int bestStart = -1;
        int bestLen = 1;
        for (int i = 0; i < 8; ) {
            if (g[i] != 0) {
                i++;
                continue;
            }
            int j = i;
            while (j < 8 && g[j] == 0) {
                j++;
            }
            if (j - i > bestLen) {
                bestStart = i;
                bestLen = j - i;
            }
            i = j;
        }
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < 8; i++) {
            if (i == bestStart) {
                s.append("::");
                i += bestLen - 1;
                continue;
            }
            if (!s.isEmpty() && s.charAt(s.length() - 1) != ':') {
                s.append(':');
            }
            s.append(Integer.toHexString(g[i]));
        }
        return s.toString();
    }

    // ------------------------------------------------------------------ spawn

    /**
     * Starts {@code program} with {@code posix_spawn} (no PATH search: the caller resolves it).
     * {@code inheritFds[i]} becomes fd {@code 3+i} in the child; every other fd from
     * {@code 3+n} up is closed ({@code posix_spawn_file_actions_addclosefrom_np}). The child
     * gets an empty signal mask, every signal's disposition reset to default, and leads its
     * own process group. {@code argv.get(0)} is the child's argv[0]; {@code envp} entries are
     * {@code "K=V"}.
     *
     * @return the child's pid
     * @throws PosixException {@code posix_spawn <program>: ENOENT (No such file or directory)}
     *                        and the like; exec failures are reported by posix_spawn itself
     */
    public static int spawn(String program, List<String> argv, List<String> envp, int[] inheritFds) {
        int n = inheritFds.length;
        int maxSource = -1;
        for (int fd : inheritFds) {
            if (fd < 0) {
                throw new IllegalArgumentException("negative fd to inherit: " + fd);
            }
            maxSource = Math.max(maxSource, fd);
        }
        String call = "posix_spawn " + program;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment actions = posix_spawn_file_actions_t.allocate(arena);
            check(Libc.posix_spawn_file_actions_init(actions), "posix_spawn_file_actions_init");
            try {
                MemorySegment attr = posix_spawnattr_t.allocate(arena);
                check(Libc.posix_spawnattr_init(attr), "posix_spawnattr_init");
                try {
                    // Two stages, so a source fd that equals some target 3+j is never
                    // overwritten before it is copied: first everything to fds above all
                    // sources and targets, then down to 3, 4, ... (dup2 clears FD_CLOEXEC;
                    // the temporaries are closed by closefrom).
                    int temp = Math.max(maxSource, 3 + n) + 1;
                    for (int i = 0; i < n; i++) {
                        check(Libc.posix_spawn_file_actions_adddup2(actions, inheritFds[i], temp + i),
                                "posix_spawn_file_actions_adddup2");
                    }
                    for (int i = 0; i < n; i++) {
                        check(Libc.posix_spawn_file_actions_adddup2(actions, temp + i, 3 + i),
                                "posix_spawn_file_actions_adddup2");
                    }
                    check(Libc.posix_spawn_file_actions_addclosefrom_np(actions, 3 + n),
                            "posix_spawn_file_actions_addclosefrom_np");

                    MemorySegment mask = sigset_t.allocate(arena);
                    Libc.sigemptyset(mask);
                    check(Libc.posix_spawnattr_setsigmask(attr, mask), "posix_spawnattr_setsigmask");
                    check(Libc.posix_spawnattr_setsigdefault(attr, allSignals(arena)), "posix_spawnattr_setsigdefault");
                    check(Libc.posix_spawnattr_setpgroup(attr, 0), "posix_spawnattr_setpgroup");
                    int flags = Libc.POSIX_SPAWN_SETSIGMASK() | Libc.POSIX_SPAWN_SETSIGDEF()
                            | Libc.POSIX_SPAWN_SETPGROUP();
                    check(Libc.posix_spawnattr_setflags(attr, (short) flags), "posix_spawnattr_setflags");

                    MemorySegment pid = arena.allocate(ValueLayout.JAVA_INT);
                    int err = Libc.posix_spawn(pid, arena.allocateFrom(program), actions, attr,
                            stringArray(arena, argv), stringArray(arena, envp));
                    if (err != 0) {
                        throw new PosixException(call, err);
                    }
                    return pid.get(ValueLayout.JAVA_INT, 0);
                } finally {
                    Libc.posix_spawnattr_destroy(attr);
                }
            } finally {
                Libc.posix_spawn_file_actions_destroy(actions);
            }
        }
    }

    /**
     * Every signal but KILL and STOP, for SETSIGDEF, <em>including</em> glibc's internal
     * SIGCANCEL and SIGSETXID (kernel signals 32 and 33). sigfillset leaves those two out,
     * and glibc's spawn child then sets them to SIG_IGN (because the parent has handlers for
     * them), which survives the exec: without this, every child would start with signals 32
     * and 33 ignored (SigIgn 0000000180000000, as children of ProcessBuilder do). The bits
     * are set directly (sigaddset refuses internal signals); sigset_t is the kernel's bit
     * array, signal s at bit (s-1).
     */
    private static MemorySegment allSignals(Arena arena) {
        MemorySegment set = sigset_t.allocate(arena);
        Libc.sigfillset(set);
        for (int sig = Libc.__SIGRTMIN(); sig <= Libc.__SIGRTMIN() + 1; sig++) {
            long word = __sigset_t.__val(set, (sig - 1) / 64);
            __sigset_t.__val(set, (sig - 1) / 64, word | (1L << ((sig - 1) % 64)));
        }
        Libc.sigdelset(set, Libc.SIGKILL());
        Libc.sigdelset(set, Libc.SIGSTOP());
        return set;
    }

    /** posix_spawn* functions return an error number instead of setting errno. */
    private static void check(int err, String call) {
        if (err != 0) {
            throw new PosixException(call, err);
        }
    }

    /** A NULL-terminated {@code char *[]}. */
    private static MemorySegment stringArray(Arena arena, List<String> strings) {
        MemorySegment array = arena.allocate(ValueLayout.ADDRESS, strings.size() + 1L);
        for (int i = 0; i < strings.size(); i++) {
            array.setAtIndex(ValueLayout.ADDRESS, i, arena.allocateFrom(strings.get(i)));
        }
        return array;
    }

    /**
     * Replaces this process with {@code path} (same pid). Only returns by throwing.
     * fds without FD_CLOEXEC stay open across the exec.
     */
    public static void execve(String path, List<String> argv, List<String> envp) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = captureState(arena);
            execve(st, arena.allocateFrom(path), stringArray(arena, argv), stringArray(arena, envp));
            throw failure("execve " + path, st);
        }
    }

    // ------------------------------------------------------------------ pidfd, wait, signals

    /** {@code pidfd_open(pid, 0)}: a pidfd for a child (close-on-exec by default). */
    public static int pidfdOpen(int pid) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = captureState(arena);
            long fd = syscall(st, Libc.SYS_pidfd_open(), pid, 0, 0, 0);
            if (fd < 0) {
                throw failure("pidfd_open " + pid, st);
            }
            return (int) fd;
        }
    }

    /**
     * {@code pidfd_send_signal(pidfd, signal, NULL, 0)}.
     *
     * @return false if the process has already exited (ESRCH)
     */
    public static boolean pidfdSendSignal(int pidfd, int signal) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = captureState(arena);
            if (syscall(st, Libc.SYS_pidfd_send_signal(), pidfd, signal, 0, 0) < 0) {
                if (errno(st) == Libc.ESRCH()) {
                    return false;
                }
                throw failure("pidfd_send_signal SIG" + signalName(signal) + " pidfd " + pidfd, st);
            }
            return true;
        }
    }

    /**
     * Reaps the child behind {@code pidfd} if it has exited:
     * {@code waitid(P_PIDFD, pidfd, &info, WEXITED|WNOHANG)}.
     *
     * @return its exit status, or null if it is still running
     */
    public static ExitStatus waitPidfd(int pidfd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = captureState(arena);
            MemorySegment info = siginfo_t.allocate(arena);
            while (waitid(st, Libc.P_PIDFD(), pidfd, info, Libc.WEXITED() | Libc.WNOHANG()) < 0) {
                if (errno(st) != Libc.EINTR()) {
                    throw failure("waitid P_PIDFD pidfd " + pidfd, st);
                }
            }
            int pid = info.get(ValueLayout.JAVA_INT, Waitid.SI_PID);
            if (pid == 0) {
                return null;
            }
            int code = siginfo_t.si_code(info);
            int status = info.get(ValueLayout.JAVA_INT, Waitid.SI_STATUS);
            if (code == Libc.CLD_EXITED()) {
                return new ExitStatus(pid, false, status, false);
            }
            if (code == Libc.CLD_KILLED()) {
                return new ExitStatus(pid, true, status, false);
            }
            if (code == Libc.CLD_DUMPED()) {
                return new ExitStatus(pid, true, status, true);
            }
            throw new IllegalStateException("waitid P_PIDFD pidfd " + pidfd + ": unexpected si_code " + code);
        }
    }

    /**
     * {@code kill(pid, signal)}; a negative pid signals the process group {@code -pid}.
     *
     * @return false if no such process (ESRCH)
     */
    public static boolean kill(int pid, int signal) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = captureState(arena);
            if (kill(st, pid, signal) < 0) {
                if (errno(st) == Libc.ESRCH()) {
                    return false;
                }
                throw failure("kill SIG" + signalName(signal) + " " + pid, st);
            }
            return true;
        }
    }

    /**
     * Sets a signal's disposition back to SIG_DFL. For signals the process inherited as
     * ignored (INT and QUIT in a shell's background job, HUP under nohup): the JVM will not
     * install a handler over an ignored signal, so this must come first.
     */
    public static void resetToDefault(int signal) {
        MemorySegment previous = Libc.signal(signal, MemorySegment.NULL); // SIG_DFL
        if (previous.address() == -1L) { // SIG_ERR: only EINVAL is possible
            throw new PosixException("signal SIG" + signalName(signal), Libc.EINVAL());
        }
    }

    /**
     * The Linux signal number for {@code "USR2"}, {@code "SIGUSR2"}, {@code "usr2"} or
     * {@code "12"}; -1 if unknown.
     */
    public static int signalNumber(String name) {
        return Names.signalNumber(name);
    }

    /** {@code 12 -> "USR2"}; numbers without a name (real-time signals) as decimal text. */
    public static String signalName(int number) {
        return Names.signalName(number);
    }

    /** Every named signal, number to name (without "SIG"), in numeric order. */
    public static Map<Integer, String> signals() {
        return Names.signals();
    }

    // ------------------------------------------------------------------ eventfd, poll

    /** {@code eventfd(0, EFD_CLOEXEC|EFD_NONBLOCK)}. */
    public static int eventfd() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = captureState(arena);
            int fd = eventfd(st, 0, Libc.EFD_CLOEXEC() | Libc.EFD_NONBLOCK());
            if (fd < 0) {
                throw failure("eventfd", st);
            }
            return fd;
        }
    }

    /** Adds 1 to the eventfd counter, waking a poll; EAGAIN (counter full: already awake) ignored. */
    public static void eventfdSignal(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = captureState(arena);
            MemorySegment one = arena.allocateFrom(ValueLayout.JAVA_LONG, 1L);
            while (write(st, fd, one, 8) < 0) {
                int errno = errno(st);
                if (errno == Libc.EAGAIN()) {
                    return;
                }
                if (errno != Libc.EINTR()) {
                    throw failure("write eventfd " + fd, st);
                }
            }
        }
    }

    /** Resets the eventfd counter: reads until EAGAIN. */
    public static void eventfdDrain(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = captureState(arena);
            MemorySegment buf = arena.allocate(ValueLayout.JAVA_LONG);
            while (true) {
                if (read(st, fd, buf, 8) < 0) {
                    int errno = errno(st);
                    if (errno == Libc.EAGAIN()) {
                        return;
                    }
                    if (errno != Libc.EINTR()) {
                        throw failure("read eventfd " + fd, st);
                    }
                }
            }
        }
    }

    /**
     * {@code poll} for POLLIN on {@code fds}, waiting up to {@code timeoutMillis} (-1: no
     * limit). Sets {@code ready[i]} if fd i has POLLIN, POLLHUP, POLLERR or POLLNVAL (an fd
     * that is not open: reported so the caller's next call on it fails loudly instead of
     * spinning). Blocks: call it from a platform thread.
     *
     * @return the number of ready fds; 0 on timeout or when interrupted by a signal (EINTR)
     */
    public static int poll(int[] fds, boolean[] ready, int timeoutMillis) {
        if (ready.length < fds.length) {
            throw new IllegalArgumentException("ready[] shorter than fds[]");
        }
        java.util.Arrays.fill(ready, false);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = captureState(arena);
            MemorySegment pfds = pollfd.allocateArray(Math.max(fds.length, 1), arena);
            short pollin = (short) Libc.POLLIN();
            for (int i = 0; i < fds.length; i++) {
                MemorySegment p = pollfd.asSlice(pfds, i);
                pollfd.fd(p, fds[i]);
                pollfd.events(p, pollin);
            }
            int count = poll(st, pfds, fds.length, timeoutMillis);
            if (count < 0) {
                if (errno(st) == Libc.EINTR()) {
                    return 0;
                }
                throw failure("poll", st);
            }
            int mask = Libc.POLLIN() | Libc.POLLHUP() | Libc.POLLERR() | Libc.POLLNVAL();
            int n = 0;
            for (int i = 0; i < fds.length && n < count; i++) {
                if ((pollfd.revents(pollfd.asSlice(pfds, i)) & mask) != 0) {
                    ready[i] = true;
                    n++;
                }
            }
            return n;
        }
    }

    // ------------------------------------------------------------------ errors

    /** The C library's message for {@code errno}, e.g. "Address already in use". */
    public static String strerror(int errno) {
        return Libc.strerror(errno).getString(0);
    }

    /** The symbolic name of {@code errno}, e.g. "EADDRINUSE"; {@code "errno N"} if unknown. */
    public static String errnoName(int errno) {
        return Names.errnoName(errno);
    }
}
