package dev.einhyrningsins.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import dev.einhyrningsins.it.SupervisorProcess.Result;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The built jar under a Java older than 25 (Debian 12's default is 17): one line on stderr
 * that says what is needed, what was found and that the image's launcher needs no system
 * Java; exit status 1; no stack trace. Every such Java under /usr/lib/jvm is tried
 * (.ci/run makes sure there is one).
 */
class OldJavaIT {
    static final Path JVMS = Path.of("/usr/lib/jvm");
    static final Pattern VERSION = Pattern.compile("version \"([^\"]+)\"");

    /** java executable (real path) → the version its -version reports, for each Java older than 25. */
    static final Map<Path, String> OLD = new LinkedHashMap<>();

    @TempDir
    Path dir;

    @BeforeAll
    static void findOlderJavas() throws Exception {
        List<Path> javas = new ArrayList<>();
        if (Files.isDirectory(JVMS)) {
            try (Stream<Path> s = Files.list(JVMS)) {
                for (Path home : s.sorted().toList()) {
                    Path java = home.resolve("bin/java");
                    if (Files.isExecutable(java)) javas.add(java.toRealPath());
                }
            }
        }
        for (Path java : javas.stream().distinct().toList()) {
            String version = version(java);
            if (version != null && feature(version) < 25) OLD.put(java, version);
        }
    }

    /** What {@code java -version} says, e.g. "17.0.15" or "1.8.0_392"; null if it does not run. */
    static String version(Path java) throws Exception {
        Process p = new ProcessBuilder(java.toString(), "-version").redirectErrorStream(true).start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(SupervisorProcess.WAIT.toSeconds(), TimeUnit.SECONDS)) {
            p.destroyForcibly();
            return null;
        }
        Matcher m = VERSION.matcher(out);
        return p.exitValue() == 0 && m.find() ? m.group(1) : null;
    }

    static int feature(String version) {
        String v = version.startsWith("1.") ? version.substring(2) : version;
        Matcher m = Pattern.compile("^\\d+").matcher(v);
        return m.find() ? Integer.parseInt(m.group()) : Integer.MAX_VALUE;
    }

    Result run(Path java, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(java.toString(), "-jar", SupervisorProcess.jar().toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile());
        // Options picked up from the environment would add their own "Picked up ..." line.
        pb.environment().remove("JAVA_TOOL_OPTIONS");
        pb.environment().remove("JDK_JAVA_OPTIONS");
        pb.environment().remove("_JAVA_OPTIONS");
        pb.environment().put("TMPDIR", dir.toString());
        Process p = pb.start();
        p.getOutputStream().close();
        byte[] out = p.getInputStream().readAllBytes();
        byte[] err = p.getErrorStream().readAllBytes();
        if (!p.waitFor(SupervisorProcess.WAIT.toSeconds(), TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("did not exit: " + cmd);
        }
        return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8), new String(err, StandardCharsets.UTF_8));
    }

    void assumeAnOlderJava() {
        assumeFalse(OLD.isEmpty(), "no Java older than 25 under " + JVMS);
    }

    static void assertOneLineRefusal(Result r, String java, String version, String prefix, String launcher) {
        assertThat(r.status()).as("exit status of %s: %s", java, r).isEqualTo(1);
        assertThat(r.stdout()).as("stdout").isEmpty();
        assertThat(r.stderr()).as("stderr: exactly one line").endsWith("\n").doesNotContain("\tat ")
                .doesNotContain("Exception").doesNotContain("Error");
        assertThat(r.stderr().lines().toList()).hasSize(1);
        assertThat(r.stderr()).startsWith(prefix + ": needs Java 25 or newer")
                .contains("found Java " + version + " in ")
                .contains("target/image/bin/" + launcher + " ")
                .contains("needs no system Java");
    }

    @Test
    void theSupervisorSaysInOneLineThatItNeedsJava25() throws Exception {
        assumeAnOlderJava();
        for (Map.Entry<Path, String> old : OLD.entrySet()) {
            Path java = old.getKey();
            for (List<String> args : List.<List<String>>of(List.of("--version"), List.of(),
                    List.of("-n", "1", "-b", "127.0.0.1:0", "--", "sleep", "60"))) {
                Result r = run(java, args.toArray(String[]::new));
                assertOneLineRefusal(r, java + " " + args, old.getValue(), "einhyrningsins", "einhyrningsins");
            }
        }
        try (Stream<Path> s = Files.list(dir)) {
            assertThat(s.toList()).as("nothing left behind").isEmpty();
        }
    }

    @Test
    void ctlSaysInOneLineThatItNeedsJava25() throws Exception {
        assumeAnOlderJava();
        for (Map.Entry<Path, String> old : OLD.entrySet()) {
            Result r = run(old.getKey(), "ctl", "-e", "state");
            assertOneLineRefusal(r, old.getKey().toString(), old.getValue(), "einhyrningsins ctl", "einhyrningsinsctl");
        }
    }

    @Test
    void theSameJarRunsOnThisJava() throws Exception {
        // The check is only a gate: on Java 25 the jar behaves as before (through the same entry point).
        Result r = run(Path.of(SupervisorProcess.java()), "--version");
        assertThat(r.status()).as("%s", r).isZero();
        assertThat(r.stdout()).startsWith("einhyrningsins ");
        assertThat(r.stderr()).isEmpty();
    }
}
