"""Prompt-cache accounting and rate limits, as the SDK sees them.

Synthesized answers account ``cache_control`` the API's way: the first request with a prefix writes it
(``cache_creation_input_tokens``, split by TTL in ``usage.cache_creation``), a later one inside the TTL reads it
(``cache_read_input_tokens``), and the three input counts always add up to ``count_tokens``. The TTL runs on the
server's test clock (``--clock manual`` plus ``POST /_tapedeck/clock``). Every Messages answer carries
``anthropic-ratelimit-*`` headers from a budget (``--rate-limit``); a spent budget answers the API's 429 with
``retry-after``, which the SDK waits out and retries.
"""

from __future__ import annotations

import time
import uuid
from typing import Iterator

import anthropic
import httpx
import pytest

from support import MODEL, REQUEST_TIMEOUT, TapedeckServer, make_client, start_tapedeck, user

LONG = " ".join(["cassette"] * 1_500)
RATE_HEADERS = [
    f"anthropic-ratelimit-{kind}-{part}"
    for kind in ("requests", "tokens", "input-tokens", "output-tokens")
    for part in ("limit", "remaining", "reset")
]


@pytest.fixture(scope="module")
def manual() -> Iterator[TapedeckServer]:
    with start_tapedeck("--clock", "manual", "--rate-limit", "rpm=1000,itpm=10000000,otpm=1000000") as server:
        yield server


def advance(server: TapedeckServer, seconds: float) -> dict:
    response = httpx.post(f"{server.base_url}/_tapedeck/clock", json={"advance": seconds}, timeout=REQUEST_TIMEOUT)
    assert response.status_code == 200, response.text
    return response.json()


def fresh_cassette() -> dict:
    """Headers that give a test its own cassette, so its cache and budget start empty."""
    return {"tapedeck-cassette": f"cache-{uuid.uuid4().hex[:12]}"}


def cached_system(question: str = "What is on the tape?", ttl: str | None = None) -> dict:
    control = {"type": "ephemeral"} if ttl is None else {"type": "ephemeral", "ttl": ttl}
    return dict(
        model=MODEL,
        max_tokens=64,
        system=[{"type": "text", "text": LONG, "cache_control": control}],
        messages=user(question),
    )


def total(usage) -> int:
    return usage.input_tokens + usage.cache_creation_input_tokens + usage.cache_read_input_tokens


def test_second_identical_request_reads_what_the_first_wrote(manual: TapedeckServer):
    client = make_client(manual.base_url, default_headers=fresh_cassette())
    first = client.messages.create(**cached_system()).usage
    second = client.messages.create(**cached_system()).usage
    assert first.cache_creation_input_tokens > 1_024 and first.cache_read_input_tokens == 0
    assert first.cache_creation.ephemeral_5m_input_tokens == first.cache_creation_input_tokens
    assert first.cache_creation.ephemeral_1h_input_tokens == 0
    assert second.cache_read_input_tokens == first.cache_creation_input_tokens
    assert second.cache_creation_input_tokens == 0
    counted = client.messages.count_tokens(model=MODEL, system=cached_system()["system"], messages=user("What is on the tape?"))
    assert total(first) == total(second) == counted.input_tokens


def test_changed_suffix_still_reads_the_prefix(manual: TapedeckServer):
    client = make_client(manual.base_url, default_headers=fresh_cassette())
    first = client.messages.create(**cached_system("First question?")).usage
    second = client.messages.create(**cached_system("A different question entirely?")).usage
    assert second.cache_read_input_tokens == first.cache_creation_input_tokens > 0
    assert second.input_tokens > 0 and second.cache_creation_input_tokens == 0


def test_expired_ttl_creates_again_and_one_hour_lasts(manual: TapedeckServer):
    client = make_client(manual.base_url, default_headers=fresh_cassette())
    client.messages.create(**cached_system())
    client.messages.create(**cached_system(ttl="1h"))
    advance(manual, 301)
    five = client.messages.create(**cached_system("Another?")).usage
    assert five.cache_read_input_tokens > 0, "the 1h write keeps the shared prefix alive"
    advance(manual, 3_601)
    expired = client.messages.create(**cached_system()).usage
    assert expired.cache_read_input_tokens == 0 and expired.cache_creation_input_tokens > 0


def test_reset_empties_the_cache(manual: TapedeckServer):
    headers = fresh_cassette()
    client = make_client(manual.base_url, default_headers=headers)
    client.messages.create(**cached_system())
    httpx.post(f"{manual.base_url}/_tapedeck/reset", headers=headers, timeout=REQUEST_TIMEOUT).raise_for_status()
    again = client.messages.create(**cached_system()).usage
    assert again.cache_read_input_tokens == 0 and again.cache_creation_input_tokens > 0


def test_automatic_caching_in_a_stream(manual: TapedeckServer):
    client = make_client(manual.base_url, default_headers=fresh_cassette())
    extra = {"cache_control": {"type": "ephemeral"}}
    body = dict(model=MODEL, max_tokens=64, system=LONG, messages=user("Turn one?"))
    first = client.messages.create(**body, extra_body=extra).usage
    messages = user("Turn one?") + [{"role": "assistant", "content": "Yes."}] + user("Turn two?")
    with client.messages.stream(model=MODEL, max_tokens=64, system=LONG, messages=messages, extra_body=extra) as stream:
        final = stream.get_final_message().usage
    assert final.cache_read_input_tokens == first.cache_creation_input_tokens > 0
    assert final.cache_creation_input_tokens > 0 and final.input_tokens == 0


def test_short_prefix_is_not_cached(manual: TapedeckServer):
    client = make_client(manual.base_url, default_headers=fresh_cassette())
    body = dict(
        model=MODEL,
        max_tokens=32,
        system=[{"type": "text", "text": "Short.", "cache_control": {"type": "ephemeral"}}],
        messages=user("Hi"),
    )
    for _ in range(2):
        usage = client.messages.create(**body).usage
        assert usage.cache_creation_input_tokens == 0 and usage.cache_read_input_tokens == 0


def test_rate_limit_headers_count_down_and_refill_on_the_clock():
    with start_tapedeck("--clock", "manual", "--rate-limit", "rpm=3") as server:
        client = make_client(server.base_url)
        remaining = []
        for _ in range(3):
            raw = client.messages.with_raw_response.create(model=MODEL, max_tokens=16, messages=user("Count"))
            assert all(raw.headers.get(name) for name in RATE_HEADERS)
            remaining.append(raw.headers["anthropic-ratelimit-requests-remaining"])
            assert raw.headers["anthropic-ratelimit-requests-limit"] == "3"
        assert remaining == ["2", "1", "0"]
        assert raw.headers["anthropic-ratelimit-requests-reset"] == "2026-01-01T00:01:00Z"
        with pytest.raises(anthropic.RateLimitError) as caught:
            client.messages.create(model=MODEL, max_tokens=16, messages=user("Count"))
        error = caught.value
        assert error.status_code == 429
        assert error.response.headers["retry-after"] == "20"
        assert error.response.headers["x-should-retry"] == "true"
        body = error.response.json()
        assert body["error"]["type"] == "rate_limit_error"
        assert "of 3 requests per minute. For details, refer to: https://docs.claude.com/en/api/rate-limits." in (
            body["error"]["message"]
        )
        advance(server, 60)
        raw = client.messages.with_raw_response.create(model=MODEL, max_tokens=16, messages=user("Count"))
        assert raw.headers["anthropic-ratelimit-requests-remaining"] == "2"


def test_default_budget_reports_headers_and_never_refuses(tapedeck: TapedeckServer):
    client = make_client(tapedeck.base_url, default_headers=fresh_cassette())
    raw = client.messages.with_raw_response.create(model=MODEL, max_tokens=16, messages=user("Hello"))
    first = int(raw.headers["anthropic-ratelimit-input-tokens-remaining"])
    usage = raw.parse().usage
    raw = client.messages.with_raw_response.create(model=MODEL, max_tokens=16, messages=user("Hello"))
    assert int(raw.headers["anthropic-ratelimit-input-tokens-remaining"]) <= first
    assert int(raw.headers["anthropic-ratelimit-requests-limit"]) >= 1_000
    assert int(raw.headers["anthropic-ratelimit-output-tokens-remaining"]) < int(
        raw.headers["anthropic-ratelimit-output-tokens-limit"]
    )
    assert usage.output_tokens > 0


def test_sdk_waits_out_retry_after_and_succeeds():
    # A wall clock: the SDK's wait is real time, and one request a second refills.
    with start_tapedeck("--rate-limit", "rpm=60") as server:
        plain = make_client(server.base_url)
        refused = None
        for _ in range(200):
            try:
                plain.messages.create(model=MODEL, max_tokens=8, messages=user("Spend"))
            except anthropic.RateLimitError as error:
                refused = error
                break
        assert refused is not None, "60 requests a minute ran out"
        assert refused.response.headers["retry-after"] == "1"
        retrying = make_client(server.base_url, max_retries=2)
        started = time.monotonic()
        raw = retrying.messages.with_raw_response.create(model=MODEL, max_tokens=8, messages=user("Spend"))
        waited = time.monotonic() - started
        assert raw.http_request.headers["x-stainless-retry-count"] in ("1", "2"), "answered on a retry"
        assert waited >= 0.9, "the SDK waited out retry-after"
        assert raw.parse().stop_reason in ("end_turn", "max_tokens")


def test_off_sends_no_rate_limit_headers():
    with start_tapedeck("--rate-limit", "off") as server:
        raw = make_client(server.base_url).messages.with_raw_response.create(
            model=MODEL, max_tokens=8, messages=user("Quiet")
        )
        assert not any(name in raw.headers for name in RATE_HEADERS)


def test_fixture_answers_account_the_cache_too(tmp_path):
    from support import import_fixtures

    cassette = import_fixtures(
        tmp_path / "fixture.sqlite",
        {"match": {"last_user": "cached fixture"}, "response": {"message": {"content": [{"text": "Hi"}]}}},
    )
    with start_tapedeck("--cassette", str(cassette), "--clock", "manual") as server:
        client = make_client(server.base_url)
        first = client.messages.with_raw_response.create(**cached_system("cached fixture"))
        second = client.messages.create(**cached_system("cached fixture"))
        assert first.headers["tapedeck-source"] == "recorded" and second.content[0].text == "Hi"
        assert first.parse().usage.cache_creation_input_tokens > 0
        assert second.usage.cache_read_input_tokens == first.parse().usage.cache_creation_input_tokens
        assert "anthropic-ratelimit-requests-remaining" in first.headers


def test_rate_limit_fault_dates_come_from_the_test_clock():
    import anthropic as sdk

    with start_tapedeck("--clock", "manual") as server:
        client = make_client(server.base_url)
        with pytest.raises(sdk.RateLimitError) as caught:
            client.messages.create(
                model=MODEL, max_tokens=8, messages=user("x"), extra_headers={"tapedeck-fault": "rate_limit;retry_after=30"}
            )
        assert caught.value.response.headers["anthropic-ratelimit-requests-reset"] == "2026-01-01T00:00:30Z"
