package dev.einhyrningsins.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import dev.einhyrningsins.supervisor.Happening;
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
}
