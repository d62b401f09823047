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
 * Children this process did not start: processes re-parented to it because it is PID 1 of
 * its pid namespace or a child subreaper. Nothing here ever reaps "any child"
 * ({@code waitpid(-1)}): {@link #peekExited} only looks ({@code WNOWAIT}), and
 * {@link #reap(int)} takes one pid the caller has checked is not one of its own
 * {@link Child}ren, which are reaped through their pidfds only.
 */
public final class Orphans {
    private Orphans() {
    }

    private static final Downcall WAITID = Downcall.of("waitid",
            FunctionDescriptor.of(Libc.C_INT, Libc.C_INT, Libc.C_INT, Libc.C_POINTER, Libc.C_INT));
    /** {@code int prctl(int option, ...)} with one pointer argument. */
    private static final Downcall PRCTL = Downcall.variadic("prctl",
            FunctionDescriptor.of(Libc.C_INT, Libc.C_INT, Libc.C_POINTER));

    /**
     * True if orphans are re-parented to this process: it is PID 1 of its pid namespace
     * (a container's entrypoint, {@code unshare --pid --fork}) or a child subreaper
     * ({@code prctl(PR_GET_CHILD_SUBREAPER)}; set by whoever exec'd us, kept across execve).
     */
    public static boolean adopted() {
        return Processes.getpid() == 1 || childSubreaper();
    }

    /** {@code prctl(PR_GET_CHILD_SUBREAPER, &flag)}. */
    static boolean childSubreaper() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = captureState(arena);
            MemorySegment flag = arena.allocate(ValueLayout.JAVA_INT);
            if (PRCTL.call(st, Libc.PR_GET_CHILD_SUBREAPER(), flag.address()) < 0) {
                throw failure("prctl PR_GET_CHILD_SUBREAPER", st);
            }
            return flag.get(ValueLayout.JAVA_INT, 0) != 0;
        }
    }

    /**
     * {@code waitid(P_ALL, 0, &info, WEXITED|WNOHANG|WNOWAIT)}: a child (any child, ours or
     * not) that has exited and is not reaped yet, left waitable.
     *
     * @return its pid, or 0 if no child has exited (or there are no children)
     */
    public static int peekExited() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = captureState(arena);
            MemorySegment info = CStructs.allocate(arena, CStructs.SIGINFO_SIZE);
            int options = Libc.WEXITED() | Libc.WNOHANG() | Libc.WNOWAIT();
            while (WAITID.call(st, Libc.P_ALL(), 0, info.address(), options) < 0) {
                int e = errno(st);
                if (e == Libc.ECHILD()) {
                    return 0;
                }
                if (e != Libc.EINTR()) {
                    throw failure("waitid P_ALL WNOWAIT", st);
                }
            }
            return info.get(ValueLayout.JAVA_INT, CStructs.SI_PID);
        }
    }

    /**
     * Reaps child {@code pid} if it has exited: {@code waitid(P_PID, pid, &info, WEXITED|WNOHANG)}.
     * Only for children that are not a {@link Child} of ours (those are reaped through their pidfd).
     *
     * @return its exit status, or null if it is still running or not our child
     */
    public static ExitStatus reap(int pid) {
        if (pid <= 0) {
            throw new IllegalArgumentException("pid " + pid);
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = captureState(arena);
            MemorySegment info = CStructs.allocate(arena, CStructs.SIGINFO_SIZE);
            int options = Libc.WEXITED() | Libc.WNOHANG();
            while (WAITID.call(st, Libc.P_PID(), pid, info.address(), options) < 0) {
                int e = errno(st);
                if (e == Libc.ECHILD()) {
                    return null;
                }
                if (e != Libc.EINTR()) {
                    throw failure("waitid P_PID " + pid, st);
                }
            }
            if (info.get(ValueLayout.JAVA_INT, CStructs.SI_PID) == 0) {
                return null;
            }
            return Child.exitStatus(info, pid);
        }
    }
}
