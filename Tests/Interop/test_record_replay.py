"""Record through Tapedeck from a fake upstream, then replay offline: the SDK must not see a difference.

Each test records into a fresh cassette with ``serve --mode record`` in front of ``tapedeck-fake-upstream``,
stops both, then runs the same calls against ``serve --mode replay --on-miss error`` on that cassette with no
upstream running at all, and compares what the SDK returned (or raised) in the two phases.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import anthropic
import pytest

from support import (
    MODEL,
    SDK_DERIVED_EVENTS,
    SDK_MAJOR,
    dump,
    start_fake_upstream,
    start_tapedeck,
    tapedeck_binary,
    text_of,
    user,
)

# The SDK's class for 529: a subclass of InternalServerError in 2.x, of APIStatusError in 0.x (and only
# exported at the top level in 2.x).
OverloadedError = anthropic._exceptions.OverloadedError

FAKE_MODEL = "claude-sonnet-4-5-20250929"  # the model every answer of the fake upstream names
WEATHER = {
    "name": "get_weather",
    "description": "Get the current weather in a place.",
    "input_schema": {
        "type": "object",
        "properties": {"location": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
        "required": ["location"],
    },
}
REAL_LOOKING_KEY = "sk-ant-api03-" + "Q" * 40


def record_args(upstream: str, cassette: Path) -> tuple[str, ...]:
    return ("--mode", "record", "--upstream", upstream, "--cassette", str(cassette), "--allow-upstream-in-ci")


def replay_args(cassette: Path) -> tuple[str, ...]:
    return ("--mode", "replay", "--cassette", str(cassette), "--on-miss", "error")


def record_then_replay(tmp_path: Path, action: Callable[[anthropic.Anthropic], Any], **client_options) -> tuple[Any, Any]:
    """``action(client)`` while recording from the fake upstream, then again while replaying with no upstream.

    Returns both results. The fake upstream is stopped before the replaying server starts.
    """
    cassette = tmp_path / "c.sqlite"
    with start_fake_upstream() as fake:
        with start_tapedeck(*record_args(fake.base_url, cassette)) as server, server.client(**client_options) as client:
            recorded = action(client)
    assert cassette.exists(), "recording left no cassette file"
    with start_tapedeck(*replay_args(cassette)) as server, server.client(**client_options) as client:
        replayed = action(client)
    return recorded, replayed


# -- what the SDK saw, as plain comparable data ---------------------------------------


def created(client: anthropic.Anthropic, **request) -> dict:
    message = client.messages.create(model=MODEL, **{"max_tokens": 1024, **request})
    return {"message": dump(message), "request_id": message._request_id}


def streamed(client: anthropic.Anthropic, **request) -> dict:
    """Every wire event the SDK parsed, the text as the stream delivered it, and the final message."""
    with client.messages.stream(model=MODEL, **{"max_tokens": 1024, **request}) as stream:
        events = []
        text = ""
        for event in stream:
            if event.type in SDK_DERIVED_EVENTS:
                continue
            events.append(dump(event))
            if event.type == "content_block_delta" and event.delta.type == "text_delta":
                text += event.delta.text
        final = stream.get_final_message()
        request_id = stream.request_id
    return {"events": events, "text": text, "final": dump(final), "request_id": request_id}


@dataclass
class Raised:
    """An SDK exception reduced to what a caller can observe."""

    cls: type
    status: int
    retry_after: Optional[str]
    content_type: Optional[str]
    body: Any
    text_before: str = ""  # stream text received before the error


def raised(call: Callable[[], Any]) -> Raised:
    try:
        call()
    except anthropic.APIStatusError as e:
        return Raised(
            cls=type(e),
            status=e.status_code,
            retry_after=e.response.headers.get("retry-after"),
            content_type=e.response.headers.get("content-type"),
            body=e.body,
        )
    pytest.fail("the call raised no APIStatusError")


def raised_while_streaming(client: anthropic.Anthropic, **request) -> Raised:
    """Opens a stream that succeeds (HTTP 200) and must then raise while it is iterated."""
    text = ""
    with client.messages.stream(model=MODEL, **{"max_tokens": 1024, **request}) as stream:
        try:
            for event in stream:
                if event.type == "content_block_delta" and event.delta.type == "text_delta":
                    text += event.delta.text
        except anthropic.APIStatusError as e:
            return Raised(
                cls=type(e),
                status=e.status_code,
                retry_after=None,
                content_type=e.response.headers.get("content-type"),
                body=e.body,
                text_before=text,
            )
    pytest.fail("the stream ended without raising")


# -- successful answers ------------------------------------------------------------------

SCENARIOS = {
    "text": dict(messages=user("scenario:text Say hello.")),
    "thinking": dict(
        messages=user("scenario:thinking What is 27 * 453?"),
        max_tokens=2048,
        thinking={"type": "enabled", "budget_tokens": 1024},
    ),
    "tool": dict(messages=user("scenario:tool What's the weather in San Francisco?"), tools=[WEATHER]),
    "stop": dict(messages=user("scenario:stop Answer in <answer> tags."), stop_sequences=["</answer>"]),
}


def check_scenario(name: str, message: dict) -> None:
    """The answer is the fake upstream's (not a synthetic one)."""
    assert message["model"] == FAKE_MODEL
    content = message["content"]
    if name == "text":
        assert message["stop_reason"] == "end_turn"
        assert [b["type"] for b in content] == ["text"]
        assert content[0]["text"] == "Hello! How can I help you today?"
    elif name == "thinking":
        assert [b["type"] for b in content] == ["thinking", "text"]
        assert content[0]["thinking"].startswith("The user asks for 27 * 453.")
        assert content[0]["signature"].startswith("E")
        assert content[1]["text"] == "27 × 453 = **12,231**"
    elif name == "tool":
        assert message["stop_reason"] == "tool_use"
        assert [b["type"] for b in content] == ["text", "tool_use"]
        assert content[1]["name"] == "get_weather"
        assert content[1]["id"].startswith("toolu_")
        assert content[1]["input"] == {"location": "San Francisco, CA", "unit": "celsius"}
    elif name == "stop":
        assert message["stop_reason"] == "stop_sequence"
        assert message["stop_sequence"] == "</answer>"
        assert content[0]["text"] == "<answer>42"


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_create_and_stream_replay_identically(tmp_path, scenario):
    request = SCENARIOS[scenario]

    def action(client):
        return {"create": created(client, **request), "stream": streamed(client, **request)}

    recorded, replayed = record_then_replay(tmp_path, action)

    check_scenario(scenario, recorded["create"]["message"])
    check_scenario(scenario, recorded["stream"]["final"])
    assert recorded["stream"]["text"] == text_of(anthropic.types.Message.model_validate(recorded["stream"]["final"]))
    # Replay: the same message, the same events, the same text, the same request ids.
    assert replayed["create"] == recorded["create"]
    assert replayed["stream"]["final"] == recorded["stream"]["final"]
    assert replayed["stream"]["text"] == recorded["stream"]["text"]
    assert replayed["stream"]["events"] == recorded["stream"]["events"]
    assert replayed["stream"]["request_id"] == recorded["stream"]["request_id"]


def test_a_streamed_recording_answers_a_plain_create(tmp_path):
    """Cross-style replay: the recording is a stream, the replayed call asks for JSON and gets the assembled Message."""
    request = SCENARIOS["tool"]
    cassette = tmp_path / "c.sqlite"
    with start_fake_upstream() as fake:
        with start_tapedeck(*record_args(fake.base_url, cassette)) as server, server.client() as client:
            recorded = streamed(client, **request)
    with start_tapedeck(*replay_args(cassette)) as server, server.client() as client:
        replayed = created(client, **request)

    check_scenario("tool", replayed["message"])
    final = recorded["final"]
    for key in ("id", "model", "role", "content", "stop_reason", "stop_sequence"):
        assert replayed["message"].get(key) == final.get(key), key


# -- recorded errors ---------------------------------------------------------------------------


def assert_error_replays(tmp_path: Path, scenario: str, cls: type, status: int, error_type: str) -> dict[str, Raised]:
    """Records ``scenario`` (an HTTP error) with create and with stream, replays both, and checks that both styles
    raised ``cls`` with ``status`` and ``error_type`` and that the replay raised exactly the same. Returns what was
    recorded, per style."""
    request = dict(messages=user(f"scenario:{scenario} Hello"))

    def action(client):
        return {
            "create": raised(lambda: created(client, **request)),
            "stream": raised(lambda: streamed(client, **request)),
        }

    recorded, replayed = record_then_replay(tmp_path, action)

    for style in ("create", "stream"):
        seen = recorded[style]
        assert seen.cls is cls, (style, seen.cls)
        assert seen.status == status, style
        assert seen.body["error"]["type"] == error_type, style
        assert replayed[style] == seen, style
    return recorded


def test_rate_limit_replays_with_retry_after(tmp_path):
    recorded = assert_error_replays(tmp_path, "rate_limit", anthropic.RateLimitError, 429, "rate_limit_error")

    for style, seen in recorded.items():
        assert seen.retry_after == "7", style


def test_overloaded_replays_as_the_same_exception(tmp_path):
    assert_error_replays(tmp_path, "overloaded", OverloadedError, 529, "overloaded_error")

    if SDK_MAJOR >= 2:
        assert issubclass(OverloadedError, anthropic.InternalServerError)


def test_non_json_error_replays_as_recorded(tmp_path):
    request = dict(messages=user("scenario:non_json_error Hello"))

    recorded, replayed = record_then_replay(tmp_path, lambda client: raised(lambda: created(client, **request)))

    assert recorded.cls is anthropic.InternalServerError
    assert recorded.status == 502
    assert recorded.content_type.startswith("text/html")
    assert replayed == recorded


def test_midstream_error_replays(tmp_path):
    """The fake answers a stream with two text deltas then `event: error`, and a plain request with a 529."""
    request = dict(messages=user("scenario:midstream_error Tell me a story."))

    def action(client):
        return {
            "create": raised(lambda: created(client, **request)),
            "stream": raised_while_streaming(client, **request),
        }

    recorded, replayed = record_then_replay(tmp_path, action)

    assert recorded["create"].cls is OverloadedError
    assert recorded["create"].status == 529
    seen = recorded["stream"]
    assert issubclass(seen.cls, anthropic.APIStatusError)
    assert seen.body["error"]["type"] == "overloaded_error"
    assert seen.text_before == "Here is a long story about"
    assert replayed["create"] == recorded["create"]
    assert replayed["stream"] == seen


def test_broken_off_stream_is_not_recorded(tmp_path):
    """An upstream that hangs up mid-stream leaves nothing to replay: the replay is a miss."""
    request = dict(messages=user("scenario:disconnect Hello"))
    cassette = tmp_path / "c.sqlite"
    with start_fake_upstream() as fake:
        with start_tapedeck(*record_args(fake.base_url, cassette)) as server, server.client() as client:
            with pytest.raises(Exception) as info:
                streamed(client, **request)
            assert not isinstance(info.value, anthropic.APIStatusError), repr(info.value)
    with start_tapedeck(*replay_args(cassette)) as server, server.client() as client:
        with pytest.raises(anthropic.NotFoundError) as miss:
            streamed(client, **request)
    assert "no recorded interaction matches" in str(miss.value)


def test_a_refused_upstream_is_a_prompt_502(tmp_path):
    """Nothing listens at the upstream: the client gets a 502 it can retry, not a wait for the connect timeout.

    The client gives up after 5 s, half of tapedeck's 10 s connect timeout, so a server that kept retrying the
    refused connection until that timeout ran out fails here with a client-side timeout.
    """
    cassette = tmp_path / "c.sqlite"
    with start_tapedeck(*record_args("http://127.0.0.1:9", cassette)) as server:
        with server.client(timeout=5.0) as client:
            with pytest.raises(anthropic.InternalServerError) as info:
                created(client, messages=user("Hello"))
    assert info.value.status_code == 502
    assert info.value.body["error"]["type"] == "api_error"
    assert "could not be reached" in info.value.body["error"]["message"]
    with start_tapedeck(*replay_args(cassette)) as server, server.client() as client:
        with pytest.raises(anthropic.NotFoundError):
            created(client, messages=user("Hello"))


# -- other endpoints, occurrences, misses ------------------------------------------------------


def test_count_tokens_and_models_replay(tmp_path):
    def action(client):
        counted = client.messages.count_tokens(model=MODEL, messages=user("scenario:text Count me."))
        listed = [dump(m) for m in client.models.list()]
        one = dump(client.models.retrieve(FAKE_MODEL))
        return {"count": dump(counted), "list": listed, "retrieve": one}

    recorded, replayed = record_then_replay(tmp_path, action)

    assert recorded["count"] == {"input_tokens": 42}
    # The fake also lists a model no catalog has (Tapedeck learns it while recording: test_model_catalog.py).
    assert [m["id"] for m in recorded["list"]] == [FAKE_MODEL, "fake-gateway-model-1"]
    assert recorded["retrieve"]["id"] == FAKE_MODEL
    assert replayed == recorded


def test_occurrences_replay_in_order_and_the_last_repeats(tmp_path):
    """The fake's `counter` scenario answers "call N"; the k-th identical request replays the k-th recording."""
    request = dict(messages=user("scenario:counter Again?"))
    cassette = tmp_path / "c.sqlite"
    with start_fake_upstream() as fake:
        with start_tapedeck(*record_args(fake.base_url, cassette)) as server, server.client() as client:
            recorded = [text_of(client.messages.create(model=MODEL, max_tokens=64, **request)) for _ in range(3)]
    with start_tapedeck(*replay_args(cassette)) as server, server.client() as client:
        replayed = [text_of(client.messages.create(model=MODEL, max_tokens=64, **request)) for _ in range(4)]

    assert recorded == ["call 1", "call 2", "call 3"]
    assert replayed == ["call 1", "call 2", "call 3", "call 3"]


def test_replay_miss_is_not_found(tmp_path):
    cassette = tmp_path / "c.sqlite"
    with start_fake_upstream() as fake:
        with start_tapedeck(*record_args(fake.base_url, cassette)) as server, server.client() as client:
            created(client, messages=user("scenario:text Hello"))
    with start_tapedeck(*replay_args(cassette)) as server, server.client() as client:
        with pytest.raises(anthropic.NotFoundError) as info:
            created(client, messages=user("scenario:text Hello there"))

    assert info.value.status_code == 404
    message = info.value.body["error"]["message"]
    assert "no recorded interaction matches" in message
    assert "messages[0].content" in message, message


def test_auto_mode_proxies_once_then_replays(tmp_path):
    cassette = tmp_path / "c.sqlite"
    request = dict(model=MODEL, max_tokens=64, messages=user("scenario:counter Once?"))
    with start_fake_upstream() as fake:
        args = ("--mode", "auto", "--upstream", fake.base_url, "--cassette", str(cassette), "--allow-upstream-in-ci")
        with start_tapedeck(*args) as server, server.client() as client:
            first = client.messages.with_raw_response.create(**request)
            second = client.messages.with_raw_response.create(**request)
            other = client.messages.with_raw_response.create(**{**request, "messages": user("scenario:counter Other?")})

    assert first.headers["tapedeck-source"] == "proxied"
    assert second.headers["tapedeck-source"] == "recorded"
    assert other.headers["tapedeck-source"] == "proxied"
    assert text_of(first.parse()) == "call 1"
    # Answered from the cassette: the fake would have said "call 2".
    assert dump(second.parse()) == dump(first.parse())
    assert text_of(other.parse()) == "call 2"
    assert second.headers["request-id"] == first.headers["request-id"]


# -- secrets and CI --------------------------------------------------------------------------


def cassette_files(cassette: Path) -> dict[str, bytes]:
    """The cassette and whatever SQLite keeps next to it (-wal, -shm, -journal)."""
    return {p.name: p.read_bytes() for p in sorted(cassette.parent.iterdir()) if p.name.startswith(cassette.name)}


def assert_no_key(files: dict[str, bytes]) -> None:
    for name, data in files.items():
        assert REAL_LOOKING_KEY.encode() not in data, f"the API key is in {name}"
        assert b"Q" * 40 not in data, f"the key's secret part is in {name}"


def test_the_api_key_never_touches_disk(tmp_path):
    cassette = tmp_path / "c.sqlite"
    with start_fake_upstream() as fake:
        with start_tapedeck(*record_args(fake.base_url, cassette)) as server:
            with server.client(api_key=REAL_LOOKING_KEY) as client:
                created(client, messages=user("scenario:text Hello"))
                streamed(client, messages=user("scenario:tool Weather?"), tools=[WEATHER])
                client.messages.count_tokens(model=MODEL, messages=user("scenario:text Count"))
                raised(lambda: created(client, messages=user("scenario:rate_limit Hello")))
                raised_while_streaming(client, messages=user("scenario:midstream_error Hello"))
            # While the server runs, the recordings sit in the WAL file.
            live = cassette_files(cassette)
            assert f"{cassette.name}-wal" in live, sorted(live)
            assert_no_key(live)
    assert_no_key(cassette_files(cassette))

    # The key was not needed to replay, and the recordings are there.
    with start_tapedeck(*replay_args(cassette)) as server, server.client(api_key="another-key") as client:
        assert text_of(client.messages.create(model=MODEL, max_tokens=1024, messages=user("scenario:text Hello")))


@pytest.mark.parametrize("mode", ["record", "auto"])
def test_ci_refuses_upstream_modes_without_the_flag(tmp_path, mode):
    cassette = tmp_path / "c.sqlite"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAPEDECK_")}
    env["CI"] = "true"
    argv = [str(tapedeck_binary()), "serve", "--mode", mode, "--port", "0", "--cassette", str(cassette),
            "--upstream", "http://127.0.0.1:9"]
    try:
        result = subprocess.run(argv, env=env, cwd=tmp_path, stdin=subprocess.DEVNULL, capture_output=True,
                                text=True, timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail(f"tapedeck serve --mode {mode} started under CI=true without --allow-upstream-in-ci")

    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "--allow-upstream-in-ci" in result.stderr, output
    assert not cassette.exists(), "a refused start created the cassette"


def test_ci_allows_record_mode_with_the_flag(tmp_path):
    cassette = tmp_path / "c.sqlite"
    with start_fake_upstream() as fake:
        with start_tapedeck(*record_args(fake.base_url, cassette), env={"CI": "true"}) as server:
            with server.client() as client:
                raw = client.messages.with_raw_response.create(
                    model=MODEL, max_tokens=64, messages=user("scenario:text Hi from CI")
                )
    assert raw.headers["tapedeck-source"] == "proxied"
    assert text_of(raw.parse()) == "Hello! How can I help you today?"
