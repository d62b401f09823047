package dev.einhyrningsins.posix;

import dev.einhyrningsins.posix.libc.Libc;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static dev.einhyrningsins.posix.Downcall.captureState;
import static dev.einhyrningsins.posix.Downcall.errno;
import static dev.einhyrningsins.posix.PosixException.failure;

/**
 * Signals as the kernel keeps them: dispositions as whole {@code struct sigaction}s (so a
 * handler that is put back keeps its flags and mask), the calling thread's mask, the
 * process's signals blocked in every thread, and {@code signalfd}.
 *
 * <p>A signal that every thread of a process blocks waits in the kernel, pending, and
 * survives {@code execve}; a signalfd reads it on the loop's own thread, with no JVM handler
 * thread in between. That is how a supervisor keeps signals across its reload: the exec'ing
 * thread's mask is the new process's, the JVM leaves it in every thread it starts (and leaves
 * an ignored HUP, INT or TERM ignored and blocked), and a blocked signal is queued even when
 * its disposition is to ignore it.
 */
public final class Signals {
    private Signals() {
    }

    private static final Downcall SIGACTION = Downcall.of("sigaction",
            FunctionDescriptor.of(Libc.C_INT, Libc.C_INT, Libc.C_POINTER, Libc.C_POINTER));
    private static final Downcall PTHREAD_SIGMASK = Downcall.of("pthread_sigmask",
            FunctionDescriptor.of(Libc.C_INT, Libc.C_INT, Libc.C_POINTER, Libc.C_POINTER));
    private static final Downcall SIGNALFD = Downcall.of("signalfd",
            FunctionDescriptor.of(Libc.C_INT, Libc.C_INT, Libc.C_POINTER, Libc.C_INT));
    private static final Downcall SIGPENDING = Downcall.of("sigpending",
            FunctionDescriptor.of(Libc.C_INT, Libc.C_POINTER));
    private static final Downcall RAISE = Downcall.of("raise", FunctionDescriptor.of(Libc.C_INT, Libc.C_INT));

    /** The kernel's signal mask: 64 signals. */
    private static final long KERNEL_SIGSET_SIZE = 8;
    private static final long SIG_DFL = 0;
    private static final long SIG_IGN = 1;

    /**
     * A signal's disposition as the kernel holds it: the bytes of its {@code struct sigaction}
     * (handler, mask, flags), put back whole by {@link #restore}.
     */
    public record Disposition(int signal, byte[] action) {
        /** The handler's address: 0 for SIG_DFL, 1 for SIG_IGN. */
        public long handler() {
            return MemorySegment.ofArray(action).get(ValueLayout.JAVA_LONG_UNALIGNED, CStructs.SA_HANDLER);
        }

        public int flags() {
            return MemorySegment.ofArray(action).get(ValueLayout.JAVA_INT_UNALIGNED, CStructs.SA_FLAGS);
        }

        public boolean ignored() {
            return handler() == SIG_IGN;
        }

        public boolean byDefault() {
            return handler() == SIG_DFL;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Disposition d && d.signal == signal && Arrays.equals(d.action, action);
        }

        @Override
        public int hashCode() {
            return 31 * signal + Arrays.hashCode(action);
        }

        @Override
        public String toString() {
            return "SIG" + Names.signalName(signal) + " handler 0x" + Long.toHexString(handler()) + " flags 0x"
                    + Integer.toHexString(flags());
        }
    }

    /** {@code sigaction(signal, NULL, &old)}: the signal's disposition now. */
    public static Disposition disposition(int signal) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = captureState(arena);
            MemorySegment old = CStructs.allocate(arena, CStructs.SIGACTION_SIZE);
            if (SIGACTION.call(st, signal, 0L, old.address()) < 0) throw failure("sigaction SIG" + Names.signalName(signal), st);
            // the kernel's mask is 64 bits: glibc leaves the rest of its 1024-bit sigset_t (and the
            // padding after the flags) as its own stack had them
            old.asSlice(CStructs.SA_MASK + KERNEL_SIGSET_SIZE, CStructs.SA_FLAGS - CStructs.SA_MASK - KERNEL_SIGSET_SIZE).fill((byte) 0);
            old.asSlice(CStructs.SA_FLAGS + Integer.BYTES, Integer.BYTES).fill((byte) 0);
            return new Disposition(signal, old.toArray(ValueLayout.JAVA_BYTE));
        }
    }

    /** Puts {@code d} back as {@code d.signal()}'s disposition, whole. */
    public static void restore(Disposition d) {
        install(d.signal(), d.action());
    }

    /**
     * Gives {@code signal} the disposition {@code from} has (its handler, flags and mask): the
     * JVM's own handler, taken from a signal the JVM installed it for, for a signal it refused
     * to install it on (an ignored HUP, INT or TERM) — from ignored to handled, never through
     * SIG_DFL.
     */
    public static void copy(Disposition from, int signal) {
        install(signal, from.action());
    }

    /**
     * Ignores {@code signal}. Beware: setting SIG_IGN discards the signal's pending
     * instances; a signal already blocked everywhere keeps waiting only if it is not set again.
     *
     * @return the disposition it had
     */
    public static Disposition ignore(int signal) {
        Disposition before = disposition(signal);
        byte[] ignore = new byte[(int) CStructs.SIGACTION_SIZE];
        MemorySegment.ofArray(ignore).set(ValueLayout.JAVA_LONG_UNALIGNED, CStructs.SA_HANDLER, SIG_IGN);
        install(signal, ignore);
        return before;
    }

    private static void install(int signal, byte[] action) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = captureState(arena);
            MemorySegment act = CStructs.allocate(arena, CStructs.SIGACTION_SIZE);
            MemorySegment.copy(action, 0, act, ValueLayout.JAVA_BYTE, 0, action.length);
            if (SIGACTION.call(st, signal, act.address(), 0L) < 0) throw failure("sigaction SIG" + Names.signalName(signal), st);
        }
    }

    /** Blocks {@code signals} in the calling thread. */
    public static void block(int... signals) {
        mask(Libc.SIG_BLOCK(), "SIG_BLOCK", signals);
    }

    /** Unblocks {@code signals} in the calling thread: any of them pending is delivered now. */
    public static void unblock(int... signals) {
        mask(Libc.SIG_UNBLOCK(), "SIG_UNBLOCK", signals);
    }

    private static void mask(int how, String name, int... signals) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = captureState(arena);
            MemorySegment set = sigset(arena, signals);
            int rc = (int) PTHREAD_SIGMASK.call(st, how, set.address(), 0L);
            if (rc != 0) throw new PosixException("pthread_sigmask " + name, rc); // returns the error, not errno
        }
    }

    /** {@code raise(signal)}: sends {@code signal} to the calling thread (it waits there if the thread blocks it). */
    public static void raise(int signal) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = captureState(arena);
            if (RAISE.call(st, signal) != 0) throw failure("raise SIG" + Names.signalName(signal), st);
        }
    }

    /** The signals pending for this process or this thread (blocked ones that arrived), by number. */
    public static List<Integer> pending() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = captureState(arena);
            MemorySegment set = CStructs.allocate(arena, CStructs.SIGSET_SIZE);
            if (SIGPENDING.call(st, set.address()) < 0) throw failure("sigpending", st);
            return members(set.get(ValueLayout.JAVA_LONG, 0));
        }
    }

    /**
     * The signals every thread of this process blocks (the low 64, as a mask: bit {@code n-1}
     * for signal {@code n}), from each thread's {@code SigBlk} in /proc: such a signal waits in
     * the kernel until a signalfd reads it, and an exec keeps it. 0 if /proc cannot tell.
     */
    public static long blockedInEveryThread() {
        long all = -1L;
        boolean any = false;
        try (DirectoryStream<Path> tasks = Files.newDirectoryStream(Path.of("/proc/self/task"))) {
            for (Path task : tasks) {
                try {
                    all &= maskOf(task.resolve("status"), "SigBlk:");
                    any = true;
                } catch (IOException gone) {
                    // the thread ended meanwhile
                }
            }
        } catch (IOException e) {
            return 0;
        }
        return any ? all : 0;
    }

    /** Whether {@code mask} (as {@link #blockedInEveryThread()} gives it) holds {@code signal}. */
    public static boolean has(long mask, int signal) {
        return signal >= 1 && signal <= 64 && (mask & (1L << (signal - 1))) != 0;
    }

    /** A mask line of a /proc status file ({@code SigBlk:}, {@code SigIgn:}), as the low 64 signals. */
    public static long maskOf(Path status, String key) throws IOException {
        for (String line : Files.readAllLines(status)) {
            if (line.startsWith(key)) return Long.parseUnsignedLong(line.substring(key.length()).trim(), 16);
        }
        throw new IOException("no " + key + " in " + status);
    }

    /**
     * {@code signalfd(-1, signals, SFD_NONBLOCK|SFD_CLOEXEC)}: an fd that is readable while one
     * of {@code signals} is pending; reading it ({@link #read}) takes them. Only signals blocked
     * in every thread reach it reliably (another thread would take an unblocked one first).
     */
    public static int signalfd(int... signals) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = captureState(arena);
            MemorySegment set = sigset(arena, signals);
            int fd = (int) SIGNALFD.call(st, -1, set.address(), Libc.SFD_NONBLOCK() | Libc.SFD_CLOEXEC());
            if (fd < 0) throw failure("signalfd", st);
            return fd;
        }
    }

    /**
     * Reads what a signalfd holds, at most {@code max} signals: their numbers, in the order the
     * kernel gives them (lowest pending number first). Empty when none is pending.
     */
    public static List<Integer> read(int signalfd, int max) {
        List<Integer> out = new ArrayList<>();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = captureState(arena);
            long size = CStructs.SIGNALFD_SIGINFO_SIZE;
            MemorySegment buf = CStructs.allocate(arena, size * Math.max(1, max));
            while (out.size() < max) {
                long n = Fds.READ.call(st, signalfd, buf.address(), size * (max - out.size()));
                if (n < 0) {
                    int e = errno(st);
                    if (e == Libc.EAGAIN()) break;
                    if (e == Libc.EINTR()) continue;
                    throw failure("read signalfd " + signalfd, st);
                }
                if (n == 0) break;
                for (long at = 0; at + size <= n; at += size) out.add(buf.get(ValueLayout.JAVA_INT, at + CStructs.SSI_SIGNO));
            }
        }
        return out;
    }

    private static MemorySegment sigset(Arena arena, int... signals) {
        MemorySegment set = CStructs.allocate(arena, CStructs.SIGSET_SIZE); // zeroed: empty
        for (int s : signals) {
            long word = (s - 1) / 64;
            set.set(ValueLayout.JAVA_LONG, word * 8, set.get(ValueLayout.JAVA_LONG, word * 8) | 1L << ((s - 1) % 64));
        }
        return set;
    }

    private static List<Integer> members(long mask) {
        List<Integer> out = new ArrayList<>();
        for (int s = 1; s <= 64; s++) {
            if ((mask & (1L << (s - 1))) != 0) out.add(s);
        }
        return out;
    }
}
