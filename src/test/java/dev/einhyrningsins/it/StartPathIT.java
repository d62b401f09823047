package dev.einhyrningsins.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.einhyrningsins.control.ControlServer;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a supervisor loads from its start through its first {@code state}, and what a
 * {@code ctl -e state} loads: the start-up and footprint work of issue 10 held in place
 * (bench/footprint.sh has the figures). Under {@code java -jar}, with the JVM's class-load log.
 */
class StartPathIT {
    @TempDir
    Path dir;

    @Test
    void twoDowncallsAreLinkedTheSecondAfterTheFirstSpawnNeitherJacksonNorAJavaTimeFormatterIsLoadedAndCtlLeavesNioInetAlone()
            throws Exception {
        Path classes = dir.resolve("classes.log");
        Path ctlClasses = dir.resolve("ctl-classes.log");
        List<String> launch = List.of(SupervisorProcess.java(), "-Xlog:class+load:file=" + classes,
                "-jar", SupervisorProcess.jar().toString());
        try (SupervisorProcess sup = SupervisorProcess.launch(launch, dir, Map.of(),
                "-n", "2", "-b", "127.0.0.1:0", "-m", "0", "--", "sleep", "600")) {
            sup.awaitLine("Up to 2 / 2");
            // the state dump gives times (spawned_at, started_at...): rendered without a DateTimeFormatter
            assertThat(sup.state().path("workers")).hasSize(2);
            SupervisorProcess.Result ctl = SupervisorProcess.runToExitIn(dir, "", SupervisorProcess.java(),
                    "-Xlog:class+load:file=" + ctlClasses, "-jar", SupervisorProcess.jar().toString(),
                    "ctl", "-d", sup.socket.toString(), "-e", "state");
            assertThat(ctl.status()).as("ctl -e state: %s", ctl.stderr()).isZero();
            assertThat(ctl.stdout()).contains("\"workers\"");
            sup.signal("TERM");
            assertThat(sup.awaitExit()).as("exit status; log:%n%s", sup.log()).isZero();
        }
        List<String> loaded = Files.readAllLines(classes);
        List<String> ctlLoaded = Files.readAllLines(ctlClasses);
        assertThat(ctlLoaded).as("ctl's class-load log").anyMatch(l -> l.contains(" dev.einhyrningsins.control.Ctl "));
        // ctl reads its replies from the channel itself: a Reader over the socket's stream asks for
        // available() bytes, and that initialises NIO's inet side (Net, InetAddress) in every ctl
        assertThat(ctlLoaded).as("ctl: NIO's inet side").noneMatch(l -> l.contains(" sun.nio.ch.Net "));
        assertThat(ctlLoaded).as("ctl: Jackson").noneMatch(l -> l.contains(" com.fasterxml.jackson."));
        assertThat(loaded).as("the class-load log").anyMatch(l -> l.contains(" dev.einhyrningsins.daemon.Daemon "));
        // every libc call goes through one of two linked handles (fixed and variadic arguments):
        // the JDK's linker spins one stub class for each; the variadic one is first needed by
        // pidfd_open, once posix_spawn has started the first worker (Child is loaded then)
        List<Integer> stubs = new ArrayList<>();
        for (int i = 0; i < loaded.size(); i++) {
            if (loaded.get(i).contains(" jdk.internal.foreign.abi.DowncallStub/")) stubs.add(i);
        }
        assertThat(stubs).as("downcall stubs spun").hasSize(2);
        int child = loaded.stream().filter(l -> l.contains(" dev.einhyrningsins.posix.Child ")).findFirst()
                .map(loaded::indexOf).orElseThrow();
        assertThat(stubs.get(1)).as("the second link comes after the first spawn").isGreaterThan(child);
        assertThat(loaded).as("java.time's formatter (Instant.toString)")
                .noneMatch(l -> l.contains(" java.time.format.DateTimeFormatter "));
        assertThat(loaded).as("Jackson (the plain JSON path needs none)")
                .noneMatch(l -> l.contains(" com.fasterxml.jackson."));
    }

    /**
     * What start-up and a burst of control lines took is given back once they are over
     * (shell.Settle: a collection and malloc_trim), and the settling initialises BigDecimal
     * while it waits, so that the first YAML request's share of it is given back too.
     */
    @Test
    void settlingFollowsStartUpAndABurstOfControlLinesAndInitialisesBigDecimalAheadOfItsCollection() throws Exception {
        Path inits = dir.resolve("init.log");
        List<String> launch = List.of(SupervisorProcess.java(), "-Xlog:class+init=info:file=" + inits,
                "-jar", SupervisorProcess.jar().toString());
        try (SupervisorProcess sup = SupervisorProcess.launch(launch, dir, Map.of(),
                "-v", "-n", "1", "-m", "0", "--", "sleep", "600")) {
            sup.awaitLine("Settled: heap"); // Settle.DELAY after the worker is up
            String line = "x".repeat(1023) + "\n"; // not a request: "Could not parse command"
            int lines = (int) (ControlServer.BURST_BYTES / line.length());
            try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
                ch.connect(UnixDomainSocketAddress.of(sup.socket));
                BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(ch), StandardCharsets.UTF_8));
                for (int i = 0; i < lines; i++) {
                    ch.write(ByteBuffer.wrap(line.getBytes(StandardCharsets.US_ASCII)));
                    assertThat(in.readLine()).contains("Could not parse command");
                }
            }
            sup.awaitLine("Settled: heap", 1); // Settle.DELAY after the burst
            sup.signal("TERM");
            assertThat(sup.awaitExit()).as("exit status; log:%n%s", sup.log()).isZero();
        }
        assertThat(Files.readAllLines(inits)).as("class initialisations")
                .anyMatch(l -> l.contains("Initializing 'java/math/BigDecimal'") && l.contains("\"einhyrningsins-settle\""));
    }
}
