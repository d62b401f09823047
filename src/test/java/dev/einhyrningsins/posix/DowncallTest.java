package dev.einhyrningsins.posix;

import dev.einhyrningsins.posix.libc.Libc;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.StructLayout;
import java.lang.foreign.MemorySegment;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The downcalls: declared descriptors are jextract's, all fit the one shared handle, and results keep their C type. */
class DowncallTest {
    /** Every class of the package that declares downcalls. */
    private static final List<Class<?>> DECLARERS = List.of(Child.class, Datagrams.class, Fds.class, Names.class,
            Orphans.class, Poller.class, Processes.class, Signals.class, Sockets.class, Spawn.class);
    /** Variadic functions: jextract generates an invoker factory for them instead of a descriptor. */
    private static final Set<String> VARIADIC = Set.of("fcntl", "syscall", "prctl");

    @Test
    void descriptorsAreTheGeneratedOnesAndEveryFunctionIsThere() throws Exception {
        List<String> checked = new ArrayList<>();
        for (Downcall d : declared()) {
            assertThat(d.isVariadic()).as("%s is variadic", d.name()).isEqualTo(VARIADIC.contains(d.name()));
            if (!VARIADIC.contains(d.name())) {
                Method generated = Libc.class.getMethod(d.name() + "$descriptor");
                assertThat(d.descriptor()).as(d.name()).isEqualTo((FunctionDescriptor) generated.invoke(null));
            }
            assertThat(d.address().address()).as(d.name()).isNotZero();
            checked.add(d.name());
        }
        assertThat(checked).contains("socket", "bind", "listen", "poll", "waitid", "close", "fcntl", "syscall", "prctl",
                "posix_spawn", "posix_spawnattr_setflags", "signal", "strerror");
    }

    @Test
    void intResultsAreSignExtendedFromTheirLow32Bits() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = Downcall.captureState(arena);
            // labs returns its argument whole; declared as returning an int, only the low half counts
            Downcall lowHalf = Downcall.of("labs", FunctionDescriptor.of(Libc.C_INT, Libc.C_LONG));
            assertThat(lowHalf.call(st, 0x1_FFFF_FFFFL)).isEqualTo(-1L);
            assertThat(lowHalf.call(st, 0x7_0000_0005L)).isEqualTo(5L);
            Downcall whole = Downcall.of("labs", FunctionDescriptor.of(Libc.C_LONG, Libc.C_LONG));
            assertThat(whole.call(st, 0x1_FFFF_FFFFL)).isEqualTo(0x1_FFFF_FFFFL);
            // close(-1): int -1, EBADF
            assertThat(Fds.CLOSE.call(st, -1)).isEqualTo(-1L);
            assertThat(Downcall.errno(st)).isEqualTo(Libc.EBADF());
        }
    }

    @Test
    void errnoIsFoundInTheCaptureStateWithoutALayoutPath() {
        StructLayout capture = Linker.Option.captureStateLayout();
        assertThat(Downcall.offsetOf(capture, "errno")).isEqualTo(capture.byteOffset(groupElement("errno")));
        assertThatThrownBy(() -> Downcall.offsetOf(capture, "nope")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void aCallWithTheWrongNumberOfArgumentsThrows() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = Downcall.captureState(arena);
            assertThatThrownBy(() -> Fds.CLOSE.call(st, 3, 4))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("close takes 1 arguments, called with 2");
        }
    }

    @Test
    void functionsThatDoNotFitTheSharedShapeAreRefused() {
        assertThatThrownBy(() -> Downcall.of("ldexp", FunctionDescriptor.of(Libc.C_DOUBLE, Libc.C_DOUBLE, Libc.C_INT)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not a C integer or pointer");
        assertThatThrownBy(() -> Downcall.of("toupper_l", FunctionDescriptor.of(Libc.C_CHAR, Libc.C_INT)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("is not a C short, int, long or pointer");
        assertThatThrownBy(() -> Downcall.of("seven", FunctionDescriptor.of(Libc.C_INT, Libc.C_INT, Libc.C_INT,
                Libc.C_INT, Libc.C_INT, Libc.C_INT, Libc.C_INT, Libc.C_INT)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("7 arguments");
    }

    private static List<Downcall> declared() throws IllegalAccessException {
        List<Downcall> all = new ArrayList<>();
        for (Class<?> c : DECLARERS) {
            for (Field f : c.getDeclaredFields()) {
                if (f.getType() == Downcall.class && Modifier.isStatic(f.getModifiers())) {
                    f.setAccessible(true);
                    all.add((Downcall) f.get(null));
                }
            }
        }
        return all;
    }
}
