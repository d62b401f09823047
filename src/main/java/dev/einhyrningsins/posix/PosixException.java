package dev.einhyrningsins.posix;

import java.lang.foreign.MemorySegment;

/**
 * A failed libc call. The message names the call with its context, the errno name and
 * the strerror text, e.g. {@code bind [::1]:8080: EADDRINUSE (Address already in use)}.
 */
public final class PosixException extends RuntimeException {
    private final String call;
    private final int errno;

    /**
     * @param call  what was called, with context, e.g. {@code "bind 127.0.0.1:8080"}
     * @param errno the error number (errno, or the return value of posix_spawn)
     */
    public PosixException(String call, int errno) {
        super(call + ": " + Names.errnoName(errno) + " (" + Names.strerror(errno) + ")");
        this.call = call;
        this.errno = errno;
    }

    /** {@code call: ENAME (strerror)} for the errno a downcall captured in {@code state}. */
    static PosixException failure(String call, MemorySegment state) {
        return new PosixException(call, Downcall.errno(state));
    }

    /** The call with its context, e.g. {@code "bind 127.0.0.1:8080"}. */
    public String call() {
        return call;
    }

    /** The error number. */
    public int errno() {
        return errno;
    }

    /** The symbolic error name, e.g. {@code "EADDRINUSE"}. */
    public String errnoName() {
        return Names.errnoName(errno);
    }

    /** Whether the process (EMFILE) or the system (ENFILE) ran out of file descriptors. */
    public boolean outOfDescriptors() {
        return errno == dev.einhyrningsins.posix.libc.Libc.EMFILE() || errno == dev.einhyrningsins.posix.libc.Libc.ENFILE();
    }

    /** {@code call} was not permitted (EACCES): for a failure the JDK reported, such as a chmod. */
    public static PosixException denied(String call) {
        return new PosixException(call, dev.einhyrningsins.posix.libc.Libc.EACCES());
    }
}
