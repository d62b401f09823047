package dev.einhyrningsins.it;

import static dev.einhyrningsins.Await.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.List;
import java.util.Map;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The worker API jar (target/einhyrningsins-worker.jar) in a real JVM worker under a real
 * supervisor: the listener on standard input as a channel (TCP and UNIX), the others as
 * descriptors with addresses, ack and ping over the control socket, the drain hook on TERM;
 * outside the supervisor, its one-line reason; and the jar itself: Java 17 class files,
 * nothing but java.base, runs on an older Java.
 */
class WorkerApiIT {

    @TempDir
    Path dir;

    static Path workerJar() {
        return SupervisorProcess.jar().resolveSibling("einhyrningsins-worker.jar");
    }

    /** The probe worker: the API from its jar (first on the class path), the probe from the test classes. */
    static List<String> probeCommand() {
        return List.of(SupervisorProcess.java(), "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-cp",
                workerJar() + ":" + Path.of("target/test-classes").toAbsolutePath(), ApiProbeWorker.class.getName());
    }

    SupervisorProcess start(Map<String, String> env, String... binds) throws IOException {
        List<String> args = new ArrayList<>(List.of("-n", "1", "-m", "manual", "--graceful-signal", "TERM"));
        for (String b : binds) args.addAll(List.of("-b", b));
        args.addAll(probeCommand());
        return SupervisorProcess.start(dir, env, args.toArray(String[]::new));
    }

    JsonNode report(int pid) {
        Path report = dir.resolve(pid + ".api.json");
        await("API report of " + pid, () -> Files.exists(report));
        return SupervisorProcess.readJson(report);
    }

    static String readLine(InputStream in) throws IOException {
        return new String(in.readAllBytes(), StandardCharsets.US_ASCII).trim();
    }

    @Test
    void aTcpListenerOnStandardInputIsAChannelTheOthersDescriptorsWithAddresses() throws Exception {
        Path unix = dir.resolve("other.sock");
        try (var sup = start(Map.of("PING", "1"), "127.0.0.1:0,stdin", "[::1]:0,n", "unix:" + unix)) {
            // acked: worker:ack went through the API
            int pid = sup.awaitAcked(1).getFirst();
            JsonNode state = sup.state();
            int port = state.path("sockets").get(0).path("port").asInt();
            int port6 = state.path("sockets").get(1).path("port").asInt();
            JsonNode r = report(pid);
            assertThat(r.path("api").asText()).endsWith("/einhyrningsins-worker.jar");
            assertThat(r.path("master").asLong()).isEqualTo(sup.pid());
            assertThat(r.path("index").asInt()).isZero();
            JsonNode l = r.path("listeners");
            assertThat(l).hasSize(3);
            assertThat(l.get(0).path("fd").asInt()).isEqualTo(3);
            assertThat(l.get(0).path("address").asText()).isEqualTo("/127.0.0.1:" + port);
            assertThat(l.get(0).path("stdin").asBoolean()).isTrue();
            assertThat(l.get(1).path("fd").asInt()).isEqualTo(4);
            assertThat(l.get(1).path("address").asText()).isEqualTo("/[0:0:0:0:0:0:0:1]:" + port6);
            assertThat(l.get(1).path("stdin").asBoolean()).isFalse();
            assertThat(l).extracting(x -> x.path("nonBlocking").asBoolean()).as("-b ...,n").containsExactly(false, true, false);
            assertThat(l.get(2).path("fd").asInt()).isEqualTo(5);
            assertThat(l.get(2).path("address").asText()).isEqualTo(unix.toString());
            assertThat(r.path("channel").path("local").asText()).isEqualTo("/127.0.0.1:" + port);
            assertThat(r.path("channel").path("class").asText()).contains("InheritedServerSocketChannel");

            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
                s.setSoTimeout(10_000);
                assertThat(readLine(s.getInputStream())).isEqualTo(Integer.toString(pid));
            }
            await("the ping in state", () -> {
                try {
                    return sup.state().path("workers").get(0).path("last_ping_id").asInt() == 1;
                } catch (IOException e) {
                    return false;
                }
            });

            sup.signal("TERM");
            assertThat(sup.awaitExit()).isZero();
            assertThat(sup.log()).contains("api probe " + pid + " draining")
                    .containsPattern("Worker " + pid + " .*exited with status 143");
        }
    }

    @Test
    void aUnixListenerOnStandardInputIsAUnixChannel() throws Exception {
        Path unix = dir.resolve("app.sock");
        try (var sup = start(Map.of(), "unix:" + unix + ",stdin")) {
            int pid = sup.awaitAcked(1).getFirst();
            JsonNode r = report(pid);
            assertThat(r.path("listeners").get(0).path("stdin").asBoolean()).isTrue();
            assertThat(r.path("channel").path("local").asText()).isEqualTo(unix.toString());
            try (SocketChannel c = SocketChannel.open(StandardProtocolFamily.UNIX)) {
                c.connect(UnixDomainSocketAddress.of(unix));
                assertThat(readLine(Channels.newInputStream(c))).isEqualTo(Integer.toString(pid));
            }
        }
    }

    @Test
    void withoutTheStdinOptionTheChannelIsRefusedWithTheRemedy() throws Exception {
        try (var sup = start(Map.of(), "127.0.0.1:0")) {
            int pid = sup.awaitAcked(1).getFirst();
            assertThat(report(pid).path("channel").path("error").asText())
                    .isEqualTo("standard input is not a listening socket: give one -b the stdin option, e.g. -b 127.0.0.1:8080,stdin");
        }
    }

    @Test
    void javaWorkersWithUsr2AsTheGracefulSignalAreWarnedAbout() throws Exception {
        // -t 1: the supervisor stops it with USR2 too, which the JVM does not take as a request to exit
        List<String> args = new ArrayList<>(List.of("-n", "1", "-t", "1", "-b", "127.0.0.1:0,stdin"));
        args.addAll(probeCommand());
        try (var sup = SupervisorProcess.start(dir, Map.of(), args.toArray(String[]::new))) {
            sup.awaitLine("WARN The workers are JVMs and the graceful signal is USR2, which HotSpot keeps for itself: they "
                    + "will not drain on it; use --graceful-signal TERM");
        }
        try (var sup = start(Map.of(), "127.0.0.1:0,stdin")) {
            sup.awaitAcked(1);
            assertThat(sup.log()).doesNotContain("HotSpot");
        }
    }

    @Test
    void outsideTheSupervisorTheWorkerHearsWhyInOneLine() throws Exception {
        List<String> cmd = probeCommand();
        var r = SupervisorProcess.runToExitIn(dir, "", cmd.toArray(String[]::new));
        assertThat(r.status()).isEqualTo(3);
        assertThat(r.stderr()).isEqualTo("not supervised: not run by einhyrningsins or einhorn: EINHORN_MASTER_PID is not "
                + "set (start it as: einhyrningsins -b 127.0.0.1:8080,stdin --graceful-signal TERM -- java ...)\n");
    }

    @Test
    void theJarHoldsJava17ClassesThatNeedOnlyJavaBase() throws Exception {
        List<String> classes = new ArrayList<>();
        try (JarFile jar = new JarFile(workerJar().toFile())) {
            for (Enumeration<JarEntry> e = jar.entries(); e.hasMoreElements(); ) {
                JarEntry entry = e.nextElement();
                assertThat(entry.getName()).as("only the API and the manifest")
                        .matches("META-INF/(MANIFEST.MF)?|dev/(einhyrningsins/(worker/)?)?|dev/einhyrningsins/worker/\\w+\\.class");
                if (!entry.getName().endsWith(".class")) continue;
                classes.add(entry.getName());
                try (InputStream in = jar.getInputStream(entry)) {
                    byte[] head = in.readNBytes(8);
                    assertThat(((head[6] & 0xff) << 8) | (head[7] & 0xff)).as("class file version of %s", entry.getName())
                            .isEqualTo(61);
                }
            }
            assertThat(jar.getManifest().getMainAttributes().getValue("Automatic-Module-Name"))
                    .isEqualTo("dev.einhyrningsins.worker");
        }
        assertThat(classes).contains("dev/einhyrningsins/worker/Einhorn.class");
        Path jdeps = Path.of(System.getProperty("java.home"), "bin", "jdeps");
        var deps = SupervisorProcess.runToExitIn(dir, "", jdeps.toString(), "--print-module-deps", workerJar().toString());
        assertThat(deps.status()).as(deps.stderr()).isZero();
        assertThat(deps.stdout().trim()).isEqualTo("java.base");
    }

    @Test
    void theJarRunsOnJava17() throws Exception {
        OldJavaIT.findOlderJavas();
        List<Path> javas = OldJavaIT.OLD.entrySet().stream().filter(e -> OldJavaIT.feature(e.getValue()) >= 17)
                .map(Map.Entry::getKey).toList();
        assumeFalse(javas.isEmpty(), "no Java 17 to 24 under " + OldJavaIT.JVMS);
        Path src = dir.resolve("Probe17.java");
        Files.writeString(src, """
                public class Probe17 {
                    public static void main(String[] args) {
                        System.out.println(dev.einhyrningsins.worker.Einhorn.isSupervised());
                        try {
                            dev.einhyrningsins.worker.Einhorn.worker();
                        } catch (dev.einhyrningsins.worker.NotSupervisedException e) {
                            System.out.println(e.getMessage());
                        }
                    }
                }
                """);
        int compiled = ToolProvider.getSystemJavaCompiler().run(null, null, null, "--release", "17", "-cp",
                workerJar().toString(), "-d", dir.toString(), src.toString());
        assertThat(compiled).isZero();
        for (Path java : javas) {
            var r = SupervisorProcess.runToExitIn(dir, "", java.toString(), "-cp", workerJar() + ":" + dir, "Probe17");
            assertThat(r.status()).as("%s: %s", java, r).isZero();
            assertThat(r.stdout()).startsWith("false\nnot run by einhyrningsins or einhorn: EINHORN_MASTER_PID is not set");
        }
    }
}
