package dev.einhyrningsins.shell;

import dev.einhyrningsins.posix.Fds;
import dev.einhyrningsins.posix.Pollable;
import dev.einhyrningsins.posix.Poller;
import dev.einhyrningsins.posix.Signals;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import sun.misc.Signal;

/**
 * How the supervisor's own signals reach the loop, so that none is ever lost or fatal —
 * across a reload's exec included. Two ways, chosen per signal at start:
 *
 * <ul>
 *   <li><b>In the kernel</b>: a signal every thread of the process blocks (the image launcher
 *       starts the JVM so, a plain {@code java -jar} starts itself again so ({@code
 *       reload.LeanStart}), and a reload's exec leaves the new process so) waits in the kernel
 *       and is read by the loop from a signalfd ({@link #ready}). Nothing can take it in
 *       between, and an exec keeps it pending: the next process reads it.</li>
 *   <li><b>Through the JVM</b> (a {@code java -jar} given JVM options of its own, whose JVM
 *       threads do not block them): {@code sun.misc.Signal} handlers hand the name to the loop. An ignored HUP,
 *       INT or TERM (nohup, a background job) gets the JVM's handler copied from one it did
 *       install, never passing through SIG_DFL.</li>
 * </ul>
 *
 * <p>At a reload's exec the signals taken through the JVM are blocked in the loop thread, which
 * becomes the next process's only thread ({@link #blockForExec}), and right before
 * {@code execve} HUP, INT and TERM are ignored ({@link #ignoreForExec}: the JVM starting up
 * then neither dies of them nor unblocks them): the next process reads every one of them from
 * the kernel. Those the JVM's handlers took meanwhile are carried by the caller (the loop's
 * queue, into the hand-over).
 * QUIT stays the JVM's thread dump; USR2 is available only when the JVM was started with
 * _JAVA_SR_SIGNUM moved off it (the launchers and the lean start do that).
 */
public final class SignalIntake implements Pollable {
    /** Signals the supervisor takes; USR2 only when the JVM leaves it free (_JAVA_SR_SIGNUM). */
    public static final List<String> SIGNALS = List.of("TERM", "INT", "HUP", "USR2", "TTIN", "TTOU");
    /** The signals the JVM keeps for itself when they are not ignored at its start: {@link Signals}' "shutdown" set. */
    public static final List<String> JVM_SHUTDOWN = List.of("HUP", "INT", "TERM");
    /** At most this many signals are read from the signalfd in one wake-up. */
    private static final int READ_CAP = 64;

    private final Consumer<String> sink;
    /** Number to name, for those that wait in the kernel. */
    private final Map<Integer, String> inKernel = new LinkedHashMap<>();
    /** Number to name, for those the JVM's handlers take. */
    private final Map<Integer, String> throughJvm = new LinkedHashMap<>();
    private final List<Signals.Disposition> saved = new ArrayList<>();
    private int fd = -1;
    private boolean closed;

    private SignalIntake(Consumer<String> sink) {
        this.sink = sink;
    }

    /**
     * Takes {@code names} from now on, each one handed to {@code sink} by name.
     *
     * @param quiet do not log signals found ignored (a reload ignores them on purpose)
     */
    public static SignalIntake install(List<String> names, Consumer<String> sink, Log log, boolean quiet) {
        SignalIntake intake = new SignalIntake(sink);
        long ignored = ignoredAtStart();
        long blocked = Signals.blockedInEveryThread();
        List<Signal> ignoredShutdown = new ArrayList<>();
        Signals.Disposition jvmHandler = null;
        for (String name : names) {
            Signal signal;
            try {
                signal = new Signal(name); // the number from the JVM: no C library name table on the start path
            } catch (IllegalArgumentException e) {
                log.debug("SIG" + name + " is not available to the supervisor (" + e.getMessage() + ")");
                continue;
            }
            int number = signal.getNumber();
            if (Signals.has(blocked, number)) {
                intake.inKernel.put(number, name);
                continue;
            }
            try {
                Signal.handle(signal, sig -> sink.accept(name));
            } catch (IllegalArgumentException e) {
                log.debug("SIG" + name + " is not available to the supervisor (" + e.getMessage() + ")");
                continue;
            }
            intake.throughJvm.put(number, name);
            Signals.Disposition now = Signals.disposition(number);
            if (now.ignored()) {
                // the JVM leaves an ignored HUP, INT or TERM ignored (a background job of a
                // non-interactive shell ignores INT, nohup ignores HUP): the operator's kill
                // would do nothing, so it gets the JVM's handler below
                ignoredShutdown.add(signal);
                if (!quiet && (ignored & (1L << (number - 1))) != 0) {
                    log.info("SIG" + name + " was ignored when einhyrningsins started; handling it anyway");
                }
            } else if (!now.byDefault() && jvmHandler == null) {
                jvmHandler = now;
            }
        }
        if (!ignoredShutdown.isEmpty()) {
            if (jvmHandler == null) jvmHandler = jvmHandler();
            for (Signal s : ignoredShutdown) Signals.copy(jvmHandler, s.getNumber());
        }
        if (!intake.inKernel.isEmpty()) {
            intake.fd = Signals.signalfd(intake.inKernel.keySet().stream().mapToInt(Integer::intValue).toArray());
        }
        return intake;
    }

    /** The JVM's own signal handler, as installed for a signal nobody uses (WINCH, ignored by default). */
    private static Signals.Disposition jvmHandler() {
        Signal.handle(new Signal("WINCH"), sig -> { });
        return Signals.disposition(new Signal("WINCH").getNumber());
    }

    /** SigIgn of /proc/self/status: the signals this process inherited as ignored. */
    static long ignoredAtStart() {
        try {
            return Signals.maskOf(Path.of("/proc/self/status"), "SigIgn:");
        } catch (IOException | NumberFormatException e) {
            return 0; // not Linux-like: nothing known to be ignored
        }
    }

    /** The signals read from the kernel (a signalfd), by name. */
    public List<String> inKernel() {
        return List.copyOf(inKernel.values());
    }

    /** The signals taken through the JVM's handlers, by name. */
    public List<String> throughJvm() {
        return List.copyOf(throughJvm.values());
    }

    // ------------------------------------------------------------------ the signalfd, polled by the loop

    @Override
    public int fd() {
        return fd;
    }

    @Override
    public short events() {
        return Poller.IN;
    }

    @Override
    public void ready(short revents) {
        for (int number : Signals.read(fd, READ_CAP)) {
            String name = inKernel.get(number);
            if (name != null) sink.accept(name);
        }
    }

    @Override
    public boolean closed() {
        return closed || fd < 0;
    }

    @Override
    public void close() {
        if (!closed && fd >= 0) Fds.closeQuietly(fd);
        closed = true;
    }

    /** Adds the signalfd to what the loop polls (if any signal waits in the kernel). */
    public void pollables(List<Pollable> out) {
        if (!closed()) out.add(this);
    }

    // ------------------------------------------------------------------ a reload's exec

    /**
     * Early in a reload's exec, on the loop thread: the signals taken through the JVM are
     * blocked in this thread, which the exec makes the next process's only thread (and the JVM
     * leaves its mask to every thread it starts). Until {@link #ignoreForExec} the JVM's other
     * threads still take them and hand them to the loop's queue. The signals already in the
     * kernel need nothing: they stay blocked everywhere and wait for the next process.
     */
    public void blockForExec() {
        if (!throughJvm.isEmpty()) Signals.block(throughJvm.keySet().stream().mapToInt(Integer::intValue).toArray());
    }

    /**
     * The last step before {@code execve}: HUP, INT and TERM taken through the JVM are ignored,
     * so that the next JVM neither dies of one nor unblocks them while it starts. Ignoring
     * discards one that arrives from now until the exec at another thread: the microseconds of
     * a plain {@code java -jar}'s first reload; a JVM started with them blocked loses none.
     */
    public void ignoreForExec() {
        for (Map.Entry<Integer, String> e : throughJvm.entrySet()) {
            if (JVM_SHUTDOWN.contains(e.getValue())) saved.add(Signals.ignore(e.getKey()));
        }
    }

    /** The exec did not happen: the JVM's handlers go back, whole, and the loop thread takes signals again. */
    public void afterFailedExec() {
        for (Signals.Disposition d : saved) Signals.restore(d);
        saved.clear();
        if (!throughJvm.isEmpty()) Signals.unblock(throughJvm.keySet().stream().mapToInt(Integer::intValue).toArray());
    }
}
