package dev.einhyrningsins.checks;

import static org.assertj.core.api.Assertions.assertThat;

import dev.einhyrningsins.posix.Pollable;
import dev.einhyrningsins.posix.Poller;
import dev.einhyrningsins.shell.Children;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import java.util.function.BooleanSupplier;

/** The loop's wake-ups over what {@link Children} has to poll (helper processes, channels), for tests without a supervisor. */
final class Wakeups {
    private Wakeups() {}

    /**
     * Waits for readiness and hands each ready pollable to {@code ready}, as the loop does,
     * until {@code done} holds; fails after 20 s.
     */
    static void until(String what, Children children, BooleanSupplier done, BiConsumer<Pollable, Short> ready) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        try (Poller poller = new Poller()) {
            while (!done.getAsBoolean()) {
                assertThat(System.nanoTime()).as("waiting for " + what).isLessThan(deadline);
                List<Pollable> ps = new java.util.ArrayList<>();
                children.attached(ps);
                int n = ps.size();
                int[] fds = new int[n];
                short[] in = new short[n];
                short[] out = new short[n];
                for (int i = 0; i < n; i++) {
                    fds[i] = ps.get(i).fd();
                    in[i] = ps.get(i).events();
                }
                poller.await(fds, in, out, n, 100);
                for (int i = 0; i < n; i++) if (out[i] != 0 && !ps.get(i).closed()) ready.accept(ps.get(i), out[i]);
            }
        }
    }

    /** {@link #until} with each ready pollable's own {@code ready}. */
    static void until(String what, Children children, BooleanSupplier done) {
        until(what, children, done, Pollable::ready);
    }
}
