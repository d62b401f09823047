package dev.einhyrningsins.image;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.einhyrningsins.Main;
import dev.einhyrningsins.cli.CommandLine;
import dev.einhyrningsins.image.ImageIT.Result;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Debian package {@code mvn package} builds, checked as a distribution checks one and used
 * as an administrator uses it: lintian, its dependencies, {@code dpkg -i} into this machine, the
 * launcher with no Java on PATH, its man pages, {@code systemd-analyze verify} of an instance,
 * the instance's configured program started as its unit starts it (a real worker), upgraded by
 * the unit's ExecReload, which fails when the upgrade fails, then {@code dpkg -r} leaving none
 * of its files. As root; what it installs is removed even when it fails.
 */
class DebIT {
    static final Path TARGET = ImageIT.JAR.getParent();
    static final Path UNIT = Path.of("/lib/systemd/system/einhyrningsins@.service");
    static final String INSTANCE = "debit" + ProcessHandle.current().pid();

    /** Where commands run and keep their output, and the worker's copy lives. */
    @TempDir
    static Path dir;

    static Path deb;

    @BeforeAll
    static void built() throws Exception {
        assumeTrue(Files.isExecutable(ImageIT.LAUNCHER), "no runtime image at " + ImageIT.IMAGE + " (built with -Dimage.skip=true?)");
        assumeTrue(!Boolean.getBoolean("deb.skip"), "built with -Ddeb.skip");
        try (Stream<Path> s = Files.list(TARGET)) {
            List<Path> debs = s.filter(p -> p.getFileName().toString().matches("einhyrningsins_.*\\.deb")).toList();
            assertThat(debs).as("the package mvn package built beside the image").hasSize(1);
            deb = debs.getFirst();
        }
        assertThat(deb.getFileName().toString()).isEqualTo("einhyrningsins_" + Main.version() + "_"
                + run(Map.of(), "dpkg", "--print-architecture").out().strip() + ".deb");
    }

    static Result run(Map<String, String> env, String... cmd) throws Exception {
        return ImageIT.run(dir, env, cmd);
    }

    static Result ok(String... cmd) throws Exception {
        Result r = run(Map.of(), cmd);
        assertThat(r.exit()).as("%s: %s", String.join(" ", cmd), r).isZero();
        return r;
    }

    @Test
    void lintianFindsNoErrorAndNoWarning() throws Exception {
        Result r = run(Map.of(), "lintian", "--fail-on", "error,warning", deb.toString());
        assertThat(r.out().lines().filter(l -> l.matches("[EW]: .*")).toList()).as("lintian: %s", r).isEmpty();
        assertThat(r.exit()).as("lintian: %s", r).isZero();
    }

    /** Depends: the libc its ELF files need (dpkg-shlibdeps), util-linux for -k's setpriv; no Java. */
    @Test
    void dependsOnlyOnWhatItUses() throws Exception {
        Path tree = Files.createTempDirectory(dir, "tree");
        ok("dpkg-deb", "-R", deb.toString(), tree.resolve("root").toString());
        tree = tree.resolve("root");
        List<String> elves = new ArrayList<>();
        try (Stream<Path> s = Files.walk(tree.resolve("usr/lib/einhyrningsins"))) {
            for (Path f : s.filter(Files::isRegularFile).toList()) {
                try (InputStream in = Files.newInputStream(f)) {
                    if (Arrays.equals(in.readNBytes(4), new byte[] {0x7f, 'E', 'L', 'F'})) elves.add(tree.relativize(f).toString());
                }
            }
        }
        assertThat(elves).contains("usr/lib/einhyrningsins/bin/java", "usr/lib/einhyrningsins/lib/server/libjvm.so");
        Files.createDirectories(tree.resolve("debian"));
        Files.writeString(tree.resolve("debian/control"), "Source: einhyrningsins\n\nPackage: einhyrningsins\nArchitecture: any\n");
        List<String> cmd = new ArrayList<>(List.of("dpkg-shlibdeps", "-O", "-lusr/lib/einhyrningsins/lib",
                "-lusr/lib/einhyrningsins/lib/server"));
        cmd.addAll(elves);
        Result shlibs = ImageIT.run(tree, Map.of(), cmd.toArray(String[]::new));
        assertThat(shlibs.exit()).as("%s", shlibs).isZero();
        String libc = shlibs.out().strip().replaceFirst("^shlibs:Depends=", "");
        assertThat(libc).as("what the runtime's binaries link").matches("libc6 \\(>= [0-9.]+\\)");

        String depends = ok("dpkg-deb", "-f", deb.toString(), "Depends").out().strip();
        assertThat(depends).isEqualTo(libc + ", util-linux (>= 2.33)").doesNotContainIgnoringCase("java").doesNotContain("jre");
        // -k runs workers through setpriv --pdeathsig, which util-linux brings since 2.33
        assertThat(ok("dpkg", "-S", "/usr/bin/setpriv").out()).startsWith("util-linux: ");
        assertThat(CommandLine.usage().replaceAll("\\s+", " ")).contains("setpriv --pdeathsig (util-linux 2.33+)");
    }

    @Test
    void installRunAnInstanceUpgradeItAndRemoveCleanly() throws Exception {
        assumeTrue("root".equals(System.getProperty("user.name")), "dpkg -i needs root");
        assumeTrue(!installed(), "einhyrningsins is installed on this machine already; this test installs and removes its own");
        Path runDir = Path.of("/run/einhyrningsins");
        Path conf = Path.of("/etc/einhyrningsins", INSTANCE + ".conf");
        boolean madeRunDir = false;
        try {
            // what the package holds, and which of those paths were there before (/usr/bin, ...)
            List<Path> contents = new ArrayList<>();
            for (String line : ok("dpkg-deb", "-c", deb.toString()).out().lines().toList()) {
                String path = line.split("\\s+", 6)[5].replaceFirst(" -> .*$", "").replaceFirst("^\\.", "");
                contents.add(Path.of(path.isEmpty() ? "/" : path));
            }
            List<Path> before = contents.stream().filter(f -> Files.exists(f, LinkOption.NOFOLLOW_LINKS)).toList();
            ok("dpkg", "-i", deb.toString());
            List<Path> files = ok("dpkg-query", "-L", "einhyrningsins").out().lines().filter(l -> l.startsWith("/"))
                    .map(l -> Path.of(l).normalize()).toList();
            assertThat(files).contains(Path.of("/usr/bin/einhyrningsins"), Path.of("/usr/bin/einhyrningsinsctl"),
                    Path.of("/usr/lib/einhyrningsins/lib/einhyrningsins.jar"), UNIT,
                    Path.of("/lib/systemd/system/einhyrningsins@.socket"),
                    Path.of("/usr/share/man/man1/einhyrningsins.1.gz"), Path.of("/usr/share/doc/einhyrningsins/copyright"),
                    Path.of("/usr/share/doc/einhyrningsins/changelog.gz"), Path.of("/usr/share/doc/einhyrningsins/README.md.gz"),
                    Path.of("/usr/share/bash-completion/completions/einhyrningsins"));

            noJavaOnPath();
            assertThat(ok("man", "-w", "einhyrningsins").out().strip()).isEqualTo("/usr/share/man/man1/einhyrningsins.1.gz");
            assertThat(ok("man", "-w", "einhyrningsinsctl").out().strip()).isEqualTo("/usr/share/man/man1/einhyrningsinsctl.1.gz");
            Result verify = run(Map.of(), "systemd-analyze", "verify", "--man=no", "einhyrningsins@" + INSTANCE + ".service",
                    "einhyrningsins@" + INSTANCE + ".socket");
            assertThat(verify.exit()).as("%s", verify).isZero();
            assertThat(verify.err()).as("systemd-analyze verify").isEmpty();
            assertThat(ok("bash", "--norc", "-c", "source /usr/share/bash-completion/completions/einhyrningsinsctl; "
                    + "complete -p einhyrningsins einhyrningsinsctl").out())
                    .contains("complete -F _einhyrningsins einhyrningsins", "complete -F _einhyrningsinsctl einhyrningsinsctl");

            if (!Files.isDirectory(runDir)) {
                Files.createDirectory(runDir); // RuntimeDirectory=, which systemd would make
                madeRunDir = true;
            }
            runTheInstanceAsItsUnitDoes(conf);

            // dpkg -r: nothing of the package is left but the directories that were there before
            Files.deleteIfExists(conf);
            ok("dpkg", "-r", "einhyrningsins");
            assertThat(contents).containsAll(files);
            List<Path> left = contents.stream().filter(f -> !before.contains(f))
                    .filter(f -> Files.exists(f, LinkOption.NOFOLLOW_LINKS)).toList();
            assertThat(left).as("left behind by dpkg -r").isEmpty();
            assertThat(Path.of("/usr/lib/einhyrningsins")).doesNotExist();
            assertThat(Path.of("/etc/einhyrningsins")).doesNotExist();
        } finally {
            Files.deleteIfExists(conf);
            if (installed()) run(Map.of(), "dpkg", "--purge", "einhyrningsins");
            run(Map.of(), "dpkg", "--purge", "einhyrningsins"); // its record of maintainer scripts too
            if (madeRunDir) deleteTree(runDir);
        }
        assertThat(installed()).isFalse();
    }

    /** The launcher runs its own Java: with nothing on PATH but readlink (which it uses), and its AOT cache usable. */
    static void noJavaOnPath() throws Exception {
        Path bin = Files.createDirectories(dir.resolve("bin"));
        Files.createSymbolicLink(bin.resolve("readlink"), Path.of("/usr/bin/readlink"));
        for (Map<String, String> env : List.of(Map.of("PATH", bin.toString()),
                Map.of("PATH", bin.toString(), "EINHYRNINGSINS_JAVA_OPTS", "-XX:AOTMode=on"))) {
            ProcessBuilder pb = new ProcessBuilder("/usr/bin/einhyrningsins", "--version").directory(dir.toFile());
            pb.environment().clear();
            pb.environment().putAll(env);
            Process p = pb.redirectErrorStream(true).start();
            p.getOutputStream().close();
            String out = new String(p.getInputStream().readAllBytes());
            assertThat(p.waitFor()).as("einhyrningsins --version with %s: %s", env, out).isZero();
            assertThat(out).isEqualTo("einhyrningsins " + Main.version() + "\n");
        }
        assertThat(bin.resolve("java")).doesNotExist();
        Files.delete(bin.resolve("readlink"));
    }

    /**
     * /etc/einhyrningsins/NAME.conf with a real worker, started by the unit's own ExecStart line;
     * the unit's ExecReload upgrades it, and exits 1 when the new workers fail (the old serve on).
     */
    static void runTheInstanceAsItsUnitDoes(Path conf) throws Exception {
        Map<String, String> unit = unit();
        assertThat(unit).containsEntry("Type", "notify").containsEntry("RuntimeDirectory", "einhyrningsins");
        List<String> start = words(unit.get("ExecStart"));
        List<String> reload = words(unit.get("ExecReload"));
        assertThat(start.getFirst()).isEqualTo("/usr/bin/einhyrningsins");
        assertThat(reload).containsExactly("/usr/bin/einhyrningsinsctl", "-d", "/run/einhyrningsins/" + INSTANCE + ".sock",
                "-e", "upgrade");
        Path sock = Path.of("/run/einhyrningsins", INSTANCE + ".sock");

        // a build that can be broken: the worker refuses to start while WORKER.broken exists
        Path worker = Files.copy(ImageIT.WORKER, dir.resolve("worker.py"));
        Path broken = dir.resolve("worker.py.broken");
        Files.writeString(conf, """
                # DebIT's instance: two HTTP workers that ack (-m manual), an upgrade that gives up at the first failure
                -n 2 -m manual -t 10 --upgrade-max-failures 1
                -b 127.0.0.1:0
                -- /bin/sh -c 'test -e "$0.broken" && exit 3; exec /usr/bin/python3 "$0"' %s
                """.formatted(worker));

        try (ImageIT.Supervisor sup = ImageIT.Supervisor.start(dir, start.toArray(String[]::new))) {
            Set<Long> first = serving(sup, sock);
            int port = sup.state(sock).path("sockets").path(0).path("port").asInt();
            assertThat(get(port)).matches("v0 \\d+\n").satisfies(body -> assertThat(first).contains(pidOf(body)));

            Result upgrade = run(Map.of(), reload.toArray(String[]::new));
            assertThat(upgrade.exit()).as("ExecReload: %s%nlog:%n%s", upgrade, sup.log()).isZero();
            assertThat(upgrade.out()).contains("Upgrade done");
            Set<Long> second = serving(sup, sock);
            assertThat(second).as("new workers").doesNotContainAnyElementsOf(first);
            assertThat(second).contains(pidOf(get(port)));

            Files.createFile(broken);
            Result failed = run(Map.of(), reload.toArray(String[]::new));
            assertThat(failed.exit()).as("ExecReload of a broken build: %s%nlog:%n%s", failed, sup.log()).isEqualTo(1);
            assertThat(serving(sup, sock)).as("the old workers serve on").isEqualTo(second);
            assertThat(second).contains(pidOf(get(port)));

            sup.process.destroy(); // TERM, as systemctl stop sends it (KillMode=mixed)
            assertThat(sup.awaitExit()).as("log:%n%s", sup.log()).isZero();
            assertThat(sock).doesNotExist();
        } finally {
            Files.deleteIfExists(Path.of("/run/einhyrningsins", INSTANCE + ".lock"));
        }
    }

    /** The installed template's [Service] settings, continued lines joined and %i the instance's name. */
    static Map<String, String> unit() throws IOException {
        String text = Files.readString(UNIT).replace("\\\n", " ").replace("%i", INSTANCE);
        Map<String, String> settings = new HashMap<>();
        for (String line : text.lines().toList()) {
            int eq = line.indexOf('=');
            if (!line.startsWith("#") && eq > 0) settings.put(line.substring(0, eq), line.substring(eq + 1));
        }
        return settings;
    }

    /** An Exec line's words (the unit quotes nothing). */
    static List<String> words(String line) {
        assertThat(line).as("an Exec= line").isNotNull().doesNotContain("\"", "'", "$");
        return List.of(line.strip().split("\\s+"));
    }

    /** The pids of the two workers once they are all there is: acked, none starting or retiring. */
    static Set<Long> serving(ImageIT.Supervisor sup, Path sock) {
        sup.awaitSocket(sock);
        return sup.await("exactly 2 workers, both acked", () -> {
            try {
                List<Long> pids = new ArrayList<>();
                for (JsonNode w : sup.state(sock).path("workers")) pids.add(w.path("acked").asBoolean() ? w.path("pid").asLong() : -1);
                return pids.size() == 2 && !pids.contains(-1L) ? Set.copyOf(pids) : null;
            } catch (IOException e) {
                return null;
            }
        });
    }

    static long pidOf(String body) {
        return Long.parseLong(body.strip().split(" ")[1]);
    }

    static String get(int port) throws Exception {
        return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/"))
                .timeout(ImageIT.WAIT).build(), HttpResponse.BodyHandlers.ofString()).body();
    }

    static boolean installed() throws Exception {
        Result r = run(Map.of(), "dpkg-query", "-W", "-f=${Status}", "einhyrningsins");
        return r.exit() == 0 && r.out().contains(" installed");
    }

    static void deleteTree(Path root) throws IOException {
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        }
    }
}
