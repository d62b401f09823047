package dev.einhyrningsins;

import dev.einhyrningsins.cli.CommandLine;
import dev.einhyrningsins.cli.UsageException;
import dev.einhyrningsins.control.Ctl;
import dev.einhyrningsins.daemon.Daemon;
import dev.einhyrningsins.reload.LeanStart;
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
        boolean ctl = args.length > 0 && args[0].equals("ctl");
        int status = run(args);
        // A ctl that succeeded returns instead: Runtime.exit initialises the JDK's System.Logger
        // (exit logging) first, a dozen classes and milliseconds that every ctl would pay to
        // leave. The supervisor always exits, whatever threads its features left running.
        if (status != 0 || !ctl) System.exit(status);
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
        // instanceof rather than a pattern switch: the switch's bootstrap spins a class at the
        // first run (~8 ms on every start, not in the AOT cache of JDK 25)
        if (parsed instanceof CommandLine.Parsed.Help) {
            System.out.print(CommandLine.usage());
            return 0;
        }
        if (parsed instanceof CommandLine.Parsed.Version) {
            System.out.println("einhyrningsins " + version());
            return 0;
        }
        CommandLine.Parsed.Run r = (CommandLine.Parsed.Run) parsed;
        if (!r.options().upgradeCheck()) LeanStart.begin(List.of(args), System.err);
        try {
            if (r.options().upgradeCheck()) return Daemon.check(r.options(), version(), System.out, System.err);
            return Daemon.run(r.options(), version(), System.err, List.of(args));
        } catch (RuntimeException | Error e) {
            System.err.println("einhyrningsins: internal error: " + e);
            return 1;
        }
    }

    /** The project version: the jar manifest's Implementation-Version, else a resource Maven filters at build time. */
    public static String version() {
        // from the jar: its manifest, already parsed when this package was defined (reading a
        // resource out of the jar instead cost ~3 ms of every java -jar start)
        String v = Main.class.getPackage().getImplementationVersion();
        if (v != null) return v;
        // from a classes directory (tests): the filtered resource
        try (InputStream in = Main.class.getResourceAsStream("version.properties")) {
            Properties p = new Properties();
            if (in != null) p.load(in);
            return p.getProperty("version", "unknown");
        } catch (IOException e) {
            return "unknown";
        }
    }
}
