package dev.einhyrningsins.build;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * src/test/prerequisites.sh, the one list of what the tests need (the build runs it before any
 * test, .ci/run installs what it prints): every missing package named in one line, and every
 * tool a test names by path is on it or comes with Debian's essential packages.
 */
class PrerequisitesTest {
    static final Path SCRIPT = Path.of("src/test/prerequisites.sh");
    static final String PREFIX = "missing test prerequisites: ";

    @TempDir
    Path root;

    record Result(int status, String stdout, String stderr) {}

    Result run(Path root, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("sh", SCRIPT.toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        if (root != null) pb.environment().put("PREREQUISITES_ROOT", root.toString());
        Process p = pb.start();
        p.getOutputStream().close();
        byte[] err = p.getErrorStream().readAllBytes();
        byte[] out = p.getInputStream().readAllBytes();
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).as("prerequisites.sh ends").isTrue();
        return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8), new String(err, StandardCharsets.UTF_8));
    }

    /** The packages named by the one-line message. */
    static List<String> named(String line) {
        assertThat(line).startsWith(PREFIX).endsWith("\n");
        assertThat(line.lines().toList()).as("one line: %s", line).hasSize(1);
        String packages = line.substring(PREFIX.length(), line.indexOf(';'));
        assertThat(line).contains("install them with: apt-get install " + packages + " ");
        return Arrays.asList(packages.split(" "));
    }

    @Test
    void onABareMachineEveryPackageIsNamedInOneLine() throws Exception {
        Result r = run(root);
        assertThat(r.status()).as("%s", r).isEqualTo(1);
        assertThat(r.stdout()).isEmpty();
        List<String> named = named(r.stderr());
        assertThat(named).contains("python3", "socat", "curl", "systemd", "python3-systemd", "python3-prometheus-client",
                "mandoc", "man-db", "util-linux", "bsdutils", "iproute2", "default-jre-headless", "lintian")
                .doesNotHaveDuplicates();

        Result missing = run(root, "--missing");
        assertThat(missing.status()).isZero();
        assertThat(missing.stdout().lines().toList()).as("--missing, as .ci/run installs them").isEqualTo(named);
    }

    @Test
    void exactlyWhatIsMissingIsNamed() throws Exception {
        assertThat(run(null).status()).as("this machine has everything (the build checked)").isZero();
        // this machine with one tool taken away: a /usr/bin of symlinks but socat, the rest linked as
        // it is (not in the @TempDir: JUnit warns about every link out of it when it cleans up)
        Path mirror = Files.createTempDirectory("prerequisites");
        try {
            Path bin = Files.createDirectories(mirror.resolve("usr/bin"));
            try (Stream<Path> s = Files.list(Path.of("/usr/bin"))) {
                for (Path f : s.toList()) {
                    if (!f.getFileName().toString().equals("socat")) Files.createSymbolicLink(bin.resolve(f.getFileName()), f);
                }
            }
            Files.createDirectories(mirror.resolve("usr/lib"));
            for (String dir : List.of("usr/sbin", "sbin", "usr/lib/jvm")) {
                Files.createSymbolicLink(mirror.resolve(dir), Path.of("/").resolve(dir));
            }

            Result r = run(mirror);
            assertThat(r.status()).as("%s", r).isEqualTo(1);
            assertThat(named(r.stderr())).containsExactly("socat");
            assertThat(run(mirror, "--missing").stdout()).isEqualTo("socat\n");
        } finally {
            try (Stream<Path> s = Files.walk(mirror)) { // does not follow the links
                for (Path p : s.sorted(Comparator.reverseOrder()).toList()) Files.delete(p);
            }
        }
    }

    @Test
    void asTheBuildCallsItTheLineGoesToStdoutAndSkippedTestsSkipTheCheck() throws Exception {
        Result r = run(root, "--maven", "false", "false", "false");
        assertThat(r.status()).isZero();
        assertThat(r.stderr()).isEmpty();
        assertThat(named(r.stdout())).contains("socat", "lintian");

        // -DskipTests, -Dmaven.test.skip or -Dprerequisites.skip
        for (var skips : List.of(List.of("true", "false", "false"), List.of("false", "true", "false"),
                List.of("false", "false", "true"))) {
            List<String> args = new ArrayList<>(List.of("--maven"));
            args.addAll(skips);
            assertThat(run(root, args.toArray(String[]::new))).isEqualTo(new Result(0, "", ""));
        }
    }

    @Test
    void aWrongArgumentIsAUsageError() throws Exception {
        Result r = run(null, "--bogus");
        assertThat(r.status()).isEqualTo(2);
        assertThat(r.stderr()).isEqualTo("prerequisites.sh: unknown argument: --bogus (use --missing)\n");
    }

    /**
     * Every {@code /usr/bin/...}-style path in the tests is checked by the script, or belongs to
     * a package Debian marks essential (always installed): a tool added to a test without
     * adding it to the list fails here, not as a cryptic assertion on a fresh machine.
     */
    @Test
    void everyToolTheTestsNameByPathIsOnTheListOrEssential() throws Exception {
        String script = Files.readString(SCRIPT);
        Pattern path = Pattern.compile("\"(/(?:usr/)?s?bin/[\\w.+-]+)");
        TreeSet<String> paths = new TreeSet<>();
        try (Stream<Path> s = Files.walk(Path.of("src/test/java"))) {
            for (Path f : s.filter(p -> p.toString().endsWith(".java")).toList()) {
                Matcher m = path.matcher(Files.readString(f));
                while (m.find()) paths.add(m.group(1));
            }
        }
        assertThat(paths).as("tests that name tools by path").contains("/usr/bin/python3", "/usr/bin/setpriv");

        List<String> unlisted = new ArrayList<>();
        for (String p : paths) {
            if (script.contains(" " + p)) continue;
            if (Path.of(p).getFileName().toString().startsWith("einhyrningsins")) continue; // the package under test
            String owner = owner(p);
            if (owner == null || !essential(owner)) unlisted.add(p + " (" + owner + ")");
        }
        assertThat(unlisted).as("tools the tests use that src/test/prerequisites.sh does not check").isEmpty();
    }

    /** The package that owns this path (dpkg -S, merged /usr either way), or null. */
    static String owner(String path) throws IOException, InterruptedException {
        for (String candidate : List.of(path, path.startsWith("/usr/") ? path.substring(4) : "/usr" + path)) {
            String out = output("dpkg-query", "-S", candidate);
            for (String line : out.lines().toList()) {
                if (line.startsWith("diversion ")) continue;
                int colon = line.indexOf(": ");
                if (colon > 0) return line.substring(0, colon).split(",")[0].split(":")[0];
            }
        }
        return null;
    }

    static boolean essential(String pkg) throws IOException, InterruptedException {
        return output("dpkg-query", "-W", "-f=${Essential}", pkg).trim().equals("yes");
    }

    static String output(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        p.waitFor();
        return out;
    }
}
