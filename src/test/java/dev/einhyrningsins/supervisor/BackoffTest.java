package dev.einhyrningsins.supervisor;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class BackoffTest {
    static final Duration S1 = Duration.ofSeconds(1);

    @Test
    void intervalGrowsByOneAndAHalfPerDeathUpToThirtySeconds() {
        Backoff b = new Backoff();
        assertThat(b.intervalNanos(S1)).isEqualTo(1_000_000_000L);
        b.died();
        assertThat(b.intervalNanos(S1)).isEqualTo(1_500_000_000L);
        b.died();
        assertThat(b.intervalNanos(S1)).isEqualTo(2_250_000_000L);
        for (int i = 0; i < 20; i++) b.died();
        assertThat(b.intervalNanos(S1)).isEqualTo(Duration.ofSeconds(30).toNanos());
        assertThat(b.reset()).isEqualTo(22);
        assertThat(b.deaths()).isZero();
        assertThat(b.intervalNanos(Duration.ofMillis(200))).isEqualTo(200_000_000L);
    }

    @Test
    void theNextSpawnIsDueOneIntervalAfterTheLast() {
        Backoff b = new Backoff();
        assertThat(b.everSpawned()).isFalse();
        b.spawned(5_000);
        b.died();
        assertThat(b.everSpawned()).isTrue();
        assertThat(b.dueAt(S1)).isEqualTo(5_000 + 1_500_000_000L);
    }
}
