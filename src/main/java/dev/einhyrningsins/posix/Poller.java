package dev.einhyrningsins.posix;

import dev.einhyrningsins.posix.libc.Libc;
import dev.einhyrningsins.posix.libc.pollfd;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static dev.einhyrningsins.posix.Downcall.captureState;
import static dev.einhyrningsins.posix.Downcall.errno;
import static dev.einhyrningsins.posix.PosixException.failure;

/**
 * {@code poll(2)} over a caller's fds plus a wake-up eventfd that any thread may write.
 * One thread waits ({@link #await}); others {@link #wake} it. The pollfd buffer and the
 * error slot are reused and filled by offset: a wait allocates no native memory and no
 * slice per fd. After {@link #close}, {@code wake} does nothing: a late signal handler never
 * writes to a closed (or reused) fd.
 */
public final class Poller implements AutoCloseable {
    public static final short IN = (short) Libc.POLLIN();
    public static final short OUT = (short) Libc.POLLOUT();
    /** revents bits meaning "look at this fd": readable, writable, hung up, error, not open. */
    public static final short HUP = (short) (Libc.POLLHUP() | Libc.POLLERR() | Libc.POLLNVAL());

    private static final Downcall EVENTFD = Downcall.of("eventfd",
            FunctionDescriptor.of(Libc.C_INT, Libc.C_INT, Libc.C_INT));
    private static final Downcall POLL = Downcall.of("poll",
            FunctionDescriptor.of(Libc.C_INT, Libc.C_POINTER, Libc.C_LONG, Libc.C_INT));

    private static final long SIZE = pollfd.sizeof();
    private static final long FD = pollfd.fd$offset();
    private static final long EVENTS = pollfd.events$offset();
    private static final long REVENTS = pollfd.revents$offset();

    private final Arena arena = Arena.ofAuto();
    private final MemorySegment state = captureState(arena);
    private final MemorySegment counter = arena.allocate(ValueLayout.JAVA_LONG);
    private final int wakeFd;
    private MemorySegment pollfds = MemorySegment.NULL;
    private int capacity;
    private boolean closed;

    /** {@code eventfd(0, EFD_CLOEXEC|EFD_NONBLOCK)} as the wake-up fd. */
    public Poller() {
        int fd = (int) EVENTFD.call(state, 0, Libc.EFD_CLOEXEC() | Libc.EFD_NONBLOCK());
        if (fd < 0) {
            throw failure("eventfd", state);
        }
        wakeFd = fd;
    }

    /** Wakes the waiting thread (any thread; a no-op after close). */
    public synchronized void wake() {
        if (closed) {
            return;
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = captureState(a);
            MemorySegment one = a.allocateFrom(ValueLayout.JAVA_LONG, 1L);
            while (Fds.WRITE.call(st, wakeFd, one.address(), 8L) < 0) {
                int e = errno(st);
                if (e == Libc.EAGAIN()) {
                    return; // the counter is full: a wake-up is pending anyway
                }
                if (e != Libc.EINTR()) {
                    throw failure("write eventfd " + wakeFd, st);
                }
            }
        }
    }

    /**
     * Waits up to {@code timeoutMillis} (-1: no limit) until one of {@code fds[0..n)} has
     * one of {@code events[i]} (plus hang-up/error, always reported), or {@link #wake} was
     * called. {@code revents[i]} gets what happened; an fd that is not open is reported as
     * {@code POLLNVAL} so the caller's next call on it fails loudly instead of spinning.
     * Blocks: call it from a platform thread.
     *
     * @return true if {@link #wake} was called (the wake-up is consumed)
     */
    public boolean await(int[] fds, short[] events, short[] revents, int n, int timeoutMillis) {
        if (n + 1 > capacity) {
            capacity = Math.max(n + 1, capacity * 2);
            pollfds = pollfd.allocateArray(capacity, arena);
        }
        set(0, wakeFd, IN);
        for (int i = 0; i < n; i++) {
            set(i + 1, fds[i], events[i]);
        }
        MemorySegment p = pollfds;
        long count = n + 1L;
        int ready = (int) POLL.call(state, p.address(), count, timeoutMillis);
        if (ready < 0 && errno(state) != Libc.EINTR()) {
            throw failure("poll", state);
        }
        for (int i = 0; i < n; i++) {
            revents[i] = ready > 0 ? pollfds.get(ValueLayout.JAVA_SHORT, (i + 1L) * SIZE + REVENTS) : 0;
        }
        boolean woken = ready > 0 && pollfds.get(ValueLayout.JAVA_SHORT, REVENTS) != 0;
        if (woken) {
            drain();
        }
        return woken;
    }

    /**
     * Waits up to {@code timeoutMillis} for {@code fd} to be readable (or hung up): a single fd,
     * without a Poller (a pidfd waited for on a way out).
     */
    public static boolean readable(int fd, int timeoutMillis) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = captureState(a);
            MemorySegment one = pollfd.allocate(a);
            one.set(ValueLayout.JAVA_INT, FD, fd);
            one.set(ValueLayout.JAVA_SHORT, EVENTS, IN);
            int ready;
            while ((ready = (int) POLL.call(st, one.address(), 1L, timeoutMillis)) < 0) {
                if (errno(st) != Libc.EINTR()) throw failure("poll", st);
            }
            return ready > 0;
        }
    }

    /** Fills pollfd {@code index} by offset (a slice per fd would be garbage on every wake-up). */
    private void set(long index, int fd, short events) {
        long at = index * SIZE;
        pollfds.set(ValueLayout.JAVA_INT, at + FD, fd);
        pollfds.set(ValueLayout.JAVA_SHORT, at + EVENTS, events);
        pollfds.set(ValueLayout.JAVA_SHORT, at + REVENTS, (short) 0);
    }

    /** Resets the eventfd counter: reads until EAGAIN. */
    private void drain() {
        while (true) {
            if (Fds.READ.call(state, wakeFd, counter.address(), 8L) < 0) {
                int e = errno(state);
                if (e == Libc.EAGAIN()) {
                    return;
                }
                if (e != Libc.EINTR()) {
                    throw failure("read eventfd " + wakeFd, state);
                }
            }
        }
    }

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            Fds.closeQuietly(wakeFd);
        }
    }
}
