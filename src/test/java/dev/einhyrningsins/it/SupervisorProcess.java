package dev.einhyrningsins.it;

import static dev.einhyrningsins.Await.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.einhyrningsins.Await;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A real supervisor started from the built jar, with its stderr captured line by line.
 * Everything waits on conditions with deadlines; nothing sleeps for a fixed time.
 */
final class SupervisorProcess implements AutoCloseable {
    static final ObjectMapper JSON = new ObjectMapper();
    static final Duration WAIT = Await.WAIT;

    final Process process;
    final Path dir;
    final Path socket;
    private final List<String> lines = new ArrayList<>();
    private final Thread reader;

    private SupervisorProcess(Process process, Path dir, Path socket) {
        this.process = process;
        this.dir = dir;
        this.socket = socket;
        this.reader = Thread.ofPlatform().daemon().start(this::pump);
    }

    static Path jar() {
        return Path.of(System.getProperty("einhyrningsins.jar", "target/einhyrningsins.jar")).toAbsolutePath();
    }

    static String java() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    static Path worker(String name) {
        return Path.of("src/test/resources/workers", name).toAbsolutePath();
    }

    static Path example(String name) {
        return Path.of("examples", name).toAbsolutePath();
    }

    /** Runs the jar to completion (for --help, usage errors, failed starts). */
    static Result runToExit(Path dir, Map<String, String> env, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(java(), "-jar", jar().toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile());
        pb.environment().put("TMPDIR", dir.toString());
        pb.environment().putAll(env);
        return toExit(pb, "");
    }

    /** Runs any command in {@code dir} with {@code stdin}, to completion. */
    static Result runToExitIn(Path dir, String stdin, String... cmd) throws Exception {
        return toExit(new ProcessBuilder(cmd).directory(dir.toFile()), stdin);
    }

    /**
     * Runs {@code pb} with {@code stdin} to its exit, within {@link #WAIT}. Its output goes to
     * files (outside the test's directory, which tests inspect): a pipe read to its end could
     * wait for ever on a process that does not exit, and one pipe left unread can fill up.
     */
    private static Result toExit(ProcessBuilder pb, String stdin) throws Exception {
        Path out = Files.createTempFile("run", ".out");
        Path err = Files.createTempFile("run", ".err");
        try {
            Process p = pb.redirectOutput(out.toFile()).redirectError(err.toFile()).start();
            p.getOutputStream().write(stdin.getBytes(StandardCharsets.UTF_8));
            p.getOutputStream().close();
            if (!p.waitFor(WAIT.toSeconds(), TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new AssertionError("did not exit: " + pb.command() + "; stdout: " + Files.readString(out)
                        + "; stderr: " + Files.readString(err));
            }
            return new Result(p.exitValue(), Files.readString(out), Files.readString(err));
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }

    record Result(int status, String stdout, String stderr) {}

    /** Starts a supervisor with {@code -d DIR/ctl.sock} and the given options, TMPDIR=DIR. */
    static SupervisorProcess start(Path dir, Map<String, String> env, String... args) throws IOException {
        return startWith(List.of(), dir, env, args);
    }

    /** As {@link #start}, with {@code prefix} before the java command (e.g. a shell that ignores signals). */
    static SupervisorProcess startWith(List<String> prefix, Path dir, Map<String, String> env, String... args)
            throws IOException {
        List<String> launch = new ArrayList<>(prefix);
        launch.addAll(List.of(java(), "-jar", jar().toString()));
        return launch(launch, dir, env, args);
    }

    /** Starts {@code launch} (a command that runs the supervisor) with {@code -d DIR/ctl.sock ARGS}. */
    static SupervisorProcess launch(List<String> launch, Path dir, Map<String, String> env, String... args)
            throws IOException {
        SupervisorProcess sup = launchOnly(launch, dir, env, args);
        await("control socket " + sup.socket, () -> Files.exists(sup.socket) || !sup.process.isAlive());
        return sup;
    }

    /** As {@link #launch}, without waiting for the control socket (something else starts the supervisor). */
    static SupervisorProcess launchOnly(List<String> launch, Path dir, Map<String, String> env, String... args)
            throws IOException {
        Path socket = dir.resolve("ctl.sock");
        List<String> cmd = new ArrayList<>(launch);
        cmd.addAll(List.of("-d", socket.toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile());
        pb.environment().put("TMPDIR", dir.toString());
        pb.environment().put("PROBE_DIR", dir.toString());
        pb.environment().putAll(env);
        pb.redirectOutput(dir.resolve("stdout.log").toFile());
        pb.redirectInput(ProcessBuilder.Redirect.PIPE);
        Process p = pb.start();
        p.getOutputStream().close();
        return new SupervisorProcess(p, dir, socket);
    }

    private void pump() {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getErrorStream(), StandardCharsets.UTF_8));
             var copy = Files.newBufferedWriter(dir.resolve("supervisor.log"))) {
            String line;
            while ((line = r.readLine()) != null) {
                copy.write(line);
                copy.newLine();
                copy.flush();
                synchronized (lines) {
                    lines.add(line);
                    lines.notifyAll();
                }
            }
        } catch (IOException ignored) {
            // process gone
        }
    }

    long pid() {
        return process.pid();
    }

    List<String> lines() {
        synchronized (lines) {
            return List.copyOf(lines);
        }
    }

    String log() {
        return String.join("\n", lines());
    }

    /** Waits for a stderr line matching {@code regex}; returns the match. */
    Matcher awaitLine(String regex) throws InterruptedException {
        return awaitLine(regex, 0);
    }

    /** Waits for the {@code (skip+1)}-th stderr line matching {@code regex}. */
    Matcher awaitLine(String regex, int skip) throws InterruptedException {
        Pattern p = Pattern.compile(regex);
        long deadline = System.nanoTime() + WAIT.toNanos();
        int seen = 0;
        int index = 0;
        synchronized (lines) {
            while (true) {
                for (; index < lines.size(); index++) {
                    Matcher m = p.matcher(lines.get(index));
                    if (m.find() && seen++ == skip) return m;
                }
                long left = deadline - System.nanoTime();
                if (left <= 0) throw new AssertionError("no log line matching /" + regex + "/ in:\n" + String.join("\n", lines));
                if (!process.isAlive() && !reader.isAlive()) {
                    throw new AssertionError("supervisor exited (" + process.exitValue() + ") before /" + regex + "/:\n"
                            + String.join("\n", lines));
                }
                lines.wait(Math.max(1, Math.min(200, left / 1_000_000)));
            }
        }
    }

    int awaitExit() throws InterruptedException {
        if (!process.waitFor(WAIT.toSeconds(), TimeUnit.SECONDS)) {
            throw new AssertionError("supervisor did not exit:\n" + log());
        }
        reader.join(WAIT.toMillis());
        return process.exitValue();
    }

    void signal(String name) throws IOException, InterruptedException {
        kill(name, pid());
    }

    /** {@code kill -NAME pid}. */
    static void kill(String name, long pid) throws IOException, InterruptedException {
        Process k = new ProcessBuilder("kill", "-" + name, Long.toString(pid)).inheritIO().start();
        if (k.waitFor() != 0) throw new AssertionError("kill -" + name + " " + pid + " failed");
    }

    /** Sends one request as a JSON line with an id; returns every reply up to the final one. */
    List<JsonNode> request(String command, List<String> args) throws IOException {
        Map<String, Object> req = new LinkedHashMap<>();
        req.put("id", 1);
        req.put("command", command);
        if (args != null) req.put("args", args);
        return raw(JSON.writeValueAsString(req) + "\n", true);
    }

    /** Writes raw bytes to a new control connection and reads replies until one has no "wait". */
    List<JsonNode> raw(String payload, boolean untilFinal) throws IOException {
        return raw(socket, payload, untilFinal, this::log);
    }

    /** The state of the supervisor whose control socket is {@code socket} (one this class did not start). */
    static JsonNode stateAt(Path socket) throws IOException {
        List<JsonNode> replies = raw(socket, "{\"id\":1,\"command\":\"state\"}\n", true, () -> "");
        return JSON.readTree(replies.getLast().path("message").asText());
    }

    /** {@link #raw(String, boolean)} to the control socket {@code socket}; {@code log} says more when no reply comes. */
    static List<JsonNode> raw(Path socket, String payload, boolean untilFinal, java.util.function.Supplier<String> log)
            throws IOException {
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(socket));
            ch.write(ByteBuffer.wrap(payload.getBytes(StandardCharsets.UTF_8)));
            BufferedReader r = new BufferedReader(new InputStreamReader(Channels.newInputStream(ch), StandardCharsets.UTF_8));
            // a missing reply must fail the test, not hang it: read under a deadline
            var reading = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
                try {
                    List<JsonNode> out = new ArrayList<>();
                    String line;
                    while ((line = r.readLine()) != null) {
                        JsonNode node = JSON.readTree(line.replace("%0A", "\n").replace("%25", "%"));
                        out.add(node);
                        if (!untilFinal || !node.path("wait").asBoolean(false)) break;
                    }
                    return out;
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }, Thread::startVirtualThread);
            try {
                return reading.get(WAIT.toSeconds(), TimeUnit.SECONDS);
            } catch (java.util.concurrent.TimeoutException e) {
                throw new AssertionError("no final reply within " + WAIT + " to " + payload.strip() + "\n" + log.get());
            } catch (java.util.concurrent.ExecutionException e) {
                throw e.getCause() instanceof UncheckedIOException u ? u.getCause() : new IOException(e.getCause());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException(e);
            }
        }
    }

    /** The message of a single-reply command. */
    String command(String command, String... args) throws IOException {
        List<JsonNode> replies = request(command, args.length == 0 ? null : List.of(args));
        return replies.getLast().path("message").asText();
    }

    JsonNode state() throws IOException {
        return JSON.readTree(command("state"));
    }

    /** Until the supervisor's workers, acked or not, are exactly {@code pids} (in any order). */
    void awaitWorkers(Collection<Integer> pids) {
        Set<Integer> wanted = Set.copyOf(pids);
        Await.await("the workers " + wanted, () -> {
            try {
                return Set.copyOf(workers(false)).equals(wanted);
            } catch (IOException e) {
                return false;
            }
        });
    }

    /** Pids of the workers the supervisor reports, optionally only acked ones. */
    List<Integer> workers(boolean ackedOnly) throws IOException {
        List<Integer> pids = new ArrayList<>();
        for (JsonNode w : state().path("workers")) {
            if (!ackedOnly || w.path("acked").asBoolean()) pids.add(w.path("pid").asInt());
        }
        return pids;
    }

    /** Waits until {@code n} workers are acked and returns their pids. */
    List<Integer> awaitAcked(int n) throws InterruptedException {
        List<List<Integer>> holder = new ArrayList<>();
        await(n + " acked workers", () -> {
            try {
                List<Integer> acked = workers(true);
                if (acked.size() == n && workers(false).size() == n) {
                    holder.add(acked);
                    return true;
                }
                return false;
            } catch (IOException e) {
                return false;
            }
        });
        return holder.getFirst();
    }

    static JsonNode readJson(Path p) {
        try {
            return JSON.readTree(Files.readString(p));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void close() throws Exception {
        List<ProcessHandle> children = process.descendants().toList();
        if (process.isAlive()) {
            process.destroy();
            if (!process.waitFor(WAIT.toSeconds(), TimeUnit.SECONDS)) process.destroyForcibly().waitFor();
        }
        for (ProcessHandle c : children) {
            if (c.isAlive()) c.destroyForcibly();
        }
    }
}
