#!/bin/sh
# Rolling-upgrade benchmark. Needs target/einhyrningsins.jar (mvn package) and a JDK 25.
set -eu
cd "$(dirname "$0")/.."
JAVA="${JAVA_HOME:-$(ls -d /usr/lib/jvm/*25* 2>/dev/null | head -1)}/bin/java"
[ -f target/einhyrningsins.jar ] || { echo "bench/upgrade.sh: run 'mvn package' first" >&2; exit 1; }
exec "$JAVA" bench/UpgradeBench.java "$@"
