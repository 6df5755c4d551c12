"""Hardening II (issue 15) against hostile peers: greedy requests, many cassettes, racing servers, broken upstream
streams, clients that hang up, shutdown, silent upstreams, secrets in the query string.

Items 4-12 of the issue. Plain httpx and raw sockets (no SDK), so the module runs once, under anthropic 2.x.
The hostile upstreams are small threaded HTTP/1.1 servers on 127.0.0.1 written here (``HostileUpstream``): every
loop in them is bounded in time and bytes, and each test shuts its own down.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import socket
import sqlite3
import struct
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Optional
from urllib.parse import parse_qsl, unquote

import httpx
import pytest

from support import (
    MODEL,
    SDK_MAJOR,
    START_TIMEOUT,
    TapedeckServer,
    start_fake_upstream,
    start_tapedeck,
    tapedeck_binary,
)

pytestmark = pytest.mark.skipif(SDK_MAJOR == 0, reason="SDK-independent; runs once, under anthropic 2.x")

HEADERS = {"x-api-key": "test-key", "anthropic-version": "2023-06-01", "content-type": "application/json"}


def body(prompt: str, **extra) -> dict:
    return {"model": MODEL, "max_tokens": 64, "messages": [{"role": "user", "content": prompt}], **extra}


def record_args(upstream: str, cassette: Path, *extra: str) -> tuple[str, ...]:
    return ("--mode", "record", "--upstream", upstream, "--cassette", str(cassette), "--allow-upstream-in-ci", *extra)


def stored_count(cassette: Path) -> int:
    """Rows in the cassette's interaction table, read with sqlite3 (the server may be running: WAL is read too)."""
    with contextlib.closing(sqlite3.connect(str(cassette), timeout=10)) as db:
        return db.execute("SELECT COUNT(*) FROM interaction").fetchone()[0]


def health(server: TapedeckServer) -> dict:
    return httpx.get(f"{server.base_url}/_tapedeck/health", timeout=10).json()


def tail(server: TapedeckServer, chars: int = 3000) -> str:
    return server.output()[-chars:]


# -- the server process: fds, memory ------------------------------------------------------------------------------


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def status_kb(pid: int, name: str) -> int:
    """A ``VmRSS``/``VmHWM``-style line of /proc/PID/status, in kB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(name + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {name} in /proc/{pid}/status")


def reset_peak(pid: int) -> bool:
    """Resets VmHWM to the current RSS (Linux >= 4.0, writing 5 to clear_refs); False when not allowed."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class PeakSampler:
    """Samples a process's fd count every few milliseconds in the background, keeping the maximum.

    Measurement only: nothing waits on it. VmHWM is the kernel's own peak RSS, so memory is read from it."""

    def __init__(self, pid: int, interval: float = 0.01):
        self.pid, self.interval = pid, interval
        self.max_fds = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError):
                self.max_fds = max(self.max_fds, fd_count(self.pid))
            self._stop.wait(self.interval)

    def __enter__(self) -> "PeakSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def poll(condition: Callable[[], bool], timeout: float, interval: float = 0.02) -> bool:
    """Whether ``condition()`` became true within ``timeout`` seconds (checked every ``interval``)."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)  # polling interval, not synchronisation


# -- a hostile upstream ---------------------------------------------------------------------------------------------

MAX_REQUEST_BYTES = 64 * 1024 * 1024
READ_DEADLINE = 20.0  # seconds to receive one whole request from Tapedeck
HOLD_LIMIT = 30.0  # seconds any connection is kept open at most (silent upstreams)
SEND_TIMEOUT = 10.0  # seconds one write may block (a reader that stopped reading)


@dataclass
class UpstreamConnection:
    """One connection Tapedeck opened to the hostile upstream, and what happened on it."""

    sock: socket.socket
    opened_at: float
    method: str = ""
    target: str = ""
    headers: dict = field(default_factory=dict)
    body: bytes = b""
    request_at: Optional[float] = None  # when the whole request had arrived
    sent: int = 0  # response bytes written
    send_error: Optional[str] = None
    peer_closed_at: Optional[float] = None  # when Tapedeck closed its end (EOF or reset)

    # -- writing a response ----------------------------------------------------------------------------------------

    def send(self, data: bytes) -> bool:
        try:
            self.sock.settimeout(SEND_TIMEOUT)
            self.sock.sendall(data)
            self.sent += len(data)
            return True
        except OSError as e:
            self.send_error = repr(e)
            return False

    def send_head(self, status: int = 200, content_type: str = "text/event-stream") -> bool:
        return self.send(
            f"HTTP/1.1 {status} OK\r\nContent-Type: {content_type}\r\nTransfer-Encoding: chunked\r\n"
            f"Connection: close\r\nrequest-id: req_hostile\r\n\r\n".encode())

    def send_chunk(self, data: bytes) -> bool:
        return self.send(b"%x\r\n%s\r\n" % (len(data), data)) if data else True

    def end_chunks(self) -> bool:
        return self.send(b"0\r\n\r\n")

    def hold_until_peer_closes(self, stop: threading.Event, limit: float = HOLD_LIMIT) -> None:
        """Stay silent, reading (and dropping, at most 1 MB) whatever comes, until Tapedeck closes the connection."""
        deadline = time.monotonic() + limit
        self.sock.settimeout(0.05)
        budget = 1 << 20
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                self.peer_closed_at = time.monotonic()
                return
            if not data:
                self.peer_closed_at = time.monotonic()
                return
            budget -= len(data)
            if budget < 0:
                return


class HostileUpstream:
    """A threaded HTTP/1.1 server on 127.0.0.1: each connection's request is read, then ``respond(conn, stop)`` runs;
    the connection is closed afterwards. ``connections`` lists every connection (with its request) in order."""

    def __init__(self, respond: Callable[[UpstreamConnection, threading.Event], None]):
        self.respond = respond
        self.stop = threading.Event()
        self.connections: list[UpstreamConnection] = []
        self.errors: list[str] = []
        self.changed = threading.Condition()
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.listener.settimeout(0.05)
        self.port = self.listener.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.threads: list[threading.Thread] = []
        self.acceptor = threading.Thread(target=self._accept, name="hostile-accept", daemon=True)

    def __enter__(self) -> "HostileUpstream":
        self.acceptor.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.acceptor.join(timeout=5)
        self.listener.close()
        for c in list(self.connections):
            with contextlib.suppress(OSError):
                c.sock.close()
        for t in self.threads:
            t.join(timeout=5)

    def _accept(self) -> None:
        deadline = time.monotonic() + 300  # no test runs that long
        while not self.stop.is_set() and time.monotonic() < deadline:
            try:
                sock, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            conn = UpstreamConnection(sock=sock, opened_at=time.monotonic())
            with self.changed:
                self.connections.append(conn)
                self.changed.notify_all()
            t = threading.Thread(target=self._serve, args=(conn,), name=f"hostile-{len(self.connections)}", daemon=True)
            self.threads.append(t)
            t.start()

    def _serve(self, conn: UpstreamConnection) -> None:
        try:
            if self._read_request(conn):
                with self.changed:
                    conn.request_at = time.monotonic()
                    self.changed.notify_all()
                self.respond(conn, self.stop)
        except Exception as e:  # a broken handler must show in the test, not vanish in a thread
            self.errors.append(f"{type(e).__name__}: {e}")
        finally:
            with contextlib.suppress(OSError):
                conn.sock.close()
            with self.changed:
                self.changed.notify_all()

    def _read_request(self, conn: UpstreamConnection) -> bool:
        deadline = time.monotonic() + READ_DEADLINE
        conn.sock.settimeout(0.1)
        buf = b""

        def more() -> bool:
            nonlocal buf
            while time.monotonic() < deadline and not self.stop.is_set():
                try:
                    data = conn.sock.recv(1 << 20)
                except socket.timeout:
                    continue
                except OSError:
                    return False
                if not data:
                    return False
                buf += data
                return len(buf) <= MAX_REQUEST_BYTES
            return False

        while b"\r\n\r\n" not in buf:
            if len(buf) > 1 << 20 or not more():
                return False
        head, _, rest = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        conn.method, conn.target = lines[0].split(" ")[:2]
        conn.headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        length = int(conn.headers.get("content-length", "0"))
        buf = rest
        while len(buf) < length:
            if not more():
                return False
        conn.body = buf[:length]
        return True

    def wait_for(self, condition: Callable[[], bool], timeout: float) -> bool:
        with self.changed:
            return self.changed.wait_for(condition, timeout)

    def requested(self) -> list[UpstreamConnection]:
        return [c for c in self.connections if c.request_at is not None]

    def check(self) -> None:
        assert not self.errors, f"the hostile upstream's handler failed: {self.errors}"


# -- SSE, as the real API writes it -------------------------------------------------------------------------------


def sse(name: str, data) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


MESSAGE_START = sse("message_start", {
    "type": "message_start",
    "message": {"id": "msg_01HostileUpstream00000000", "type": "message", "role": "assistant", "model": MODEL,
                "content": [], "stop_reason": None, "stop_sequence": None,
                "usage": {"input_tokens": 9, "output_tokens": 1}}})
BLOCK_START = sse("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})
BLOCK_STOP = sse("content_block_stop", {"type": "content_block_stop", "index": 0})
MESSAGE_DELTA = sse("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                                      "usage": {"output_tokens": 12}})
MESSAGE_STOP = sse("message_stop", {"type": "message_stop"})


def delta(text: str) -> bytes:
    return sse("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}})


def whole_stream(*texts: str) -> bytes:
    return MESSAGE_START + BLOCK_START + b"".join(delta(t) for t in texts) + BLOCK_STOP + MESSAGE_DELTA + MESSAGE_STOP


def streams(chunks: Iterable[bytes]) -> Callable[[UpstreamConnection, threading.Event], None]:
    """A handler answering 200 text/event-stream with these chunks, then a clean end (the terminating chunk)."""

    def respond(conn: UpstreamConnection, stop: threading.Event) -> None:
        if not conn.send_head():
            return
        for chunk in chunks:
            if stop.is_set() or not conn.send_chunk(chunk):
                return
        conn.end_chunks()

    return respond


def post_stream(base_url: str, payload: dict, timeout: float = 30.0, **headers) -> tuple[int, dict, bytes]:
    """POSTs and reads the whole answer as raw bytes (httpx, no decoding)."""
    with httpx.Client(timeout=timeout) as http:
        with http.stream("POST", f"{base_url}/v1/messages", json=payload, headers={**HEADERS, **headers}) as r:
            data = b"".join(r.iter_raw())
            return r.status_code, dict(r.headers), data


# =================================================================================================================
# 4. CPU and memory budgets
# =================================================================================================================

def recursive_ref(branches: int) -> dict:
    """The spec's ~150-byte schema (``branches`` = 2: properties x and y, both required, both ``$ref`` to itself),
    with the root ``type`` the API insists on. The old binary answered 2 branches in 0.1 s, 3 in 4 s and 110 MB,
    4 or more not within 45 s (600 MB-1 GB)."""
    names = "xyzwvuts"[:branches]
    return {"type": "object", "$defs": {"a": {"type": "object", "properties": {n: {"$ref": "#/$defs/a"} for n in names},
                                              "required": list(names)}}, "$ref": "#/$defs/a"}


RECURSIVE_REF_SECONDS = 4.0  # the spec says 2 s; the old binary: 3 branches 4-5 s, 4 or more branches over 45 s
RECURSIVE_REF_MAX_GROWTH_MB = 300
WIDE_SCHEMA_SECONDS = 12.0  # "a few seconds"; the debug build takes 1-4.5 s, the old binary over 20 s


def forced_tool_request(schema: dict) -> dict:
    return {"model": MODEL, "max_tokens": 32000, "messages": [{"role": "user", "content": "go"}],
            "tools": [{"name": "t", "description": "a hostile schema", "input_schema": schema}],
            "tool_choice": {"type": "tool", "name": "t"}}


def tool_input_of(answer: dict) -> dict:
    calls = [b for b in answer.get("content", []) if b.get("type") == "tool_use"]
    assert len(calls) == 1 and calls[0]["name"] == "t", answer
    assert isinstance(calls[0]["input"], dict), calls[0]
    return calls[0]["input"]


def timed_post(server: TapedeckServer, payload: dict, timeout: float, path: str = "/v1/messages") -> tuple[httpx.Response, float]:
    what = f"POST {path} ({len(json.dumps(payload)) // 1024} KB body)"
    started = time.monotonic()
    try:
        r = httpx.post(f"{server.base_url}{path}", content=json.dumps(payload).encode(), headers=HEADERS, timeout=timeout)
    except httpx.TimeoutException:
        alive = server.process.poll() is None
        rss = status_kb(server.process.pid, "VmRSS") // 1024 if alive else None
        pytest.fail(f"{what}: no answer within {timeout} s (server alive: {alive}, RSS {rss} MB)\n{tail(server)}")
    return r, time.monotonic() - started


@pytest.mark.parametrize("branches", [2, 3, 4, 8])
def test_a_recursive_ref_tool_schema_answers_quickly_and_small(branches):
    with start_tapedeck() as server:
        pid = server.process.pid
        before = status_kb(pid, "VmRSS")
        peak_reset = reset_peak(pid)
        r, elapsed = timed_post(server, forced_tool_request(recursive_ref(branches)), timeout=RECURSIVE_REF_SECONDS + 2)
        growth_mb = (status_kb(pid, "VmHWM") - before) / 1024
        assert r.status_code == 200, r.text[:500]
        assert elapsed < RECURSIVE_REF_SECONDS, f"answered in {elapsed:.1f} s"
        answer = r.json()
        assert answer["type"] == "message", answer
        # A tree of nulls may not fit max_tokens: then the answer is cut (max_tokens), which is what the API does.
        assert answer["stop_reason"] in ("tool_use", "max_tokens"), answer
        if answer["stop_reason"] == "tool_use":
            tool_input_of(answer)
        if peak_reset:
            assert growth_mb < RECURSIVE_REF_MAX_GROWTH_MB, f"peak RSS grew {growth_mb:.0f} MB for one 150-byte schema"
        # still serving
        r, _ = timed_post(server, body("still there?"), timeout=10)
        assert r.status_code == 200, r.text


@pytest.mark.parametrize("width, required", [(60_000, False), (100_000, True)], ids=["60k-optional", "100k-required"])
def test_a_schema_with_a_huge_number_of_properties_answers_in_seconds(width, required):
    names = [f"p{i:06d}" for i in range(width)]
    schema = {"type": "object", "properties": {n: {"type": "string"} for n in names}}
    if required:
        schema["required"] = names
    with start_tapedeck() as server:
        r, elapsed = timed_post(server, forced_tool_request(schema), timeout=WIDE_SCHEMA_SECONDS + 10)
        assert r.status_code == 200, r.text[:500]
        assert elapsed < WIDE_SCHEMA_SECONDS, f"{width} properties: answered in {elapsed:.1f} s"
        answer = r.json()
        # 2000 required strings do not fit 32000 tokens: the answer is then cut at max_tokens, as the API would.
        assert answer["stop_reason"] in (("tool_use", "max_tokens") if required else ("tool_use",)), answer
        if answer["stop_reason"] == "tool_use":
            tool_input = tool_input_of(answer)
            assert tool_input and set(tool_input) <= set(names), "the tool input has properties the schema does not declare"
        r, _ = timed_post(server, body("still there?"), timeout=10)
        assert r.status_code == 200, r.text


MISS_SECONDS = 10.0  # "a few seconds"


def wide_history(width: int, changed: Optional[int] = None) -> dict:
    """A request whose history holds a tool_use input with ``width`` keys (key ``changed`` gets another value)."""
    tool_input = {f"k{i:06d}": (i if i != changed else -1) for i in range(width)}
    return {"model": MODEL, "max_tokens": 64, "messages": [
        {"role": "user", "content": "scenario:text look this up"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_01Wide", "name": "lookup", "input": tool_input}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_01Wide", "content": "done"}]},
    ]}


def test_a_miss_explanation_of_a_100k_key_object_answers_the_404_in_seconds(tmp_path):
    width = 100_000
    cassette = tmp_path / "wide.sqlite"
    with start_fake_upstream() as fake, start_tapedeck(*record_args(fake.base_url, cassette)) as server:
        r, _ = timed_post(server, wide_history(width), timeout=60)
        assert r.status_code == 200 and r.headers.get("tapedeck-source") == "proxied", r.text[:500]
    assert stored_count(cassette) == 1
    with start_tapedeck("--mode", "replay", "--cassette", str(cassette), "--on-miss", "error") as server:
        r, elapsed = timed_post(server, wide_history(width, changed=width // 2), timeout=MISS_SECONDS + 10)
        assert r.status_code == 404, r.text[:500]
        error = r.json()
        assert error["type"] == "error" and error["error"]["type"] == "not_found_error", error
        assert "no recorded interaction matches" in error["error"]["message"], error
        assert f"k{width // 2:06d}" in error["error"]["message"], "the explanation does not name the key that differs"
        assert elapsed < MISS_SECONDS, f"the miss explanation took {elapsed:.1f} s"
        print(f"miss explained in {elapsed:.2f} s: {error['error']['message'][:300]}")
        # The recording itself still replays.
        r, _ = timed_post(server, wide_history(width), timeout=60)
        assert r.status_code == 200 and r.headers.get("tapedeck-source") == "recorded", r.text[:500]


# =================================================================================================================
# 5. Per-test cassettes: at most --max-open-cassettes open at once
# =================================================================================================================

CASSETTES = 300
OPEN_CASSETTES = 8
FD_HEADROOM = 250  # over the idle server's count; 300 cassettes held open need about 3-15 fds each (well over 900)
SHARED_PROMPT = "scenario:counter the same question in every cassette"


def ask_cassette(http: httpx.Client, index: int) -> httpx.Response:
    """Cassette ``cNNN``: even ones by the ``tapedeck-cassette`` header, odd ones by the ``/cassettes/NAME`` prefix."""
    name = f"c{index:03d}"
    payload = json.dumps(body(SHARED_PROMPT)).encode()
    if index % 2 == 0:
        return http.post("/v1/messages", content=payload, headers={"tapedeck-cassette": name})
    return http.post(f"/cassettes/{name}/v1/messages", content=payload)


def run_over_cassettes(server: TapedeckServer, indices: list[int], workers: int = 4) -> dict[int, httpx.Response]:
    with httpx.Client(base_url=server.base_url, headers=HEADERS, timeout=30) as http, ThreadPoolExecutor(workers) as pool:
        return dict(zip(indices, pool.map(lambda i: ask_cassette(http, i), indices)))


def text_of(r: httpx.Response) -> str:
    return "".join(b.get("text", "") for b in r.json()["content"] if b["type"] == "text")


def test_300_per_test_cassettes_record_and_replay_with_bounded_fds(tmp_path):
    suite = tmp_path / "suite.sqlite"
    # Record, the limit from the environment.
    with start_fake_upstream() as fake, start_tapedeck(
            *record_args(fake.base_url, suite), env={"TAPEDECK_MAX_OPEN_CASSETTES": str(OPEN_CASSETTES)}) as server:
        pid = server.process.pid
        idle = fd_count(pid)
        with PeakSampler(pid) as sampler:
            recorded = run_over_cassettes(server, list(range(CASSETTES)))
        after = fd_count(pid)
        bad = {i: (r.status_code, r.text[:200]) for i, r in recorded.items()
               if r.status_code != 200 or r.headers.get("tapedeck-source") != "proxied"}
        assert not bad, f"{len(bad)} of {CASSETTES} recordings failed, e.g. {list(bad.items())[:3]}\n{tail(server)}"
        answers = {i: text_of(r) for i, r in recorded.items()}
        assert sorted(answers.values()) == sorted(f"call {n}" for n in range(1, CASSETTES + 1)), "one call each"
        summary = f"record: idle {idle} fds, peak {sampler.max_fds}, after {after}"
        print(summary)
        assert sampler.max_fds - idle <= FD_HEADROOM, summary
        assert server.process.poll() is None
    files = sorted(p.name for p in tmp_path.glob("c*.sqlite"))
    assert len(files) == CASSETTES, files[:5]

    # Replay: each cassette answers its own recording, also once evicted and opened again (two passes over 300
    # cassettes with room for 8). The limit comes from the flag this time.
    with start_tapedeck("--mode", "replay", "--cassette", str(suite), "--on-miss", "error",
                        "--max-open-cassettes", str(OPEN_CASSETTES)) as server:
        pid = server.process.pid
        idle = fd_count(pid)
        with PeakSampler(pid) as sampler:
            for attempt in ("first pass", "after eviction"):
                replayed = run_over_cassettes(server, list(range(CASSETTES)))
                wrong = {i: (r.status_code, r.headers.get("tapedeck-source"), r.text[:120]) for i, r in replayed.items()
                         if r.status_code != 200 or r.headers.get("tapedeck-source") != "recorded" or text_of(r) != answers[i]}
                assert not wrong, f"{attempt}: {len(wrong)} cassettes did not replay their recording, e.g. {list(wrong.items())[:3]}"
        summary = f"replay: idle {idle} fds, peak {sampler.max_fds}"
        print(summary)
        assert sampler.max_fds - idle <= FD_HEADROOM, summary


# =================================================================================================================
# 6. Record-mode servers racing to create the same cassette
# =================================================================================================================

RACERS = 8
RACE_ROUNDS = 10


def spawn_tapedeck(argv: list[str], cwd: Path) -> TapedeckServer:
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, bufsize=1, errors="replace", cwd=str(cwd))
    return TapedeckServer(process, argv, None)


def test_eight_record_servers_started_at_once_on_a_new_cassette_all_start_and_record(tmp_path):
    with start_fake_upstream() as fake:
        for round_ in range(RACE_ROUNDS):
            cassette = tmp_path / f"round{round_}" / "race.sqlite"
            cassette.parent.mkdir()
            argv = [str(tapedeck_binary()), "serve", "--port", "0", "--host", "127.0.0.1",
                    *record_args(fake.base_url, cassette)]
            servers = [spawn_tapedeck(argv, tmp_path) for _ in range(RACERS)]
            try:
                failures = []
                for i, server in enumerate(servers):
                    try:
                        server.wait_until_ready(timeout=START_TIMEOUT)
                    except Exception as e:
                        failures.append(f"server {i}: {e}")
                assert not failures, f"round {round_}: {len(failures)} of {RACERS} did not start:\n" + "\n".join(failures)
                for server in servers:
                    assert "tapedeck record on http://127.0.0.1:" in server.output(), server.output()

                def record(i: int) -> httpx.Response:
                    return httpx.post(f"{servers[i].base_url}/v1/messages", json=body(f"scenario:text round {round_} server {i}"),
                                      headers=HEADERS, timeout=30)

                with ThreadPoolExecutor(RACERS) as pool:
                    answers = list(pool.map(record, range(RACERS)))
                bad = [(i, r.status_code, r.text[:200]) for i, r in enumerate(answers)
                       if r.status_code != 200 or r.headers.get("tapedeck-source") != "proxied"]
                assert not bad, f"round {round_}: recording failed: {bad}"
            finally:
                for server in servers:
                    server.stop()
            with contextlib.closing(sqlite3.connect(str(cassette))) as db:
                assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
                prompts = sorted(json.loads(bytes(b))["messages"][0]["content"]
                                 for (b,) in db.execute("SELECT request_body FROM interaction"))
            assert prompts == sorted(f"scenario:text round {round_} server {i}" for i in range(RACERS)), prompts


# =================================================================================================================
# 7. Record mode keeps only whole, valid streams of bounded size
# =================================================================================================================


def replay_is_a_miss(cassette: Path, payload: dict) -> None:
    with start_tapedeck("--mode", "replay", "--cassette", str(cassette), "--on-miss", "error") as server:
        r = httpx.post(f"{server.base_url}/v1/messages", json=payload, headers=HEADERS, timeout=30)
        assert r.status_code == 404, f"replay answered {r.status_code} {r.headers.get('tapedeck-source')}: {r.text[:300]}"


def test_a_stream_that_ends_without_message_stop_is_passed_on_but_not_recorded(tmp_path):
    sent = [MESSAGE_START + BLOCK_START, delta("Half an answer"), delta(", then the upstream just stops."),
            BLOCK_STOP + MESSAGE_DELTA]
    cassette = tmp_path / "c.sqlite"
    payload = body("a stream without its end", stream=True)
    with HostileUpstream(streams(sent)) as upstream, start_tapedeck(*record_args(upstream.base_url, cassette)) as server:
        status, headers, received = post_stream(server.base_url, payload)
        assert status == 200 and headers.get("content-type", "").startswith("text/event-stream"), (status, headers)
        assert received == b"".join(sent), f"the client did not get the upstream's bytes: {received[-300:]!r}"
        assert len(upstream.requested()) == 1
        upstream.check()
        assert health(server)["interactions"] == 0, "a stream without message_stop was recorded"
    assert stored_count(cassette) == 0
    replay_is_a_miss(cassette, payload)


INVALID_STREAMS = {
    "data-not-json": [MESSAGE_START, BLOCK_START, b"event: content_block_delta\ndata: {this is not json at all\n\n",
                      delta("after the bad line"), BLOCK_STOP, MESSAGE_DELTA, MESSAGE_STOP],
    "data-json-but-not-an-event": [MESSAGE_START, BLOCK_START, b"event: content_block_delta\ndata: [1, 2, 3]\n\n",
                                   BLOCK_STOP, MESSAGE_DELTA, MESSAGE_STOP],
    "garbage-bytes": [MESSAGE_START, BLOCK_START, b"\x00\xff\xfe\x80garbage\x81\x9f\x00 \xc3\x28\n\n",
                      delta("after the garbage"), BLOCK_STOP, MESSAGE_DELTA, MESSAGE_STOP],
}


@pytest.mark.parametrize("case", sorted(INVALID_STREAMS))
def test_an_invalid_sse_stream_is_not_recorded(tmp_path, case):
    sent = INVALID_STREAMS[case]
    cassette = tmp_path / "c.sqlite"
    payload = body(f"an invalid stream: {case}", stream=True)
    with HostileUpstream(streams(sent)) as upstream, start_tapedeck(*record_args(upstream.base_url, cassette)) as server:
        status, _, received = post_stream(server.base_url, payload)
        assert status == 200, (status, received[:300])
        assert received.startswith(MESSAGE_START), received[:300]
        upstream.check()
        assert health(server)["interactions"] == 0, f"{case}: an invalid stream was recorded"
        assert server.process.poll() is None, tail(server)
    assert stored_count(cassette) == 0


RECORDING_CAP = 1024 * 1024  # --max-recording-bytes in these tests


class EndlessStream:
    """``total`` bytes of valid stream, made on the fly (nothing held): the usual start, 16 KB chunks of deltas, the end."""

    def __init__(self, total: int):
        self.head, self.end = MESSAGE_START + BLOCK_START, BLOCK_STOP + MESSAGE_DELTA + MESSAGE_STOP
        self.piece = delta(("All work and no play makes a long stream. " * 100)[:4000]) * 4
        self.pieces = max(0, -(-(total - len(self.head) - len(self.end)) // len(self.piece)))
        self.size = len(self.head) + self.pieces * len(self.piece) + len(self.end)

    def __iter__(self) -> Iterator[bytes]:
        yield self.head
        for _ in range(self.pieces):
            yield self.piece
        yield self.end


def says_not_recorded(line: str) -> bool:
    """A log line saying a stream was too long to record (its wording is not pinned down, what it says is)."""
    low = line.lower()
    names_limit = any(w in low for w in ("max-recording-bytes", str(RECORDING_CAP), "1 mib", "1mib", "limit", "cap"))
    names_outcome = any(w in low for w in ("not recorded", "not saved", "not record", "without recording", "nothing recorded",
                                           "not be recorded", "not kept", "not stored", "skipp"))
    return names_limit and names_outcome


def test_a_stream_longer_than_max_recording_bytes_is_passed_on_in_full_but_not_recorded(tmp_path):
    small, large = whole_stream("A short answer."), list(EndlessStream(3 * RECORDING_CAP))
    replies = iter([[small], large])
    cassette = tmp_path / "c.sqlite"
    with HostileUpstream(lambda c, stop: streams(next(replies))(c, stop)) as upstream, start_tapedeck(
            *record_args(upstream.base_url, cassette, "--max-recording-bytes", str(RECORDING_CAP))) as server:
        # Under the cap: recorded as usual.
        status, _, received = post_stream(server.base_url, body("short", stream=True))
        assert status == 200 and received == small
        assert health(server)["interactions"] == 1, "a stream under --max-recording-bytes was not recorded"
        logged_before = len(server.output())

        status, _, received = post_stream(server.base_url, body("long", stream=True), timeout=60)
        assert status == 200
        expected = b"".join(large)
        assert len(received) == len(expected) and hashlib.sha256(received).digest() == hashlib.sha256(expected).digest(), (
            f"the client got {len(received)} of {len(expected)} bytes, or other bytes")
        upstream.check()
        assert health(server)["interactions"] == 1, "a stream over --max-recording-bytes was recorded"
        # The log says so (it may come just after the client got the end).
        assert poll(lambda: any(says_not_recorded(l) for l in server.output()[logged_before:].splitlines()), 5), (
            "no log line says the long stream was not recorded:\n" + server.output()[logged_before:][-2000:])
    assert stored_count(cassette) == 1


# =================================================================================================================
# 8. An endless upstream stream does not grow the server's memory
# =================================================================================================================

ENDLESS_BYTES = 200 * 1000 * 1000  # the spec's example
ENDLESS_MAX_GROWTH_MB = 200  # the spec's bound. The old binary kept it all: +203 MB for a 16 MB stream, at 1 MB/s
ENDLESS_SECONDS = 45.0  # for the whole stream (the debug build needs about 3 s)


def test_an_endless_upstream_stream_keeps_memory_bounded(tmp_path):
    stream = EndlessStream(ENDLESS_BYTES)
    cassette = tmp_path / "c.sqlite"
    with HostileUpstream(streams(stream)) as upstream, start_tapedeck(
            *record_args(upstream.base_url, cassette), env={"TAPEDECK_MAX_RECORDING_BYTES": str(RECORDING_CAP)}) as server:
        pid = server.process.pid
        assert health(server)["interactions"] == 0  # warm-up before the baseline (not proxied)
        before = status_kb(pid, "VmRSS")
        peak_reset = reset_peak(pid)
        received = 0
        tail_bytes = b""
        started = time.monotonic()
        with httpx.Client(timeout=60) as http:
            with http.stream("POST", f"{server.base_url}/v1/messages", json=body("endless", stream=True), headers=HEADERS) as resp:
                assert resp.status_code == 200
                for piece in resp.iter_raw():
                    received += len(piece)
                    tail_bytes = (tail_bytes + piece)[-200:]
                    if time.monotonic() - started > ENDLESS_SECONDS:
                        pytest.fail(f"only {received >> 20} of {stream.size >> 20} MB passed in {ENDLESS_SECONDS:.0f} s; "
                                    f"RSS grew {(status_kb(pid, 'VmRSS') - before) >> 10} MB so far")
        elapsed = time.monotonic() - started
        peak = status_kb(pid, "VmHWM") if peak_reset else max(status_kb(pid, "VmRSS"), before)
        growth_mb = (peak - before) / 1024
        upstream.check()
        assert received == stream.size, f"the client got {received} of {stream.size} bytes"
        assert tail_bytes.endswith(MESSAGE_STOP), tail_bytes
        print(f"{stream.size >> 20} MB streamed in {elapsed:.1f} s, RSS +{growth_mb:.0f} MB")
        assert growth_mb < ENDLESS_MAX_GROWTH_MB, (
            f"{stream.size >> 20} MB streamed in {elapsed:.1f} s: RSS grew {growth_mb:.0f} MB (from {before >> 10} MB)")
        assert health(server)["interactions"] == 0
    assert stored_count(cassette) == 0


# =================================================================================================================
# 9. A client that hangs up makes Tapedeck close its upstream connection
# =================================================================================================================

HANGUP_SECONDS = 4.0  # the spec says ~2 s; the old binary kept the upstream connection until the read timeout


def raw_post(port: int, payload: dict) -> socket.socket:
    data = json.dumps(payload).encode()
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(
        b"POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nx-api-key: test-key\r\n"
        b"anthropic-version: 2023-06-01\r\nContent-Length: %d\r\n\r\n%s" % (len(data), data))
    return sock


def hang_up(sock: socket.socket, how: str) -> float:
    """Closes the client's socket: ``close`` (a FIN, what a client that gives up usually sends) or ``reset`` (an RST)."""
    if how == "reset":
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
    return time.monotonic()


HANGUPS = ["close", "reset"]


def silent(conn: UpstreamConnection, stop: threading.Event) -> None:
    conn.hold_until_peer_closes(stop)


def starts_then_goes_silent(conn: UpstreamConnection, stop: threading.Event) -> None:
    if conn.send_head() and conn.send_chunk(MESSAGE_START + BLOCK_START + delta("The first words, and then")):
        conn.hold_until_peer_closes(stop)


def assert_upstream_closed_after_hangup(upstream: HostileUpstream, hung_up_at: float, what: str) -> None:
    (conn,) = upstream.requested()
    closed = upstream.wait_for(lambda: conn.peer_closed_at is not None, HANGUP_SECONDS + 2)
    assert closed, f"{what}: Tapedeck still held its upstream connection {HANGUP_SECONDS + 2:.0f} s after the client hung up"
    assert conn.peer_closed_at - hung_up_at < HANGUP_SECONDS, (
        f"{what}: upstream connection closed {conn.peer_closed_at - hung_up_at:.1f} s after the client hung up")


@pytest.mark.parametrize("how", HANGUPS)
def test_a_client_hanging_up_before_the_upstream_answers_closes_the_upstream_connection(tmp_path, how):
    with HostileUpstream(silent) as upstream, start_tapedeck(*record_args(upstream.base_url, tmp_path / "c.sqlite")) as server:
        sock = raw_post(server.port, body("nobody will answer this"))
        try:
            assert upstream.wait_for(lambda: len(upstream.requested()) == 1, 15), "the request never reached the upstream"
        finally:
            hung_up_at = hang_up(sock, how)
        assert_upstream_closed_after_hangup(upstream, hung_up_at, f"{how} before the upstream's headers")
        upstream.check()
        r = httpx.get(f"{server.base_url}/_tapedeck/health", timeout=10)
        assert r.status_code == 200 and r.json()["interactions"] == 0


@pytest.mark.parametrize("how", HANGUPS)
def test_a_client_hanging_up_mid_stream_closes_the_silent_upstream_connection(tmp_path, how):
    with HostileUpstream(starts_then_goes_silent) as upstream, start_tapedeck(
            *record_args(upstream.base_url, tmp_path / "c.sqlite")) as server:
        sock = raw_post(server.port, body("stream, then silence", stream=True))
        try:
            got = b""
            deadline = time.monotonic() + 15
            sock.settimeout(0.5)
            while b"event: message_start" not in got and time.monotonic() < deadline and len(got) < 1 << 20:
                with contextlib.suppress(socket.timeout):
                    data = sock.recv(65536)
                    assert data, f"Tapedeck closed the client connection: {got!r}"
                    got += data
            assert b"event: message_start" in got, f"no message_start reached the client: {got[:500]!r}"
        finally:
            hung_up_at = hang_up(sock, how)
        assert_upstream_closed_after_hangup(upstream, hung_up_at, f"{how} mid-stream")
        upstream.check()
        assert httpx.get(f"{server.base_url}/_tapedeck/health", timeout=10).json()["interactions"] == 0


# =================================================================================================================
# 10. Shutdown: a grace period for requests in flight, a second signal ends at once
# =================================================================================================================


def unread_request_bytes(server_port: int, client_port: int) -> Optional[int]:
    """Bytes of our connection still waiting in the server's receive queue (/proc/net/tcp), None if not accepted."""
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            parts = line.split()
            local, remote = parts[1], parts[2]
            if int(local.split(":")[1], 16) == server_port and int(remote.split(":")[1], 16) == client_port:
                return int(parts[4].split(":")[1], 16)
    return None


def request_in_flight(server: TapedeckServer) -> socket.socket:
    """A request sleeping in a 30 s latency fault, once the server has read all of it."""
    data = json.dumps(body("take your time")).encode()
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    sock.sendall(b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\ntapedeck-fault: latency=30000\r\n"
                 b"Content-Length: %d\r\n\r\n%s" % (len(data), data))
    client_port = sock.getsockname()[1]
    assert poll(lambda: unread_request_bytes(server.port, client_port) == 0, 10), "the server never read the request"
    return sock


def refuses_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return False
    except ConnectionRefusedError:
        return True
    except OSError:
        return False


REFUSE_SECONDS = 1.5  # "at once"
EXIT_SLACK = 3.0  # the spec says grace + ~2 s


@pytest.mark.parametrize("how", ["flag", "env"])
def test_sigterm_refuses_new_connections_at_once_and_exits_after_the_grace(how):
    grace = 1
    args, env = (("--shutdown-grace", str(grace)), None) if how == "flag" else ((), {"TAPEDECK_SHUTDOWN_GRACE": str(grace)})
    with start_tapedeck(*args, env=env) as server:
        with request_in_flight(server):
            signalled = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            refused = poll(lambda: refuses_connections(server.port), REFUSE_SECONDS + 1)
            refused_after = time.monotonic() - signalled
            assert refused and refused_after < REFUSE_SECONDS, (
                f"new connections still accepted {refused_after:.1f} s after SIGTERM")
            try:
                server.process.wait(timeout=grace + EXIT_SLACK)
            except subprocess.TimeoutExpired:
                pytest.fail(f"still running {grace + EXIT_SLACK:.0f} s after SIGTERM with --shutdown-grace {grace} "
                            f"({how}), a request sleeping in latency=30000\n{tail(server)}")
            exited_after = time.monotonic() - signalled
        assert exited_after < grace + EXIT_SLACK
        assert server.process.returncode >= 0 or server.process.returncode == -signal.SIGTERM, server.process.returncode


SECOND_SIGNAL_SECONDS = 2.0  # the spec says < ~1 s; the grace here is 30 s


@pytest.mark.parametrize("second", ["SIGTERM", "SIGINT"])
def test_a_second_signal_during_the_grace_exits_at_once(second):
    with start_tapedeck(env={"TAPEDECK_SHUTDOWN_GRACE": "30"}) as server:
        with request_in_flight(server):
            server.process.send_signal(signal.SIGTERM)
            assert poll(lambda: refuses_connections(server.port), 5), "SIGTERM did not start the shutdown"
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.process.wait(timeout=0.5)  # expected to time out: the grace is 30 s
            assert server.process.poll() is None, "exited at the first SIGTERM with a request in flight and 30 s of grace"
            signalled = time.monotonic()
            server.process.send_signal(getattr(signal, second))
            try:
                server.process.wait(timeout=SECOND_SIGNAL_SECONDS)
            except subprocess.TimeoutExpired:
                pytest.fail(f"still running {SECOND_SIGNAL_SECONDS} s after SIGTERM then {second}\n{tail(server)}")
            assert time.monotonic() - signalled < SECOND_SIGNAL_SECONDS


# =================================================================================================================
# 11. A silent upstream is a 504 after --upstream-read-timeout
# =================================================================================================================


@pytest.mark.parametrize("how", ["flag", "env"])
def test_a_silent_upstream_is_a_504_after_the_read_timeout(tmp_path, how):
    timeout = 1
    args = ("--upstream-read-timeout", str(timeout)) if how == "flag" else ()
    env = {"TAPEDECK_UPSTREAM_READ_TIMEOUT": str(timeout)} if how == "env" else None
    with HostileUpstream(silent) as upstream, start_tapedeck(*record_args(upstream.base_url, tmp_path / "c.sqlite", *args),
                                                             env=env) as server:
        started = time.monotonic()
        try:
            r = httpx.post(f"{server.base_url}/v1/messages", json=body("hello?"), headers=HEADERS, timeout=timeout + 8)
        except httpx.TimeoutException:
            pytest.fail(f"no answer {timeout + 8} s into a silent upstream with a {timeout} s read timeout ({how})")
        elapsed = time.monotonic() - started
        assert len(upstream.requested()) == 1, "the request never reached the upstream"
        assert r.status_code == 504, (r.status_code, r.text[:300])
        error = r.json()
        assert error["type"] == "error" and error["error"]["type"] and error["error"]["message"], error
        assert timeout * 0.8 <= elapsed < timeout + 4, f"504 after {elapsed:.1f} s with a {timeout} s read timeout"
        upstream.check()


# =================================================================================================================
# 12. Secrets in the query string never reach the cassette
# =================================================================================================================

SECRET_PARAMS = ["api_key", "apikey", "key", "token", "access_token", "x-api-key", "auth", "password", "secret"]


def cassette_files(cassette: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(cassette.parent.iterdir()) if p.name.startswith(cassette.name)}


def export(cassette: Path) -> str:
    done = subprocess.run([str(tapedeck_binary()), "cassette", "export", str(cassette)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout


def stored_queries(cassette: Path) -> list[Optional[str]]:
    with contextlib.closing(sqlite3.connect(str(cassette))) as db:
        return [q for (q,) in db.execute("SELECT query FROM interaction ORDER BY id")]


def test_secret_query_parameters_are_redacted_in_the_cassette(tmp_path):
    secrets = {name: f"SECRET{100 + i}Q" for i, name in enumerate(SECRET_PARAMS)}
    secrets["api_key"] = "SECRET123"
    cassette = tmp_path / "c.sqlite"
    with start_fake_upstream() as fake, start_tapedeck(*record_args(fake.base_url, cassette)) as server:
        with httpx.Client(base_url=server.base_url, headers=HEADERS, timeout=30) as http:
            r = http.post("/v1/messages?api_key=SECRET123&beta=true", json=body("scenario:text one key"))
            assert r.status_code == 200 and r.headers["tapedeck-source"] == "proxied", r.text
            query = "&".join(f"{k}={v}" for k, v in secrets.items()) + "&beta=true"
            r = http.post(f"/v1/messages?{query}", json=body("scenario:text every key"))
            assert r.status_code == 200 and r.headers["tapedeck-source"] == "proxied", r.text
        live = cassette_files(cassette)
        assert f"{cassette.name}-wal" in live, sorted(live)
        for name, data in live.items():
            for value in secrets.values():
                assert value.encode() not in data, f"{value} is in {name} while the server runs"
    for name, data in cassette_files(cassette).items():
        for value in secrets.values():
            assert value.encode() not in data, f"{value} is in {name}"
    exported = export(cassette)
    for value in secrets.values():
        assert value not in exported, f"{value} is in `cassette export`"

    first, every = stored_queries(cassette)
    assert first is not None and every is not None, (first, every)
    for stored, names in ((first, ["api_key"]), (every, SECRET_PARAMS)):
        params = dict(parse_qsl(stored, keep_blank_values=True))
        assert params.get("beta") == "true", f"beta=true was not kept: {stored!r}"
        for name in names:
            assert name in params and "REDACTED" in unquote(params[name]), f"{name} not REDACTED in {stored!r}"


def test_redact_patterns_apply_to_the_query(tmp_path):
    cassette = tmp_path / "c.sqlite"
    with start_fake_upstream() as fake, start_tapedeck(*record_args(fake.base_url, cassette, "--redact", "tok-[0-9]+")) as server:
        r = httpx.post(f"{server.base_url}/v1/messages?session=tok-987654&beta=true", json=body("scenario:text a pattern"),
                       headers=HEADERS, timeout=30)
        assert r.status_code == 200 and r.headers["tapedeck-source"] == "proxied", r.text
    for name, data in cassette_files(cassette).items():
        assert b"tok-987654" not in data, f"the pattern's match is in {name}"
    assert "tok-987654" not in export(cassette)
    (stored,) = stored_queries(cassette)
    params = dict(parse_qsl(stored or "", keep_blank_values=True))
    assert params.get("beta") == "true" and "REDACTED" in unquote(params.get("session", "")), stored


@pytest.mark.parametrize("stream", [False, True])
def test_a_half_closed_client_with_no_upstream_call_still_gets_its_answer(tmp_path, stream):
    """Only a half-close during an upstream call is a hang-up: `printf … | nc -N` style clients still get answers."""
    with start_tapedeck("--cassette", str(tmp_path / "c.sqlite")) as server:
        sock = raw_post(server.port, body("answer me after my FIN", **({"stream": True} if stream else {})))
        with sock:
            sock.shutdown(socket.SHUT_WR)
            got = b""
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                data = sock.recv(65536)
                if not data:
                    break
                got += data
        assert got.startswith(b"HTTP/1.1 200"), got[:300]
        assert (b"message_stop" in got) if stream else (b'"type":"message"' in got), got[-300:]
