package dev.einhyrningsins.supervisor;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Slots and the orders in which workers go. */
class WorkerPoolTest {

    @Test
    void aNewWorkerGetsTheLowestSlotNoLiveWorkerHolds() {
        WorkerPool pool = new WorkerPool();
        for (int pid = 10; pid < 14; pid++) pool.add(pid, pool.nextSlot(), 1, pid, pid);
        assertThat(pool.all()).extracting(w -> w.slot).containsExactly(0, 1, 2, 3);
        pool.remove(11);
        pool.remove(13);
        assertThat(pool.nextSlot()).isEqualTo(1);
        pool.add(20, pool.nextSlot(), 1, 20, 20);
        assertThat(pool.nextSlot()).isEqualTo(3);
        assertThat(pool.remove(99)).as("not ours").isNull();
    }

    @Test
    void aRetiringWorkerKeepsItsSlotUntilReapedButNoLongerServes() {
        WorkerPool pool = new WorkerPool();
        Worker a = pool.add(1, pool.nextSlot(), 1, 0, 0);
        pool.add(2, pool.nextSlot(), 1, 0, 0);
        a.retire("USR2", 5, 5);
        assertThat(pool.serving()).extracting(w -> w.pid).containsExactly(2);
        assertThat(pool.servingCount()).isEqualTo(1);
        assertThat(pool.nextSlot()).as("a draining worker still holds slot 0").isEqualTo(2);
    }

    @Test
    void countsByAckAndGeneration() {
        WorkerPool pool = new WorkerPool();
        pool.add(1, pool.nextSlot(), 1, 0, 0).ack(1, 1);
        pool.add(2, pool.nextSlot(), 2, 0, 0).ack(1, 1);
        pool.add(3, pool.nextSlot(), 2, 0, 0);
        assertThat(pool.ackedServing()).isEqualTo(2);
        assertThat(pool.unackedServing()).isEqualTo(1);
        assertThat(pool.ackedServing(2)).isEqualTo(1);
        assertThat(pool.serving(2, false)).extracting(w -> w.pid).containsExactly(2, 3);
        assertThat(pool.serving(2, true)).extracting(w -> w.pid).containsExactly(1);
    }

    @Test
    void surplusGoesUnackedFirstThenOlderGenerationsThenTheHighestSlot() {
        WorkerPool pool = new WorkerPool();
        Worker oldAcked = pool.add(1, 0, 1, 0, 0);
        oldAcked.ack(1, 1);
        Worker newAckedLow = pool.add(2, 1, 2, 0, 0);
        newAckedLow.ack(1, 1);
        Worker newAckedHigh = pool.add(3, 2, 2, 0, 0);
        newAckedHigh.ack(1, 1);
        Worker unacked = pool.add(4, 3, 2, 0, 0);
        List<Worker> order = pool.all().stream().sorted(WorkerPool.SURPLUS_ORDER).toList();
        assertThat(order).containsExactly(unacked, oldAcked, newAckedHigh, newAckedLow);
    }

    @Test
    void upgradesRetireTheOldestFirst() {
        WorkerPool pool = new WorkerPool();
        Worker later = pool.add(1, 0, 1, 50, 0);
        Worker earlier = pool.add(2, 1, 1, 10, 0);
        Worker older = pool.add(3, 2, 0, 99, 0);
        assertThat(pool.all().stream().sorted(WorkerPool.OLDEST_FIRST).toList()).containsExactly(older, earlier, later);
    }
}
