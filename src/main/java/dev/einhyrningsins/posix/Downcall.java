package dev.einhyrningsins.posix;

import java.lang.foreign.AddressLayout;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.Arrays;

/**
 * One libc function, called through the one downcall handle this package links for its kind
 * (fixed or variadic arguments): six integer-class arguments in, one integer-class result
 * out, errno captured
 * ({@code Linker.Option.captureCallState("errno")}, so the errno read afterwards is the one
 * this call set — the JVM's own libc use in between cannot clobber it).
 *
 * <p>Why shared handles: the linker spins classes for every new descriptor, about 3–5 ms each
 * (measured; the first link of a JVM ~8 ms with the image's AOT cache, ~40–50 ms without).
 * A supervisor's start needs some fifteen descriptors before its first worker runs, so
 * linking each function's own descriptor was most of the time from exec to the first
 * worker. Every function here takes only C integers and pointers (at most six) and returns
 * an integer or a pointer, and on the 64-bit Linux ABIs this package runs on (x86-64
 * System V, AArch64 AAPCS64) such a call passes each argument in its own 64-bit register
 * whatever its C type: an {@code int} argument is the low half of a {@code long}, a pointer
 * is its address, unused registers are ignored by the callee, and variadic integer
 * arguments ({@code fcntl}, {@code prctl}, {@code syscall}) travel exactly like named ones.
 * Variadic functions go through a second handle, linked as variadic after its first argument,
 * so that on x86-64 {@code %al} (the number of vector registers, which a variadic callee's
 * prologue reads) is 0. So a start links once, or twice, whatever the functions it calls.
 *
 * <p>Each {@code Downcall} still declares the function's real C descriptor, spelled out
 * from jextract's layouts; {@code DowncallTest} checks it against the generated
 * {@code Libc.f$descriptor()} and that it fits the shared shape. Its result is narrowed
 * back to the declared C type ({@code int} results sign-extended from the low 32 bits), and
 * a call with a different number of arguments than declared throws.
 *
 * <p>Callers pass C ints as they are, pointers as {@code segment.address()}:
 * <pre>{@code int fd = (int) SOCKET.call(st, domain, type, 0);}</pre>
 */
final class Downcall {
    /** The C library's symbols (what jextract's lookup finds them in, without its holder classes). */
    private static final SymbolLookup LIBC = Linker.nativeLinker().defaultLookup();
    private static final StructLayout CAPTURE_LAYOUT = Linker.Option.captureStateLayout();
    /**
     * errno's offset in the capture state, read with a plain get: a layout VarHandle, or even
     * a layout path, costs milliseconds at start.
     */
    private static final long ERRNO_OFFSET = offsetOf(CAPTURE_LAYOUT, "errno");
    /** The most arguments the shared shape passes (x86-64 has six integer argument registers). */
    static final int MAX_ARGUMENTS = 6;

    /**
     * The shared handle for functions with a fixed argument list, linked at the first call of
     * one: {@code (MemorySegment function, MemorySegment captureState, long × 6) long}.
     */
    private static final class Shared {
        static final MethodHandle HANDLE = link(false);
    }

    /**
     * The same for variadic functions ({@code fcntl}, {@code prctl}, {@code syscall}), linked
     * as variadic after the first argument so that the x86-64 linker sets {@code %al} (the
     * number of vector registers, which a variadic callee's prologue reads) to 0. A second
     * handle, because linking as variadic costs more (measured ~2.5 ms of the image's start)
     * and a start calls no variadic function before its first worker runs.
     */
    private static final class SharedVariadic {
        static final MethodHandle HANDLE = link(true);
    }

    @SuppressWarnings("restricted")
    private static MethodHandle link(boolean variadic) {
        String os = System.getProperty("os.name");
        String arch = System.getProperty("os.arch");
        if (!"Linux".equals(os) || !("amd64".equals(arch) || "aarch64".equals(arch))) {
            // elsewhere arguments of different C types, or variadic ones, are passed differently
            throw new UnsupportedOperationException("einhyrningsins calls the C library as on Linux x86-64 and"
                    + " AArch64 only, not on " + os + " " + arch);
        }
        MemoryLayout[] args = new MemoryLayout[MAX_ARGUMENTS];
        Arrays.fill(args, ValueLayout.JAVA_LONG);
        FunctionDescriptor shape = FunctionDescriptor.of(ValueLayout.JAVA_LONG, args);
        Linker.Option capture = Linker.Option.captureCallState("errno");
        return variadic ? Linker.nativeLinker().downcallHandle(shape, Linker.Option.firstVariadicArg(1), capture)
                : Linker.nativeLinker().downcallHandle(shape, capture);
    }

    /** How a raw 64-bit result becomes the declared C result. */
    private enum Result { VOID, INT, SHORT, WIDE }

    private final String name;
    private final FunctionDescriptor descriptor;
    private final int arity;
    private final Result result;
    private final boolean variadic;
    private volatile MemorySegment address;

    private Downcall(String name, FunctionDescriptor descriptor, boolean variadic) {
        this.name = name;
        this.descriptor = descriptor;
        this.variadic = variadic;
        this.arity = descriptor.argumentLayouts().size();
        if (arity > MAX_ARGUMENTS) {
            throw new IllegalArgumentException(name + ": " + arity + " arguments, the shared downcall passes "
                    + MAX_ARGUMENTS);
        }
        for (MemoryLayout l : descriptor.argumentLayouts()) {
            if (!integerClass(l)) throw new IllegalArgumentException(name + ": argument " + l + " is not a C integer or pointer");
        }
        this.result = descriptor.returnLayout().map(l -> {
            if (!integerClass(l) || l instanceof ValueLayout.OfByte) {
                throw new IllegalArgumentException(name + ": result " + l + " is not a C short, int, long or pointer");
            }
            return l instanceof ValueLayout.OfInt ? Result.INT : l instanceof ValueLayout.OfShort ? Result.SHORT : Result.WIDE;
        }).orElse(Result.VOID);
    }

    /** The offset of the member {@code name} of {@code struct}, from its members' sizes (padding is a member too). */
    static long offsetOf(StructLayout struct, String name) {
        long offset = 0;
        for (MemoryLayout m : struct.memberLayouts()) {
            if (m.name().isPresent() && m.name().get().equals(name)) return offset;
            offset += m.byteSize();
        }
        throw new IllegalArgumentException(struct + " has no member " + name);
    }

    /** C integers up to 64 bits and pointers: what a general-purpose register carries. */
    private static boolean integerClass(MemoryLayout l) {
        return l instanceof ValueLayout.OfInt || l instanceof ValueLayout.OfLong || l instanceof ValueLayout.OfShort
                || l instanceof ValueLayout.OfByte || l instanceof AddressLayout;
    }

    /**
     * @param name       the C function, looked up in the C library when it is first called
     * @param descriptor its C descriptor in jextract's layouts, variadic arguments included as
     *                   they are passed (checked against the generated {@code Libc.name$descriptor()}
     *                   by DowncallTest, where there is one)
     * @throws IllegalArgumentException if the function does not fit the shared shape
     */
    static Downcall of(String name, FunctionDescriptor descriptor) {
        return new Downcall(name, descriptor, false);
    }

    /**
     * A variadic function ({@code int fcntl(int, int, ...)}), {@code descriptor} with the
     * variadic arguments as they are passed (integers and pointers, promoted to 64 bits).
     */
    static Downcall variadic(String name, FunctionDescriptor descriptor) {
        return new Downcall(name, descriptor, true);
    }

    /** Whether it is called as a variadic function. */
    boolean isVariadic() {
        return variadic;
    }

    /** The C function's name. */
    String name() {
        return name;
    }

    /** Its C descriptor. */
    FunctionDescriptor descriptor() {
        return descriptor;
    }

    /** The function's address in the C library (looked up once). */
    MemorySegment address() {
        MemorySegment a = address;
        if (a == null) {
            a = LIBC.findOrThrow(name);
            address = a;
        }
        return a;
    }

    long call(MemorySegment state) {
        return invoke(0, state, 0, 0, 0, 0, 0, 0);
    }

    long call(MemorySegment state, long a) {
        return invoke(1, state, a, 0, 0, 0, 0, 0);
    }

    long call(MemorySegment state, long a, long b) {
        return invoke(2, state, a, b, 0, 0, 0, 0);
    }

    long call(MemorySegment state, long a, long b, long c) {
        return invoke(3, state, a, b, c, 0, 0, 0);
    }

    long call(MemorySegment state, long a, long b, long c, long d) {
        return invoke(4, state, a, b, c, d, 0, 0);
    }

    long call(MemorySegment state, long a, long b, long c, long d, long e) {
        return invoke(5, state, a, b, c, d, e, 0);
    }

    long call(MemorySegment state, long a, long b, long c, long d, long e, long f) {
        return invoke(6, state, a, b, c, d, e, f);
    }

    private long invoke(int n, MemorySegment state, long a, long b, long c, long d, long e, long f) {
        if (n != arity) {
            throw new IllegalArgumentException(name + " takes " + arity + " arguments, called with " + n);
        }
        long raw;
        try {
            raw = variadic ? (long) SharedVariadic.HANDLE.invokeExact(address(), state, a, b, c, d, e, f)
                    : (long) Shared.HANDLE.invokeExact(address(), state, a, b, c, d, e, f);
        } catch (RuntimeException | Error t) {
            throw t;
        } catch (Throwable t) {
            throw new IllegalStateException("unexpected exception from " + name, t);
        }
        if (result == Result.INT) return (int) raw;
        if (result == Result.SHORT) return (short) raw;
        return result == Result.WIDE ? raw : 0;
    }

    /** A capture-state segment for one or more calls in {@code arena}. */
    static MemorySegment captureState(Arena arena) {
        return arena.allocate(CAPTURE_LAYOUT);
    }

    /** The errno the last call through {@code state} captured. */
    static int errno(MemorySegment state) {
        return state.get(ValueLayout.JAVA_INT, ERRNO_OFFSET);
    }
}
