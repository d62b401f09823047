package dev.einhyrningsins.shell;

import dev.einhyrningsins.posix.Poller;
import dev.einhyrningsins.posix.Spawn;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * A process that takes the supervisor's signals as the supervisor does, for {@link SignalIntakeTest}:
 * {@code SignalProbe GO_FILE [exec]}. It waits for GO_FILE before installing (signals sent
 * meanwhile must not be lost), prints {@code ready kernel=[…] jvm=[…]}, then one line per
 * signal it takes, and exits 0 once it took TERM (and printed whatever it took with it). With
 * {@code exec} it then does what a reload does at its exec, each step when the test's file
 * appears (GO_FILE.exec: {@link SignalIntake#blockForExec}; GO_FILE.window:
 * {@link SignalIntake#ignoreForExec}; GO_FILE.last: take what the handlers took and exec itself
 * without {@code exec}, those signals in CARRIED). With {@code exec}, each signal the JVM's
 * handlers take also creates GO_FILE.took-NAME: they run on a thread of their own, and the
 * test must know one is queued before it asks for the exec.
 */
public final class SignalProbe {
    public static void main(String[] args) throws Exception {
        PrintStream out = System.out;
        Path go = Path.of(args[0]);
        await(go);
        LinkedBlockingQueue<String> taken = new LinkedBlockingQueue<>();
        Log log = new Log(System.err, ProcessHandle.current().pid(), 0);
        boolean exec = args.length > 1 && args[1].equals("exec");
        Consumer<String> sink = exec ? name -> {
            taken.add(name);
            try {
                Files.createFile(Path.of(args[0] + ".took-" + name)); // for the test: the handler's thread has queued it
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        } : taken::add;
        SignalIntake intake = SignalIntake.install(List.of("TERM", "INT", "HUP", "TTIN", "TTOU"), sink, log, false);
        out.println("ready kernel=" + intake.inKernel() + " jvm=" + intake.throughJvm());
        out.flush();
        if (exec) {
            await(Path.of(args[0] + ".exec"));
            intake.blockForExec();
            out.println("blocked");
            out.flush();
            await(Path.of(args[0] + ".window"));
            intake.ignoreForExec();
            out.println("ignored");
            out.flush();
            await(Path.of(args[0] + ".last"));
            List<String> carried = new ArrayList<>();
            taken.drainTo(carried);
            List<String> envp = new ArrayList<>();
            for (Map.Entry<String, String> e : System.getenv().entrySet()) envp.add(e.getKey() + "=" + e.getValue());
            envp.add("CARRIED=" + String.join(",", carried));
            String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            Spawn.execve(java, List.of(java, "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                    SignalProbe.class.getName(), args[0]), envp);
        }
        String carried = System.getenv("CARRIED");
        if (carried != null && !carried.isEmpty()) {
            for (String c : carried.split(",")) taken.add(c);
        }
        Poller poller = new Poller();
        boolean terminated = false;
        while (true) {
            if (!intake.closed()) {
                int[] fds = {intake.fd()};
                short[] events = {Poller.IN};
                short[] revents = new short[1];
                poller.await(fds, events, revents, 1, 50);
                if (revents[0] != 0) intake.ready(revents[0]);
            }
            String s = taken.poll(intake.closed() ? 50 : 0, TimeUnit.MILLISECONDS);
            if (s == null) {
                if (terminated) return; // everything taken with TERM printed too
                continue;
            }
            out.println("took " + s);
            out.flush();
            terminated |= s.equals("TERM");
        }
    }

    private static void await(Path p) throws InterruptedException {
        while (!Files.exists(p)) Thread.sleep(5); // a test's handshake: it creates the file when it is ready
    }
}
