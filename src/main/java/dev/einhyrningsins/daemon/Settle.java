package dev.einhyrningsins.daemon;

import dev.einhyrningsins.posix.Processes;
import dev.einhyrningsins.supervisor.Happening;
import java.math.BigDecimal;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * After a burst of work — start-up (the first {@link Happening.Status} that is ready: the
 * target number of workers acked), every finished upgrade, and a burst of control traffic
 * ({@link #burst}) — gives back what the burst needed and an idle supervisor does not,
 * {@link #DELAY} after the last of them: a full collection, so the heap
 * shrinks to what is live and the young generation is sized for an idle supervisor (under
 * {@code java -jar}'s G1 the garbage of start-up alone fills tens of MB of regions), then
 * {@code malloc_trim}, for the C heap the JIT compilers and the downcall linker freed (HotSpot
 * hands its compilers' scratch memory back to the C library only every few seconds). One pause
 * of milliseconds, on a short-lived thread of its own.
 */
final class Settle implements Consumer<Happening> {
    /** Long enough for the compilations of the burst to finish and their memory to be freed. */
    static final Duration DELAY = Duration.ofSeconds(10);

    private final Runnable schedule;
    private boolean up;

    /** @param schedule arranges for a settling {@link #DELAY} from now (one that is pending waits until then) */
    Settle(Runnable schedule) {
        this.schedule = schedule;
    }

    /**
     * Settles this process's memory, logging what it gave back (at debug level). One settling
     * at a time: asked again while one waits, it waits until {@link #DELAY} after the last ask.
     */
    static Settle memory(Log log) {
        AtomicLong due = new AtomicLong(); // System.nanoTime() of the pending settling; 0: none
        return new Settle(() -> {
            long when = System.nanoTime() + DELAY.toNanos();
            if (due.getAndSet(when == 0 ? 1 : when) != 0) return;
            Thread.ofPlatform().name("einhyrningsins-settle").daemon(true).start(() -> {
                // The first YAML request (einhorn's Ruby client and einhornsh send nothing
                // else) initialises BigDecimal, which Jackson's parsers refer to: JDK 25's
                // initialiser squares its way up to 5^65536, 2.2 MB of garbage and C2
                // compilations of BigInteger's arithmetic. Done here, a settling ahead of the
                // collection and the trim (the compilations finished and their memory freed by
                // then), both are given back; done at that request, they stay (java -jar's growth
                // under a burst of control lines 12.9 -> 10.0 MB; idle RSS +0.6 MB).
                BigDecimal.ONE.signum();
                try {
                    while (true) {
                        long d = due.get();
                        long wait = d - System.nanoTime();
                        if (wait > 0) {
                            TimeUnit.NANOSECONDS.sleep(wait);
                        } else if (due.compareAndSet(d, 0)) {
                            break;
                        }
                    }
                } catch (InterruptedException e) {
                    return;
                }
                settle(log);
            });
        });
    }

    private static void settle(Log log) {
        Runtime rt = Runtime.getRuntime();
        long before = rt.totalMemory();
        System.gc();
        boolean trimmed = Processes.trimNativeHeap();
        log.debug("Settled: heap " + (before >> 10) + " -> " + (rt.totalMemory() >> 10) + " KiB committed"
                + (trimmed ? ", freed C heap returned to the OS" : ""));
    }

    /** A burst of control traffic has been served (the control server counts it). */
    void burst() {
        schedule.run();
    }

    @Override
    public void accept(Happening h) {
        if (h instanceof Happening.Status s && s.ready() && !up) {
            up = true;
            schedule.run();
        } else if (h instanceof Happening.UpgradeEnded) {
            schedule.run();
        }
    }
}
