#!/bin/sh
# JVM workers under rolling upgrades: the Jetty example next to the Python example worker,
# alternating. Needs target/einhyrningsins.jar and the worker API in the local Maven
# repository (mvn install -DskipTests -Dimage.skip=true, or mvn verify), and a JDK 25.
set -eu
cd "$(dirname "$0")/.."
JAVA="${JAVA_HOME:-$(ls -d /usr/lib/jvm/*25* 2>/dev/null | head -1)}/bin/java"
[ -f target/einhyrningsins.jar ] || { echo "bench/jvm-upgrade.sh: run 'mvn package' first" >&2; exit 1; }
if [ ! -f examples/jetty/target/jetty-worker.jar ]; then
  mvn -q -B -f examples/jetty/pom.xml package || {
    echo "bench/jvm-upgrade.sh: cannot build examples/jetty; is the worker API installed (mvn install -DskipTests -Dimage.skip=true)?" >&2
    exit 1
  }
fi
exec "$JAVA" bench/JvmUpgradeBench.java "$@"
