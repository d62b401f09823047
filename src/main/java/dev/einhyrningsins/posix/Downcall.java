package dev.einhyrningsins.posix;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;

/**
 * One libc function linked with {@code Linker.Option.captureCallState("errno")}, on first
 * use only: linking a downcall of a new shape costs milliseconds, and most runs need only
 * a few of them. The linked handle takes the capture-state segment as its first argument,
 * so the errno read afterwards is the one this call set (the JVM's own libc use in
 * between cannot clobber it).
 *
 * <p>Declare it by name and descriptor ({@link #of(String, FunctionDescriptor, Linker.Option...)}),
 * the descriptor spelled out from jextract's layouts ({@code Libc.C_INT}, ...): asking the
 * generated {@code Libc.f$address()} or {@code Libc.f$descriptor()} initialises jextract's
 * holder class of {@code f}, which links its own handle (without errno capture) as well —
 * a second link per function, several milliseconds each on the start path. {@code DowncallTest}
 * checks every spelled-out descriptor against the generated one.
 *
 * <p>Callers invoke it exactly through {@link #call(IntCall)} / {@link #call(LongCall)},
 * which turn the {@code Throwable} of {@code invokeExact} into unchecked exceptions:
 * <pre>{@code int fd = call(() -> (int) SOCKET.handle().invokeExact(st, domain, type, 0));}</pre>
 */
final class Downcall {
    /** The C library's symbols (what jextract's lookup finds them in, without its holder classes). */
    private static final SymbolLookup LIBC = Linker.nativeLinker().defaultLookup();
    private static final StructLayout CAPTURE_LAYOUT = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE_LAYOUT.varHandle(groupElement("errno"));
    private static final Linker.Option CAPTURE_ERRNO = Linker.Option.captureCallState("errno");

    private final String name;
    private final FunctionDescriptor descriptor;
    private final Linker.Option[] options;
    private volatile MethodHandle handle;

    private Downcall(String name, FunctionDescriptor descriptor, Linker.Option[] more) {
        this.name = name;
        this.descriptor = descriptor;
        this.options = new Linker.Option[more.length + 1];
        options[0] = CAPTURE_ERRNO;
        System.arraycopy(more, 0, options, 1, more.length);
    }

    /**
     * @param name       the C function, looked up in the C library when it is first called
     * @param descriptor its descriptor in jextract's layouts (checked against the generated
     *                   {@code Libc.name$descriptor()} by DowncallTest, where there is one)
     * @param more       linker options beside the errno capture (e.g. firstVariadicArg)
     */
    static Downcall of(String name, FunctionDescriptor descriptor, Linker.Option... more) {
        return new Downcall(name, descriptor, more);
    }

    /** The C function's name. */
    String name() {
        return name;
    }

    /** The descriptor it is linked with. */
    FunctionDescriptor descriptor() {
        return descriptor;
    }

    /** The linked handle; its first parameter is the capture-state segment. */
    @SuppressWarnings("restricted")
    MethodHandle handle() {
        MethodHandle h = handle;
        if (h == null) {
            synchronized (this) {
                h = handle;
                if (h == null) {
                    h = Linker.nativeLinker().downcallHandle(LIBC.findOrThrow(name), descriptor, options);
                    handle = h;
                }
            }
        }
        return h;
    }

    /** A capture-state segment for one or more calls in {@code arena}. */
    static MemorySegment captureState(Arena arena) {
        return arena.allocate(CAPTURE_LAYOUT);
    }

    /** The errno the last call through {@code state} captured. */
    static int errno(MemorySegment state) {
        return (int) ERRNO.get(state, 0L);
    }

    /** {@code call: ENAME (strerror)} for the errno captured in {@code state}. */
    static PosixException failure(String call, MemorySegment state) {
        return new PosixException(call, errno(state));
    }

    /** An exact invocation returning a C int. */
    @FunctionalInterface
    interface IntCall {
        int invoke() throws Throwable;
    }

    /** An exact invocation returning a C long (ssize_t, syscall). */
    @FunctionalInterface
    interface LongCall {
        long invoke() throws Throwable;
    }

    static int call(IntCall c) {
        try {
            return c.invoke();
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    static long call(LongCall c) {
        try {
            return c.invoke();
        } catch (Throwable t) {
            throw unchecked(t);
        }
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
}
