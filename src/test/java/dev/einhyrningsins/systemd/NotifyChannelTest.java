package dev.einhyrningsins.systemd;

import static org.assertj.core.api.Assertions.assertThat;

import dev.einhyrningsins.posix.Datagrams;
import dev.einhyrningsins.posix.Fds;
import dev.einhyrningsins.posix.Poller;
import dev.einhyrningsins.posix.Processes;
import dev.einhyrningsins.shell.Log;
import dev.einhyrningsins.supervisor.Event;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A worker's notify socket: a file in a private directory, floods read in bounded bites, drops not logged one by one. */
class NotifyChannelTest {
    @TempDir
    Path base;
    final ByteArrayOutputStream logBytes = new ByteArrayOutputStream();
    final Log log = new Log(new PrintStream(logBytes, true, StandardCharsets.UTF_8), 1, 0);

    @Test
    void itIsAFileInADirectoryOnlyTheSupervisorsUserCanEnterAndItGoesWithTheWorker() throws Exception {
        try (NotifyDirectory dir = new NotifyDirectory(base, Processes.geteuid())) {
            NotifyChannel channel = NotifyChannel.open(dir, Processes.geteuid(), log);
            Path socket = Path.of(channel.address());
            assertThat(socket.getParent()).isEqualTo(dir.path());
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.path()))).isEqualTo("rwx------");
            List<Event> events = new ArrayList<>();
            channel.attach(4242, events::add);
            int sender = Datagrams.sender();
            try {
                Datagrams.send(sender, channel.address(), "READY=1\nSTATUS=up".getBytes(StandardCharsets.UTF_8));
            } finally {
                Fds.close(sender);
            }
            assertThat(Poller.readable(channel.fd(), 5000)).isTrue();
            channel.ready(Poller.IN);
            assertThat(events).containsExactly(new Event.WorkerNotified(4242, true, false, "up"));
            channel.close();
            assertThat(socket).as("removed with the worker").doesNotExist();
            Path where = dir.path();
            dir.close();
            assertThat(where).as("the directory goes with the supervisor").doesNotExist();
        }
    }

    @Test
    void aFloodIsReadAtMost64AtATimeAndDropsAreCountedWithAtMostOneLine() throws Exception {
        Assumptions.assumeTrue(Processes.geteuid() == 0, "needs root to send as another uid");
        Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/setpriv")), "needs setpriv");
        // a directory anyone may enter, so that another user can reach the socket at all: the
        // credentials check is the second line of defence
        Path open = Files.createDirectory(base.resolve("open"));
        Files.setPosixFilePermissions(base, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.setPosixFilePermissions(open, PosixFilePermissions.fromString("rwxrwxrwx"));
        NotifyDirectory dir = NotifyDirectory.adopt(open.resolve("x"), Processes.geteuid());
        NotifyChannel channel = NotifyChannel.open(dir, Processes.geteuid(), log);
        Files.setPosixFilePermissions(Path.of(channel.address()), PosixFilePermissions.fromString("rw-rw-rw-"));
        List<Event> events = new ArrayList<>();
        channel.attach(4242, events::add);
        String py = "import socket,sys\ns=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n"
                + "for i in range(200): s.sendto(b'READY=1', sys.argv[1])\n";
        Process p = new ProcessBuilder("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3",
                "-c", py, channel.address()).redirectErrorStream(true).start();
        // read as the loop would while the sender floods (its sends block once the queue is full)
        int bites = 0;
        while (p.isAlive() || Poller.readable(channel.fd(), 0)) {
            if (!Poller.readable(channel.fd(), 50)) continue;
            long before = channel.dropped();
            channel.ready(Poller.IN);
            assertThat(channel.dropped() - before).as("read in one wake-up").isLessThanOrEqualTo(NotifyChannel.READS_PER_WAKEUP);
            bites++;
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor()).as(out).isZero();
        assertThat(bites).isGreaterThanOrEqualTo(200 / NotifyChannel.READS_PER_WAKEUP);
        assertThat(channel.dropped()).isEqualTo(200);
        assertThat(events).as("another user's READY=1 is not an ack").isEmpty();
        assertThat(logBytes.toString(StandardCharsets.UTF_8).lines().filter(l -> l.contains("notify message")))
                .as("one line, not one a datagram").hasSize(1)
                .allMatch(l -> l.contains("Dropped 1 notify message for worker 4242 (the last from uid 65534"));
        channel.close();
        dir.close();
    }
}
