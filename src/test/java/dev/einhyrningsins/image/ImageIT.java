package dev.einhyrningsins.image;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.StandardProtocolFamily;
import java.net.URI;
import java.net.UnixDomainSocketAddress;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.spi.ToolProvider;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The jlink runtime image that {@code mvn package} builds in target/image (and its
 * tarball): launchers run a real supervisor with a real worker, through symlinks and from
 * any directory; the AOT cache is usable; the module list matches what jdeps measures.
 * Every wait is a condition with a deadline.
 */
class ImageIT {
    static final Duration WAIT = Duration.ofSeconds(30);
    static final ObjectMapper JSON = new ObjectMapper();
    static final Path JAR = Path.of(System.getProperty("einhyrningsins.jar", "target/einhyrningsins.jar")).toAbsolutePath();
    static final Path IMAGE = JAR.resolveSibling("image");
    static final Path LAUNCHER = IMAGE.resolve("bin/einhyrningsins");
    static final Path CTL = IMAGE.resolve("bin/einhyrningsinsctl");
    static final Path WORKER = Path.of("examples/http_worker.py").toAbsolutePath();

    /** Modules jdeps reports only for optional code paths of libraries, never taken here. */
    static final Map<String, Set<String>> OPTIONAL = Map.of(
            "com.fasterxml.jackson.databind.", Set.of("java.sql", "java.desktop", "java.xml"),
            "org.yaml.snakeyaml.", Set.of("java.desktop", "java.logging"),
            // Settle bounds the heap's free share through HotSpot's MXBean only where jdk.management
            // is in the boot layer (java -jar); the image's launcher passes the same flags instead
            "dev.einhyrningsins.shell", Set.of("java.management", "jdk.management"));

    @TempDir
    Path dir;

    @BeforeAll
    static void imageBuilt() {
        assumeTrue(Files.isExecutable(LAUNCHER), "no runtime image at " + IMAGE + " (built with -Dimage.skip=true?)");
    }

    // ------------------------------------------------------------------ the supervisor

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"direct", "symlinks"})
    void superviseQueryAndStopWithTerm(String how) throws Exception {
        Path launcher = LAUNCHER;
        Path ctl = CTL;
        if (how.equals("symlinks")) {
            // a chain: relative link -> absolute link -> the launcher, as a packager's /usr/bin would
            Path bin = Files.createDirectories(dir.resolve("usr/bin"));
            Path opt = Files.createDirectories(dir.resolve("opt"));
            Files.createSymbolicLink(opt.resolve("einhyrningsins"), LAUNCHER);
            Files.createSymbolicLink(bin.resolve("einhyrningsins"), Path.of("../../opt/einhyrningsins"));
            Files.createSymbolicLink(bin.resolve("einhyrningsinsctl"), CTL);
            launcher = bin.resolve("einhyrningsins");
            ctl = bin.resolve("einhyrningsinsctl");
        }
        Path sock = dir.resolve("ctl.sock");
        try (Supervisor sup = Supervisor.start(dir, launcher.toString(), "-b", "127.0.0.1:0", "-m", "manual",
                "-d", sock.toString(), "--", WORKER.toString())) {
            JsonNode worker = sup.awaitAckedWorkers(sock, 1).getFirst();
            long pid = worker.path("pid").asLong();

            int port = sup.state(sock).path("sockets").path(0).path("port").asInt();
            HttpResponse<String> page = HttpClient.newHttpClient().send(
                    HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/")).timeout(WAIT).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(page.body()).as("the worker serves").isEqualTo("v0 " + pid + "\n");

            Result state = run(dir, Map.of(), ctl.toString(), "-d", sock.toString(), "-e", "state");
            assertThat(state.exit()).as("ctl -e state: %s", state).isZero();
            assertThat(state.out()).contains("\"pid\" : " + pid);

            sup.process.destroy(); // SIGTERM
            assertThat(sup.awaitExit()).as("exit status after TERM; log:%n%s", sup.log()).isZero();
            assertThat(sock).as("control socket removed").doesNotExist();
            assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)).as("worker gone").isFalse();
        }
    }

    @Test
    void reloadGoesThroughTheLauncherAsInvokedAndKeepsThePidAndTheWorkers() throws Exception {
        // installed behind a symlink, as a release directory with a "current" link would be
        Path current = dir.resolve("current");
        Files.createSymbolicLink(current, LAUNCHER);
        Path sock = dir.resolve("ctl.sock");
        try (Supervisor sup = Supervisor.start(dir, current.toString(), "-n", "2", "-b", "127.0.0.1:0", "-m", "manual",
                "-d", sock.toString(), "--", WORKER.toString())) {
            List<Long> pids = sup.awaitAckedWorkers(sock, 2).stream().map(w -> w.path("pid").asLong()).toList();
            Result reload = run(dir, Map.of(), CTL.toString(), "-d", sock.toString(), "-e", "reload");
            assertThat(reload.exit()).as("ctl -e reload: %s", reload).isZero();
            assertThat(reload.out()).contains("took over as pid " + sup.process.pid() + " with 2 workers");
            assertThat(sup.log()).contains("Reload: checking the installation (" + current + " --upgrade-check")
                    .contains("Reload: executing " + current);
            assertThat(sup.state(sock).path("reloads").asInt()).isEqualTo(1);
            assertThat(sup.awaitAckedWorkers(sock, 2).stream().map(w -> w.path("pid").asLong()).toList()).isEqualTo(pids);
            sup.process.destroy();
            assertThat(sup.awaitExit()).as("exit status after TERM; log:%n%s", sup.log()).isZero();
        }
    }

    @Test
    void usr2ReachesTheSupervisorBecauseTheLauncherMovesHotSpotsSuspendSignal() throws Exception {
        Path sock = dir.resolve("ctl.sock");
        try (Supervisor sup = Supervisor.start(dir, LAUNCHER.toString(), "-n", "2", "-b", "127.0.0.1:0", "-m", "manual",
                "-d", sock.toString(), "--", WORKER.toString())) {
            List<Long> pids = sup.awaitAckedWorkers(sock, 2).stream().map(w -> w.path("pid").asLong()).toList();

            Result kill = run(dir, Map.of(), "kill", "-USR2", Long.toString(sup.process.pid()));
            assertThat(kill.exit()).isZero();

            assertThat(sup.awaitExit()).as("exit status after USR2; log:%n%s", sup.log()).isZero();
            assertThat(sup.log()).doesNotContain("ERROR");
            assertThat(sock).doesNotExist();
            for (long pid : pids) assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)).isFalse();
        }
    }

    @Test
    void yamlRequestsAreUnderstoodByTheImagesModules() throws Exception {
        Path sock = dir.resolve("ctl.sock");
        try (Supervisor sup = Supervisor.start(dir, LAUNCHER.toString(), "-b", "127.0.0.1:0", "-m", "manual",
                "-d", sock.toString(), "--", WORKER.toString())) {
            sup.awaitSocket(sock);
            // einhorn's Ruby client: YAML.dump({"command" => "ehlo", "id" => 7}), % and LF escaped
            List<JsonNode> replies = request(sock, "---%0Acommand: ehlo%0Aid: 7%0A");
            assertThat(replies.getLast().path("message").asText()).contains("einhyrningsins");
            assertThat(request(sock, "{\"command\":\"state\"}").getLast().path("message").asText()).contains("\"workers\"");
            sup.process.destroy();
            assertThat(sup.awaitExit()).as("log:%n%s", sup.log()).isZero();
        }
    }

    // ------------------------------------------------------------------ launchers and image

    @Test
    void versionAndHelpAreCleanAndTheAotCacheIsUsable() throws Exception {
        // AOTMode=on: the JVM refuses to start if it cannot use lib/einhyrningsins.aot (lib/ctl.aot for ctl)
        Map<String, String> strict = Map.of("EINHYRNINGSINS_JAVA_OPTS", "-XX:AOTMode=on");
        Result v = run(dir, strict, LAUNCHER.toString(), "--version");
        assertThat(v.exit()).as("%s", v).isZero();
        assertThat(v.out()).startsWith("einhyrningsins ").doesNotContain("unknown");
        assertThat(v.err()).as("no JVM warnings (FFM, CDS)").isEmpty();

        Result h = run(dir, strict, LAUNCHER.toString(), "--help");
        assertThat(h.exit()).isZero();
        assertThat(h.out()).contains("--bind").contains("einhyrningsins(1)");
        assertThat(h.err()).isEmpty();

        Result c = run(dir, strict, CTL.toString(), "--help");
        assertThat(c.exit()).isZero();
        assertThat(c.out()).contains("--json");
        assertThat(c.err()).isEmpty();

        Result usage = run(dir, Map.of(), LAUNCHER.toString(), "--no-such-option");
        assertThat(usage.exit()).as("usage error").isEqualTo(2);

        Result unreachable = run(dir, Map.of(), CTL.toString(), "-d", dir.resolve("nothing.sock").toString(), "-e", "state");
        assertThat(unreachable.exit()).as("unreachable socket").isEqualTo(1);
        assertThat(unreachable.err()).contains("nothing.sock");
    }

    @Test
    void ctlLoadsEveryClassFromItsAotCacheAndSpinsNone() throws Exception {
        Path sock = dir.resolve("ctl.sock");
        Path classes = dir.resolve("ctl-classes.log");
        try (Supervisor sup = Supervisor.start(dir, LAUNCHER.toString(), "-b", "127.0.0.1:0", "-m", "manual",
                "-d", sock.toString(), "--", WORKER.toString())) {
            sup.awaitAckedWorkers(sock, 1);
            Result state = run(dir, Map.of("EINHYRNINGSINS_JAVA_OPTS", "-Xlog:class+load=info,class+init=info:file=" + classes),
                    CTL.toString(), "-d", sock.toString(), "-e", "state");
            assertThat(state.exit()).as("ctl -e state: %s", state).isZero();
            sup.process.destroy();
            assertThat(sup.awaitExit()).as("exit status after TERM; log:%n%s", sup.log()).isZero();
        }
        // Not from the cache: a class the training run did not load, or one spun at run time
        // (core reflection's method-handle accessors). JFR's event classes are never archived.
        List<String> log = Files.readAllLines(classes);
        assertThat(log).as("ctl's class-load log").anyMatch(l -> l.contains(" dev.einhyrningsins.control.Ctl "));
        assertThat(log).as("classes ctl loads from elsewhere than its AOT cache")
                .filteredOn(l -> l.contains(" source: ") && !l.contains("source: shared objects file"))
                .allMatch(l -> l.contains("] jdk.internal.event."));
        // The cache holds whatever its training run (through the same launcher) loaded, so what
        // the launcher spares shows in what is initialised: nothing inflated out of the jar (-cp
        // and the main class, not -jar and its manifest), no ServiceLoader scanning the class
        // path (the selector provider named), no method-handle class spun (native accessors).
        assertThat(log).as("initialised by ctl").noneMatch(l -> l.contains("Initializing 'java/util/zip/Inflater'"))
                .noneMatch(l -> l.contains("Initializing 'java/util/ServiceLoader$LazyClassPathLookupIterator'"))
                .noneMatch(l -> l.contains("Initializing 'java/lang/invoke/LambdaForm$MH+"));
    }

    @Test
    void imageLayoutIsWhatPackagersExpect() throws IOException {
        for (String f : List.of("bin/einhyrningsins", "bin/einhyrningsinsctl", "bin/java")) {
            assertThat(IMAGE.resolve(f)).as(f).isExecutable();
        }
        for (String f : List.of("lib/einhyrningsins.jar", "lib/einhyrningsins.aot", "lib/ctl.aot", "lib/server/classes.jsa",
                "share/man/man1/einhyrningsins.1", "share/man/man1/einhyrningsinsctl.1",
                "share/doc/einhyrningsins/README.md", "share/doc/einhyrningsins/LICENSE", "release")) {
            assertThat(IMAGE.resolve(f)).as(f).isRegularFile();
        }
        assertThat(IMAGE.resolve("share/man/man1/einhyrningsins.1")).hasSameTextualContentAs(Path.of("man/einhyrningsins.1"));
        assertThat(IMAGE.resolve("lib/einhyrningsins.jar")).hasSameBinaryContentAs(JAR);
        assertThat(Files.readString(IMAGE.resolve("bin/einhyrningsins"))).startsWith("#!/bin/sh\n")
                .contains("_JAVA_SR_SIGNUM").contains("--enable-native-access=ALL-UNNAMED");
        assertThat(IMAGE.resolve("include")).doesNotExist();
        assertThat(IMAGE.resolve("man")).doesNotExist();
    }

    @Test
    void imageModulesAreExactlyWhatJdepsMeasures() throws IOException {
        Set<String> image = imageModules();
        ToolProvider jdeps = ToolProvider.findFirst("jdeps").orElse(null);
        assumeTrue(jdeps != null, "no jdeps in this JDK");
        StringWriter out = new StringWriter();
        int status = jdeps.run(new PrintWriter(out), new PrintWriter(out), "--multi-release", "25", "--ignore-missing-deps",
                "-verbose:package", JAR.toString());
        assertThat(status).as("jdeps: %s", out).isZero();

        Set<String> needed = new TreeSet<>(List.of("java.base"));
        List<String> missing = new ArrayList<>();
        for (String line : out.toString().split("\n")) {
            // "   dev.einhyrningsins.control   -> jdk.net.something   jdk.net"  (or "JDK internal API (jdk.unsupported)")
            String[] parts = line.trim().split("\\s+->\\s+");
            if (parts.length != 2 || !line.startsWith(" ")) continue;
            String from = parts[0].trim();
            String target = parts[1].trim();
            // a class jdeps cannot find ("...   not found": an optional dependency of a library) is no module
            if (target.endsWith("not found")) continue;
            String module = target.contains("(") ? target.replaceAll(".*\\(([^)]+)\\).*", "$1") : target.replaceAll(".*\\s", "");
            if (module.equals("einhyrningsins.jar") || module.equals("not found")) continue;
            boolean optional = OPTIONAL.entrySet().stream()
                    .anyMatch(e -> from.startsWith(e.getKey()) && e.getValue().contains(module));
            if (optional) continue;
            needed.add(module);
            if (!image.contains(module)) missing.add(from + " -> " + module);
        }
        assertThat(missing).as("packages that need a module the image lacks: add it to image.modules in pom.xml").isEmpty();
        assertThat(image).as("image modules (release file) against jdeps").isEqualTo(needed);
    }

    @Test
    void tarballUnpacksAnywhereAndStillUsesItsAotCache() throws Exception {
        Path tarball;
        try (Stream<Path> s = Files.list(JAR.getParent())) {
            tarball = s.filter(p -> p.getFileName().toString().matches("einhyrningsins-.*-linux-.*\\.tar\\.gz"))
                    .findFirst().orElseThrow(() -> new AssertionError("no tarball in " + JAR.getParent()));
        }
        String top = tarball.getFileName().toString().replaceAll("-linux-.*", "");
        Path unpack = Files.createDirectories(dir.resolve("some where/else"));
        Result tar = run(dir, Map.of(), "tar", "-xzf", tarball.toString(), "-C", unpack.toString());
        assertThat(tar.exit()).as("%s", tar).isZero();
        try (Stream<Path> s = Files.list(unpack)) {
            assertThat(s.map(p -> p.getFileName().toString()).toList()).containsExactly(top);
        }
        Path launcher = unpack.resolve(top).resolve("bin/einhyrningsins");
        assertThat(Files.getPosixFilePermissions(launcher)).contains(PosixFilePermission.OWNER_EXECUTE,
                PosixFilePermission.OTHERS_EXECUTE);

        Result v = run(dir, Map.of("EINHYRNINGSINS_JAVA_OPTS", "-XX:AOTMode=on"), launcher.toString(), "--version");
        assertThat(v.exit()).as("relocated image with AOTMode=on: %s", v).isZero();
        assertThat(v.out()).isEqualTo(top.replace('-', ' ') + "\n");
        assertThat(v.err()).isEmpty();
    }

    // ------------------------------------------------------------------ helpers

    static Set<String> imageModules() throws IOException {
        for (String line : Files.readAllLines(IMAGE.resolve("release"))) {
            if (line.startsWith("MODULES=")) {
                return new TreeSet<>(Arrays.asList(line.substring(8).replace("\"", "").trim().split("\\s+")));
            }
        }
        throw new AssertionError("no MODULES in " + IMAGE.resolve("release"));
    }

    record Result(int exit, String out, String err) {}

    static Result run(Path cwd, Map<String, String> env, String... cmd) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(cwd.toFile());
        pb.environment().putAll(env);
        Path out = Files.createTempFile(cwd, "out", ".txt");
        Path err = Files.createTempFile(cwd, "err", ".txt");
        Process p = pb.redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        p.getOutputStream().close();
        if (!p.waitFor(WAIT.toSeconds(), TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("did not exit within " + WAIT + ": " + String.join(" ", cmd));
        }
        return new Result(p.exitValue(), Files.readString(out), Files.readString(err));
    }

    /** One request over the control socket; the reply lines up to the final one (no "wait"). */
    static List<JsonNode> request(Path sock, String line) throws IOException {
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(sock));
            ch.write(ByteBuffer.wrap((line + "\n").getBytes(StandardCharsets.UTF_8)));
            BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(ch), StandardCharsets.UTF_8));
            List<JsonNode> replies = new ArrayList<>();
            while (true) {
                String l = in.readLine();
                if (l == null) throw new IOException("connection closed after " + replies);
                JsonNode r = JSON.readTree(l.replace("%0A", "\n").replace("%25", "%"));
                replies.add(r);
                if (!r.path("wait").asBoolean(false)) return replies;
            }
        }
    }

    /** A supervisor started through a launcher, output in a log file. */
    static final class Supervisor implements AutoCloseable {
        final Process process;
        final Path logFile;

        private Supervisor(Process process, Path logFile) {
            this.process = process;
            this.logFile = logFile;
        }

        static Supervisor start(Path cwd, String... cmd) throws IOException {
            Path log = Files.createTempFile(cwd, "supervisor", ".log");
            ProcessBuilder pb = new ProcessBuilder(cmd).directory(cwd.toFile())
                    .redirectErrorStream(true).redirectOutput(log.toFile());
            pb.environment().put("TMPDIR", cwd.toString());
            Process p = pb.start();
            p.getOutputStream().close();
            return new Supervisor(p, log);
        }

        String log() {
            try {
                return Files.readString(logFile);
            } catch (IOException e) {
                return "(log unreadable: " + e + ")";
            }
        }

        JsonNode state(Path sock) throws IOException {
            return JSON.readTree(request(sock, "{\"command\":\"state\"}").getLast().path("message").asText());
        }

        void awaitSocket(Path sock) {
            await("control socket " + sock, () -> Files.exists(sock) ? true : null);
        }

        List<JsonNode> awaitAckedWorkers(Path sock, int n) {
            awaitSocket(sock);
            return await(n + " acked workers", () -> {
                try {
                    List<JsonNode> acked = new ArrayList<>();
                    for (JsonNode w : state(sock).path("workers")) if (w.path("acked").asBoolean()) acked.add(w);
                    return acked.size() >= n ? acked : null;
                } catch (IOException e) {
                    return null;
                }
            });
        }

        <T> T await(String what, Supplier<T> condition) {
            long deadline = System.nanoTime() + WAIT.toNanos();
            while (true) {
                T value = condition.get();
                if (value != null) return value;
                if (!process.isAlive()) throw new AssertionError("supervisor exited " + process.exitValue()
                        + " while waiting for " + what + "; log:\n" + log());
                if (System.nanoTime() > deadline) throw new AssertionError("no " + what + " within " + WAIT + "; log:\n" + log());
                try {
                    process.waitFor(20, TimeUnit.MILLISECONDS); // returns early if it exits
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new AssertionError(e);
                }
            }
        }

        int awaitExit() throws InterruptedException {
            if (!process.waitFor(WAIT.toSeconds(), TimeUnit.SECONDS)) {
                throw new AssertionError("supervisor still running " + WAIT + " after the signal; log:\n" + log());
            }
            return process.exitValue();
        }

        @Override
        public void close() throws InterruptedException {
            if (process.isAlive()) {
                List<ProcessHandle> children = process.descendants().toList();
                process.destroy();
                if (!process.waitFor(10, TimeUnit.SECONDS)) process.destroyForcibly();
                children.forEach(ProcessHandle::destroyForcibly);
            }
        }
    }
}
