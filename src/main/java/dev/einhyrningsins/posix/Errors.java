package dev.einhyrningsins.posix;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;

/**
 * An I/O failure as one line that names its cause: NIO's file-system exceptions carry the
 * file but, for the common errors, not the reason ({@code AccessDeniedException}'s message is
 * just the path). Here: {@code /run/x/.einhyrningsins-123: Permission denied}.
 */
public final class Errors {
    private Errors() {
    }

    public static String describe(IOException e) {
        if (e instanceof FileSystemException f) {
            String reason = f.getReason();
            if (reason == null) {
                reason = switch (f) {
                    case AccessDeniedException a -> "Permission denied";
                    case NoSuchFileException n -> "No such file or directory";
                    case FileAlreadyExistsException x -> "File exists";
                    case NotDirectoryException d -> "Not a directory";
                    case DirectoryNotEmptyException d -> "Directory not empty";
                    default -> f.getClass().getSimpleName();
                };
            }
            String file = f.getFile();
            String other = f.getOtherFile();
            return (file == null ? "" : file + (other == null ? "" : " -> " + other) + ": ") + reason;
        }
        return e.getMessage() == null ? e.toString() : e.getMessage();
    }
}
