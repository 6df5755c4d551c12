#!/usr/bin/env bash
# Rebuilds cassettes/demo.sqlite: records real-shaped answers from the fake upstream (the example streams of the
# wire fact sheet) under demo-friendly prompts. Needs `swift build` first. Usage: scripts/make-demo-cassette.sh [OUT]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${BIN:-$root/.build/debug}"
out="${1:-$root/cassettes/demo.sqlite}"
work="$(mktemp -d)"
trap 'kill $fake_pid $deck_pid 2>/dev/null || true; rm -rf "$work"' EXIT

"$bin/tapedeck-fake-upstream" --port 0 > "$work/fake.log" 2>&1 &
fake_pid=$!
until grep -q 'fake upstream on' "$work/fake.log"; do sleep 0.05; done
upstream=$(grep -o 'http://127.0.0.1:[0-9]*' "$work/fake.log")

CI= "$bin/tapedeck" serve --mode record --upstream "$upstream" --port 0 --cassette "$work/demo.sqlite" --log-level warning \
    > "$work/deck.log" 2>&1 &
deck_pid=$!
until grep -q 'ANTHROPIC_BASE_URL' "$work/deck.log"; do sleep 0.05; done
base=$(grep -o 'http://127.0.0.1:[0-9]*' "$work/deck.log" | head -1)

record() {  # scenario, body
    curl -sS -o /dev/null "$base/v1/messages" -H 'content-type: application/json' -H 'anthropic-version: 2023-06-01' \
        -H "fake-scenario: $1" -d "$2"
}
record text '{"model":"claude-sonnet-4-5","max_tokens":1024,"stream":true,"messages":[{"role":"user","content":"Hello! Can you help me?"}]}'
record thinking '{"model":"claude-sonnet-4-5","max_tokens":2048,"stream":true,"thinking":{"type":"enabled","budget_tokens":1024},"messages":[{"role":"user","content":"What is 27 * 453?"}]}'
record tool '{"model":"claude-sonnet-4-5","max_tokens":1024,"stream":true,"tools":[{"name":"get_weather","description":"Get the current weather for a location","input_schema":{"type":"object","properties":{"location":{"type":"string"},"unit":{"type":"string","enum":["celsius","fahrenheit"]}},"required":["location"]}}],"messages":[{"role":"user","content":"What is the weather in San Francisco?"}]}'
record stop '{"model":"claude-sonnet-4-5","max_tokens":1024,"stream":true,"stop_sequences":["</answer>"],"messages":[{"role":"user","content":"What is 6 times 7? Answer inside <answer></answer> tags."}]}'
record midstream_error '{"model":"claude-sonnet-4-5","max_tokens":1024,"stream":true,"messages":[{"role":"user","content":"Tell me a long story."}]}'
record overloaded '{"model":"claude-sonnet-4-5","max_tokens":1024,"messages":[{"role":"user","content":"Are you there?"}]}'

kill "$deck_pid"; wait "$deck_pid" 2>/dev/null || true
# One self-contained file: fold the write-ahead log in before copying.
sqlite3 "$work/demo.sqlite" 'PRAGMA wal_checkpoint(TRUNCATE); VACUUM;' > /dev/null
cp "$work/demo.sqlite" "$out"
rm -f "$out-wal" "$out-shm"
echo "wrote $out ($(sqlite3 "$out" 'SELECT COUNT(*) FROM interaction') interactions)"
