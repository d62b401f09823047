#!/bin/sh
# Builds target/einhyrningsins_VERSION_ARCH.deb from the runtime image (build-image.sh) with dpkg-deb.
#
#   build-deb.sh BASEDIR BUILD_DIR VERSION [SKIP]
#
# Maven runs it in the package phase after build-image.sh (-Dimage.skip or -Ddeb.skip skip it).
# Without dpkg-deb (not a Debian-like system) it says so in one line and builds nothing.
#
# Layout: the image under /usr/lib/einhyrningsins (its share/ goes where Debian wants it),
# /usr/bin/einhyrningsins and /usr/bin/einhyrningsinsctl as links to its launchers (which
# follow links), man pages gzipped, README + changelog + copyright (machine-readable) and an
# example instance under /usr/share/doc/einhyrningsins, bash completion, the template unit
# einhyrningsins@.service and its .socket, /etc/einhyrningsins for the instances' files.
set -eu

if [ $# -lt 3 ] || [ $# -gt 4 ]; then
    echo "usage: build-deb.sh BASEDIR BUILD_DIR VERSION [SKIP]" >&2
    exit 2
fi
basedir=$1
build=$2
version=$3
[ "${4:-false}" != true ] || exit 0   # -Ddeb.skip
src=$basedir/src/main/deb
image=$build/image
say() { echo "[deb] $*"; }
fail() {
    echo "build-deb: $*" >&2
    exit 1
}

if ! command -v dpkg-deb >/dev/null 2>&1; then
    say "no dpkg-deb on this system: the .deb is not built (apt-get install dpkg, or -Ddeb.skip)"
    exit 0
fi
[ -x "$image/bin/einhyrningsins" ] || fail "no runtime image at $image (build-image.sh runs first)"
# the package's version is the changelog's newest entry: they must agree
changelog_version=$(sed -n '1s/^einhyrningsins (\([^)]*\)).*/\1/p' "$src/changelog")
[ "$changelog_version" = "$version" ] \
    || fail "src/main/deb/changelog's newest entry is $changelog_version, the project is $version: add an entry"
arch=$(dpkg --print-architecture)
deb=$build/einhyrningsins_${version}_$arch.deb
root=$build/deb
rm -rf "$root" "$deb"

# the image, without what Debian puts elsewhere (share/) and the JDK's tools nothing runs
lib=$root/usr/lib/einhyrningsins
mkdir -p "$lib"
cp -a "$image/." "$lib/"
rm -rf "$lib/share" "$lib/bin/keytool" "$lib/bin/jwebserver"
# OpenJDK's binaries carry their symbol tables; stripped as dh_strip does (no file an AOT cache
# or the CDS archive checks changes: those are the jar, lib/modules and the JVM's version)
if command -v strip >/dev/null 2>&1; then
    find "$lib" -type f -name '*.so' -exec strip --remove-section=.comment --remove-section=.note --strip-unneeded {} +
    strip --remove-section=.comment --remove-section=.note "$lib/bin/java" "$lib/lib/jexec" "$lib/lib/jspawnhelper"
else
    say "no strip (binutils): the runtime's libraries stay unstripped"
fi
# the runtime's notices come read-only (0444); Debian's files are 0644
find "$lib" -type f -perm 0444 -exec chmod 644 {} +
mkdir -p "$root/usr/bin"
ln -s ../lib/einhyrningsins/bin/einhyrningsins "$root/usr/bin/einhyrningsins"
ln -s ../lib/einhyrningsins/bin/einhyrningsinsctl "$root/usr/bin/einhyrningsinsctl"

man=$root/usr/share/man/man1
mkdir -p "$man"
for page in einhyrningsins.1 einhyrningsinsctl.1; do
    gzip -9n <"$image/share/man/man1/$page" >"$man/$page.gz"
done

doc=$root/usr/share/doc/einhyrningsins
mkdir -p "$doc/examples"
gzip -9n <"$basedir/README.md" >"$doc/README.md.gz"
gzip -9n <"$src/changelog" >"$doc/changelog.gz"
install -m 644 "$src/copyright" "$doc/copyright"
install -m 644 "$src/web.conf" "$doc/examples/web.conf"

completions=$root/usr/share/bash-completion/completions
mkdir -p "$completions"
install -m 644 "$image/share/bash-completion/completions/einhyrningsins" "$completions/"
ln -s einhyrningsins "$completions/einhyrningsinsctl"

units=$root/lib/systemd/system
mkdir -p "$units" "$root/etc/einhyrningsins"
install -m 644 "$src/einhyrningsins@.service" "$src/einhyrningsins@.socket" "$units/"

mkdir -p "$root/usr/share/lintian/overrides"
install -m 644 "$src/lintian-overrides" "$root/usr/share/lintian/overrides/einhyrningsins"

# DEBIAN/: control (size in KiB as dpkg-gencontrol counts it), maintainer scripts, md5sums
mkdir -p "$root/DEBIAN"
size=$(du -sk "$root" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" "$src/control" >"$root/DEBIAN/control"
install -m 755 "$src/postinst" "$src/prerm" "$src/postrm" "$root/DEBIAN/"
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -print | sed 's,^\./,,' | LC_ALL=C sort | xargs md5sum) \
    >"$root/DEBIAN/md5sums"
chmod 644 "$root/DEBIAN/md5sums" "$root/DEBIAN/control"

# Files as the package has them: everything root's (--root-owner-group), group/other read-only.
chmod -R go-w "$root"
# gzip -3: 2.7 s for the 80 MB tree against 5.6 s at -6, 4 % larger (most of it, the jlink
# modules and jar, is compressed already); xz -0 took 13 s; zstd (0.7 s) is not a format
# Debian's lintian accepts
dpkg-deb --root-owner-group -Zgzip -z3 --build "$root" "$deb" >/dev/null
say "$deb ($(du -k "$deb" | cut -f1) KiB)"
