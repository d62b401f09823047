package dev.einhyrningsins.reload;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.einhyrningsins.control.Session;
import dev.einhyrningsins.listen.Listeners;
import dev.einhyrningsins.supervisor.Snapshot;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The hand-over's shape is held by golden files, one per format: a change of shape fails
 * here until {@link Handover#FORMAT} is bumped, its golden file written and an upgrade from
 * the format before it added; every earlier format is still taken over.
 */
class HandoverTest {

    static byte[] golden(int format) throws IOException {
        try (InputStream in = HandoverTest.class.getResourceAsStream("/handover/format-" + format + ".json")) {
            assertThat(in).as("src/test/resources/handover/format-%d.json", format).isNotNull();
            return in.readAllBytes();
        }
    }

    @Test
    void theShapeIsTheGoldenFileOfTheCurrentFormat() throws IOException {
        String now = new String(Handover.sample().bytes(), StandardCharsets.UTF_8) + "\n";
        assertThat(now).as("the hand-over's shape changed: bump Handover.FORMAT, write its golden file "
                + "(format-N.json) and an upgrade from format N-1 in Handover.upgrade")
                .isEqualTo(new String(golden(Handover.FORMAT), StandardCharsets.UTF_8));
    }

    @Test
    void everyFormatFromTheOldestHasAGoldenFileThisVersionTakesOver() throws IOException {
        for (int format = Handover.OLDEST; format <= Handover.FORMAT; format++) {
            Handover h = Handover.parse(golden(format));
            assertThat(h.format()).isEqualTo(Handover.FORMAT);
            assertThat(h.part(Handover.CORE, Snapshot.class)).as("format %d's core", format).isEqualTo(sampleAsOf(format));
            assertThat(h.list(Handover.LISTENERS, Listeners.Handed.class)).isEqualTo(format < 4 ? UNTYPED
                    : Handover.sample().list(Handover.LISTENERS, Listeners.Handed.class));
        }
    }

    /**
     * The sample core as a hand-over of {@code format} carries it: what later formats added has
     * its defaults (no worker looked at or named for its sockets, no drain bounds, 3 ready
     * failures, the environment's first generation).
     */
    static Snapshot sampleAsOf(int format) {
        Snapshot s = Snapshot.sample();
        if (format >= 4) return s;
        Snapshot.ConfigState c = s.config();
        Snapshot.HealthState h = c.health();
        Snapshot.ConfigState config = new Snapshot.ConfigState(c.number(), c.respawnNanos(), c.ackMode(), c.ackDelayNanos(),
                c.ackTimeoutNanos(), c.signalTimeoutNanos(), c.gracefulSignal(), c.maxUnacked(), c.maxUpgradeAdditional(),
                c.upgradeTimeoutNanos(), c.upgradeMaxFailures(), c.verbosity(),
                new Snapshot.HealthState(h.readyCheck(), h.liveCheck(), h.checkIntervalNanos(), h.checkTimeoutNanos(),
                        h.liveFailures(), 3, h.pingTimeoutNanos(), h.maxWorkerRssMb(), h.maxWorkerAgeNanos()),
                new Snapshot.DrainState(0, 0, 0));
        List<Snapshot.WorkerState> workers = s.workers().stream().map(w -> new Snapshot.WorkerState(w.pid(), w.slot(),
                w.generation(), w.spawnedAt(), w.spawnedWall(), w.ackedAt(), w.ackedWall(), w.pingAt(), w.pingWall(),
                w.pingId(), w.claimedAt(), w.ready(), w.live(), w.sick(), w.rssBytes(), w.rssAt(), w.retiring(),
                w.firstRetiredAt(), w.retiredAt(), w.ackTimedOut(), w.killed(), w.status(), w.saidStopping(), w.signals(),
                null, 1)).toList();
        return new Snapshot(config, s.target(), s.stopping(), s.stopRequests(), s.backoff(), s.rollout(), workers,
                s.recentExits(), new Snapshot.ListenerUseState(0, List.of()), 1);
    }

    @Test
    void format3CoresLookedAtNoWorkersSockets() throws IOException {
        Snapshot core = Handover.parse(golden(3)).part(Handover.CORE, Snapshot.class);
        assertThat(core.listenerUse()).isEqualTo(new Snapshot.ListenerUseState(0, List.of()));
        assertThat(core.workers()).extracting(Snapshot.WorkerState::holdsInherited).containsOnlyNulls();
        assertThat(Snapshot.sample().listenerUse().workers()).isPositive();
    }

    /** The sample's listeners as formats 2 and 3 had them, upgraded: all stream sockets, none in an fd store. */
    static final List<Listeners.Handed> UNTYPED = List.of(
            new Listeners.Handed(3, "127.0.0.1:8080,r", "127.0.0.1:8080", 8080, null, null, "stream", null),
            new Listeners.Handed(4, "unix:/run/app.sock,mode=660", "unix:/run/app.sock", 0, "/run/app.sock", null, "stream",
                    null),
            new Listeners.Handed(5, null, "[::]:9090", 9090, null, "web", "stream", null));

    @Test
    void format3ListenersBecomeStreamSocketsKeptInNoFdStore() throws IOException {
        Handover h = Handover.parse(golden(3));
        assertThat(h.list(Handover.LISTENERS, Listeners.Handed.class)).isEqualTo(UNTYPED);
        assertThat(Handover.sample().list(Handover.LISTENERS, Listeners.Handed.class))
                .extracting(Listeners.Handed::type).contains("datagram");
    }

    @Test
    void format3GetsTheDefaultsOfWhat4AddedAndNoEnvironmentFile() throws IOException {
        Handover h = Handover.parse(golden(3));
        Snapshot core = h.part(Handover.CORE, Snapshot.class);
        assertThat(core.config().health().readyFailures()).isEqualTo(3);
        assertThat(core.config().drain()).isEqualTo(new Snapshot.DrainState(0, 0, 0));
        assertThat(core.envGeneration()).isEqualTo(1);
        assertThat(core.workers()).extracting(Snapshot.WorkerState::envGeneration).containsOnly(1);
        assertThat(h.environment()).isNull();
        assertThat(Handover.parse(golden(4)).environment()).containsExactly(
                java.util.Map.entry("API_KEY", "s3cret"), java.util.Map.entry("FEATURE_FLAGS", "a b"));
    }

    @Test
    void theFormatOfEinhyrningsins01BecomesProcessFactsAndParts() throws IOException {
        Handover h = Handover.parse(golden(2));
        Handover sample = Handover.sample();
        assertThat(h.from()).isEqualTo("0.1.0");
        assertThat(h.process()).isEqualTo(sample.process());
        assertThat(h.list(Handover.CHANNELS, Handover.Channel.class)).isEqualTo(sample.list(Handover.CHANNELS, Handover.Channel.class));
        assertThat(h.list(Handover.NOTIFIES, Handover.Notify.class)).isEqualTo(sample.list(Handover.NOTIFIES, Handover.Notify.class));
        // 0.1 kept no input or output of a client's session, and no late signals
        assertThat(h.list(Handover.CLIENTS, Handover.Client.class)).containsExactly(
                new Handover.Client(13, new Session.Handed(List.of(new Session.Owed("c0", "reload-1")), null, null)),
                new Handover.Client(14, new Session.Handed(List.of(new Session.Owed("c1", 42)), null, null)));
        assertThat(h.list(Handover.SIGNALS, String.class)).isEmpty();
    }

    @Test
    void aFieldThatIsNotInTheFormatFailsTheReadInsteadOfBeingIgnored() throws IOException {
        ObjectNode tree = (ObjectNode) Handover.json().readTree(Handover.sample().bytes());
        ((ObjectNode) tree.get("parts").get("core")).put("addedWithoutABump", 1);
        byte[] text = Handover.json().writeValueAsBytes(tree);
        Handover h = Handover.parse(text);
        assertThatThrownBy(() -> h.part(Handover.CORE, Snapshot.class)).hasMessageContaining("addedWithoutABump");
    }

    @Test
    void aFieldThatIsMissingFailsTheReadInsteadOfBeingDefaulted() throws IOException {
        ObjectNode tree = (ObjectNode) Handover.json().readTree(Handover.sample().bytes());
        ((ObjectNode) tree.get("parts").get("core")).remove("target");
        Handover h = Handover.parse(Handover.json().writeValueAsBytes(tree));
        assertThatThrownBy(() -> h.part(Handover.CORE, Snapshot.class)).hasMessageContaining("target");
        ObjectNode process = (ObjectNode) Handover.json().readTree(Handover.sample().bytes());
        ((ObjectNode) process.get("process")).remove("stdinFd");
        assertThatThrownBy(() -> Handover.parse(Handover.json().writeValueAsBytes(process))).hasMessageContaining("stdinFd");
    }

    @Test
    void aFormatThisVersionDoesNotKnowIsRefusedInOneLine() {
        assertThatThrownBy(() -> Handover.parse("{\"format\":99}".getBytes(StandardCharsets.UTF_8)))
                .isInstanceOf(IOException.class).hasMessage("format 99; this version takes over formats 2 to 4");
        assertThatThrownBy(() -> Handover.parse("{\"format\":1}".getBytes(StandardCharsets.UTF_8)))
                .hasMessage("format 1; this version takes over formats 2 to 4");
        assertThatThrownBy(() -> Handover.parse("[]".getBytes(StandardCharsets.UTF_8)))
                .hasMessage("it is not a hand-over (no format number)");
    }

    @Test
    void theSelfTestReadsBackAHandOverWithEveryPartAndFieldSet() throws IOException {
        Handover.selfTest();
        Snapshot core = Handover.sample().part(Handover.CORE, Snapshot.class);
        assertThat(core.workers()).hasSize(3);
        assertThat(core.rollout().current()).isNotNull();
        assertThat(core.workers()).anySatisfy(w -> assertThat(w.signals()).isNotEmpty());
        assertThat(Takeover.KNOWN).containsExactlyInAnyOrderElementsOf(Handover.sample().parts().keySet());
    }

    @Test
    void theUpgradeCheckAcceptsTheFormatsThisVersionTakesOverAndNamesTheOthers() {
        Takeover.check(2);
        Takeover.check(3);
        Takeover.check(4);
        assertThatThrownBy(() -> Takeover.check(5)).hasMessage(
                "this version reads hand-over formats 2 to 4, the running supervisor writes format 5");
    }
}
