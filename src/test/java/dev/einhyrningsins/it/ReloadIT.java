package dev.einhyrningsins.it;

import static dev.einhyrningsins.Await.await;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.einhyrningsins.posix.Datagrams;
import dev.einhyrningsins.posix.Fds;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The supervisor replacing itself in place: same pid, sockets, workers and state; nothing dropped. */
class ReloadIT {

    @TempDir
    Path dir;

    /** The jar this test's supervisors run, a copy we may replace as a deploy would. */
    Path jar() throws IOException {
        Path copy = dir.resolve("einhyrningsins.jar");
        if (!Files.exists(copy)) Files.copy(SupervisorProcess.jar(), copy);
        return copy;
    }

    SupervisorProcess start(Map<String, String> env, String... args) throws IOException {
        return SupervisorProcess.launch(List.of(SupervisorProcess.java(), "-jar", jar().toString()), dir, env, args);
    }

    /** Runs ctl (from the test's jar) to the end. */
    SupervisorProcess.Result ctl(SupervisorProcess sup, String commands) throws Exception {
        return SupervisorProcess.runToExitIn(dir, "", SupervisorProcess.java(), "-jar", SupervisorProcess.jar().toString(),
                "ctl", "-d", sup.socket.toString(), "-e", commands);
    }

    static List<Integer> pids(JsonNode state) {
        List<Integer> pids = new ArrayList<>();
        for (JsonNode w : state.path("workers")) pids.add(w.path("pid").asInt());
        return pids;
    }

    static List<String> fdTargets(long pid) throws IOException {
        List<String> targets = new ArrayList<>();
        try (Stream<Path> s = Files.list(Path.of("/proc", Long.toString(pid), "fd"))) {
            for (Path fd : s.toList()) {
                try {
                    targets.add(Files.readSymbolicLink(fd).toString());
                } catch (IOException gone) {
                    // closed meanwhile
                }
            }
        }
        return targets;
    }

    static long openFds(long pid) throws IOException {
        try (Stream<Path> s = Files.list(Path.of("/proc", Long.toString(pid), "fd"))) {
            return s.count();
        }
    }

    @Test
    void threeReloadsKeepThePidTheWorkersAndTheStateAndLeakNoFds() throws Exception {
        try (var sup = start(Map.of(), "-n", "3", "-m", "0.2", "-b", "127.0.0.1:0",
                SupervisorProcess.worker("probe.py").toString())) {
            List<Integer> workers = sup.awaitAcked(3);
            // history to keep: a config change, an upgrade's outcome, an exit
            assertThat(sup.command("config", "seconds=2")).startsWith("Successfully merged in config");
            assertThat(sup.request("upgrade", null).getLast().path("message").asText()).isEqualTo("Upgrade done");
            workers = sup.awaitAcked(3);
            JsonNode before = sup.state();
            List<Long> fds = new ArrayList<>();
            for (int i = 1; i <= 3; i++) {
                var reload = ctl(sup, "reload");
                assertThat(reload.status()).as(reload.stdout() + reload.stderr()).isZero();
                assertThat(reload.stdout()).startsWith("Reloading, as commanded\n")
                        .contains("Reloaded: einhyrningsins ").contains("took over as pid " + sup.pid() + " with 3 workers");
                JsonNode after = sup.state();
                assertThat(after.path("pid").asLong()).isEqualTo(sup.pid());
                assertThat(after.path("reloads").asInt()).isEqualTo(i);
                assertThat(pids(after)).isEqualTo(workers);
                assertThat(after.path("generation").asInt()).isEqualTo(2);
                assertThat(after.path("config").path("seconds").asText()).isEqualTo("2");
                assertThat(after.path("last_upgrade")).isEqualTo(before.path("last_upgrade"));
                assertThat(after.path("recent_exits")).isEqualTo(before.path("recent_exits"));
                assertThat(after.path("workers")).isEqualTo(before.path("workers"));
                assertThat(after.path("sockets")).isEqualTo(before.path("sockets"));
                assertThat(sup.process.isAlive()).isTrue();
                assertThat(fdTargets(sup.pid())).as("the hand-over memfd is closed").noneMatch(t -> t.contains("memfd:"));
                if (i == 3) {
                    // the ctl connection kept across the exec closes when the loop sees its end: wait for that
                    await("no more fds than after the 2nd reload", () -> {
                        try {
                            return openFds(sup.pid()) <= fds.get(1);
                        } catch (IOException e) {
                            return false;
                        }
                    });
                }
                fds.add(openFds(sup.pid()));
            }
            for (int pid : workers) {
                JsonNode probe = SupervisorProcess.readJson(dir.resolve(pid + ".json"));
                assertThat(probe.path("ppid").asLong()).as("still our child").isEqualTo(sup.pid());
            }
            sup.signal("TERM");
            assertThat(sup.awaitExit()).isZero();
            assertThat(sup.socket).doesNotExist();
        }
    }

    @Test
    void aJavaJarGivenJvmOptionsOfItsOwnReloadsFromTheJvmsHandlersToTheKernel() throws Exception {
        // its signals come through the JVM's handlers until the reload's exec blocks them
        List<String> launch = List.of(SupervisorProcess.java(), "-Xshare:auto", "-jar", jar().toString());
        try (var sup = SupervisorProcess.launch(launch, dir, Map.of(), "-n", "1", "-m", "0", "--", "sleep", "600")) {
            sup.awaitAcked(1);
            var reload = ctl(sup, "reload");
            assertThat(reload.status()).as(reload.stdout() + reload.stderr()).isZero();
            String cmdline = Files.readString(Path.of("/proc/" + sup.pid() + "/cmdline"));
            assertThat(cmdline).contains("\0-Xshare:auto\0-jar\0").doesNotContain("-Deinhyrningsins.lean");
            // the next process waits for them in the kernel: HUP, INT, TERM, TTIN, TTOU blocked
            long blocked = LeanStartIT.mask(sup.pid(), "SigBlk:");
            for (int signal : new int[] {1, 2, 15, 21, 22}) {
                assertThat(dev.einhyrningsins.posix.Signals.has(blocked, signal)).as("signal %d blocked", signal).isTrue();
            }
            sup.signal("TTIN");
            await("2 workers", () -> {
                try {
                    return sup.state().path("target").asInt() == 2;
                } catch (IOException e) {
                    return false;
                }
            });
            sup.signal("TERM");
            assertThat(sup.awaitExit()).isZero();
        }
    }

    @Test
    void noRequestFailsUnderLoadThroughThreeReloads() throws Exception {
        Path app = dir.resolve("app");
        Files.writeString(app, "#!/bin/sh\nexec python3 " + SupervisorProcess.example("http_worker.py") + "\n");
        Files.setPosixFilePermissions(app, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.writeString(dir.resolve("version"), "v1");
        try (var sup = start(Map.of("VERSION_FILE", dir.resolve("version").toString()), "-n", "4", "-m", "manual",
                "-b", "127.0.0.1:0", app.toString())) {
            List<Integer> workers = sup.awaitAcked(4);
            int port = UpgradeIT.port(sup);
            AtomicBoolean stop = new AtomicBoolean();
            AtomicLong ok = new AtomicLong();
            AtomicLong failed = new AtomicLong();
            AtomicReference<String> firstFailure = new AtomicReference<>();
            Thread client = Thread.ofPlatform().start(() -> {
                while (!stop.get()) {
                    try {
                        UpgradeIT.get(port, "/sleep?ms=10");
                        ok.incrementAndGet();
                    } catch (IOException e) {
                        failed.incrementAndGet();
                        firstFailure.compareAndSet(null, e.toString());
                    }
                }
            });
            try {
                for (int i = 0; i < 3; i++) {
                    long before = ok.get();
                    var reload = ctl(sup, "reload");
                    assertThat(reload.status()).as(reload.stdout() + reload.stderr()).isZero();
                    await("requests flowing", () -> ok.get() > before);
                }
            } finally {
                stop.set(true);
                client.join();
            }
            assertThat(failed.get()).as("failed requests (first: %s)", firstFailure.get()).isZero();
            assertThat(ok.get()).isPositive();
            assertThat(sup.workers(true)).isEqualTo(workers);
        }
    }

    /** A worker that acks (through the control socket, or its -g channel) once the file ACK_ON appears. */
    Path ackOnFlag() throws IOException {
        Path worker = dir.resolve("ack-on-flag.py");
        Files.writeString(worker, """
                #!/usr/bin/env python3
                import json, os, signal, socket, sys, time
                flag = os.path.join(os.environ["PROBE_DIR"], "ack-%s" % os.environ["EINHORN_CHILD_INDEX"])
                signal.signal(signal.SIGUSR2, lambda *a: sys.exit(0))
                while not os.path.exists(flag):
                    time.sleep(0.02)
                line = (json.dumps({"command": "worker:ack", "pid": os.getpid()}) + "\\n").encode()
                if "EINHORN_SOCK_FD" in os.environ:
                    os.write(int(os.environ["EINHORN_SOCK_FD"]), line)
                else:
                    s = socket.socket(socket.AF_UNIX)
                    s.connect(os.environ["EINHORN_SOCK_PATH"])
                    s.sendall(line)
                    s.close()
                while True:
                    signal.pause()
                """);
        Files.setPosixFilePermissions(worker, PosixFilePermissions.fromString("rwxr-xr-x"));
        return worker;
    }

    @Test
    void acksAndAWorkersDeathDuringTheExecAreNotLost() throws Exception {
        try (var sup = start(Map.of(), "-n", "3", "-m", "manual", "-g", ackOnFlag().toString())) {
            Files.createFile(dir.resolve("ack-0"));
            List<Integer> first = new ArrayList<>();
            await("worker 0 acked", () -> {
                try {
                    first.clear();
                    first.addAll(sup.workers(true));
                    return first.size() == 1;
                } catch (IOException e) {
                    return false;
                }
            });
            List<Integer> all = pids(sup.state());
            int doomed = first.getFirst();
            CompletableFuture<SupervisorProcess.Result> reload = CompletableFuture.supplyAsync(() -> {
                try {
                    return ctl(sup, "reload");
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            // between the old process's exec and the new one taking over: one worker dies, two ack
            sup.awaitLine("Reload: executing");
            new ProcessBuilder("kill", "-KILL", Integer.toString(doomed)).start().waitFor();
            Files.createFile(dir.resolve("ack-1"));
            Files.createFile(dir.resolve("ack-2"));
            SupervisorProcess.Result r = reload.get(60, TimeUnit.SECONDS);
            assertThat(r.status()).as(r.stdout() + r.stderr()).isZero();
            sup.awaitLine("Worker " + doomed + " \\(slot 0, generation 1\\) killed by SIGKILL");
            await("the two others acked", () -> {
                try {
                    return sup.workers(true).containsAll(all.subList(1, 3));
                } catch (IOException e) {
                    return false;
                }
            });
            JsonNode state = sup.state();
            assertThat(state.path("recent_exits").get(0).path("pid").asInt()).isEqualTo(doomed);
            await("a replacement in slot 0", () -> {
                try {
                    return pids(sup.state()).size() == 3 && !pids(sup.state()).contains(doomed);
                } catch (IOException e) {
                    return false;
                }
            });
        }
    }

    @Test
    void aBrokenNewInstallationIsRefusedAndTheSupervisorGoesOn() throws Exception {
        try (var sup = start(Map.of(), "-m", "0.2", SupervisorProcess.worker("probe.py").toString())) {
            List<Integer> workers = sup.awaitAcked(1);
            Path good = dir.resolve("good.jar");
            Files.copy(jar(), good);
            Files.writeString(dir.resolve("broken.jar"), "not a jar");
            Files.move(dir.resolve("broken.jar"), jar(), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            var reload = ctl(sup, "reload");
            assertThat(reload.status()).isEqualTo(1);
            assertThat(reload.stdout()).contains("Reload refused: the new installation's check exited with status 1")
                    .contains("the supervisor goes on as it is");
            assertThat(sup.workers(true)).isEqualTo(workers);
            assertThat(sup.state().path("reloads").asInt()).isZero();
            // fixed: the next reload goes through
            Files.move(good, jar(), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            assertThat(ctl(sup, "reload").status()).isZero();
            assertThat(sup.state().path("reloads").asInt()).isEqualTo(1);
        }
    }

    @Test
    void aReloadDuringAnUpgradeFinishesTheUpgradeAndItsClientHearsTheEnd() throws Exception {
        // --max-unacked 2: the default (the CPUs) would not spawn slot 3 beside unacked slot 2 on one CPU
        try (var sup = start(Map.of(), "-n", "2", "-m", "manual", "--max-unacked", "2", ackOnFlag().toString())) {
            Files.createFile(dir.resolve("ack-0"));
            Files.createFile(dir.resolve("ack-1"));
            List<Integer> old = sup.awaitAcked(2);
            Files.delete(dir.resolve("ack-0"));
            Files.delete(dir.resolve("ack-1"));
            CompletableFuture<SupervisorProcess.Result> upgrade = CompletableFuture.supplyAsync(() -> {
                try {
                    return ctl(sup, "upgrade");
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            sup.awaitLine("Spawned worker \\d+ \\(slot 3, generation 2\\)");
            var reload = ctl(sup, "reload");
            assertThat(reload.status()).as(reload.stdout()).isZero();
            JsonNode upgrading = sup.state().path("upgrading");
            assertThat(upgrading.path("generation").asInt()).isEqualTo(2);
            Files.createFile(dir.resolve("ack-2"));
            Files.createFile(dir.resolve("ack-3"));
            SupervisorProcess.Result u = upgrade.get(60, TimeUnit.SECONDS);
            assertThat(u.status()).as(u.stdout() + u.stderr()).isZero();
            assertThat(u.stdout()).contains("Upgrade done");
            await("the old generation gone", () -> {
                try {
                    List<Integer> now = sup.workers(true);
                    return now.size() == 2 && now.stream().noneMatch(old::contains);
                } catch (IOException e) {
                    return false;
                }
            });
            assertThat(sup.state().path("last_upgrade").path("outcome").asText()).isEqualTo("done");
        }
    }

    @Test
    void anUpgradeReloadsTheSupervisorFirstWhenItsInstallationChanged() throws Exception {
        try (var sup = start(Map.of(), "-n", "2", "-m", "0.2", SupervisorProcess.worker("probe.py").toString())) {
            List<Integer> old = sup.awaitAcked(2);
            assertThat(ctl(sup, "upgrade").stdout()).doesNotContain("reloading the supervisor first");
            old = sup.awaitAcked(2);
            // a new release put in place (here: the same jar, written again)
            Path next = dir.resolve("next.jar");
            Files.copy(SupervisorProcess.jar(), next);
            Files.setLastModifiedTime(next, FileTime.fromMillis(System.currentTimeMillis() + 5_000));
            Files.move(next, jar(), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            var upgrade = ctl(sup, "upgrade");
            assertThat(upgrade.status()).as(upgrade.stdout() + upgrade.stderr()).isZero();
            assertThat(upgrade.stdout())
                    .contains("The supervisor's own installation changed on disk since it started: reloading the supervisor first")
                    .contains("took over as pid " + sup.pid() + " with 2 workers; now upgrading the workers")
                    .endsWith("Upgrade done\n");
            assertThat(sup.state().path("reloads").asInt()).isEqualTo(1);
            List<Integer> now = sup.awaitAcked(2);
            assertThat(now).doesNotContainAnyElementsOf(old);
        }
    }

    @Test
    void healthChecksGoOnAcrossAReloadAndNoneIsLeftFromBefore() throws Exception {
        try (var sup = start(Map.of(), "-n", "2", "-m", "0.2", "--live-check", "sleep 0.2", "--check-interval", "0.05",
                SupervisorProcess.worker("probe.py").toString())) {
            List<Integer> workers = sup.awaitAcked(2);
            await("live checks in flight", () -> Procfs.children(sup.pid()).size() > 2);
            assertThat(ctl(sup, "reload").status()).isZero();
            // the counters start again in the new process: these are checks it ran
            await("10 live checks passed after the reload", () -> {
                try {
                    return Pid1IT.metric(sup.command("metrics"), "einhyrningsins_checks_total{kind=\"live\",result=\"passed\"}") >= 10;
                } catch (IOException e) {
                    return false;
                }
            });
            assertThat(Pid1IT.metric(sup.command("metrics"), "einhyrningsins_checks_total{kind=\"live\",result=\"failed\"}"))
                    .isZero();
            assertThat(sup.workers(true)).isEqualTo(workers);
            for (JsonNode w : sup.state().path("workers")) {
                assertThat(w.path("phase").asText()).isEqualTo("acked");
                assertThat(w.path("live_check").path("consecutive_failures").asInt()).isZero();
            }
            // a check killed at the exec was reaped then: no child of ours is left a zombie nobody waits for
            await("no zombie children", () -> Procfs.children(sup.pid()).values().stream().noneMatch(Procfs::dead));
            sup.signal("TERM");
            assertThat(sup.awaitExit()).isZero();
        }
    }

    @Test
    void withKillChildrenOnExitASecondReloadWaitsUntilTheWorkersWereReplaced() throws Exception {
        try (var sup = start(Map.of(), "-k", "-n", "2", "-m", "0.2", SupervisorProcess.worker("probe.py").toString())) {
            List<Integer> first = sup.awaitAcked(2);
            var reload = ctl(sup, "reload");
            assertThat(reload.status()).as(reload.stdout() + reload.stderr()).isZero();
            assertThat(sup.workers(true)).isEqualTo(first);
            // the thread these workers hang from is the one the next exec would end
            var again = ctl(sup, "reload");
            assertThat(again.status()).isEqualTo(1);
            assertThat(again.stdout()).contains("Reload refused: with -k, the 2 workers started before the previous reload")
                    .contains("replace them first (upgrade), then reload");
            assertThat(sup.state().path("reloads").asInt()).isEqualTo(1);
            assertThat(sup.workers(true)).isEqualTo(first);
            for (int pid : first) assertThat(running(pid)).as("worker " + pid).isTrue();
            // replaced: their successors were started by this process, and they survive its exec
            assertThat(ctl(sup, "upgrade").status()).isZero();
            List<Integer> second = sup.awaitAcked(2);
            assertThat(second).doesNotContainAnyElementsOf(first);
            var third = ctl(sup, "reload");
            assertThat(third.status()).as(third.stdout()).isZero();
            assertThat(sup.state().path("reloads").asInt()).isEqualTo(2);
            assertThat(sup.workers(true)).isEqualTo(second);
            for (int pid : second) {
                assertThat(running(pid)).as("worker " + pid + " after the exec").isTrue();
                JsonNode probe = SupervisorProcess.readJson(dir.resolve(pid + ".json"));
                assertThat(probe.path("ppid").asLong()).as("still our child").isEqualTo(sup.pid());
            }
        }
    }

    @Test
    void einhornshsReloadGetsItsCompletionOverTheSameConnection() throws Exception {
        try (var sup = start(Map.of(), "-m", "0.2", SupervisorProcess.worker("probe.py").toString())) {
            sup.awaitAcked(1);
            // einhornsh sends YAML.dump of its request, URL-escaped, and reads until a reply without "wait"
            List<JsonNode> replies = sup.raw("---%0Aid: 7%0Acommand: reload%0Aargs: []%0A\n", true);
            assertThat(replies).hasSize(2);
            assertThat(replies.get(0).path("message").asText()).isEqualTo("Reloading, as commanded");
            assertThat(replies.get(0).path("wait").asBoolean()).isTrue();
            assertThat(replies.get(1).path("message").asText()).startsWith("Reloaded: ");
            assertThat(replies.get(1).path("request_id").asInt()).isEqualTo(7);
            assertThat(replies.get(1).has("wait")).isFalse();
        }
    }

    @Test
    void systemdHearsReloadingThenReady() throws Exception {
        String address = dir.resolve("notify.sock").toString();
        int receiver = Datagrams.receiver(address);
        try (var sup = start(Map.of("NOTIFY_SOCKET", address), "-m", "0.2", SupervisorProcess.worker("probe.py").toString())) {
            sup.awaitAcked(1);
            List<String> messages = new ArrayList<>();
            Runnable drain = () -> {
                Datagrams.Received r;
                while ((r = Datagrams.receive(receiver, 4096)) != null) messages.add(new String(r.data(), StandardCharsets.UTF_8));
            };
            await("READY=1", () -> {
                drain.run();
                return messages.stream().anyMatch(m -> m.startsWith("READY=1"));
            });
            messages.clear();
            assertThat(ctl(sup, "reload").status()).isZero();
            await("RELOADING=1 then READY=1", () -> {
                drain.run();
                int reloading = indexOf(messages, "RELOADING=1");
                int ready = indexOf(messages, "READY=1");
                return reloading >= 0 && ready > reloading;
            });
        } finally {
            Fds.close(receiver);
        }
    }

    /** Alive and not a zombie waiting for us: a parent-death signal would have made it one. */
    static boolean running(int pid) throws IOException {
        String stat = Files.readString(Path.of("/proc", Integer.toString(pid), "stat"));
        return stat.charAt(stat.lastIndexOf(')') + 2) != 'Z';
    }

    static int indexOf(List<String> messages, String prefix) {
        for (int i = 0; i < messages.size(); i++) if (messages.get(i).startsWith(prefix)) return i;
        return -1;
    }
}
