package dev.einhyrningsins.supervisor;

import dev.einhyrningsins.DoNotMutate;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The live (unreaped) workers by pid, in spawn order, and their slots: a new worker gets the
 * lowest slot no live worker holds (EINHORN_CHILD_INDEX), so no two live workers share one.
 */
final class WorkerPool {
    // Written out: Comparator.comparing and its kin spin their lambdas at run time (the AOT
    // cache does not keep them), a few ms of every start.
    /** Workers that are not {@link Worker#healthy() healthy} (unacked, sick) before those that are. */
    static final Comparator<Worker> UNHEALTHY_FIRST = (a, b) -> Boolean.compare(a.healthy(), b.healthy());
    /** The order in which surplus workers go: unacked or sick first, then older generations, then the highest slot. */
    static final Comparator<Worker> SURPLUS_ORDER = (a, b) -> {
        int c = UNHEALTHY_FIRST.compare(a, b);
        if (c == 0) c = Integer.compare(a.generation, b.generation);
        return c != 0 ? c : Integer.compare(b.slot, a.slot);
    };
    /** The order in which an upgrade retires old workers: oldest generation, then oldest spawn. */
    static final Comparator<Worker> OLDEST_FIRST = (a, b) -> {
        int c = Integer.compare(a.generation, b.generation);
        return c != 0 ? c : Long.compare(a.spawnedAt, b.spawnedAt);
    };

    private final Map<Integer, Worker> byPid = new LinkedHashMap<>();
    private final BitSet slots = new BitSet();

    /** The slot the next worker gets. */
    int nextSlot() {
        return slots.nextClearBit(0);
    }

    Worker add(int pid, int slot, int generation, long at, long wall) {
        Worker w = new Worker(pid, slot, generation, at, wall);
        byPid.put(pid, w);
        slots.set(slot);
        return w;
    }

    /** Puts back a worker a previous supervisor process handed over. */
    void restore(Worker w) {
        byPid.put(w.pid, w);
        slots.set(w.slot);
    }

    /** Forgets a reaped worker and frees its slot; null if the pid is not ours. */
    Worker remove(int pid) {
        Worker w = byPid.remove(pid);
        if (w != null) slots.clear(w.slot);
        return w;
    }

    Worker get(int pid) {
        return byPid.get(pid);
    }

    @DoNotMutate("defensive: no timer removes a worker from the pool while tick() fires them")
    boolean contains(Worker w) {
        return byPid.get(w.pid) == w;
    }

    int size() {
        return byPid.size();
    }

    boolean isEmpty() {
        return byPid.isEmpty();
    }

    Collection<Worker> all() {
        return byPid.values();
    }

    List<Integer> pids() {
        return new ArrayList<>(byPid.keySet());
    }

    /** Workers not asked to go: they count toward the target. */
    List<Worker> serving() {
        List<Worker> out = new ArrayList<>(byPid.size());
        for (Worker w : byPid.values()) if (!w.retiring()) out.add(w);
        return out;
    }

    /** Serving workers of {@code generation}, or of every other generation with {@code other}. */
    List<Worker> serving(int generation, boolean other) {
        List<Worker> out = new ArrayList<>();
        for (Worker w : byPid.values()) {
            if (!w.retiring() && (w.generation == generation) != other) out.add(w);
        }
        return out;
    }

    int servingCount() {
        int n = 0;
        for (Worker w : byPid.values()) if (!w.retiring()) n++;
        return n;
    }

    int unackedServing() {
        int n = 0;
        for (Worker w : byPid.values()) if (!w.retiring() && !w.acked()) n++;
        return n;
    }

    int ackedServing() {
        int n = 0;
        for (Worker w : byPid.values()) if (!w.retiring() && w.acked()) n++;
        return n;
    }

    int ackedServing(int generation) {
        int n = 0;
        for (Worker w : byPid.values()) if (!w.retiring() && w.acked() && w.generation == generation) n++;
        return n;
    }
}
