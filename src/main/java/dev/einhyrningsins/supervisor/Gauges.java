package dev.einhyrningsins.supervisor;

import java.util.Map;
import java.util.TreeMap;

/**
 * What the core's state is now, for the gauges of {@code metrics}: read from the state when
 * the text is rendered, never kept from happenings (a copy fed by events drifts the first
 * time one is missed, as after a reload's restore).
 *
 * @param workers live workers by generation: {unacked, acked, retiring}
 */
public record Gauges(int target, int generation, boolean ready, boolean upgrading, boolean stopping,
                     Map<Integer, int[]> workers) {

    static Gauges of(Supervisor sup, boolean ready) {
        Map<Integer, int[]> workers = new TreeMap<>();
        for (Worker w : sup.pool().all()) {
            int[] n = workers.computeIfAbsent(w.generation, g -> new int[3]);
            n[w.retiring() ? 2 : w.acked() ? 1 : 0]++;
        }
        return new Gauges(sup.target(), sup.rollout().servingGeneration(), ready, sup.rollout().active(), sup.stopping(),
                workers);
    }
}
