#!/bin/sh
# Builds the jlink runtime image target/image/ and its tarball from the shaded jar.
#
#   build-image.sh BASEDIR BUILD_DIR VERSION MODULES
#
# Maven runs it in the package phase (exec-maven-plugin), after the shade plugin, with
# TOOLCHAIN_JAVA_HOME set to the JDK 25 toolchain that maven-toolchains-plugin selected,
# so it works while Maven itself runs on an older JDK. Run by hand, it uses JAVA_HOME.
#
# Steps: jlink (MODULES, measured with jdeps; see ImageIT) -> launchers, jar, man pages,
# docs -> training runs that write the AOT caches lib/einhyrningsins.aot (a real supervisor
# with two workers, queried and stopped) and lib/ctl.aot (a ctl against it) -> bash completion
# (completion.sh) -> tarball einhyrningsins-VERSION-linux-ARCH.tar.gz.
set -eu

if [ $# -ne 4 ]; then
    echo "usage: build-image.sh BASEDIR BUILD_DIR VERSION MODULES" >&2
    exit 2
fi
basedir=$1
build=$2
version=$3
modules=$4
jdk=${TOOLCHAIN_JAVA_HOME:-${JAVA_HOME:-}}
if [ ! -x "$jdk/bin/jlink" ]; then
    echo "build-image: no jlink under '$jdk'; run through Maven or set JAVA_HOME to a JDK 25" >&2
    exit 1
fi
image=$build/image
name=einhyrningsins-$version
case $(uname -m) in
    x86_64 | amd64) arch=x64 ;;
    aarch64 | arm64) arch=aarch64 ;;
    *) arch=$(uname -m) ;;
esac
tarball=$build/$name-linux-$arch.tar.gz

say() { echo "[image] $*"; }

# 1. The runtime. --generate-cds-archive gives the image the default CDS archive the
#    stock JDK has (a fallback for any run that cannot use the AOT cache); it warns about
#    java.logging classes the image does not contain, so its chatter goes to a log.
say "jlink $modules -> $image"
rm -rf "$image" "$tarball"
if ! "$jdk/bin/jlink" --add-modules "$modules" \
        --strip-debug --no-header-files --no-man-pages --compress=zip-6 \
        --generate-cds-archive --output "$image" >"$build/jlink.log" 2>&1; then
    cat "$build/jlink.log" >&2
    exit 1
fi
# The compressed-oops-off variant is only used with heaps over 32 GB; the launchers cap it.
rm -f "$image/lib/server/classes_nocoops.jsa"

# 2. Application, launchers, man pages, docs.
install -m 644 "$build/einhyrningsins.jar" "$image/lib/einhyrningsins.jar"
install -m 755 "$basedir/src/main/image/bin/einhyrningsins" "$basedir/src/main/image/bin/einhyrningsinsctl" "$image/bin/"
mkdir -p "$image/share/man/man1" "$image/share/doc/einhyrningsins"
install -m 644 "$basedir/man/einhyrningsins.1" "$basedir/man/einhyrningsinsctl.1" "$image/share/man/man1/"
install -m 644 "$basedir/README.md" "$basedir/LICENSE" "$image/share/doc/einhyrningsins/"

# 3. Training run: the AOT cache (JDK 25, JEP 483/514/515) holds the classes loaded and
#    linked, and method profiles, of a real run. One-step: -XX:AOTCacheOutput writes it
#    when the JVM exits. The supervisor reads lib/einhyrningsins.aot, ctl lib/ctl.aot (all of
#    a cache's classes are loaded at start-up: ctl's own is a fraction of the supervisor's).
#    Both are run through the launchers, so the caches are made with the launchers' options.
#    Without method profiles (-XX:-AOTRecordTraining): replaying them at start-up competes
#    with the start for the CPU (measured ~5% slower to the first worker, with C1 alone),
#    and the caches are smaller without.
train_dir=$(mktemp -d "${TMPDIR:-/tmp}/einhyrningsins-train.XXXXXX")
sup_pid=
cleanup() {
    if [ -n "$sup_pid" ] && kill -0 "$sup_pid" 2>/dev/null; then
        kids=$(cat /proc/"$sup_pid"/task/*/children 2>/dev/null || true)
        kill -KILL "$sup_pid" 2>/dev/null || true
        # shellcheck disable=SC2086
        [ -z "$kids" ] || kill -KILL $kids 2>/dev/null || true
    fi
    rm -rf "$train_dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fail() {
    echo "build-image: training run failed: $*" >&2
    for f in "$train_dir"/*.log; do
        [ -f "$f" ] && { echo "--- $f" >&2; cat "$f" >&2; }
    done
    exit 1
}

# now_ms: milliseconds since the epoch (GNU date; coarse seconds elsewhere)
now_ms() {
    t=$(date +%s%3N)
    case $t in *N) echo $(($(date +%s) * 1000)) ;; *) echo "$t" ;; esac
}

say "training run (supervisor with 2 workers, ctl ehlo/state/inc/dec/help, TERM)"
sock=$train_dir/ctl.sock
EINHYRNINGSINS_JAVA_OPTS="-XX:AOTCacheOutput=$image/lib/einhyrningsins.aot -XX:-AOTRecordTraining" \
    "$image/bin/einhyrningsins" -n 2 -b 127.0.0.1:0 -m 0.2 -d "$sock" -e "$train_dir/pid" \
    -- sleep 60 >"$train_dir/supervisor.log" 2>&1 &
sup_pid=$!

deadline=$(($(now_ms) + 30000))
until [ -S "$sock" ] && [ -s "$train_dir/pid" ]; do
    kill -0 "$sup_pid" 2>/dev/null || fail "the supervisor exited early"
    [ "$(now_ms)" -lt "$deadline" ] || fail "no control socket at $sock after 30 s"
    sleep 0.05
done
# ctl's own cache (lib/ctl.aot, chosen by the launcher for `ctl`): one typical ctl run
EINHYRNINGSINS_JAVA_OPTS="-XX:AOTCacheOutput=$image/lib/ctl.aot -XX:-AOTRecordTraining" \
    "$image/bin/einhyrningsinsctl" -d "$sock" -e "ehlo; state" >"$train_dir/ctl-train.log" 2>&1 \
    || fail "einhyrningsinsctl -e 'ehlo; state' (training ctl's cache) failed"
"$image/bin/einhyrningsinsctl" -d "$sock" -e "ehlo; state; inc; dec; help" >"$train_dir/ctl.log" 2>&1 \
    || fail "einhyrningsinsctl -e 'ehlo; state; inc; dec; help' failed"
"$image/bin/einhyrningsinsctl" -d "$sock" --json -e state >>"$train_dir/ctl.log" 2>&1 \
    || fail "einhyrningsinsctl --json -e state failed"
# the core's command table, for the shell completion (step 4)
"$image/bin/einhyrningsinsctl" -d "$sock" -e help >"$train_dir/help.txt" 2>&1 \
    || fail "einhyrningsinsctl -e help failed"

kill -TERM "$sup_pid"
status=0
wait "$sup_pid" || status=$?
sup_pid=
[ "$status" -eq 0 ] || fail "supervisor exited $status after TERM"
[ -s "$image/lib/einhyrningsins.aot" ] || fail "no AOT cache written"
[ -s "$image/lib/ctl.aot" ] || fail "no AOT cache written for ctl"
[ ! -e "$sock" ] || fail "control socket left behind"
say "AOT caches: supervisor $(wc -c <"$image/lib/einhyrningsins.aot") bytes, ctl $(wc -c <"$image/lib/ctl.aot") bytes"

# 4. Bash completion, made from this build's --help texts and the supervisor's `help`
#    (completion.sh), found by bash-completion under share/bash-completion/completions/.
completions=$image/share/bash-completion/completions
sh "$basedir/src/main/image/completion.sh" "$image" "$train_dir/help.txt" "$completions/einhyrningsins"
chmod 644 "$completions/einhyrningsins"
ln -sf einhyrningsins "$completions/einhyrningsinsctl"
say "bash completion: $completions/einhyrningsins"

# 5. Tarball with top directory einhyrningsins-VERSION/ (GNU tar; owner-neutral).
tar -C "$build" --sort=name --owner=0 --group=0 --numeric-owner \
    --transform "s,^image,$name,S" -czf "$tarball" image
say "$tarball ($(du -k "$tarball" | cut -f1) KiB)"
