package dev.einhyrningsins.posix;

import dev.einhyrningsins.posix.libc.Libc;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.function.IntUnaryOperator;

/** Starting programs: {@code posix_spawn} (never fork from a JVM) and {@code execve}. */
public final class Spawn {
    private Spawn() {
    }

    private static final Downcall EXECVE = Downcall.of("execve",
            FunctionDescriptor.of(Libc.C_INT, Libc.C_POINTER, Libc.C_POINTER, Libc.C_POINTER));
    private static final Downcall POSIX_SPAWN = Downcall.of("posix_spawn", FunctionDescriptor.of(Libc.C_INT,
            Libc.C_POINTER, Libc.C_POINTER, Libc.C_POINTER, Libc.C_POINTER, Libc.C_POINTER, Libc.C_POINTER));
    private static final Downcall FILE_ACTIONS_INIT = Downcall.of("posix_spawn_file_actions_init",
            FunctionDescriptor.of(Libc.C_INT, Libc.C_POINTER));
    private static final Downcall FILE_ACTIONS_DESTROY = Downcall.of("posix_spawn_file_actions_destroy",
            FunctionDescriptor.of(Libc.C_INT, Libc.C_POINTER));
    private static final Downcall ADDDUP2 = Downcall.of("posix_spawn_file_actions_adddup2",
            FunctionDescriptor.of(Libc.C_INT, Libc.C_POINTER, Libc.C_INT, Libc.C_INT));
    private static final Downcall ADDCLOSEFROM = Downcall.of("posix_spawn_file_actions_addclosefrom_np",
            FunctionDescriptor.of(Libc.C_INT, Libc.C_POINTER, Libc.C_INT));
    private static final Downcall SPAWNATTR_INIT = Downcall.of("posix_spawnattr_init",
            FunctionDescriptor.of(Libc.C_INT, Libc.C_POINTER));
    private static final Downcall SPAWNATTR_DESTROY = Downcall.of("posix_spawnattr_destroy",
            FunctionDescriptor.of(Libc.C_INT, Libc.C_POINTER));
    private static final Downcall SETSIGMASK = Downcall.of("posix_spawnattr_setsigmask",
            FunctionDescriptor.of(Libc.C_INT, Libc.C_POINTER, Libc.C_POINTER));
    private static final Downcall SETSIGDEFAULT = Downcall.of("posix_spawnattr_setsigdefault",
            FunctionDescriptor.of(Libc.C_INT, Libc.C_POINTER, Libc.C_POINTER));
    private static final Downcall SETPGROUP = Downcall.of("posix_spawnattr_setpgroup",
            FunctionDescriptor.of(Libc.C_INT, Libc.C_POINTER, Libc.C_INT));
    private static final Downcall SETFLAGS = Downcall.of("posix_spawnattr_setflags",
            FunctionDescriptor.of(Libc.C_INT, Libc.C_POINTER, Libc.C_SHORT));

    /**
     * Starts {@code program} with {@code posix_spawn} (no PATH search: the caller resolves it)
     * and takes charge of it ({@link Child#adopt}). {@code inheritFds[i]} becomes fd
     * {@code 3+i} in the child; every other fd from {@code 3+n} up is closed
     * ({@code posix_spawn_file_actions_addclosefrom_np}). The child gets an empty signal
     * mask, every signal's disposition reset to default, and leads its own process group.
     * {@code argv.get(0)} is the child's argv[0]; {@code envp} entries are {@code "K=V"}.
     *
     * @throws PosixException {@code posix_spawn <program>: ENOENT (No such file or directory)}
     *                        and the like (exec failures are reported by posix_spawn itself);
     *                        or the pidfd could not be opened, and the child was killed and reaped
     */
    public static Child start(String program, List<String> argv, List<String> envp, int[] inheritFds) {
        return start(program, argv, envp, inheritFds, Stdio.INHERIT, Child::pidfdOpen);
    }

    /**
     * What the child's standard input, output and error are: an fd of ours dup2'd to 0, 1,
     * 2, or -1 to leave it as ours is.
     */
    public record Stdio(int in, int out, int err) {
        public static final Stdio INHERIT = new Stdio(-1, -1, -1);

        /** Standard input, output and error all on {@code fd} (one end of a socket pair, say). */
        public static Stdio all(int fd) {
            if (fd < 0) throw new IllegalArgumentException("negative fd for stdio: " + fd);
            return new Stdio(fd, fd, fd);
        }
    }

    /** {@link #start(String, List, List, int[])} with the child's standard fds set by {@code stdio}. */
    public static Child start(String program, List<String> argv, List<String> envp, int[] inheritFds, Stdio stdio) {
        return start(program, argv, envp, inheritFds, stdio, Child::pidfdOpen);
    }

    /** {@link #start} with the pidfd opener given (tests inject its failure). */
    static Child start(String program, List<String> argv, List<String> envp, int[] inheritFds, Stdio stdio,
                       IntUnaryOperator pidfdOpen) {
        return Child.adopt(posixSpawn(program, argv, envp, inheritFds, stdio), pidfdOpen);
    }

    private static int posixSpawn(String program, List<String> argv, List<String> envp, int[] inheritFds, Stdio stdio) {
        int n = inheritFds.length;
        int maxSource = Math.max(stdio.in(), Math.max(stdio.out(), stdio.err()));
        for (int fd : inheritFds) {
            if (fd < 0) {
                throw new IllegalArgumentException("negative fd to inherit: " + fd);
            }
            maxSource = Math.max(maxSource, fd);
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = Downcall.captureState(arena);
            long actions = CStructs.allocate(arena, CStructs.POSIX_SPAWN_FILE_ACTIONS_SIZE).address();
            check(FILE_ACTIONS_INIT.call(st, actions), "posix_spawn_file_actions_init");
            try {
                long attr = CStructs.allocate(arena, CStructs.POSIX_SPAWNATTR_SIZE).address();
                check(SPAWNATTR_INIT.call(st, attr), "posix_spawnattr_init");
                try {
                    // Two stages, so a source fd that equals some target (3+j, or 0..2 for
                    // stdio) is never overwritten before it is copied: first everything to fds
                    // above all sources and targets, then down to 3, 4, ... and 0, 1, 2 (dup2
                    // clears FD_CLOEXEC; the temporaries are closed by closefrom).
                    int[] sources = new int[n + 3];
                    int[] targets = new int[n + 3];
                    for (int i = 0; i < n; i++) {
                        sources[i] = inheritFds[i];
                        targets[i] = 3 + i;
                    }
                    sources[n] = stdio.in();
                    sources[n + 1] = stdio.out();
                    sources[n + 2] = stdio.err();
                    for (int k = 0; k < 3; k++) targets[n + k] = k;
                    int temp = Math.max(maxSource, 3 + n) + 1;
                    for (int k = 0; k < sources.length; k++) {
                        if (sources[k] >= 0) check(ADDDUP2.call(st, actions, sources[k], temp + k), "posix_spawn_file_actions_adddup2");
                    }
                    for (int k = 0; k < sources.length; k++) {
                        if (sources[k] >= 0) check(ADDDUP2.call(st, actions, temp + k, targets[k]), "posix_spawn_file_actions_adddup2");
                    }
                    check(ADDCLOSEFROM.call(st, actions, 3 + n), "posix_spawn_file_actions_addclosefrom_np");

                    long mask = CStructs.allocate(arena, CStructs.SIGSET_SIZE).address(); // zeroed: empty
                    check(SETSIGMASK.call(st, attr, mask), "posix_spawnattr_setsigmask");
                    check(SETSIGDEFAULT.call(st, attr, allSignals(arena)), "posix_spawnattr_setsigdefault");
                    check(SETPGROUP.call(st, attr, 0), "posix_spawnattr_setpgroup");
                    int flags = Libc.POSIX_SPAWN_SETSIGMASK() | Libc.POSIX_SPAWN_SETSIGDEF()
                            | Libc.POSIX_SPAWN_SETPGROUP();
                    check(SETFLAGS.call(st, attr, flags), "posix_spawnattr_setflags");

                    MemorySegment pid = arena.allocate(ValueLayout.JAVA_INT);
                    int err = (int) POSIX_SPAWN.call(st, pid.address(), arena.allocateFrom(program).address(), actions,
                            attr, stringArray(arena, argv).address(), stringArray(arena, envp).address());
                    if (err != 0) {
                        throw new PosixException("posix_spawn " + program, err);
                    }
                    return pid.get(ValueLayout.JAVA_INT, 0);
                } finally {
                    SPAWNATTR_DESTROY.call(st, attr);
                }
            } finally {
                FILE_ACTIONS_DESTROY.call(st, actions);
            }
        }
    }

    /**
     * Every signal but KILL and STOP, for SETSIGDEF, <em>including</em> glibc's internal
     * SIGCANCEL and SIGSETXID (kernel signals 32 and 33). sigfillset leaves those two out,
     * and glibc's spawn child then sets them to SIG_IGN (because the parent has handlers for
     * them), which survives the exec: without this, every child would start with signals 32
     * and 33 ignored (SigIgn 0000000180000000, as children of ProcessBuilder do). sigset_t is
     * the kernel's bit array, signal s at bit (s-1) of the first 64-bit word for Linux's 64
     * signals; the bits are set directly (sigaddset refuses glibc's internal signals).
     */
    private static long allSignals(Arena arena) {
        MemorySegment set = CStructs.allocate(arena, CStructs.SIGSET_SIZE);
        long all = -1L & ~(1L << (Libc.SIGKILL() - 1)) & ~(1L << (Libc.SIGSTOP() - 1));
        set.set(ValueLayout.JAVA_LONG, 0, all);
        return set.address();
    }

    /** posix_spawn* functions return an error number instead of setting errno. */
    private static void check(long err, String call) {
        if (err != 0) {
            throw new PosixException(call, (int) err);
        }
    }

    /**
     * A NULL-terminated {@code char *[]}, its pointers written as the 64-bit addresses they are
     * (the ADDRESS layout's accessor is one more thing to spin up at start).
     */
    private static MemorySegment stringArray(Arena arena, List<String> strings) {
        MemorySegment array = arena.allocate(ValueLayout.JAVA_LONG, strings.size() + 1L);
        for (int i = 0; i < strings.size(); i++) {
            array.setAtIndex(ValueLayout.JAVA_LONG, i, arena.allocateFrom(strings.get(i)).address());
        }
        return array;
    }

    /**
     * Replaces this process with {@code path} (same pid). Only returns by throwing.
     * fds without FD_CLOEXEC stay open across the exec.
     */
    public static void execve(String path, List<String> argv, List<String> envp) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = Downcall.captureState(arena);
            MemorySegment p = arena.allocateFrom(path);
            MemorySegment a = stringArray(arena, argv);
            MemorySegment e = stringArray(arena, envp);
            EXECVE.call(st, p.address(), a.address(), e.address());
            throw PosixException.failure("execve " + path, st);
        }
    }
}
