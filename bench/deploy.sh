#!/bin/sh
# Deploy benchmark (issue 22): the readiness gate giving up, the shutdown delay's not-ready
# latency, state round trips while 500 connections scrape --metrics. Needs
# target/einhyrningsins.jar (mvn package), a JDK 25, python3 and curl.
#   bench/deploy.sh [ROUNDS]      (default 5)
set -eu
cd "$(dirname "$0")/.."
JAVA="${JAVA_HOME:-$(ls -d /usr/lib/jvm/*25* 2>/dev/null | head -1)}/bin/java"
[ -f target/einhyrningsins.jar ] || { echo "bench/deploy.sh: run 'mvn package' first" >&2; exit 1; }
exec "$JAVA" bench/DeployBench.java "$@"
