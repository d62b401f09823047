package dev.einhyrningsins.it;

import dev.einhyrningsins.cli.CommandLine;
import dev.einhyrningsins.daemon.Daemon;
import dev.einhyrningsins.supervisor.Os;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
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
        System.exit(Daemon.run(run.options(), "test", System.err, List.of(args), os -> (Os) Proxy.newProxyInstance(
                Os.class.getClassLoader(), new Class<?>[] {Os.class}, (proxy, method, arguments) -> {
                    if (method.getName().equals("signal") && "USR1".equals(arguments[1])) {
                        throw new StackOverflowError("injected");
                    }
                    try {
                        return method.invoke(os, arguments);
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                })));
    }
}
