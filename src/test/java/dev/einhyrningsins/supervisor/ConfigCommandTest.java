package dev.einhyrningsins.supervisor;

import static org.assertj.core.api.Assertions.assertThat;

import dev.einhyrningsins.supervisor.Config.AckMode;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** einhorn's {@code config} command: run-time settings in KEY=VALUE or YAML form, all or nothing. */
class ConfigCommandTest {

    static final Duration S1 = Duration.ofSeconds(1);

    static Harness manual(int n) {
        return new Harness(new Config(n, S1, new AckMode.Manual(), Duration.ZERO, Duration.ZERO, "USR2",
                2, -1, Duration.ofSeconds(120), 3, 1));
    }

    /** Sends {@code config} with these args; returns the final reply. */
    static FakeOs.Reply config(Harness h, String... args) {
        return h.os.repliesTo(h.cmd("config", List.of(args))).getLast();
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> cfg(Harness h) {
        return (Map<String, Object>) h.sup.state().get("config");
    }

    @Test
    void everyKeyAsKeyValue() {
        Harness h = Harness.timer(1);
        FakeOs.Reply r = config(h, "verbosity=0", "seconds=2.5", "signal_timeout=5", "ack_timeout=7",
                "max_unacked=3", "max_upgrade_additional=2", "upgrade_timeout=60", "upgrade_max_failures=4");
        assertThat(r.ok()).isTrue();
        assertThat(r.message()).isEqualTo("Successfully merged in config: verbosity=0 (was 1), seconds=2.5 (was 1), "
                + "signal_timeout=5 (was off), ack_timeout=7 (was off), max_unacked=3 (was 4), "
                + "max_upgrade_additional=2 (was unlimited), upgrade_timeout=60 (was 120), upgrade_max_failures=4 (was 3)");
        assertThat(h.os.logs).contains("INFO " + r.message());
        Map<String, Object> cfg = cfg(h);
        assertThat(cfg).containsEntry("verbosity", 0).containsEntry("seconds", "2.5")
                .containsEntry("signal_timeout", "5").containsEntry("ack_timeout", "7")
                .containsEntry("max_unacked", 3).containsEntry("max_upgrade_additional", 2)
                .containsEntry("upgrade_timeout", "60").containsEntry("upgrade_max_failures", 4);
        assertThat(h.sup.state()).containsEntry("verbosity", 0);
        assertThat(h.sup.config()).isEqualTo(new Config(1, Duration.ofMillis(2500), new AckMode.Timer(S1),
                Duration.ofSeconds(7), Duration.ofSeconds(5), "USR2", 3, 2, Duration.ofSeconds(60), 4, 0));
    }

    @Test
    void theDrainSettingsAndReadyFailures() {
        Harness h = Harness.timer(1);
        FakeOs.Reply r = config(h, "shutdown_delay=5", "max_draining=2", "drain_timeout=60", "ready_failures=5");
        assertThat(r.ok()).isTrue();
        assertThat(r.message()).isEqualTo("Successfully merged in config: shutdown_delay=5 (was off), max_draining=2 "
                + "(was unlimited), drain_timeout=60 (was off), ready_failures=5 (was 3)");
        assertThat(cfg(h)).containsEntry("shutdown_delay", "5").containsEntry("max_draining", 2)
                .containsEntry("drain_timeout", "60").containsEntry("ready_failures", 5);
        assertThat(h.sup.config().drain()).isEqualTo(new DrainConfig(Duration.ofSeconds(5), 2, Duration.ofSeconds(60)));
        assertThat(config(h, "max_draining=unlimited").message()).endsWith("max_draining=unlimited (was 2)");
        config(h, "max_draining=3");
        assertThat(config(h, "max_draining=None").message()).endsWith("max_draining=unlimited (was 3)");
        config(h, "max_draining=3");
        assertThat(config(h, "{max_draining: ~, shutdown_delay: 0}").message())
                .isEqualTo("Successfully merged in config: max_draining=unlimited (was 3), shutdown_delay=off (was 5)");
        assertThat(cfg(h)).containsEntry("max_draining", null).containsEntry("shutdown_delay", null);
        FakeOs.Reply bad = config(h, "max_draining=-1", "ready_failures=0", "drain_timeout=x");
        assertThat(bad.ok()).isFalse();
        assertThat(bad.message()).startsWith("Config not changed: max_draining needs a whole number in 0..100000 "
                + "(0 = unlimited), got '-1'; ready_failures needs a whole number in 1..100000, got '0'; drain_timeout "
                + "needs a number of seconds (0 = off), got 'x'.");
        assertThat(Settings.known()).contains("ready_failures (1..100000)", "shutdown_delay (seconds, 0 = off)",
                "max_draining (0..100000, 0 = unlimited)", "drain_timeout (seconds, 0 = off)");
    }

    @Test
    void einhornsYamlHashJoinedFromTheWords() {
        Harness h = Harness.timer(1);
        // einhornsh splits "config {seconds: 2, max_unacked: 4}" on white space; config joins with " "
        FakeOs.Reply r = config(h, "{seconds:", "2,", "max_unacked:", "4}");
        assertThat(r.ok()).isTrue();
        assertThat(r.message()).isEqualTo("Successfully merged in config: seconds=2 (was 1), max_unacked=4 (unchanged)");
        assertThat(cfg(h)).containsEntry("seconds", "2").containsEntry("max_unacked", 4);
    }

    @Test
    void rubySymbolKeysAndDashes() {
        Harness h = Harness.timer(1);
        // Ruby's YAML.dump({seconds: 3, signal_timeout: 0.5}), plus dashed and capitalised spellings
        assertThat(config(h, "---\n:seconds: 3\n:signal_timeout: 0.5\n").ok()).isTrue();
        assertThat(config(h, "max-unacked=6", ":Upgrade-Timeout=0").ok()).isTrue();
        assertThat(cfg(h)).containsEntry("seconds", "3").containsEntry("signal_timeout", "0.5")
                .containsEntry("max_unacked", 6).containsEntry("upgrade_timeout", null);
    }

    @Test
    void offAndUnlimited() {
        Harness h = Harness.timer(1);
        assertThat(config(h, "max_upgrade_additional=0").message()).endsWith("max_upgrade_additional=1 (was unlimited)");
        assertThat(config(h, "max_upgrade_additional=none").message()).endsWith("max_upgrade_additional=unlimited (was 1)");
        config(h, "max_upgrade_additional=5");
        assertThat(config(h, "max_upgrade_additional=-1").ok()).isTrue();
        assertThat(cfg(h)).containsEntry("max_upgrade_additional", null);
        config(h, "signal_timeout=3", "ack_timeout=4");
        // state shows "off" as null; a YAML null turns it off again
        assertThat(config(h, "{signal_timeout: ~, ack_timeout: 0, max_upgrade_additional: unlimited}").message())
                .isEqualTo("Successfully merged in config: signal_timeout=off (was 3), ack_timeout=off (was 4), "
                        + "max_upgrade_additional=unlimited (unchanged)");
        assertThat(cfg(h)).containsEntry("signal_timeout", null).containsEntry("ack_timeout", null);
        assertThat(config(h, "{}").message()).isEqualTo("Successfully merged in config: nothing");
    }

    @Test
    void anyBadKeyOrValueChangesNothingAndListsTheKeys() {
        Harness h = Harness.timer(1);
        Config before = h.sup.config();
        FakeOs.Reply r = config(h, "seconds=2", "bogus=1", "max_unacked=0", "verbosity=3", "signal_timeout=-1");
        assertThat(r.ok()).isFalse();
        assertThat(r.message()).startsWith("Config not changed: unknown setting \"bogus\"; "
                + "max_unacked needs a whole number in 1..100000, got '0'; "
                + "verbosity needs a whole number in 0..2, got '3'; "
                + "signal_timeout needs a number of seconds (0 = off), got '-1'.\nKnown settings: verbosity (")
                .contains("seconds (seconds > 0)", "signal_timeout (seconds, 0 = off)", "ack_timeout", "max_unacked (1..100000)",
                        "max_upgrade_additional (0..100000 or unlimited)", "upgrade_timeout", "upgrade_max_failures");
        assertThat(h.sup.config()).isEqualTo(before);
        assertThat(cfg(h)).containsEntry("seconds", "1");
        assertThat(h.os.logs).noneMatch(l -> l.contains("merged"));
    }

    @Test
    void theSameRulesAndWordsAsTheCommandLine() {
        Harness h = Harness.timer(1);
        assertThat(config(h, "seconds=0").message()).startsWith("Config not changed: seconds needs a number of seconds > 0, got '0'.");
        assertThat(config(h, "seconds=1e3").message()).contains("seconds needs a number of seconds > 0, got '1e3'");
        assertThat(config(h, "{seconds: ~}").message()).contains("seconds needs a number of seconds > 0, got null");
        assertThat(config(h, "{seconds: [1, 2]}").message()).contains("seconds needs a number of seconds > 0, got '[1,2]'");
        assertThat(config(h, "upgrade_max_failures=x").message()).contains("upgrade_max_failures needs a whole number in 1..100000, got 'x'");
        assertThat(config(h, "max_upgrade_additional=-2").message())
                .contains("max_upgrade_additional needs a whole number in 0..100000 (0 counts as 1) or unlimited, got '-2'");
        assertThat(h.os.replies).noneMatch(FakeOs.Reply::ok);
    }

    @Test
    void fixedSettingsDuplicatesAndMalformedArguments() {
        Harness h = Harness.timer(1);
        assertThat(config(h, "number=3").message()).startsWith("Config not changed: number is changed with set_workers N");
        assertThat(config(h, "ack_mode=manual").message()).startsWith("Config not changed: ack_mode cannot be changed at run time");
        assertThat(config(h, "seconds=2", ":seconds=3").message()).startsWith("Config not changed: seconds is given more than once");
        assertThat(config(h, "{seconds: 2, seconds: 3}").message()).startsWith("Config not changed: seconds is given more than once");
        assertThat(config(h, "seconds").message()).startsWith("Config not changed: Parsed argument is a String, not a hash");
        assertThat(config(h, "[1,", "2]").message()).startsWith("Config not changed: Parsed argument is a Array, not a hash");
        assertThat(config(h, "{seconds: [").message()).startsWith("Config not changed: Could not parse argument. Must be a YAML-encoded hash");
        assertThat(config(h, "--- !ruby/object:Foo\na: 1").message()).contains("typed YAML");
        assertThat(config(h, "{seconds: !!float 2}").message()).contains("typed YAML");
        assertThat(config(h, "{a: 1}\n---\n{b: 2}").message()).contains("Must be a single YAML-encoded hash");
        assertThat(config(h).message()).startsWith("Config not changed: Must pass in a YAML-encoded hash or KEY=VALUE arguments");
        assertThat(config(h, " ").message()).startsWith("Config not changed: Must pass in a YAML-encoded hash");
        assertThat(config(h, "#", "nothing").message()).startsWith("Config not changed: Must pass in a YAML-encoded hash");
        assertThat(h.last(h.cmd("config", null))).isEqualTo("No args provided");
        assertThat(h.last(h.cmd("config", "seconds=2"))).isEqualTo("Args must be an array");
        assertThat(h.last(h.cmd("config", Arrays.asList("seconds=2", 3)))).startsWith("Argument is a Integer, not a string");
        assertThat(h.os.replies).noneMatch(FakeOs.Reply::ok);
        assertThat(cfg(h)).containsEntry("seconds", "1");
    }

    @Test
    void helpAndUnknownCommandListConfig() {
        Harness h = Harness.timer(1);
        assertThat(h.last(h.cmd("help", null))).contains("\nconfig: Merge in a new set of config options")
                .contains("upgrade_max_failures (1..100000)");
    }

    // ------------------------------------------------------------------ effects

    @Test
    void secondsRulesTheNextRespawn() {
        Harness h = Harness.timer(1);
        h.advance(S1);
        config(h, "seconds=5");
        h.exit(100); // 1 s after the last spawn; the interval counts from there
        h.advance(Duration.ofSeconds(3));
        assertThat(h.os.spawns).hasSize(1);
        h.advance(S1);
        assertThat(h.os.spawns).hasSize(2);
    }

    @Test
    void verbosityActsLikeQuieterAndLouder() {
        Harness h = Harness.timer(1);
        config(h, "verbosity=2");
        assertThat(h.sup.verbosity()).isEqualTo(2);
        int logged = h.os.logs.size();
        h.cmd("inc", null); // an INFO line
        assertThat(h.os.logs).hasSize(logged);
        assertThat(h.last(h.cmd("louder", null))).isEqualTo("Verbosity set to 1");
        assertThat(cfg(h)).containsEntry("verbosity", 1);
        config(h, "verbosity=0");
        h.cmd("ehlo", null);
        assertThat(h.os.logs.getLast()).isEqualTo("DEBUG Received command: ehlo");
    }

    @Test
    void signalTimeoutAppliesToWorkersAlreadySignalledFromTheirSignal() {
        Harness h = Harness.timer(2);
        h.advance(S1);
        h.cmd("dec", null); // one worker is signalled; no signal timeout yet
        int signalled = h.os.signalled("USR2").getFirst();
        h.advance(Duration.ofSeconds(10));
        assertThat(h.os.signalled("KILL")).isEmpty();
        config(h, "signal_timeout=30");
        h.advance(Duration.ofSeconds(19));
        assertThat(h.os.signalled("KILL")).isEmpty();
        h.advance(S1); // 30 s after its USR2
        assertThat(h.os.signalled("KILL")).containsExactly(signalled);
        assertThat(h.os.logs).anyMatch(l -> l.contains("is still alive 30s after USR2; sending SIGKILL"));
    }

    @Test
    void ackTimeoutAppliesToUnackedWorkersFromTheirSpawn() {
        Harness h = manual(1);
        h.advance(Duration.ofSeconds(10));
        config(h, "ack_timeout=5"); // already 10 s old: failed at once
        assertThat(h.os.signalled("USR2")).containsExactly(100);
        assertThat(h.os.logs).anyMatch(l -> l.contains("has not acked within 5s"));
    }

    @Test
    void maxUnackedAndMaxUpgradeAdditionalRuleTheNextUpgrade() {
        Harness h = manual(4);
        for (int pid : h.pids()) h.ack(pid);
        config(h, "max_unacked=1", "max_upgrade_additional=0"); // 0 counts as 1
        h.cmd("upgrade", null);
        assertThat(h.os.spawns).hasSize(5);
        config(h, "max_unacked=3", "max_upgrade_additional=none");
        assertThat(h.os.spawns).hasSize(7);
    }

    @Test
    void upgradeTimeoutCountsFromTheRunningUpgradesStart() {
        Harness h = manual(1);
        h.ack(100);
        Object c = h.cmd("upgrade", null);
        h.advance(Duration.ofSeconds(30));
        config(h, "upgrade_timeout=0");
        h.advance(Duration.ofSeconds(200));
        assertThat(h.sup.state().get("upgrading")).isNotNull();
        config(h, "upgrade_timeout=240");
        h.advance(Duration.ofSeconds(9));
        assertThat(h.sup.state().get("upgrading")).isNotNull();
        h.advance(S1);
        assertThat(h.last(c)).contains("not fully acked after 240s");
        assertThat(h.os.repliesTo(c).getLast().ok()).isFalse();
    }

    @Test
    void loweringUpgradeMaxFailuresBelowTheStreakAbortsTheUpgrade() {
        Harness h = manual(1);
        h.ack(100);
        Object c = h.cmd("upgrade", null);
        h.exit(101);
        h.exit(102);
        assertThat(h.sup.state().get("upgrading")).isNotNull();
        config(h, "upgrade_max_failures=2");
        assertThat(h.sup.state().get("upgrading")).isNull();
        assertThat(h.last(c)).contains("2 consecutive new workers failed before acking");
    }

    @Test
    void bothFormsGiveTheSameConfig() {
        Harness a = Harness.timer(1);
        Harness b = Harness.timer(1);
        config(a, "seconds=2", "max_unacked=3");
        config(b, "{seconds: 2, max_unacked: 3}");
        assertThat(a.sup.config()).isEqualTo(b.sup.config());
    }
}
