package dev.einhyrningsins.cli;

import dev.einhyrningsins.supervisor.Config;
import dev.einhyrningsins.supervisor.DrainConfig;
import dev.einhyrningsins.supervisor.HealthConfig;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * Everything the command line said, validated. Durations of ZERO mean "off".
 *
 * @param killChildrenOnExit -k: workers get a parent-death signal (the graceful signal)
 * @param maxUnacked 0 = the number of CPUs
 * @param metrics    --metrics: where to serve OpenMetrics over HTTP (a TCP address; host 127.0.0.1
 *                   when only a port was given)
 * @param user       --user: who workers and checks run as (a name or a uid; root only)
 * @param group      --group: their group (a name or a gid), with --user only
 * @param envFile    --env-file: the workers' environment file, read again at every upgrade and reload
 */
public record Options(
        int number,
        List<BindSpec> binds,
        int backlog,
        Family family,
        int verbosity,
        List<String> dropEnv,
        Optional<String> commandName,
        Optional<Path> pidfile,
        Optional<Path> socketPath,
        Optional<Path> lockfile,
        boolean commandSocketAsFd,
        boolean listenFds,
        boolean upgradeCheck,
        boolean killChildrenOnExit,
        Duration seconds,
        Duration signalTimeout,
        String gracefulSignal,
        Config.AckMode ackMode,
        Duration ackTimeout,
        int maxUnacked,
        int maxUpgradeAdditional,
        Duration upgradeTimeout,
        int upgradeMaxFailures,
        HealthConfig health,
        DrainConfig drain,
        List<String> program,
        Optional<BindSpec> metrics,
        Optional<String> user,
        Optional<String> group,
        Optional<Path> envFile) {

    /** Address family restriction for host names (-4 / -6). */
    public enum Family { ANY, INET4, INET6 }

    /** The supervisor core's share of the options. */
    public Config toConfig(int cpus) {
        return new Config(number, seconds, ackMode, ackTimeout, signalTimeout, gracefulSignal,
                maxUnacked > 0 ? maxUnacked : Math.max(1, cpus), maxUpgradeAdditional, upgradeTimeout,
                upgradeMaxFailures, verbosity, health, drain);
    }
}
