package dev.einhyrningsins;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The entry point's version check; {@code OldJavaIT} runs it on a real older Java. */
class LaunchTest {

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource({
        "1.5, 5", "1.8, 8", "1.8.0_392, 8", "9, 9", "11, 11", "17, 17", "17.0.15, 17", "21.0.2, 21",
        "22, 22", "24, 24", "25, 25", "25.0.1, 25", "26, 26", "26-ea, 26", "100, 100", "' 21 ', 21",
    })
    void featureReleaseOfAVersionString(String version, int feature) {
        assertThat(Bootstrap.feature(version)).isEqualTo(feature);
    }

    @ParameterizedTest
    @CsvSource({"''", "ea", "-1", "1.", "x17"})
    void unreadableVersionsHaveNoFeatureRelease(String version) {
        assertThat(Bootstrap.feature(version)).isEqualTo(-1);
        assertThat(Bootstrap.feature(null)).isEqualTo(-1);
    }

    @ParameterizedTest
    @CsvSource({"1.8, false", "9, false", "17, false", "21.0.2, false", "24, false",
        "25, true", "25.0.1, true", "26, true", "26-ea, true", "30, true"})
    void onlyJava25AndNewerAreSupported(String spec, boolean supported) {
        assertThat(Bootstrap.supported(spec)).isEqualTo(supported);
    }

    @Test
    void anUnreadableVersionIsLetThrough() {
        // The JVM then says for itself what it cannot load; refusing a Java we cannot read would be worse.
        assertThat(Bootstrap.supported(null)).isTrue();
        assertThat(Bootstrap.supported("weird")).isTrue();
    }

    @Test
    void thisJavaIsSupported() {
        assertThat(Bootstrap.supported(System.getProperty("java.specification.version"))).isTrue();
    }

    @Test
    void theMessageSaysWhatIsNeededWhatWasFoundAndWhatToDo() {
        String m = Bootstrap.tooOld(false, "17.0.15", "/usr/lib/jvm/java-17-openjdk-amd64");
        assertThat(m).startsWith("einhyrningsins: needs Java 25 or newer")
                .contains("found Java 17.0.15 in /usr/lib/jvm/java-17-openjdk-amd64")
                .contains("bin/einhyrningsins ").contains("target/image/bin/einhyrningsins ")
                .contains("needs no system Java")
                .doesNotContain("\n").doesNotContain("einhyrningsinsctl");

        String ctl = Bootstrap.tooOld(true, "1.8.0_392", "/opt/jdk8/jre");
        assertThat(ctl).startsWith("einhyrningsins ctl: needs Java 25 or newer")
                .contains("found Java 1.8.0_392 in /opt/jdk8/jre")
                .contains("target/image/bin/einhyrningsinsctl ")
                .doesNotContain("\n");
    }

    @Test
    void theEntryPointIsCompiledForJava8SoOldJavasCanLoadIt() throws IOException {
        assertThat(classFileMajorVersion(Bootstrap.class)).as("Bootstrap.class major version").isEqualTo(52);
        assertThat(classFileMajorVersion(Main.class)).as("Main.class major version").isEqualTo(69);
    }

    static int classFileMajorVersion(Class<?> c) throws IOException {
        try (InputStream in = c.getResourceAsStream(c.getSimpleName() + ".class")) {
            assertThat(in).as("class file of %s", c).isNotNull();
            DataInputStream data = new DataInputStream(in);
            assertThat(data.readInt()).isEqualTo(0xCAFEBABE);
            data.readUnsignedShort(); // minor
            return data.readUnsignedShort();
        }
    }
}
