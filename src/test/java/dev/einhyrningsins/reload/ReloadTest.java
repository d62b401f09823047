package dev.einhyrningsins.reload;

import static org.assertj.core.api.Assertions.assertThat;

import dev.einhyrningsins.control.WireCodec;
import dev.einhyrningsins.supervisor.Event;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The reload plan's paths, each on a real core and a real control socket, with the exec and
 * the fd effects recorded instead of done (a {@link Bench}). Every path here froze the
 * control plane, lost a reply or a signal, or left a thread opening fds, before the plan was
 * one room.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ReloadTest {
    @TempDir
    Path dir;
    Bench b;

    @AfterEach
    void close() {
        if (b != null) b.close();
    }

    /** A control client of the bench, reading replies with a deadline. */
    final class Client implements AutoCloseable {
        final SocketChannel ch;
        final BufferedReader in;

        Client() throws IOException {
            ch = SocketChannel.open(StandardProtocolFamily.UNIX);
            ch.connect(UnixDomainSocketAddress.of(dir.resolve("ctl.sock")));
            ch.configureBlocking(true);
            in = new BufferedReader(new InputStreamReader(Channels.newInputStream(ch), StandardCharsets.UTF_8));
        }

        int ids;

        /** A request with an id: einhorn streams progress only to a client that sent one. */
        void send(String command) throws IOException {
            String line = "{\"id\":" + ++ids + ",\"command\":\"" + command + "\"}\n";
            ByteBuffer buf = ByteBuffer.wrap(line.getBytes(StandardCharsets.UTF_8));
            while (buf.hasRemaining()) ch.write(buf);
        }

        /** The next reply, turning the bench's loop while it is not there. */
        dev.einhyrningsins.control.Reply reply() throws Exception {
            ch.configureBlocking(false);
            ByteBuffer one = ByteBuffer.allocate(1);
            StringBuilder line = new StringBuilder();
            for (int turns = 0; turns < 5000; turns++) {
                int n = ch.read(one);
                if (n < 0) return null;
                if (n == 0) {
                    b.turn(5);
                    continue;
                }
                char c = (char) one.get(0);
                one.clear();
                if (c == '\n') return WireCodec.decodeReply(line.toString());
                line.append(c);
            }
            throw new AssertionError("no reply");
        }

        @Override
        public void close() throws IOException {
            ch.close();
        }
    }

    /** The hand-over the bench's exec was given. */
    Handover handover() throws IOException {
        assertThat(b.handover).as("a hand-over was written").isNotNull();
        return Handover.parse(b.handover);
    }

    @Test
    void aFollowerThatStopsReadingIsDroppedAtTheDeadlineAndARefusedReloadServesAgainAndSaysWhy() throws Exception {
        b = new Bench(dir, 1);
        b.ack(5000);
        try (Client follower = new Client(); Client requester = new Client()) {
            follower.send("upgrade");
            assertThat(follower.reply().message()).isEqualTo("Upgrading smoothly, as commanded");
            // the follower stops reading while progress lines pile up: the kernel's buffers fill,
            // then the session holds the rest
            sendToFollower("x".repeat(1000), 4000);
            requester.send("reload");
            assertThat(requester.reply().message()).isEqualTo("Reloading, as commanded");
            b.until("the kept clients drain", () -> b.steps.contains("quiesce threads"));
            // nothing waits for the follower: the loop goes on, and at the deadline it is dropped
            b.advance(Reload.DRAIN_NANOS);
            b.until("the exec", () -> b.steps.contains("exec"));
            assertThat(b.log()).contains("did not take the replies it was owed within 2 s of a reload; closing it");
            dev.einhyrningsins.control.Reply refusal = requester.reply();
            assertThat(refusal.message()).isEqualTo("Reload refused: exec failed in the test; the supervisor goes on as it is");
            assertThat(refusal.ok()).isFalse();
            // the hand-over kept the requester only
            Handover h = handover();
            assertThat(h.list(Handover.CLIENTS, Handover.Client.class)).singleElement()
                    .satisfies(c -> assertThat(c.session().owed()).extracting(o -> o.ref()).containsExactly("c0"));
        }
        // the control socket serves again
        try (Client again = new Client()) {
            again.send("ehlo");
            assertThat(again.reply().message()).contains("Welcome");
        }
        assertThat(b.steps).containsSubsequence("check", "quiesce threads", "list fds", "exec", "resume threads");
    }

    /** Sends {@code count} lines to the core's upgrade followers, as the core would for progress. */
    private void sendToFollower(String line, int count) {
        List<Object> followers = new ArrayList<>();
        b.sup.snapshot(c -> {
            followers.add(c);
            return "f";
        });
        assertThat(followers).hasSize(1);
        var follower = (dev.einhyrningsins.control.ReplyTo) followers.getFirst();
        for (int i = 0; i < count; i++) follower.send(line, false, true);
    }

    @Test
    void aReplyTheCoreGivesWhileKeptClientsDrainReachesThemBeforeTheExec() throws Exception {
        b = new Bench(dir, 1);
        b.ack(5000);
        try (Client follower = new Client(); Client requester = new Client()) {
            follower.send("upgrade");
            assertThat(follower.reply().message()).isEqualTo("Upgrading smoothly, as commanded");
            requester.send("reload");
            assertThat(requester.reply().message()).isEqualTo("Reloading, as commanded");
            b.until("quiesced", () -> b.steps.contains("quiesce threads"));
            // the new worker acks while the reload waits for its kept clients: the upgrade ends
            b.ack(5001);
            List<String> lines = new ArrayList<>();
            dev.einhyrningsins.control.Reply r;
            while ((r = follower.reply()) != null && r.more()) lines.add(r.message());
            assertThat(r).as("the upgrade's last line, written before the exec").isNotNull();
            assertThat(r.message()).startsWith("Upgrade done");
            b.until("the exec", () -> b.steps.contains("exec"));
            // the core owes the follower nothing any more; its connection is still handed over
            assertThat(handover().list(Handover.CLIENTS, Handover.Client.class)).hasSize(2);
        }
    }

    @Test
    void aSignalTheLoopDidNotHandleGoesIntoTheHandOverAndBackToTheLoopIfTheExecFails() throws Exception {
        b = new Bench(dir, 1);
        b.ack(5000);
        b.lateSignals.add("TTIN"); // arrives after the last look at the queue, before the exec
        try (Client requester = new Client()) {
            requester.send("reload");
            assertThat(requester.reply().message()).isEqualTo("Reloading, as commanded");
            b.until("the exec", () -> b.steps.contains("exec"));
            assertThat(handover().list(Handover.SIGNALS, String.class)).containsExactly("TTIN");
            assertThat(requester.reply().message()).startsWith("Reload refused");
        }
        // the exec failed: the signal is this process's again
        b.until("TTIN handled", () -> b.sup.state().get("target").equals(2));
    }

    @Test
    void aStopThatBeginsWhileKeptClientsDrainRefusesTheReload() throws Exception {
        b = new Bench(dir, 1);
        b.ack(5000);
        try (Client follower = new Client(); Client requester = new Client()) {
            follower.send("upgrade");
            assertThat(follower.reply().message()).isEqualTo("Upgrading smoothly, as commanded");
            sendToFollower("y".repeat(1000), 3000); // it takes its time
            requester.send("reload");
            assertThat(requester.reply().message()).isEqualTo("Reloading, as commanded");
            b.until("quiesced", () -> b.steps.contains("quiesce threads"));
            b.queue.add(new Event.SignalReceived("TERM"));
            b.advance(Reload.DRAIN_NANOS);
            b.until("refused", () -> b.log().contains("Reload refused: the supervisor is stopping"));
            assertThat(b.steps).doesNotContain("exec");
            assertThat(b.sup.stopping()).isTrue();
        }
    }

    @Test
    void aFailedCheckChangesNothing() throws Exception {
        b = new Bench(dir, 1);
        b.check = new Reload.Checked(false, "exited with status 1", "einhyrningsins: cannot take over: no program");
        try (Client requester = new Client()) {
            requester.send("reload");
            assertThat(requester.reply().message()).isEqualTo("Reloading, as commanded");
            dev.einhyrningsins.control.Reply r = requester.reply();
            assertThat(r.message()).isEqualTo("Reload refused: the new installation's check exited with status 1: "
                    + "einhyrningsins: cannot take over: no program; the supervisor goes on as it is");
            assertThat(r.ok()).isFalse();
        }
        assertThat(b.steps).containsExactly("check");
        assertThat(b.reload.busy()).isFalse();
    }

    @Test
    void aSecondReloadWhileOneRunsIsRefusedAndTheFirstGoesOn() throws Exception {
        b = new Bench(dir, 1);
        b.ack(5000);
        try (Client first = new Client(); Client second = new Client()) {
            startReloadThatStaysChecking(first);
            second.send("reload");
            assertThat(second.reply().message()).isEqualTo("A reload of the supervisor is already in progress");
            assertThat(b.reload.busy()).as("the first goes on").isTrue();
        }
    }

    /** Starts a reload whose check never ends, so that it stays busy. */
    private void startReloadThatStaysChecking(Client first) throws Exception {
        b.check = null; // the check never ends: the reload stays busy
        first.send("reload");
        assertThat(first.reply().message()).isEqualTo("Reloading, as commanded");
    }
}
