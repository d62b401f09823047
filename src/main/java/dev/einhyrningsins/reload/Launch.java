package dev.einhyrningsins.reload;

import dev.einhyrningsins.shell.StartupException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * How this supervisor was started, so that it can start itself again in place: the
 * runtime image's launcher when it ran us (it says so in {@code EINHYRNINGSINS_LAUNCHER}:
 * the path as it was invoked, so a symlink moved to a new release is followed), otherwise
 * the same java with the same JVM options and jar (from /proc/self/cmdline). Also the files
 * that make up the installation (launcher, jar, JDK), to tell whether it changed on disk.
 *
 * @param executable what to execve
 * @param prefix     argv up to the supervisor's own arguments (argv[0] first)
 * @param args       the supervisor's own arguments
 */
public record Launch(String executable, List<String> prefix, List<String> args, List<Path> installation,
              List<Object> stamps) {

    /** This process's launch: {@code args} are its main arguments. */
    public static Launch current(Map<String, String> env, List<String> args) {
        List<Path> installation = new ArrayList<>();
        String launcher = env.get("EINHYRNINGSINS_LAUNCHER");
        String executable;
        List<String> prefix;
        if (launcher != null && !launcher.isEmpty()) {
            executable = launcher;
            prefix = List.of(launcher);
            installation.add(Path.of(launcher));
        } else {
            executable = javaExecutable();
            List<String> cmdline = cmdline();
            int own = Math.max(1, cmdline.size() - args.size());
            prefix = new ArrayList<>(cmdline.subList(0, own));
        }
        installation.add(Path.of(executable));
        installation.add(Path.of(System.getProperty("java.home"), "lib", "modules"));
        Path jar = jar();
        if (jar != null) installation.add(jar);
        List<Path> files = installation.stream().distinct().toList();
        return new Launch(executable, List.copyOf(prefix), List.copyOf(args), files, stamps(files));
    }

    /** argv for starting again, with {@code extra} before the supervisor's own arguments. */
    List<String> argv(String... extra) {
        List<String> argv = new ArrayList<>(prefix);
        argv.addAll(Arrays.asList(extra));
        argv.addAll(args);
        return argv;
    }

    /** Whether a file of the installation was replaced or changed since this process started. */
    public boolean installationChanged() {
        return !stamps.equals(stamps(installation));
    }

    /** What identifies a file's content cheaply: its inode, size and modification time (links followed). */
    private static List<Object> stamps(List<Path> files) {
        List<Object> stamps = new ArrayList<>();
        for (Path f : files) {
            try {
                BasicFileAttributes a = Files.readAttributes(f, BasicFileAttributes.class);
                stamps.add(List.of(Objects.toString(a.fileKey()), a.size(), a.lastModifiedTime().toMillis()));
            } catch (IOException e) {
                stamps.add("missing");
            }
        }
        return stamps;
    }

    /** What the kernel appends to {@code /proc/self/exe} when the running binary was replaced on disk. */
    static final String DELETED = " (deleted)";

    /** This JVM's executable as {@code /proc/self/exe} names it, {@link #DELETED} included. */
    static String exeLink() throws IOException {
        return Files.readSymbolicLink(Path.of("/proc/self/exe")).toString();
    }

    static String javaExecutable() {
        try {
            String exe = exeLink();
            return exe.endsWith(DELETED) ? exe.substring(0, exe.length() - DELETED.length()) : exe;
        } catch (IOException e) {
            return Path.of(System.getProperty("java.home"), "bin", "java").toString();
        }
    }

    static List<String> cmdline() {
        try {
            String all = new String(Files.readAllBytes(Path.of("/proc/self/cmdline")), StandardCharsets.UTF_8);
            if (all.endsWith("\0")) all = all.substring(0, all.length() - 1);
            return List.of(all.split("\0", -1));
        } catch (IOException e) {
            throw new StartupException("cannot read /proc/self/cmdline: " + e.getMessage());
        }
    }

    /** The jar this code runs from, if it runs from one. */
    static Path jar() {
        try {
            var source = Launch.class.getProtectionDomain().getCodeSource();
            if (source == null) return null;
            Path p = Path.of(source.getLocation().toURI());
            return Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS) || Files.isRegularFile(p) ? p : null;
        } catch (java.net.URISyntaxException | RuntimeException e) {
            return null;
        }
    }
}
