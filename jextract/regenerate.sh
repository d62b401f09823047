#!/bin/sh
# Regenerates the libc bindings in src/main/java/dev/einhyrningsins/posix/libc from
# jextract/libc.h, keeping only the symbols listed in jextract/includes.txt.
#
# JEXTRACT must name an already-built jextract launcher that runs on libclang-13
# (see jextract/README.md); this script does not build jextract.
set -eu

if [ -z "${JEXTRACT:-}" ]; then
    echo "regenerate.sh: set JEXTRACT to a jextract launcher built from openjdk/jextract" >&2
    echo "  with JDK 25 and run on libclang-13, e.g. JEXTRACT=/path/to/jextract $0" >&2
    echo "  (jextract/README.md explains how to build one)" >&2
    exit 2
fi

cd "$(dirname "$0")/.."
pkg=dev.einhyrningsins.posix.libc
dir=src/main/java/dev/einhyrningsins/posix/libc
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$JEXTRACT" \
    --target-package "$pkg" \
    --header-class-name Libc \
    --output "$tmp" \
    @jextract/includes.txt \
    jextract/libc.h

rm -rf "$dir"
mkdir -p "$(dirname "$dir")"
mv "$tmp/dev/einhyrningsins/posix/libc" "$dir"
echo "regenerated $dir:"
ls "$dir"
