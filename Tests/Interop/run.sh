#!/usr/bin/env bash
# Runs the interop suite once per SDK generation (anthropic 2.10.0, then 0.75.0) against the built binary.
# Usage: Tests/Interop/run.sh [pytest args...]   (TAPEDECK_BIN overrides the binary; PYTHON the interpreter)
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
python="${PYTHON:-python3}"
export TAPEDECK_BIN="${TAPEDECK_BIN:-$root/.build/debug/tapedeck}"
export PIP_DISABLE_PIP_VERSION_CHECK=1

if [ ! -x "$TAPEDECK_BIN" ]; then
    echo "warning: no tapedeck binary at $TAPEDECK_BIN (run 'swift build' first); the tests will error" >&2
fi

status=0
failed=()
for gen in 2 0; do
    venv="$here/.venv-$gen"
    echo "=== interop: requirements-$gen.txt (venv $venv)"
    if [ ! -x "$venv/bin/python" ]; then
        "$python" -m venv "$venv" || { echo "cannot create $venv" >&2; status=1; failed+=("$gen"); continue; }
    fi
    if ! "$venv/bin/python" -m pip install --quiet -r "$here/requirements-$gen.txt"; then
        echo "pip install -r requirements-$gen.txt failed" >&2
        status=1; failed+=("$gen"); continue
    fi
    echo "=== interop: anthropic $("$venv/bin/python" -c 'import anthropic; print(anthropic.__version__)')"
    (cd "$here" && "$venv/bin/python" -m pytest -p no:cacheprovider "$@")
    rc=$?
    if [ "$rc" -ne 0 ]; then status=1; failed+=("$gen"); fi
done

if [ "$status" -ne 0 ]; then
    echo "=== interop: FAILED for requirements-${failed[*]}" >&2
else
    echo "=== interop: both SDK generations passed"
fi
exit "$status"
