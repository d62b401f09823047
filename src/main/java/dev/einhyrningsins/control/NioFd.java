package dev.einhyrningsins.control;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.nio.channels.Channel;

/**
 * The fd number of a NIO channel, so that the loop's {@code poll} can wait on the control
 * socket together with the workers' pidfds, and a reload can name the fds it hands over.
 * NIO has no public accessor; its own selectors use {@code sun.nio.ch.SelChImpl.getFDVal()},
 * which every socket channel implements, exported to us by
 * {@code --add-exports java.base/sun.nio.ch=ALL-UNNAMED} (the jar's manifest carries it as
 * {@code Add-Exports}, the launchers pass it).
 */
final class NioFd {
    private NioFd() {
    }

    /** Shown when the export is missing: how to run the supervisor instead. */
    static final String NEEDS = "the supervisor needs --add-exports java.base/sun.nio.ch=ALL-UNNAMED"
            + " (java -jar and the launchers pass it; add it to a java -cp command line)";

    private static final class Accessor {
        static final MethodHandle GET_FD_VAL = find();

        private static MethodHandle find() {
            try {
                Class<?> selChImpl = Class.forName("sun.nio.ch.SelChImpl");
                return MethodHandles.lookup().findVirtual(selChImpl, "getFDVal", MethodType.methodType(int.class));
            } catch (ReflectiveOperationException | IllegalAccessError | SecurityException e) {
                return null;
            }
        }
    }

    /**
     * The channel's fd.
     *
     * @throws IllegalStateException if NIO's accessor cannot be reached ({@link #NEEDS})
     */
    static int of(Channel ch) {
        MethodHandle h = Accessor.GET_FD_VAL;
        if (h == null) throw new IllegalStateException(NEEDS);
        try {
            return (int) h.invoke(ch);
        } catch (Throwable e) {
            throw new IllegalStateException("cannot read the fd of " + ch + ": " + e + "; " + NEEDS, e);
        }
    }
}
