"""SIGKILL while recording: the cassette stays sound and keeps every answer a client received in full.

Each round starts ``serve --mode record`` in front of the fake upstream, fires 50 concurrent requests (plain
httpx, half of them slow ``paced`` streams of about 0.4 s, half ``text`` JSON requests, in a seeded order),
and SIGKILLs the server after a seeded delay between 50 and 900 ms (paced streams need about 400 ms, so both early and late kills occur). Then it checks the cassette with Python's
``sqlite3`` (integrity, every fully received answer stored, no partial rows) and replays every stored request.

Rounds: ``TAPEDECK_KILL_ROUNDS`` (default 3; use 20 or more when running by hand). Round ``k`` uses seed ``k``,
so a failing round is reproduced with ``-k seed<k>``.
"""

from __future__ import annotations

import json
import os
import random
import re
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional

import httpx
import pytest

from support import MODEL, REQUEST_TIMEOUT, FakeUpstreamServer, start_fake_upstream, start_tapedeck

ROUNDS = int(os.environ.get("TAPEDECK_KILL_ROUNDS", "3"))
REQUESTS = 50
KILL_AFTER_MS = (50, 900)
HEADERS = {"x-api-key": "test-key", "anthropic-version": "2023-06-01", "content-type": "application/json"}
# The whole terminal event: a client holding these bytes has received the answer in full.
MESSAGE_STOP_RE = re.compile(rb"event: message_stop\ndata: [^\n]*\n\n")


@dataclass
class Shot:
    """One request of a round and what its client got before the kill."""

    index: int
    stream: bool
    prompt: str
    status: Optional[int] = None
    received: bytes = b""
    error: Optional[str] = None
    complete: bool = False

    @property
    def body(self) -> dict:
        body = {"model": MODEL, "max_tokens": 256, "messages": [{"role": "user", "content": self.prompt}]}
        if self.stream:
            body["stream"] = True
        return body

    def judge(self) -> None:
        if self.status != 200:
            return
        if self.stream:
            self.complete = MESSAGE_STOP_RE.search(self.received) is not None
        elif self.error is None:
            try:
                self.complete = json.loads(self.received).get("type") == "message"
            except ValueError:
                self.complete = False


def fire(base_url: str, shot: Shot, start: threading.Barrier) -> None:
    """Sends one request once every thread is ready; records what arrived, however the connection ended."""
    with httpx.Client(base_url=base_url, headers=HEADERS, timeout=REQUEST_TIMEOUT) as http:
        try:
            start.wait()
            if shot.stream:
                with http.stream("POST", "/v1/messages", json=shot.body) as response:
                    shot.status = response.status_code
                    for chunk in response.iter_raw():
                        shot.received += chunk
            else:
                response = http.post("/v1/messages", json=shot.body)
                shot.status = response.status_code
                shot.received = response.content
        except (httpx.HTTPError, threading.BrokenBarrierError) as e:
            shot.error = f"{type(e).__name__}: {e}"
    shot.judge()


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeUpstreamServer]:
    with start_fake_upstream() as server:
        yield server


def plan(seed: int) -> tuple[list[Shot], float]:
    rng = random.Random(seed)
    kinds = [i % 2 == 0 for i in range(REQUESTS)]
    rng.shuffle(kinds)
    shots = [
        Shot(i, stream, f"scenario:{'paced' if stream else 'text'} #{i} (round {seed})") for i, stream in enumerate(kinds)
    ]
    delay = rng.uniform(*KILL_AFTER_MS) / 1000
    return shots, delay


def stored_rows(cassette: Path) -> list[dict]:
    connection = sqlite3.connect(str(cassette))
    try:
        verdict = connection.execute("PRAGMA integrity_check").fetchall()
        assert verdict == [("ok",)], f"integrity_check: {verdict}"
        rows = connection.execute(
            "SELECT id, method, path, status, is_stream, request_body, response_body, message FROM interaction"
        ).fetchall()
    finally:
        connection.close()
    names = ("id", "method", "path", "status", "is_stream", "request_body", "response_body", "message")
    return [dict(zip(names, row)) for row in rows]


@pytest.mark.parametrize("seed", [pytest.param(s, id=f"seed{s}") for s in range(ROUNDS)])
def test_sigkill_while_recording(tmp_path, fake, seed):
    shots, delay = plan(seed)
    cassette = tmp_path / "c.sqlite"
    args = ("--mode", "record", "--upstream", fake.base_url, "--cassette", str(cassette), "--allow-upstream-in-ci")

    with start_tapedeck(*args) as server:
        start = threading.Barrier(REQUESTS + 1)
        threads = [
            threading.Thread(target=fire, args=(server.base_url, shot, start), name=f"shot-{shot.index}", daemon=True)
            for shot in shots
        ]
        for t in threads:
            t.start()
        start.wait()
        time.sleep(delay)  # the thing under test: when the kill lands
        server.process.kill()
        server.process.wait(timeout=REQUEST_TIMEOUT)
        for t in threads:
            t.join(timeout=REQUEST_TIMEOUT)
        assert not any(t.is_alive() for t in threads), "a request still hangs after the server was killed"
        assert server.process.returncode == -9

    completed = [s for s in shots if s.complete]
    by_prompt = {s.prompt: s for s in shots}
    summary = (f"seed {seed}: kill after {delay * 1000:.0f} ms; completed {len(completed)}/{REQUESTS} "
               f"({sum(s.stream for s in completed)} streams)")

    # 1. The file is sound, and every row is a whole answer to a request of this round.
    rows = stored_rows(cassette)
    summary += f"; {len(rows)} rows stored"
    print(summary)
    stored: dict[str, dict] = {}
    for row in rows:
        request = json.loads(bytes(row["request_body"]))
        prompt = request["messages"][0]["content"]
        assert prompt in by_prompt, f"row {row['id']} holds a request this round never sent: {prompt!r}"
        assert prompt not in stored, f"{prompt!r} is stored twice"
        stored[prompt] = row
        shot = by_prompt[prompt]
        assert (row["method"], row["path"], row["status"]) == ("POST", "/v1/messages", 200), row["id"]
        body = bytes(row["response_body"])
        if shot.stream:
            assert row["is_stream"] == 1, f"{prompt!r}: a stream stored as is_stream={row['is_stream']}"
            assert b"event: message_stop\n" in body, f"{prompt!r}: stored stream has no message_stop: {body[-200:]!r}"
            last_event = body.rstrip(b"\n").rsplit(b"\n\n", 1)[-1]
            assert last_event.startswith(b"event: message_stop\n"), f"{prompt!r}: stream does not end with message_stop"
            assert row["message"] and json.loads(row["message"])["type"] == "message", f"{prompt!r}: no assembled message"
        else:
            assert row["is_stream"] == 0, f"{prompt!r}: a JSON answer stored as is_stream={row['is_stream']}"
            assert json.loads(body)["type"] == "message", f"{prompt!r}: stored JSON answer is not a message"

    # 2. Everything a client received in full was recorded before it was sent.
    missing = [s.prompt for s in completed if s.prompt not in stored]
    assert not missing, f"{summary}; fully received but not in the cassette: {missing}"

    # 3. The killed cassette replays: every stored request, byte for byte what its client got.
    with start_tapedeck("--mode", "replay", "--cassette", str(cassette), "--on-miss", "error") as replay:
        with httpx.Client(base_url=replay.base_url, headers=HEADERS, timeout=REQUEST_TIMEOUT) as http:
            for prompt in stored:
                shot = by_prompt[prompt]
                response = http.post("/v1/messages", json=shot.body)
                assert response.status_code == 200, (prompt, response.text)
                assert response.headers.get("tapedeck-source") == "recorded", (prompt, dict(response.headers))
                if shot.stream:
                    assert response.headers["content-type"].startswith("text/event-stream")
                if shot.complete:
                    assert response.content == shot.received, f"{prompt!r}: replay differs from what was received"
