package dev.einhyrningsins;

import dev.einhyrningsins.cli.CommandLine;
import dev.einhyrningsins.cli.UsageException;
import dev.einhyrningsins.control.Ctl;
import dev.einhyrningsins.daemon.Daemon;
import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;

/** {@code einhyrningsins [OPTIONS] -- PROGRAM} runs a supervisor; {@code einhyrningsins ctl …} talks to one. */
public final class Main {
    /** Exit status of a command line mistake. */
    public static final int USAGE = 2;

    private Main() {}

    public static void main(String[] args) {
        System.exit(run(args));
    }

    static int run(String[] args) {
        if (args.length > 0 && args[0].equals("ctl")) {
            return Ctl.run(Arrays.copyOfRange(args, 1, args.length), System.in, System.out, System.err);
        }
        CommandLine.Parsed parsed;
        try {
            parsed = CommandLine.parse(List.of(args));
        } catch (UsageException e) {
            System.err.println("einhyrningsins: " + e.getMessage());
            System.err.println("Try 'einhyrningsins --help' for more information.");
            return USAGE;
        }
        return switch (parsed) {
            case CommandLine.Parsed.Help h -> {
                System.out.print(CommandLine.usage());
                yield 0;
            }
            case CommandLine.Parsed.Version v -> {
                System.out.println("einhyrningsins " + version());
                yield 0;
            }
            case CommandLine.Parsed.Run r -> {
                try {
                    if (r.options().upgradeCheck()) yield Daemon.check(r.options(), version(), System.out, System.err);
                    yield Daemon.run(r.options(), version(), System.err, List.of(args));
                } catch (RuntimeException | Error e) {
                    System.err.println("einhyrningsins: internal error: " + e);
                    yield 1;
                }
            }
        };
    }

    /** The project version, from a resource Maven filters at build time. */
    public static String version() {
        try (InputStream in = Main.class.getResourceAsStream("version.properties")) {
            Properties p = new Properties();
            if (in != null) p.load(in);
            return p.getProperty("version", "unknown");
        } catch (IOException e) {
            return "unknown";
        }
    }
}
