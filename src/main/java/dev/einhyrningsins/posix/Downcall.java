package dev.einhyrningsins.posix;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.util.function.Supplier;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;

/**
 * One libc function linked with {@code Linker.Option.captureCallState("errno")}, on first
 * use only: linking a downcall of a new shape costs milliseconds, and most runs need only
 * a few of them. The linked handle takes the capture-state segment as its first argument,
 * so the errno read afterwards is the one this call set (the JVM's own libc use in
 * between cannot clobber it).
 *
 * <p>Callers invoke it exactly through {@link #call(IntCall)} / {@link #call(LongCall)},
 * which turn the {@code Throwable} of {@code invokeExact} into unchecked exceptions:
 * <pre>{@code int fd = call(() -> (int) SOCKET.handle().invokeExact(st, domain, type, 0));}</pre>
 */
final class Downcall {
    private static final StructLayout CAPTURE_LAYOUT = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE_LAYOUT.varHandle(groupElement("errno"));
    private static final Linker.Option CAPTURE_ERRNO = Linker.Option.captureCallState("errno");

    private final Supplier<MemorySegment> address;
    private final Supplier<FunctionDescriptor> descriptor;
    private final Linker.Option[] options;
    private volatile MethodHandle handle;

    private Downcall(Supplier<MemorySegment> address, Supplier<FunctionDescriptor> descriptor,
                     Linker.Option[] options) {
        this.address = address;
        this.descriptor = descriptor;
        this.options = options;
    }

    /**
     * @param address    the function's address (a generated {@code Libc.f$address()})
     * @param descriptor its descriptor (the generated {@code Libc.f$descriptor()}, or a
     *                   spelled-out one for variadic functions)
     * @param more       linker options beside the errno capture (e.g. firstVariadicArg)
     */
    static Downcall of(Supplier<MemorySegment> address, Supplier<FunctionDescriptor> descriptor,
                       Linker.Option... more) {
        Linker.Option[] options = new Linker.Option[more.length + 1];
        options[0] = CAPTURE_ERRNO;
        System.arraycopy(more, 0, options, 1, more.length);
        return new Downcall(address, descriptor, options);
    }

    /** The linked handle; its first parameter is the capture-state segment. */
    @SuppressWarnings("restricted")
    MethodHandle handle() {
        MethodHandle h = handle;
        if (h == null) {
            synchronized (this) {
                h = handle;
                if (h == null) {
                    h = Linker.nativeLinker().downcallHandle(address.get(), descriptor.get(), options);
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
