package dev.einhyrningsins.posix;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** Users and groups through the C library, held to what the system's own files say. */
class UsersTest {

    @Test
    void rootIsUidZeroInGroupZeroByNameAndByNumber() {
        assertThat(Users.user("root")).isEqualTo(new Users.User("root", 0, 0));
        assertThat(Users.user(0)).isEqualTo(new Users.User("root", 0, 0));
        assertThat(Users.group(0).gid()).isZero();
        assertThat(Users.group(Users.group(0).name())).isEqualTo(Users.group(0));
        assertThat(Users.groups("root", 0)).contains(0);
    }

    @Test
    void whatDoesNotExistIsNull() {
        assertThat(Users.user("no-such-user-einhyrningsins")).isNull();
        assertThat(Users.group("no-such-group-einhyrningsins")).isNull();
        assertThat(Users.user(Integer.MAX_VALUE - 7)).isNull();
        assertThat(Users.group(Integer.MAX_VALUE - 7)).isNull();
    }

    @Test
    void aUsersGroupsAreItsGroupAndTheGroupsThatListIt() throws Exception {
        // every user in /etc/passwd, held to /etc/group: its primary group, and each group naming it as a member
        for (String line : Files.readAllLines(Path.of("/etc/passwd"))) {
            String[] f = line.split(":");
            if (f.length < 4) continue;
            Users.User u = Users.user(f[0]);
            assertThat(u).isEqualTo(new Users.User(f[0], Integer.parseInt(f[2]), Integer.parseInt(f[3])));
            java.util.Set<Integer> expected = new java.util.TreeSet<>(java.util.List.of(u.gid()));
            for (String g : Files.readAllLines(Path.of("/etc/group"))) {
                String[] gf = g.split(":", -1);
                if (gf.length == 4 && java.util.Arrays.asList(gf[3].split(",")).contains(u.name())) {
                    expected.add(Integer.parseInt(gf[2]));
                }
            }
            assertThat(java.util.Arrays.stream(Users.groups(u.name(), u.gid())).boxed().toList())
                    .as("groups of " + u.name()).containsExactlyInAnyOrderElementsOf(expected);
        }
    }
}
