package dev.einhyrningsins.posix;

/**
 * How a child process ended.
 *
 * @param pid        the child's process id
 * @param signaled   true if a signal killed it
 * @param code       the exit code, or the signal number if {@code signaled}
 * @param coreDumped true if it was killed by a signal and dumped core
 */
public record ExitStatus(int pid, boolean signaled, int code, boolean coreDumped) {

    /** {@code "exited with status 3"}, {@code "killed by SIGKILL"}, {@code "killed by SIGSEGV (core dumped)"}. */
    public String describe() {
        if (!signaled) {
            return "exited with status " + code;
        }
        String name = Names.signalName(code);
        String sig = name.chars().allMatch(Character::isDigit) ? "signal " + name : "SIG" + name;
        return "killed by " + sig + (coreDumped ? " (core dumped)" : "");
    }
}
