package dev.einhyrningsins.posix;

import dev.einhyrningsins.posix.libc.Libc;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static dev.einhyrningsins.posix.Downcall.captureState;
import static dev.einhyrningsins.posix.Downcall.errno;
import static dev.einhyrningsins.posix.PosixException.failure;

/** This process and signals by number or name: pid, kill, dispositions, the name tables. */
public final class Processes {
    private Processes() {
    }

    public static final int SIGKILL = Libc.SIGKILL();
    public static final int SIGTERM = Libc.SIGTERM();

    private static final Downcall KILL = Downcall.of("kill",
            FunctionDescriptor.of(Libc.C_INT, Libc.C_INT, Libc.C_INT));
    private static final Downcall GETPID = Downcall.of("getpid", FunctionDescriptor.of(Libc.C_INT));
    private static final Downcall GETEUID = Downcall.of("geteuid", FunctionDescriptor.of(Libc.C_INT));
    private static final Downcall MALLOC_TRIM = Downcall.of("malloc_trim", FunctionDescriptor.of(Libc.C_INT, Libc.C_LONG));
    /** {@code sighandler_t signal(int, sighandler_t)}: handlers as addresses (SIG_DFL 0, SIG_IGN 1, SIG_ERR -1). */
    private static final Downcall SIGNAL = Downcall.of("signal",
            FunctionDescriptor.of(Libc.C_POINTER, Libc.C_INT, Libc.C_POINTER));
    private static final long SIG_DFL = 0;
    private static final long SIG_IGN = 1;
    private static final long SIG_ERR = -1;

    /**
     * This process's pid, read from {@code /proc/self}: no downcall to link on the start path,
     * and a tenth of a millisecond where {@code ProcessHandle.current()} initialises the JDK's
     * process machinery (an executor and its lambdas, ~8 ms on a cold JVM).
     */
    public static int getpid() {
        try {
            return Integer.parseInt(Files.readSymbolicLink(Path.of("/proc/self")).toString());
        } catch (IOException | NumberFormatException e) {
            return (int) call(GETPID); // no procfs mounted
        }
    }

    /** This process's effective uid. */
    public static int geteuid() {
        return (int) call(GETEUID);
    }

    /**
     * {@code malloc_trim(0)}: hands the C heap's free memory back to the OS. glibc keeps what
     * a thread freed in that thread's arena, so the scratch memory of start-up (the JIT
     * compilers', the downcall linker's) stays resident unless trimmed.
     *
     * @return true if memory was released
     */
    public static boolean trimNativeHeap() {
        try (Arena arena = Arena.ofConfined()) {
            return MALLOC_TRIM.call(captureState(arena), 0) == 1;
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
            if (KILL.call(st, pid, signal) < 0) {
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
        if (signal(signal, SIG_DFL) == SIG_ERR) { // only EINVAL is possible
            throw new PosixException("signal SIG" + signalName(signal), Libc.EINVAL());
        }
    }

    /**
     * Ignores a signal from now on (a supervisor about to exec itself: a signal in the window
     * before the new JVM takes it over must not kill it).
     *
     * @return the previous disposition, for {@link #restore}
     */
    public static Disposition ignore(int signal) {
        long previous = signal(signal, SIG_IGN);
        if (previous == SIG_ERR) throw new PosixException("signal SIG" + signalName(signal), Libc.EINVAL());
        return new Disposition(signal, previous);
    }

    /** A signal's disposition as {@link #ignore} found it (a handler's address, SIG_DFL or SIG_IGN). */
    public record Disposition(int signal, long handler) {}

    /** Puts back a disposition {@link #ignore} returned. */
    public static void restore(Disposition d) {
        if (signal(d.signal(), d.handler()) == SIG_ERR) {
            throw new PosixException("signal SIG" + signalName(d.signal()), Libc.EINVAL());
        }
    }

    /** {@code signal(number, handler)}: the previous handler, or SIG_ERR. */
    private static long signal(int number, long handler) {
        try (Arena arena = Arena.ofConfined()) {
            return SIGNAL.call(captureState(arena), number, handler);
        }
    }

    /** A call without arguments. */
    private static long call(Downcall d) {
        try (Arena arena = Arena.ofConfined()) {
            return d.call(captureState(arena));
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

    /** The C library's message for {@code errno}, e.g. "Address already in use". */
    public static String strerror(int errno) {
        return Names.strerror(errno);
    }

    /** The symbolic name of {@code errno}, e.g. "EADDRINUSE"; {@code "errno N"} if unknown. */
    public static String errnoName(int errno) {
        return Names.errnoName(errno);
    }
}
