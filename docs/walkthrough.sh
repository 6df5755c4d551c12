#!/usr/bin/env bash
# The README's record → replay walk-through as one script (CI runs it): record a conversation through an upstream,
# stop the upstream, replay it offline. With no key it records from the bundled fake upstream; with
# ANTHROPIC_API_KEY set and UPSTREAM=https://api.anthropic.com it records from the real API.
# TAPEDECK and FAKE_UPSTREAM name the commands (default: swift run from this checkout).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
TAPEDECK="${TAPEDECK:-swift run -q tapedeck}"
FAKE_UPSTREAM="${FAKE_UPSTREAM:-swift run -q tapedeck-fake-upstream}"
PORT="${PORT:-4010}"
# The fake upstream's port; a test passes one it found free, since PORT + 1 may be taken.
FAKE_PORT="${FAKE_PORT:-$((PORT + 1))}"
cassette="$(mktemp -d)/walkthrough.sqlite"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT

wait_for() { for _ in $(seq 600); do curl -sf "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done; echo "no answer from $1" >&2; return 1; }
ask() {
    curl -sS "http://127.0.0.1:$PORT/v1/messages" -H 'content-type: application/json' -H "x-api-key: ${ANTHROPIC_API_KEY:-none}" \
        -d '{"model":"claude-sonnet-4-5","max_tokens":256,"messages":[{"role":"user","content":"Say hello to the walk-through."}]}'
}

# 1. An upstream to record from: the real API, or the fake one that ships with the tests.
if [ -z "${UPSTREAM:-}" ]; then
    $FAKE_UPSTREAM --port "$FAKE_PORT" & pids+=($!)
    UPSTREAM="http://127.0.0.1:$FAKE_PORT"
    wait_for "$UPSTREAM/v1/models" || true
fi

# 2. Record: the answer is proxied and saved.
$TAPEDECK serve --mode record --allow-upstream-in-ci --upstream "$UPSTREAM" --port "$PORT" --cassette "$cassette" & pids+=($!)
wait_for "http://127.0.0.1:$PORT/_tapedeck/health"
recorded="$(ask)"
echo "recorded: $recorded"
kill "${pids[@]}"; wait "${pids[@]}" 2>/dev/null || true; pids=()

# 3. Replay: no upstream, no key, and a miss is an error rather than a synthetic answer.
$TAPEDECK cassette list "$cassette"
$TAPEDECK serve --cassette "$cassette" --on-miss error --port "$PORT" & pids+=($!)
wait_for "http://127.0.0.1:$PORT/_tapedeck/health"
replayed="$(ask)"
echo "replayed: $replayed"
[ "$recorded" = "$replayed" ] && echo "walk-through: the replay is byte for byte the recording"
