package dev.einhyrningsins.docs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.einhyrningsins.cli.CommandLine;
import dev.einhyrningsins.control.Ctl;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The man pages in man/ against the program: every option --help prints is documented in
 * the OPTIONS section and every option documented there exists, for einhyrningsins(1) and
 * einhyrningsinsctl(1); every control command is documented; mandoc -T lint is clean.
 */
class ManPageTest {
    static final Path MAN = Path.of("man");
    static final Path SUPERVISOR_PAGE = MAN.resolve("einhyrningsins.1");
    static final Path CTL_PAGE = MAN.resolve("einhyrningsinsctl.1");

    @Test
    void everySupervisorOptionIsDocumentedAndViceVersa() throws IOException {
        List<String> help = CommandLine.optionLabels();
        assertThat(help).allSatisfy(label -> assertThat(CommandLine.usage()).contains(label));

        List<String> documented = tags(section(SUPERVISOR_PAGE, "OPTIONS"));

        assertThat(documented).as("OPTIONS of %s, compared with --help", SUPERVISOR_PAGE)
                .doesNotHaveDuplicates()
                .containsExactlyInAnyOrderElementsOf(help);
    }

    @Test
    void everyCtlOptionIsDocumentedAndViceVersa() throws IOException {
        List<String> help = helpLabels(ctlHelp());
        assertThat(help).as("options parsed from ctl --help").contains("--json").hasSizeGreaterThan(3);

        List<String> documented = tags(section(CTL_PAGE, "OPTIONS"));

        assertThat(documented).as("OPTIONS of %s, compared with ctl --help", CTL_PAGE)
                .doesNotHaveDuplicates()
                .containsExactlyInAnyOrderElementsOf(help);
    }

    @Test
    void everyControlCommandIsDocumented() throws IOException {
        Matcher m = Pattern.compile("(?s)Commands:(.*?)\\(").matcher(ctlHelp());
        assertThat(m.find()).as("ctl --help lists the commands").isTrue();
        List<String> commands = Arrays.asList(m.group(1).trim().split("\\s+"));
        assertThat(commands).contains("state", "upgrade", "worker:ack");

        Set<String> documented = new LinkedHashSet<>();
        for (String tag : tags(section(SUPERVISOR_PAGE, "CONTROL COMMANDS"))) {
            for (String item : tag.split(",")) documented.add(item.trim().split("\\s+")[0]);
        }

        assertThat(documented).as("CONTROL COMMANDS of %s", SUPERVISOR_PAGE).containsAll(commands);
    }

    @Test
    void mandocLintIsClean() throws Exception {
        assumeTrue(onPath("mandoc"), "mandoc is not installed (apt-get install mandoc); lint not checked");
        for (Path page : List.of(SUPERVISOR_PAGE, CTL_PAGE)) {
            Process p = new ProcessBuilder("mandoc", "-T", "lint", "-W", "style", page.toString())
                    .redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
            assertThat(out).as("mandoc -T lint %s", page).isEmpty();
            assertThat(p.exitValue()).as("mandoc -T lint %s exit status", page).isZero();
        }
    }

    // ------------------------------------------------------------------ helpers

    private static String ctlHelp() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = Ctl.run(new String[] {"--help"}, new ByteArrayInputStream(new byte[0]),
                new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        assertThat(status).as("ctl --help exit status; stderr: %s", err).isZero();
        return out.toString(StandardCharsets.UTF_8);
    }

    private static final Pattern ARG = Pattern.compile("[A-Z][A-Z0-9_:\\[\\],.]*");

    /**
     * Option labels ("-d, --socket-path PATH", "--json") from the Options: block of a help
     * text: the words starting with '-' and, after them, one all-capitals argument name.
     */
    static List<String> helpLabels(String help) {
        List<String> labels = new ArrayList<>();
        boolean inOptions = false;
        for (String line : help.split("\n")) {
            if (line.startsWith("Options:")) {
                inOptions = true;
                continue;
            }
            if (!inOptions) continue;
            if (line.isBlank() || !line.startsWith(" ")) {
                if (!labels.isEmpty()) break;
                continue;
            }
            String[] words = line.trim().split("\\s+");
            if (!words[0].startsWith("-")) continue; // continuation of a description
            StringBuilder label = new StringBuilder();
            int i = 0;
            while (i < words.length && words[i].startsWith("-")) {
                if (!label.isEmpty()) label.append(' ');
                label.append(words[i++]);
            }
            if (i < words.length && ARG.matcher(words[i]).matches()) label.append(' ').append(words[i]);
            labels.add(label.toString());
        }
        return labels;
    }

    /** The lines of one .SH section (up to the next .SH). */
    static List<String> section(Path page, String name) throws IOException {
        List<String> lines = Files.readAllLines(page, StandardCharsets.UTF_8);
        List<String> out = new ArrayList<>();
        boolean in = false;
        for (String line : lines) {
            if (line.startsWith(".SH")) {
                if (in) break;
                in = unquote(line.substring(3).trim()).equals(name);
                continue;
            }
            if (in) out.add(line);
        }
        assertThat(in || !out.isEmpty()).as("%s has a .SH %s section", page, name).isTrue();
        return out;
    }

    /** The tag (the line after each .TP) of a section, as plain text. */
    static List<String> tags(List<String> section) {
        List<String> tags = new ArrayList<>();
        for (int i = 0; i + 1 < section.size(); i++) {
            if (section.get(i).trim().equals(".TP")) tags.add(text(section.get(i + 1)));
        }
        return tags;
    }

    /** One roff line as plain text: font escapes dropped, \- as '-', font macros applied. */
    static String text(String line) {
        String s = line;
        if (s.startsWith(".")) {
            int sp = s.indexOf(' ');
            String macro = sp < 0 ? s.substring(1) : s.substring(1, sp);
            List<String> args = sp < 0 ? List.of() : args(s.substring(sp + 1));
            s = switch (macro) {
                case "B", "I" -> String.join(" ", args);
                case "BR", "RB", "BI", "IB", "IR", "RI" -> String.join("", args);
                default -> throw new IllegalArgumentException("unexpected macro in a tag: " + line);
            };
        }
        return s.replaceAll("\\\\f(\\(..|\\[[^]]*]|.)", "")
                .replace("\\-", "-")
                .replace("\\&", "")
                .replace("\\e", "\\")
                .replaceAll("\\s+", " ")
                .trim();
    }

    private static List<String> args(String s) {
        List<String> out = new ArrayList<>();
        Matcher m = Pattern.compile("\"((?:[^\"]|\"\")*)\"|(\\S+)").matcher(s);
        while (m.find()) out.add(m.group(1) != null ? m.group(1).replace("\"\"", "\"") : m.group(2));
        return out;
    }

    private static String unquote(String s) {
        return s.startsWith("\"") && s.endsWith("\"") && s.length() >= 2 ? s.substring(1, s.length() - 1) : s;
    }

    private static boolean onPath(String program) {
        String path = System.getenv("PATH");
        if (path == null) return false;
        for (String dir : path.split(":")) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, program))) return true;
        }
        return false;
    }
}
