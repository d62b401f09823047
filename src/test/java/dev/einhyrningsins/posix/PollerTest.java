package dev.einhyrningsins.posix;

import org.junit.jupiter.api.Test;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** poll plus the wake-up eventfd, on real fds and threads. */
class PollerTest {
    private static final long DEADLINE_MILLIS = 20_000;

    @Test
    void wakeFromAnotherThreadEndsAWaitWithoutATimeout() throws Exception {
        try (Poller poller = new Poller()) {
            assertThat(poller.await(new int[0], new short[0], new short[0], 0, 0)).as("nothing pending").isFalse();
            CompletableFuture<Boolean> woken = new CompletableFuture<>();
            CompletableFuture<Void> polling = new CompletableFuture<>();
            Thread waiter = Thread.ofPlatform().start(() -> {
                polling.complete(null);
                woken.complete(poller.await(new int[0], new short[0], new short[0], 0, -1));
            });
            polling.get(DEADLINE_MILLIS, TimeUnit.MILLISECONDS);
            poller.wake();
            poller.wake();
            assertThat(woken.get(DEADLINE_MILLIS, TimeUnit.MILLISECONDS)).isTrue();
            waiter.join(DEADLINE_MILLIS);
            poller.await(new int[0], new short[0], new short[0], 0, 0); // the second wake, if it came late
            assertThat(poller.await(new int[0], new short[0], new short[0], 0, 0))
                    .as("every wake-up is consumed once").isFalse();
        }
    }

    @Test
    void reportsOnlyTheReadyFdsAndWhatTheyAreReadyFor() {
        int[] quiet = Sockets.socketPair();
        int[] loud = Sockets.socketPair();
        try (Poller poller = new Poller()) {
            Fds.write(loud[1], new byte[]{'x'}, 0, 1);
            short[] revents = new short[3];
            boolean woken = poller.await(new int[]{quiet[0], loud[0], quiet[1]},
                    new short[]{Poller.IN, Poller.IN, Poller.OUT}, revents, 3, 10_000);
            assertThat(woken).isFalse();
            assertThat(revents[0]).isZero();
            assertThat(revents[1] & Poller.IN).isNotZero();
            assertThat(revents[2] & Poller.OUT).as("an empty socket is writable").isNotZero();

            Fds.close(loud[1]);
            loud[1] = -1;
            poller.await(new int[]{loud[0]}, new short[]{Poller.IN}, revents, 1, 10_000);
            assertThat(revents[0] & (Poller.IN | Poller.HUP)).as("peer gone").isNotZero();
        } finally {
            for (int fd : new int[]{quiet[0], quiet[1], loud[0], loud[1]}) {
                if (fd >= 0) Fds.close(fd);
            }
        }
    }

    @Test
    void aWakeAfterCloseTouchesNoFdEvenWhenItsNumberWasReused() {
        Poller closed = new Poller();
        closed.close();
        // the next fd opened takes the closed eventfd's number
        int[] pair = Sockets.socketPair();
        try {
            Fds.setNonBlocking(pair[0]);
            Fds.setNonBlocking(pair[1]);
            closed.wake(); // e.g. a signal arriving while the supervisor shuts down
            closed.close();
            assertThat(Fds.read(pair[1], new byte[8])).as("nothing was written to the reused fd")
                    .isEqualTo(Fds.WOULD_BLOCK);
            assertThat(Fds.read(pair[0], new byte[8])).isEqualTo(Fds.WOULD_BLOCK);
        } catch (PosixException e) {
            throw new AssertionError(e);
        } finally {
            Fds.close(pair[0]);
            Fds.close(pair[1]);
        }
    }
}
