package dev.einhyrningsins.shell;

import dev.einhyrningsins.posix.Processes;
import dev.einhyrningsins.supervisor.Happening;
import java.math.BigDecimal;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.LongSupplier;

/**
 * After a burst of work — start-up (the first {@link Happening.Status} that is ready: the
 * target number of workers acked), every finished upgrade, and every 128 KiB of control
 * traffic ({@link #burst}) — gives back what the burst needed and an idle supervisor does not,
 * {@link #DELAY} after the last of them: a full collection, so the heap
 * shrinks to what is live and the young generation is sized for an idle supervisor (under
 * {@code java -jar}'s G1 the garbage of start-up alone fills tens of MB of regions), then
 * {@code malloc_trim}, for the C heap the JIT compilers and the downcall linker freed (HotSpot
 * hands its compilers' scratch memory back to the C library only every few seconds). One pause
 * of milliseconds, on a short-lived thread of its own.
 */
public final class Settle implements Consumer<Happening> {
    /** Long enough for the compilations of the burst to finish and their memory to be freed. */
    static final Duration DELAY = Duration.ofSeconds(10);

    private final Runnable schedule;
    private boolean up;

    /** @param schedule arranges for a settling {@link #DELAY} from now (one that is pending waits until then) */
    Settle(Runnable schedule) {
        this.schedule = schedule;
    }

    /**
     * Settles this process's memory, logging what it gave back (at debug level).
     * {@code leanFlags}: the JVM was started with the image launcher's flags (java -jar's lean
     * start), so the heap's free share needs no setting at run time. One settling
     * at a time: asked again while one waits, it waits until {@link #DELAY} after the last ask.
     */
    public static Settle memory(Log log, boolean leanFlags) {
        return new Settle(new Debounce(System::nanoTime, TimeUnit.NANOSECONDS::sleep,
                waiting -> Thread.ofPlatform().name("einhyrningsins-settle").daemon(true).start(() -> {
                    // The first YAML request (einhorn's Ruby client and einhornsh send nothing
                    // else) initialises BigDecimal, which Jackson's parsers refer to: JDK 25's
                    // initialiser squares its way up to 5^65536, 2.2 MB of garbage and C2
                    // compilations of BigInteger's arithmetic. Done here, a settling ahead of the
                    // collection and the trim (the compilations finished and their memory freed
                    // by then), both are given back; done at that request, they stay (java -jar's
                    // growth under a burst of control lines 12.9 -> 10.0 MB; idle RSS +0.6 MB).
                    BigDecimal.ONE.signum();
                    waiting.run();
                }), () -> settle(log, leanFlags), log));
    }

    /**
     * Asked to, runs {@code action} once {@link #DELAY} has passed since the last time it was
     * asked: the first ask starts a thread (through {@code starter}) that waits, and asks while
     * it waits move the time on; an ask after it stopped waiting starts another. A thread that
     * cannot be started (a full process table) is logged and the next ask tries again.
     */
    static final class Debounce implements Runnable {
        interface Sleeper {
            void sleep(long nanos) throws InterruptedException;
        }

        private final AtomicLong due = new AtomicLong(); // the clock's time to run at; 0: none waiting
        private final LongSupplier clock;
        private final Sleeper sleeper;
        private final Consumer<Runnable> starter;
        private final Runnable action;
        private final Log log;

        Debounce(LongSupplier clock, Sleeper sleeper, Consumer<Runnable> starter, Runnable action, Log log) {
            this.clock = clock;
            this.sleeper = sleeper;
            this.starter = starter;
            this.action = action;
            this.log = log;
        }

        @Override
        public void run() {
            long when = clock.getAsLong() + DELAY.toNanos();
            if (due.getAndSet(when == 0 ? 1 : when) != 0) return;
            try {
                starter.accept(this::waitAndAct);
            } catch (RuntimeException | Error e) {
                due.set(0);
                log.warn("Cannot settle memory after a burst of work: " + e);
            }
        }

        private void waitAndAct() {
            try {
                while (true) {
                    long d = due.get();
                    long wait = d - clock.getAsLong();
                    if (wait > 0) {
                        sleeper.sleep(wait);
                    } else if (due.compareAndSet(d, 0)) {
                        break;
                    }
                }
            } catch (InterruptedException e) {
                due.set(0);
                return;
            }
            action.run();
        }
    }

    /**
     * At most this much of the heap stays free after a settling's collection (and at least
     * {@link #MIN_HEAP_FREE_PERCENT}): the heap a burst of traffic grew is given back. The image's
     * launcher passes them as flags, and so does java -jar's lean start; under a {@code java -jar}
     * with JVM options of the caller's own (no flags of ours) the first settling
     * sets them through HotSpot's diagnostic MXBean, where they are manageable.
     */
    static final int MAX_HEAP_FREE_PERCENT = 30;
    static final int MIN_HEAP_FREE_PERCENT = 10;
    private static volatile boolean heapBounded;

    private static void boundHeap(Log log, boolean leanFlags) {
        if (heapBounded) return;
        heapBounded = true;
        // the image (its launcher's flags), or java -jar started again with them
        if (leanFlags || ModuleLayer.boot().findModule("jdk.management").isEmpty()) return;
        try {
            HeapFreeRatios.set(MIN_HEAP_FREE_PERCENT, MAX_HEAP_FREE_PERCENT);
        } catch (RuntimeException | LinkageError e) {
            log.debug("Cannot bound the heap's free share: " + e);
        }
    }

    /** Loaded only where module jdk.management is. */
    private static final class HeapFreeRatios {
        static void set(int min, int max) {
            var bean = java.lang.management.ManagementFactory.getPlatformMXBean(com.sun.management.HotSpotDiagnosticMXBean.class);
            // the minimum first: it may never be above the maximum
            if (Integer.parseInt(bean.getVMOption("MaxHeapFreeRatio").getValue()) > max) {
                bean.setVMOption("MinHeapFreeRatio", Integer.toString(min));
                bean.setVMOption("MaxHeapFreeRatio", Integer.toString(max));
            }
        }
    }

    private static void settle(Log log, boolean leanFlags) {
        boundHeap(log, leanFlags);
        Runtime rt = Runtime.getRuntime();
        long before = rt.totalMemory();
        System.gc();
        boolean trimmed = Processes.trimNativeHeap();
        log.debug("Settled: heap " + (before >> 10) + " -> " + (rt.totalMemory() >> 10) + " KiB committed"
                + (trimmed ? ", freed C heap returned to the OS" : ""));
    }

    /** Another {@code ControlServer.BURST_BYTES} of control traffic has been read. */
    public void burst() {
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
