package dev.einhyrningsins.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code --config FILE}: a command line in a file, split like a shell without expansion. */
class ConfFileTest {
    @TempDir
    Path dir;

    static List<String> split(String text) {
        return ConfFile.split(text, "f");
    }

    static void refused(String expected, String text) {
        assertThatThrownBy(() -> split(text)).isInstanceOf(UsageException.class).hasMessage(expected);
    }

    Path conf(String text) throws IOException {
        return Files.writeString(dir.resolve("web.conf"), text);
    }

    static Options run(String... args) {
        return ((CommandLine.Parsed.Run) CommandLine.parse(List.of(args))).options();
    }

    static void usage(String expected, String... args) {
        assertThatThrownBy(() -> CommandLine.parse(List.of(args))).isInstanceOf(UsageException.class).hasMessage(expected);
    }

    @Test
    void wordsAreSplitAsAShellSplitsThemWithoutExpansion() {
        assertThat(split("  -n 4\t-m manual\n\n-b 0.0.0.0:8080,r  ")).containsExactly("-n", "4", "-m", "manual", "-b", "0.0.0.0:8080,r");
        assertThat(split("--ready-check 'curl -fsS http://$EINHORN_FD_0/health'"))
                .containsExactly("--ready-check", "curl -fsS http://$EINHORN_FD_0/health");
        assertThat(split("--live-check=\"test -e \\\"$HOME\\\"/ok \\\\ \\x\"")).containsExactly("--live-check=test -e \"$HOME\"/ok \\ \\x");
        assertThat(split("a\\ b c\\\\d 'it'\\''s' \"\"")).containsExactly("a b", "c\\d", "it's", "");
        assertThat(split("-- python3 /srv/app.py --port 80")).containsExactly("--", "python3", "/srv/app.py", "--port", "80");
    }

    @Test
    void commentsAndContinuedLines() {
        assertThat(split("# the web instance\n-n 4 # four workers\n-b a#b:1 \\\n  -- app '#not' \"#not\"\n"))
                .containsExactly("-n", "4", "-b", "a#b:1", "--", "app", "#not", "#not");
        assertThat(split("-n \"1\\\n2\"")).containsExactly("-n", "12");
        assertThat(split("'two\nlines'")).containsExactly("two\nlines");
        assertThat(split("")).isEmpty();
        assertThat(split("# nothing but a comment")).isEmpty();
    }

    @Test
    void anUnfinishedQuoteOrEscapeNamesItsLine() {
        refused("f:2: unterminated ' quote", "-n 4\n--ready-check 'curl\n");
        refused("f:1: unterminated \" quote", "--live-check \"a\nb\nc");
        refused("f:3: unterminated ' quote", "'a\nb' \"c\nd\" '");
        refused("f:1: a backslash ends the file", "app \\");
    }

    @Test
    void theFileGivesOptionsAndProgram() throws IOException {
        Path f = conf("""
                # /etc/einhyrningsins/web.conf
                -n 4 -m manual
                -b 127.0.0.1:8080,r --ready-check 'curl -fsS http://$EINHORN_FD_0/'
                -- /usr/bin/python3 /srv/web/app.py --workers=1
                """);
        Options o = run("-d", "/run/einhyrningsins/web.sock", "--config", f.toString());
        assertThat(o.number()).isEqualTo(4);
        assertThat(o.binds()).extracting(BindSpec::text).containsExactly("127.0.0.1:8080,r");
        assertThat(o.health().readyCheck()).isEqualTo("curl -fsS http://$EINHORN_FD_0/");
        assertThat(o.program()).containsExactly("/usr/bin/python3", "/srv/web/app.py", "--workers=1");
        assertThat(o.socketPath()).contains(Path.of("/run/einhyrningsins/web.sock"));
    }

    @Test
    void optionsAfterConfigOverrideItAndAProgramMayComeFromEither() throws IOException {
        Path f = conf("-n 4 -d /tmp/from-file.sock\n");
        Options o = run("-n", "1", "--config=" + f, "-d", "/run/x.sock", "--", "app", "arg");
        assertThat(o.number()).as("the file after -n 1").isEqualTo(4);
        assertThat(o.socketPath()).as("-d after the file").contains(Path.of("/run/x.sock"));
        assertThat(o.program()).containsExactly("app", "arg");
        assertThat(run("--config", conf("-n 2 app").toString()).program()).containsExactly("app");
    }

    @Test
    void mistakesNameTheFile() throws IOException, InterruptedException {
        Path f = conf("-n 4 -- app");
        usage("PROGRAM given twice: in --config " + f + " and on the command line", "--config", f.toString(), "other");
        usage("--config given twice", "--config", f.toString(), "--config", f.toString());
        usage("in --config " + conf("-n 4 --bogus app") + ": unknown option --bogus", "--config", f.toString());
        usage("in --config " + conf("-x") + ": unknown option -x", "--config", f.toString());
        usage("in --config " + conf("-n 0 app") + ": --number needs a whole number in 1..10000, got '0'", "--config", f.toString());
        usage("in --config " + conf("-b") + ": option -b needs an argument ADDR:PORT[,OPT...]", "--config", f.toString());
        usage("in --config " + conf("--config other.conf") + ": --config cannot be used in a config file", "--config", f.toString());
        usage("no PROGRAM given: einhyrningsins [OPTIONS] -- PROGRAM [ARGS...]", "--config", conf("-n 2").toString());
        usage("--config " + dir.resolve("none.conf") + ": no such file", "--config", dir.resolve("none.conf").toString());
        usage("--config " + dir + ": is a directory", "--config", dir.toString());
        usage("--config needs a non-empty value", "--config=", "app");
        usage("--config " + f + ":1: unterminated ' quote", "--config", conf("'app").toString());
        Files.write(f, new byte[] {'a', (byte) 0xff});
        usage("--config " + f + ": not UTF-8 text", "--config", f.toString());
        Files.write(f, new byte[ConfFile.MAX_BYTES + 1]);
        usage("--config " + f + ": larger than 1 MiB; it holds a command line", "--config", f.toString());
        // /dev/zero says its size is 0 and never ends; a FIFO without a writer blocks whoever opens it
        usage("--config /dev/zero: not a regular file", "--config", "/dev/zero");
        Path fifo = dir.resolve("fifo");
        assertThat(new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor()).isZero();
        usage("--config " + fifo + ": not a regular file", "--config", fifo.toString());
    }

    @Test
    void helpAndVersionInTheFileEndParsingAsOnTheCommandLine() throws IOException {
        assertThat(CommandLine.parse(List.of("--config", conf("--version").toString()))).isInstanceOf(CommandLine.Parsed.Version.class);
    }
}
