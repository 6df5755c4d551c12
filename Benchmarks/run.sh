#!/usr/bin/env bash
# Benchmarks: builds release binaries (in .build-release, apart from the debug build) and measures on loopback.
# Usage: Benchmarks/run.sh            full run, writes Benchmarks/results.md
#        Benchmarks/run.sh --smoke    a few seconds per figure on the debug build (what CI runs), writes to a temp file
#        Benchmarks/run.sh --paced    only the concurrent paced streams (release), replacing that section of results.md
set -euo pipefail
# The paced-streams section holds thousands of connections open: one descriptor each, in the server and the client.
ulimit -n "$(ulimit -Hn)"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
if [ "${1:-}" = "--smoke" ]; then
    swift build --product tapedeck >/dev/null
    swift build --product tapedeck-fake-upstream >/dev/null
    swift build --product bench-bare-server >/dev/null
    swift build --product bench-paced-load >/dev/null
    out="$(mktemp --suffix=.md)"
    python3 Benchmarks/bench.py --bin "$root/.build/debug" --smoke --out "$out"
    python3 Benchmarks/paced.py --bin "$root/.build/debug" --streams 50 --out "$out" >/dev/null
    grep -q "## Concurrent paced streams" "$out"
    grep -q "## Targets" "$out" && echo "benchmark smoke run wrote $out"
elif [ "${1:-}" = "--paced" ]; then
    for product in tapedeck bench-paced-load; do
        swift build -c release --scratch-path .build-release --product "$product"
    done
    python3 Benchmarks/paced.py --bin "$root/.build-release/release"
else
    for product in tapedeck tapedeck-fake-upstream bench-bare-server bench-paced-load; do
        swift build -c release --scratch-path .build-release --product "$product"
    done
    python3 Benchmarks/bench.py --bin "$root/.build-release/release" "$@"
    # After bench.py, which rewrites results.md: this adds its own section.
    python3 Benchmarks/paced.py --bin "$root/.build-release/release"
fi
