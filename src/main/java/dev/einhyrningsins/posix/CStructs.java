package dev.einhyrningsins.posix;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The C structs this package fills and reads, as sizes and member offsets (glibc, 64-bit
 * Linux), used instead of jextract's generated struct classes. The class initialiser of a
 * generated struct with an array member ({@code sin_zero}, {@code sun_path}, the union in
 * {@code sin6_addr}, {@code siginfo_t}'s padding, {@code sigset_t}'s words, the spawn
 * structs' padding) builds a layout VarHandle for that member; measured with a profiler, the
 * first of them cost more of the start than anything but linking. {@code CStructsTest}
 * holds every value here to the generated class's.
 */
final class CStructs {
    private CStructs() {
    }

    static final long SOCKADDR_IN_SIZE = 16;
    static final long SIN_FAMILY = 0;
    static final long SIN_PORT = 2;
    static final long SIN_ADDR = 4;

    static final long SOCKADDR_IN6_SIZE = 28;
    static final long SIN6_FAMILY = 0;
    static final long SIN6_PORT = 2;
    static final long SIN6_ADDR = 8;
    static final long SIN6_SCOPE_ID = 24;

    static final long SOCKADDR_UN_SIZE = 110;
    static final long SUN_FAMILY = 0;
    static final long SUN_PATH = 2;
    /** {@code sizeof(sun_path)}. */
    static final long SUN_PATH_LENGTH = 108;

    static final long SOCKADDR_STORAGE_SIZE = 128;
    static final long SS_FAMILY = 0;

    static final long SIGINFO_SIZE = 128;
    static final long SI_CODE = 8;
    /** {@code si_pid} and {@code si_status} of {@code _sifields._sigchld}. */
    static final long SI_PID = 16;
    static final long SI_STATUS = 24;

    static final long POSIX_SPAWN_FILE_ACTIONS_SIZE = 80;
    static final long POSIX_SPAWNATTR_SIZE = 336;
    static final long SIGSET_SIZE = 128;

    /** {@code struct sigaction}: the handler (a union with sa_sigaction), the mask, the flags. */
    static final long SIGACTION_SIZE = 152;
    static final long SA_HANDLER = 0;
    static final long SA_MASK = 8;
    static final long SA_FLAGS = 136;

    static final long RLIMIT_SIZE = 16;
    static final long RLIM_CUR = 0;

    static final long SIGNALFD_SIGINFO_SIZE = 128;
    static final long SSI_SIGNO = 0;

    /** A zeroed struct of {@code size} bytes, aligned for any of its members. */
    static MemorySegment allocate(Arena arena, long size) {
        return arena.allocate(size, Long.BYTES);
    }
}
