package dev.einhyrningsins.posix;

import dev.einhyrningsins.posix.libc.Libc;
import org.junit.jupiter.api.Test;

import java.lang.foreign.FunctionDescriptor;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/** The errno-capturing downcalls: spelled-out descriptors match jextract's, and every one links. */
class DowncallTest {
    /** Every class of the package that declares downcalls. */
    private static final List<Class<?>> DECLARERS = List.of(Child.class, Datagrams.class, Fds.class, Orphans.class,
            Poller.class, Processes.class, Sockets.class, Spawn.class);
    /** Variadic functions: jextract generates an invoker factory for them instead of a descriptor. */
    private static final Set<String> VARIADIC = Set.of("fcntl", "syscall", "prctl");

    @Test
    void descriptorsAreTheGeneratedOnesAndLink() throws Exception {
        List<String> checked = new ArrayList<>();
        for (Downcall d : declared()) {
            if (!VARIADIC.contains(d.name())) {
                Method generated = Libc.class.getMethod(d.name() + "$descriptor");
                assertThat(d.descriptor()).as(d.name()).isEqualTo((FunctionDescriptor) generated.invoke(null));
            }
            assertThat(d.handle()).as(d.name()).isNotNull();
            checked.add(d.name());
        }
        assertThat(checked).contains("socket", "bind", "listen", "poll", "waitid", "close", "fcntl", "syscall", "prctl");
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
