package dev.einhyrningsins.shell;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.entry;

import dev.einhyrningsins.supervisor.Os;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** --env-file: systemd's EnvironmentFile= syntax, strictly; read again with what changed named by key. */
class EnvFileTest {
    @TempDir
    Path dir;

    static Map<String, String> parse(String text) throws EnvFile.Malformed {
        return EnvFile.parse(text, "--env-file f");
    }

    static void malformed(String text, String message) {
        assertThatThrownBy(() -> parse(text)).isInstanceOf(EnvFile.Malformed.class).hasMessage(message);
    }

    @Test
    void keyValueLinesCommentsAndBlanks() throws Exception {
        assertThat(parse("""
                # a comment
                ; another
                  A=1
                B = two words  \t
                \tC=  x  y
                EMPTY=

                D=last""")).containsExactly(entry("A", "1"), entry("B", "two words"), entry("C", "x  y"),
                entry("EMPTY", ""), entry("D", "last"));
        assertThat(parse("")).isEmpty();
        assertThat(parse("A=1\r\nB=2\r\n")).containsExactly(entry("A", "1"), entry("B", "2"));
    }

    @Test
    void quotesAndBackslashesAsSystemdReadsThem() throws Exception {
        assertThat(parse("A='single $HOME \\\\ \"kept\"'")).containsEntry("A", "single $HOME \\\\ \"kept\"");
        assertThat(parse("A=\"double \\\" \\\\ \\` \\$ \\n\"")).containsEntry("A", "double \" \\ ` $ \\n");
        assertThat(parse("A='two\nlines'\nB=2")).containsExactly(entry("A", "two\nlines"), entry("B", "2"));
        assertThat(parse("A=\"joined \\\nline\"\nB=2")).containsExactly(entry("A", "joined line"), entry("B", "2"));
        assertThat(parse("A=unquoted\\ kept \\\" \\\\ \"quotes\" 'too'")).containsEntry("A",
                "unquoted kept \" \\ \"quotes\" 'too'");
        assertThat(parse("A=continued\\\nline\nB=2")).containsExactly(entry("A", "continuedline"), entry("B", "2"));
        assertThat(parse("A=trailing\\ ")).as("an escaped blank is kept").containsEntry("A", "trailing ");
        assertThat(parse("A='x' \"y\"'z'")).as("quoted parts join up").containsEntry("A", "xyz");
        assertThat(parse("A='x'y\"z\"")).as("after unquoted text, quotes are kept").containsEntry("A", "xy\"z\"");
        assertThat(parse("A=\\x")).containsEntry("A", "x");
        assertThat(parse("A=end\\")).as("a backslash ending the file").containsEntry("A", "end");
        assertThat(parse("A=1\nA=2")).containsExactly(entry("A", "2"));
        assertThat(parse("A=#not a comment")).containsEntry("A", "#not a comment");
        assertThat(parse("A='x'   \nB=\"y\"\t")).containsExactly(entry("A", "x"), entry("B", "y"));
    }

    @Test
    void whatSystemdWouldSkipIsAnErrorNamingTheLine() {
        malformed("A=1\nnot an assignment\nB=2", "--env-file f line 2: \"not an assignment\" is not KEY=VALUE (nor a comment: "
                + "those start with # or ;)");
        malformed("A=1\n\nexport B=2", "--env-file f line 3: \"export B\" is not a variable name (systemd's syntax has no export)");
        malformed("1A=x", "--env-file f line 1: \"1A\" is not a variable name");
        malformed("=x", "--env-file f line 1: \"\" is not a variable name");
        malformed("A-B=x", "--env-file f line 1: \"A-B\" is not a variable name");
        malformed("A=1\nB='open\nC=3\n", "--env-file f line 2: the ' opened here is not closed");
        malformed("A=\"open", "--env-file f line 1: the \" opened here is not closed");
        malformed("A=1\nB=a\0b", "--env-file f line 2: a NUL byte");
        malformed("A=1\nTRAILING", "--env-file f line 2: \"TRAILING\" is not KEY=VALUE (nor a comment: those start with # or ;)");
        malformed("A='x\ny'\nB=\"\n\"\nbad", "--env-file f line 5: \"bad\" is not KEY=VALUE (nor a comment: those start with # "
                + "or ;)");
        malformed("A=x\\\ny\nbad", "--env-file f line 3: \"bad\" is not KEY=VALUE (nor a comment: those start with # or ;)");
    }

    @Test
    void theFileItselfMissingUnreadableOrTooLargeIsNamed() throws Exception {
        Path missing = dir.resolve("missing.env");
        assertThatThrownBy(() -> EnvFile.read(missing)).hasMessage("--env-file " + missing + ": no such file");
        assertThatThrownBy(() -> EnvFile.read(dir)).hasMessage("--env-file " + dir + ": is a directory");
        Path binary = Files.write(dir.resolve("binary.env"), new byte[] {'A', '=', (byte) 0xff});
        assertThatThrownBy(() -> EnvFile.read(binary)).hasMessage("--env-file " + binary + ": not UTF-8 text");
        Path big = Files.write(dir.resolve("big.env"), new byte[EnvFile.MAX_BYTES + 1]);
        assertThatThrownBy(() -> EnvFile.read(big)).hasMessage("--env-file " + big + ": larger than 1 MiB");
        assertThatThrownBy(() -> EnvFile.open(missing)).isInstanceOf(StartupException.class)
                .hasMessage("--env-file " + missing + ": no such file");
        Path exactly = Files.write(dir.resolve("exactly.env"), ("A=" + "x".repeat(EnvFile.MAX_BYTES - 3) + "\n")
                .getBytes(StandardCharsets.UTF_8));
        assertThat(EnvFile.read(exactly).get("A")).hasSize(EnvFile.MAX_BYTES - 3);
    }

    @Test
    void aFileWithoutAnEndOrThatWouldBlockIsRefusedWithoutReadingIt() throws Exception {
        // /dev/zero says its size is 0 and never ends; a FIFO without a writer blocks whoever opens it
        assertThatThrownBy(() -> EnvFile.read(Path.of("/dev/zero"))).hasMessage("--env-file /dev/zero: not a regular file");
        Path fifo = dir.resolve("fifo.env");
        assertThat(new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor()).isZero();
        assertThatThrownBy(() -> EnvFile.read(fifo)).hasMessage("--env-file " + fifo + ": not a regular file");
        Path link = Files.createSymbolicLink(dir.resolve("link.env"), Files.writeString(dir.resolve("real.env"), "K=v\n"));
        assertThat(EnvFile.read(link)).as("a link to a file, as Kubernetes mounts secrets").containsEntry("K", "v");
    }

    @Test
    void readAgainTheValuesChangeOnlyWhenTheFileCanBeUsedAndTheChangesAreNamedByKey() throws IOException {
        Path f = Files.writeString(dir.resolve("app.env"), "API_KEY=one\nDEBUG=1\nOLD=x\n");
        EnvFile env = EnvFile.open(f);
        assertThat(env.path()).isEqualTo(f);
        assertThat(env.values()).containsExactly(entry("API_KEY", "one"), entry("DEBUG", "1"), entry("OLD", "x"));
        assertThat(env.reread()).isSameAs(Os.EnvironmentRead.UNCHANGED);

        Files.writeString(f, "# edited\nDEBUG=1\nAPI_KEY=two\nNEW=y\nALSO=z\n");
        Os.EnvironmentRead changed = env.reread();
        assertThat(changed).isEqualTo(new Os.EnvironmentRead(true, null, "API_KEY changed; ALSO, NEW added; OLD removed"));
        assertThat(changed.changes()).doesNotContain("two");
        assertThat(env.values()).containsExactly(entry("DEBUG", "1"), entry("API_KEY", "two"), entry("NEW", "y"),
                entry("ALSO", "z"));

        Files.writeString(f, "DEBUG=1\nAPI_KEY='three\n", StandardCharsets.UTF_8);
        Os.EnvironmentRead broken = env.reread();
        assertThat(broken).isEqualTo(new Os.EnvironmentRead(false, "--env-file " + f
                + " line 2: the ' opened here is not closed", ""));
        assertThat(env.values()).as("nothing changes").containsEntry("API_KEY", "two");

        assertThat(EnvFile.none().reread()).isSameAs(Os.EnvironmentRead.UNCHANGED);
        assertThat(EnvFile.none().values()).isEmpty();
        assertThat(EnvFile.none().path()).isNull();
        assertThat(EnvFile.adopt(f, Map.of("A", "1")).values()).containsExactly(entry("A", "1"));
        assertThat(EnvFile.changes(Map.of("A", "1"), Map.of("A", "1"))).isEmpty();
    }
}
