package dev.einhyrningsins.it;

import static dev.einhyrningsins.Await.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.einhyrningsins.posix.Child;
import dev.einhyrningsins.posix.Datagrams;
import dev.einhyrningsins.posix.Fds;
import dev.einhyrningsins.posix.Processes;
import dev.einhyrningsins.posix.Spawn;
import java.io.IOException;
import java.net.ConnectException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The service manager's fd store, with a fake service manager in the test: it receives
 * FDSTORE=1 with the listening socket (SCM_RIGHTS) on its notify socket, keeps it while the
 * supervisor is SIGKILLed, and starts a new supervisor with it in LISTEN_FDS, named in
 * LISTEN_FDNAMES, as systemd does on a restart. Connections made meanwhile wait in the kept
 * socket's backlog: none is refused.
 */
class FdStoreIT {

    @TempDir
    Path dir;

    /** One message the fake manager received: its text and the descriptors it carried. */
    record Message(String text, int[] fds) {}

    final List<Message> received = new ArrayList<>();

    /** Waits for a message to the manager that contains {@code what}; returns it. */
    Message awaitMessage(int notify, String what) {
        AtomicReference<Message> found = new AtomicReference<>();
        dev.einhyrningsins.Await.await("a notify message with " + what + " in " + received, () -> {
            Datagrams.Received r;
            while ((r = Datagrams.receive(notify, 4096, 16)) != null) {
                received.add(new Message(new String(r.data(), StandardCharsets.UTF_8), r.fds()));
            }
            for (Message m : received) {
                if (m.text().contains(what)) {
                    found.set(m);
                    return true;
                }
            }
            return false;
        });
        received.remove(found.get());
        return found.get();
    }

    static String link(String path) throws IOException {
        return Files.readSymbolicLink(Path.of(path)).toString();
    }

    /** Starts a supervisor as systemd would on a restart: the stored socket as fd 3, LISTEN_* naming it, stderr to {@code log}. */
    Child restart(Map<String, String> env, int stored, String name, Path log, String... args) {
        List<String> argv = new ArrayList<>(List.of("/bin/sh", "-c",
                "LISTEN_PID=$$ LISTEN_FDS=1 LISTEN_FDNAMES=" + name + "; export LISTEN_PID LISTEN_FDS LISTEN_FDNAMES; "
                        + "exec \"$0\" \"$@\" 2>>'" + log + "'",
                SupervisorProcess.java(), "-jar", SupervisorProcess.jar().toString(), "-d", dir.resolve("ctl.sock").toString()));
        argv.addAll(List.of(args));
        Map<String, String> all = new LinkedHashMap<>(System.getenv());
        all.put("TMPDIR", dir.toString());
        all.putAll(env);
        List<String> envp = all.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue()).toList();
        return Spawn.start("/bin/sh", argv, envp, new int[] {stored});
    }

    static void awaitLog(Path log, String text) {
        dev.einhyrningsins.Await.await("'" + text + "' in " + log, () -> {
            try {
                return Files.exists(log) && Files.readString(log).contains(text);
            } catch (IOException e) {
                return false;
            }
        });
    }

    static void stop(Child c) {
        if (c == null || c.gone()) return;
        c.signal(Processes.SIGTERM);
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (c.reap() == null && System.nanoTime() < deadline) {
            dev.einhyrningsins.posix.Poller.readable(c.pidfd(), 100);
        }
        if (!c.gone()) c.killAndReapWithin(5000);
    }

    @Test
    void aSupervisorKilledWithSigkillLeavesItsListenerInTheStoreAndTheNextAdoptsItRefusingNothing() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/python3")), "needs /usr/bin/python3");
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/setpriv")), "needs setpriv for -k");
        String address = "@einhyrningsins-test/fdstore/" + ProcessHandle.current().pid() + "/" + System.nanoTime();
        int notify = Datagrams.receiver(address);
        Map<String, String> env = Map.of("NOTIFY_SOCKET", address, "FDSTORE", "8");
        String[] args = {"-k", "-n", "2", "-m", "manual", "-b", "127.0.0.1:0,r", "/usr/bin/python3",
                SupervisorProcess.example("http_worker.py").toString()};
        Child second = null;
        Child third = null;
        int stored = -1;
        try (var first = SupervisorProcess.start(dir, env, args)) {
            List<Integer> workers = first.awaitAcked(2);
            int port = UpgradeIT.port(first);
            Message keep = awaitMessage(notify, "FDSTORE=1");
            assertThat(keep.text()).isEqualTo("FDSTORE=1\nFDNAME=einhyrningsins-0\nFDPOLL=0");
            assertThat(keep.fds()).hasSize(1);
            stored = keep.fds()[0];
            String inode = link("/proc/self/fd/" + stored);
            assertThat(inode).startsWith("socket:[");
            assertThat(link("/proc/" + workers.getFirst() + "/fd/3")).isEqualTo(inode);
            assertThat(first.state().path("sockets").get(0).path("fd_store").asText()).isEqualTo("einhyrningsins-0");

            AtomicLong refused = new AtomicLong();
            try (Load load = new Load(() -> {
                try {
                    // a request queued while no supervisor runs waits for the next one's workers:
                    // the old ones' exit, two JVM starts, the adoption, two acks
                    UpgradeIT.get(port, "/", 60_000);
                } catch (ConnectException e) {
                    refused.incrementAndGet();
                    throw e;
                }
            })) {
                load.awaitFlowing(10);
                SupervisorProcess.kill("KILL", first.pid());
                first.process.waitFor();
                for (int w : workers) {
                    try {
                        await("worker " + w + " gone with the supervisor (-k)", () -> ProcessHandle.of(w).isEmpty());
                    } catch (AssertionError e) {
                        String status;
                        try {
                            status = Files.readString(Path.of("/proc/" + w + "/status")).lines()
                                    .filter(l -> l.matches("(State|PPid|Sig\\w+|ShdPnd):.*")).toList().toString();
                        } catch (IOException gone) {
                            status = "gone";
                        }
                        throw new AssertionError(e.getMessage() + "; " + status, e);
                    }
                }
                long during = load.ok();
                Path log = dir.resolve("second.log");
                second = restart(env, stored, "einhyrningsins-0", log, args);
                awaitLog(log, "Adopted 127.0.0.1:" + port + " (-b 127.0.0.1:0,r) from the service manager's fd store "
                        + "(einhyrningsins-0)");
                load.awaitFlowing(during + 20);
                JsonNode state = SupervisorProcess.stateAt(dir.resolve("ctl.sock"));
                JsonNode socket = state.path("sockets").get(0);
                assertThat(socket.path("port").asInt()).isEqualTo(port);
                assertThat(socket.path("fd_store").asText()).isEqualTo("einhyrningsins-0");
                for (JsonNode w : state.path("workers")) {
                    assertThat(link("/proc/" + w.path("pid").asInt() + "/fd/3")).as("the same socket").isEqualTo(inode);
                }
                load.close();
                assertThat(refused.get()).as("connections refused while no supervisor ran").isZero();
                assertThat(load.failed()).as(load.firstFailure()).isZero();
                assertThat(load.ok()).isGreaterThan(during);
            }
            assertThat(received).as("an adopted socket is not stored again").noneMatch(m -> m.text().contains("FDSTORE"));

            // a supervisor asking for another socket now releases the stored one and stores its own
            stop(second);
            Path log = dir.resolve("third.log");
            third = restart(env, stored, "einhyrningsins-0", log, "-n", "1", "-m", "0.1", "-b", "127.0.0.2:0",
                    "/usr/bin/python3", SupervisorProcess.example("http_worker.py").toString());
            awaitLog(log, "Releasing einhyrningsins-0 from the service manager's fd store: no -b asks for that socket now");
            Message release = awaitMessage(notify, "FDSTOREREMOVE=1");
            assertThat(release.text()).isEqualTo("FDSTOREREMOVE=1\nFDNAME=einhyrningsins-0");
            Message again = awaitMessage(notify, "FDSTORE=1");
            assertThat(again.fds()).hasSize(1);
            assertThat(link("/proc/self/fd/" + again.fds()[0])).isNotEqualTo(link("/proc/self/fd/" + stored));
            Fds.close(again.fds()[0]);
        } finally {
            stop(second);
            stop(third);
            if (stored >= 0) Fds.closeQuietly(stored);
            Fds.close(notify);
        }
    }
}
