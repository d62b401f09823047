package dev.einhyrningsins.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.einhyrningsins.Await;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A plain {@code java -jar} supervisor starts itself again in place with the image launcher's
 * lean JVM flags, its signals waiting in the kernel and USR2 its own; JVM options of the
 * caller's own leave it as started.
 */
class LeanStartIT {
    @TempDir
    Path dir;

    static List<String> cmdline(long pid) throws IOException {
        String all = new String(Files.readAllBytes(Path.of("/proc/" + pid + "/cmdline")), StandardCharsets.UTF_8);
        return List.of(all.split("\0"));
    }

    static long mask(long pid, String key) throws IOException {
        return dev.einhyrningsins.posix.Signals.maskOf(Path.of("/proc/" + pid + "/status"), key);
    }

    static long bit(int signal) {
        return 1L << (signal - 1);
    }

    /** How many of the process's descriptors are open on {@code file}. */
    static long openOn(long pid, Path file) throws IOException {
        Path real = file.toRealPath();
        try (Stream<Path> fds = Files.list(Path.of("/proc/" + pid + "/fd"))) {
            return fds.filter(fd -> {
                try {
                    return Files.readSymbolicLink(fd).equals(real);
                } catch (IOException e) {
                    return false;
                }
            }).count();
        }
    }

    @Test
    void aPlainJavaJarRunsLeanInPlaceWithItsSignalsInTheKernelAndAcrossAReload() throws Exception {
        try (var sup = SupervisorProcess.start(dir, Map.of(), "-n", "1", "-m", "0", "--", "sleep", "600")) {
            sup.awaitAcked(1);
            JsonNode state = sup.state();
            assertThat(state.path("pid").asLong()).as("the same process, started again in place").isEqualTo(sup.pid());
            List<String> cmd = cmdline(sup.pid());
            assertThat(cmd).containsSubsequence("-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xmx64m",
                    "-Deinhyrningsins.lean=true", "-jar", SupervisorProcess.jar().toString(), "-n", "1");
            // HUP (1), INT (2), TERM (15) ignored and, with USR2 (12), TTIN (21), TTOU (22), blocked
            long ignored = mask(sup.pid(), "SigIgn:");
            assertThat(ignored & (bit(1) | bit(2) | bit(15))).isEqualTo(bit(1) | bit(2) | bit(15));
            long blocked = mask(sup.pid(), "SigBlk:");
            long ours = bit(1) | bit(2) | bit(15) | bit(12) | bit(21) | bit(22);
            assertThat(blocked & ours).isEqualTo(ours);
            assertThat(Files.readString(Path.of("/proc/" + sup.pid() + "/environ"))).contains("\0_JAVA_SR_SIGNUM=40\0");
            // the first JVM's own descriptors and its performance data file did not outlive it
            Path modules = Path.of(System.getProperty("java.home"), "lib", "modules");
            assertThat(openOn(sup.pid(), SupervisorProcess.jar())).isEqualTo(1);
            assertThat(openOn(sup.pid(), modules)).isEqualTo(1);
            assertThat(Path.of("/tmp", "hsperfdata_" + System.getProperty("user.name"), Long.toString(sup.pid())))
                    .doesNotExist();
            long worker = state.path("workers").get(0).path("pid").asLong();
            assertThat(Files.readString(Path.of("/proc/" + worker + "/environ"))).doesNotContain("EINHYRNINGSINS_LEAN_FDS");

            var reload = SupervisorProcess.runToExitIn(dir, "", SupervisorProcess.java(), "-jar",
                    SupervisorProcess.jar().toString(), "ctl", "-d", sup.socket.toString(), "-e", "reload");
            assertThat(reload.status()).as(reload.stdout() + reload.stderr()).isZero();
            assertThat(sup.state().path("reloads").asInt()).isEqualTo(1);
            assertThat(cmdline(sup.pid())).as("a reload starts the same command line again").isEqualTo(cmd);
            assertThat(openOn(sup.pid(), SupervisorProcess.jar())).isEqualTo(1);

            // USR2 is the supervisor's (einhorn's "die"), not HotSpot's suspend signal
            sup.signal("USR2");
            sup.awaitLine("Got SIGUSR2: sending USR2 to all workers");
            assertThat(sup.awaitExit()).isZero();
        }
    }

    @Test
    void aSignalSentAsSoonAsTheSecondJvmRunsWaitsForTheLoop() throws Exception {
        var sup = SupervisorProcess.launchOnly(List.of(SupervisorProcess.java(), "-jar", SupervisorProcess.jar().toString()),
                dir, Map.of(), "-n", "1", "-m", "0", "--", "sleep", "600");
        try (sup) {
            // the moment the exec happened: the lean command line is there, nothing else of it yet
            Await.await("the lean start's exec", () -> {
                try {
                    return cmdline(sup.pid()).contains("-Deinhyrningsins.lean=true");
                } catch (IOException e) {
                    return false;
                }
            });
            // TTIN's default action would stop the process; a JVM's handler would not be there yet
            sup.signal("TTIN");
            Await.await("2 workers", () -> {
                try {
                    return Files.exists(sup.socket) && sup.state().path("target").asInt() == 2;
                } catch (IOException e) {
                    return false;
                }
            });
            sup.awaitAcked(2);
        }
    }

    @Test
    void jvmOptionsOfTheCallersOwnOnTheCommandLineOrInTheJdksVariablesLeaveItAsStarted() throws Exception {
        List<String> withOption = List.of(SupervisorProcess.java(), "-Xss1m", "-jar", SupervisorProcess.jar().toString());
        try (var sup = SupervisorProcess.launch(withOption, dir, Map.of(), "-n", "1", "-m", "0", "--", "sleep", "600")) {
            sup.awaitAcked(1);
            assertThat(cmdline(sup.pid())).startsWith(withOption.toArray(String[]::new)).doesNotContain("-XX:+UseSerialGC");
        }
        Path other = Files.createDirectories(dir.resolve("tool-options"));
        try (var sup = SupervisorProcess.start(other, Map.of("JAVA_TOOL_OPTIONS", "-Xss1m"), "-n", "1", "-m", "0",
                "--", "sleep", "600")) {
            sup.awaitAcked(1);
            assertThat(cmdline(sup.pid())).doesNotContain("-XX:+UseSerialGC");
            assertThat(Files.readString(Path.of("/proc/" + sup.pid() + "/environ"))).doesNotContain("_JAVA_SR_SIGNUM=");
        }
    }

    @Test
    void extraJvmOptionsGoAfterTheLeanFlagsAndAFlagThisJavaDoesNotKnowDoesNotStopTheStart() throws Exception {
        try (var sup = SupervisorProcess.start(dir, Map.of("EINHYRNINGSINS_JAVA_OPTS", "-Xmx80m -XX:+NoSuchFlagInThisJava"),
                "-n", "1", "-m", "0", "--", "sleep", "600")) {
            sup.awaitAcked(1);
            assertThat(cmdline(sup.pid())).containsSubsequence("-Xmx64m", "-Deinhyrningsins.lean=true", "-Xmx80m",
                    "-XX:+NoSuchFlagInThisJava", "-jar");
        }
    }
}
