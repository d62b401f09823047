#!/bin/sh
# Bounded under hostile load (issue 21): the figures of HostileIT and DescriptorsIT.
#
#   bench/hostile.sh          (as root, after `mvn package`; Debian's python3 and setpriv)
#
# HostileIT runs the runtime image (its launcher's -Xmx64m) with 4 workers under load and
# first times 5 calm `state` requests and smooth upgrades; then, while 250 connections each
# send a 1 MiB line without a newline and never read, 50 `watch` clients never read, another
# uid sends 100 000 datagrams to a worker's notify socket and 500 clients scrape --metrics at
# once, it times 20 more. It prints the supervisor's RSS (idle and peak against the bound it
# asserts), the owner's `state` latency and the upgrade wall time (median and max, under the
# attack and calm), the scrapes answered 200, and the requests served and failed by the
# workers. DescriptorsIT runs `prlimit --nofile=64:64` with `set_workers 60` and prints the
# worst `state` latency, the supervisor's CPU and its log lines at the limit.
# Both compare within one run: the ratio attack/calm is the figure, absolute times drift.
set -eu
cd "$(dirname "$0")/.."
out=$(mvn -B -o verify -Dtest=none -Dsurefire.failIfNoSpecifiedTests=false -DskipPitest -Ddeb.skip \
    -Dit.test='HostileIT,DescriptorsIT' 2>&1) || { printf '%s\n' "$out" | tail -40; exit 1; }
printf '%s\n' "$out" | grep -E '^(HostileIT|DescriptorsIT):'
printf '%s\n' "$out" | sed -n 's/.*state under attack median \([0-9]*\) ms, max \([0-9]*\) ms; upgrade wall under attack median \([0-9]*\) ms.*calm before: state median \([0-9]*\) ms, max [0-9]* ms, upgrade median \([0-9]*\) ms.*/\1 \2 \3 \4 \5/p' |
    awk '{ printf "upgrade wall, attack/calm (medians): %.2fx; state median attack %d ms vs calm %d ms\n", $3 / ($5 ? $5 : 1), $1, $4 }'
