package dev.einhyrningsins.reload;

import static org.assertj.core.api.Assertions.assertThat;

import dev.einhyrningsins.control.ReplyTo;
import dev.einhyrningsins.shell.Children;
import dev.einhyrningsins.shell.Log;
import dev.einhyrningsins.shell.Loop;
import dev.einhyrningsins.supervisor.Config;
import dev.einhyrningsins.supervisor.Event;
import dev.einhyrningsins.supervisor.Settings;
import dev.einhyrningsins.supervisor.Supervisor;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The loop as a reload uses it: a reload runs in the loop's timers, and when its exec fails it
 * queues the signals it carried (and an upgrade that waited for it) from there, on the loop
 * thread, which writes no wake-up. They must be handled at once, even when the core has no
 * deadline at all (the poll would otherwise wait for ever).
 */
class LoopQueueTest {
    @Test
    void anEventATimerQueuesOnTheLoopThreadIsHandledWithoutADeadlineToWakeTheLoop() throws Exception {
        Log log = new Log(new PrintStream(new ByteArrayOutputStream()), 1, 0);
        // one (fake) worker that never acks, no ack timeout: nothing in the core has a deadline
        Config config = Config.defaults(2).with(Settings.Setting.ACK_MODE, new Config.AckMode.Manual());
        Supervisor sup = new Supervisor(config, new CoreOs(System::nanoTime, () -> 9000, log, null), "test", Map.of("pid", 42));
        CountDownLatch answered = new CountDownLatch(1);
        ReplyTo client = (message, last, ok) -> answered.countDown();
        long[] deadline = new long[1];
        try (Children children = new Children(); Loop loop = new Loop(children, log)) {
            loop.at(System.nanoTime(), () -> loop.post(new Event.Command("ehlo", null, null, null, null, false, client)));
            Thread runner = Thread.ofPlatform().daemon().start(() -> loop.run(sup, () -> deadline[0] = sup.nanosToNextDeadline()));
            boolean handled = answered.await(10, TimeUnit.SECONDS);
            // the end, from this thread (a wake-up): TERM signals the worker, its exit finishes the stop
            loop.post(new Event.SignalReceived("TERM"));
            loop.post(new Event.ChildExited(9000, false, "killed by SIGUSR2", true, 12));
            runner.join(TimeUnit.SECONDS.toMillis(10));
            assertThat(runner.isAlive()).as("the loop ended").isFalse();
            assertThat(deadline[0]).as("the core had no deadline: only the queued event kept the poll from waiting for ever")
                    .isEqualTo(Long.MAX_VALUE);
            assertThat(handled).as("the timer's event was handled without waiting in poll").isTrue();
        }
    }
}
