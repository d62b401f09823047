package dev.einhyrningsins.posix;

import dev.einhyrningsins.posix.libc.Libc;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static dev.einhyrningsins.posix.Downcall.captureState;
import static dev.einhyrningsins.posix.Downcall.errno;
import static dev.einhyrningsins.posix.PosixException.failure;

/** File descriptors as such: close, non-blocking read and write, and their flags. */
public final class Fds {
    private Fds() {
    }

    static final Downcall CLOSE = Downcall.of("close", FunctionDescriptor.of(Libc.C_INT, Libc.C_INT));
    static final Downcall READ = Downcall.of("read",
            FunctionDescriptor.of(Libc.C_LONG, Libc.C_INT, Libc.C_POINTER, Libc.C_LONG));
    static final Downcall WRITE = Downcall.of("write",
            FunctionDescriptor.of(Libc.C_LONG, Libc.C_INT, Libc.C_POINTER, Libc.C_LONG));
    private static final Downcall DUP2 = Downcall.of("dup2",
            FunctionDescriptor.of(Libc.C_INT, Libc.C_INT, Libc.C_INT));
    private static final Downcall MEMFD_CREATE = Downcall.of("memfd_create",
            FunctionDescriptor.of(Libc.C_INT, Libc.C_POINTER, Libc.C_INT));

    /**
     * {@code int fcntl(int fd, int cmd, ...)} with one variadic argument, a {@code long}
     * (glibc reads it with {@code va_arg(ap, void *)}). jextract gives variadic functions an
     * invoker factory instead of a descriptor, so the whole descriptor is spelled out here.
     */
    private static final Downcall FCNTL = Downcall.variadic("fcntl",
            FunctionDescriptor.of(Libc.C_INT, Libc.C_INT, Libc.C_INT, Libc.C_LONG));

    /** What a non-blocking read or write returns when it would block. */
    public static final int WOULD_BLOCK = -1;

    /** {@code close}; EINTR is ignored (on Linux the fd is released anyway, never retry). */
    public static void close(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = captureState(arena);
            if (CLOSE.call(st, fd) < 0 && errno(st) != Libc.EINTR()) {
                throw failure("close fd " + fd, st);
            }
        }
    }

    /** Closes {@code fd}, ignoring failure: for clean-up paths where another error matters more. */
    public static void closeQuietly(int fd) {
        try {
            close(fd);
        } catch (PosixException ignored) {
            // already failing or leaving; the original error matters
        }
    }

    /**
     * Reads what is there from a non-blocking fd into {@code buf[0..]}.
     *
     * @return the number of bytes read, 0 at end of input, or {@link #WOULD_BLOCK}
     */
    public static int read(int fd, byte[] buf) {
        return read(fd, buf, 0, buf.length);
    }

    /**
     * Reads what is there from a non-blocking fd into {@code buf[off..off+len)}.
     *
     * @return the number of bytes read, 0 at end of input, or {@link #WOULD_BLOCK}
     */
    public static int read(int fd, byte[] buf, int off, int len) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = captureState(arena);
            MemorySegment b = arena.allocate(Math.max(1, len));
            while (true) {
                long n = READ.call(st, fd, b.address(), (long) len);
                if (n >= 0) {
                    MemorySegment.copy(b, ValueLayout.JAVA_BYTE, 0, buf, off, (int) n);
                    return (int) n;
                }
                int e = errno(st);
                if (e == Libc.EAGAIN()) {
                    return WOULD_BLOCK;
                }
                if (e == Libc.ECONNRESET()) {
                    return 0;
                }
                if (e != Libc.EINTR()) {
                    throw failure("read fd " + fd, st);
                }
            }
        }
    }

    /**
     * Writes {@code buf[off..off+len)} to a non-blocking fd, as much as fits.
     *
     * @return the number of bytes written, or {@link #WOULD_BLOCK}
     * @throws PosixException EPIPE and the like when the peer is gone
     */
    public static int write(int fd, byte[] buf, int off, int len) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = captureState(arena);
            MemorySegment b = arena.allocate(Math.max(1, len));
            MemorySegment.copy(buf, off, b, ValueLayout.JAVA_BYTE, 0, len);
            while (true) {
                long n = WRITE.call(st, fd, b.address(), (long) len);
                if (n >= 0) {
                    return (int) n;
                }
                int e = errno(st);
                if (e == Libc.EAGAIN()) {
                    return WOULD_BLOCK;
                }
                if (e != Libc.EINTR()) {
                    throw failure("write fd " + fd, st);
                }
            }
        }
    }

    /** {@code dup2(from, to)}: {@code to} becomes a copy of {@code from} (without FD_CLOEXEC). */
    public static void dup2(int from, int to) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = captureState(arena);
            while (DUP2.call(st, from, to) < 0) {
                if (errno(st) != Libc.EINTR()) throw failure("dup2 " + from + " " + to, st);
            }
        }
    }

    /** {@code fcntl(fd, F_DUPFD_CLOEXEC, min)}: a copy of {@code fd} at the lowest free number from {@code min}. */
    public static int dupAtLeast(int fd, int min) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = captureState(arena);
            int copy = fcntl(st, fd, Libc.F_DUPFD_CLOEXEC(), min);
            if (copy < 0) throw failure("fcntl F_DUPFD_CLOEXEC fd " + fd, st);
            return copy;
        }
    }

    /** {@code memfd_create(name, MFD_CLOEXEC)}: an anonymous file in memory, reachable as /proc/self/fd/N. */
    public static int memfd(String name) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = captureState(arena);
            MemorySegment n = arena.allocateFrom(name);
            int fd = (int) MEMFD_CREATE.call(st, n.address(), Libc.MFD_CLOEXEC());
            if (fd < 0) throw failure("memfd_create " + name, st);
            return fd;
        }
    }

    private static final Downcall GETRLIMIT = Downcall.of("getrlimit",
            FunctionDescriptor.of(Libc.C_INT, Libc.C_INT, Libc.C_POINTER));

    /** {@code RLIMIT_NOFILE}'s soft limit: the fds this process may have open at once. */
    public static long limit() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = captureState(arena);
            MemorySegment rl = CStructs.allocate(arena, CStructs.RLIMIT_SIZE);
            if (GETRLIMIT.call(st, Libc.RLIMIT_NOFILE(), rl.address()) < 0) throw failure("getrlimit RLIMIT_NOFILE", st);
            return rl.get(ValueLayout.JAVA_LONG, CStructs.RLIM_CUR);
        }
    }

    /** How many fds this process has open now (the entries of /proc/self/fd, less the listing's own). */
    public static int count() {
        try (java.nio.file.DirectoryStream<java.nio.file.Path> fds =
                     java.nio.file.Files.newDirectoryStream(java.nio.file.Path.of("/proc/self/fd"))) {
            int n = 0;
            for (java.nio.file.Path ignored : fds) n++;
            return Math.max(0, n - 1);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException("cannot list /proc/self/fd", e);
        }
    }

    /** The fds this process has open, in order (from /proc/self/fd). */
    public static java.util.List<Integer> open() {
        try (java.util.stream.Stream<java.nio.file.Path> fds = java.nio.file.Files.list(java.nio.file.Path.of("/proc/self/fd"))) {
            return fds.map(p -> Integer.parseInt(p.getFileName().toString())).sorted().toList();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException("cannot list /proc/self/fd", e);
        }
    }

    /** Sets O_NONBLOCK. */
    public static void setNonBlocking(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = captureState(arena);
            setNonBlocking(st, fd, "fcntl O_NONBLOCK fd " + fd);
        }
    }

    static void setNonBlocking(MemorySegment st, int fd, String call) {
        int flags = fcntl(st, fd, Libc.F_GETFL(), 0);
        if (flags < 0 || fcntl(st, fd, Libc.F_SETFL(), flags | Libc.O_NONBLOCK()) < 0) {
            throw failure(call, st);
        }
    }

    public static boolean isNonBlocking(int fd) {
        return (flags(fd, Libc.F_GETFL(), "F_GETFL") & Libc.O_NONBLOCK()) != 0;
    }

    public static boolean isCloexec(int fd) {
        return (flags(fd, Libc.F_GETFD(), "F_GETFD") & Libc.FD_CLOEXEC()) != 0;
    }

    /** Sets or clears FD_CLOEXEC: whether {@code fd} is closed by an exec of this process. */
    public static void setCloexec(int fd, boolean cloexec) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = captureState(arena);
            int flags = fcntl(st, fd, Libc.F_GETFD(), 0);
            int wanted = cloexec ? flags | Libc.FD_CLOEXEC() : flags & ~Libc.FD_CLOEXEC();
            if (flags < 0 || fcntl(st, fd, Libc.F_SETFD(), wanted) < 0) {
                throw failure("fcntl F_SETFD fd " + fd, st);
            }
        }
    }

    private static int flags(int fd, int cmd, String name) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = captureState(arena);
            int flags = fcntl(st, fd, cmd, 0);
            if (flags < 0) {
                throw failure("fcntl " + name + " fd " + fd, st);
            }
            return flags;
        }
    }

    private static int fcntl(MemorySegment st, int fd, int cmd, long arg) {
        return (int) FCNTL.call(st, fd, cmd, arg);
    }
}
