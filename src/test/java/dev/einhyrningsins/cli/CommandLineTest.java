package dev.einhyrningsins.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.einhyrningsins.supervisor.Config;
import dev.einhyrningsins.supervisor.HealthConfig;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class CommandLineTest {

    static Options run(String... args) {
        return ((CommandLine.Parsed.Run) CommandLine.parse(List.of(args))).options();
    }

    static void usage(String expected, String... args) {
        assertThatThrownBy(() -> CommandLine.parse(List.of(args)))
                .isInstanceOf(UsageException.class).hasMessageContaining(expected);
    }

    @Test
    void defaultsAreEinhorns() {
        Options o = run("--", "app");
        assertThat(o.number()).isEqualTo(1);
        assertThat(o.backlog()).isEqualTo(128);
        assertThat(o.seconds()).isEqualTo(Duration.ofSeconds(1));
        assertThat(o.ackMode()).isEqualTo(new Config.AckMode.Timer(Duration.ofSeconds(1)));
        assertThat(o.gracefulSignal()).isEqualTo("USR2");
        assertThat(o.upgradeTimeout()).isEqualTo(Duration.ofSeconds(120));
        assertThat(o.program()).containsExactly("app");
        assertThat(o.killChildrenOnExit()).isFalse();
    }

    @Test
    void killChildrenOnExitIsEinhornsDashK() {
        assertThat(run("-k", "app").killChildrenOnExit()).isTrue();
        assertThat(run("--kill-children-on-exit", "app").killChildrenOnExit()).isTrue();
        assertThat(run("-kn2", "app").number()).isEqualTo(2);
        usage("takes no argument", "--kill-children-on-exit=yes", "app");
    }

    @Test
    void healthOptionsReachTheCoresConfig() {
        assertThat(run("p").health()).isEqualTo(HealthConfig.DEFAULTS);
        Options o = run("--ready-check", "curl -f http://$EINHORN_FD_0/ready", "--live-check=test -e /tmp/ok",
                "--live-failures", "5", "--check-interval", "0.5", "--check-timeout", "2", "--ping-timeout", "10",
                "--max-worker-rss", "512", "--max-worker-age", "86400", "p");
        assertThat(o.health()).isEqualTo(new HealthConfig("curl -f http://$EINHORN_FD_0/ready", "test -e /tmp/ok",
                Duration.ofMillis(500), Duration.ofSeconds(2), 5, 3, Duration.ofSeconds(10), 512, Duration.ofDays(1)));
        assertThat(o.toConfig(2).health()).isEqualTo(o.health());
    }

    @Test
    void badHealthOptionsAreUsageErrors() {
        usage("--ready-check needs a shell command, got ''", "--ready-check", "", "p");
        usage("--live-check needs a shell command, got ' '", "--live-check", " ", "p");
        usage("--live-failures needs a whole number in 1..100000, got '0'", "--live-failures", "0", "p");
        usage("--check-interval needs a number of seconds > 0, got '0'", "--check-interval", "0", "p");
        usage("--check-timeout needs a number of seconds > 0, got 'x'", "--check-timeout", "x", "p");
        usage("--ping-timeout needs a number of seconds (0 = off), got '-1'", "--ping-timeout", "-1", "p");
        usage("--max-worker-rss needs a whole number in 0..1048576, got '1.5'", "--max-worker-rss", "1.5", "p");
        usage("--max-worker-age needs a number of seconds (0 = off), got 'old'", "--max-worker-age", "old", "p");
        usage("option --ready-check needs an argument CMD", "--ready-check");
    }

    @Test
    void parsingStopsAtTheFirstNonOptionWord() {
        Options o = run("-n", "3", "python3", "-n", "7", "--", "x");
        assertThat(o.number()).isEqualTo(3);
        assertThat(o.program()).containsExactly("python3", "-n", "7", "--", "x");
    }

    @Test
    void attachedAndEqualsValuesAndBundledFlags() {
        Options o = run("-n4", "--backlog=64", "-vg", "--drop-env-var", "A", "--drop-env-var=B", "prog");
        assertThat(o.number()).isEqualTo(4);
        assertThat(o.backlog()).isEqualTo(64);
        assertThat(o.verbosity()).isZero();
        assertThat(o.commandSocketAsFd()).isTrue();
        assertThat(o.dropEnv()).containsExactly("A", "B");
    }

    @Test
    void bindsKeepTheirOrderAndOptions() {
        Options o = run("-b", "127.0.0.1:8080,r,n", "-b", "[::1]:0,so_reuseport", "-b", "localhost:9000",
                "-b", "unix:/tmp/x.sock", "p");
        assertThat(o.binds()).extracting(BindSpec::host).containsExactly("127.0.0.1", "::1", "localhost", null);
        assertThat(o.binds().get(0).reuseAddr()).isTrue();
        assertThat(o.binds().get(0).nonBlocking()).isTrue();
        assertThat(o.binds().get(1).reusePort()).isTrue();
        assertThat(o.binds().get(1).port()).isZero();
        assertThat(o.binds().get(3).unixPath()).isEqualTo(Path.of("/tmp/x.sock"));
    }

    @Test
    void oneListenerAtMostCanBeTheWorkersStandardInput() {
        Options o = run("-b", "127.0.0.1:8080", "-b", "unix:/tmp/j.sock,STDIN,mode=0600", "p");
        assertThat(o.binds()).extracting(BindSpec::stdin).containsExactly(false, true);
        assertThat(run("-b", "[::1]:0,r,stdin", "p").binds().getFirst().stdin()).isTrue();
        usage("-b 127.0.0.1:1,stdin and -b unix:/a,stdin both say stdin: a worker has one standard input, give it to one socket",
                "-b", "127.0.0.1:1,stdin", "-b", "unix:/a,stdin", "p");
        usage("name=NAME, stdin, and for unix", "-b", "127.0.0.1:1,stdin=1", "p");
    }

    @Test
    void unixListenersTakeAModeAGroupAndAnOwnerByNameOrNumber() {
        Options o = run("-b", "unix:/run/app.sock,mode=0660,group=www-data,owner=1000", "-b", "unix:/x.sock,n,MODE=600",
                "-b", "unix:/y.sock", "p");
        assertThat(o.binds().get(0).access()).isEqualTo(new BindSpec.Access(0660, "www-data", "1000"));
        assertThat(o.binds().get(1).access()).isEqualTo(new BindSpec.Access(0600, null, null));
        assertThat(o.binds().get(1).nonBlocking()).isTrue();
        assertThat(o.binds().get(2).access()).as("none given: the umask decides").isNull();
        usage("mode= takes octal permission bits such as 0660, not '0968'", "-b", "unix:/a,mode=0968", "p");
        usage("mode= takes octal permission bits such as 0660, not '1777'", "-b", "unix:/a,mode=1777", "p");
        usage("mode= takes octal", "-b", "unix:/a,mode=rw", "p");
        usage("group= takes a group name or gid, e.g. group=www-data", "-b", "unix:/a,group=", "p");
        usage("owner= takes a user name or uid", "-b", "unix:/a,owner=a b", "p");
        usage("mode=, group= and owner= apply to unix: and unixgram: sockets only", "-b", "127.0.0.1:80,mode=0660", "p");
        usage("unknown bind option 'user=x'", "-b", "unix:/a,user=x", "p");
    }

    @Test
    void metricsTakeAnAddressOrABarePortForLoopback() {
        assertThat(run("p").metrics()).isEmpty();
        BindSpec port = run("--metrics", "9100", "p").metrics().orElseThrow();
        assertThat(port.host()).isEqualTo("127.0.0.1");
        assertThat(port.port()).isEqualTo(9100);
        assertThat(port.text()).isEqualTo("127.0.0.1:9100");
        assertThat(run("--metrics=:9100", "p").metrics().orElseThrow().host()).as("every interface").isEmpty();
        assertThat(run("--metrics", "[::1]:0", "p").metrics().orElseThrow().host()).isEqualTo("::1");
        usage("--metrics unix:/m.sock: HTTP is served over TCP only", "--metrics", "unix:/m.sock", "p");
        usage("--metrics 9100,r: it takes no options", "--metrics", "9100,r", "p");
        usage("--metrics 70000: port must be a number in 0..65535 (e.g. 9100 for 127.0.0.1:9100, or 0.0.0.0:9100)",
                "--metrics", "70000", "p");
        usage("--metrics x: expected ADDR:PORT", "--metrics", "x", "p");
    }

    @Test
    void ackModes() {
        assertThat(run("-m", "manual", "p").ackMode()).isEqualTo(new Config.AckMode.Manual());
        assertThat(run("-m", "2.5", "p").ackMode()).isEqualTo(new Config.AckMode.Timer(Duration.ofMillis(2500)));
        assertThat(run("-m", "p").ackMode()).isEqualTo(new Config.AckMode.Manual());
        assertThat(run("-m", "p").program()).containsExactly("p");
        assertThat(run("--manual", "p").ackMode()).isEqualTo(new Config.AckMode.Manual());
        assertThat(run("--ack-mode=manual", "p").ackMode()).isEqualTo(new Config.AckMode.Manual());
    }

    @Test
    void aZeroTimerIsAccepted() {
        // einhorn accepts -m 0: a worker counts as acked as soon as it is spawned
        assertThat(run("-m", "0", "p").ackMode()).isEqualTo(new Config.AckMode.Timer(Duration.ZERO));
        assertThat(run("-m", "0", "p").program()).containsExactly("p");
        assertThat(run("--ack-mode=0", "p").ackMode()).isEqualTo(new Config.AckMode.Timer(Duration.ZERO));
        assertThat(run("-m0.0", "p").ackMode()).isEqualTo(new Config.AckMode.Timer(Duration.ZERO));
        usage("--ack-mode needs manual, notify or a number of seconds >= 0, got 'soon'", "--ack-mode=soon", "p");
    }

    @Test
    void numberLimitIsTheCoresWorkerLimit() {
        assertThat(run("-n", String.valueOf(Config.MAX_WORKERS), "p").number()).isEqualTo(Config.MAX_WORKERS);
        usage("--number needs a whole number in 1..10000, got '10001'", "-n", "10001", "p");
        assertThat(CommandLine.usage()).contains("1..10000");
    }

    @Test
    void defaultsComeFromTheCore() {
        Options o = run("p");
        Config d = Config.defaults(3);
        assertThat(o.toConfig(3)).isEqualTo(d);
    }

    @Test
    void maxUpgradeAdditionalTakesZeroAsOneAndSpellsUnlimited() {
        assertThat(run("--max-upgrade-additional", "0", "p").maxUpgradeAdditional()).isEqualTo(1);
        assertThat(run("--max-upgrade-additional", "5", "p").maxUpgradeAdditional()).isEqualTo(5);
        assertThat(run("--max-upgrade-additional", "-1", "p").maxUpgradeAdditional()).isEqualTo(-1);
        assertThat(run("--max-upgrade-additional=unlimited", "p").maxUpgradeAdditional()).isEqualTo(-1);
        usage("--max-upgrade-additional needs a whole number in 0..100000 (0 counts as 1) or unlimited, got '-2'",
                "--max-upgrade-additional", "-2", "p");
    }

    @Test
    void helpAndVersionWinOverEverythingElse() {
        assertThat(CommandLine.parse(List.of("-n", "2", "--help"))).isInstanceOf(CommandLine.Parsed.Help.class);
        assertThat(CommandLine.parse(List.of("--version"))).isInstanceOf(CommandLine.Parsed.Version.class);
    }

    @Test
    void mistakesAreOneLineUsageErrors() {
        usage("unknown option --frob", "--frob", "p");
        usage("unknown option -z", "-z", "p");
        usage("--number needs a whole number in 1..10000, got '0'", "-n", "0", "p");
        usage("--number needs a whole number in 1..10000, got '10001'", "-n", "10001", "p");
        usage("--number needs a whole number", "-n", "x", "p");
        usage("option -n needs an argument", "-n");
        usage("no PROGRAM given", "-n", "2");
        usage("unknown bind option 'rn'", "-b", "127.0.0.1:1,rn", "p");
        usage("put IPv6 addresses in brackets", "-b", "::1:80", "p");
        usage("port must be a number in 0..65535", "-b", "127.0.0.1:70000", "p");
        usage("expected ADDR:PORT", "-b", "8080", "p");
        usage("--graceful-signal needs a signal name such as TERM or USR2, got 'FOO'", "--graceful-signal", "FOO", "p");
        usage("--seconds needs a number of seconds > 0", "-s", "0", "p");
        usage("-p/--preload", "-p", "x.rb", "p");
        usage("--version takes no argument", "--version=2", "p");
    }

    @Test
    void usageNamesEveryOption() {
        String usage = CommandLine.usage();
        for (String label : CommandLine.optionLabels()) assertThat(usage).contains(label);
    }

    @Test
    void systemdStyleOptions() {
        Options o = run("-m", "notify", "--listen-fds", "-b", "127.0.0.1:0,name=web", "-b", "unix:/tmp/a.sock,n,name=admin", "p");
        assertThat(o.ackMode()).isEqualTo(new Config.AckMode.Notify());
        assertThat(o.listenFds()).isTrue();
        assertThat(o.binds()).extracting(BindSpec::name).containsExactly("web", "admin");
        assertThat(run("-m", "NOTIFY", "p").ackMode()).isEqualTo(new Config.AckMode.Notify());
        assertThat(run("p").listenFds()).isFalse();
        assertThat(run("-b", "127.0.0.1:0", "p").binds().getFirst().name()).isNull();
        usage("name=a:b must be 1 to 255 printable characters without ':' or blanks", "-b", "127.0.0.1:0,name=a:b", "p");
        usage("name= must be 1 to 255", "-b", "127.0.0.1:0,name=", "p");
    }

    @Test
    void theUpgradeAndTimeoutOptionsReachTheirSettings() {
        Options o = run("--ack-timeout", "5", "-t", "3", "--max-unacked", "2", "--upgrade-timeout=60",
                "--upgrade-max-failures", "4", "-s", "0.5", "--graceful-signal", "TERM", "p");
        assertThat(o.ackTimeout()).isEqualTo(Duration.ofSeconds(5));
        assertThat(o.signalTimeout()).isEqualTo(Duration.ofSeconds(3));
        assertThat(o.maxUnacked()).isEqualTo(2);
        assertThat(o.upgradeTimeout()).isEqualTo(Duration.ofSeconds(60));
        assertThat(o.upgradeMaxFailures()).isEqualTo(4);
        assertThat(o.seconds()).isEqualTo(Duration.ofMillis(500));
        assertThat(o.gracefulSignal()).isEqualTo("TERM");
        assertThat(o.toConfig(8).maxUnacked()).isEqualTo(2);
        assertThat(run("p").toConfig(8).maxUnacked()).as("not given: the number of CPUs").isEqualTo(8);
    }

    @Test
    void aBareAckModeIsManualWhateverItsSpelling() {
        assertThat(run("--ack-mode", "p").ackMode()).isEqualTo(new Config.AckMode.Manual());
        assertThat(run("--ack-mode", "p").program()).containsExactly("p");
        assertThat(run("--ack-mode", "3", "p").ackMode()).isEqualTo(new Config.AckMode.Timer(Duration.ofSeconds(3)));
        assertThat(run("-m", ".5", "p").ackMode()).isEqualTo(new Config.AckMode.Timer(Duration.ofMillis(500)));
        usage("no PROGRAM given", "-m");
        usage("no PROGRAM given", "--ack-mode");
    }

    @Test
    void shortHelpAndAnEmptyLongNameAreWhatTheySeem() {
        assertThat(CommandLine.parse(List.of("-vh", "p"))).isInstanceOf(CommandLine.Parsed.Help.class);
        assertThatThrownBy(() -> CommandLine.parse(List.of("--=5", "p"))).isInstanceOf(UsageException.class)
                .hasMessage("unknown option --");
    }

    @Test
    void helpTextFitsEightyColumnsWithEachHelpInAColumnOfItsOwn() {
        List<String> lines = CommandLine.usage().lines().toList();
        assertThat(lines).allSatisfy(l -> assertThat(l.length()).isLessThanOrEqualTo(80));
        String column = " ".repeat(30);
        for (CommandLine.Opt o : CommandLine.OPTIONS) {
            String label = "  " + o.label();
            int at = 0;
            while (!(lines.get(at) + " ").startsWith(label + " ")) at++;
            List<String> help = new java.util.ArrayList<>();
            if (label.length() > 28) {
                assertThat(lines.get(at)).as("a long label stands alone").isEqualTo(label);
            } else {
                assertThat(lines.get(at)).as("a short label shares its line").startsWith(String.format("%-30s", label));
                help.add(lines.get(at).substring(30));
            }
            for (int i = at + 1; i < lines.size() && lines.get(i).startsWith(column) && lines.get(i).charAt(30) != ' '; i++) {
                help.add(lines.get(i).substring(30));
            }
            assertThat(String.join(" ", help)).as(label).isEqualTo(o.help());
            for (int i = 0; i < help.size(); i++) {
                assertThat(help.get(i).length()).as("%s, line %d", label, i).isLessThanOrEqualTo(50);
                if (i + 1 < help.size()) {
                    String next = help.get(i + 1).split(" ")[0];
                    assertThat(help.get(i).length() + 1 + next.length()).as("%s: the next word would not fit", label)
                            .isGreaterThan(50);
                }
            }
        }
    }

    @Test
    void bindOptionsAtTheirLimits() {
        assertThat(run("-b", "127.0.0.1:65535", "p").binds().getFirst().port()).isEqualTo(65535);
        usage("port must be a number in 0..65535", "-b", "127.0.0.1:65536", "p");
        usage("port must be a number in 0..65535", "-b", "127.0.0.1:-1", "p");
        usage("port must be a number in 0..65535", "-b", "127.0.0.1:http", "p");
        assertThat(run("-b", "[::1]:65535", "p").binds().getFirst().host()).isEqualTo("::1");
        for (String bad : List.of("[::1]", "[::1]8080", "[::1", "[::1]:")) {
            usage(bad.endsWith(":") ? "port must be a number" : "expected [IPV6]:PORT", "-b", bad, "p");
        }
        assertThat(run("-b", "unix:/a.sock,mode=0777", "p").binds().getFirst().access()).isEqualTo(new BindSpec.Access(0777, null, null));
        assertThat(run("-b", "unix:/a.sock,mode=000", "p").binds().getFirst().access()).isEqualTo(new BindSpec.Access(0, null, null));
        assertThat(run("-b", "unix:/a.sock,owner=0", "p").binds().getFirst().access()).isEqualTo(new BindSpec.Access(-1, null, "0"));
        assertThat(run("-b", "unix:/a.sock", "p").binds().getFirst().isUnix()).isTrue();
        assertThat(run("-b", "127.0.0.1:1", "p").binds().getFirst().isUnix()).isFalse();
        usage("unknown bind option '=x'", "-b", "127.0.0.1:1,=x", "p");
        usage("unknown bind option 'name'", "-b", "127.0.0.1:1,name", "p");
    }

    @Test
    void aSocketsNameIsPrintableAsciiWithoutBlanksOrColonsUpTo255Characters() {
        String longest = "n".repeat(254) + "~";
        assertThat(run("-b", "127.0.0.1:0,name=" + longest, "p").binds().getFirst().name()).isEqualTo(longest);
        assertThat(run("-b", "127.0.0.1:0,name=!", "p").binds().getFirst().name()).isEqualTo("!");
        for (String bad : List.of(longest + "n", "a b", "a\u007f", "tab\there", "\u00e9")) {
            usage("must be 1 to 255 printable characters", "-b", "127.0.0.1:0,name=" + bad, "p");
        }
    }

    @Test
    void userAndGroupAreNamesOrNumbersAndTheGroupNeedsTheUser() {
        Options o = run("--user", "www-data", "--group=33", "p");
        assertThat(o.user()).contains("www-data");
        assertThat(o.group()).contains("33");
        assertThat(run("--user", "54321", "p").group()).isEmpty();
        assertThat(run("p").user()).isEmpty();
        usage("--group www-data needs --user: it is the group workers run with as that user", "--group", "www-data", "p");
        usage("--user takes a user name or a uid, e.g. --user www-data or --user 1000, not 'a b'", "--user", "a b", "p");
        usage("--user takes a user name or a uid", "--user", "", "p");
        usage("--group takes a group name or a gid, e.g. --group www-data or --group 33, not 'x:y'", "--user", "1",
                "--group", "x:y", "p");
    }
}
