package dev.einhyrningsins.posix;

import static org.assertj.core.api.Assertions.assertThat;

import dev.einhyrningsins.posix.libc.Libc;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sun.misc.Signal;

/**
 * Dispositions, masks and signalfd on the real kernel. URG and WINCH serve as guinea pigs: the
 * JVM does not use them and their default action is to ignore, so a stray one harms nothing.
 */
class SignalsTest {
    static final int URG = Libc.SIGURG();
    static final int WINCH = Libc.SIGWINCH();

    @Test
    void aHandlerPutBackKeepsItsFlagsAndMaskWhichSignalDoesNot() {
        Signal.handle(new Signal("WINCH"), s -> { });
        Signals.Disposition jvm = Signals.disposition(WINCH);
        assertThat(jvm.ignored() || jvm.byDefault()).isFalse();
        assertThat(jvm.flags() & Libc.SA_SIGINFO()).as("the JVM's handler takes siginfo").isNotZero();
        try {
            Signals.Disposition before = Signals.ignore(WINCH);
            assertThat(before).isEqualTo(jvm);
            assertThat(Signals.disposition(WINCH).ignored()).isTrue();
            Signals.restore(before);
            assertThat(Signals.disposition(WINCH)).isEqualTo(jvm);

            // what the previous reload did: signal(2) with the old handler's address
            Processes.Disposition viaSignal = Processes.ignore(WINCH);
            Processes.restore(viaSignal);
            assertThat(Signals.disposition(WINCH).flags() & Libc.SA_SIGINFO()).as("signal(2) drops SA_SIGINFO").isZero();
        } finally {
            Signals.restore(jvm);
        }
    }

    @Test
    void aSignalGoesFromIgnoredToTheJvmsHandlerWithoutPassingThroughTheDefault() {
        Signal.handle(new Signal("WINCH"), s -> { });
        Signals.Disposition jvm = Signals.disposition(WINCH);
        Signals.Disposition before = Signals.ignore(URG);
        try {
            Signals.copy(jvm, URG);
            Signals.Disposition urg = Signals.disposition(URG);
            assertThat(urg.handler()).isEqualTo(jvm.handler());
            assertThat(urg.flags()).isEqualTo(jvm.flags());
        } finally {
            Signals.restore(before);
        }
    }

    @Test
    void aBlockedSignalWaitsUntilASignalfdReadsIt() {
        Signals.Disposition before = Signals.disposition(URG);
        Signals.block(URG);
        int fd = Signals.signalfd(URG);
        try {
            assertThat(Signals.read(fd, 8)).isEmpty();
            Signals.raise(URG);
            Signals.raise(URG); // a standard signal does not queue twice
            assertThat(Signals.pending()).contains(URG);
            assertThat(Poller.readable(fd, 0)).isTrue();
            assertThat(Signals.read(fd, 8)).containsExactly(URG);
            assertThat(Signals.pending()).doesNotContain(URG);
            assertThat(Signals.read(fd, 8)).isEmpty();
        } finally {
            Fds.close(fd);
            Signals.unblock(URG);
            Signals.restore(before);
        }
    }

    @Test
    void aBlockedSignalIsKeptEvenWhenItsDispositionIsToIgnoreIt() {
        Signals.Disposition before = Signals.ignore(URG);
        Signals.block(URG);
        int fd = Signals.signalfd(URG);
        try {
            Signals.raise(URG);
            assertThat(Signals.read(fd, 8)).containsExactly(URG);
        } finally {
            Fds.close(fd);
            Signals.unblock(URG);
            Signals.restore(before);
        }
    }

    @Test
    void notEveryThreadOfThisJvmBlocksASignalOnlyThisThreadBlocks() {
        Signals.block(URG);
        try {
            assertThat(Signals.has(Signals.blockedInEveryThread(), URG)).isFalse();
        } finally {
            Signals.unblock(URG);
        }
    }

    @Test
    void masksAreReadFromProcStatus(@TempDir Path dir) throws IOException {
        Path status = dir.resolve("status");
        Files.writeString(status, "Name:\tjava\nSigPnd:\t0000000000000000\nSigBlk:\t0000000000304007\nSigIgn:\t0000000000004003\n");
        assertThat(Signals.maskOf(status, "SigBlk:")).isEqualTo(0x304007L);
        assertThat(Signals.maskOf(status, "SigIgn:")).isEqualTo(0x4003L);
    }
}
