package dev.einhyrningsins.cli;

import dev.einhyrningsins.shell.BoundedText;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code --config FILE} (the packaged unit's {@code /etc/einhyrningsins/NAME.conf}): a command
 * line's words in a file, split as a POSIX shell splits them but with no expansion at all —
 * blanks and newlines separate words; {@code #} at the start of a word comments out the rest
 * of its line; {@code '...'} is literal; in {@code "..."} a backslash escapes {@code " \ $ `}
 * and a newline; elsewhere it escapes any character (and joins lines). {@code $VAR} stays as
 * written, so a check command reads {@code $EINHORN_FD_0} when it runs.
 */
final class ConfFile {
    /** A bound on what is read: a command line, not a data file. */
    static final int MAX_BYTES = 1 << 20;

    private ConfFile() {}

    /** The words of {@code file}; a {@link UsageException} naming the file (and line) otherwise. */
    static List<String> words(Path file) {
        String text;
        try {
            text = BoundedText.read(file, MAX_BYTES);
        } catch (BoundedText.Unreadable e) {
            throw new UsageException("--config " + file + ": " + e.getMessage()
                    + (e.tooLarge() ? "; it holds a command line" : ""));
        }
        return split(text, "--config " + file);
    }

    /** Splits {@code text} into words; {@code where} names it in errors. */
    static List<String> split(String text, String where) {
        List<String> words = new ArrayList<>();
        StringBuilder word = new StringBuilder();
        boolean inWord = false;
        int line = 1;
        int i = 0;
        int n = text.length();
        while (i < n) {
            char c = text.charAt(i++);
            switch (c) {
                case ' ', '\t', '\r', '\n' -> {
                    if (c == '\n') line++;
                    if (inWord) {
                        words.add(word.toString());
                        word.setLength(0);
                        inWord = false;
                    }
                }
                case '#' -> {
                    if (inWord) {
                        word.append(c);
                    } else {
                        while (i < n && text.charAt(i) != '\n') i++;
                    }
                }
                case '\\' -> {
                    if (i == n) throw new UsageException(where + ":" + line + ": a backslash ends the file");
                    char next = text.charAt(i++);
                    if (next == '\n') {
                        line++;
                    } else {
                        word.append(next);
                        inWord = true;
                    }
                }
                case '\'' -> {
                    int close = text.indexOf('\'', i);
                    if (close < 0) throw new UsageException(where + ":" + line + ": unterminated ' quote");
                    for (; i < close; i++) {
                        if (text.charAt(i) == '\n') line++;
                        word.append(text.charAt(i));
                    }
                    i = close + 1;
                    inWord = true;
                }
                case '"' -> {
                    int opened = line;
                    boolean closed = false;
                    while (i < n) {
                        char d = text.charAt(i++);
                        if (d == '"') {
                            closed = true;
                            break;
                        }
                        if (d == '\n') line++;
                        if (d == '\\' && i < n && "\"\\$`\n".indexOf(text.charAt(i)) >= 0) {
                            char escaped = text.charAt(i++);
                            if (escaped == '\n') {
                                line++;
                            } else {
                                word.append(escaped);
                            }
                        } else {
                            word.append(d);
                        }
                    }
                    if (!closed) throw new UsageException(where + ":" + opened + ": unterminated \" quote");
                    inWord = true;
                }
                default -> {
                    word.append(c);
                    inWord = true;
                }
            }
        }
        if (inWord) words.add(word.toString());
        return words;
    }
}
