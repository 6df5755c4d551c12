#!/usr/bin/env bash
# The commands of docs/recipes/curl.md, in order, against a server started with
#   tapedeck serve --cassette cassettes/demo.sqlite
# Usage: docs/recipes/curl.sh [BASE_URL]   (default http://127.0.0.1:4010)
set -euo pipefail
base="${1:-http://127.0.0.1:4010}"
admin=()  # the admin API (all of /_tapedeck/ but health) needs a bearer token only if tapedeck has one
if [ -n "${TAPEDECK_ADMIN_TOKEN:-}" ]; then admin=(-H "authorization: Bearer $TAPEDECK_ADMIN_TOKEN"); fi

echo "== health"
curl -fsS "$base/_tapedeck/health"
echo

echo "== message"
curl -fsS "$base/v1/messages" \
  -H 'content-type: application/json' -H 'x-api-key: anything' -H 'anthropic-version: 2023-06-01' \
  -d '{"model":"claude-sonnet-4-5","max_tokens":1024,"messages":[{"role":"user","content":"Hello! Can you help me?"}]}'
echo

echo "== stream"
curl -fsSN "$base/v1/messages" \
  -H 'content-type: application/json' -H 'x-api-key: anything' -H 'anthropic-version: 2023-06-01' \
  -d '{"model":"claude-sonnet-4-5","max_tokens":2048,"stream":true,"thinking":{"type":"enabled","budget_tokens":1024},"messages":[{"role":"user","content":"What is 27 * 453?"}]}'

echo "== synthesized"
curl -fsS -i "$base/v1/messages" \
  -H 'content-type: application/json' -H 'x-api-key: anything' -H 'anthropic-version: 2023-06-01' \
  -d '{"model":"claude-sonnet-4-5","max_tokens":64,"messages":[{"role":"user","content":"Hello"}]}'
echo

echo "== count_tokens"
curl -fsS "$base/v1/messages/count_tokens" \
  -H 'content-type: application/json' -H 'x-api-key: anything' -H 'anthropic-version: 2023-06-01' \
  -d '{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"Hello! Can you help me?"}]}'
echo

echo "== models"
curl -fsS "$base/v1/models?limit=2" -H 'x-api-key: anything' -H 'anthropic-version: 2023-06-01'
echo
curl -fsS "$base/v1/models/claude-sonnet-4-5" -H 'x-api-key: anything' -H 'anthropic-version: 2023-06-01'
echo

echo "== fault"
curl -sS -i "$base/v1/messages" \
  -H 'tapedeck-fault: overloaded;retry_after_ms=10' \
  -H 'content-type: application/json' -H 'x-api-key: anything' -H 'anthropic-version: 2023-06-01' \
  -d '{"model":"claude-sonnet-4-5","max_tokens":1024,"messages":[{"role":"user","content":"Hello! Can you help me?"}]}'
echo

echo "== server-wide fault"
curl -fsS "$base/_tapedeck/faults" "${admin[@]}" \
  -H 'content-type: application/json' -d '{"fault":"rate_limit;retry_after=1","count":1}'
echo
curl -sS -i "$base/v1/messages" \
  -H 'content-type: application/json' -H 'x-api-key: anything' -H 'anthropic-version: 2023-06-01' \
  -d '{"model":"claude-sonnet-4-5","max_tokens":1024,"messages":[{"role":"user","content":"Hello! Can you help me?"}]}'
echo

echo "== journal"
curl -fsS "$base/_tapedeck/journal?limit=20" "${admin[@]}"
echo

echo "== reset"
curl -fsS -X POST "$base/_tapedeck/reset" "${admin[@]}"
echo
