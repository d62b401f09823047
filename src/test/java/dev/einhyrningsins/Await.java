package dev.einhyrningsins;

import java.time.Duration;
import java.util.function.BooleanSupplier;

/** The tests' one way to wait for something outside them: poll a condition until it holds, with a deadline. */
public final class Await {
    /** How long a test waits before it fails. */
    public static final Duration WAIT = Duration.ofSeconds(30);

    private Await() {}

    /**
     * Polls {@code condition} until it holds; fails after {@link #WAIT}. The pause between polls
     * is the polling interval of a deadline-bounded wait, not a synchronisation sleep.
     */
    public static void await(String what, BooleanSupplier condition) {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) throw new AssertionError("timed out waiting for " + what);
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted waiting for " + what, e);
            }
        }
    }
}
