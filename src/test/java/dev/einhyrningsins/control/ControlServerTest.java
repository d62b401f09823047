package dev.einhyrningsins.control;

import static dev.einhyrningsins.Await.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The server on real UNIX sockets with an echoing sink standing in for the supervisor. */
class ControlServerTest {

    @TempDir
    Path dir;

    ControlServer server;
    Pump pump;
    final List<String> logs = new ArrayList<>();

    final ControlServer.Log log = new ControlServer.Log() {
        @Override
        public void info(String m) {
            synchronized (logs) {
                logs.add(m);
            }
        }

        @Override
        public void warn(String m) {
            info(m);
        }

        @Override
        public void debug(String m) {
            info(m);
        }
    };

    Path sock() {
        return dir.resolve("ctl.sock");
    }

    final List<String> received = new ArrayList<>();

    ControlServer open() throws ControlException {
        return serve(in -> {
            synchronized (received) {
                received.add(in.request().command());
            }
            if (!in.request().command().startsWith("worker:")) {
                in.replyTo().send("echo " + in.request().command() + " " + in.request().args(), true, true);
            }
        });
    }

    /** Opens the server with {@code sink} and serves it from a loop thread of the test's own. */
    ControlServer serve(java.util.function.Consumer<ControlServer.Inbound> sink) throws ControlException {
        server = ControlServer.open(sock(), dir.resolve("ctl.lock"), sink, log);
        pump = new Pump(server::pollables);
        return server;
    }

    ControlServer.Counts counts() {
        try {
            return pump.call(server::counts);
        } catch (Exception e) {
            throw new AssertionError("the loop thread did not answer", e);
        }
    }

    @AfterEach
    void close() throws InterruptedException {
        if (pump != null) pump.close();
        if (server != null) server.close();
    }

    static final class Client implements AutoCloseable {
        final SocketChannel ch;
        final BufferedReader in;

        Client(Path p) throws IOException {
            ch = SocketChannel.open(StandardProtocolFamily.UNIX);
            ch.connect(UnixDomainSocketAddress.of(p));
            in = new BufferedReader(new InputStreamReader(Channels.newInputStream(ch), StandardCharsets.UTF_8));
        }

        void write(String s) throws IOException {
            write(s.getBytes(StandardCharsets.UTF_8));
        }

        void write(byte[] b) throws IOException {
            ByteBuffer buf = ByteBuffer.wrap(b);
            while (buf.hasRemaining()) ch.write(buf);
        }

        String message() throws Exception {
            String line = in.readLine();
            return line == null ? null : WireCodec.decodeReply(line).message();
        }

        @Override
        public void close() throws IOException {
            ch.close();
        }
    }

    @Test
    void pipelinedAndPartialLinesAreHandledInOrder() throws Exception {
        open();
        try (Client c = new Client(sock())) {
            c.write("{\"command\":\"a\"}\n{\"command\":\"b\",\"args\":[\"x\"]}\n{\"comm");
            assertThat(c.message()).isEqualTo("echo a null");
            assertThat(c.message()).isEqualTo("echo b [x]");
            c.write("and\":\"c\"}\r\n");
            assertThat(c.message()).isEqualTo("echo c null");
        }
    }

    @Test
    void garbageAndNonUtf8GetCouldNotParseAndTheConnectionStaysUsable() throws Exception {
        open();
        try (Client c = new Client(sock())) {
            c.write("this is not a command\n");
            assertThat(c.message()).isEqualTo("Could not parse command");
            c.write(new byte[] {(byte) 0xff, (byte) 0x80, '\n'});
            assertThat(c.message()).isEqualTo("Could not parse command");
            c.write("{\"command\":\"state\"}\n");
            assertThat(c.message()).isEqualTo("echo state null");
        }
    }

    @Test
    void everyBurstOfClientBytesIsReportedOnceWhateverTheConnections() throws Exception {
        open();
        java.util.concurrent.atomic.AtomicInteger bursts = new java.util.concurrent.atomic.AtomicInteger();
        server.afterBursts(bursts::incrementAndGet);
        String line = "x".repeat(1023) + "\n"; // 1 KiB, answered "Could not parse command"
        int perBurst = (int) (ControlServer.BURST_BYTES / line.length());
        try (Client a = new Client(sock()); Client b = new Client(sock())) {
            for (int i = 0; i < perBurst - 1; i++) {
                (i % 2 == 0 ? a : b).write(line);
                assertThat((i % 2 == 0 ? a : b).message()).isEqualTo("Could not parse command");
            }
            assertThat(bursts).as("one line short of a burst, every line answered").hasValue(0);
            a.write(line);
            assertThat(a.message()).isEqualTo("Could not parse command");
            assertThat(bursts).as("the line that completes it, answered").hasValue(1);
            for (int i = 0; i < perBurst; i++) {
                b.write(line);
                assertThat(b.message()).isEqualTo("Could not parse command");
            }
            assertThat(bursts).as("a second burst").hasValue(2);
        }
    }

    @Test
    void aLineOverOneMebibyteIsRefusedAndTheConnectionClosed() throws Exception {
        open();
        try (Client c = new Client(sock())) {
            byte[] big = new byte[2 << 20];
            java.util.Arrays.fill(big, (byte) 'x');
            try {
                c.write(big);
            } catch (IOException closedMidWrite) {
                // the server may close before all of it is written
            }
            assertThat(c.message()).startsWith("Command too long");
            assertThat(c.in.readLine()).isNull();
        }
        try (Client c = new Client(sock())) {
            c.write("{\"command\":\"state\"}\n");
            assertThat(c.message()).isEqualTo("echo state null");
        }
    }

    @Test
    void atMost256ConcurrentConnections() throws Exception {
        open();
        List<Client> clients = new ArrayList<>();
        try {
            for (int i = 0; i < 300; i++) clients.add(new Client(sock()));
            int served = 0;
            int refused = 0;
            for (Client c : clients) {
                try {
                    c.write("{\"command\":\"ping\"}\n");
                } catch (IOException refusedAndClosed) {
                    // the refusal may have closed it already; its reply is still readable
                }
            }
            for (Client c : clients) {
                String m;
                try {
                    m = c.message();
                } catch (Exception e) {
                    m = "failed: " + e;
                }
                if ("echo ping null".equals(m)) served++;
                else if (m != null && m.startsWith("Too many connections")) refused++;
            }
            assertThat(served).as("served").isEqualTo(256);
            assertThat(refused).as("refused").isEqualTo(44);
            ControlServer.Counts counts = counts();
            assertThat(List.of(counts.accepted(), (long) counts.open(), counts.refusedUser(), counts.refusedLimit(),
                    counts.dropped())).containsExactly(256L, 256L, 0L, 44L, 0L);
        } finally {
            for (Client c : clients) c.close();
        }
        await("a connection served again once the others closed", () -> {
            try (Client c = new Client(sock())) {
                c.write("{\"command\":\"again\"}\n");
                return "echo again null".equals(c.message());
            } catch (Exception e) {
                return false;
            }
        });
    }

    @Test
    void workerAckClosesTheConnectionLikeEinhorn() throws Exception {
        open();
        try (Client c = new Client(sock())) {
            c.write("{\"command\":\"worker:ack\",\"pid\":1}\n{\"command\":\"state\"}\n");
            assertThat(c.in.readLine()).as("closed after the ack; nothing after it is read").isNull();
        }
        await("the ack received", () -> {
            synchronized (received) {
                return received.contains("worker:ack");
            }
        });
        synchronized (received) {
            assertThat(received).containsExactly("worker:ack");
        }
    }

    @Test
    void socketIsMode0600AndRemovedOnClose() throws Exception {
        open();
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(sock()))).isEqualTo("rw-------");
        try (var s = Files.list(dir)) {
            assertThat(s.map(p -> p.getFileName().toString())).containsExactlyInAnyOrder("ctl.sock", "ctl.lock");
        }
        pump.run(server::close);
        server = null;
        assertThat(sock()).doesNotExist();
    }

    @Test
    void aStaleSocketFileIsReplaced() throws Exception {
        ServerSocketChannel dead = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        dead.bind(UnixDomainSocketAddress.of(sock()));
        dead.close(); // file stays, nobody listens
        assertThat(sock()).exists();
        open();
        assertThat(logs).anyMatch(l -> l.contains("Replacing stale control socket"));
        try (Client c = new Client(sock())) {
            c.write("{\"command\":\"x\"}\n");
            assertThat(c.message()).isEqualTo("echo x null");
        }
    }

    @Test
    void aLiveSocketIsNotTaken() throws Exception {
        try (ServerSocketChannel live = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            live.bind(UnixDomainSocketAddress.of(sock()));
            assertThatThrownBy(this::open).isInstanceOf(ControlException.class)
                    .hasMessageContaining("another process is listening on the control socket " + sock())
                    .hasMessageContaining("-d PATH");
            assertThat(sock()).exists();
        }
    }

    @Test
    void aRegularFileIsNotTaken() throws Exception {
        Files.writeString(sock(), "precious");
        assertThatThrownBy(this::open).isInstanceOf(ControlException.class).hasMessageContaining("is not a socket");
        assertThat(Files.readString(sock())).isEqualTo("precious");
    }

    @Test
    void aHeldLockIsRefused() throws Exception {
        // another process holds the (fcntl) lock, as a second supervisor starting would
        String py = "import fcntl,sys; f=open(sys.argv[1],'w'); fcntl.lockf(f, fcntl.LOCK_EX); print('held', flush=True); sys.stdin.read()";
        Process holder = new ProcessBuilder("python3", "-c", py, dir.resolve("ctl.lock").toString())
                .redirectErrorStream(true).start();
        try {
            assertThat(new BufferedReader(new InputStreamReader(holder.getInputStream())).readLine()).isEqualTo("held");
            assertThatThrownBy(this::open).isInstanceOf(ControlException.class).hasMessageContaining("is held by another process");
            assertThat(sock()).doesNotExist();
        } finally {
            holder.destroy();
        }
    }

    @Test
    void anotherUserIsRefused() throws Exception {
        Assumptions.assumeTrue("root".equals(System.getProperty("user.name")), "needs root to run a client as another uid");
        Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/setpriv")), "needs setpriv (util-linux)");
        Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/python3")), "needs /usr/bin/python3 usable by nobody");
        open();
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.setPosixFilePermissions(sock(), PosixFilePermissions.fromString("rw-rw-rw-")); // let it connect at all
        // the refusal is written at accept; the client only reads (writing could race the close)
        String py = "import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); "
                + "print(s.makefile().readline().strip())";
        Process p = new ProcessBuilder("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                "/usr/bin/python3", "-c", py, sock().toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor()).as(out).isZero();
        assertThat(WireCodec.decodeReply(out.strip()).message()).startsWith("Permission denied");
        assertThat(counts().refusedUser()).isEqualTo(1);
        assertThat(counts().accepted()).isZero();
    }

    @Test
    void aClientThatHalfClosesStillGetsEveryReplyItIsOwed() throws Exception {
        serve(in -> {
            // a streamed reply that finishes later, as an upgrade's does
            pump.post(() -> in.replyTo().send("first of " + in.request().command(), false, true));
            pump.post(() -> in.replyTo().send("last of " + in.request().command(), true, true));
        });
        try (Client c = new Client(sock())) {
            c.write("{\"id\":1,\"command\":\"upgrade\"}\n{\"id\":2,\"command\":\"state\"}\n");
            c.ch.shutdownOutput();
            List<String> lines = new ArrayList<>();
            String line;
            while ((line = c.in.readLine()) != null) lines.add(WireCodec.decodeReply(line).message());
            assertThat(lines).contains("first of upgrade", "last of upgrade", "first of state", "last of state");
            assertThat(lines).hasSize(4);
        }
    }

    @Test
    void aBurstOf200ConnectsIsTakenAndTheServerStillAnswers() throws Exception {
        open();
        List<SocketChannel> idle = new ArrayList<>();
        try {
            int connected = 0;
            int failed = 0;
            for (int i = 0; i < 200; i++) {
                SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
                ch.configureBlocking(false);
                idle.add(ch);
                try {
                    if (ch.connect(UnixDomainSocketAddress.of(sock())) || ch.finishConnect()) connected++;
                } catch (IOException e) {
                    failed++; // EAGAIN: the listen backlog overflowed
                }
            }
            assertThat(failed).as("connects refused with EAGAIN").isZero();
            assertThat(connected).isEqualTo(200);
            try (Client c = new Client(sock())) {
                c.write("{\"command\":\"state\"}\n");
                assertThat(c.message()).isEqualTo("echo state null");
            }
        } finally {
            for (SocketChannel ch : idle) ch.close();
        }
    }

    // ------------------------------------------------------------------ watch: a reply that never ends

    final List<ReplyTo> watchers = new java.util.concurrent.CopyOnWriteArrayList<>();

    ControlServer openWatching() throws ControlException {
        return serve(in -> {
            watchers.add(in.replyTo());
            in.replyTo().send("{\"event\":\"status\"}", false, true);
        });
    }

    @Test
    void aWatcherThatClosesIsGoneAtOnceWithoutWaitingForAnEvent() throws Exception {
        openWatching();
        try (Client c = new Client(sock())) {
            c.write("{\"id\":1,\"command\":\"watch\"}\n");
            assertThat(c.message()).isEqualTo("{\"event\":\"status\"}");
            assertThat(counts().open()).isEqualTo(1);
        }
        await("the watcher seen closed", () -> !watchers.getFirst().open());
        await("no connection open", () -> counts().open() == 0);
        assertThat(counts().dropped()).as("a client that left is not a drop").isZero();
    }

    @Test
    void aWatcherThatHalfClosesKeepsReadingItsStream() throws Exception {
        openWatching();
        try (Client c = new Client(sock())) {
            c.write("{\"id\":1,\"command\":\"watch\"}\n");
            c.ch.shutdownOutput();
            assertThat(c.message()).isEqualTo("{\"event\":\"status\"}");
            assertThat(c.message()).isEqualTo(Session.INPUT_CLOSED);
            pump.run(() -> watchers.getFirst().send("{\"event\":\"spawned\"}", false, true));
            assertThat(c.message()).isEqualTo("{\"event\":\"spawned\"}");
            assertThat(watchers.getFirst().open()).isTrue();
        }
    }

    @Test
    void aWatchersLastLineHandedOverBeforeCloseIsWritten() throws Exception {
        openWatching();
        try (Client c = new Client(sock())) {
            c.write("{\"id\":1,\"command\":\"watch\"}\n");
            assertThat(c.message()).isEqualTo("{\"event\":\"status\"}");
            pump.run(() -> {
                watchers.getFirst().send("{\"event\":\"supervisor_exit\"}", true, true);
                server.close();
            });
            String line = c.in.readLine();
            assertThat(WireCodec.decodeReply(line).more()).isFalse();
            assertThat(WireCodec.decodeReply(line).message()).isEqualTo("{\"event\":\"supervisor_exit\"}");
            assertThat(c.in.readLine()).isNull();
        }
    }

    @Test
    void aWatcherThatDoesNotReadIsDroppedAndCounted() throws Exception {
        openWatching();
        try (Client c = new Client(sock())) {
            c.write("{\"id\":1,\"command\":\"watch\"}\n");
            await("a watcher", () -> !watchers.isEmpty());
            ReplyTo w = watchers.getFirst();
            String event = "{\"event\":\"progress\",\"message\":\"" + "x".repeat(1000) + "\"}";
            // the client never reads: the kernel's buffers fill, then the session's 1 MiB budget
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (w.open() && System.nanoTime() < deadline) pump.run(() -> w.send(event, false, true));
            assertThat(w.open()).isFalse();
            await("the slow watcher dropped", () -> counts().dropped() == 1 && counts().open() == 0);
        }
        synchronized (logs) {
            assertThat(logs).anyMatch(l -> l.contains("is not reading its replies"));
        }
    }

    // ------------------------------------------------------------------ bounds

    /** Whether the server closed the client's connection (closed with input unread, it is reset). */
    static boolean closed(Client c) {
        try {
            return c.in.readLine() == null;
        } catch (IOException reset) {
            return true;
        }
    }

    @Test
    void overTheClientsBudgetTheOneHoldingTheMostIsDroppedAndTheOthersAreServed() throws Exception {
        open();
        pump.run(() -> server.budget(1 << 20));
        List<Client> clients = new ArrayList<>();
        try {
            // endless lines that never end: each holds its line so far
            byte[] chunk = new byte[200 * 1024];
            java.util.Arrays.fill(chunk, (byte) 'x');
            for (int i = 0; i < 3; i++) {
                Client c = new Client(sock());
                clients.add(c);
                c.write(chunk);
            }
            Client biggest = clients.get(1);
            try {
                biggest.write(chunk);
                biggest.write(chunk); // 600 KiB: together over 1 MiB
            } catch (IOException closedMidWrite) {
                // dropped as soon as the total went over: the rest of it is not read
            }
            assertThat(closed(biggest)).as("the one holding the most was closed").isTrue();
            await("counted", () -> counts().overBudget() == 1);
            assertThat(counts().held()).isLessThanOrEqualTo(1 << 20);
            synchronized (logs) {
                assertThat(logs).anyMatch(l -> l.contains("held ") && l.contains(" of the 1.0 MiB all control clients together"));
            }
            // the others are served as before: 200 KiB of x is no command, answered, not dropped
            clients.getFirst().write("\n{\"command\":\"state\"}\n");
            assertThat(clients.getFirst().message()).isEqualTo("Could not parse command");
            assertThat(clients.getFirst().message()).isEqualTo("echo state null");
        } finally {
            for (Client c : clients) c.close();
        }
        try (Client fresh = new Client(sock())) {
            fresh.write("{\"command\":\"state\"}\n");
            assertThat(fresh.message()).isEqualTo("echo state null");
        }
    }

    @Test
    void aClientWhoseRequestRunsTheSupervisorOutOfMemoryIsDroppedAndTheOthersAreServed() throws Exception {
        serve(in -> {
            if (in.request().command().equals("boom")) throw new OutOfMemoryError("Java heap space (injected)");
            in.replyTo().send("echo " + in.request().command(), true, true);
        });
        try (Client a = new Client(sock()); Client b = new Client(sock())) {
            a.write("{\"command\":\"boom\"}\n");
            assertThat(closed(a)).isTrue();
            b.write("{\"command\":\"state\"}\n");
            assertThat(b.message()).isEqualTo("echo state");
        }
        synchronized (logs) {
            assertThat(logs).anyMatch(l -> l.contains("ran out of memory serving it (Java heap space (injected))"));
        }
        assertThat(counts().dropped()).isEqualTo(1);
    }

    @Test
    void aClientPipeliningPastTheInFlightLimitWaitsForItsRepliesAndGetsThemAll() throws Exception {
        List<ReplyTo> owed = new java.util.concurrent.CopyOnWriteArrayList<>();
        serve(in -> owed.add(in.replyTo()));
        int n = Session.MAX_IN_FLIGHT * 3;
        try (Client c = new Client(sock())) {
            StringBuilder b = new StringBuilder();
            for (int i = 0; i < n; i++) b.append("{\"id\":").append(i).append(",\"command\":\"state\"}\n");
            c.write(b.toString());
            await("the limit reached", () -> owed.size() == Session.MAX_IN_FLIGHT);
            assertThat(counts().held()).as("the rest waits, held").isPositive();
            for (int i = 0; i < n; i++) {
                int k = i;
                await("request " + k, () -> owed.size() > k);
                pump.run(() -> owed.get(k).send("reply " + k, true, true));
                assertThat(c.message()).isEqualTo("reply " + k);
            }
        }
    }

    @Test
    void withEveryConnectionTakenANewcomerGetsTheSlotOfTheOneHoldingTheMost() throws Exception {
        open();
        List<Client> clients = new ArrayList<>();
        try {
            for (int i = 0; i < ControlServer.MAX_CONNECTIONS; i++) clients.add(new Client(sock()));
            await("all open", () -> counts().open() == ControlServer.MAX_CONNECTIONS);
            Client flooding = clients.get(7);
            byte[] chunk = new byte[100 * 1024];
            java.util.Arrays.fill(chunk, (byte) 'x');
            flooding.write(chunk);
            await("its line held", () -> counts().held() >= chunk.length);
            try (Client operator = new Client(sock())) {
                operator.write("{\"command\":\"state\"}\n");
                assertThat(operator.message()).isEqualTo("echo state null");
                assertThat(closed(flooding)).isTrue();
                assertThat(counts().displaced()).as("a displacement, not a drop over the budget").isEqualTo(1);
                assertThat(counts().overBudget()).isZero();
                // with nobody holding much, a newcomer is refused as before. The operator stays
                // connected meanwhile: closed first, its slot could be free (or not) by the time
                // the newcomer comes, and a newcomer given a slot is told nothing (the test hung)
                try (Client late = new Client(sock())) {
                    assertThat(late.message()).startsWith("Too many connections");
                }
            }
        } finally {
            for (Client c : clients) c.close();
        }
    }
}
