package dev.einhyrningsins.it;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The example workers under examples/ (each a Maven project of its own), built once per test
 * JVM the way a user builds them: a copy of examples/ under target/it-examples (so the source
 * tree gets no target/ directories and {@code mvn clean} removes the build), then
 * {@code mvn package} of the aggregator there, with the Maven and local repository of the
 * outer build (which installed the worker API there before the integration tests) and the
 * project's version of the API. Jetty and Netty come from Maven Central on a fresh machine.
 */
final class Examples {
    static final Path SOURCE = Path.of("examples").toAbsolutePath();
    static final Path BUILD = Path.of("target", "it-examples").toAbsolutePath();
    static final List<String> PROJECTS = List.of("jetty", "netty", "nio");

    private static boolean built;

    private Examples() {}

    /** The runnable jar of example {@code name} (jetty, netty, nio), built on first use. */
    static synchronized Path jar(String name) throws Exception {
        if (!built) {
            build();
            built = true;
        }
        return BUILD.resolve(name).resolve("target").resolve(name + "-worker.jar");
    }

    private static void build() throws Exception {
        delete(BUILD);
        Files.createDirectories(BUILD);
        Files.copy(SOURCE.resolve("pom.xml"), BUILD.resolve("pom.xml"));
        for (String project : PROJECTS) copy(SOURCE.resolve(project), BUILD.resolve(project));
        String home = System.getProperty("maven.home");
        String mvn = home == null ? "mvn" : Path.of(home, "bin", "mvn").toString();
        List<String> cmd = new ArrayList<>(List.of(mvn, "-B", "-q", "-f", BUILD.resolve("pom.xml").toString(), "package",
                "-Deinhyrningsins.version=" + System.getProperty("einhyrningsins.version", "0.1.0")));
        String repo = System.getProperty("maven.repo.local");
        if (repo != null) cmd.add("-Dmaven.repo.local=" + repo);
        Path log = BUILD.resolve("build.log");
        Process p = new ProcessBuilder(cmd).directory(BUILD.toFile()).redirectErrorStream(true)
                .redirectOutput(log.toFile()).start();
        p.getOutputStream().close();
        if (!p.waitFor(15, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new AssertionError("building the examples took over 15 minutes: " + cmd);
        }
        if (p.exitValue() != 0) {
            throw new AssertionError("building the examples failed (" + String.join(" ", cmd) + "):\n" + Files.readString(log));
        }
    }

    /** Copies a project's sources, leaving out any target/ a manual build left there. */
    private static void copy(Path from, Path to) throws IOException {
        try (Stream<Path> s = Files.walk(from)) {
            for (Path p : s.filter(p -> !from.relativize(p).startsWith("target")).toList()) {
                Path dest = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) Files.createDirectories(dest);
                else Files.copy(p, dest, StandardCopyOption.REPLACE_EXISTING);
            }
        }
    }

    private static void delete(Path dir) throws IOException {
        if (!Files.exists(dir)) return;
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.delete(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        }
    }
}
