package dev.einhyrningsins.posix;

import dev.einhyrningsins.posix.libc.Libc;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static dev.einhyrningsins.posix.Downcall.captureState;
import static dev.einhyrningsins.posix.Downcall.errno;
import static dev.einhyrningsins.posix.PosixException.failure;

/**
 * A child process of ours and the pidfd that watches it. Its pid cannot be reused while it
 * is unreaped, and everything goes through the pidfd: signals ({@code pidfd_send_signal}),
 * the exit ({@code poll} says readable), reaping ({@code waitid(P_PIDFD)}). The pidfd is
 * closed when the child is reaped or the handle is closed.
 */
public final class Child implements AutoCloseable {

    /**
     * {@code long syscall(long number, ...)} with four variadic {@code long}s (unused ones
     * are ignored by the kernel): pidfd_open and pidfd_send_signal have no glibc wrapper
     * before 2.36.
     */
    private static final Downcall SYSCALL = Downcall.variadic("syscall",
            FunctionDescriptor.of(Libc.C_LONG, Libc.C_LONG, Libc.C_LONG, Libc.C_LONG, Libc.C_LONG, Libc.C_LONG));
    private static final Downcall WAITID = Downcall.of("waitid",
            FunctionDescriptor.of(Libc.C_INT, Libc.C_INT, Libc.C_INT, Libc.C_POINTER, Libc.C_INT));

    private final int pid;
    private int pidfd;
    private ExitStatus status;

    private Child(int pid, int pidfd) {
        this.pid = pid;
        this.pidfd = pidfd;
    }

    /**
     * Takes charge of child {@code pid}: opens its pidfd. If that fails the child cannot be
     * watched, so it is killed and reaped before the error is thrown — a started child is
     * never left running untracked.
     */
    public static Child adopt(int pid) {
        return adopt(pid, Child::pidfdOpen);
    }

    /** {@link #adopt(int)} with the pidfd opener given (tests inject its failure). */
    public static Child adopt(int pid, java.util.function.IntUnaryOperator pidfdOpen) {
        int fd;
        try {
            fd = pidfdOpen.applyAsInt(pid);
        } catch (RuntimeException | Error e) {
            killAndReap(pid);
            throw e;
        }
        return new Child(pid, fd);
    }

    /** {@code pidfd_open(pid, 0)}: a pidfd (close-on-exec by default). */
    static int pidfdOpen(int pid) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = captureState(arena);
            long fd = SYSCALL.call(st, (long) Libc.SYS_pidfd_open(), (long) pid,
                    0L, 0L, 0L);
            if (fd < 0) {
                throw failure("pidfd_open " + pid, st);
            }
            return (int) fd;
        }
    }

    /** SIGKILL by pid (safe: an unreaped child's pid cannot be reused), then a blocking reap of that pid only. */
    static void killAndReap(int pid) {
        Processes.kill(pid, Libc.SIGKILL());
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = captureState(arena);
            MemorySegment info = CStructs.allocate(arena, CStructs.SIGINFO_SIZE);
            while (WAITID.call(st, Libc.P_PID(), pid, info.address(), Libc.WEXITED()) < 0) {
                if (errno(st) != Libc.EINTR()) {
                    throw failure("waitid P_PID " + pid, st);
                }
            }
        }
    }

    public int pid() {
        return pid;
    }

    /** The pidfd to poll (readable once the child has exited); -1 once reaped or closed. */
    public int pidfd() {
        return pidfd;
    }

    /** True once {@link #reap()} has collected the exit status (or the handle was closed). */
    public boolean gone() {
        return pidfd < 0;
    }

    /**
     * {@code pidfd_send_signal(pidfd, signal, NULL, 0)}.
     *
     * @return false if the child has already exited or been reaped
     */
    public boolean signal(int signal) {
        if (pidfd < 0) {
            return false;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = captureState(arena);
            if (SYSCALL.call(st, (long) Libc.SYS_pidfd_send_signal(),
                    (long) pidfd, (long) signal, 0L, 0L) < 0) {
                if (errno(st) == Libc.ESRCH()) {
                    return false;
                }
                throw failure("pidfd_send_signal SIG" + Names.signalName(signal) + " to " + pid, st);
            }
            return true;
        }
    }

    /**
     * {@code kill(-pid, signal)}: the child's whole process group (it leads one). Only while
     * the child is unreaped: afterwards its pid, and so its group id, may belong to others.
     *
     * @return false if the child is gone or the group is empty
     */
    public boolean signalGroup(int signal) {
        return pidfd >= 0 && Processes.kill(-pid, signal);
    }

    /**
     * Reaps the child if it has exited: {@code waitid(P_PIDFD, pidfd, &info, WEXITED|WNOHANG)},
     * then closes the pidfd.
     *
     * @return its exit status, or null if it is still running
     */
    public ExitStatus reap() {
        if (status != null || pidfd < 0) {
            return status;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = captureState(arena);
            MemorySegment info = CStructs.allocate(arena, CStructs.SIGINFO_SIZE);
            int fd = pidfd;
            int options = Libc.WEXITED() | Libc.WNOHANG();
            while (WAITID.call(st, Libc.P_PIDFD(), fd, info.address(), options) < 0) {
                if (errno(st) != Libc.EINTR()) {
                    throw failure("waitid P_PIDFD " + pid, st);
                }
            }
            if (info.get(ValueLayout.JAVA_INT, CStructs.SI_PID) == 0) {
                return null;
            }
            status = exitStatus(info, pid);
            close();
            return status;
        }
    }

    static ExitStatus exitStatus(MemorySegment info, int pid) {
        int code = info.get(ValueLayout.JAVA_INT, CStructs.SI_CODE);
        int value = info.get(ValueLayout.JAVA_INT, CStructs.SI_STATUS);
        if (code == Libc.CLD_EXITED()) {
            return new ExitStatus(pid, false, value, false);
        }
        if (code == Libc.CLD_KILLED()) {
            return new ExitStatus(pid, true, value, false);
        }
        if (code == Libc.CLD_DUMPED()) {
            return new ExitStatus(pid, true, value, true);
        }
        throw new IllegalStateException("waitid " + pid + ": unexpected si_code " + code);
    }

    /**
     * SIGKILLs the child and reaps it once it has exited, waiting at most {@code timeoutMillis}
     * (a helper that must not outlive the supervisor; one stuck in the kernel must not hold it).
     *
     * @return its exit status, or null if it had not exited in time (it stays unreaped)
     */
    public ExitStatus killAndReapWithin(int timeoutMillis) {
        if (status != null || pidfd < 0) return status;
        signal(Libc.SIGKILL());
        return Poller.readable(pidfd, timeoutMillis) ? reap() : null;
    }

    /** Closes the pidfd (the child itself is not touched). */
    @Override
    public void close() {
        if (pidfd >= 0) {
            int fd = pidfd;
            pidfd = -1;
            Fds.closeQuietly(fd);
        }
    }

    @Override
    public String toString() {
        return "child " + pid;
    }
}
