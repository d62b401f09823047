package dev.einhyrningsins.supervisor;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** What clients can make the core keep is bounded: followers that left, ping ids. */
class BoundsTest {
    @Test
    void followersThatLeftAreNotKeptAcrossSupersedingUpgrades() {
        Harness h = Harness.manual(1);
        h.ack(100);
        Object left = h.cmd("upgrade", null);
        Object stays = h.cmd("upgrade", null);
        h.os.gone.add(left);
        int before = h.os.repliesTo(left).size();
        Object third = h.cmd("upgrade", null); // supersedes: the followers come along, those still there
        assertThat(h.os.repliesTo(left)).as("nothing more to a client that left").hasSize(before);
        assertThat(h.os.repliesTo(stays).size()).isGreaterThan(1);
        java.util.List<Object> followers = new java.util.ArrayList<>();
        h.sup.snapshot(c -> {
            followers.add(c);
            return "f" + followers.size();
        });
        assertThat(followers).containsExactlyInAnyOrder(stays, third);
    }

    @Test
    void aFollowerThatLeftIsForgottenAtTheNextProgressLine() {
        Harness h = Harness.manual(2);
        h.ack(100);
        h.ack(101);
        Object follower = h.cmd("upgrade", null);
        h.os.gone.add(follower);
        int before = h.os.repliesTo(follower).size();
        h.ack(h.lastPid()); // progress
        assertThat(h.os.repliesTo(follower)).hasSize(before);
        java.util.List<Object> followers = new java.util.ArrayList<>();
        h.sup.snapshot(c -> {
            followers.add(c);
            return "f";
        });
        assertThat(followers).isEmpty();
    }

    @Test
    void aPingIdIsKeptAsAShortTextWhateverTheWorkerSends() {
        assertThat(Readiness.boundedPingId(null)).isNull();
        assertThat(Readiness.boundedPingId(42)).isEqualTo(42);
        assertThat(Readiness.boundedPingId(true)).isEqualTo(true);
        assertThat(Readiness.boundedPingId("p-1")).isEqualTo("p-1");
        assertThat(Readiness.boundedPingId("x".repeat(10_000))).isEqualTo("x".repeat(Readiness.MAX_PING_ID));
        assertThat(Readiness.boundedPingId(new java.math.BigInteger("9".repeat(500))))
                .isEqualTo("9".repeat(Readiness.MAX_PING_ID));
        Object nested = Map.of("a", List.of("b".repeat(500)));
        assertThat(Readiness.boundedPingId(nested)).asString().hasSize(Readiness.MAX_PING_ID);

        Harness h = Harness.manual(1);
        h.ack(100);
        h.sup.handle(new Event.Command("worker:ping", null, 100, null, "y".repeat(5000), false, new Object()));
        assertThat(h.workers().getFirst().toString()).doesNotContain("y".repeat(Readiness.MAX_PING_ID + 1))
                .contains("y".repeat(Readiness.MAX_PING_ID));
    }
}
