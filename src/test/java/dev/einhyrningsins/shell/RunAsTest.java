package dev.einhyrningsins.shell;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.einhyrningsins.posix.Users;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** --user and --group resolved: uid, gid, supplementary groups, what setpriv is told, and the refusals. */
class RunAsTest {

    /** A passwd and group database of two users and three groups. */
    static final RunAs.Lookup DB = new RunAs.Lookup() {
        final Map<String, Users.User> users = Map.of("www-data", new Users.User("www-data", 33, 33),
                "app", new Users.User("app", 1000, 1000));
        final Map<String, Users.Group> groups = Map.of("www-data", new Users.Group("www-data", 33),
                "app", new Users.Group("app", 1000), "ssl-cert", new Users.Group("ssl-cert", 110));

        @Override
        public Users.User user(String name) {
            return users.get(name);
        }

        @Override
        public Users.User user(int uid) {
            return users.values().stream().filter(u -> u.uid() == uid).findFirst().orElse(null);
        }

        @Override
        public Users.Group group(String name) {
            return groups.get(name);
        }

        @Override
        public Users.Group group(int gid) {
            return groups.values().stream().filter(g -> g.gid() == gid).findFirst().orElse(null);
        }

        @Override
        public int[] groups(String user, int gid) {
            return user.equals("www-data") ? new int[] {gid, 110} : new int[] {gid};
        }
    };

    @Test
    void aUserByNameRunsWithItsPrimaryGroupAndItsGroups() {
        RunAs r = RunAs.resolve("www-data", null, 0, DB);
        assertThat(r.user()).isEqualTo("www-data");
        assertThat(r.uid()).isEqualTo(33);
        assertThat(r.group()).isEqualTo("www-data");
        assertThat(r.gid()).isEqualTo(33);
        assertThat(r.groups()).containsExactly(33, 110);
        assertThat(r.setprivOptions()).containsExactly("--reuid=33", "--regid=33", "--groups=33,110");
        assertThat(r.describe()).isEqualTo("user www-data (uid 33), group www-data (gid 33), groups 33,110");
        assertThat(r.state()).containsEntry("user", "www-data").containsEntry("uid", 33).containsEntry("group", "www-data")
                .containsEntry("gid", 33).containsEntry("groups", List.of(33, 110));
    }

    @Test
    void aUidWithAPasswdEntryIsThatUserAndGroupOverridesItsGroup() {
        RunAs r = RunAs.resolve("1000", "www-data", 0, DB);
        assertThat(r.user()).isEqualTo("app");
        assertThat(r.uid()).isEqualTo(1000);
        assertThat(r.gid()).isEqualTo(33);
        assertThat(r.group()).isEqualTo("www-data");
        assertThat(r.groups()).as("initgroups with the group asked for").containsExactly(33);
        RunAs numeric = RunAs.resolve("app", "110", 0, DB);
        assertThat(numeric.gid()).isEqualTo(110);
        assertThat(numeric.group()).isEqualTo("ssl-cert");
        RunAs unnamed = RunAs.resolve("app", "4242", 0, DB);
        assertThat(unnamed.gid()).isEqualTo(4242);
        assertThat(unnamed.group()).isNull();
    }

    @Test
    void aUidWithoutAPasswdEntryRunsWithItsOwnNumberAsGroupAndNoOthers() {
        RunAs r = RunAs.resolve("54321", null, 0, DB);
        assertThat(r.user()).isNull();
        assertThat(r.uid()).isEqualTo(54321);
        assertThat(r.gid()).isEqualTo(54321);
        assertThat(r.group()).isNull();
        assertThat(r.groups()).isEmpty();
        assertThat(r.setprivOptions()).containsExactly("--reuid=54321", "--regid=54321", "--clear-groups");
        assertThat(r.describe()).isEqualTo("user (uid 54321), group (gid 54321), no supplementary groups");
        assertThat(RunAs.resolve("54321", "www-data", 0, DB).gid()).isEqualTo(33);
        assertThat(RunAs.resolve("0", null, 0, DB).uid()).isZero();
    }

    @Test
    void onlyRootMayAndWhatDoesNotExistIsNamed() {
        assertThatThrownBy(() -> RunAs.resolve("www-data", null, 1000, DB)).isInstanceOf(StartupException.class)
                .hasMessage("--user needs root: the supervisor runs as uid 1000 and cannot start workers as another user");
        assertThatThrownBy(() -> RunAs.resolve("www", null, 0, DB))
                .hasMessage("--user www: no such user (give a user name or a uid)");
        assertThatThrownBy(() -> RunAs.resolve("www-data", "web", 0, DB))
                .hasMessage("--group web: no such group (give a group name or a gid)");
        assertThatThrownBy(() -> RunAs.resolve("99999999999", null, 0, DB))
                .hasMessage("--user 99999999999: not an id (0 to 2147483647)");
        assertThatThrownBy(() -> RunAs.resolve("www-data", "99999999999", 0, DB))
                .hasMessage("--group 99999999999: not an id (0 to 2147483647)");
    }

    @Test
    void theSystemsUsersAreTheCLibrarys() {
        RunAs root = RunAs.resolve("root", null, 0, RunAs.Lookup.SYSTEM);
        assertThat(root.uid()).isZero();
        assertThat(root.gid()).isZero();
        assertThat(root.groups()).contains(0);
        RunAs nobody = RunAs.resolve("nobody", null, 0, RunAs.Lookup.SYSTEM);
        assertThat(nobody.uid()).isEqualTo(Users.user("nobody").uid());
        assertThat(nobody.gid()).isEqualTo(Users.user("nobody").gid());
    }
}
