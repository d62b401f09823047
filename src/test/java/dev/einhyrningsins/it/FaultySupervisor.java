package dev.einhyrningsins.it;

import dev.einhyrningsins.cli.CommandLine;
import dev.einhyrningsins.daemon.Daemon;
import dev.einhyrningsins.supervisor.Os;
import java.util.List;

/**
 * A real supervisor whose {@link Os} throws a StackOverflowError when the core asks it to
 * send SIGUSR1 (the {@code signal USR1} control command): an Error escaping the loop, for
 * FieldIT. Run with the test classpath.
 */
public final class FaultySupervisor {
    private FaultySupervisor() {}

    public static void main(String[] args) {
        var run = (CommandLine.Parsed.Run) CommandLine.parse(List.of(args));
        System.exit(Daemon.run(run.options(), "test", System.err, List.of(args), os -> new Os() {
            @Override
            public long nanoTime() {
                return os.nanoTime();
            }

            @Override
            public long currentTimeMillis() {
                return os.currentTimeMillis();
            }

            @Override
            public SpawnResult spawn(int slot, int generation) {
                return os.spawn(slot, generation);
            }

            @Override
            public void signal(int pid, String signal) {
                if (signal.equals("USR1")) throw new StackOverflowError("injected");
                os.signal(pid, signal);
            }

            @Override
            public void signalGroup(int pid, String signal) {
                os.signalGroup(pid, signal);
            }

            @Override
            public void reply(Object client, String message, boolean last, boolean ok) {
                os.reply(client, message, last, ok);
            }

            @Override
            public void log(Level level, String message) {
                os.log(level, message);
            }
        }));
    }
}
