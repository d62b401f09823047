#!/bin/sh
# What health checks cost the supervisor (bench/HealthBench.java).
#   bench/health.sh [RUNS]   (after `mvn package`; RUNS defaults to 3)
set -eu
cd "$(dirname "$0")/.."
JAVA="${JAVA_HOME:-$(ls -d /usr/lib/jvm/*25* 2>/dev/null | head -1)}/bin/java"
[ -f target/einhyrningsins.jar ] || { echo "bench/health.sh: run 'mvn package' first" >&2; exit 1; }
exec "$JAVA" bench/HealthBench.java "$@"
