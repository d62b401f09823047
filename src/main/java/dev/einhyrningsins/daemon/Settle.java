package dev.einhyrningsins.daemon;

import dev.einhyrningsins.posix.Processes;
import dev.einhyrningsins.supervisor.Happening;
import java.time.Duration;
import java.util.function.Consumer;

/**
 * After a burst of work — start-up (the first {@link Happening.Status} that is ready: the
 * target number of workers acked) and every finished upgrade — gives back what the burst
 * needed and an idle supervisor does not, {@link #DELAY} later: a full collection, so the heap
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

    /** @param schedule arranges for one settling, {@link #DELAY} from now */
    Settle(Runnable schedule) {
        this.schedule = schedule;
    }

    /** Settles this process's memory, logging what it gave back (at debug level). */
    static Settle memory(Log log) {
        return new Settle(() -> Thread.ofPlatform().name("einhyrningsins-settle").daemon(true).start(() -> {
            try {
                Thread.sleep(DELAY);
            } catch (InterruptedException e) {
                return;
            }
            Runtime rt = Runtime.getRuntime();
            long before = rt.totalMemory();
            System.gc();
            boolean trimmed = Processes.trimNativeHeap();
            log.debug("Settled: heap " + (before >> 10) + " -> " + (rt.totalMemory() >> 10) + " KiB committed"
                    + (trimmed ? ", freed C heap returned to the OS" : ""));
        }));
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
