package dev.einhyrningsins.shell;

import static org.assertj.core.api.Assertions.assertThat;

import dev.einhyrningsins.supervisor.Happening;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class SettleTest {

    static Happening.Status status(int acked, boolean ready) {
        return new Happening.Status(2, 2, acked, 1, false, false, ready);
    }

    @Test
    void settlesWhenFirstUpAfterEveryUpgradeAndAfterControlBursts() {
        AtomicInteger scheduled = new AtomicInteger();
        Settle settle = new Settle(scheduled::incrementAndGet);
        settle.accept(new Happening.Spawned(100, 0, 1, Happening.SpawnReason.START));
        settle.accept(status(1, false));
        assertThat(scheduled).as("not up yet").hasValue(0);
        settle.accept(status(2, true));
        assertThat(scheduled).as("up").hasValue(1);
        settle.accept(status(1, false));
        settle.accept(status(2, true));
        assertThat(scheduled).as("start-up settles once").hasValue(1);
        settle.accept(new Happening.UpgradeEnded(2, "done", "Upgrade done", 1_000_000));
        assertThat(scheduled).as("after an upgrade").hasValue(2);
        settle.burst();
        assertThat(scheduled).as("after a burst of control traffic").hasValue(3);
    }

    /** A clock that only the sleeper moves, threads that run when the test says. */
    static final class Scene {
        long now = 5;
        final List<Runnable> started = new ArrayList<>();
        final List<Long> actedAt = new ArrayList<>();
        final ByteArrayOutputStream logged = new ByteArrayOutputStream();
        final Settle.Debounce debounce = new Settle.Debounce(() -> now, nanos -> now += nanos, started::add,
                () -> actedAt.add(now), new Log(new PrintStream(logged, true, StandardCharsets.UTF_8), 1, 1));
    }

    @Test
    void asksWhileASettlingWaitsMoveItOnAndStartNoOtherThread() {
        Scene s = new Scene();
        long delay = Settle.DELAY.toNanos();
        s.debounce.run();
        s.now += delay / 2;
        s.debounce.run();
        long lastAsk = s.now;
        assertThat(s.started).as("one thread for both asks").hasSize(1);
        s.started.getFirst().run();
        assertThat(s.actedAt).as("once, a DELAY after the last ask").containsExactly(lastAsk + delay);

        s.debounce.run();
        assertThat(s.started).as("an ask after it acted starts another").hasSize(2);
        s.started.get(1).run();
        assertThat(s.actedAt).hasSize(2);
    }

    @Test
    void aThreadThatCannotStartIsLoggedAndTheNextAskTriesAgain() {
        Scene s = new Scene();
        Settle.Debounce failing = new Settle.Debounce(() -> s.now, nanos -> s.now += nanos, r -> {
            throw new OutOfMemoryError("unable to create native thread");
        }, () -> s.actedAt.add(s.now), new Log(new PrintStream(s.logged, true, StandardCharsets.UTF_8), 1, 1));
        failing.run();
        failing.run();
        assertThat(s.logged.toString(StandardCharsets.UTF_8)).as("each failed start logged, none swallowed")
                .contains("unable to create native thread").hasLineCount(2);
    }
}
