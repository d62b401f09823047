package dev.einhyrningsins.supervisor;

import static dev.einhyrningsins.supervisor.HealthTest.ackAndPass;
import static dev.einhyrningsins.supervisor.HealthTest.checksOf;
import static dev.einhyrningsins.supervisor.HealthTest.finish;
import static dev.einhyrningsins.supervisor.HealthTest.liveChecked;
import static dev.einhyrningsins.supervisor.HealthTest.manual;
import static dev.einhyrningsins.supervisor.HealthTest.ping;
import static dev.einhyrningsins.supervisor.HealthTest.readyChecked;
import static dev.einhyrningsins.supervisor.HealthTest.worker;
import static org.assertj.core.api.Assertions.assertThat;

import dev.einhyrningsins.supervisor.Config.AckMode;
import dev.einhyrningsins.supervisor.Os.CheckRun;
import dev.einhyrningsins.supervisor.Settings.Setting;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** Health at its edges: a limit reached exactly, a check in flight when its worker falls sick or stops, time zero. */
class HealthLimitsTest {
    static final Duration S1 = Duration.ofSeconds(1);

    @Test
    void anRssAtTheLimitIsNotOverIt() {
        Harness h = new Harness(manual(1).with(Setting.MAX_WORKER_RSS, 200));
        h.os.rss.put(100, 200L << 20);
        ackAndPass(h, 100);
        h.advance(S1);
        assertThat(worker(h, 100)).containsEntry("phase", "acked").containsEntry("rss_bytes", 200L << 20);
        h.os.rss.put(100, (200L << 20) + 1);
        h.advance(S1);
        assertThat(worker(h, 100)).containsEntry("phase", "sick");
    }

    @Test
    void aWorkerThatFallsSickStopsItsCheckInFlightForGood() {
        Harness h = new Harness(liveChecked(1).with(Setting.PING_TIMEOUT, Duration.ofMillis(1500)));
        ackAndPass(h, 100);
        ping(h, 100);
        h.advance(S1);
        CheckRun live = h.os.runningCheck(100, CheckKind.LIVE);
        assertThat(live).isNotNull();
        h.advance(Duration.ofMillis(500));
        assertThat(worker(h, 100)).containsEntry("phase", "sick");
        assertThat(h.os.cancelled).containsExactly(live.id());
        assertThat(worker(h, 100)).as("no check in flight, none ever ended").containsEntry("live_check", null);
        for (int i = 0; i < 10; i++) h.advance(S1);
        assertThat(h.os.cancelled).as("its timeout does not stop it again").containsExactly(live.id());
        assertThat(h.os.happened(Happening.CheckFinished.class)).as("a stopped check has no outcome").isEmpty();
    }

    @Test
    void aWorkerThatSaysItIsStoppingStopsItsCheckInFlightAndDrainsFromThen() {
        Harness h = new Harness(liveChecked(1).with(Setting.ACK_MODE, new AckMode.Notify()));
        h.handle(new Event.WorkerNotified(100, true, false, null));
        h.advance(S1);
        CheckRun live = h.os.runningCheck(100, CheckKind.LIVE);
        assertThat(live).isNotNull();
        h.handle(new Event.WorkerNotified(100, false, true, "draining"));
        assertThat(h.os.cancelled).containsExactly(live.id());
        assertThat(worker(h, 100)).containsEntry("said_stopping", true).containsEntry("phase", "retiring")
                .containsEntry("status", "draining");
        h.advance(Duration.ofSeconds(2));
        h.exit(100);
        assertThat(h.os.happened(Happening.Exited.class)).singleElement().satisfies(e -> {
            assertThat(e.expected()).isTrue();
            assertThat(e.drainNanos()).isEqualTo(Duration.ofSeconds(2).toNanos());
        });
    }

    @Test
    void timeZeroIsATimeLikeAnyOther() {
        FakeOs os = new FakeOs();
        os.now = 0;
        os.rss.put(100, 0L);
        Harness h = new Harness(readyChecked(1).with(Setting.MAX_WORKER_RSS, 100), os);
        h.ack(100);
        assertThat(worker(h, 100)).as("claimed ready at 0").containsEntry("phase", "checking");
        assertThat(checksOf(h, 100, CheckKind.READY)).isEqualTo(1);
        finish(h, 100, CheckKind.READY, false, "not yet");
        h.sup.tick();
        assertThat(checksOf(h, 100, CheckKind.READY)).as("a check that ended at 0 ended: the next one waits").isEqualTo(1);
        h.advance(S1);
        finish(h, 100, CheckKind.READY, true, null);
        assertThat(worker(h, 100)).containsEntry("phase", "acked").containsEntry("rss_bytes", 0L);
        assertThat(h.os.rssSampled).hasSize(1);

        FakeOs zero = new FakeOs();
        zero.now = 0;
        Harness r = new Harness(manual(1).with(Setting.MAX_WORKER_RSS, 100), zero);
        r.ack(100);
        assertThat(r.os.rssSampled).as("sampled at its ack, at 0").containsExactly(100);
        assertThat(worker(r, 100)).containsEntry("rss_bytes", 10L << 20);
        r.sup.tick();
        assertThat(r.os.rssSampled).as("and next an interval later").hasSize(1);
        r.advance(S1);
        assertThat(r.os.rssSampled).hasSize(2);
    }
}
