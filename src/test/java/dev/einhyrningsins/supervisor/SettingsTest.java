package dev.einhyrningsins.supervisor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.einhyrningsins.supervisor.Settings.Invalid;
import dev.einhyrningsins.supervisor.Settings.Setting;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * The rules of the tunables, shared by the command line and {@code config}: what each takes,
 * its bounds, and how its complaint is worded.
 */
class SettingsTest {
    static final Config DEFAULTS = Config.defaults(4);

    static Config apply(Setting s, String value) throws Invalid {
        return s.apply(DEFAULTS, value);
    }

    static String refusal(Setting s, String value) {
        try {
            s.apply(DEFAULTS, value);
        } catch (Invalid e) {
            return e.getMessage();
        }
        throw new AssertionError(s + " took " + value);
    }

    @Test
    void theAckModeIsManualNotifyOrSecondsAlive() throws Invalid {
        assertThat(apply(Setting.ACK_MODE, " Manual ").ackMode()).isEqualTo(new Config.AckMode.Manual());
        assertThat(apply(Setting.ACK_MODE, "NOTIFY").ackMode()).isEqualTo(new Config.AckMode.Notify());
        assertThat(apply(Setting.ACK_MODE, "2.5").ackMode()).isEqualTo(new Config.AckMode.Timer(Duration.ofMillis(2500)));
        assertThat(apply(Setting.ACK_MODE, "0").ackMode()).isEqualTo(new Config.AckMode.Timer(Duration.ZERO));
        assertThat(refusal(Setting.ACK_MODE, "manually")).isEqualTo("needs manual, notify or a number of seconds >= 0, got 'manually'");
        assertThat(refusal(Setting.ACK_MODE, "-1")).endsWith("got '-1'");
        assertThat(refusal(Setting.ACK_MODE, null)).endsWith("got null");
    }

    @Test
    void aCheckIsAnyCommandButABlankOne() throws Invalid {
        assertThat(apply(Setting.READY_CHECK, "test -f /ready").health().readyCheck()).isEqualTo("test -f /ready");
        assertThat(apply(Setting.LIVE_CHECK, " true").health().liveCheck()).isEqualTo(" true");
        assertThat(refusal(Setting.LIVE_CHECK, " \t")).isEqualTo("needs a shell command, got ' \t'");
        assertThat(refusal(Setting.READY_CHECK, null)).isEqualTo("needs a shell command, got null");
    }

    @Test
    void theGracefulSignalIsANameWithOrWithoutSig() throws Invalid {
        assertThat(apply(Setting.GRACEFUL_SIGNAL, "sigterm").gracefulSignal()).isEqualTo("TERM");
        assertThat(apply(Setting.GRACEFUL_SIGNAL, " Quit ").gracefulSignal()).isEqualTo("QUIT");
        assertThat(refusal(Setting.GRACEFUL_SIGNAL, "SIGBOGUS")).isEqualTo("needs a signal name such as TERM or USR2, got 'SIGBOGUS'");
        assertThat(refusal(Setting.GRACEFUL_SIGNAL, "15")).endsWith("got '15'");
        assertThat(refusal(Setting.GRACEFUL_SIGNAL, null)).endsWith("got null");
    }

    @Test
    void theUpgradeSurgeIsACountOrUnlimited() throws Invalid {
        assertThat(apply(Setting.MAX_UPGRADE_ADDITIONAL, null).maxUpgradeAdditional()).isEqualTo(-1);
        assertThat(apply(Setting.MAX_UPGRADE_ADDITIONAL, "Unlimited").maxUpgradeAdditional()).isEqualTo(-1);
        assertThat(apply(Setting.MAX_UPGRADE_ADDITIONAL, "0").maxUpgradeAdditional()).isEqualTo(1);
        assertThat(apply(Setting.MAX_UPGRADE_ADDITIONAL, "100000").maxUpgradeAdditional()).isEqualTo(100_000);
        assertThat(refusal(Setting.MAX_UPGRADE_ADDITIONAL, "100001")).endsWith("got '100001'");
    }

    @Test
    void secondsAreBoundedByAMillionAndZeroMeansOffWhereOffExists() throws Invalid {
        assertThat(apply(Setting.SECONDS, "1000000").respawnInterval()).isEqualTo(Duration.ofSeconds(1_000_000));
        assertThat(refusal(Setting.SECONDS, "1000000.5")).isEqualTo("needs a number of seconds > 0, got '1000000.5'");
        assertThat(apply(Setting.SECONDS, "0.001").respawnInterval()).isEqualTo(Duration.ofMillis(1));
        assertThat(apply(Setting.ACK_TIMEOUT, "0").ackTimeout()).isZero();
        assertThat(apply(Setting.ACK_TIMEOUT, null).ackTimeout()).isZero();
        assertThat(refusal(Setting.SIGNAL_TIMEOUT, "NaN")).isEqualTo("needs a number of seconds (0 = off), got 'NaN'");
        assertThat(refusal(Setting.CHECK_INTERVAL, "Infinity")).endsWith("got 'Infinity'");
    }

    @Test
    void countsAreBoundedOnBothEnds() throws Invalid {
        assertThat(apply(Setting.NUMBER, "10000").number()).isEqualTo(Config.MAX_WORKERS);
        assertThat(refusal(Setting.NUMBER, "10001")).isEqualTo("needs a whole number in 1..10000, got '10001'");
        assertThat(apply(Setting.MAX_WORKER_RSS, "1048576").health().maxWorkerRssMb()).isEqualTo(1 << 20);
        assertThat(apply(Setting.MAX_WORKER_RSS, "0").health().maxWorkerRssMb()).isZero();
        assertThat(refusal(Setting.MAX_WORKER_RSS, "1048577")).endsWith("got '1048577'");
    }

    @Test
    void valuesShowAsStateAndRepliesWriteThem() throws Invalid {
        assertThat(Setting.MAX_WORKER_RSS.show(apply(Setting.MAX_WORKER_RSS, "0"))).isEqualTo("off");
        assertThat(Setting.MAX_WORKER_RSS.show(apply(Setting.MAX_WORKER_RSS, "512"))).isEqualTo("512");
        assertThat(Setting.MAX_UPGRADE_ADDITIONAL.show(apply(Setting.MAX_UPGRADE_ADDITIONAL, "none"))).isEqualTo("unlimited");
        assertThat(Setting.MAX_UPGRADE_ADDITIONAL.show(apply(Setting.MAX_UPGRADE_ADDITIONAL, "1"))).isEqualTo("1");
        assertThat(Setting.ACK_MODE.show(apply(Setting.ACK_MODE, "0.5"))).isEqualTo("0.5");
        assertThat(Setting.PING_TIMEOUT.show(DEFAULTS)).isEqualTo("off");
    }

    @Test
    void aConfigurationRefusesWhatNoRuleLetsThrough() {
        assertThat(DEFAULTS.with(Setting.NUMBER, Config.MAX_WORKERS).number()).isEqualTo(Config.MAX_WORKERS);
        assertThatThrownBy(() -> DEFAULTS.with(Setting.NUMBER, Config.MAX_WORKERS + 1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> DEFAULTS.with(Setting.NUMBER, 0)).isInstanceOf(IllegalArgumentException.class);
        assertThat(DEFAULTS.with(Setting.UPGRADE_MAX_FAILURES, 1).upgradeMaxFailures()).isEqualTo(1);
        assertThatThrownBy(() -> DEFAULTS.with(Setting.UPGRADE_MAX_FAILURES, 0)).isInstanceOf(IllegalArgumentException.class);
        assertThat(DEFAULTS.with(Setting.MAX_UNACKED, 1).maxUnacked()).isEqualTo(1);
        assertThatThrownBy(() -> DEFAULTS.with(Setting.MAX_UNACKED, 0)).isInstanceOf(IllegalArgumentException.class);
    }
}
