package dev.einhyrningsins.it;

import dev.einhyrningsins.cli.CommandLine;
import dev.einhyrningsins.daemon.Daemon;
import dev.einhyrningsins.supervisor.Os;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * A real supervisor whose loop wedges when the core asks its {@link Os} to send SIGUSR1 (the
 * {@code signal USR1} control command): the loop thread is held until the file named by
 * {@code WEDGE_RELEASE} exists, as a loop stuck in a slow call would be. For DeployIT's
 * {@code /live}. Run with the test classpath.
 */
public final class WedgedSupervisor {
    private WedgedSupervisor() {}

    public static void main(String[] args) {
        Path release = Path.of(System.getenv("WEDGE_RELEASE"));
        var run = (CommandLine.Parsed.Run) CommandLine.parse(List.of(args));
        System.exit(Daemon.run(run.options(), "test", System.err, List.of(args), os -> (Os) Proxy.newProxyInstance(
                Os.class.getClassLoader(), new Class<?>[] {Os.class}, (proxy, method, arguments) -> {
                    if (method.getName().equals("signal") && "USR1".equals(arguments[1])) {
                        // held, as a wedged loop is; the poll is this stand-in's, not the test's synchronisation
                        while (!Files.exists(release)) Thread.sleep(10);
                    }
                    try {
                        return method.invoke(os, arguments);
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                })));
    }
}
