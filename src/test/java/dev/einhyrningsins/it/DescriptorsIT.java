package dev.einhyrningsins.it;

import static dev.einhyrningsins.Await.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.parallel.Isolated;

/**
 * Out of file descriptors, the supervisor stays an operator's: under {@code prlimit
 * --nofile=64} a {@code set_workers 60} spends the descriptors on workers, yet {@code state}
 * answers within a second, the process idles instead of spinning, the log does not flood,
 * and {@code set_workers 10} brings it back. And a start that fails names its cause.
 */
@Isolated // measures the supervisor's CPU share at the descriptor limit
class DescriptorsIT {
    @TempDir
    Path dir;

    /** The process's CPU time so far (user + system), in clock ticks, from /proc/PID/stat. */
    static long cpuTicks(long pid) throws IOException {
        String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Long.parseLong(f[11]) + Long.parseLong(f[12]);
    }

    @Test
    void outOfDescriptorsTheControlSocketStillAnswersNothingSpinsAndFewerWorkersBringItBack() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/prlimit")), "needs prlimit (util-linux)");
        List<String> launch = List.of("prlimit", "--nofile=64:64", SupervisorProcess.java(), "-jar",
                SupervisorProcess.jar().toString());
        try (var sup = SupervisorProcess.launch(launch, dir, Map.of(), "-b", "127.0.0.1:0,r", "-n", "10", "-m", "0.1", "-s", "0.1",
                "--", "sleep", "1000")) {
            sup.awaitAcked(10);
            assertThat(sup.command("set_workers", "60")).startsWith("Altering worker count, 10 -> 60");
            sup.awaitLine("Out of file descriptors|Too many open files|EMFILE");
            // let it live at the limit, then look at it for 10 s
            await("the spawns to run into the limit", () -> sup.log().contains("workers are started only when there is room"));
            long ticks = cpuTicks(sup.pid());
            int lines = sup.lines().size();
            long start = System.nanoTime();
            long slowest = 0;
            // an operator looking at it every half second for ten seconds
            for (int i = 0; i < 20; i++) {
                long t0 = System.nanoTime();
                assertThat(sup.state().path("target").asInt()).isEqualTo(60);
                slowest = Math.max(slowest, System.nanoTime() - t0);
                Thread.sleep(500); // the measurement's cadence, not a synchronisation
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            double cpu = (cpuTicks(sup.pid()) - ticks) / 100.0 / seconds; // USER_HZ is 100 on Linux
            int newLines = sup.lines().size() - lines;
            System.out.printf("DescriptorsIT: at the limit, state answered within %d ms at worst, CPU %.1f %%, "
                    + "%d log lines in %.0f s%n", slowest / 1_000_000, cpu * 100, newLines, seconds);
            assertThat(slowest).as("state's slowest answer at the limit").isLessThan(TimeUnit.SECONDS.toNanos(1));
            assertThat(cpu).as("share of a core at the limit").isLessThan(0.05);
            assertThat(newLines * 60 / seconds).as("log lines a minute").isLessThan(100);

            assertThat(sup.command("set_workers", "10")).startsWith("Altering worker count, 60 -> 10");
            sup.awaitAcked(10);
            assertThat(sup.state().path("target").asInt()).isEqualTo(10);
        }
    }

    @Test
    void aControlSocketInADirectoryItCannotWriteFailsTheStartNamingTheCause() throws Exception {
        assumeTrue("root".equals(System.getProperty("user.name")), "needs root to run as another uid");
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/setpriv")), "needs setpriv (util-linux)");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path home = Files.createDirectory(dir.resolve("home"));
        Path jar = Files.copy(SupervisorProcess.jar(), home.resolve("einhyrningsins.jar"));
        UserPrincipal nobody = dir.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName("65534");
        Files.setOwner(home, nobody);
        Path locked = Files.createDirectory(dir.resolve("locked")); // root's, 0755: nobody cannot write in it
        List<String> cmd = new ArrayList<>(List.of("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                SupervisorProcess.java(), "-jar", jar.toString(), "-d", locked.resolve("ctl.sock").toString(),
                "-f", home.resolve("ctl.lock").toString(), "--", "sleep", "1000"));
        SupervisorProcess.Result r = SupervisorProcess.runToExitIn(home, "", cmd.toArray(String[]::new));
        assertThat(r.status()).isEqualTo(1);
        assertThat(r.stderr().lines().filter(l -> l.contains("ERROR"))).singleElement().asString()
                .contains("cannot set up the control socket " + locked.resolve("ctl.sock"))
                .contains("Permission denied");
        try (var left = Files.list(locked)) {
            assertThat(left).isEmpty();
        }
    }
}
