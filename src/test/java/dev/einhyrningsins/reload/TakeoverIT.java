package dev.einhyrningsins.reload;

import static dev.einhyrningsins.Await.await;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A take-over that cannot be finished never orphans the workers it was handed: a real
 * supervisor is started as if a previous process of it had exec'd into it — the same
 * process already has a child (a shell's background job that the exec keeps) — and it must
 * stop that child, say why in one line and exit 1, leaving no control socket behind.
 */
class TakeoverIT {
    @TempDir
    Path dir;

    static String java() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    static String jar() {
        return Path.of(System.getProperty("einhyrningsins.jar", "target/einhyrningsins.jar")).toAbsolutePath().toString();
    }

    /** Runs the supervisor with a child of its own (pid written to child.pid) and {@code handover} behind fd 9. */
    Process start(byte[] handover, String stdin) throws Exception {
        Path file = dir.resolve("handover.json");
        Files.write(file, handover);
        String script = "sleep 1000 & echo $! > \"$1\"; exec 9< \"$2\" 0< " + stdin
                + "; EINHYRNINGSINS_HANDOVER=9 exec \"$3\" -jar \"$4\" -d \"$5\" -t 5 -- true";
        return new ProcessBuilder("sh", "-c", script, "sh", dir.resolve("child.pid").toString(), file.toString(),
                java(), jar(), dir.resolve("ctl.sock").toString()).redirectErrorStream(true).start();
    }

    int child() throws Exception {
        await("the child's pid", () -> Files.exists(dir.resolve("child.pid")) && !read("child.pid").isEmpty());
        return Integer.parseInt(read("child.pid"));
    }

    String read(String name) {
        try {
            return Files.readString(dir.resolve(name)).trim();
        } catch (Exception e) {
            return "";
        }
    }

    @Test
    void aHandOverThatCannotBeReadStopsTheChildrenTheProcessHas() throws Exception {
        Process p = start("{\"format\":3,\"from\"".getBytes(StandardCharsets.UTF_8), "/dev/null");
        int child = child();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(out).isEqualTo(1);
        assertThat(out).contains("ERROR cannot take over: cannot read the hand-over in fd 9: ");
        assertThat(Path.of("/proc/" + child)).as("the child was stopped and reaped, not orphaned").doesNotExist();
        assertThat(dir.resolve("ctl.sock")).doesNotExist();
    }

    @Test
    void aFailureAfterTheWorkersWereAdoptedTakesTheStopPathForThem() throws Exception {
        // a valid hand-over naming the child as its worker, but fd 0 is not the control socket
        Path pidFile = dir.resolve("child.pid");
        Process p = startWithWorkerFromPidFile(pidFile);
        int child = child();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(out).isEqualTo(1);
        assertThat(out).contains("was not handed over as standard input").contains("sending USR2 to 1 workers and exiting");
        assertThat(Path.of("/proc/" + child)).as("the adopted worker was stopped and reaped").doesNotExist();
    }

    /** The hand-over is written once the child's pid is known: a shell waits for it. */
    private Process startWithWorkerFromPidFile(Path pidFile) throws Exception {
        Path file = dir.resolve("handover.json");
        Path ready = dir.resolve("handover.ready");
        String script = "sleep 1000 & echo $! > \"$1\"; while [ ! -e \"$6\" ]; do sleep 0.01; done; exec 9< \"$2\" 0</dev/null"
                + "; EINHYRNINGSINS_HANDOVER=9 exec \"$3\" -jar \"$4\" -d \"$5\" -t 5 -- true";
        Process p = new ProcessBuilder("sh", "-c", script, "sh", pidFile.toString(), file.toString(), java(), jar(),
                dir.resolve("ctl.sock").toString(), ready.toString()).redirectErrorStream(true).start();
        int child = child();
        Handover h = Handover.of("0.1.0", new Handover.Process(0, false, 1_700_000_000_000L, 1, null, null), List.of(),
                TakeoverTest.coreOf(child), List.of(), List.of(), List.of(), List.of(), null);
        Files.write(file, h.bytes());
        Files.createFile(ready);
        return p;
    }

}
