"""Fault injection: what the SDK sees when Tapedeck breaks an answer on purpose, and the request journal.

Faults come from a ``tapedeck-fault: KIND[;param=value...][, ...]`` request header (the SDK sends it again on every
retry, so a retryable fault is hit on every attempt), or from the server (``--fault``, ``--fault-count``,
``--fault-rate`` / ``--fault-seed``, and ``POST|GET|DELETE /_tapedeck/faults``). ``GET /_tapedeck/journal`` lists
the requests served, which is how these tests count attempts.

Error kinds answer with an API error instead of the real answer; stream kinds cut or break the streamed answer;
timing kinds delay it. None of them change what a recording server saves in its cassette.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterator, Optional

import anthropic
import httpx
import pytest

from support import (
    MODEL,
    REQ_ID_RE,
    REQUEST_TIMEOUT,
    TapedeckServer,
    make_client,
    start_fake_upstream,
    start_tapedeck,
    text_of,
    user,
)

# -- SDK classes that differ between the generations --------------------------------------------------------------

_EXC = anthropic._exceptions
# 529: a subclass of InternalServerError in 2.x, of APIStatusError in 0.x (exported at the top level only in 2.x).
OverloadedError = _EXC.OverloadedError
# 413: ContentTooLargeError in 2.x (RequestTooLargeError is its alias there); RequestTooLargeError in 0.x.
RequestTooLargeError = _EXC.RequestTooLargeError
# 504 and 402 have their own classes only in 2.x; 0.x raises the generic class for the status.
GatewayTimeoutError = getattr(_EXC, "GatewayTimeoutError", anthropic.InternalServerError)
PaymentRequiredError = getattr(_EXC, "PaymentRequiredError", anthropic.APIStatusError)
# The HTTP library inside the SDK: 2.x ships its own fork, ``httpx2``; 0.x uses ``httpx``. A connection cut in the
# middle of a stream reaches the caller as that library's RemoteProtocolError, not wrapped in an SDK exception
# (observed with both generations).
SDK_HTTPX = getattr(anthropic._base_client, "httpx2", None) or anthropic._base_client.httpx

FAULT_HEADER = "tapedeck-fault"
SOURCES = {"recorded", "synthesized", "proxied", "miss", "fault", "error"}
FAST = "retry_after_ms=10"  # keeps SDK retries quick
RFC3339_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")

# What the fake upstream's `text` scenario answers (Sources/TapedeckTestSupport/ExampleStreams.swift: 9 events;
# events 3, 4 and 5 are the text deltas "Hello", "! How can I", " help you today?").
FAKE_TEXT = "Hello! How can I help you today?"


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Poll ``condition`` until it holds (a polling interval, not a synchronisation sleep)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting until {what}")
        time.sleep(0.05)


def parse_rfc3339(value: str) -> datetime:
    assert isinstance(value, str) and RFC3339_RE.match(value), value
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


# -- a server with its admin endpoints ----------------------------------------------------------------------------


class Deck:
    """A running server plus a raw HTTP client for its admin endpoints and for wire-level checks."""

    def __init__(self, server: TapedeckServer):
        self.server = server
        self.base_url = server.base_url
        headers = {"x-api-key": "test-key", "anthropic-version": "2023-06-01", "content-type": "application/json"}
        self.http = httpx.Client(base_url=self.base_url, headers=headers, timeout=REQUEST_TIMEOUT)

    def client(self, **options) -> anthropic.Anthropic:
        return make_client(self.base_url, **options)

    def reset(self) -> None:
        r = self.http.post("/_tapedeck/reset")
        assert r.status_code == 200, r.text

    def journal(self) -> list[dict]:
        r = self.http.get("/_tapedeck/journal")
        assert r.status_code == 200, f"GET /_tapedeck/journal: {r.status_code} {r.text[:300]}"
        data = r.json()["data"]
        assert isinstance(data, list), data
        return data

    def health(self) -> dict:
        r = self.http.get("/_tapedeck/health")
        assert r.status_code == 200, r.text
        return r.json()

    def faults(self, method: str, body: Optional[dict] = None) -> httpx.Response:
        r = self.http.request(method, "/_tapedeck/faults", json=body)
        assert r.status_code == 200, f"{method} /_tapedeck/faults: {r.status_code} {r.text[:300]}"
        assert r.headers["content-type"].startswith("application/json"), r.headers
        return r


@contextlib.contextmanager
def running_deck(*args: str) -> Iterator[Deck]:
    with start_tapedeck(*args) as server:
        deck = Deck(server)
        try:
            yield deck
        finally:
            deck.http.close()


@pytest.fixture(scope="module")
def module_deck() -> Iterator[Deck]:
    """This module's own server (synthesize on miss), so server-level faults never reach other test modules."""
    with running_deck() as deck:
        yield deck


@pytest.fixture
def deck(module_deck: Deck) -> Iterator[Deck]:
    """The module's server with an empty journal and rewound occurrence counters; server-level faults a test sets
    are cleared afterwards."""
    module_deck.reset()
    yield module_deck
    module_deck.http.delete("/_tapedeck/faults")


# -- requests -----------------------------------------------------------------------------------------------------


def request(text: str, max_tokens: int = 64, **extra) -> dict:
    return dict(model=MODEL, max_tokens=max_tokens, messages=user(text), **extra)


def with_fault(fault: Optional[str]) -> dict:
    return {"extra_headers": {FAULT_HEADER: fault}} if fault is not None else {}


def create(client: anthropic.Anthropic, fault: Optional[str], **req):
    return client.messages.create(**req, **with_fault(fault))


def raises(call: Callable[[], object]) -> BaseException:
    try:
        call()
    except Exception as e:  # noqa: BLE001 - the tests inspect what was raised
        return e
    pytest.fail("the call raised nothing")


@dataclass
class Streamed:
    text: str  # text received before the stream ended or broke
    error: Optional[BaseException]
    final: Optional[anthropic.types.Message]
    elapsed: float


def stream(client: anthropic.Anthropic, fault: Optional[str], **req) -> Streamed:
    """``client.messages.stream(...)``: the text as it arrived, then the final message or what was raised."""
    text = ""
    start = time.monotonic()
    try:
        with client.messages.stream(**req, **with_fault(fault)) as s:
            for event in s:
                if event.type == "content_block_delta" and event.delta.type == "text_delta":
                    text += event.delta.text
            final = s.get_final_message()
    except Exception as e:  # noqa: BLE001
        return Streamed(text, e, None, time.monotonic() - start)
    return Streamed(text, None, final, time.monotonic() - start)


def stream_create(client: anthropic.Anthropic, fault: Optional[str], **req) -> Streamed:
    """The same with ``client.messages.create(stream=True)``."""
    text = ""
    start = time.monotonic()
    try:
        for event in client.messages.create(**req, stream=True, **with_fault(fault)):
            if event.type == "content_block_delta" and event.delta.type == "text_delta":
                text += event.delta.text
    except Exception as e:  # noqa: BLE001
        return Streamed(text, e, None, time.monotonic() - start)
    return Streamed(text, None, None, time.monotonic() - start)


def raw_stream_body(deck: Deck, req: dict, fault: Optional[str] = None) -> bytes:
    """The SSE body of a streamed request exactly as sent (no SDK); fails if the body does not end cleanly."""
    headers = {FAULT_HEADER: fault} if fault else {}
    r = deck.http.post("/v1/messages", json={**req, "stream": True}, headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/event-stream"), r.headers
    return r.content


def sse_blocks(raw: bytes) -> list[bytes]:
    """The events of an SSE body, each with its trailing blank line (the body must end with one)."""
    assert raw.endswith(b"\n\n"), raw[-200:]
    return [block + b"\n\n" for block in raw[:-2].split(b"\n\n")]


def event_name(block: bytes) -> str:
    return block.split(b"\n", 1)[0].decode().removeprefix("event: ")


def event_data(block: bytes) -> dict:
    line = [l for l in block.split(b"\n") if l.startswith(b"data: ")][0]
    return json.loads(line[len(b"data: ") :])


def text_in(blocks: list[bytes]) -> str:
    """The text of the text deltas among ``blocks``."""
    text = ""
    for block in blocks:
        if event_name(block) == "content_block_delta":
            delta = event_data(block)["delta"]
            if delta["type"] == "text_delta":
                text += delta["text"]
    return text


# -- the error envelope and the journal ---------------------------------------------------------------------------


def assert_fault_envelope(error: BaseException, status: int, error_type: str) -> dict:
    """An API error answered by a fault: status, envelope, request id, and the `tapedeck-fault` header."""
    assert isinstance(error, anthropic.APIStatusError), repr(error)
    assert error.status_code == status, (error.status_code, error.response.text)
    headers = error.response.headers
    assert headers["content-type"].startswith("application/json"), headers
    header_id = headers.get("request-id")
    assert header_id is not None and REQ_ID_RE.match(header_id), headers
    assert error.request_id == header_id
    body = error.response.json()
    assert body["type"] == "error"
    assert body["error"]["type"] == error_type, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"], body
    assert body.get("request_id") == header_id, "the body should repeat the request id"
    assert headers.get(FAULT_HEADER), "a faulted answer should say which fault it applied"
    return body["error"]


def attempts(deck: Deck, path: str = "/v1/messages") -> list[dict]:
    """The journal's entries for ``path``, oldest first."""
    return [e for e in deck.journal() if e["path"] == path]


def assert_attempts(deck: Deck, count: int, status: int, path: str = "/v1/messages") -> list[dict]:
    """Exactly ``count`` attempts of one request, all answered with ``status`` by a fault."""
    seen = attempts(deck, path)
    assert len(seen) == count, [(e["status"], e["source"], e["fault"]) for e in seen]
    assert {e["status"] for e in seen} == {status}, seen
    assert {e["source"] for e in seen} == {"fault"}, seen
    assert all(e["fault"] for e in seen), seen
    assert len({e["fingerprint"] for e in seen}) == 1, "the attempts should be one request"
    return seen


# -- malformed fault specs ----------------------------------------------------------------------------------------

# header value → a word the 400's message must contain (any of them, for bad values)
MALFORMED = {
    "unknown_kind": ("gremlins", ["gremlins"]),
    "unknown_kind_in_a_list": ("overloaded, gremlins", ["gremlins"]),
    "unknown_parameter": ("overloaded;colour=blue", ["colour"]),
    "unknown_parameter_of_a_stream_kind": ("disconnect;after=2;colour=blue", ["colour"]),
    "bad_retry_after": ("rate_limit;retry_after=soon", ["retry_after", "soon"]),
    "bad_should_retry": ("overloaded;should_retry=maybe", ["should_retry", "maybe"]),
    "bad_timing_value": ("tps=fast", ["tps", "fast"]),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_fault_is_a_bad_request_that_is_not_retried(deck, case):
    fault, words = MALFORMED[case]
    with deck.client(max_retries=2) as client:
        error = raises(lambda: create(client, fault, **request(f"Malformed fault {case}")))

    assert type(error) is anthropic.BadRequestError, repr(error)
    assert error.status_code == 400
    message = error.body["error"]["message"]
    assert error.body["error"]["type"] == "invalid_request_error"
    assert any(word in message for word in words), (words, message)
    seen = attempts(deck)
    assert [e["status"] for e in seen] == [400], seen


# -- error kinds --------------------------------------------------------------------------------------------------

# kind → (HTTP status, error type, the SDK's exception class)
ERROR_KINDS = {
    "rate_limit": (429, "rate_limit_error", anthropic.RateLimitError),
    "overloaded": (529, "overloaded_error", OverloadedError),
    "api_error": (500, "api_error", anthropic.InternalServerError),
    "timeout": (504, "timeout_error", GatewayTimeoutError),
    "auth": (401, "authentication_error", anthropic.AuthenticationError),
    "billing": (402, "billing_error", PaymentRequiredError),
    "permission": (403, "permission_error", anthropic.PermissionDeniedError),
    "not_found": (404, "not_found_error", anthropic.NotFoundError),
    "too_large": (413, "request_too_large", RequestTooLargeError),
}


@pytest.mark.parametrize("kind", sorted(ERROR_KINDS))
def test_error_kind_raises_the_sdk_class(deck, kind):
    status, error_type, cls = ERROR_KINDS[kind]
    with deck.client() as client:  # max_retries=0
        plain = create(client, None, **request(f"Error kind {kind}"))
        error = raises(lambda: create(client, kind, **request(f"Error kind {kind}")))

    assert type(error) is cls, (type(error), cls)
    info = assert_fault_envelope(error, status, error_type)
    assert kind in error.response.headers[FAULT_HEADER]
    if kind == "overloaded":
        assert info["message"] == "Overloaded"
    # The fault answered instead of the (synthesized) answer, for the same request.
    first, second = attempts(deck)
    assert first["source"] == "synthesized" and first["fault"] is None and first["status"] == 200
    assert second["source"] == "fault" and kind in second["fault"] and second["status"] == status
    assert first["fingerprint"] == second["fingerprint"], "the header must not change the fingerprint"
    assert text_of(plain)


def test_error_kinds_also_break_streams_before_they_start(deck):
    with deck.client() as client:
        seen = stream(client, "overloaded", **request("An overloaded stream"))

    assert type(seen.error) is OverloadedError, repr(seen.error)
    assert seen.text == ""
    assert_fault_envelope(seen.error, 529, "overloaded_error")
    assert attempts(deck)[0]["stream"] is True


def test_rate_limit_carries_retry_after_and_rate_limit_headers(deck):
    with deck.client() as client:
        error = raises(lambda: create(client, "rate_limit", **request("Rate limit headers")))

    assert type(error) is anthropic.RateLimitError
    assert_fault_envelope(error, 429, "rate_limit_error")
    headers = error.response.headers
    assert headers.get("retry-after") == "1", headers
    for kind in ("requests", "tokens", "input-tokens", "output-tokens"):
        limit = headers.get(f"anthropic-ratelimit-{kind}-limit")
        remaining = headers.get(f"anthropic-ratelimit-{kind}-remaining")
        reset = headers.get(f"anthropic-ratelimit-{kind}-reset")
        assert limit is not None and limit.isdigit() and int(limit) > 0, (kind, headers)
        assert remaining is not None and remaining.isdigit() and int(remaining) <= int(limit), (kind, headers)
        parse_rfc3339(reset)
    assert headers["anthropic-ratelimit-requests-remaining"] == "0"


# fault → response headers it must set
ERROR_PARAMETERS = {
    "retry_after_overrides_the_default": ("rate_limit;retry_after=3", {"retry-after": "3"}),
    "retry_after_on_another_kind": ("overloaded;retry_after=5", {"retry-after": "5"}),
    "retry_after_ms": ("api_error;retry_after_ms=10", {"retry-after-ms": "10"}),
    "should_retry_false": ("permission;should_retry=false", {"x-should-retry": "false"}),
    "should_retry_true": ("not_found;should_retry=true", {"x-should-retry": "true"}),
}


@pytest.mark.parametrize("case", sorted(ERROR_PARAMETERS))
def test_error_parameters_set_headers(deck, case):
    fault, expected = ERROR_PARAMETERS[case]
    with deck.client() as client:
        error = raises(lambda: create(client, fault, **request(f"Parameters {case}")))

    assert isinstance(error, anthropic.APIStatusError), repr(error)
    for name, value in expected.items():
        assert error.response.headers.get(name) == value, (name, error.response.headers)


def test_message_is_percent_decoded(deck):
    fault = "permission;message=Slow%20down%2C%20please%3B%20really"
    with deck.client() as client:
        error = raises(lambda: create(client, fault, **request("Custom message")))

    info = assert_fault_envelope(error, 403, "permission_error")
    assert info["message"] == "Slow down, please; really"


# fault → (attempts the SDK makes with max_retries=2, status, exception class)
RETRIES = {
    "overloaded_is_retried": (f"overloaded;{FAST}", 3, 529, OverloadedError),
    "rate_limit_is_retried": (f"rate_limit;{FAST}", 3, 429, anthropic.RateLimitError),
    "should_retry_false_stops_a_529": (f"overloaded;{FAST};should_retry=false", 1, 529, OverloadedError),
    "permission_is_not_retried": ("permission", 1, 403, anthropic.PermissionDeniedError),
    "should_retry_true_retries_a_403": (f"permission;should_retry=true;{FAST}", 3, 403, anthropic.PermissionDeniedError),
}


@pytest.mark.parametrize("case", sorted(RETRIES))
def test_header_fault_is_hit_on_every_retry(deck, case):
    fault, count, status, cls = RETRIES[case]
    with deck.client(max_retries=2) as client:
        error = raises(lambda: create(client, fault, **request(f"Retries {case}")))

    assert type(error) is cls, repr(error)
    assert_attempts(deck, count, status)


def test_retry_after_is_honoured(deck):
    """`retry-after: 1` makes the SDK wait about a second; `retry-after-ms: 10` (which wins) hardly at all."""
    with deck.client(max_retries=1) as client:
        start = time.monotonic()
        slow = raises(lambda: create(client, "rate_limit;retry_after=1", **request("Retry after one second")))
        slow_elapsed = time.monotonic() - start
        slow_attempts = len(attempts(deck))
        deck.reset()
        start = time.monotonic()
        fast = raises(lambda: create(client, f"rate_limit;{FAST}", **request("Retry after ten ms")))
        fast_elapsed = time.monotonic() - start

    assert type(slow) is anthropic.RateLimitError and type(fast) is anthropic.RateLimitError
    assert slow_attempts == 2
    assert_attempts(deck, 2, 429)
    assert slow_elapsed >= 0.9, slow_elapsed
    # Without retry-after-ms the SDK would wait out the default `retry-after: 1`.
    assert fast_elapsed < 0.6, fast_elapsed


def test_count_tokens_can_be_faulted(deck):
    path = "/v1/messages/count_tokens"
    with deck.client(max_retries=1) as client:
        counted = client.messages.count_tokens(model=MODEL, messages=user("Count my tokens"))
        error = raises(
            lambda: client.messages.count_tokens(
                model=MODEL, messages=user("Count my tokens"), **with_fault(f"overloaded;{FAST}")
            )
        )

    assert counted.input_tokens > 0
    assert type(error) is OverloadedError, repr(error)
    assert_fault_envelope(error, 529, "overloaded_error")
    seen = attempts(deck, path)
    assert [e["status"] for e in seen] == [200, 529, 529], seen
    assert [e["source"] for e in seen[1:]] == ["fault", "fault"]


# -- stream kinds -------------------------------------------------------------------------------------------------

STORY = request("Tell me a story about a tape recorder.", max_tokens=64)


def test_midstream_error_on_the_wire(deck):
    """The first N events of the real stream, byte for byte, then one `event: error`, then a clean end."""
    clean = sse_blocks(raw_stream_body(deck, STORY))
    faulted = raw_stream_body(deck, STORY, "midstream_error;after=5")
    typed = raw_stream_body(deck, STORY, "midstream_error;after=4;type=api_error")

    assert len(clean) > 6
    prefix = b"".join(clean[:5])
    assert faulted.startswith(prefix)
    tail = sse_blocks(faulted[len(prefix) :])
    assert len(tail) == 1 and event_name(tail[0]) == "error", tail
    data = event_data(tail[0])
    assert data["type"] == "error"
    assert data["error"]["type"] == "overloaded_error"
    assert data["error"]["message"] == "Overloaded"

    assert typed.startswith(b"".join(clean[:4]))
    tail = sse_blocks(typed[len(b"".join(clean[:4])) :])
    assert [event_name(b) for b in tail] == ["error"]
    assert event_data(tail[0])["error"]["type"] == "api_error"


@pytest.mark.parametrize("style", ["stream_helper", "create_stream_true"])
def test_midstream_error_raises_after_some_text(deck, style):
    clean = sse_blocks(raw_stream_body(deck, STORY))
    deck.reset()
    call = stream if style == "stream_helper" else stream_create
    with deck.client(max_retries=2) as client:
        seen = call(client, "midstream_error;after=5", **STORY)

    assert isinstance(seen.error, anthropic.APIStatusError), repr(seen.error)
    assert seen.error.body["error"]["type"] == "overloaded_error"
    assert seen.text and seen.text == text_in(clean[:5])
    # A stream that already started is not retried.
    (entry,) = attempts(deck)
    assert entry["stream"] is True and "midstream_error" in entry["fault"]


def test_midstream_error_on_a_plain_request_is_the_error_as_json(deck):
    with deck.client() as client:
        overloaded = raises(lambda: create(client, "midstream_error;after=3", **STORY))
        typed = raises(lambda: create(client, "midstream_error;after=3;type=rate_limit_error", **STORY))

    assert type(overloaded) is OverloadedError, repr(overloaded)
    assert_fault_envelope(overloaded, 529, "overloaded_error")
    assert type(typed) is anthropic.RateLimitError, repr(typed)
    assert_fault_envelope(typed, 429, "rate_limit_error")


def read_until_cut(deck: Deck, req: dict, fault: str) -> bytes:
    """The body bytes received before the server cut the connection (which must fail the read)."""
    received = bytearray()
    with pytest.raises(httpx.TransportError):
        with deck.http.stream("POST", "/v1/messages", json={**req, "stream": True}, headers={FAULT_HEADER: fault}) as r:
            assert r.status_code == 200
            for chunk in r.iter_raw():
                received += chunk
    return bytes(received)


def test_disconnect_cuts_the_connection_on_the_wire(deck):
    clean_raw = raw_stream_body(deck, STORY)
    clean = sse_blocks(clean_raw)

    after_events = read_until_cut(deck, STORY, "disconnect;after=4")
    after_bytes = read_until_cut(deck, STORY, "disconnect;bytes=700")

    assert after_events == b"".join(clean[:4])
    assert len(clean_raw) > 700
    assert after_bytes == clean_raw[:700]


@pytest.mark.parametrize("style", ["stream_helper", "create_stream_true"])
def test_disconnect_raises_a_protocol_error_in_the_sdk(deck, style):
    clean = sse_blocks(raw_stream_body(deck, STORY))
    full = text_in(clean)
    deck.reset()
    call = stream if style == "stream_helper" else stream_create
    with deck.client(max_retries=2) as client:
        seen = call(client, "disconnect;after=5", **STORY)

    assert type(seen.error) is SDK_HTTPX.RemoteProtocolError, repr(seen.error)
    assert seen.text and full.startswith(seen.text), (seen.text, full)
    assert len(attempts(deck)) == 1, "a stream cut after it started is not retried"


# -- timing kinds -------------------------------------------------------------------------------------------------


def test_slow_first_byte_sends_headers_at_once(deck):
    ms = 600
    start = time.monotonic()
    with deck.http.stream("POST", "/v1/messages", json={**STORY, "stream": True}, headers={FAULT_HEADER: f"slow_first_byte={ms}"}) as r:
        headers_at = time.monotonic() - start
        chunks = r.iter_raw()
        next(chunks)
        first_byte_at = time.monotonic() - start
        for _ in chunks:
            pass
    total = time.monotonic() - start

    assert r.status_code == 200
    assert "slow_first_byte" in r.headers.get(FAULT_HEADER, "")
    assert headers_at < 0.5 * ms / 1000, headers_at
    assert first_byte_at >= 0.8 * ms / 1000, first_byte_at
    assert total < ms / 1000 + 1.5, total


def test_latency_delays_the_whole_response(deck):
    ms = 400
    start = time.monotonic()
    r = deck.http.post("/v1/messages", json=STORY, headers={FAULT_HEADER: f"latency={ms}"})
    elapsed = time.monotonic() - start

    assert r.status_code == 200, r.text
    assert r.json()["content"]
    assert "latency" in r.headers.get(FAULT_HEADER, "")
    assert ms / 1000 * 0.8 <= elapsed < ms / 1000 + 1.5, elapsed
    (entry,) = attempts(deck)
    assert isinstance(entry["latency_ms"], (int, float)) and entry["latency_ms"] >= 0.8 * ms, entry


def test_stall_pauses_after_n_events(deck):
    ms, after = 500, 4
    clean_raw = raw_stream_body(deck, STORY)
    received = b""
    arrivals: list[float] = []  # when each complete event had arrived
    start = time.monotonic()
    with deck.http.stream("POST", "/v1/messages", json={**STORY, "stream": True}, headers={FAULT_HEADER: f"stall={ms};after={after}"}) as r:
        for chunk in r.iter_raw():
            received += chunk
            now = time.monotonic() - start
            arrivals += [now] * (received.count(b"\n\n") - len(arrivals))
    total = time.monotonic() - start

    assert received == clean_raw, "a stall changes the timing only"
    assert len(arrivals) > after
    gap = arrivals[after] - arrivals[after - 1]
    assert gap >= 0.8 * ms / 1000, (arrivals, gap)
    assert arrivals[after - 1] < 0.5 * ms / 1000, arrivals
    assert total < ms / 1000 + 1.5, total


def test_tps_paces_a_stream(deck):
    tps = 50
    req = request("Pace this answer please.", max_tokens=20)
    with deck.client() as client:
        baseline = stream(client, None, **req)
        paced = stream(client, f"tps={tps}", **req)

    assert paced.error is None, repr(paced.error)
    assert paced.final is not None and paced.text == baseline.text
    expected = paced.final.usage.output_tokens / tps
    assert expected >= 0.2, paced.final.usage  # enough tokens to measure
    assert 0.8 * expected <= paced.elapsed < expected + 1.5, (paced.elapsed, expected)


def test_tps_delays_a_plain_answer(deck):
    tps = 50
    req = request("Pace this plain answer please.", max_tokens=20)
    with deck.client() as client:
        start = time.monotonic()
        raw = client.messages.with_raw_response.create(**req, **with_fault(f"tps={tps}"))
        elapsed = time.monotonic() - start

    message = raw.parse()
    assert "tps" in raw.headers.get(FAULT_HEADER, "")
    expected = message.usage.output_tokens / tps
    assert expected >= 0.2, message.usage
    assert 0.8 * expected <= elapsed < expected + 1.5, (elapsed, expected)


def test_timing_kinds_combine(deck):
    ms, tps = 300, 50
    req = request("Slow start, then paced.", max_tokens=20)
    with deck.client() as client:
        baseline = stream(client, None, **req)
        seen = stream(client, f"slow_first_byte={ms}, tps={tps}", **req)

    assert seen.error is None, repr(seen.error)
    assert seen.text == baseline.text
    expected = ms / 1000 + seen.final.usage.output_tokens / tps
    assert 0.8 * expected <= seen.elapsed < expected + 1.5, (seen.elapsed, expected)
    fault = attempts(deck)[-1]["fault"]
    assert "slow_first_byte" in fault and "tps" in fault, fault


def test_timing_and_error_kinds_combine(deck):
    ms = 300
    with deck.client() as client:
        start = time.monotonic()
        error = raises(lambda: create(client, f"latency={ms}, overloaded", **request("Slow failure")))
        elapsed = time.monotonic() - start

    assert type(error) is OverloadedError, repr(error)
    assert elapsed >= 0.8 * ms / 1000, elapsed


# -- the journal ----------------------------------------------------------------------------------------------------


def test_journal_entries(deck):
    req = request("Journal me.")
    assert deck.journal() == [], "POST /_tapedeck/reset should empty the journal"
    with deck.client() as client:
        create(client, None, **req)
        assert stream(client, None, **req).error is None
        raises(lambda: create(client, "overloaded;should_retry=false", **req))
        raises(lambda: client.messages.create(model=MODEL, max_tokens=64, messages=[]))
        client.models.list()
    deck.health()  # admin calls are not journalled

    entries = deck.journal()
    assert [(e["method"], e["path"]) for e in entries] == [("POST", "/v1/messages")] * 4 + [("GET", "/v1/models")]
    keys = {"seq", "time", "method", "path", "cassette", "fingerprint", "source", "occurrence", "status",
            "latency_ms", "fault", "stream", "warnings"}
    for e in entries:
        assert keys <= set(e), sorted(set(e))
        assert isinstance(e["seq"], int) and not isinstance(e["seq"], bool)
        parse_rfc3339(e["time"])
        assert e["cassette"] == "default"
        assert e["fingerprint"] is None or re.fullmatch(r"[0-9a-f]{64}", e["fingerprint"]), e["fingerprint"]
        assert e["source"] in SOURCES, e["source"]
        assert e["occurrence"] is None or isinstance(e["occurrence"], int)
        assert isinstance(e["latency_ms"], (int, float)) and e["latency_ms"] >= 0
        assert isinstance(e["stream"], bool)
    seqs = [e["seq"] for e in entries]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), seqs
    times = [parse_rfc3339(e["time"]) for e in entries]
    assert times == sorted(times)

    plain, streamed, faulted, invalid, _models = entries
    assert [e["status"] for e in entries[:4]] == [200, 200, 529, 400]
    assert [e["source"] for e in entries[:4]] == ["synthesized", "synthesized", "fault", "error"]
    assert [e["stream"] for e in entries[:4]] == [False, True, False, False]
    assert [e["fault"] for e in (plain, streamed, invalid)] == [None, None, None]
    assert "overloaded" in faulted["fault"]
    assert plain["fingerprint"] and plain["fingerprint"] == streamed["fingerprint"] == faulted["fingerprint"]

    deck.reset()
    assert deck.journal() == []


# -- server-level faults ----------------------------------------------------------------------------------------------


def test_fault_count_flag_fails_the_first_request_only():
    with running_deck("--fault", f"overloaded;{FAST}", "--fault-count", "1") as deck, deck.client(max_retries=2) as client:
        first = create(client, None, **request("Count one, first"))
        second = create(client, None, **request("Count one, second"))
        entries = attempts(deck)

    assert text_of(first) and text_of(second)
    assert [(e["status"], e["source"]) for e in entries] == [(529, "fault"), (200, "synthesized"), (200, "synthesized")]
    assert "overloaded" in entries[0]["fault"]
    assert entries[1]["fault"] is None and entries[2]["fault"] is None
    assert entries[0]["fingerprint"] == entries[1]["fingerprint"] != entries[2]["fingerprint"]


def test_admin_sets_shows_and_clears_the_server_fault(deck):
    setting = deck.faults("POST", {"fault": f"overloaded;{FAST}", "count": 1})
    assert "overloaded" in setting.text, setting.text
    assert "overloaded" in deck.faults("GET").text

    with deck.client(max_retries=2) as client:
        message = create(client, None, **request("Admin fault"))
        assert text_of(message)
        assert [(e["status"], e["source"]) for e in attempts(deck)] == [(529, "fault"), (200, "synthesized")]

        deck.faults("POST", {"fault": "permission"})  # every request, until cleared
        error = raises(lambda: create(client, None, **request("Admin fault, again")))
        assert type(error) is anthropic.PermissionDeniedError, repr(error)

        deck.faults("DELETE")
        assert "overloaded" not in deck.faults("GET").text and "permission" not in deck.faults("GET").text
        deck.reset()
        assert text_of(create(client, None, **request("Admin fault, cleared")))
    assert [e["status"] for e in attempts(deck)] == [200]


def test_a_header_fault_wins_over_the_server_fault():
    with running_deck("--fault", f"overloaded;{FAST}") as deck, deck.client() as client:
        server_level = raises(lambda: create(client, None, **request("Who wins?")))
        header = raises(lambda: create(client, "permission", **request("Who wins?")))
        entries = attempts(deck)

    assert type(server_level) is OverloadedError, repr(server_level)
    assert type(header) is anthropic.PermissionDeniedError, repr(header)
    assert "permission" in entries[1]["fault"] and "overloaded" not in entries[1]["fault"]


RATE_SPEC = f"overloaded;{FAST}"
RATE_REQUESTS = 40


def failed_indexes(deck: Deck, **client_options) -> set[int]:
    """Sends RATE_REQUESTS distinct requests; the indexes of those that failed with a 529."""
    failed = set()
    with deck.client(**client_options) as client:
        for i in range(RATE_REQUESTS):
            try:
                create(client, None, **request(f"Seeded request number {i}", max_tokens=16))
            except OverloadedError:
                failed.add(i)
    return failed


def test_seeded_fault_rate_picks_the_same_requests_across_restarts():
    flags = ("--fault", RATE_SPEC, "--fault-rate", "0.3", "--fault-seed", "7")
    with running_deck(*flags) as deck:
        first = failed_indexes(deck)
        entries = attempts(deck)
        # Retries get new draws: with retries, some request that drew a fault succeeds on a later attempt.
        deck.reset()
        with_retries = failed_indexes(deck, max_retries=3)
        retried = attempts(deck)
    with running_deck(*flags) as deck:
        second = failed_indexes(deck)
        # Another seed, set through the admin endpoint, picks other requests.
        deck.faults("DELETE")
        deck.reset()
        deck.faults("POST", {"fault": RATE_SPEC, "rate": 0.3, "seed": 8})
        other_seed = failed_indexes(deck)

    assert first == second
    assert 3 <= len(first) <= 25, sorted(first)  # about 0.3 × 40
    assert other_seed != first
    assert 3 <= len(other_seed) <= 25, sorted(other_seed)
    assert {i for i, e in enumerate(entries) if e["status"] == 529} == first
    assert all(e["source"] == "fault" for e in entries if e["status"] == 529)

    assert len(with_retries) < len(first), (sorted(with_retries), sorted(first))
    by_fingerprint: dict[str, list[int]] = {}
    for e in retried:
        by_fingerprint.setdefault(e["fingerprint"], []).append(e["status"])
    assert any(s[0] == 529 and s[-1] == 200 for s in by_fingerprint.values()), by_fingerprint


# -- faults never touch the cassette ----------------------------------------------------------------------------------


def record_args(upstream: str, cassette: Path) -> tuple[str, ...]:
    return ("--mode", "record", "--upstream", upstream, "--cassette", str(cassette), "--allow-upstream-in-ci")


def replay_args(cassette: Path) -> tuple[str, ...]:
    return ("--mode", "replay", "--cassette", str(cassette), "--on-miss", "error")


RECORDED_STREAM_FAULTS = {
    "midstream": ("midstream_error;after=5", "scenario:text Fault A"),
    "disconnect": ("disconnect;after=4", "scenario:text Fault B"),
    "paced": ("tps=100", "scenario:text Fault C"),
}


def test_stream_faults_in_record_mode_save_the_whole_answer(tmp_path):
    cassette = tmp_path / "c.sqlite"
    seen: dict[str, Streamed] = {}
    with start_fake_upstream() as fake, running_deck(*record_args(fake.base_url, cassette)) as deck:
        with deck.client() as client:
            for name, (fault, text) in RECORDED_STREAM_FAULTS.items():
                seen[name] = stream(client, fault, **request(text, max_tokens=1024))
        # The client's side of a faulted stream ends early; the recording finishes from the upstream.
        wait_until(lambda: deck.health()["interactions"] >= len(RECORDED_STREAM_FAULTS), "every answer is recorded")
        assert deck.health()["interactions"] == len(RECORDED_STREAM_FAULTS)

    midstream, disconnect, paced = seen["midstream"], seen["disconnect"], seen["paced"]
    assert isinstance(midstream.error, anthropic.APIStatusError), repr(midstream.error)
    assert midstream.error.body["error"]["type"] == "overloaded_error"
    assert midstream.text == "Hello! How can I"
    assert type(disconnect.error) is SDK_HTTPX.RemoteProtocolError, repr(disconnect.error)
    assert disconnect.text and FAKE_TEXT.startswith(disconnect.text)
    assert paced.error is None and paced.text == FAKE_TEXT
    assert paced.elapsed >= 0.8 * paced.final.usage.output_tokens / 100

    with running_deck(*replay_args(cassette)) as deck, deck.client() as client:
        for name, (_, text) in RECORDED_STREAM_FAULTS.items():
            replayed = stream(client, None, **request(text, max_tokens=1024))
            assert replayed.error is None, (name, repr(replayed.error))
            assert replayed.text == FAKE_TEXT, name
            assert replayed.final.stop_reason == "end_turn", name
            assert text_of(create(client, None, **request(text, max_tokens=1024))) == FAKE_TEXT, name
        assert {e["source"] for e in attempts(deck)} == {"recorded"}
        # Faults apply on top of recorded answers too.
        text = RECORDED_STREAM_FAULTS["midstream"][1]
        broken = stream(client, "midstream_error;after=5", **request(text, max_tokens=1024))
        refused = raises(lambda: create(client, "overloaded", **request(text, max_tokens=1024)))
    assert isinstance(broken.error, anthropic.APIStatusError) and broken.text == "Hello! How can I", broken
    assert type(refused) is OverloadedError, repr(refused)


def fake_request_count(fake) -> int:
    """How many requests the fake upstream has received (this one included)."""
    return httpx.get(f"{fake.base_url}/_fake/requests", timeout=REQUEST_TIMEOUT).json()


def test_error_faults_in_record_mode_never_reach_the_upstream(tmp_path):
    cassette = tmp_path / "c.sqlite"
    faulted = request("scenario:text Never sent", max_tokens=1024)
    sent = request("scenario:text Sent", max_tokens=1024)
    with start_fake_upstream() as fake, running_deck(*record_args(fake.base_url, cassette)) as deck:
        with deck.client(max_retries=2) as client:
            before = fake_request_count(fake)
            error = raises(lambda: create(client, f"overloaded;{FAST}", **faulted))
            after_fault = fake_request_count(fake)
            assert text_of(create(client, None, **sent)) == FAKE_TEXT
            after_real = fake_request_count(fake)
        entries = attempts(deck)

    assert type(error) is OverloadedError, repr(error)
    assert after_fault == before + 1, "a faulted request reached the upstream"
    assert after_real == after_fault + 2
    assert [(e["status"], e["source"]) for e in entries] == [(529, "fault")] * 3 + [(200, "proxied")]

    with running_deck(*replay_args(cassette)) as deck, deck.client() as client:
        assert deck.health()["interactions"] == 1
        miss = raises(lambda: create(client, None, **faulted))
        assert text_of(create(client, None, **sent)) == FAKE_TEXT
    assert type(miss) is anthropic.NotFoundError, repr(miss)
