package dev.einhyrningsins;

/**
 * The jar's entry point ({@code Main-Class}). It is compiled for Java 8 (its own
 * maven-compiler-plugin execution, {@code --release 8}) so that an older {@code java} can
 * load it and say in one line that einhyrningsins needs Java 25, instead of failing with an
 * {@code UnsupportedClassVersionError} stack trace. Java 8 API only in this file.
 *
 * <p>On Java 25 or newer it hands over to {@link Main}; {@code Main} (class file version
 * 69) is resolved only when that call runs, after the check.
 */
public final class Bootstrap {
    /** The Java feature release the rest of the code is compiled for. */
    static final int NEEDED = 25;

    private Bootstrap() {}

    public static void main(String[] args) {
        if (!supported(System.getProperty("java.specification.version"))) {
            boolean ctl = args.length > 0 && "ctl".equals(args[0]);
            System.err.println(tooOld(ctl, System.getProperty("java.version"), System.getProperty("java.home")));
            System.exit(1);
        }
        Main.main(args);
    }

    /**
     * The feature release in a {@code java.specification.version} (or {@code java.version})
     * value: "1.8" → 8, "17" → 17, "21.0.2" → 21, "26-ea" → 26; -1 if there is none.
     */
    static int feature(String version) {
        if (version == null) return -1;
        String v = version.trim();
        if (v.startsWith("1.")) v = v.substring(2);
        int end = 0;
        while (end < v.length() && end < 9 && Character.isDigit(v.charAt(end))) end++;
        return end == 0 ? -1 : Integer.parseInt(v.substring(0, end));
    }

    /**
     * Whether this version can run the rest of the code. A value that cannot be read is given
     * the benefit of the doubt: the JVM then reports for itself what it cannot load.
     */
    static boolean supported(String specificationVersion) {
        int feature = feature(specificationVersion);
        return feature < 0 || feature >= NEEDED;
    }

    /** The one line for a Java that is too old: what is needed, what was found, what to do. */
    static String tooOld(boolean ctl, String javaVersion, String javaHome) {
        String prefix = ctl ? "einhyrningsins ctl" : "einhyrningsins";
        String launcher = ctl ? "einhyrningsinsctl" : "einhyrningsins";
        return prefix + ": needs Java " + NEEDED + " or newer, but found Java " + javaVersion + " in " + javaHome
                + "; run the jar with Java " + NEEDED + "+, or use the runtime image's launcher bin/" + launcher
                + " (target/image/bin/" + launcher + " in a build), which brings its own runtime and needs no system Java";
    }
}
