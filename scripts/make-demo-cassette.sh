#!/usr/bin/env bash
# Rebuilds cassettes/demo.sqlite from its readable export, cassettes/demo.jsonl (the file to edit and review).
# The export was first recorded from the fake upstream, which serves the wire fact sheet's example streams.
# Usage: scripts/make-demo-cassette.sh   (needs `swift build` first)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${BIN:-$root/.build/debug}"
rm -f "$root/cassettes/demo.sqlite" "$root/cassettes/demo.sqlite-wal" "$root/cassettes/demo.sqlite-shm"
"$bin/tapedeck" cassette import "$root/cassettes/demo.jsonl" --into "$root/cassettes/demo.sqlite"
"$bin/tapedeck" cassette verify "$root/cassettes/demo.sqlite"
