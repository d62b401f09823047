package dev.einhyrningsins.shell;

import java.nio.file.Files;
import java.nio.file.Path;

/** Finds PROGRAM the way execvp would: a name with a slash is a path, anything else is looked up in PATH. */
public final class Program {
    private Program() {}

    /** Returns the executable, or throws {@link StartupException} saying what is wrong. */
    public static Path resolve(String name, String pathVariable) {
        if (name.isEmpty()) throw new StartupException("PROGRAM is empty");
        if (name.contains("/")) {
            Path p = Path.of(name).toAbsolutePath();
            check(p, name);
            return p;
        }
        String path = pathVariable == null || pathVariable.isEmpty() ? "/usr/local/bin:/usr/bin:/bin" : pathVariable;
        Path notExecutable = null;
        for (String dir : path.split(":", -1)) {
            Path candidate = Path.of(dir.isEmpty() ? "." : dir, name).toAbsolutePath();
            if (Files.isRegularFile(candidate)) {
                if (Files.isExecutable(candidate)) return candidate;
                if (notExecutable == null) notExecutable = candidate;
            }
        }
        if (notExecutable != null) {
            throw new StartupException(name + ": " + notExecutable + " is not executable (chmod +x it)");
        }
        throw new StartupException(name + ": command not found in PATH (" + path + ")");
    }

    private static void check(Path p, String name) {
        if (!Files.exists(p)) throw new StartupException(name + ": no such file");
        if (Files.isDirectory(p)) throw new StartupException(name + ": is a directory");
        if (!Files.isExecutable(p)) throw new StartupException(name + ": not executable (chmod +x it)");
    }
}
