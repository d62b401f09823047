package dev.einhyrningsins.supervisor;

import static org.assertj.core.api.Assertions.assertThat;

import dev.einhyrningsins.supervisor.Config.AckMode;
import dev.einhyrningsins.supervisor.Os.Holding;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Workers that do not use the sockets they inherit: when their descriptors are looked at,
 * when they are named (exited before the ack after a look found none, or acked holding none),
 * once per generation in the log, counted in state, the metrics and across a reload.
 */
class ListenerUseTest {
    static final long MS = 1_000_000L;

    /** A supervisor of {@code n} workers (manual acks) that inherit sockets. */
    static Harness inheriting(int n) {
        FakeOs os = new FakeOs();
        os.inherits = true;
        os.now = 0; // the looks fall on multiples of their intervals: from 0, exactly doubling
        Config c = Config.defaults(4).with(Settings.Setting.NUMBER, n).with(Settings.Setting.ACK_MODE, new AckMode.Manual());
        Supervisor sup = new Supervisor(c, os, "test", Map.of());
        Harness h = new Harness(sup, os);
        sup.start();
        return h;
    }

    /** The times of the looks at {@code pid}, in ms after its spawn ({@code t0}). */
    static List<Long> looksAt(Harness h, int pid, long t0) {
        return h.os.looks.stream().filter(l -> l.pid() == pid).map(l -> (l.at() - t0) / MS).toList();
    }

    List<String> warnings(Harness h) {
        return h.os.logs.stream().filter(l -> l.startsWith("WARN Worker") && l.contains("sockets it inherited")).toList();
    }

    @Test
    void withoutInheritedSocketsNothingIsLookedAtAndNoDeadlineComes() {
        Harness h = Harness.manual(2);
        assertThat(h.sup.nextDeadline()).isEqualTo(Long.MAX_VALUE);
        h.advance(Duration.ofSeconds(30));
        assertThat(h.os.looks).isEmpty();
        h.exit(h.pids().getFirst());
        assertThat(h.os.happened(Happening.ListenersUnused.class)).isEmpty();
    }

    @Test
    void anUnackedWorkerIsLookedAtAfter10msThenAtDoublingIntervalsUpTo5Seconds() {
        Harness h = inheriting(1);
        long t0 = h.os.now;
        int pid = h.lastPid();
        for (int i = 0; i < 12; i++) h.runToNextDeadline();
        // then 5 s apart, each put off to the next multiple of 1.28 s
        assertThat(looksAt(h, pid, t0)).containsExactly(10L, 20L, 40L, 80L, 160L, 320L, 640L, 1280L, 2560L, 5120L,
                10240L, 15360L);
    }

    @Test
    void looksFallOnSharedGridsAFleetsOnACoarserOne() {
        long ms = MS;
        // a lone worker: grids as fine as half its interval (at least 5 ms)
        assertThat(ListenerUse.nextLook(3 * ms, -1, -1, false, 1)).isEqualTo(15 * ms);
        assertThat(ListenerUse.nextLook(0, 10 * ms, -1, false, 1)).isEqualTo(20 * ms);
        assertThat(ListenerUse.nextLook(3 * ms, 29 * ms, -1, false, 1)).isEqualTo(60 * ms);
        // 1000 workers spawned over 0.7 s: every look on a multiple of 320 ms, a handful of wake-ups
        java.util.Set<Long> instants = new java.util.TreeSet<>();
        for (long spawned = 0; spawned < 700 * ms; spawned += 7 * ms) {
            long first = ListenerUse.nextLook(spawned, -1, -1, false, 1000);
            long second = ListenerUse.nextLook(spawned, first, -1, false, 1000);
            assertThat(first % (320 * ms)).isZero();
            assertThat(second % (320 * ms)).isZero();
            assertThat(second).isGreaterThan(first);
            instants.add(first);
            instants.add(second);
        }
        assertThat(instants).hasSizeLessThanOrEqualTo(8);
        // never put off by more than 1.28 s, however many
        assertThat(ListenerUse.nextLook(0, -1, -1, false, 10_000)).isEqualTo(1280 * ms);
        // the interval stops doubling at 5 s
        assertThat(ListenerUse.nextLook(0, 60_000 * ms, -1, false, 1)).isEqualTo(65_280 * ms);
        // acked: at its ack, 5 s later, then never
        assertThat(ListenerUse.nextLook(0, 400 * ms, 1003 * ms, true, 1)).isEqualTo(1005 * ms);
        assertThat(ListenerUse.nextLook(0, 1005 * ms, 1003 * ms, true, 1)).isEqualTo(6400 * ms);
        assertThat(ListenerUse.nextLook(0, 6400 * ms, 1003 * ms, true, 1)).isEqualTo(Long.MAX_VALUE);
        assertThat(ListenerUse.nextLook(0, 400 * ms, 1003 * ms, true, 1000)).isEqualTo(1280 * ms);
    }

    @Test
    void gridsArePowersOfTwoOf5MillisecondsUpTo1280() {
        long ms = MS;
        assertThat(ListenerUse.grid(0)).isEqualTo(5 * ms);
        assertThat(ListenerUse.grid(9 * ms)).isEqualTo(5 * ms);
        assertThat(ListenerUse.grid(10 * ms)).isEqualTo(10 * ms);
        assertThat(ListenerUse.grid(639 * ms)).isEqualTo(320 * ms);
        assertThat(ListenerUse.grid(640 * ms)).isEqualTo(640 * ms);
        assertThat(ListenerUse.grid(1280 * ms)).isEqualTo(1280 * ms);
        assertThat(ListenerUse.grid(1_000_000 * ms)).isEqualTo(1280 * ms);
    }

    @Test
    void aWorkerThatExitsBeforeItsAckAfterALookFoundNoneIsNamedOncePerGeneration() {
        Harness h = inheriting(1);
        int first = h.lastPid();
        h.os.holding.put(first, Holding.NONE);
        h.runToNextDeadline();
        assertThat(h.os.looks).hasSize(1);
        assertThat(h.sup.nextDeadline()).as("no look after one found none").isNotEqualTo(h.os.looks.getFirst().at() + 10 * MS);
        h.exit(first);
        assertThat(warnings(h)).singleElement().asString()
                .startsWith("WARN Worker " + first + " (slot 0, generation 1) exited before its ack, and it held none of the "
                        + "sockets it inherited: it does not use them, and binding the address itself fails with EADDRINUSE")
                .contains("EINHORN_FD_0", "LISTEN_FDS", "(said once per generation)");
        assertThat(h.os.happened(Happening.ListenersUnused.class))
                .containsExactly(new Happening.ListenersUnused(first, 0, 1, false, true));

        h.advance(Duration.ofSeconds(2)); // the backoff's respawn
        int second = h.lastPid();
        assertThat(second).isNotEqualTo(first);
        h.os.holding.put(second, Holding.NONE);
        h.runToNextDeadline();
        h.exit(second);
        assertThat(warnings(h)).as("once per generation").hasSize(1);
        assertThat(h.os.happened(Happening.ListenersUnused.class)).last()
                .isEqualTo(new Happening.ListenersUnused(second, 0, 1, false, false));
        assertThat(h.sup.state().get("listeners_unused")).isEqualTo(Map.of("workers", 2, "generations", List.of(1)));
    }

    @Test
    void holdingItsSocketsOrUnseenOrAskedToGoAWorkerThatExitsIsNotNamed() {
        Harness h = inheriting(3);
        List<Integer> pids = h.pids();
        h.os.holding.put(pids.get(1), Holding.UNKNOWN);
        h.os.holding.put(pids.get(2), Holding.NONE);
        h.runToNextDeadline();
        assertThat(h.workers()).extracting(w -> w.get("holds_listeners")).containsExactly(true, null, false);
        h.sup.handle(new Event.Command("dec", null, null, "me", null, false, new Object()));
        assertThat(h.os.signalled("USR2")).containsExactly(pids.get(2));
        h.exit(pids.get(0)); // held them
        h.exit(pids.get(1)); // nothing could be told
        h.exit(pids.get(2)); // asked to go
        Harness before = inheriting(1);
        before.exit(before.lastPid()); // exits before the first look
        assertThat(h.os.happened(Happening.ListenersUnused.class)).isEmpty();
        assertThat(before.os.happened(Happening.ListenersUnused.class)).isEmpty();
        assertThat(h.sup.state().get("listeners_unused")).isEqualTo(Map.of("workers", 0, "generations", List.of()));
    }

    @Test
    void anAckedWorkerIsLookedAtAtItsAckAndFiveSecondsLaterThenNeverAndNamedIfItHoldsNone() {
        Harness h = inheriting(2);
        List<Integer> pids = h.pids();
        long t0 = h.os.now;
        h.os.advance(Duration.ofMillis(3));
        h.ack(pids.get(0));
        h.ack(pids.get(1));
        h.os.holding.put(pids.get(1), Holding.NONE);
        for (int i = 0; i < 2; i++) h.runToNextDeadline();
        assertThat(looksAt(h, pids.get(0), t0)).containsExactly(5L, 5120L);
        assertThat(looksAt(h, pids.get(1), t0)).as("named at its first look, then left alone").containsExactly(5L);
        assertThat(h.sup.nextDeadline()).isEqualTo(Long.MAX_VALUE);
        assertThat(warnings(h)).singleElement().asString().startsWith("WARN Worker " + pids.get(1)
                + " (slot 1, generation 1) is acked but holds none of the sockets it inherited: it does not serve them");
        assertThat(h.os.happened(Happening.ListenersUnused.class))
                .containsExactly(new Happening.ListenersUnused(pids.get(1), 1, 1, true, true));
    }

    @Test
    void aRetiringWorkerIsNotLookedAt() {
        Harness h = inheriting(2);
        int pid = h.lastPid();
        h.sup.handle(new Event.Command("dec", null, null, "me", null, false, new Object()));
        assertThat(h.os.signalled("USR2")).containsExactly(pid);
        for (int i = 0; i < 20; i++) h.runToNextDeadline();
        assertThat(h.os.looks).extracting(FakeOs.Look::pid).isNotEmpty().doesNotContain(pid);
    }

    @Test
    void eachGenerationIsNamedOnceAndTheCountsSurviveAReload() {
        Harness h = inheriting(1);
        int old = h.lastPid();
        h.ack(old);
        h.runToNextDeadline();
        h.cmd("upgrade", null);
        int fresh = h.lastPid();
        assertThat(fresh).isNotEqualTo(old);
        h.os.holding.put(fresh, Holding.NONE);
        h.os.advance(Duration.ofMillis(10));
        h.sup.tick();
        h.exit(fresh);
        assertThat(warnings(h)).singleElement().asString().contains("generation 2");
        Snapshot s = h.sup.snapshot(c -> null);
        assertThat(s.listenerUse()).isEqualTo(new Snapshot.ListenerUseState(1, List.of(2)));
        assertThat(s.workers().getFirst().pid()).isEqualTo(old);
        assertThat(s.workers().getFirst().holdsInherited()).isTrue();

        FakeOs os = new FakeOs();
        os.inherits = true;
        os.now = h.os.now;
        Supervisor back = Supervisor.restore(s, os, "test", Map.of(), c -> null);
        assertThat(back.state().get("listeners_unused")).isEqualTo(Map.of("workers", 1, "generations", List.of(2)));
        assertThat(((Map<?, ?>) ((List<?>) back.state().get("workers")).getFirst()).get("holds_listeners")).isEqualTo(true);
    }

    @Test
    void roundingUpKeepsMultiplesAndWorksBeforeZero() {
        assertThat(ListenerUse.roundUp(10, 5)).isEqualTo(10);
        assertThat(ListenerUse.roundUp(11, 5)).isEqualTo(15);
        assertThat(ListenerUse.roundUp(-11, 5)).isEqualTo(-10);
        assertThat(ListenerUse.roundUp(-10, 5)).isEqualTo(-10);
    }

    @Test
    void theNamedGenerationsKeptAreTheNewestUpToABound() {
        Harness h = inheriting(1);
        h.ack(h.lastPid());
        int upgrades = ListenerUse.MAX_NAMED + 8;
        for (int i = 0; i < upgrades; i++) {
            h.cmd("upgrade", null);
            int fresh = h.lastPid();
            h.os.holding.put(fresh, Holding.NONE);
            h.ack(fresh); // looked at when acked: it holds none
        }
        Map<?, ?> unused = (Map<?, ?>) h.sup.state().get("listeners_unused");
        assertThat(unused.get("workers")).isEqualTo(upgrades);
        List<Integer> newest = new java.util.ArrayList<>();
        for (int g = upgrades + 1 - ListenerUse.MAX_NAMED + 1; g <= upgrades + 1; g++) newest.add(g);
        assertThat(unused.get("generations")).isEqualTo(newest);
    }
}
