#!/bin/sh
# What the test suite needs beyond the JDK 25 and Maven, as Debian packages: the one list.
# `mvn verify` runs this before any test (exec-maven-plugin, phase validate); .ci/run installs
# what `--missing` prints.
#
#   sh src/test/prerequisites.sh              exit 0 when everything is there; otherwise ONE line
#                                              on stderr naming every missing package, exit 1
#   sh src/test/prerequisites.sh --missing    the missing packages' names, one a line; exit 0
#   sh src/test/prerequisites.sh --maven SKIP... as the build calls it (maven-antrun-plugin, which
#                                              fails the build with it): that line on stdout, exit 0;
#                                              nothing when any SKIP is "true" (-DskipTests,
#                                              -Dmaven.test.skip, -Dprerequisites.skip)
#
# PREREQUISITES_ROOT (default: empty, i.e. /) looks at another root instead (tests of this script).
set -u
root=${PREREQUISITES_ROOT:-}

mode=check
case "${1:-}" in
  --missing) mode=list ;;
  --maven)
    mode=maven
    shift
    for skip in "$@"; do [ "$skip" = true ] && exit 0; done ;;
  "") ;;
  *) echo "prerequisites.sh: unknown argument: $1 (use --missing)" >&2; exit 2 ;;
esac

missing=""
# need PACKAGE CHECK ARGS...: PACKAGE is missing when CHECK fails
need() {
  pkg=$1
  shift
  "$@" >/dev/null 2>&1 && return 0
  case " $missing " in
    *" $pkg "*) ;;
    *) missing="${missing:+$missing }$pkg" ;;
  esac
}
# every one of these files is executable
all() {
  for f in "$@"; do [ -x "$root$f" ] || return 1; done
}
# at least one of these files is executable
any() {
  for f in "$@"; do [ -x "$root$f" ] && return 0; done
  return 1
}
# the system Python imports this module
imports() {
  [ -x "$root/usr/bin/python3" ] && "$root/usr/bin/python3" -c "import $1"
}
# a Java older than 25 under /usr/lib/jvm (its release file, else what -version says)
older_java() {
  for home in "$root"/usr/lib/jvm/*/; do
    [ -x "${home}bin/java" ] || continue
    version=$(sed -n 's/^JAVA_VERSION="\(.*\)"/\1/p' "${home}release" 2>/dev/null)
    [ -n "$version" ] || version=$("${home}bin/java" -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p')
    feature=$(printf '%s\n' "$version" | sed -n 's/^1\.\([0-9]*\).*/\1/p;t;s/^\([0-9][0-9]*\).*/\1/p')
    [ -n "$feature" ] && [ "$feature" -lt 25 ] && return 0
  done
  return 1
}

# workers run as other uids (setpriv) use the system Python, not one on root's PATH
need python3 all /usr/bin/python3
# FieldIT: socat's half-close; HealthIT's checks use curl as users write them
need socat all /usr/bin/socat
need curl all /usr/bin/curl
# SystemdIT and the package's units: systemd's own tools
need systemd all /usr/bin/systemd-socket-activate /usr/bin/systemd-notify /usr/bin/systemd-analyze
# SystemdIT: libsystemd's sd_listen_fds checks what the workers get
need python3-systemd imports systemd.daemon
# ObserveIT, MetricsTest: the Prometheus client's own OpenMetrics parser reads our metrics
need python3-prometheus-client imports prometheus_client.openmetrics.parser
# ManPageTest: mandoc -T lint; man -w finds the installed pages
need mandoc all /usr/bin/mandoc
need man-db all /usr/bin/man
# -k (setpriv), Pid1IT and ContainerRecipeIT (unshare, nsenter), ControlIT's terminal (script)
need util-linux all /usr/bin/setpriv /usr/bin/unshare /usr/bin/nsenter
need bsdutils all /usr/bin/script
# ContainerRecipeIT: loopback in its network namespace
need iproute2 any /usr/sbin/ip /sbin/ip
# OldJavaIT: the jar on a Java older than 25 says in one line what it needs
need default-jre-headless older_java
# the .deb: built with dpkg-deb (stripped with binutils), checked with lintian
need dpkg all /usr/bin/dpkg-deb
need binutils all /usr/bin/strip
need lintian all /usr/bin/lintian
# DebIT: what the package must depend on, as dpkg-shlibdeps finds it
need dpkg-dev all /usr/bin/dpkg-shlibdeps

if [ "$mode" = list ]; then
  [ -z "$missing" ] || printf '%s\n' $missing
  exit 0
fi
[ -n "$missing" ] || exit 0
line="missing test prerequisites: $missing; install them with: apt-get install $missing (or build without tests: mvn package -DskipTests)"
if [ "$mode" = maven ]; then
  echo "$line"
  exit 0
fi
echo "$line" >&2
exit 1
