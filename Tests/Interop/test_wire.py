"""Raw HTTP checks, without the SDK: error envelopes, routing, headers, SSE framing and grammar."""

from __future__ import annotations

import json

import httpx
import pytest

from support import MODEL, REQ_ID_RE, user
from test_tools import WEATHER

BODY = {"model": MODEL, "max_tokens": 1024, "messages": user("Name three uses for magnetic tape.")}

REQUESTS = {
    "text": BODY,
    "thinking": {**BODY, "max_tokens": 2048, "thinking": {"type": "enabled", "budget_tokens": 1024}},
    "tool": {**BODY, "tools": [WEATHER], "tool_choice": {"type": "tool", "name": "get_weather"}},
    "stop_sequence": {
        **BODY,
        "stop_sequences": ["</answer>"],
        "messages": user("Answer inside <answer></answer> tags: what is six times seven?"),
    },
    "max_tokens": {**BODY, "max_tokens": 5},
}


def assert_error(response, status, error_type):
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert REQ_ID_RE.match(response.headers.get("request-id", "")), response.headers
    body = response.json()
    assert body["type"] == "error"
    assert body["error"]["type"] == error_type
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body


def parse_sse(raw: bytes) -> list[tuple[str, dict]]:
    """Parse an SSE body strictly as the API frames it: `event:` + `data:` + blank line, LF only."""
    text = raw.decode("utf-8")
    assert "\r" not in text, "SSE must use LF line endings"
    assert text.endswith("\n\n"), "stream must end with a blank line"
    events = []
    for chunk in text[:-2].split("\n\n"):
        lines = chunk.split("\n")
        assert len(lines) == 2, f"expected exactly an event: and a data: line, got {lines!r}"
        assert lines[0].startswith("event: "), lines
        assert lines[1].startswith("data: "), lines
        name = lines[0][len("event: ") :]
        data = json.loads(lines[1][len("data: ") :])
        assert data.get("type") == name, f"event: {name!r} but data type {data.get('type')!r}"
        events.append((name, data))
    return events


def assemble(events: list[tuple[str, dict]]) -> dict:
    """Check the event grammar and build the Message the way an SDK would."""
    names = [n for n, _ in events]
    assert names[0] == "message_start", names
    assert names[-1] == "message_stop", names
    message = events[0][1]["message"]
    assert message["content"] == [] and message["stop_reason"] is None
    open_index = None
    message_deltas = 0
    partial_json = {}
    for name, data in events[1:-1]:
        if name == "ping":
            continue
        assert message_deltas == 0 or name == "message_delta", f"{name} after message_delta"
        if name == "content_block_start":
            assert open_index is None, "content blocks interleave"
            assert data["index"] == len(message["content"]), "content_block_start out of order"
            open_index = data["index"]
            message["content"].append(data["content_block"])
        elif name == "content_block_delta":
            assert data["index"] == open_index, "delta for a block that is not open"
            block, delta = message["content"][open_index], data["delta"]
            if delta["type"] == "text_delta":
                block["text"] += delta["text"]
            elif delta["type"] == "thinking_delta":
                block["thinking"] += delta["thinking"]
            elif delta["type"] == "signature_delta":
                block["signature"] += delta["signature"]
            elif delta["type"] == "input_json_delta":
                partial_json[open_index] = partial_json.get(open_index, "") + delta["partial_json"]
            else:
                pytest.fail(f"unexpected delta type {delta['type']}")
        elif name == "content_block_stop":
            assert data["index"] == open_index
            if open_index in partial_json:
                message["content"][open_index]["input"] = json.loads(partial_json[open_index] or "{}")
            open_index = None
        elif name == "message_delta":
            message_deltas += 1
            message["stop_reason"] = data["delta"]["stop_reason"]
            message["stop_sequence"] = data["delta"].get("stop_sequence")
            message["usage"].update(data["usage"])  # cumulative totals: overwrite
        else:
            pytest.fail(f"unexpected event {name}")
    assert open_index is None, "a content block was never stopped"
    assert message_deltas >= 1, "no message_delta"
    return message


def comparable(message: dict) -> dict:
    keys = ("id", "type", "role", "content", "stop_reason", "stop_sequence")
    return {k: message.get(k) for k in keys} | {"output_tokens": message["usage"]["output_tokens"]}


def test_malformed_json_is_a_bad_request(http):
    r = http.post("/v1/messages", content=b'{"model": "claude-sonnet-4-5", "max_tokens": ')

    assert_error(r, 400, "invalid_request_error")


def test_non_object_json_is_a_bad_request(http):
    r = http.post("/v1/messages", content=b"[1, 2, 3]")

    assert_error(r, 400, "invalid_request_error")


def test_missing_max_tokens_is_a_bad_request(http):
    r = http.post("/v1/messages", json={"model": MODEL, "messages": user("Hi")})

    body = assert_error(r, 400, "invalid_request_error")
    assert "max_tokens" in body["error"]["message"]


def test_unknown_path_is_not_found(http):
    r = http.get("/v1/nope")

    assert_error(r, 404, "not_found_error")


def test_json_response_headers(http):
    r = http.post("/v1/messages", json=BODY)

    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert REQ_ID_RE.match(r.headers["request-id"]), r.headers
    assert r.json()["type"] == "message"


@pytest.mark.parametrize(
    "path", ["/v1/messages?beta=true", "/v1/messages/count_tokens?beta=true", "/v1/models?beta=true"]
)
def test_beta_query_is_accepted(http, path):
    plain_path = path.split("?")[0]
    if plain_path == "/v1/models":
        with_query, without = http.get(path), http.get(plain_path)
    else:
        body = BODY if plain_path == "/v1/messages" else {"model": MODEL, "messages": BODY["messages"]}
        with_query, without = http.post(path, json=body), http.post(plain_path, json=body)

    assert with_query.status_code == 200, with_query.text
    assert with_query.json() == without.json()


def test_auth_styles_and_versions_get_the_same_answer(tapedeck):
    base = {"content-type": "application/json"}
    variants = [
        {"x-api-key": "k1", "anthropic-version": "2023-06-01"},
        {"authorization": "Bearer k2", "anthropic-version": "2026-10-21"},
        {"anthropic-version": "2023-06-01"},  # no key at all: replay and synthesis do not need one
        {"x-api-key": "k3", "anthropic-version": "2023-06-01", "anthropic-beta": "interleaved-thinking-2025-05-14"},
    ]
    bodies = []
    for headers in variants:
        # a bare request (not the `http` fixture) so that no default auth header is added
        r = httpx.post(f"{tapedeck.base_url}/v1/messages", json=BODY, headers={**base, **headers}, timeout=30)
        assert r.status_code == 200, (headers, r.text)
        bodies.append(r.json())

    assert all(b == bodies[0] for b in bodies[1:])


@pytest.mark.parametrize("kind", sorted(REQUESTS))
def test_stream_framing_grammar_and_content(http, kind):
    body = REQUESTS[kind]
    # Python SDKs send `Accept: application/json` even for streams.
    with http.stream(
        "POST", "/v1/messages", json={**body, "stream": True}, headers={"accept": "application/json"}
    ) as r:
        raw = r.read()

    assert r.status_code == 200, raw[:500]
    assert r.headers["content-type"].startswith("text/event-stream")
    assert REQ_ID_RE.match(r.headers.get("request-id", "")), r.headers
    assembled = assemble(parse_sse(raw))

    plain = http.post("/v1/messages", json=body)
    assert plain.status_code == 200, plain.text
    assert comparable(assembled) == comparable(plain.json())
    expected_stop = {"max_tokens": "max_tokens", "tool": "tool_use", "stop_sequence": "stop_sequence"}
    assert assembled["stop_reason"] == expected_stop.get(kind, "end_turn")


def test_stream_false_is_plain_json(http):
    r = http.post("/v1/messages", json={**BODY, "stream": False})

    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    assert r.json()["type"] == "message"


def test_health_endpoint(http):
    r = http.get("/_tapedeck/health")

    assert r.status_code == 200
