package dev.einhyrningsins.control;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The transport-free protocol of one control connection. */
class SessionTest {
    record Dispatched(Request request, ReplyTo replyTo) {}

    final List<Dispatched> dispatched = new ArrayList<>();
    final List<Runnable> pending = new ArrayList<>();
    Session session = new Session((r, to) -> dispatched.add(new Dispatched(r, to)), pending::add, 1 << 20);

    void feed(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        session.received(b, 0, b.length);
    }

    /** Runs the replies handed back to the session's own thread, as its transport would. */
    void deliver() {
        List<Runnable> now = List.copyOf(pending);
        pending.clear();
        now.forEach(Runnable::run);
    }

    /** Everything queued for the client, as text; consumes it. */
    String written() {
        StringBuilder out = new StringBuilder();
        for (ByteBuffer b = session.output(); b != null; b = session.output()) {
            out.append(StandardCharsets.UTF_8.decode(b));
        }
        return out.toString();
    }

    /**
     * A burst of garbage (issue 10's bench: 2,000 lines) is answered from one encoded reply:
     * what the session allocates per line stays near the line's own copies. Counted in bytes
     * by the JVM, not timed; encoding each answer anew (a map, its JSON, the escaped line and
     * its bytes) took about four times as much (1,096 against 248 bytes a line).
     */
    @Test
    void garbageLinesAreAnsweredWithoutEncodingEachAnswer() {
        StringBuilder burst = new StringBuilder();
        for (int i = 0; i < 2000; i++) burst.append("x garbage line number ").append(i).append(" ,.;=+/()[]<>\n");
        byte[] bytes = burst.toString().getBytes(StandardCharsets.UTF_8);
        var threads = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        session.received(bytes, 0, 64); // classes loaded and initialised before counting
        written();
        long before = threads.getCurrentThreadAllocatedBytes();
        session.received(bytes, 64, bytes.length - 64);
        long perLine = (threads.getCurrentThreadAllocatedBytes() - before) / 2000;
        String out = written();
        assertThat(out.lines()).hasSize(1999).allMatch(l -> l.equals("{\"message\":\"Could not parse command\",\"ok\":false}"));
        assertThat(perLine).as("bytes allocated per garbage line").isLessThan(600);
    }

    @Test
    void requestsAreDispatchedInOrderAcrossPartialReads() {
        feed("{\"id\":1,\"command\":\"inc\"}\n{\"id\":2,\"comm");
        assertThat(dispatched).extracting(d -> d.request().command()).containsExactly("inc");
        feed("and\":\"dec\"}\r\n\n");
        assertThat(dispatched).extracting(d -> d.request().command()).containsExactly("inc", "dec");
    }

    @Test
    void endOfInputDoesNotDropWhatIsOwedStreamedRepliesIncluded() {
        feed("{\"id\":7,\"command\":\"upgrade\"}\n");
        session.endOfInput();
        assertThat(session.reading()).isFalse();
        assertThat(session.done()).as("an upgrade is still owed its replies").isFalse();

        ReplyTo to = dispatched.getFirst().replyTo();
        to.send("Upgrading smoothly", false, true);
        to.send("Spawned worker 12", false, true);
        deliver();
        assertThat(written()).contains("Upgrading smoothly").contains("\"wait\":true").contains("Spawned worker 12");
        assertThat(session.done()).isFalse();

        to.send("Upgrade done", true, true);
        deliver();
        assertThat(written()).contains("Upgrade done").contains("\"request_id\":7").doesNotContain("wait");
        assertThat(session.done()).isTrue();
    }

    @Test
    void anAnswerOfTheSessionsOwnWaitsForEarlierRequests() {
        feed("{\"id\":1,\"command\":\"ehlo\"}\nnot yaml: [\n{\"id\":2,\"command\":\"state\"}\n");
        assertThat(written()).as("held until ehlo is answered").isEmpty();
        dispatched.get(0).replyTo().send("Welcome", true, true);
        dispatched.get(1).replyTo().send("{}", true, true);
        deliver();
        String out = written();
        assertThat(out.indexOf("Welcome")).isLessThan(out.indexOf("Could not parse command"));
        assertThat(out.indexOf("Could not parse command")).isLessThan(out.indexOf("{}"));
    }

    @Test
    void garbageIsAnsweredAtOnceWhenNothingIsPendingAndTheConnectionGoesOn() {
        feed("%%%\n");
        assertThat(written()).isEqualTo("{\"message\":\"Could not parse command\",\"ok\":false}\n");
        assertThat(session.reading()).isTrue();
        feed("{\"command\":\"help\"}\n");
        assertThat(dispatched).hasSize(1);
    }

    @Test
    void workerAckEndsTheInputWithoutAReplyLikeEinhorn() {
        feed("{\"command\":\"worker:ack\",\"pid\":5}\n{\"command\":\"state\"}\n");
        assertThat(dispatched).extracting(d -> d.request().command()).containsExactly("worker:ack");
        assertThat(session.reading()).isFalse();
        assertThat(session.done()).isTrue();
    }

    @Test
    void aLineOverOneMebibyteIsRefusedAndEndsTheInput() {
        byte[] big = new byte[Session.MAX_LINE + 10];
        java.util.Arrays.fill(big, (byte) 'a');
        session.received(big, 0, big.length);
        assertThat(written()).contains("Command too long");
        assertThat(session.farewell()).contains("over");
        assertThat(session.done()).isTrue();
    }

    @Test
    void aClientThatDoesNotReadIsCutOff() {
        session = new Session((r, to) -> dispatched.add(new Dispatched(r, to)), pending::add, 1000);
        feed("{\"id\":1,\"command\":\"state\"}\n");
        dispatched.getFirst().replyTo().send("x".repeat(2000), true, true);
        deliver();
        assertThat(session.done()).isTrue();
        assertThat(session.farewell()).isEqualTo("is not reading its replies");
        assertThat(session.output()).isNull();
    }

    @Test
    void aWatcherHasASmallBudgetOfItsOwnWhileOtherRepliesKeepTheConnectionsBudget() {
        session = new Session((r, to) -> dispatched.add(new Dispatched(r, to)), pending::add, 16L << 20);
        feed("{\"id\":1,\"command\":\"state\"}\n{\"id\":2,\"command\":\"watch\"}\n");
        dispatched.get(0).replyTo().send("s".repeat(2 << 20), true, true);
        deliver();
        assertThat(session.done()).as("a 2 MiB state is within the connection's 16 MiB").isFalse();
        written();

        ReplyTo watch = dispatched.get(1).replyTo();
        String event = "{\"event\":\"status\",\"workers\":1000}";
        long lines = Session.WATCH_MAX_OUTPUT / event.length() + 1;
        for (long i = 0; i < lines && watch.open(); i++) {
            watch.send(event, false, true);
            deliver();
        }
        assertThat(session.done()).as("a watcher that never reads is dropped at 1 MiB").isTrue();
        assertThat(session.farewell()).isEqualTo("is not reading its replies");
        assertThat(watch.open()).as("the loop learns it is gone and stops sending").isFalse();
    }

    @Test
    void aWatchGoesOnAfterTheClientsEndOfInputWhichIsAnsweredAtOnce() {
        feed("{\"id\":3,\"command\":\"watch\"}\n");
        session.endOfInput();
        assertThat(written()).as("the answer to EOF waits for the watch's first line").isEmpty();
        ReplyTo watch = dispatched.getFirst().replyTo();
        watch.send("{\"event\":\"status\"}", false, true);
        deliver();
        String out = written();
        assertThat(out.indexOf("status")).isLessThan(out.indexOf("input_closed"));
        assertThat(out).contains("{\"message\":\"{\\\"event\\\":\\\"input_closed\\\"}\",\"request_id\":3,\"wait\":true}\n");
        assertThat(session.done()).as("a half-closed client still reads its stream").isFalse();
        watch.send("{\"event\":\"spawned\"}", false, true);
        deliver();
        assertThat(written()).contains("spawned");

        assertThat(watch.open()).isTrue();
        session.closed();
        assertThat(watch.open()).as("after the transport closed it").isFalse();
    }

    /** A request line of exactly {@code size} bytes (without its newline). */
    static String requestOf(int size) {
        String head = "{\"command\":\"ehlo\",\"pad\":\"";
        return head + "x".repeat(size - head.length() - 2) + "\"}";
    }

    @Test
    void aLineOfExactlyTheLimitIsStillARequest() {
        feed(requestOf(Session.MAX_LINE) + "\n");
        assertThat(dispatched).extracting(d -> d.request().command()).containsExactly("ehlo");
        assertThat(session.reading()).isTrue();
    }

    @Test
    void aLineOverTheLimitIsNeverDispatchedAndNothingAfterIt() {
        feed(requestOf(Session.MAX_LINE + 1) + "\n{\"command\":\"state\"}\n");
        assertThat(dispatched).isEmpty();
        assertThat(session.reading()).isFalse();
        assertThat(written()).isEqualTo("{\"message\":\"Command too long (over 1048576 bytes); closing the connection\","
                + "\"ok\":false}\n");
    }

    @Test
    void anOverLongLineBehindAnOwedRequestSaysGoodbyeOnceThatIsAnswered() {
        feed("{\"id\":1,\"command\":\"state\"}\n" + requestOf(Session.MAX_LINE + 1));
        assertThat(session.farewell()).isNull();
        dispatched.getFirst().replyTo().send("{}", true, true);
        deliver();
        assertThat(written()).contains("Command too long");
        assertThat(session.farewell()).isEqualTo("sent a line over 1048576 bytes");
        assertThat(session.done()).isTrue();
    }

    @Test
    void blankLinesAreNoRequestsAndGetNoAnswer() {
        feed("\n\r\n\n{\"command\":\"ehlo\"}\n\n");
        assertThat(dispatched).extracting(d -> d.request().command()).containsExactly("ehlo");
        assertThat(written()).isEmpty();
    }

    @Test
    void anAnswerOfItsOwnWaitsForEveryEarlierRequestWhicheverIsAnsweredFirst() {
        feed("{\"id\":1,\"command\":\"ehlo\"}\n{\"id\":2,\"command\":\"state\"}\n%%%\n");
        dispatched.get(1).replyTo().send("second", true, true);
        deliver();
        assertThat(written()).contains("second").doesNotContain("Could not parse");
        dispatched.get(0).replyTo().send("first", true, true);
        deliver();
        String out = written();
        assertThat(out.indexOf("first")).isLessThan(out.indexOf("Could not parse command"));
    }

    @Test
    void aClientThatReadsItsRepliesIsNeverCutOffAndOneThatFallsBehindIsCutOffAtTheBudget() {
        String line = WireCodec.encodeReply("x".repeat(100), 1, false, true);
        session = new Session((r, to) -> dispatched.add(new Dispatched(r, to)), pending::add, line.length());
        feed("{\"id\":1,\"command\":\"watch\"}\n");
        ReplyTo to = dispatched.getFirst().replyTo();
        for (int i = 0; i < 5; i++) {
            to.send("x".repeat(100), false, true);
            deliver();
            assertThat(written()).as("round %d", i).isEqualTo(line);
        }
        assertThat(to.open()).as("exactly the budget, read each time").isTrue();
        to.send("x".repeat(100), false, true);
        to.send("x", false, true);
        deliver();
        assertThat(to.open()).as("one byte over").isFalse();
        assertThat(session.farewell()).isEqualTo("is not reading its replies");
        feed("{\"id\":2,\"command\":\"state\"}\n");
        assertThat(dispatched).as("no more input after the cut").hasSize(1);
    }

    @Test
    void aSessionHandedToTheNextProcessGoesOnWithItsOwedRequestsUnwrittenRepliesAndUnfinishedLine() {
        feed("{\"id\":7,\"command\":\"upgrade\"}\n{\"id\":8,\"command\":\"sta");
        ReplyTo upgrade = dispatched.getFirst().replyTo();
        upgrade.send("Upgrading smoothly", false, true);
        deliver();
        // the exec comes before the client read this line; the core names the upgrade's request "c1"
        Session.Handed handed = session.handOver(List.of(new Session.Owed("c1", 7)));
        assertThat(handed.owed()).containsExactly(new Session.Owed("c1", 7));

        List<Dispatched> next = new ArrayList<>();
        Session adopted = new Session((r, to) -> next.add(new Dispatched(r, to)), Runnable::run, 1 << 20);
        java.util.Map<String, ReplyTo> named = new java.util.HashMap<>();
        adopted.adopt(handed, named::put);
        session = adopted;
        assertThat(written()).isEqualTo("{\"message\":\"Upgrading smoothly\",\"request_id\":7,\"wait\":true}\n");
        // the rest of the unfinished line arrives at the next process
        feed("te\"}\n");
        assertThat(next).singleElement().satisfies(d -> assertThat(d.request().command()).isEqualTo("state"));
        next.getFirst().replyTo().send("{}", true, true);
        named.get("c1").send("Upgrade done", true, true);
        assertThat(written()).isEqualTo("{\"message\":\"{}\",\"request_id\":8}\n"
                + "{\"message\":\"Upgrade done\",\"request_id\":7}\n");
        session.endOfInput();
        assertThat(session.done()).as("nothing owed any more").isTrue();
    }

    @Test
    void aSessionWithNothingPendingHandsOverNoInputAndNoOutput() {
        feed("{\"id\":1,\"command\":\"state\"}\n");
        dispatched.getFirst().replyTo().send("{}", true, true);
        deliver();
        written();
        assertThat(session.handOver(List.of())).isEqualTo(new Session.Handed(List.of(), null, null));
    }

    @Test
    void pastTheRequestsInFlightLimitItReadsOnOnlyAsRepliesComeAndKeepsTheOrder() {
        StringBuilder many = new StringBuilder();
        for (int i = 0; i < Session.MAX_IN_FLIGHT + 10; i++) many.append("{\"id\":").append(i).append(",\"command\":\"state\"}\n");
        feed(many.toString());
        assertThat(dispatched).hasSize(Session.MAX_IN_FLIGHT);
        assertThat(session.paused()).as("no more input wanted while the limit is reached").isTrue();
        assertThat(session.held()).as("the lines not parsed yet are held").isPositive();
        // one reply: one more request is parsed
        dispatched.getFirst().replyTo().send("{}", true, true);
        deliver();
        assertThat(dispatched).hasSize(Session.MAX_IN_FLIGHT + 1);
        // replies to everything: the rest comes, in order, and reading resumes
        for (int i = 1; i < Session.MAX_IN_FLIGHT + 10; i++) {
            dispatched.get(i).replyTo().send("{}", true, true);
            deliver();
        }
        assertThat(dispatched).hasSize(Session.MAX_IN_FLIGHT + 10);
        assertThat(dispatched).extracting(d -> d.request().id()).containsExactlyElementsOf(
                java.util.stream.IntStream.range(0, Session.MAX_IN_FLIGHT + 10).boxed().toList());
        assertThat(session.paused()).isFalse();
        assertThat(written().lines()).hasSize(Session.MAX_IN_FLIGHT + 10);
    }

    @Test
    void whatASessionHoldsIsItsLineSoFarItsUnwrittenRepliesAndItsWaitingInput() {
        assertThat(session.held()).isZero();
        feed("{\"command\":\"st");
        long partial = session.held();
        assertThat(partial).as("the line's buffer").isPositive();
        feed("ate\"}\n");
        dispatched.getFirst().replyTo().send("x".repeat(10_000), true, true);
        deliver();
        assertThat(session.held()).as("a reply of 10,000 bytes queued").isGreaterThan(10_000);
        written();
        assertThat(session.held()).as("written: only the line buffer is left").isLessThanOrEqualTo(partial * 2);
    }

    @Test
    void aLineOfAMebibyteNeverHoldsMuchMoreThanThat() {
        byte[] chunk = new byte[64 * 1024];
        java.util.Arrays.fill(chunk, (byte) 'x');
        for (int i = 0; i < 15; i++) session.received(chunk, 0, chunk.length);
        assertThat(session.held()).isLessThanOrEqualTo(Session.MAX_LINE + 1);
        for (int i = 0; i < 2; i++) session.received(chunk, 0, chunk.length);
        assertThat(session.reading()).as("over a mebibyte: refused").isFalse();
        assertThat(session.held()).as("its buffer is let go").isLessThan(4096);
    }
}
