"""The admin API under ``/_tapedeck/`` and per-test cassettes, driven with httpx (admin calls) and the SDK (API calls).

* ``health``, ``reset``, ``interactions`` (pagination and filters), ``interactions/{id}``, ``journal`` and
  ``misses`` (closest recording and a structured diff), against a copy of ``cassettes/demo.sqlite`` (whose
  interactions are read from ``cassettes/demo.jsonl``) or a cassette built with ``tapedeck cassette import``.
  ``faults`` is covered by ``test_faults.py``.
* Per-test cassettes: the ``tapedeck-cassette: NAME`` header and the ``/cassettes/NAME`` base URL prefix both select
  ``NAME.sqlite`` in ``--cassette-dir`` (default: the ``--cassette`` file's directory). Each keeps its own
  recordings, occurrence counters, journal and misses. Names that could leave the directory are a 400.
* ``--admin-token``: admin endpoints need ``Authorization: Bearer TOKEN`` or ``?token=TOKEN``; ``health`` and the API
  stay open; a non-loopback ``--host`` needs a token or ``--insecure-admin``.

"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import shutil
import sqlite3
import subprocess
import time
from contextlib import closing
from pathlib import Path
from typing import Iterator, Optional
from urllib.parse import quote

import anthropic
import httpx
import pytest

from support import (
    MODEL,
    REPO_ROOT,
    REQ_ID_RE,
    REQUEST_TIMEOUT,
    START_TIMEOUT,
    TapedeckServer,
    _spawn,
    import_fixtures,
    make_client,
    start_fake_upstream,
    start_tapedeck,
    tapedeck_binary,
    text_of,
    user,
)

DEMO_SQLITE = REPO_ROOT / "cassettes" / "demo.sqlite"
DEMO_JSONL = REPO_ROOT / "cassettes" / "demo.jsonl"
CASSETTE_HEADER = "tapedeck-cassette"
FAKE_TEXT = "Hello! How can I help you today?"  # the fake upstream's `text` scenario

# -- the demo cassette, as its export says ----------------------------------------------------------------------


def demo_lines() -> list[dict]:
    return [json.loads(line) for line in DEMO_JSONL.read_text().splitlines() if line.strip()]


DEMO = {line["id"]: line for line in demo_lines()}


def last_user_text(body: dict) -> str:
    content = body["messages"][-1]["content"]
    return content if isinstance(content, str) else " ".join(b.get("text", "") for b in content)


def demo_id(prompt: str) -> int:
    (found,) = [i for i, line in DEMO.items() if last_user_text(line["request"]["body"]) == prompt]
    return found


THINKING_ID = demo_id("What is 27 * 453?")
WEATHER_ID = demo_id("What is the weather in San Francisco?")
STORY_ID = demo_id("Tell me a long story.")  # a stream that dies with overloaded_error
OVERLOADED_ID = demo_id("Are you there?")  # a 529


def demo_request(demo_id: int) -> dict:
    """The recorded request body as SDK keyword arguments (``stream`` is left out: it is not matched)."""
    body = dict(DEMO[demo_id]["request"]["body"])
    body.pop("stream", None)
    return body


def event_data(event: dict) -> dict:
    return event["data"] if "data" in event else json.loads(event["data_text"])


# -- admin calls ----------------------------------------------------------------------------------------------------


class Admin:
    """httpx on one server's admin endpoints (JSON in, JSON out)."""

    def __init__(self, base_url: str, token: Optional[str] = None):
        headers = {"authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=base_url, headers=headers, timeout=REQUEST_TIMEOUT)

    def close(self) -> None:
        self.http.close()

    def get(self, path: str, **params) -> dict:
        """``GET /_tapedeck/PATH?PARAMS`` (``None`` values left out), which must answer 200 with JSON."""
        r = self.http.get(f"/_tapedeck/{path}", params={k: v for k, v in params.items() if v is not None})
        assert r.status_code == 200, f"GET {r.request.url}: {r.status_code} {r.text[:400]}"
        assert r.headers["content-type"].startswith("application/json"), r.headers
        return r.json()

    def reset(self, cassette: Optional[str] = None, header: Optional[str] = None) -> dict:
        params = {"cassette": cassette} if cassette is not None else {}
        headers = {CASSETTE_HEADER: header} if header is not None else {}
        r = self.http.post("/_tapedeck/reset", params=params, headers=headers)
        assert r.status_code == 200, r.text
        return r.json()

    def health(self) -> dict:
        return self.get("health")

    def journal(self, cassette: Optional[str] = None, **params) -> list[dict]:
        body = self.get("journal", cassette=cassette, **params)
        assert body["cassette"] == (cassette or "default"), body
        return body["data"]

    def misses(self, cassette: Optional[str] = None) -> list[dict]:
        body = self.get("misses", cassette=cassette)
        assert body["cassette"] == (cassette or "default"), body
        return body["data"]

    def ids(self, **params) -> list[int]:
        return [row["id"] for row in self.get("interactions", **params)["data"]]


@contextlib.contextmanager
def admin_for(server: TapedeckServer, token: Optional[str] = None) -> Iterator[Admin]:
    admin = Admin(server.base_url, token)
    try:
        yield admin
    finally:
        admin.close()


def assert_error(r: httpx.Response, status: int, error_type: str) -> str:
    """An API error envelope with ``status`` and ``error_type``; returns its message."""
    assert r.status_code == status, (r.status_code, r.text[:400])
    assert r.headers["content-type"].startswith("application/json"), r.headers
    body = r.json()
    assert body["type"] == "error" and body["error"]["type"] == error_type, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"], body
    assert REQ_ID_RE.match(body.get("request_id", "")), body
    return body["error"]["message"]


def sent_with(cassette: Optional[str]) -> dict:
    return {"extra_headers": {CASSETTE_HEADER: cassette}} if cassette else {}


def ask(client: anthropic.Anthropic, text: str, cassette: Optional[str] = None, max_tokens: int = 64):
    return client.messages.create(model=MODEL, max_tokens=max_tokens, messages=user(text), **sent_with(cassette))


def raises(call) -> BaseException:
    try:
        call()
    except Exception as e:  # noqa: BLE001 - the tests inspect what was raised
        return e
    pytest.fail("the call raised nothing")


# -- fixtures -------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_copy(tmp_path_factory) -> Path:
    """A private copy of the demo cassette (the committed file is never opened by a server)."""
    copy = tmp_path_factory.mktemp("demo") / "demo.sqlite"
    shutil.copyfile(DEMO_SQLITE, copy)
    return copy


@pytest.fixture(scope="module")
def demo_server(demo_copy: Path) -> Iterator[TapedeckServer]:
    """Replays the demo cassette; misses are synthesized."""
    with start_tapedeck("--mode", "replay", "--cassette", str(demo_copy), "--on-miss", "synthesize") as server:
        yield server


@pytest.fixture
def demo(demo_server: TapedeckServer) -> Iterator[Admin]:
    """The demo server's admin API, after a reset of every cassette."""
    with admin_for(demo_server) as admin:
        admin.reset()
        yield admin


@pytest.fixture
def demo_client(demo_server: TapedeckServer) -> Iterator[anthropic.Anthropic]:
    with demo_server.client() as client:
        yield client


# -- health ---------------------------------------------------------------------------------------------------------


def test_health_reports_mode_cassette_counts_and_uptime(demo, demo_server, demo_copy):
    h = demo.health()
    assert h["status"] == "ok"
    assert h["mode"] == "replay"
    assert h["on_miss"] == "synthesize"
    assert Path(h["cassette"]) == demo_copy
    assert Path(h["cassette_dir"]) == demo_copy.parent
    assert h["interactions"] == len(DEMO)
    assert isinstance(h["uptime_s"], int) and not isinstance(h["uptime_s"], bool) and h["uptime_s"] >= 0
    assert isinstance(h["version"], str) and h["version"]
    assert h["cassettes"][0] == {"name": "default", "path": h["cassette"], "interactions": len(DEMO)}

    # A per-test cassette appears once a request has used it (replay mode: an absent file is an empty cassette).
    with demo_server.client() as client:
        ask(client, "Health check", cassette="health-probe")
    listed = {c["name"]: c for c in demo.health()["cassettes"]}
    assert listed["health-probe"]["interactions"] == 0
    assert Path(listed["health-probe"]["path"]) == demo_copy.parent / "health-probe.sqlite"
    assert not (demo_copy.parent / "health-probe.sqlite").exists(), "replay mode must not create a cassette"


def test_health_needs_no_token_and_uptime_grows():
    with start_tapedeck("--admin-token", "T") as server, admin_for(server) as admin:
        first = admin.health()["uptime_s"]
        time.sleep(1.1)
        assert admin.health()["uptime_s"] >= first + 1


# -- interactions: pagination and filters ---------------------------------------------------------------------------


def test_interactions_paginate_with_limit_and_after_id(demo):
    every = sorted(DEMO)
    pages: list[list[int]] = []
    after: Optional[int] = None
    while True:
        page = demo.get("interactions", limit=4, after_id=after) if after else demo.get("interactions", limit=4)
        ids = [row["id"] for row in page["data"]]
        assert page["first_id"] == ids[0] and page["last_id"] == ids[-1], page
        pages.append(ids)
        if not page["has_more"]:
            break
        after = page["last_id"]
        assert len(pages) < 10, pages
    assert pages == [every[:4], every[4:]]

    whole = demo.get("interactions")  # default limit (50) covers the demo
    assert [row["id"] for row in whole["data"]] == every and whole["has_more"] is False
    exact = demo.get("interactions", limit=len(every))
    assert exact["has_more"] is False, "has_more must be false when the page ends exactly at the last row"
    one = demo.get("interactions", limit=1, after_id=every[1])
    assert [row["id"] for row in one["data"]] == [every[2]] and one["has_more"] is True
    beyond = demo.get("interactions", after_id=every[-1])
    assert beyond == {"data": [], "has_more": False, "first_id": None, "last_id": None}


def test_interaction_rows_summarize_each_recording(demo):
    rows = {row["id"]: row for row in demo.get("interactions")["data"]}
    assert set(rows) == set(DEMO)
    for i, line in DEMO.items():
        row = rows[i]
        assert {"id", "recorded_at", "method", "path", "model", "status", "stream", "occurrence", "fingerprint",
                "fixture", "prompt", "answer", "kinds"} <= set(row), sorted(row)
        assert (row["method"], row["path"], row["model"]) == (line["method"], line["path"], line["model"])
        assert row["status"] == line["response"]["status"]
        assert row["stream"] is ("stream" in line["response"])
        assert row["fingerprint"] == line["fingerprint"] and row["occurrence"] == line["occurrence"]
        assert row["recorded_at"] == line["recorded_at"]
        assert row["fixture"] is False
        assert row["prompt"] == last_user_text(line["request"]["body"])
    assert rows[THINKING_ID]["kinds"] == ["thinking", "text"]
    assert "tool_use" in rows[WEATHER_ID]["kinds"] and "[tool_use get_weather]" in rows[WEATHER_ID]["answer"]
    assert rows[THINKING_ID]["answer"] == "27 × 453 = **12,231**"
    assert rows[STORY_ID]["answer"] == "error: Overloaded"
    assert rows[OVERLOADED_ID]["kinds"] == [] and rows[OVERLOADED_ID]["answer"] == "error: Overloaded"


def test_interactions_filter_by_model_status_and_text(demo):
    every = sorted(DEMO)
    assert demo.ids(model=MODEL) == every
    assert demo.ids(model="claude-opus-4-1") == []
    assert demo.ids(status=529) == [OVERLOADED_ID]
    assert demo.ids(status=200) == [i for i in every if i != OVERLOADED_ID]
    assert demo.ids(status=404) == []
    # Text: in the request, in the response (a stream's events, a JSON body), case as given.
    assert demo.ids(q="weather") == [WEATHER_ID]
    assert ids_raw(demo, "q=27%20*%20453") == [THINKING_ID]  # spaces as %20, and a `*`
    assert demo.ids(q="12,231") == [THINKING_ID]  # only in the answer
    assert demo.ids(q="get_weather") == [WEATHER_ID]
    assert demo.ids(q="overloaded_error") == [STORY_ID, OVERLOADED_ID]
    assert demo.ids(q="no such text anywhere") == []
    assert demo.ids(q="_") == every, "`_` is a literal, not a LIKE wildcard"
    # Filters combine, and paginate.
    assert demo.ids(q="overloaded_error", status=200) == [STORY_ID]
    assert demo.ids(q="overloaded_error", status=529, model=MODEL) == [OVERLOADED_ID]
    page = demo.get("interactions", q="overloaded_error", limit=1)
    assert [r["id"] for r in page["data"]] == [STORY_ID] and page["has_more"] is True
    # Empty filter values are no filter (what an empty inspector form field sends).
    assert demo.ids(q="", model="", status="") == every


def ids_raw(admin: Admin, query: str) -> list[int]:
    """The ids ``GET /_tapedeck/interactions?QUERY`` lists, with the query string sent exactly as given."""
    r = admin.http.get(httpx.URL(f"{admin.http.base_url}/_tapedeck/interactions?{query}"))
    assert r.status_code == 200, r.text
    return [row["id"] for row in r.json()["data"]]


def test_interactions_text_filter_with_a_percent_sign(demo):
    assert ids_raw(demo, "q=100%25") == [], "no demo interaction contains '100%'"


def test_interactions_text_filter_with_a_plus_for_a_space(demo):
    # How httpx, requests and an HTML form (the inspector's filter) encode `q=27 * 453`.
    assert ids_raw(demo, "q=27+*+453") == [THINKING_ID]
    assert demo.ids(q="27 * 453") == [THINKING_ID]


@pytest.mark.parametrize(
    "params, word",
    [
        ({"limit": 0}, "limit"),
        ({"limit": 10001}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"after_id": "x"}, "after_id"),
        ({"status": "ok"}, "status"),
    ],
    ids=["limit-0", "limit-10001", "limit-word", "after_id-word", "status-word"],
)
def test_interactions_bad_parameters_are_400(demo, params, word):
    r = demo.http.get("/_tapedeck/interactions", params=params)
    assert word in assert_error(r, 400, "invalid_request_error")


# -- one interaction ------------------------------------------------------------------------------------------------


def test_interaction_detail_of_a_stream_has_its_events_and_message(demo):
    line = DEMO[THINKING_ID]
    detail = demo.get(f"interactions/{THINKING_ID}")

    assert detail["id"] == THINKING_ID and detail["fingerprint"] == line["fingerprint"]
    assert detail["stream"] is True and detail["kinds"] == ["thinking", "text"]
    assert detail["request"]["body"] == line["request"]["body"]
    assert detail["request"]["headers"] == line["request"]["headers"]
    assert detail["response"]["status"] == 200
    assert detail["response"]["headers"] == line["response"]["headers"]
    assert detail["response"]["body"] is None, "a stream is given as its events"

    recorded = line["response"]["stream"]
    events = detail["events"]
    assert [e["name"] for e in events] == [e["event"] for e in recorded]
    assert [e["t"] for e in events] == [e["t"] for e in recorded]
    assert all(isinstance(e["t"], int) for e in events)
    assert [e["data"] for e in events] == [event_data(e) for e in recorded]

    # The assembled message: its blocks are what the deltas add up to.
    deltas = [e["data"]["delta"] for e in events if e["name"] == "content_block_delta"]
    thinking = "".join(d.get("thinking", "") for d in deltas if d["type"] == "thinking_delta")
    text = "".join(d["text"] for d in deltas if d["type"] == "text_delta")
    signature = "".join(d["signature"] for d in deltas if d["type"] == "signature_delta")
    message = detail["message"]
    assert [b["type"] for b in message["content"]] == ["thinking", "text"]
    assert message["content"][0]["thinking"] == thinking and thinking.startswith("The user asks for 27 * 453.")
    assert message["content"][0]["signature"] == signature
    assert message["content"][1]["text"] == text == "27 × 453 = **12,231**"
    assert message["stop_reason"] == "end_turn"


def test_interaction_detail_of_an_error_and_of_a_broken_stream(demo):
    error = demo.get(f"interactions/{OVERLOADED_ID}")
    assert error["stream"] is False and error["events"] == []
    assert error["response"]["status"] == 529
    assert error["response"]["body"] == DEMO[OVERLOADED_ID]["response"]["body"]
    assert error["response"]["body"]["error"]["type"] == "overloaded_error"

    story = demo.get(f"interactions/{STORY_ID}")
    assert story["events"][-1]["name"] == "error"
    assert story["events"][-1]["data"]["error"]["type"] == "overloaded_error"


@pytest.mark.parametrize("ident", ["99", "0", "-1", "abc", "1.5"])
def test_an_unknown_interaction_is_a_404_envelope(demo, ident):
    r = demo.http.get(f"/_tapedeck/interactions/{ident}")
    message = assert_error(r, 404, "not_found_error")
    assert ident in message, message


# -- journal and reset ----------------------------------------------------------------------------------------------


def test_journal_lists_requests_served_with_limit(demo, demo_client):
    thinking = demo_request(THINKING_ID)
    demo_client.messages.create(**thinking)
    with demo_client.messages.stream(**thinking) as s:
        s.get_final_message()
    ask(demo_client, "Not in the demo cassette")
    raises(lambda: demo_client.messages.create(**demo_request(OVERLOADED_ID)))
    demo_client.messages.count_tokens(model=MODEL, messages=user("Count me"))
    demo.get("interactions")  # admin calls are not journalled

    entries = demo.journal()
    assert [(e["method"], e["path"]) for e in entries] == [("POST", "/v1/messages")] * 4 + [
        ("POST", "/v1/messages/count_tokens")]
    for e in entries:
        assert {"seq", "time", "method", "path", "cassette", "fingerprint", "source", "occurrence", "status",
                "latency_ms", "fault", "stream"} <= set(e), sorted(e)
        assert e["cassette"] == "default" and e["fault"] is None
        assert re.fullmatch(r"[0-9a-f]{64}", e["fingerprint"]), e
    first, second, synthesized, overloaded, counted = entries
    assert [e["source"] for e in entries] == ["recorded", "recorded", "synthesized", "recorded", "synthesized"]
    assert [e["status"] for e in entries] == [200, 200, 200, 529, 200]
    assert [e["stream"] for e in entries] == [False, True, False, False, False]
    assert first["fingerprint"] == second["fingerprint"] == DEMO[THINKING_ID]["fingerprint"]
    assert overloaded["fingerprint"] == DEMO[OVERLOADED_ID]["fingerprint"]
    assert (first["occurrence"], second["occurrence"]) == (1, 2), "the k-th identical request is occurrence k"
    assert [e["seq"] for e in entries] == sorted({e["seq"] for e in entries})

    assert demo.journal(limit=2) == entries[-2:], "limit keeps the newest entries, oldest first"
    assert demo.journal(limit=1) == [counted]
    assert demo.journal(limit=100) == entries
    assert_error(demo.http.get("/_tapedeck/journal", params={"limit": 0}), 400, "invalid_request_error")


def test_reset_clears_the_journal_and_rewinds_occurrences(demo, demo_client):
    thinking = demo_request(THINKING_ID)
    for _ in range(3):
        demo_client.messages.create(**thinking)
    assert [e["occurrence"] for e in demo.journal()] == [1, 2, 3]

    assert demo.reset() == {"status": "reset", "cassette": "all"}
    assert demo.journal() == []
    demo_client.messages.create(**thinking)
    assert [e["occurrence"] for e in demo.journal()] == [1]


def test_journal_keeps_the_newest_entries_up_to_journal_size():
    with start_tapedeck("--journal-size", "3") as server, server.client() as client, admin_for(server) as admin:
        for i in range(5):
            ask(client, f"Journal ring {i}", max_tokens=8)
        entries = admin.journal()
    assert len(entries) == 3
    assert [e["seq"] for e in entries] == sorted(e["seq"] for e in entries)
    assert entries[-1]["seq"] > entries[0]["seq"]


def test_reset_and_journal_are_per_cassette():
    """Occurrence counters and the journal belong to one cassette; reset takes ?cassette=, the header, or none (all)."""
    with start_tapedeck() as server, server.client() as client, admin_for(server) as admin:
        def send(cassette: Optional[str]):
            ask(client, "Per-cassette occurrences", cassette=cassette, max_tokens=8)

        def occurrences(cassette: Optional[str]) -> list[int]:
            return [e["occurrence"] for e in admin.journal(cassette)]

        for cassette in (None, "alpha", "beta"):
            send(cassette)
            send(cassette)
        assert occurrences(None) == occurrences("alpha") == occurrences("beta") == [1, 2]
        assert {e["cassette"] for e in admin.journal("alpha")} == {"alpha"}

        assert admin.reset(cassette="alpha") == {"status": "reset", "cassette": "alpha"}
        assert admin.journal("alpha") == []
        assert occurrences(None) == occurrences("beta") == [1, 2]
        for cassette in (None, "alpha", "beta"):
            send(cassette)
        assert occurrences("alpha") == [1], "reset rewinds that cassette's counters"
        assert occurrences(None) == occurrences("beta") == [1, 2, 3], "and no other cassette's"

        assert admin.reset(header="beta") == {"status": "reset", "cassette": "beta"}
        assert admin.journal("beta") == [] and occurrences(None) == [1, 2, 3] and occurrences("alpha") == [1]
        assert admin.reset(cassette="default") == {"status": "reset", "cassette": "default"}
        assert admin.journal() == [] and occurrences("alpha") == [1]
        send(None)
        assert occurrences(None) == [1]

        assert admin.reset() == {"status": "reset", "cassette": "all"}
        assert admin.journal() == admin.journal("alpha") == admin.journal("beta") == []
        for cassette in (None, "alpha", "beta"):
            send(cassette)
        assert occurrences(None) == occurrences("alpha") == occurrences("beta") == [1]


# -- misses ---------------------------------------------------------------------------------------------------------

PING = {"model": MODEL, "max_tokens": 256, "messages": [{"role": "user", "content": "Ping?"}]}
PING_ANSWER = "Pong."


@pytest.fixture(scope="module")
def ping_cassette(tmp_path_factory) -> Path:
    """A cassette with one interaction, built with `tapedeck cassette import` from a hand-written line."""
    root = tmp_path_factory.mktemp("ping")
    return import_fixtures(
        root / "ping.sqlite",
        {"request": {"body": PING}, "response": {"message": {"content": [{"type": "text", "text": PING_ANSWER}]}}},
    )


def copy_of(cassette: Path, tmp_path: Path) -> Path:
    copy = tmp_path / cassette.name
    shutil.copyfile(cassette, copy)
    return copy


def ping(client: anthropic.Anthropic, **changes):
    return client.messages.create(**{**PING, **changes})


def assert_diff(miss: dict, path: str, expected, got) -> None:
    diff = miss["diff"]
    assert diff["path"] == path, miss
    assert diff["expected_present"] is (expected is not None), diff
    assert diff["got_present"] is (got is not None), diff
    assert diff["expected"] == expected and diff["got"] == got, diff


def test_synthesized_misses_name_the_closest_recording_and_the_difference(ping_cassette, tmp_path):
    cassette = copy_of(ping_cassette, tmp_path)
    with start_tapedeck("--cassette", str(cassette), "--on-miss", "synthesize") as server, \
            server.client() as client, admin_for(server) as admin:
        assert text_of(ping(client)) == PING_ANSWER  # a hit is not a miss
        assert admin.misses() == []
        synthesized = ping(client, messages=user("Ping!"))
        ping(client, extra_body={"temperature": 0.5})  # a key the recording does not have
        ping(client, max_tokens=255)
        client.messages.count_tokens(model=MODEL, messages=user("Ping?"))  # nothing recorded for this endpoint
        misses = admin.misses()
        journal = admin.journal()

    assert text_of(synthesized) != PING_ANSWER
    assert [m["path"] for m in misses] == ["/v1/messages"] * 3 + ["/v1/messages/count_tokens"]
    for m in misses:
        assert {"seq", "method", "path", "cassette", "fingerprint", "answered", "closest_id", "diff", "explanation",
                "request"} <= set(m), sorted(m)
        assert m["method"] == "POST" and m["cassette"] == "default" and m["answered"] == "synthesized"
    content, temperature, max_tokens, counted = misses
    for m in (content, temperature, max_tokens):
        assert m["closest_id"] == 1, m
    assert_diff(content, "messages[0].content", "Ping?", "Ping!")
    assert_diff(temperature, "temperature", None, 0.5)
    assert_diff(max_tokens, "max_tokens", 256, 255)
    assert "messages[0].content" in content["explanation"] and '"Ping!"' in content["explanation"]
    assert content["request"] == {**PING, "messages": user("Ping!")}, "the request as matched"
    assert counted["closest_id"] is None and counted["diff"] is None
    # Each miss is the journal's synthesized request with the same fingerprint.
    synthesized_entries = [e for e in journal if e["source"] == "synthesized"]
    assert [e["fingerprint"] for e in synthesized_entries] == [m["fingerprint"] for m in misses]
    assert [e["source"] for e in journal][0] == "recorded"


def test_error_misses_are_listed_with_their_diff(ping_cassette, tmp_path):
    cassette = copy_of(ping_cassette, tmp_path)
    with start_tapedeck("--cassette", str(cassette), "--on-miss", "error") as server, \
            server.client() as client, admin_for(server) as admin:
        assert text_of(ping(client)) == PING_ANSWER
        error = raises(lambda: ping(client, messages=user("Pong?")))
        misses = admin.misses()
        journal = admin.journal()
        admin.reset()
        assert admin.misses() == [], "reset forgets the misses too"

    assert type(error) is anthropic.NotFoundError, repr(error)
    (miss,) = misses
    assert miss["answered"] == "error" and miss["closest_id"] == 1
    assert_diff(miss, "messages[0].content", "Ping?", "Pong?")
    assert miss["explanation"] == error.body["error"]["message"], "the 404 says what /misses says"
    assert [(e["source"], e["status"]) for e in journal] == [("recorded", 200), ("miss", 404)]
    assert journal[1]["fingerprint"] == miss["fingerprint"]


def test_misses_against_a_recording_made_through_the_upstream(tmp_path):
    """Record one request through the fake upstream, then replay a slightly different one."""
    cassette = tmp_path / "c.sqlite"
    recorded = dict(model=MODEL, max_tokens=64, messages=user("scenario:text Recorded question"))
    with start_fake_upstream() as fake, start_tapedeck(
            "--mode", "record", "--upstream", fake.base_url, "--cassette", str(cassette), "--allow-upstream-in-ci"
    ) as server, server.client() as client, admin_for(server) as admin:
        assert text_of(client.messages.create(**recorded)) == FAKE_TEXT
        assert admin.misses() == [], "a proxied request is not a miss"
        assert [e["source"] for e in admin.journal()] == ["proxied"]

    with start_tapedeck("--cassette", str(cassette), "--on-miss", "error") as server, \
            server.client() as client, admin_for(server) as admin:
        raises(lambda: client.messages.create(**{**recorded, "system": "Be brief."}))
        (miss,) = admin.misses()
    assert miss["closest_id"] == 1
    assert_diff(miss, "system", None, "Be brief.")


def test_misses_are_per_cassette(ping_cassette, tmp_path):
    cassette = copy_of(ping_cassette, tmp_path)
    shutil.copyfile(ping_cassette, tmp_path / "other.sqlite")
    with start_tapedeck("--cassette", str(cassette), "--on-miss", "synthesize") as server, \
            server.client() as client, admin_for(server) as admin:
        ping(client, messages=user("Default miss"))
        ping(client, messages=user("Other miss"), extra_headers={CASSETTE_HEADER: "other"})
        assert text_of(ping(client, extra_headers={CASSETTE_HEADER: "other"})) == PING_ANSWER
        default, other = admin.misses(), admin.misses("other")
    assert [m["request"]["messages"][0]["content"] for m in default] == ["Default miss"]
    assert [m["request"]["messages"][0]["content"] for m in other] == ["Other miss"]
    assert other[0]["cassette"] == "other" and other[0]["closest_id"] == 1
    assert_diff(other[0], "messages[0].content", "Ping?", "Other miss")


# -- per-test cassettes -----------------------------------------------------------------------------------------------


def stored_prompts(cassette: Path) -> list[str]:
    """The last user message of every interaction stored in ``cassette``, read with sqlite3."""
    with closing(sqlite3.connect(f"file:{cassette}?mode=ro", uri=True)) as db:
        rows = db.execute("SELECT request_body FROM interaction ORDER BY id").fetchall()
    return [last_user_text(json.loads(bytes(body))) for (body,) in rows]


SHARED = "scenario:counter Same question in every cassette"


def test_per_test_cassettes_record_and_replay_independently(tmp_path):
    """alpha (header) and beta (base URL prefix) each record their own answers to the same question."""
    cassette = tmp_path / "suite.sqlite"
    with start_fake_upstream() as fake:
        args = ("--mode", "auto", "--upstream", fake.base_url, "--cassette", str(cassette), "--allow-upstream-in-ci")
        with start_tapedeck(*args) as server, admin_for(server) as admin:
            base = server.base_url
            with make_client(base, default_headers={CASSETTE_HEADER: "alpha"}) as alpha, \
                    make_client(f"{base}/cassettes/beta") as beta, make_client(base) as default:
                a1 = alpha.messages.with_raw_response.create(model=MODEL, max_tokens=64, messages=user(SHARED))
                b1 = beta.messages.with_raw_response.create(model=MODEL, max_tokens=64, messages=user(SHARED))
                a2 = alpha.messages.with_raw_response.create(model=MODEL, max_tokens=64, messages=user(SHARED))
                d1 = default.messages.with_raw_response.create(model=MODEL, max_tokens=64, messages=user(SHARED))
                only_beta = text_of(beta.messages.create(model=MODEL, max_tokens=64,
                                                         messages=user("scenario:text Only in beta")))
            health = {c["name"]: c for c in admin.health()["cassettes"]}
            journals = {name: admin.journal(name if name != "default" else None) for name in ("default", "alpha", "beta")}
            listed = {name: [r["prompt"] for r in admin.get("interactions", cassette=name)["data"]]
                      for name in ("alpha", "beta")}
            header_listed = admin.http.get("/_tapedeck/interactions", headers={CASSETTE_HEADER: "beta"}).json()

    # Auto mode, per cassette: each cassette's first call goes upstream; alpha's second is alpha's recording.
    sources = [r.headers["tapedeck-source"] for r in (a1, b1, a2, d1)]
    assert sources == ["proxied", "proxied", "recorded", "proxied"], sources
    answers = [text_of(r.parse()) for r in (a1, b1, a2, d1)]
    assert answers == ["call 1", "call 2", "call 1", "call 3"], answers
    assert only_beta == FAKE_TEXT

    # Files: NAME.sqlite next to the --cassette file, each holding only its own interactions.
    assert sorted(p.name for p in tmp_path.glob("*.sqlite")) == ["alpha.sqlite", "beta.sqlite", "suite.sqlite"]
    assert stored_prompts(tmp_path / "alpha.sqlite") == [SHARED]
    assert stored_prompts(tmp_path / "beta.sqlite") == [SHARED, "scenario:text Only in beta"]
    assert stored_prompts(cassette) == [SHARED]
    assert health["alpha"]["interactions"] == 1 and health["beta"]["interactions"] == 2
    assert Path(health["beta"]["path"]) == tmp_path / "beta.sqlite"
    assert listed == {"alpha": [SHARED], "beta": [SHARED, "scenario:text Only in beta"]}
    assert [r["prompt"] for r in header_listed["data"]] == listed["beta"], "the header selects on admin calls too"

    # Journals: one per cassette, each with its own requests and occurrence counters.
    assert [(e["source"], e["occurrence"]) for e in journals["alpha"]] == [("proxied", 1), ("recorded", 2)]
    assert [(e["source"], e["occurrence"]) for e in journals["beta"]] == [("proxied", 1), ("proxied", 1)]
    assert [(e["source"], e["occurrence"]) for e in journals["default"]] == [("proxied", 1)]
    assert {e["cassette"] for e in journals["beta"]} == {"beta"}
    assert journals["alpha"][0]["fingerprint"] == journals["beta"][0]["fingerprint"] == journals["default"][0]["fingerprint"]

    # Replay offline: each cassette answers from its own recordings, and only those.
    with start_tapedeck("--mode", "replay", "--cassette", str(cassette), "--on-miss", "error") as server:
        base = server.base_url
        with make_client(base) as client, make_client(f"{base}/cassettes/alpha") as alpha_by_prefix:
            replayed = {
                "alpha": text_of(ask(client, SHARED, cassette="alpha")),
                "alpha-prefix": text_of(alpha_by_prefix.messages.create(model=MODEL, max_tokens=64, messages=user(SHARED))),
                "beta": text_of(ask(client, SHARED, cassette="beta")),
                "default": text_of(ask(client, SHARED)),
            }
            assert text_of(ask(client, "scenario:text Only in beta", cassette="beta")) == FAKE_TEXT
            missing = raises(lambda: ask(client, "scenario:text Only in beta", cassette="alpha"))
            unknown = raises(lambda: ask(client, SHARED, cassette="never-recorded"))
    assert replayed == {"alpha": "call 1", "alpha-prefix": "call 1", "beta": "call 2", "default": "call 3"}
    assert type(missing) is anthropic.NotFoundError, repr(missing)
    assert type(unknown) is anthropic.NotFoundError, repr(unknown)
    assert not (tmp_path / "never-recorded.sqlite").exists(), "replay mode must not create a cassette"


def test_cassette_dir_option_places_per_test_cassettes(tmp_path):
    home, shelf = tmp_path / "home", tmp_path / "shelf"
    home.mkdir()
    shelf.mkdir()
    with start_fake_upstream() as fake, start_tapedeck(
            "--mode", "record", "--upstream", fake.base_url, "--cassette", str(home / "main.sqlite"),
            "--cassette-dir", str(shelf), "--allow-upstream-in-ci",
    ) as server, server.client() as client, admin_for(server) as admin:
        assert text_of(ask(client, "scenario:text In the shelf", cassette="gamma")) == FAKE_TEXT
        assert Path(admin.health()["cassette_dir"]) == shelf
    assert stored_prompts(shelf / "gamma.sqlite") == ["scenario:text In the shelf"]
    assert not (home / "gamma.sqlite").exists()


# -- cassette names that could leave the directory ------------------------------------------------------------------

BAD_NAMES = {
    "dotdot": "..",
    "dotdot-slash": "../x",
    "slash": "a/b",
    "absolute": "/etc/passwd",
    "encoded-dotdot": "%2e%2e",
    "hidden": ".hidden",
    "default": "default",
    "empty": "",
    "too-long": "a" * 201,
    "backslash": "..\\x",
    "nul": "a\x00b",
    "non-ascii": "café",
}
BODY = {"model": MODEL, "max_tokens": 8, "messages": [{"role": "user", "content": "Where does this go?"}]}


@pytest.fixture(scope="module")
def shelf(tmp_path_factory) -> Iterator[tuple[TapedeckServer, Path]]:
    """A server that creates cassettes (auto mode, in front of the fake upstream) in root/deep/dir."""
    root = tmp_path_factory.mktemp("traversal")
    directory = root / "deep" / "dir"
    directory.mkdir(parents=True)
    with start_fake_upstream() as fake, start_tapedeck(
            "--mode", "auto", "--upstream", fake.base_url, "--cassette", str(directory / "x.sqlite"),
            "--allow-upstream-in-ci") as server:
        yield server, root


def files_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def raw_post(server: TapedeckServer, path: str) -> tuple[int, dict]:
    """POSTs ``BODY`` to ``path`` exactly as given (no normalization of dot segments)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=REQUEST_TIMEOUT)
    try:
        conn.putrequest("POST", path, skip_accept_encoding=True)
        data = json.dumps(BODY).encode()
        for name, value in (("content-type", "application/json"), ("x-api-key", "k"), ("content-length", str(len(data)))):
            conn.putheader(name, value)
        conn.endheaders(data)
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        conn.close()


def outside_targets(root: Path, name: str) -> list[Path]:
    """Where a file would land if ``name`` escaped ``root/deep/dir``."""
    directory = root / "deep" / "dir"
    targets = [directory.parent / "x.sqlite", root / "x.sqlite"]
    if "\x00" not in name:
        targets.append(Path("/" + name.lstrip("/") + ".sqlite"))
    return [t for t in targets if t != directory / "x.sqlite"]


HEADER_CASES = [c for c in BAD_NAMES if c != "nul"]


@pytest.mark.parametrize("case", HEADER_CASES)  # no NUL: HTTP clients refuse it in a header value
def test_a_bad_cassette_name_in_the_header_is_a_400(shelf, case):
    server, root = shelf
    name = BAD_NAMES[case]
    before = files_under(root)
    header_value = name.encode("utf-8")  # httpx sends bytes as given
    r = httpx.post(f"{server.base_url}/v1/messages", json=BODY, timeout=REQUEST_TIMEOUT,
                   headers={"x-api-key": "k", CASSETTE_HEADER: header_value})
    message = assert_error(r, 400, "invalid_request_error")
    assert "cassette" in message, message
    assert files_under(root) == before, "a refused name created a file"
    for target in outside_targets(root, name):
        assert not target.exists(), target


@pytest.mark.parametrize("case", list(BAD_NAMES))
def test_a_bad_cassette_name_in_the_url_prefix_is_refused(shelf, case):
    server, root = shelf
    name = BAD_NAMES[case]
    before = files_under(root)
    # As one path segment, percent-encoded; and as typed, when that differs (then `/` makes it several segments).
    forms = {quote(name, safe="")}
    if "/" in name or "\\" in name or "%" in name:
        forms.add(name)
    for form in forms:
        if "\x00" in form:
            continue
        status, body = raw_post(server, f"/cassettes/{form}/v1/messages")
        if form.count("/") or form == "":
            # Not one segment: no route matches (a 404), or the name is refused.
            assert status in (400, 404), (form, status, body)
        else:
            assert status == 400, (form, status, body)
            assert body["error"]["type"] == "invalid_request_error", body
    assert files_under(root) == before, "a refused name created a file"
    for target in outside_targets(root, name):
        assert not target.exists(), target


@pytest.mark.parametrize("endpoint", ["interactions", "misses", "reset", "ui", "ui/misses",
                                      "journal",
                                      "ui/journal"])
def test_a_bad_cassette_name_on_admin_calls_is_a_400(shelf, endpoint):
    server, root = shelf
    before = files_under(root)
    for case, name in BAD_NAMES.items():
        if case in ("default", "empty", "nul"):
            continue  # `default` is the default cassette here, an empty value is no value; see below
        method = "POST" if endpoint == "reset" else "GET"
        r = httpx.request(method, f"{server.base_url}/_tapedeck/{endpoint}", params={"cassette": name},
                          timeout=REQUEST_TIMEOUT)
        assert_error(r, 400, "invalid_request_error")
        r = httpx.request(method, f"{server.base_url}/_tapedeck/{endpoint}", headers={CASSETTE_HEADER: name.encode()},
                          timeout=REQUEST_TIMEOUT)
        assert_error(r, 400, "invalid_request_error")
    assert files_under(root) == before


def test_admin_calls_take_default_as_the_default_cassette(shelf):
    server, _ = shelf
    with admin_for(server) as admin:
        admin.reset()
        httpx.post(f"{server.base_url}/v1/messages", json=BODY, headers={"x-api-key": "k"}, timeout=REQUEST_TIMEOUT)
        assert admin.journal("default") == admin.journal() != []
        assert admin.get("interactions", cassette="default") == admin.get("interactions")
        assert admin.get("interactions", cassette="") == admin.get("interactions")


def test_looking_at_a_cassette_does_not_create_it(shelf):
    server, root = shelf
    directory = root / "deep" / "dir"
    for endpoint, method in (("interactions", "GET"), ("misses", "GET"), ("ui", "GET"), ("reset", "POST")):
        name = f"looked-at-{endpoint}"
        r = httpx.request(method, f"{server.base_url}/_tapedeck/{endpoint}", params={"cassette": name},
                          timeout=REQUEST_TIMEOUT)
        assert r.status_code == 200, r.text
        assert not list(directory.glob(f"{name}.sqlite*")), f"{method} /_tapedeck/{endpoint} created {name}.sqlite"


def test_the_longest_name_is_accepted(shelf):
    server, root = shelf
    name = "n" * 200
    r = httpx.post(f"{server.base_url}/v1/messages", json=BODY, timeout=REQUEST_TIMEOUT,
                   headers={"x-api-key": "k", CASSETTE_HEADER: name})
    assert r.status_code == 200, r.text
    assert r.headers["tapedeck-source"] == "proxied"
    assert stored_prompts(root / "deep" / "dir" / f"{name}.sqlite") == [BODY["messages"][0]["content"]]


# -- the admin token ------------------------------------------------------------------------------------------------

TOKEN = "s3cret/token=&+x"  # no space: httpx would send it as `+`, which the server keeps as `+`
ADMIN_CALLS = [
    ("GET", "interactions"), ("GET", "interactions/1"), ("GET", "journal"), ("GET", "misses"), ("POST", "reset"),
    ("GET", "faults"), ("GET", "ui"), ("GET", "ui/interactions/1"), ("GET", "ui/journal"), ("GET", "ui/misses"),
]


def serve(*args: str, env: Optional[dict] = None, timeout: float = 30) -> subprocess.CompletedProcess:
    """``tapedeck serve ARGS`` expected to exit on its own."""
    argv = [str(tapedeck_binary()), "serve", "--port", "0", *args]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TAPEDECK_")}
    environment.update(env or {})
    try:
        return subprocess.run(argv, env=environment, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{' '.join(argv)} did not exit: it should refuse to start")


@pytest.mark.parametrize("host", ["0.0.0.0", "::"])
def test_a_public_host_without_a_token_refuses_to_start(tmp_path, host):
    cassette = tmp_path / "c.sqlite"
    p = serve("--host", host, "--cassette", str(cassette))
    assert p.returncode == 2, p.stdout + p.stderr
    assert "--admin-token" in p.stderr and "--insecure-admin" in p.stderr, p.stderr
    assert not cassette.exists()


def test_a_public_host_token_from_the_environment_is_enough(tmp_path):
    with public_server("--cassette", str(tmp_path / "c.sqlite"), env={"TAPEDECK_ADMIN_TOKEN": TOKEN}) as base:
        assert httpx.get(f"{base}/_tapedeck/journal", timeout=REQUEST_TIMEOUT).status_code == 401
        assert httpx.get(f"{base}/_tapedeck/journal", headers={"authorization": f"Bearer {TOKEN}"},
                         timeout=REQUEST_TIMEOUT).status_code == 200


_PUBLIC_URL_RE = re.compile(r"http://0\.0\.0\.0:(\d+)")


@contextlib.contextmanager
def public_server(*args: str, env: Optional[dict] = None) -> Iterator[str]:
    """``serve --host 0.0.0.0 ARGS``; yields a loopback base URL once healthy."""
    argv = [str(tapedeck_binary()), "serve", "--port", "0", "--host", "0.0.0.0", "--on-miss", "synthesize", *args]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TAPEDECK_")}
    environment.update(env or {})
    server = TapedeckServer(_spawn(argv, env=environment), argv, None)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while server.port is None:
            assert time.monotonic() < deadline, f"no http://0.0.0.0:PORT line:\n{server.output()}"
            line = server._next_line(deadline - time.monotonic())
            m = _PUBLIC_URL_RE.search(line or "")
            if m:
                server.port = int(m.group(1))
        base = server.base_url  # 127.0.0.1:PORT reaches a server bound to 0.0.0.0
        while httpx.get(f"{base}/_tapedeck/health", timeout=2).status_code != 200:
            assert time.monotonic() < deadline, server.output()
            time.sleep(0.05)
        yield base
    finally:
        server.stop()


def test_insecure_admin_starts_on_a_public_host_with_an_open_admin_api(tmp_path):
    with public_server("--insecure-admin", "--cassette", str(tmp_path / "c.sqlite")) as base:
        assert httpx.get(f"{base}/_tapedeck/journal", timeout=REQUEST_TIMEOUT).status_code == 200
        with make_client(base) as client:
            assert text_of(ask(client, "Hello over 0.0.0.0"))


def test_the_admin_token_guards_every_admin_endpoint_but_health(demo_copy):
    with start_tapedeck("--cassette", str(demo_copy), "--admin-token", TOKEN) as server:
        base = server.base_url
        with httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT) as http:
            for method, path in ADMIN_CALLS:
                url = f"/_tapedeck/{path}"
                for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": TOKEN},
                                {"authorization": f"Basic {TOKEN}"}, {"x-api-key": TOKEN}):
                    message = assert_error(http.request(method, url, headers=headers), 401, "authentication_error")
                    assert "--admin-token" in message or "Bearer" in message, message
                assert_error(http.request(method, url, params={"token": "wrong"}), 401, "authentication_error")
                ok = http.request(method, url, headers={"authorization": f"Bearer {TOKEN}"})
                assert ok.status_code == 200, (method, path, ok.status_code, ok.text[:300])
                by_query = http.request(method, url, params={"token": TOKEN})
                assert by_query.status_code == 200, (method, path, by_query.status_code, by_query.text[:300])
            assert http.get("/_tapedeck/health").status_code == 200, "health stays open"
            # API routes are unaffected: no token, any key (the 2.x SDK sends its key as a Bearer token).
            assert http.get("/v1/models").status_code == 200
        with server.client() as client:
            assert text_of(client.messages.create(**demo_request(demo_id("Hello! Can you help me?"))))
            with make_client(f"{base}/cassettes/tokened") as prefixed:
                assert text_of(ask(prefixed, "Hello through a prefix"))
        with admin_for(server, TOKEN) as admin:
            assert [e["source"] for e in admin.journal() if e["path"] == "/v1/messages"] == ["recorded"]
            assert [e["source"] for e in admin.journal("tokened")] == ["synthesized"]
