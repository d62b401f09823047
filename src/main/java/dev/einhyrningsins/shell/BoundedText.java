package dev.einhyrningsins.shell;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * A small text file an operator names (--config, --env-file), read whole with a bound: only a
 * regular file (or a symlink to one, as Kubernetes mounts secrets) — a FIFO would block at its
 * open, {@code /dev/zero} or a /proc file never end (their size says 0) — at most {@code max}
 * bytes of it, strict UTF-8.
 */
public final class BoundedText {
    private BoundedText() {}

    /** Why a file could not be read, in a few words ("is a directory", "larger than 1 MiB"). */
    public static final class Unreadable extends Exception {
        private final boolean tooLarge;

        Unreadable(String reason) {
            this(reason, false);
        }

        Unreadable(String reason, boolean tooLarge) {
            super(reason);
            this.tooLarge = tooLarge;
        }

        /** It was a readable file, only over the size asked for. */
        public boolean tooLarge() {
            return tooLarge;
        }
    }

    /** The text of {@code path}, of at most {@code max} bytes. */
    public static String read(Path path, int max) throws Unreadable {
        byte[] bytes;
        try {
            if (Files.isDirectory(path)) throw new Unreadable("is a directory");
            if (Files.exists(path) && !Files.isRegularFile(path)) throw new Unreadable("not a regular file");
            try (InputStream in = Files.newInputStream(path)) {
                bytes = in.readNBytes(max + 1);
            }
        } catch (NoSuchFileException e) {
            throw new Unreadable("no such file");
        } catch (IOException e) {
            throw new Unreadable("cannot read it (" + e.getMessage() + ")");
        }
        if (bytes.length > max) throw new Unreadable("larger than " + mib(max), true);
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            throw new Unreadable("not UTF-8 text");
        }
    }

    private static String mib(int bytes) {
        return bytes % (1 << 20) == 0 ? (bytes >> 20) + " MiB" : bytes + " bytes";
    }
}
