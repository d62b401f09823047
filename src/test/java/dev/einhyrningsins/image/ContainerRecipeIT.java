package dev.einhyrningsins.image;

import static dev.einhyrningsins.Await.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.einhyrningsins.Await;
import dev.einhyrningsins.cli.CommandLine;
import dev.einhyrningsins.cli.Options;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The container recipe of examples/container/ run for real, without a container engine: the
 * Containerfile's COPY lines become read-only bind mounts into a root made of this machine's
 * /usr and /etc (standing in for the base image and its RUN lines: python3, sh, grep, sleep,
 * setpriv), its VOLUME a world-writable directory of ours, and its ENTRYPOINT with CMD (as
 * {@code docker run}) or with the Kubernetes pod's args (as the kubelet) runs as PID 1 of new
 * pid, mount and network namespaces, chrooted into that read-only root, as the recipe's uid
 * (no passwd entry), with the recipe's PATH. {@code docker exec}/{@code kubectl exec} are
 * nsenter into those namespaces as the same uid: {@code ctl}, HTTP; the kubelet's probes are
 * HTTP in the container's network namespace. Then TERM, as {@code docker stop} and the
 * kubelet send it: exit status 0, nothing left (the pod's shutdown delay first: not ready).
 */
class ContainerRecipeIT {
    static final Duration WAIT = Await.WAIT;
    static final Path RECIPE = Path.of("examples/container");
    static final Path REPO = Path.of("").toAbsolutePath();
    static final Path IMAGE = Path.of(System.getProperty("einhyrningsins.jar", "target/einhyrningsins.jar"))
            .toAbsolutePath().resolveSibling("image");
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    // ------------------------------------------------------------------ the recipe, read

    /** The instructions of a Containerfile: continuation lines joined, comments dropped. */
    record Instruction(String keyword, String rest) {}

    static List<Instruction> containerfile() throws IOException {
        List<Instruction> out = new ArrayList<>();
        StringBuilder line = new StringBuilder();
        for (String raw : Files.readAllLines(RECIPE.resolve("Containerfile"))) {
            if (line.isEmpty() && (raw.isBlank() || raw.strip().startsWith("#"))) continue;
            if (raw.endsWith("\\")) {
                line.append(raw, 0, raw.length() - 1).append(' ');
                continue;
            }
            line.append(raw);
            String text = line.toString().strip();
            line.setLength(0);
            int space = text.indexOf(' ');
            out.add(new Instruction(text.substring(0, space).toUpperCase(), text.substring(space + 1).strip()));
        }
        return out;
    }

    /** What a container engine takes from the Containerfile. */
    record Recipe(String from, Map<String, String> copies, List<String> runs, String volume, Map<String, String> env,
                  String user, List<String> entrypoint, List<String> cmd) {
        static Recipe read() throws IOException {
            String from = null;
            String volume = null;
            String user = null;
            List<String> entrypoint = null;
            List<String> cmd = null;
            Map<String, String> copies = new LinkedHashMap<>();
            Map<String, String> env = new LinkedHashMap<>();
            List<String> runs = new ArrayList<>();
            for (Instruction i : containerfile()) {
                switch (i.keyword()) {
                    case "FROM" -> from = i.rest();
                    case "RUN" -> runs.add(i.rest());
                    case "COPY" -> {
                        String[] w = i.rest().split("\\s+");
                        assertThat(w).as("COPY SRC DEST: %s", i.rest()).hasSize(2);
                        copies.put(w[0], w[1]);
                    }
                    case "VOLUME" -> volume = i.rest();
                    case "ENV" -> {
                        int eq = i.rest().indexOf('=');
                        env.put(i.rest().substring(0, eq), i.rest().substring(eq + 1));
                    }
                    case "USER" -> user = i.rest();
                    case "ENTRYPOINT" -> entrypoint = words(i.rest());
                    case "CMD" -> cmd = words(i.rest());
                    case "EXPOSE", "STOPSIGNAL" -> {
                        // the engine's business: ports and `docker stop`'s signal
                    }
                    default -> throw new AssertionError("ContainerRecipeIT does not know " + i.keyword()
                            + ": teach it what the instruction means here");
                }
            }
            return new Recipe(from, copies, runs, volume, env, user, entrypoint, cmd);
        }

        /** ENTRYPOINT + CMD, or ENTRYPOINT + a pod's args. */
        List<String> command(List<String> args) {
            List<String> all = new ArrayList<>(entrypoint);
            all.addAll(args);
            return all;
        }
    }

    static List<String> words(String jsonArray) throws IOException {
        List<String> out = new ArrayList<>();
        JSON.readTree(jsonArray).forEach(w -> out.add(w.asText()));
        return out;
    }

    static List<String> words(JsonNode array) {
        List<String> out = new ArrayList<>();
        array.forEach(w -> out.add(w.asText()));
        return out;
    }

    /** The Deployment's pod spec from kubernetes.yaml. */
    static JsonNode pod() throws IOException {
        List<JsonNode> docs = new ObjectMapper(new YAMLFactory()).readerFor(JsonNode.class)
                .<JsonNode>readValues(RECIPE.resolve("kubernetes.yaml").toFile()).readAll();
        assertThat(docs).extracting(d -> d.path("kind").asText()).containsExactly("Deployment", "Service");
        return docs.getFirst().path("spec").path("template").path("spec");
    }

    static Options options(List<String> command) {
        return ((CommandLine.Parsed.Run) CommandLine.parse(command.subList(1, command.size()))).options();
    }

    // ------------------------------------------------------------------ the recipe, checked

    @Test
    void theRecipeHangsTogether() throws IOException {
        Recipe r = Recipe.read();
        // the jlink image, no JDK: the base is a plain distribution, the runtime comes from target/image
        assertThat(r.from()).doesNotContainIgnoringCase("jdk").doesNotContainIgnoringCase("jre")
                .doesNotContainIgnoringCase("java").doesNotContainIgnoringCase("temurin");
        assertThat(r.copies()).containsKey("target/image/");
        String home = r.copies().get("target/image/");
        assertThat(r.entrypoint().getFirst()).isEqualTo(home + "bin/einhyrningsins");
        assertThat(r.env().get("PATH")).startsWith(home + "bin:");
        assertThat(Integer.parseInt(r.user())).as("USER: a non-root uid").isPositive();
        // the control socket is on the volume, which any uid can write (like /tmp)
        Options docker = options(r.command(r.cmd()));
        assertThat(docker.socketPath()).isPresent();
        assertThat(docker.socketPath().get().getParent()).isEqualTo(Path.of(r.volume()));
        assertThat(r.runs()).anyMatch(run -> run.contains("chmod 1777 " + r.volume()));

        JsonNode pod = pod();
        JsonNode container = pod.path("containers").get(0);
        Options k8s = options(r.command(words(container.path("args"))));
        assertThat(pod.path("securityContext").path("runAsUser").asInt()).isPositive();
        assertThat(pod.path("securityContext").path("runAsNonRoot").asBoolean()).isTrue();
        assertThat(container.path("volumeMounts").get(0).path("mountPath").asText()).isEqualTo(r.volume());
        String volume = container.path("volumeMounts").get(0).path("name").asText();
        assertThat(pod.path("volumes").get(0).path("name").asText()).isEqualTo(volume);
        // the probes are HTTP on --metrics, on every interface (the kubelet comes from outside)
        assertThat(k8s.metrics()).as("--metrics in the pod's args").isPresent();
        assertThat(k8s.metrics().get().host()).isEmpty();
        assertThat(probePort(container, "readinessProbe")).isEqualTo(k8s.metrics().get().port());
        assertThat(probePort(container, "livenessProbe")).isEqualTo(k8s.metrics().get().port());
        assertThat(container.path("readinessProbe").path("httpGet").path("path").asText()).isEqualTo("/ready");
        assertThat(container.path("livenessProbe").path("httpGet").path("path").asText()).isEqualTo("/live");
        assertThat(container.path("lifecycle").isMissingNode()).as("no preStop sleep: --shutdown-delay does it").isTrue();
        // the grace period covers the shutdown delay, the workers' drain (-t) and a margin for the exit
        long grace = pod.path("terminationGracePeriodSeconds").asLong();
        assertThat(k8s.signalTimeout()).as("-t in the pod's args").isPositive();
        assertThat(k8s.drain().shutdownDelay()).as("--shutdown-delay in the pod's args").isPositive();
        assertThat(grace).as("terminationGracePeriodSeconds >= --shutdown-delay + -t + 5")
                .isGreaterThanOrEqualTo(k8s.drain().shutdownDelay().toSeconds() + k8s.signalTimeout().toSeconds() + 5);
        assertThat(docker.signalTimeout()).isEqualTo(k8s.signalTimeout());
        assertThat(docker.metrics()).isEqualTo(k8s.metrics());
    }

    /** The port a probe of the container names (by the name of one of its ports, or a number). */
    static int probePort(JsonNode container, String probe) {
        JsonNode port = container.path(probe).path("httpGet").path("port");
        if (port.isInt()) return port.asInt();
        for (JsonNode p : container.path("ports")) {
            if (p.path("name").asText().equals(port.asText())) return p.path("containerPort").asInt();
        }
        throw new AssertionError(probe + " names no port of the container: " + port);
    }

    // ------------------------------------------------------------------ the recipe, run

    static void assumeRootAndTools() {
        assumeTrue("root".equals(System.getProperty("user.name")), "needs root for namespaces and mounts");
        for (String tool : List.of("/usr/bin/unshare", "/usr/bin/nsenter", "/usr/bin/setpriv", "/usr/sbin/chroot",
                "/usr/bin/python3", "/usr/bin/grep")) {
            assumeTrue(Files.isExecutable(Path.of(tool)), "needs " + tool);
        }
        assumeTrue(Files.isExecutable(Path.of("/usr/sbin/ip")) || Files.isExecutable(Path.of("/sbin/ip")),
                "needs ip (iproute2) to bring up loopback in the network namespace");
        assumeTrue(Files.isExecutable(IMAGE.resolve("bin/einhyrningsins")), "no runtime image at " + IMAGE);
    }

    /** The root: the host's /usr and /etc, the COPY sources, mount points for the rest. */
    Path rootfs(Recipe r, StringBuilder mounts, Path volume) throws IOException {
        Path root = Files.createDirectories(dir.resolve("root"));
        for (String d : List.of("usr", "etc", "dev", "proc", "tmp")) Files.createDirectories(root.resolve(d));
        mounts.append("mount --bind \"$root\" \"$root\"\n");
        bindReadOnly(mounts, Path.of("/usr"), "/usr");
        bindReadOnly(mounts, Path.of("/etc"), "/etc");
        try (Stream<Path> top = Files.list(Path.of("/"))) {
            for (Path p : top.toList()) {
                String name = p.getFileName().toString();
                if (Files.isSymbolicLink(p) && Files.readSymbolicLink(p).toString().startsWith("usr/")) {
                    Files.createSymbolicLink(root.resolve(name), Files.readSymbolicLink(p)); // merged /usr: bin -> usr/bin
                } else if (List.of("bin", "sbin", "lib", "lib64").contains(name) && Files.isDirectory(p)) {
                    Files.createDirectories(root.resolve(name));
                    bindReadOnly(mounts, p, "/" + name);
                }
            }
        }
        for (Map.Entry<String, String> copy : r.copies().entrySet()) {
            Path source = copy.getKey().equals("target/image/") ? IMAGE : REPO.resolve(copy.getKey());
            Path target = root.resolve(copy.getValue().substring(1));
            if (Files.isDirectory(source)) {
                Files.createDirectories(target);
            } else {
                Files.createDirectories(target.getParent());
                Files.createFile(target);
            }
            bindReadOnly(mounts, source, copy.getValue());
        }
        Files.createDirectories(root.resolve(r.volume().substring(1)));
        mounts.append("mount --bind ").append(volume).append(" \"$root").append(r.volume()).append("\"\n");
        mounts.append("mount --rbind /dev \"$root/dev\"\n");
        mounts.append("mount -t proc proc \"$root/proc\"\n");
        mounts.append("mount -o remount,bind,ro \"$root\"\n"); // readOnlyRootFilesystem
        return root;
    }

    private static void bindReadOnly(StringBuilder mounts, Path source, String target) {
        mounts.append("mount --rbind ").append(source).append(" \"$root").append(target).append("\"\n");
        mounts.append("mount -o remount,bind,ro \"$root").append(target).append("\"\n");
    }

    /** Runs {@code cmd} in the container's namespaces and root, as its uid, with its PATH (docker/kubectl exec). */
    static Result exec(long pid1, int uid, String path, List<String> cmd) throws Exception {
        List<String> all = new ArrayList<>(List.of("nsenter", "--target", Long.toString(pid1), "--mount", "--pid", "--net",
                "--root", "--wd", "--", "/usr/bin/setpriv", "--reuid=" + uid, "--regid=" + uid, "--clear-groups", "--",
                "/usr/bin/env", "-i", "PATH=" + path, "HOME=/"));
        all.addAll(cmd);
        return run(all);
    }

    record Result(int status, String stdout, String stderr) {}

    static Result run(List<String> cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).start();
        p.getOutputStream().close();
        var out = p.getInputStream().readAllBytes();
        var err = p.getErrorStream().readAllBytes();
        if (!p.waitFor(WAIT.toSeconds(), TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("did not finish: " + cmd);
        }
        return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8), new String(err, StandardCharsets.UTF_8));
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"docker run", "kubernetes"})
    void asPid1UnderAnArbitraryUidWithTheSocketOnTheVolume(String how) throws Exception {
        assumeRootAndTools();
        Recipe r = Recipe.read();
        JsonNode pod = pod();
        JsonNode container = pod.path("containers").get(0);
        boolean k8s = how.equals("kubernetes");
        List<String> command = r.command(k8s ? words(container.path("args")) : r.cmd());
        int uid = k8s ? pod.path("securityContext").path("runAsUser").asInt() : Integer.parseInt(r.user());
        String path = r.env().get("PATH");
        int workers = options(command).number();

        Path volume = Files.createDirectories(dir.resolve("volume"));
        // world-writable and sticky, as the Containerfile's RUN makes it (an emptyDir is 0777)
        StringBuilder script = new StringBuilder("set -e\nroot=$1\nshift\nchmod 1777 " + volume + "\n");
        Path root = rootfs(r, script, volume);
        script.append("ip link set lo up\n");
        script.append("exec chroot \"$root\" /usr/bin/env -i PATH=").append(path)
                .append(" HOME=/ /usr/bin/setpriv --reuid=").append(uid).append(" --regid=").append(uid)
                .append(" --clear-groups -- \"$@\"\n");
        List<String> launch = new ArrayList<>(List.of("unshare", "--pid", "--fork", "--mount", "--net", "--kill-child",
                "/bin/sh", "-c", script.toString(), "sh", root.toString()));
        launch.addAll(command);
        Process engine = new ProcessBuilder(launch).redirectOutput(dir.resolve("stdout.log").toFile())
                .redirectError(dir.resolve("stderr.log").toFile()).start();
        engine.getOutputStream().close();
        try {
            Path socket = volume.resolve(options(command).socketPath().orElseThrow().getFileName());
            await("the control socket on the volume", () -> Files.exists(socket) || !engine.isAlive());
            assertThat(engine.isAlive()).as("supervisor running; stderr:\n%s", log()).isTrue();
            long pid1 = ProcessHandle.of(engine.pid()).orElseThrow().children().findFirst().orElseThrow().pid();
            assertThat(Files.getOwner(socket).getName()).isEqualTo(Integer.toString(uid));
            assertThat(Files.readString(Path.of("/proc", Long.toString(pid1), "status")))
                    .containsPattern("NSpid:\\s+" + pid1 + "\\s+1\\n").containsPattern("Uid:\\s+" + uid + "\\s");

            // the readiness probe turns true once the workers have acked; the liveness probe is true
            int probes = options(command).metrics().orElseThrow().port();
            await("the readiness probe", () -> probe(pid1, probes, "/ready") == 200);
            assertThat(probe(pid1, probes, "/live")).isEqualTo(200);
            Result state = exec(pid1, uid, path, List.of("einhyrningsinsctl", "-d", socket(command), "-e", "state", "--json"));
            assertThat(state.status()).as(state.stderr()).isZero();
            JsonNode s = JSON.readTree(state.stdout());
            assertThat(s.path("pid").asInt()).isEqualTo(1);
            assertThat(s.path("workers")).hasSize(workers);

            // the workers serve HTTP in the container's network namespace
            Result http = http(pid1, "http://127.0.0.1:8080/");
            assertThat(http.status()).as(http.stderr()).isZero();
            assertThat(http.stdout()).startsWith("v0 ");

            // docker exec / kubectl exec: ctl as the container's uid, an upgrade without a new container
            Result upgrade = exec(pid1, uid, path, List.of("einhyrningsinsctl", "-d", socket(command), "-e", "upgrade"));
            assertThat(upgrade.status()).as(upgrade.stdout() + upgrade.stderr()).isZero();
            assertThat(upgrade.stdout()).contains("Upgrade done");

            // docker stop / the kubelet: TERM to PID 1 from outside; exit 0, nothing left
            await("the old workers gone", () -> ProcessHandle.of(pid1).orElseThrow().descendants().count() == workers);
            List<Long> left = ProcessHandle.of(pid1).orElseThrow().descendants().map(ProcessHandle::pid).toList();
            assertThat(run(List.of("kill", "-TERM", Long.toString(pid1))).status()).isZero();
            if (options(command).drain().shutdownDelay().isPositive()) {
                // the pod's shutdown delay: not ready at once, the workers still serving
                await("the readiness probe failing", () -> probe(pid1, probes, "/ready") == 503);
                assertThat(http(pid1, "http://127.0.0.1:8080/").status()).isZero();
            }
            assertThat(engine.waitFor(WAIT.toSeconds(), TimeUnit.SECONDS)).as("exited after TERM").isTrue();
            assertThat(engine.exitValue()).as(log()).isZero();
            for (long p : left) assertThat(ProcessHandle.of(p)).as("worker %d", p).isEmpty();
            assertThat(socket).doesNotExist();
            assertThat(log()).doesNotContain("WARN").doesNotContain("ERROR").doesNotContainIgnoringCase("warning")
                    .contains("Running as PID 1").contains("All workers are gone; exiting");
        } finally {
            if (engine.isAlive()) {
                // SIGKILL to PID 1 ends its namespace. (--kill-child alone would not do: the
                // kernel clears a parent-death signal when setpriv changes the uid.)
                ProcessHandle.of(engine.pid()).ifPresent(h -> h.children().forEach(ProcessHandle::destroyForcibly));
                engine.destroyForcibly();
                engine.waitFor(WAIT.toSeconds(), TimeUnit.SECONDS);
            }
        }
    }

    /** GET {@code url} from inside the container's network namespace (as the kubelet probes, or a client). */
    static Result http(long pid1, String url) throws Exception {
        return run(List.of("nsenter", "--target", Long.toString(pid1), "--net", "--", "/usr/bin/python3", "-c",
                "import urllib.request; print(urllib.request.urlopen('" + url + "', timeout=10).read().decode())"));
    }

    /** The status of an HTTP probe of the container's {@code port}, as the kubelet's httpGet sees it. */
    static int probe(long pid1, int port, String path) {
        try {
            Result r = run(List.of("nsenter", "--target", Long.toString(pid1), "--net", "--", "/usr/bin/python3", "-c",
                    "import urllib.request, urllib.error\ntry:\n print(urllib.request.urlopen('http://127.0.0.1:" + port + path
                            + "', timeout=10).status)\nexcept urllib.error.HTTPError as e:\n print(e.code)"));
            return r.status() == 0 ? Integer.parseInt(r.stdout().strip()) : -1;
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    static String socket(List<String> command) {
        return options(command).socketPath().orElseThrow().toString();
    }

    String log() {
        try {
            return Files.readString(dir.resolve("stderr.log")) + Files.readString(dir.resolve("stdout.log"));
        } catch (IOException e) {
            return e.toString();
        }
    }
}
