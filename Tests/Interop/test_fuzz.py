"""Bounded, deterministic fuzzing of the HTTP surface: mutated API requests, hostile tool schemas, raw-socket garbage.

Part 1 (``test_fuzz_mutated_requests``) starts from a pool of valid request bodies, applies up to three random
mutations per case (deleted fields, swapped types, huge numbers, odd Unicode, deep nesting, 1 MB strings,
duplicate keys, extreme tool-schema keywords, inserted/invalid bytes, truncation, empty bodies, wrong content
types, odd methods, paths, headers and queries) and sends each to one server with httpx. Every answer must be
below 500 and be either a well-formed error envelope (status matching ``error.type``, ``request-id`` header equal
to ``request_id``) or a valid answer (a Message, an SSE stream in the API's event grammar, a token count, a model
list). Every ``CHECK_EVERY`` cases, and at the end, a known-good request must get the same answer as at the start
and the process must still run.

``test_fuzz_hostile_tool_schema`` sends, to the same server, one request per tool ``input_schema`` that once
crashed or hung it (integer bounds beyond Int's range, ``maxLength: -1``, ``minItems``/``minLength``/
``minProperties`` of a billion, twenty nested arrays). Synthesized tool input is bounded whatever the schema asks:
arrays get at most 64 items, strings at most 4096 characters, objects at most 64 extra properties, one tool input
at most 2000 values, and integer bounds are clamped to ±2^53. Each must answer 200 with a valid message within
``HOSTILE_SCHEMA_TIMEOUT``, and its tool input must respect those bounds.

Part 2 (``test_fuzz_raw_socket``) writes bytes no HTTP client would send (a TLS ClientHello, binary noise, broken
chunked bodies, pipelined requests, absolute-form request lines, HTTP/1.0, a 100 KB header, ...) to a second
server over plain sockets; then a good request must still succeed. A broken chunked body, or one shorter than its
``Content-Length``, gets 400 ``invalid_request_error``. ``test_fuzz_http10_connection_closes``: an HTTP/1.0
request without ``Connection: keep-alive`` is answered and the connection closed. ``test_fuzz_connection_cap``:
beyond ``--max-connections`` (default 512; 4 here) a connection's first request gets 529 ``overloaded_error`` and
the connection closes; once a held connection goes away, new ones are served again.

Everything random comes from ``random.Random``: case ``i`` uses ``Random(SEED * 1_000_003 + i)``, so one case
can be rebuilt alone. ``TAPEDECK_FUZZ_SEED`` (default 7) and ``TAPEDECK_FUZZ_CASES`` (default 1000, about 9 s
with the debug build) set the run:

    TAPEDECK_FUZZ_SEED=11 TAPEDECK_FUZZ_CASES=5000 Tests/Interop/run.sh -q -k fuzz
    python test_fuzz.py 7 123     # prints case 123 of seed 7 (and a curl line), writes its body to fuzz-7-123.bin
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import random
import socket
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Optional

import httpx
import pytest

from support import MODEL, MSG_ID_RE, REQ_ID_RE, start_tapedeck
from test_wire import assemble, parse_sse

SEED = int(os.environ.get("TAPEDECK_FUZZ_SEED", "7"))
CASES = int(os.environ.get("TAPEDECK_FUZZ_CASES", "1000"))
CHECK_EVERY = 40  # cases between two known-good requests
CASE_TIMEOUT = 10.0  # seconds per request; a synthesized answer takes milliseconds
MiB = 1024 * 1024

HEADERS = {"x-api-key": "test-key", "anthropic-version": "2023-06-01", "content-type": "application/json"}
ERROR_TYPE_FOR_STATUS = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
}
STOP_REASONS = {"end_turn", "max_tokens", "stop_sequence", "tool_use", "pause_turn", "refusal", "model_context_window_exceeded"}

# ---------------------------------------------------------------------------------------------------------------
# Valid request bodies
# ---------------------------------------------------------------------------------------------------------------

PNG_1X1 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Get the weather forecast for a place.",
    "input_schema": {
        "type": "object",
        "properties": {
            "location": {"type": "string"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            "days": {"type": "integer", "minimum": 1, "maximum": 7},
        },
        "required": ["location", "unit"],
    },
}
EVENT_TOOL = {
    "name": "create_event",
    "description": "Create a calendar event.",
    "input_schema": {
        "type": "object",
        "$defs": {"person": {"type": "object", "properties": {"email": {"type": "string", "format": "email"}}, "required": ["email"]}},
        "properties": {
            "title": {"type": "string", "minLength": 1, "maxLength": 80},
            "start": {"type": "string", "format": "date-time"},
            "attendees": {"type": "array", "minItems": 1, "maxItems": 4, "items": {"$ref": "#/$defs/person"}},
            "priority": {"anyOf": [{"type": "integer", "minimum": 0, "maximum": 3}, {"type": "null"}]},
            "duration_hours": {"type": "number", "exclusiveMinimum": 0, "maximum": 12},
            "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
            "location": {"type": "object", "properties": {"city": {"type": "string"}, "room": {"type": "integer"}}},
            "kind": {"const": "meeting"},
        },
        "required": ["title", "start", "attendees"],
    },
}


def _user(text: Any) -> list[dict]:
    return [{"role": "user", "content": text}]


def _base(**extra) -> dict:
    return {"model": MODEL, "max_tokens": 256, "messages": _user("Name three uses for magnetic tape."), **extra}


POOL: dict[str, dict] = {
    "plain": _base(),
    "multi_turn": _base(messages=[
        {"role": "user", "content": "Hi there."},
        {"role": "assistant", "content": "Hello! How can I help?"},
        {"role": "user", "content": [{"type": "text", "text": "Explain reel-to-reel tape in one line."}]},
    ]),
    "system_string": _base(system="You are terse."),
    "system_blocks": _base(system=[
        {"type": "text", "text": "You are a librarian.", "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": "Answer in English."},
    ]),
    "thinking": _base(max_tokens=2048, thinking={"type": "enabled", "budget_tokens": 1024}),
    "thinking_adaptive": _base(max_tokens=2048, thinking={"type": "adaptive", "display": "omitted"}),
    "tool_forced": _base(tools=[WEATHER_TOOL], tool_choice={"type": "tool", "name": "get_weather"},
                         messages=_user("What's the weather in Paris for three days?")),
    "tools_schema": _base(max_tokens=1024, tools=[WEATHER_TOOL, EVENT_TOOL], tool_choice={"type": "any"},
                          messages=_user("Book a meeting with Ada tomorrow.")),
    "tools_auto": _base(tools=[WEATHER_TOOL], tool_choice={"type": "auto", "disable_parallel_tool_use": True}),
    "stop_sequences": _base(stop_sequences=["</answer>", "STOP"],
                            messages=_user("Answer inside <answer></answer> tags: what is six times seven?")),
    "image_base64": _base(messages=_user([
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_1X1}},
        {"type": "text", "text": "What is in this picture?"},
    ])),
    "image_url": _base(messages=_user([
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
        {"type": "text", "text": "Describe it."},
    ])),
    "tool_turns": _base(tools=[WEATHER_TOOL], messages=[
        {"role": "user", "content": "What's the weather in Paris?"},
        {"role": "assistant", "content": [
            {"type": "text", "text": "Let me check."},
            {"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9", "name": "get_weather",
             "input": {"location": "Paris, France", "unit": "celsius"}},
        ]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_01A09q90qw90lq917835lq9", "content": "18 degrees, sunny"},
        ]},
    ]),
    "tool_error_turn": _base(tools=[WEATHER_TOOL], messages=[
        {"role": "user", "content": "Weather in Atlantis?"},
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": "toolu_01B09q90qw90lq917835lq9", "name": "get_weather",
             "input": {"location": "Atlantis", "unit": "celsius"}},
        ]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_01B09q90qw90lq917835lq9", "is_error": True,
             "content": [{"type": "text", "text": "unknown place"}]},
        ]},
    ]),
    "sampling": _base(max_tokens=64, temperature=0.5, top_p=0.9, top_k=40, metadata={"user_id": "u-1"}),
    "small_max_tokens": _base(max_tokens=5),
}
GENERATION_ONLY = ("max_tokens", "stream", "stop_sequences", "metadata", "temperature", "top_p", "top_k")


def count_tokens_body(body: dict) -> dict:
    return {k: v for k, v in body.items() if k not in GENERATION_ONLY}


GOOD_BODY = json.dumps({"model": MODEL, "max_tokens": 64, "messages": _user("Known-good ping.")}).encode()

# ---------------------------------------------------------------------------------------------------------------
# JSON text with things json.dumps cannot write: raw tokens, duplicate keys, escaped lone surrogates
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class Raw:
    """JSON text emitted as is (``1e309``, 5000 nested arrays, ...)."""

    text: str

    def __repr__(self) -> str:
        return f"Raw({self.text[:40]!r}{'...' if len(self.text) > 40 else ''})"


@dataclass
class Dup:
    """An object written from a list of pairs, so a key may appear twice."""

    pairs: list


def _has_surrogate(s: str) -> bool:
    return any(0xD800 <= ord(c) <= 0xDFFF for c in s)


def encode_json(value: Any) -> str:
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, str):
        # A lone surrogate can only be written escaped (\ud800); other text goes out as raw UTF-8.
        return json.dumps(value, ensure_ascii=_has_surrogate(value))
    if isinstance(value, dict):
        return "{" + ",".join(f"{encode_json(str(k))}:{encode_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, Dup):
        return "{" + ",".join(f"{encode_json(str(k))}:{encode_json(v)}" for k, v in value.pairs) + "}"
    if isinstance(value, list):
        return "[" + ",".join(encode_json(v) for v in value) + "]"
    return json.dumps(value)


class Pairs(list):
    """A decoded JSON object that keeps every pair, duplicates included."""


def decode_pairs(data: bytes) -> Any:
    """The body as the server could read it (``Pairs`` for objects), or ``None`` if it is not JSON to Python."""
    try:
        return json.loads(data.decode("utf-8"), object_pairs_hook=Pairs)
    except (ValueError, RecursionError):
        return None


# ---------------------------------------------------------------------------------------------------------------
# Mutations
# ---------------------------------------------------------------------------------------------------------------

ODD_TEXT = [
    "\ud800", "\udfff", "lone \ud83d high", "\u202eRTL override\u202c", "\u200f\u200e", "emoji \U0001F600\U0001F9D1\u200d\U0001F680",
    "nul \u0000 inside", "\ufeffBOM", "\U0010ffff", "e\u0301\u0301\u0301", "line\u2028sep", "\x7f\x1b[31m", "",
    " ", "\t\n", "claude-sonnet-4-5\u0000",
]
HUGE_NUMBERS = [
    "1e309", "-1e309", "1" + "0" * 40, "-1", "0", "-0", "9223372036854775808", "18446744073709551616",
    "-9223372036854775809", "1e-400", "0.5", "9007199254740993", "1E2", "1.0", "2e9", "4294967296", "-2147483649",
]


def _nodes(value: Any, path: tuple = ()) -> list[tuple]:
    """Every (path, value) below ``value`` (dict keys and list indices), depth first."""
    out = []
    if isinstance(value, dict):
        for k, v in value.items():
            out.append((path + (k,), v))
            out.extend(_nodes(v, path + (k,)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.append((path + (i,), v))
            out.extend(_nodes(v, path + (i,)))
    return out


def _parent(root: Any, path: tuple) -> Any:
    node = root
    for step in path[:-1]:
        node = node[step]
    return node


def _set(root: Any, path: tuple, value: Any) -> None:
    _parent(root, path)[path[-1]] = value


def _fmt(path: tuple) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path) or "<root>"


def _odd_value(rng: random.Random, current: Any) -> Any:
    """A value of another JSON type."""
    choices = [
        ("string", lambda: rng.choice(["", "x", "true", "null", "1", MODEL, "user", "text", rng.choice(ODD_TEXT)])),
        ("number", lambda: rng.choice([0, 1, -1, 3.5, 1e3, 2**31])),
        ("bool", lambda: rng.choice([True, False])),
        ("null", lambda: None),
        ("array", lambda: rng.choice([[], [1], ["x"], [None], [{}]])),
        ("object", lambda: rng.choice([{}, {"type": "text"}, {"": None}])),
    ]
    kind = {str: "string", bool: "bool", type(None): "null", list: "array", dict: "object"}.get(type(current), "number")
    options = [c for c in choices if c[0] != kind]
    return rng.choice(options)[1]()


def m_delete(rng, body, notes):
    paths = [p for p, _ in _nodes(body) if not isinstance(p[-1], int)]
    if paths:
        path = rng.choice(paths)
        del _parent(body, path)[path[-1]]
        notes.append(f"delete {_fmt(path)}")
    return body


def m_swap_type(rng, body, notes):
    nodes = _nodes(body)
    if nodes:
        path, current = rng.choice(nodes)
        new = _odd_value(rng, current)
        _set(body, path, new)
        notes.append(f"swap {_fmt(path)} -> {new!r}"[:120])
    return body


def m_huge_number(rng, body, notes):
    nodes = _nodes(body)
    numeric = [(p, v) for p, v in nodes if isinstance(v, (int, float)) and not isinstance(v, bool)]
    pool = numeric if numeric and rng.random() < 0.7 else nodes
    if pool:
        path, _ = rng.choice(pool)
        text = rng.choice(HUGE_NUMBERS)
        _set(body, path, Raw(text))
        notes.append(f"number {_fmt(path)} = {text[:24]}")
    return body


def m_odd_unicode(rng, body, notes):
    strings = [(p, v) for p, v in _nodes(body) if isinstance(v, str)]
    odd = rng.choice(ODD_TEXT)
    if strings and rng.random() < 0.85:
        path, current = rng.choice(strings)
        at = rng.randint(0, len(current))
        _set(body, path, current[:at] + odd + current[at:])
        notes.append(f"unicode {_fmt(path)} += {odd!r}")
    else:  # an odd key
        dicts = [body] + [v for _, v in _nodes(body) if isinstance(v, dict)]
        target = rng.choice(dicts)
        target[odd] = "value"
        notes.append(f"unicode key {odd!r}")
    return body


def m_deep_nesting(rng, body, notes):
    nodes = _nodes(body)
    if nodes:
        path, _ = rng.choice(nodes)
        depth = rng.choice([5000, 5000, 127, 128, 129, 100_000])
        if rng.random() < 0.5:
            text = "[" * depth + "]" * depth
        else:
            text = '{"a":' * depth + "1" + "}" * depth
        _set(body, path, Raw(text))
        notes.append(f"nest {_fmt(path)} depth {depth}")
    return body


def m_long_string(rng, body, notes):
    strings = [(p, v) for p, v in _nodes(body) if isinstance(v, str)]
    if strings:
        path, _ = rng.choice(strings)
        unit = rng.choice(["a", "word ", "\u00e9", "\U0001F600", "\\", '"'])
        text = unit * (MiB // len(unit.encode()))
        _set(body, path, text)
        notes.append(f"long {_fmt(path)} = {unit!r} * {len(text)}")
    return body


def m_duplicate_key(rng, body, notes):
    if isinstance(body, Dup):
        return body
    dict_paths = [()] + [p for p, v in _nodes(body) if isinstance(v, dict) and v]
    path = rng.choice(dict_paths)
    target = body if path == () else _parent(body, path)[path[-1]]
    if not target:
        return body
    key = rng.choice(list(target))
    pairs = list(target.items())
    other = _odd_value(rng, target[key]) if rng.random() < 0.7 else copy.deepcopy(target[key])
    pairs.insert(rng.randint(0, len(pairs)), (key, other))
    dup = Dup(pairs)
    if path == ():
        body = dup
    else:
        _set(body, path, dup)
    notes.append(f"duplicate {_fmt(path + (key,))} also {other!r}"[:120])
    return body


def m_unknown_field(rng, body, notes):
    if isinstance(body, Dup):
        return body
    dicts = [((), body)] + [(p, v) for p, v in _nodes(body) if isinstance(v, dict)]
    path, target = rng.choice(dicts)
    key = rng.choice(["extra", "__proto__", "constructor", "type", "$ref", "stream", "model", "x" * 300])
    target[key] = _odd_value(rng, None)
    notes.append(f"add {_fmt(path + (key[:20],))}")
    return body


def m_empty_container(rng, body, notes):
    containers = [(p, v) for p, v in _nodes(body) if isinstance(v, (dict, list))]
    if containers:
        path, current = rng.choice(containers)
        _set(body, path, {} if isinstance(current, dict) else [])
        notes.append(f"empty {_fmt(path)}")
    return body


SCHEMA_KEYWORDS = ["minLength", "maxLength", "minItems", "maxItems", "minimum", "maximum", "exclusiveMinimum",
                   "exclusiveMaximum", "multipleOf", "minProperties", "maxProperties"]
SCHEMA_NUMBERS = [0, -1, 1, 2**31, 2**53, 2**62, 2**63, 10**40, 1e19, -1e308, 0.5, 1e-300, 10**6, 9e18, Raw("1e309")]
SCHEMA_OTHER = [
    ("type", ["string", "null"]), ("type", "nonsense"), ("type", 5), ("type", []), ("enum", []), ("enum", [None]),
    ("const", None), ("required", ["missing"]), ("required", "title"), ("$ref", "#/nope"), ("$ref", "#/$defs/missing"),
    ("$ref", "http://example.com/schema"), ("anyOf", []), ("anyOf", [{}]), ("oneOf", [{"type": "null"}]),
    ("allOf", [{"$ref": "#/nope"}]), ("format", "nonsense"), ("pattern", "((("), ("items", False), ("properties", []),
]


def m_schema_extreme(rng, body, notes):
    """Extreme JSON Schema keywords inside a tool's input_schema (the synthesizer instantiates these)."""
    tools = body.get("tools") if isinstance(body, dict) else None
    schemas = []
    if isinstance(tools, list):
        for i, tool in enumerate(tools):
            if isinstance(tool, dict) and isinstance(tool.get("input_schema"), dict):
                root = ("tools", i, "input_schema")
                schemas.append((root, tool["input_schema"]))
                schemas += [(root + p, v) for p, v in _nodes(tool["input_schema"]) if isinstance(v, dict)]
    if not schemas:
        return m_swap_type(rng, body, notes)
    path, node = rng.choice(schemas)
    if rng.random() < 0.6:
        key, value = rng.choice(SCHEMA_KEYWORDS), rng.choice(SCHEMA_NUMBERS)
    else:
        key, value = rng.choice(SCHEMA_OTHER)
    node[key] = copy.deepcopy(value)
    notes.append(f"schema {_fmt(path)}.{key} = {value!r}")
    return body


# Byte-level mutations, applied to the encoded body.
def b_insert_bytes(rng, data, notes):
    for _ in range(rng.randint(1, 3)):
        at = rng.randint(0, len(data))
        junk = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 8)))
        data = data[:at] + junk + data[at:]
        notes.append(f"insert {junk!r} at {at}")
    return data


def b_truncate(rng, data, notes):
    at = rng.randint(0, max(0, len(data) - 1))
    notes.append(f"truncate at {at}/{len(data)}")
    return data[:at]


def b_non_utf8(rng, data, notes):
    bad = rng.choice([b"\xff", b"\xfe\xff", b"\x80", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\xe2\x82", b"\xc3"])
    quotes = [i + 1 for i, c in enumerate(data) if c == 0x22]  # just inside a string, most of the time
    at = rng.choice(quotes) if quotes and rng.random() < 0.8 else rng.randint(0, len(data))
    notes.append(f"non-utf8 {bad!r} at {at}")
    return data[:at] + bad + data[at:]


def b_flip(rng, data, notes):
    if data:
        at = rng.randrange(len(data))
        bit = 1 << rng.randrange(8)
        data = data[:at] + bytes([data[at] ^ bit]) + data[at + 1 :]
        notes.append(f"flip bit {bit} at {at}")
    return data


def b_empty(rng, data, notes):
    notes.append("empty body")
    return b""


STRUCTURAL = [
    (m_delete, 12), (m_swap_type, 14), (m_huge_number, 10), (m_odd_unicode, 10), (m_deep_nesting, 4),
    (m_long_string, 2), (m_duplicate_key, 6), (m_unknown_field, 4), (m_empty_container, 4), (m_schema_extreme, 6),
]
BYTES = [(b_insert_bytes, 6), (b_truncate, 6), (b_non_utf8, 5), (b_flip, 3), (b_empty, 2)]
REQUEST_LEVEL = 12  # weight of "change the content type, method, path or headers"
NO_MUTATION = 3


def _weighted(rng: random.Random, items: list) -> Any:
    return rng.choices([f for f, _ in items], weights=[w for _, w in items])[0]


# ---------------------------------------------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class Case:
    index: int
    base: str
    method: str
    path: str
    headers: dict
    body: Optional[bytes]
    notes: list = field(default_factory=list)
    expect_kind: Optional[str] = None  # message, count, models, model: what a 200 must be (None: any)
    expect_stream: Optional[bool] = None

    def describe(self) -> str:
        body = self.body
        if body is None:
            shown = "no body"
        elif len(body) <= 400:
            shown = f"body {body!r}"
        else:
            shown = f"body ({len(body)} bytes) {body[:240]!r} ... {body[-120:]!r}"
        headers = {k: v for k, v in self.headers.items() if HEADERS.get(k) != v}
        return (
            f"case {self.index} (TAPEDECK_FUZZ_SEED={SEED}; `python test_fuzz.py {SEED} {self.index}`): "
            f"base={self.base} mutations={self.notes} {self.method} {self.path} "
            f"headers(changed)={headers} {shown}"
        )


MODEL_IDS = ["claude-sonnet-4-5", "claude-sonnet-4-5-20250929", "deepseek-v4-pro", "nope", "", "%00", "%ff%fe",
             "..%2F..%2Fetc%2Fpasswd", "%E2%80%AE", "claude-sonnet-4-5%00", "x" * 5000, "claude-sonnet-4-5/extra"]
LIMITS = ["0", "-1", "1", "1000", "1001", "1e3", "abc", "", "1" + "0" * 40, "1.5", "%20%205", "%00", "20", "0x10"]


def _models_case(rng: random.Random, case: Case) -> None:
    case.method, case.body, case.base = "GET", None, "models"
    case.headers = {k: v for k, v in HEADERS.items() if k != "content-type"}
    if rng.random() < 0.3:
        model_id = rng.choice(MODEL_IDS)
        case.path = f"/v1/models/{model_id}"
        case.expect_kind = "model" if "/" not in model_id and model_id else None
        case.notes.append(f"model id {model_id[:40]!r}")
        return
    params = []
    for _ in range(rng.randint(1, 4)):
        name = rng.choice(["limit", "after_id", "before_id", "lifecycle[]", "beta", "limit", "x", "%ff"])
        value = rng.choice(LIMITS) if name == "limit" else rng.choice(MODEL_IDS + ["true", "active", "retired"])
        params.append(f"{name}={value}")
    case.path = "/v1/models?" + "&".join(params)
    case.expect_kind = "models"
    case.notes.append("odd query")


def _request_level(rng: random.Random, case: Case) -> None:
    what = rng.choice(["content-type", "content-type", "method", "path", "header"])
    if what == "content-type":
        ctype = rng.choice([None, "", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                            "application/json; charset=utf-16", "application/xml", "application/json, text/html", "*/*"])
        if ctype is None:
            case.headers.pop("content-type", None)
        else:
            case.headers["content-type"] = ctype
        case.notes.append(f"content-type {ctype!r}")
    elif what == "method":
        case.method = rng.choice(["GET", "PUT", "DELETE", "PATCH", "OPTIONS"])
        case.expect_kind = None
        case.notes.append(f"method {case.method}")
    elif what == "path":
        suffix = rng.choice(["/", "?beta=true", "?%ff=%00", "?stream=true", "/extra", "//", "?" + "q" * 4000])
        case.path = case.path.rstrip("/") + suffix if suffix.startswith("?") else case.path + suffix
        case.expect_kind = case.expect_kind if suffix.startswith("?") else None
        case.notes.append(f"path {case.path[:60]}")
    else:
        name, value = rng.choice([
            ("anthropic-version", "1999-01-01"), ("anthropic-version", ""), ("anthropic-beta", "nope,,,"),
            ("x-api-key", ""), ("authorization", "Bearer"), ("content-encoding", "gzip"), ("accept", "text/event-stream"),
            ("content-encoding", "br"), ("x-stainless-retry-count", "-5"), ("accept-encoding", "gzip"),
        ])
        case.headers[name] = value
        case.notes.append(f"header {name}: {value!r}")


def make_case(index: int) -> Case:
    """Case ``index`` of this seed, built from its own generator so it can be rebuilt alone."""
    rng = random.Random(SEED * 1_000_003 + index)
    case = Case(index=index, base="", method="POST", path="/v1/messages", headers=dict(HEADERS), body=None)
    endpoint = rng.choices(["messages", "count_tokens", "models"], weights=[70, 20, 10])[0]
    if endpoint == "models":
        _models_case(rng, case)
        if rng.random() < 0.2:
            _request_level(rng, case)
        return case

    case.base = rng.choice(sorted(POOL))
    body: Any = copy.deepcopy(POOL[case.base])
    if endpoint == "count_tokens":
        body = count_tokens_body(body)
        case.path, case.expect_kind = "/v1/messages/count_tokens", "count"
    else:
        body["stream"] = rng.random() < 0.4
        case.expect_kind = "message"

    count = rng.choices([0, 1, 2, 3], weights=[NO_MUTATION, 60, 30, 10])[0]
    structural, byte_level, request_level = [], [], 0
    for _ in range(count):
        group = rng.choices(["structural", "bytes", "request"], weights=[sum(w for _, w in STRUCTURAL), sum(w for _, w in BYTES), REQUEST_LEVEL])[0]
        if group == "structural":
            structural.append(_weighted(rng, STRUCTURAL))
        elif group == "bytes":
            byte_level.append(_weighted(rng, BYTES))
        else:
            request_level += 1
    structural.sort(key=lambda mutate: mutate is m_duplicate_key)  # a Dup cannot be mutated further
    for mutate in structural:
        body = mutate(rng, body, case.notes)
    data = encode_json(body).encode("utf-8", "surrogatepass")
    for mutate in byte_level:
        data = mutate(rng, data, case.notes)
    case.body = data
    for _ in range(request_level):
        _request_level(rng, case)
    if not case.notes:
        case.notes.append("none")
    if case.expect_kind == "message":
        parsed = decode_pairs(data)
        streams = [v for k, v in parsed if k == "stream"] if isinstance(parsed, Pairs) else []
        if isinstance(parsed, Pairs) and len(streams) <= 1 and all(isinstance(v, bool) for v in streams):
            case.expect_stream = bool(streams and streams[0])
    return case


# ---------------------------------------------------------------------------------------------------------------
# Checking answers
# ---------------------------------------------------------------------------------------------------------------


def check_error(status: int, headers, body: bytes, error_types: dict = ERROR_TYPE_FOR_STATUS) -> None:
    ctype = headers.get("content-type", "")
    assert ctype.startswith("application/json"), f"error with content-type {ctype!r}: {body[:300]!r}"
    envelope = json.loads(body)
    assert isinstance(envelope, dict) and set(envelope) == {"type", "error", "request_id"}, f"not an error envelope: {body[:300]!r}"
    assert envelope["type"] == "error", envelope
    error = envelope["error"]
    assert isinstance(error, dict) and isinstance(error.get("type"), str) and isinstance(error.get("message"), str), envelope
    assert set(error) <= {"type", "message", "details"}, envelope
    assert error["message"], f"empty error message: {envelope}"
    assert REQ_ID_RE.match(envelope["request_id"]), envelope
    assert headers.get("request-id") == envelope["request_id"], f"request-id header {headers.get('request-id')!r} vs body {envelope['request_id']!r}"
    if status == 405:
        return  # the fact sheet gives no error type for 405
    assert status in error_types, f"unexpected status {status}: {envelope}"
    assert error["type"] == error_types[status], f"status {status} with error type {error['type']!r}"


def check_message(message: Any) -> None:
    assert isinstance(message, dict), message
    assert MSG_ID_RE.match(str(message.get("id"))), message.get("id")
    assert message.get("type") == "message" and message.get("role") == "assistant", message
    assert isinstance(message.get("model"), str) and message["model"], message
    assert isinstance(message.get("content"), list), message
    for block in message["content"]:
        assert isinstance(block, dict) and isinstance(block.get("type"), str), block
    assert message.get("stop_reason") in STOP_REASONS, message.get("stop_reason")
    usage = message.get("usage")
    assert isinstance(usage, dict), usage
    for key in ("input_tokens", "output_tokens"):
        assert isinstance(usage.get(key), int) and not isinstance(usage[key], bool) and usage[key] >= 0, usage


def check_success(headers, body: bytes, expect_kind: Optional[str], expect_stream: Optional[bool]) -> str:
    """Check a 200 answer; returns its kind."""
    ctype = headers.get("content-type", "")
    if ctype.startswith("text/event-stream"):
        kind = "stream"
        assert expect_kind in (None, "message"), f"an SSE answer where a {expect_kind} was expected"
        events = parse_sse(body)
        assert events and events[0][0] == "message_start", [n for n, _ in events][:5]
        assert events[-1][0] == "message_stop", [n for n, _ in events][-5:]
        message = assemble(events)
        check_message(message)
    else:
        assert ctype.startswith("application/json"), f"200 with content-type {ctype!r}"
        value = json.loads(body)
        assert isinstance(value, dict), body[:200]
        if value.get("type") == "message":
            kind = "message"
            check_message(value)
        elif "input_tokens" in value and len(value) == 1:
            kind = "count"
            assert isinstance(value["input_tokens"], int) and value["input_tokens"] >= 0, value
        elif "data" in value:
            kind = "models"
            assert isinstance(value["data"], list) and isinstance(value.get("has_more"), bool), value
            assert all(isinstance(m, dict) and m.get("type") == "model" and isinstance(m.get("id"), str) for m in value["data"])
            for key in ("first_id", "last_id"):
                assert value.get(key) is None or isinstance(value[key], str), value
        elif value.get("type") == "model":
            kind = "model"
            assert isinstance(value.get("id"), str) and isinstance(value.get("display_name"), str), value
        else:
            raise AssertionError(f"200 with an unknown JSON answer: {body[:300]!r}")
        assert expect_kind in (None, kind), f"a {kind} answer where a {expect_kind} was expected"
    if expect_stream is not None and kind in ("stream", "message"):
        assert (kind == "stream") == expect_stream, f"stream={expect_stream} but got a {kind} answer"
    return kind


CHECK_ERRORS = (AssertionError, ValueError, KeyError, TypeError, IndexError, AttributeError, pytest.fail.Exception)


def check_answer(status: int, headers, body: bytes, expect_kind=None, expect_stream=None) -> Optional[str]:
    """``None`` if the answer holds the properties, else what is wrong."""
    try:
        assert status < 500, f"status {status}"
        assert REQ_ID_RE.match(headers.get("request-id", "")), f"no valid request-id header: {headers.get('request-id')!r}"
        if status == 200:
            check_success(headers, body, expect_kind, expect_stream)
        else:
            assert 400 <= status < 500, f"unexpected status {status}"
            check_error(status, headers, body)
    except CHECK_ERRORS as e:
        return f"{type(e).__name__}: {e}"[:1500] + f"\n    status {status}, body[:400] {body[:400]!r}"
    return None


def server_tail(server, chars: int = 4000) -> str:
    return server.output()[-chars:]


def assert_alive_and_good(server, http: httpx.Client, baseline: Optional[bytes], context: str) -> bytes:
    assert server.process.poll() is None, (
        f"tapedeck exited with status {server.process.returncode} {context}\n--- tapedeck output (tail) ---\n{server_tail(server)}"
    )
    try:
        r = http.post("/v1/messages", content=GOOD_BODY, headers=HEADERS)
    except httpx.HTTPError as e:
        raise AssertionError(f"the known-good request failed ({e!r}) {context}\n--- tapedeck output (tail) ---\n{server_tail(server)}")
    assert r.status_code == 200, f"known-good request: {r.status_code} {r.text[:300]} {context}"
    check_message(r.json())
    if baseline is not None:
        assert r.content == baseline, f"the known-good answer changed {context}: {r.content[:300]!r}"
    return r.content


# ---------------------------------------------------------------------------------------------------------------
# Part 1: mutated requests
# ---------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fuzz_server():
    """The server for mutated requests and hostile tool schemas (raw-socket garbage goes to ``raw_server``)."""
    with start_tapedeck("--on-miss", "synthesize") as server:
        yield server


def test_fuzz_mutated_requests(fuzz_server):
    server = fuzz_server
    started = time.monotonic()
    problems: list[str] = []
    statuses: dict[int, int] = {}
    with httpx.Client(base_url=server.base_url, timeout=CASE_TIMEOUT) as http:
        baseline = assert_alive_and_good(server, http, None, "before the first case")

        # The pool really is valid: each body gets a 200 in both forms, and count_tokens takes each.
        for name, body in POOL.items():
            for stream in (False, True):
                r = http.post("/v1/messages", content=json.dumps({**body, "stream": stream}).encode(), headers=HEADERS)
                problem = check_answer(r.status_code, r.headers, r.content, "message", stream)
                assert r.status_code == 200 and problem is None, f"pool body {name} (stream={stream}): {r.status_code} {problem or r.text[:300]}"
            r = http.post("/v1/messages/count_tokens", content=json.dumps(count_tokens_body(body)).encode(), headers=HEADERS)
            assert r.status_code == 200 and check_answer(r.status_code, r.headers, r.content, "count") is None, f"pool body {name} (count_tokens): {r.text[:300]}"

        window: list[Case] = []
        for index in range(CASES):
            if index and index % CHECK_EVERY == 0:
                recent = "\n".join(c.describe()[:600] for c in window)
                assert_alive_and_good(server, http, baseline, f"after case {index - 1}; cases since the last check:\n{recent}")
                window = []
            case = make_case(index)
            window.append(case)
            try:
                r = http.request(case.method, case.path, content=case.body, headers=case.headers)
            except httpx.HTTPError as e:
                problems.append(f"{case.describe()}\n    transport error {e!r}")
            else:
                statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
                problem = check_answer(r.status_code, r.headers, r.content, case.expect_kind, case.expect_stream)
                if problem:
                    problems.append(f"{case.describe()}\n    {problem}")
        recent = "\n".join(c.describe()[:600] for c in window)
        assert_alive_and_good(server, http, baseline, f"after the last case; cases since the last check:\n{recent}")

        # One oversized body (32 MiB is the limit): 413 request_too_large, and the server carries on.
        big = b'{"model":"claude-sonnet-4-5","max_tokens":16,"messages":[{"role":"user","content":"' + b"a" * (33 * MiB) + b'"}]}'
        r = http.post("/v1/messages", content=big, headers=HEADERS)
        assert r.status_code == 413, f"33 MiB body: {r.status_code} {r.text[:300]}"
        assert check_answer(r.status_code, r.headers, r.content) is None, check_answer(r.status_code, r.headers, r.content)
        assert_alive_and_good(server, http, baseline, "after a 33 MiB body")

    elapsed = time.monotonic() - started
    print(f"\nfuzz: seed {SEED}, {CASES} cases in {elapsed:.1f} s; statuses {dict(sorted(statuses.items()))}")
    if problems:
        shown = "\n\n".join(problems[:15])
        pytest.fail(f"{len(problems)} of {CASES} fuzz cases broke the properties (first {min(15, len(problems))}):\n\n{shown}", pytrace=False)


# ---------------------------------------------------------------------------------------------------------------
# Hostile tool schemas: one request each for schemas that once crashed or hung the server
# ---------------------------------------------------------------------------------------------------------------

# The bounds SchemaInstance puts on synthesized tool input, whatever the schema asks.
MAX_ITEMS = 64
MAX_LENGTH = 4096
MAX_EXTRA_PROPERTIES = 64
MAX_VALUES = 2000
INTEGER_LIMIT = 2**53
HOSTILE_SCHEMA_TIMEOUT = 2.0  # seconds; the answer takes tens of milliseconds with the debug build


def _tool_request(schema: dict) -> bytes:
    # max_tokens leaves room for the whole tool call (a 2000-value input is about 8000 tokens), so the bounds show.
    body = {"model": MODEL, "max_tokens": 32000, "messages": _user("go"), "tools": [{"name": "t", "input_schema": schema}],
            "tool_choice": {"type": "any"}}
    return json.dumps(body).encode()


def _one(prop: dict) -> dict:
    return {"type": "object", "properties": {"a": prop}, "required": ["a"]}


def _nested_arrays(levels: int) -> dict:
    schema: dict = {"type": "string"}
    for _ in range(levels):
        schema = {"type": "array", "items": schema, "minItems": 3}
    return schema


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


HOSTILE_SCHEMAS = [
    # (id, input_schema, what the tool input must satisfy)
    ("integer-minimum-1e19-clamped", _one({"type": "integer", "minimum": 1e19}),
     lambda i: _is_int(i["a"]) and i["a"] >= INTEGER_LIMIT),
    ("integer-range-pm9e18-clamped", _one({"type": "integer", "minimum": -9e18, "maximum": 9e18}),
     lambda i: _is_int(i["a"]) and -INTEGER_LIMIT <= i["a"] <= INTEGER_LIMIT),
    ("string-maxLength-negative", _one({"type": "string", "maxLength": -1}), lambda i: i["a"] == ""),
    ("array-minItems-2**62", _one({"type": "array", "minItems": 2**62}), lambda i: len(i["a"]) == MAX_ITEMS),
    ("array-minItems-1e9", _one({"type": "array", "minItems": 10**9}), lambda i: len(i["a"]) == MAX_ITEMS),
    ("string-minLength-1e9", _one({"type": "string", "minLength": 10**9}), lambda i: len(i["a"]) == MAX_LENGTH),
    ("object-minProperties-1e9", {"type": "object", "minProperties": 10**9}, lambda i: len(i) == MAX_EXTRA_PROPERTIES),
    ("nested-arrays-20-levels-minItems-3", _one(_nested_arrays(20)), lambda i: isinstance(i["a"], list)),
]


def _bounds_problem(value: Any, counter: list) -> Optional[str]:
    """What in this tool input breaks the size bounds, or ``None``; ``counter[0]`` counts the values."""
    counter[0] += 1
    if isinstance(value, list):
        if len(value) > MAX_ITEMS:
            return f"an array of {len(value)} items"
        children = value
    elif isinstance(value, dict):
        if len(value) > MAX_EXTRA_PROPERTIES + 1:  # the schemas here declare at most one property
            return f"an object with {len(value)} properties"
        children = list(value.values())
    else:
        if isinstance(value, str) and len(value) > MAX_LENGTH:
            return f"a string of {len(value)} characters"
        return None
    for child in children:
        problem = _bounds_problem(child, counter)
        if problem:
            return problem
    return None


@pytest.mark.parametrize("schema, expect", [pytest.param(s, e, id=name) for name, s, e in HOSTILE_SCHEMAS])
def test_fuzz_hostile_tool_schema(fuzz_server, schema, expect):
    body = _tool_request(schema)
    what = f"POST /v1/messages with input_schema {json.dumps(schema)[:300]}"
    started = time.monotonic()
    try:
        r = httpx.post(fuzz_server.base_url + "/v1/messages", content=body, headers=HEADERS, timeout=HOSTILE_SCHEMA_TIMEOUT)
    except httpx.HTTPError as e:
        alive = fuzz_server.process.poll() is None
        raise AssertionError(f"{what}: no answer within {HOSTILE_SCHEMA_TIMEOUT} s ({e!r}); server alive: {alive}\n"
                             f"--- tapedeck output (tail) ---\n{server_tail(fuzz_server)}")
    elapsed = time.monotonic() - started
    problem = check_answer(r.status_code, r.headers, r.content, "message", False)
    assert r.status_code == 200 and problem is None, f"{what}: {r.status_code} {problem or r.text[:300]}"
    message = r.json()
    assert message["stop_reason"] == "tool_use", f"{what}: stop_reason {message['stop_reason']!r} (max_tokens too small?)"
    calls = [block for block in message["content"] if block["type"] == "tool_use"]
    assert len(calls) == 1 and calls[0]["name"] == "t" and isinstance(calls[0]["input"], dict), f"{what}: {message['content']}"
    tool_input = calls[0]["input"]
    counter = [0]
    problem = _bounds_problem(tool_input, counter)
    assert problem is None, f"{what}: the tool input holds {problem}"
    assert counter[0] <= MAX_VALUES, f"{what}: the tool input holds {counter[0]} values"
    assert expect(tool_input), f"{what}: unexpected tool input {json.dumps(tool_input)[:400]}"
    with httpx.Client(base_url=fuzz_server.base_url, timeout=CASE_TIMEOUT) as http:
        assert_alive_and_good(fuzz_server, http, None, f"after {what} (answered in {elapsed:.2f} s)")


# ---------------------------------------------------------------------------------------------------------------
# Part 2: raw sockets
# ---------------------------------------------------------------------------------------------------------------

RAW_TIMEOUT = 10.0
MESSAGE_BODY = json.dumps({"model": MODEL, "max_tokens": 32, "messages": _user("raw socket")}).encode()
COUNT_BODY = json.dumps({"model": MODEL, "messages": _user("raw socket")}).encode()
STREAM_BODY = json.dumps({"model": MODEL, "max_tokens": 32, "stream": True, "messages": _user("raw socket")}).encode()


def http_request(method: str, target: str, body: bytes = b"", version: str = "HTTP/1.1", extra: str = "") -> bytes:
    head = f"{method} {target} {version}\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    if body or method == "POST":
        head += f"Content-Length: {len(body)}\r\n"
    return (head + extra + "\r\n").encode() + body


def tls_client_hello() -> bytes:
    """A TLS 1.2/1.3 ClientHello for "localhost", as a client speaking https:// to this http:// port sends."""
    sni_name = b"localhost"
    sni = b"\x00\x00" + (len(sni_name) + 5).to_bytes(2, "big") + (len(sni_name) + 3).to_bytes(2, "big") + b"\x00" + len(sni_name).to_bytes(2, "big") + sni_name
    versions = b"\x00\x2b\x00\x05\x04\x03\x04\x03\x03"
    groups = b"\x00\x0a\x00\x04\x00\x02\x00\x1d"
    extensions = sni + versions + groups
    ciphers = b"\x13\x01\x13\x02\xc0\x2f\xc0\x30"
    hello = (b"\x03\x03" + bytes(range(32)) + b"\x20" + bytes(range(32, 64)) + len(ciphers).to_bytes(2, "big") + ciphers
             + b"\x01\x00" + len(extensions).to_bytes(2, "big") + extensions)
    handshake = b"\x01" + len(hello).to_bytes(3, "big") + hello
    return b"\x16\x03\x01" + len(handshake).to_bytes(2, "big") + handshake


def random_binary(n: int) -> bytes:
    rng = random.Random(SEED * 7_919 + n)
    return bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 4096)))


@dataclass
class RawResponse:
    status: int
    headers: dict
    body: bytes


@dataclass
class RawResult:
    responses: list
    closed: bool
    timed_out: bool
    reset: bool
    leftover: bytes


def _parse_one(buf: bytes, closed: bool) -> Optional[tuple]:
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = buf[:end].decode("latin-1").split("\r\n")
    parts = head[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise AssertionError(f"not an HTTP status line: {head[0]!r}")
    status = int(parts[1])
    headers: dict = {}
    for line in head[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    rest = buf[end + 4 :]
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body, pos = b"", 0
        while True:
            line_end = rest.find(b"\r\n", pos)
            if line_end < 0:
                return None
            size = int(rest[pos:line_end].split(b";")[0], 16)
            if len(rest) < line_end + 2 + size + 2:
                return None
            body += rest[line_end + 2 : line_end + 2 + size]
            pos = line_end + 2 + size + 2
            if size == 0:
                return RawResponse(status, headers, body), rest[pos:]
    if "content-length" in headers:
        length = int(headers["content-length"])
        if len(rest) < length:
            return None
        return RawResponse(status, headers, rest[:length]), rest[length:]
    if status in (204, 304) or 100 <= status < 200:
        return RawResponse(status, headers, b""), rest
    return (RawResponse(status, headers, rest), b"") if closed else None


def exchange(port: int, payload: bytes, expected: int = 1, half_close: bool = False, timeout: float = RAW_TIMEOUT) -> RawResult:
    """Send ``payload``, then read until ``expected`` responses arrived, the server closed, or ``timeout`` passed."""
    result = RawResult([], False, False, False, b"")
    deadline = time.monotonic() + timeout
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            if payload:
                sock.sendall(payload)
            if half_close:
                sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            result.reset = True  # the server may close on garbage before it has read it all
        buf = b""
        while len(result.responses) < expected:
            parsed = _parse_one(buf, result.closed)
            if parsed:
                response, buf = parsed
                if not 100 <= response.status < 200:
                    result.responses.append(response)
                continue
            if result.closed:
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                result.timed_out = True
                break
            sock.settimeout(remaining)
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                result.timed_out = True
                break
            except ConnectionResetError:
                result.reset, result.closed = True, True
                continue
            if not chunk:
                result.closed = True
            buf += chunk
        result.leftover = buf
    return result


@dataclass
class RawCase:
    name: str
    payload: bytes
    expected: int = 1  # responses to wait for (the server may also just close)
    half_close: bool = False
    kinds: Optional[list] = None  # for requests that must be answered: the kinds of the 200s, in order
    status: Optional[int] = None  # for requests that must be refused: the one answer's status


RAW_CASES = [
    RawCase("tls-client-hello", tls_client_hello()),
    *[RawCase(f"random-binary-{n}", random_binary(n)) for n in range(3)],
    RawCase("random-binary-after-request-line", b"POST /v1/messages HTTP/1.1\r\n" + random_binary(3)),
    RawCase("chunked-bad-size-hex", b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\nZZ\r\n{}\r\n0\r\n\r\n", status=400),
    RawCase("chunked-size-overflow", b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFFFF\r\n{}\r\n", half_close=True, status=400),
    RawCase("chunked-missing-final-chunk-then-close", b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n" + f"{len(MESSAGE_BODY):x}\r\n".encode() + MESSAGE_BODY + b"\r\n", half_close=True, status=400),
    RawCase("content-length-longer-than-body-then-close", b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n"
            b'{"model":', half_close=True, status=400),
    RawCase("pipelined-two", http_request("POST", "/v1/messages", MESSAGE_BODY) + http_request("POST", "/v1/messages/count_tokens", COUNT_BODY),
            expected=2, kinds=["message", "count"]),
    RawCase("pipelined-three-stream-first", http_request("POST", "/v1/messages", STREAM_BODY) + http_request("GET", "/v1/models?limit=2")
            + http_request("POST", "/v1/messages/count_tokens", COUNT_BODY), expected=3, kinds=["stream", "models", "count"]),
    RawCase("pipelined-error-between", http_request("POST", "/v1/messages", MESSAGE_BODY) + http_request("POST", "/v1/messages", b"{")
            + http_request("POST", "/v1/messages/count_tokens", COUNT_BODY), expected=3, kinds=["message", "error", "count"]),
    RawCase("absolute-url", http_request("POST", "http://example.com/v1/messages", MESSAGE_BODY), kinds=["message"]),
    RawCase("http-1.0", http_request("POST", "/v1/messages", MESSAGE_BODY, version="HTTP/1.0"), kinds=["message"]),
    RawCase("huge-header-100k", http_request("POST", "/v1/messages", MESSAGE_BODY, extra="X-Big: " + "a" * 100_000 + "\r\n")),
    RawCase("header-without-colon", http_request("POST", "/v1/messages", MESSAGE_BODY, extra="ThisHeaderHasNoColon\r\n")),
    RawCase("bare-lf-line-endings", b"GET /v1/models HTTP/1.1\nHost: x\n\n"),
    RawCase("just-close", b"", half_close=True),
    RawCase("partial-request-line-then-close", b"POST /v1/mess", half_close=True),
]
@pytest.fixture(scope="module")
def raw_server():
    with start_tapedeck("--on-miss", "synthesize") as server:
        yield server


@pytest.mark.parametrize("case", [pytest.param(case, id=case.name) for case in RAW_CASES])
def test_fuzz_raw_socket(raw_server, case: RawCase):
    port = raw_server.port
    what = f"raw case {case.name!r} (TAPEDECK_FUZZ_SEED={SEED}), payload ({len(case.payload)} bytes) {case.payload[:200]!r}"
    result = exchange(port, case.payload, expected=case.expected, half_close=case.half_close)
    seen = [(r.status, r.headers.get("content-type"), r.body[:120]) for r in result.responses]
    what += f"; got {seen}, closed={result.closed}, timed_out={result.timed_out}, reset={result.reset}"

    for response in result.responses:
        assert response.status < 500, what
        ours = "request-id" in response.headers or "tapedeck-source" in response.headers or response.body
        if ours:  # from tapedeck's routes: the full properties
            problem = check_answer(response.status, response.headers, response.body)
            assert problem is None, f"{what}\n{problem}"
        else:  # from the HTTP layer (malformed HTTP): no envelope, nothing to check beyond the status
            assert 400 <= response.status < 500, what

    if case.kinds is not None:
        assert not result.timed_out and len(result.responses) == len(case.kinds), what
        for response, kind in zip(result.responses, case.kinds):
            if kind == "error":
                assert response.status == 400, what
                continue
            assert response.status == 200, what
            got = check_success(response.headers, response.body, None, None)
            assert got == kind, f"{what}: answered out of order ({got} where {kind} was expected)"

    if case.status is not None:
        assert not result.timed_out and [r.status for r in result.responses] == [case.status], what

    # Whatever happened (a timeout included), the server must still be there and answer a good request.
    with httpx.Client(base_url=raw_server.base_url, timeout=RAW_TIMEOUT) as http:
        assert_alive_and_good(raw_server, http, None, f"after {what}")


def test_fuzz_http10_connection_closes(raw_server):
    result = exchange(raw_server.port, http_request("POST", "/v1/messages", MESSAGE_BODY, version="HTTP/1.0"), expected=2, timeout=1.0)
    assert [r.status for r in result.responses] == [200], result
    assert result.closed and not result.timed_out, f"connection still open 1 s after the answer: {result.responses[0].headers}"


MAX_CONNECTIONS = 4  # --max-connections for test_fuzz_connection_cap (the default is 512)
CAP_RELEASE_SECONDS = 2.0  # the server notices a closed connection asynchronously; a freed slot must show by then


def request_on(sock: socket.socket, payload: bytes, timeout: float = RAW_TIMEOUT) -> RawResponse:
    """Send ``payload`` on an open connection and read one (final) response; the connection must stay open."""
    sock.settimeout(timeout)
    sock.sendall(payload)
    buf = b""
    while True:
        parsed = _parse_one(buf, False)
        if parsed:
            response, buf = parsed
            if not 100 <= response.status < 200:
                assert not buf, f"bytes after the response: {buf[:200]!r}"
                return response
            continue
        chunk = sock.recv(65536)
        assert chunk, f"the server closed the connection before answering (read so far: {buf[:300]!r})"
        buf += chunk


def test_fuzz_connection_cap():
    good = http_request("POST", "/v1/messages", MESSAGE_BODY)
    with start_tapedeck("--on-miss", "synthesize", "--max-connections", str(MAX_CONNECTIONS)) as server, \
            contextlib.ExitStack() as stack:
        # Fill the cap with idle keep-alive connections, each having been served once.
        held = []
        for i in range(MAX_CONNECTIONS):
            sock = stack.enter_context(socket.create_connection(("127.0.0.1", server.port), timeout=RAW_TIMEOUT))
            response = request_on(sock, good)
            assert response.status == 200, f"held connection {i}: {response}"
            assert check_success(response.headers, response.body, "message", False) == "message"
            held.append(sock)

        # One more: its first request is refused with 529 overloaded_error, then the server closes it.
        over = exchange(server.port, good, expected=2, timeout=2.0)
        what = f"connection {MAX_CONNECTIONS + 1} of --max-connections {MAX_CONNECTIONS}: {over}"
        assert [r.status for r in over.responses] == [529], what
        refused = over.responses[0]
        check_error(refused.status, refused.headers, refused.body, {529: "overloaded_error"})
        assert refused.headers.get("connection", "").lower() == "close", what
        assert over.closed and not over.timed_out, f"{what}: still open 2 s after the 529"

        # The held connections are still served.
        response = request_on(held[1], good)
        assert response.status == 200 and check_success(response.headers, response.body, "message", False) == "message", response

        # Free a slot: a new connection is served again once the server has noticed the close.
        held[0].close()
        deadline = time.monotonic() + CAP_RELEASE_SECONDS
        seen = []
        while True:
            result = exchange(server.port, good, expected=1)
            statuses = [r.status for r in result.responses]
            seen.append(statuses)
            if statuses == [200]:
                break
            assert statuses == [529], f"after closing a held connection: {result}"
            assert time.monotonic() < deadline, f"still refused {CAP_RELEASE_SECONDS} s after closing a held connection: {seen}"
            time.sleep(0.02)
        assert check_success(result.responses[0].headers, result.responses[0].body, "message", False) == "message"
        assert server.process.poll() is None, server_tail(server)


# ---------------------------------------------------------------------------------------------------------------
# Reproducing one case by hand
# ---------------------------------------------------------------------------------------------------------------

if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python test_fuzz.py SEED CASE_INDEX")
    SEED = int(sys.argv[1])
    built = make_case(int(sys.argv[2]))
    print(built.describe())
    if built.body is not None:
        out = f"fuzz-{SEED}-{built.index}.bin"
        with open(out, "wb") as f:
            f.write(built.body)
        headers = " ".join(f"-H '{k}: {v}'" for k, v in built.headers.items())
        print(f"curl -s -X {built.method} \"$ANTHROPIC_BASE_URL{built.path}\" {headers} --data-binary @{out}")
