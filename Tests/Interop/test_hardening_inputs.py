"""Hardening II (issue 15): hostile inputs that once crashed, hung or misled the server and the command line.

* Fault specs made only of separators, and ``tps`` rates outside 0.01...1000000, are a 400 (header and admin API)
  or exit code 2 (``serve --fault``), never a trap; the server keeps answering.
* ``cassette import`` refuses impossible HTTP statuses (and leaves the cassette alone); 204 and 304 are allowed.
* A cassette row damaged by hand (wrong-typed or impossible columns) is a 500 ``api_error`` saying "damaged" on
  replay, and a non-zero exit naming the row from ``cassette list/show/verify/export``; nothing traps.
* The inspector escapes stored data (block types, model names, paths, request bodies) in every page.
* 204 and 304 answers carry no body, so the next response on a keep-alive connection is read correctly.
* ``serve --mode record|auto`` refuses an SQLite file that holds other tables and no Tapedeck tables (exit 2) and
  leaves it byte-identical; an empty file or a fresh path is fine.

None of these needs the SDK: the module runs once, under anthropic 2.x.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import sqlite3
import subprocess
import time
from contextlib import closing
from html.parser import HTMLParser
from pathlib import Path
from typing import Iterator, Optional
from urllib.parse import quote, urlparse

import httpx
import pytest

from support import (
    MODEL,
    REPO_ROOT,
    SDK_MAJOR,
    TapedeckServer,
    start_fake_upstream,
    start_tapedeck,
    tapedeck_binary,
    user,
)

pytestmark = pytest.mark.skipif(SDK_MAJOR == 0, reason="SDK-independent; runs once, under anthropic 2.x")

DEMO_JSONL = REPO_ROOT / "cassettes" / "demo.jsonl"
HEADERS = {"x-api-key": "test-key", "anthropic-version": "2023-06-01", "content-type": "application/json"}
HTTP_TIMEOUT = 10.0  # seconds per HTTP request: every answer here is expected within milliseconds
CLI_TIMEOUT = 30.0  # seconds per command-line run
REFUSAL_TIMEOUT = 20.0  # seconds for `serve` to exit when it must refuse to start


# -- helpers ------------------------------------------------------------------------------------------------------


def body(text: str, **extra) -> dict:
    return {"model": MODEL, "max_tokens": 64, "messages": user(text), **extra}


def message_json(text: str) -> dict:
    return {
        "id": "msg_01XFDUDYJgAACzvnptvVoYEL", "type": "message", "role": "assistant", "model": MODEL,
        "content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "stop_sequence": None,
        "usage": {"input_tokens": 5, "output_tokens": 3},
    }


def run_cli(*args: object) -> subprocess.CompletedProcess:
    """``tapedeck ARGS…``, output captured as text."""
    argv = [str(tapedeck_binary())] + [str(a) for a in args]
    return subprocess.run(argv, capture_output=True, text=True, errors="replace", timeout=CLI_TIMEOUT, stdin=subprocess.DEVNULL)


def write_jsonl(path: Path, lines: list) -> Path:
    path.write_text("".join(json.dumps(l, ensure_ascii=False) + "\n" for l in lines), encoding="utf-8")
    return path


def import_ok(jsonl: Path, cassette: Path) -> None:
    p = run_cli("cassette", "import", jsonl, "--into", cassette)
    assert p.returncode == 0, f"import exited {p.returncode}: {p.stderr}"


def envelope(r: httpx.Response, status: int, error_type: str) -> str:
    """Asserts the API error envelope with ``status`` and ``error_type``; returns the message."""
    assert r.status_code == status, f"expected {status}, got {r.status_code}: {r.text[:500]}"
    assert r.headers.get("content-type", "").startswith("application/json"), r.headers
    e = r.json()
    assert e.get("type") == "error", e
    assert e["error"]["type"] == error_type, e
    assert isinstance(e["error"]["message"], str), e
    return e["error"]["message"]


def assert_alive(server: TapedeckServer) -> None:
    """The process has not died, and a plain request still gets a real answer."""
    assert server.process.poll() is None, f"tapedeck died (exit {server.process.returncode}):\n{server.output()[-3000:]}"
    r = httpx.post(f"{server.base_url}/v1/messages", json=body("still there?"), headers=HEADERS, timeout=HTTP_TIMEOUT)
    assert r.status_code == 200, r.text
    assert r.json()["type"] == "message", r.text


def post(server: TapedeckServer, path: str, payload: dict, headers: Optional[dict] = None) -> httpx.Response:
    """A POST that a dead server turns into a test failure naming the crash, not a bare connection error."""
    try:
        return httpx.post(f"{server.base_url}{path}", json=payload, headers={**HEADERS, **(headers or {})}, timeout=HTTP_TIMEOUT)
    except httpx.TransportError as e:
        code = exit_status(server)
        pytest.fail(f"POST {path} {headers or ''}: {e!r}; tapedeck exit status {code}\n{server.output()[-3000:]}")


def exit_status(server: TapedeckServer) -> Optional[int]:
    """The exit status of a server that stopped answering, once it has finished dying (a crash report takes a few
    seconds to print); ``None`` if it is still running."""
    try:
        return server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_must_refuse(tmp_path: Path, *args: str) -> tuple[int, str]:
    """Runs ``tapedeck serve ARGS`` on a free port; it must exit by itself without ever listening.

    Returns (exit status, stderr). Fails at once if the server starts listening (then it is stopped).
    """
    port = free_port()
    argv = [str(tapedeck_binary()), "serve", "--host", "127.0.0.1", "--port", str(port), *args]
    out_path, err_path = tmp_path / "serve.stdout", tmp_path / "serve.stderr"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd=tmp_path)
        try:
            deadline = time.monotonic() + REFUSAL_TIMEOUT
            while process.poll() is None:
                with socket.socket() as probe:
                    probe.settimeout(0.2)
                    if probe.connect_ex(("127.0.0.1", port)) == 0:
                        pytest.fail(f"tapedeck started (it listens on {port}) instead of refusing: {' '.join(argv)}\n"
                                    f"{out_path.read_text(errors='replace')}{err_path.read_text(errors='replace')}")
                if time.monotonic() > deadline:
                    pytest.fail(f"tapedeck neither started nor exited within {REFUSAL_TIMEOUT:.0f} s: {' '.join(argv)}")
                time.sleep(0.05)  # polling interval, not synchronisation
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=5)
    stderr = err_path.read_text(errors="replace")
    out_path.unlink()
    err_path.unlink()
    return process.returncode, stderr


def siblings(path: Path) -> set[str]:
    return {p.name for p in path.parent.iterdir()}


def tables(path: Path) -> set[str]:
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        return {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


class Connection:
    """One keep-alive HTTP/1.1 connection, read as a byte stream (nothing is skipped or guessed)."""

    def __init__(self, server: TapedeckServer):
        parsed = urlparse(server.base_url)
        self.host = f"{parsed.hostname}:{parsed.port}"
        self.sock = socket.create_connection((parsed.hostname, parsed.port), timeout=HTTP_TIMEOUT)
        self.buffer = b""

    def send(self, payload: dict, path: str = "/v1/messages", extra: str = "") -> None:
        """POSTs ``payload``; ``extra`` is raw header lines (each ending in CRLF), sent exactly as written."""
        data = json.dumps(payload).encode()
        head = (f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
                f"x-api-key: test-key\r\nanthropic-version: 2023-06-01\r\n{extra}Content-Length: {len(data)}\r\n\r\n")
        self.sock.sendall(head.encode() + data)

    def response(self) -> tuple[int, dict, bytes]:
        status_line, headers = self.head()
        return int(status_line.split()[1]), headers, self.body(headers)

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        assert chunk, f"the server closed the connection; unread: {self.buffer[:300]!r}"
        self.buffer += chunk

    def head(self) -> tuple[bytes, dict]:
        """The next response's status line and headers (lower-cased names)."""
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower().decode()] = value.strip().decode()
        return lines[0], headers

    def exactly(self, n: int) -> bytes:
        while len(self.buffer) < n:
            self._fill()
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def body(self, headers: dict) -> bytes:
        if headers.get("transfer-encoding", "").lower() == "chunked":
            out = b""
            while True:
                while b"\r\n" not in self.buffer:
                    self._fill()
                size_line, self.buffer = self.buffer.split(b"\r\n", 1)
                size = int(size_line.split(b";")[0], 16)
                chunk = self.exactly(size + 2)
                if size == 0:
                    return out
                out += chunk[:-2]
        return self.exactly(int(headers.get("content-length", "0")))

    def close(self) -> None:
        self.sock.close()


# =================================================================================================================
# 1. Fault parsing: separators only, tps out of range
# =================================================================================================================

SEPARATORS_ONLY = [";", ";;", ",;,", " ; , "]
TPS_OUT_OF_RANGE = ["tps=1e-30", "tps=5e-324", "tps=1e308", "tps=0.001", "tps=1000001"]
BAD_FAULTS = SEPARATORS_ONLY + TPS_OUT_OF_RANGE
BAD_FAULT_IDS = [repr(f) for f in BAD_FAULTS]


class Revivable:
    """One server for the fault tests, started again if a test killed it (so one crash fails one test only)."""

    def __init__(self):
        self._context = None
        self.server: Optional[TapedeckServer] = None

    def get(self) -> TapedeckServer:
        if self.server is not None and self.server.process.poll() is None:
            return self.server
        self.close()
        self._context = start_tapedeck()
        self.server = self._context.__enter__()
        return self.server

    def close(self) -> None:
        if self._context is not None:
            self._context.__exit__(None, None, None)
        self._context, self.server = None, None


@pytest.fixture(scope="module")
def revivable() -> Iterator[Revivable]:
    holder = Revivable()
    yield holder
    holder.close()


@pytest.fixture
def fault_server(revivable: Revivable) -> Iterator[TapedeckServer]:
    server = revivable.get()
    yield server
    if server.process.poll() is None:
        try:
            httpx.delete(f"{server.base_url}/_tapedeck/faults", timeout=HTTP_TIMEOUT)
        except httpx.TransportError:
            exit_status(server)  # it is dying: let it finish, so the next test starts a new one


@pytest.mark.parametrize("fault", BAD_FAULTS, ids=BAD_FAULT_IDS)
def test_a_hostile_fault_header_is_a_400_and_the_server_carries_on(fault_server, fault):
    # A raw socket: HTTP clients refuse to send a header value with leading or trailing spaces; servers see them.
    conn = Connection(fault_server)
    try:
        conn.send(body(f"hostile fault header {fault!r}"), extra=f"tapedeck-fault: {fault}\r\n")
        status, headers, data = conn.response()
    except (OSError, AssertionError) as e:
        died = exit_status(fault_server)
        pytest.fail(f"tapedeck-fault: {fault!r}: no answer ({e!r}); tapedeck exit status {died}\n{fault_server.output()[-3000:]}")
    finally:
        conn.close()
    assert status == 400, (status, data[:500])
    assert headers.get("content-type", "").startswith("application/json"), headers
    error = json.loads(data)
    assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error", error
    assert error["error"]["message"].startswith("tapedeck-fault:"), error
    assert_alive(fault_server)


@pytest.mark.parametrize("fault", BAD_FAULTS, ids=BAD_FAULT_IDS)
def test_a_hostile_fault_via_the_admin_api_is_a_400_and_is_not_installed(fault_server, fault):
    r = post(fault_server, "/_tapedeck/faults", {"fault": fault})
    message = envelope(r, 400, "invalid_request_error")
    assert message.startswith("tapedeck-fault:"), message
    # Nothing was installed: a plain request is answered normally, not faulted or paced.
    assert_alive(fault_server)


def test_tps_at_the_bounds_of_its_range_is_accepted(fault_server):
    # The top of the range paces nothing noticeable: the request is answered (and quickly).
    started = time.monotonic()
    r = post(fault_server, "/v1/messages", body("tps at the top of its range"), {"tapedeck-fault": "tps=1000000"})
    assert r.status_code == 200, r.text
    assert time.monotonic() - started < 5
    # The bottom of the range is a valid server fault (installed, not run: it would pace for minutes).
    for fault in ("tps=0.01", "tps=1000000"):
        r = post(fault_server, "/_tapedeck/faults", {"fault": fault})
        assert r.status_code == 200, (fault, r.text)
        cleared = httpx.delete(f"{fault_server.base_url}/_tapedeck/faults", timeout=HTTP_TIMEOUT)
        assert cleared.status_code == 200, cleared.text


@pytest.mark.parametrize("fault", BAD_FAULTS, ids=BAD_FAULT_IDS)
def test_serve_with_a_hostile_fault_flag_exits_2_with_one_line(fault, tmp_path):
    code, stderr = serve_must_refuse(tmp_path, "--cassette", str(tmp_path / "c.sqlite"), "--on-miss", "synthesize", "--fault", fault)
    assert code >= 0, f"tapedeck was killed by signal {-code} (a trap), stderr: {stderr[-2000:]}"
    assert code == 2, f"exit {code}, stderr: {stderr[-2000:]}"
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one error line, got {lines!r}"
    assert lines[0].startswith("tapedeck: --fault: "), lines[0]
    assert not (tmp_path / "c.sqlite").exists(), "a refused start created the cassette"


# =================================================================================================================
# 2. cassette import: impossible statuses are refused, 204 and 304 allowed
# =================================================================================================================

IMPOSSIBLE_STATUSES = [4290, 1000, -1, 99, 150]


def status_line(form: str, status: int) -> dict:
    """A line answering ``status``, in one of the forms import reads."""
    if form == "error":
        return {"match": {"last_user": f"status {status}"},
                "response": {"status": status, "error": {"type": "rate_limit_error", "message": "slow down"}}}
    if form == "body":
        return {"request": {"body": body(f"status {status}")}, "response": {"status": status, "body": message_json("x")}}
    assert form == "stream"
    demo = json.loads(DEMO_JSONL.read_text().splitlines()[0])
    demo.pop("id")
    demo.pop("fingerprint")
    demo["request"]["body"]["messages"] = user(f"status {status}, streamed")
    demo["response"]["status"] = status
    return demo


GOOD_LINE = {"request": {"body": body("a good line")}, "response": {"status": 200, "body": message_json("good")}}


@pytest.mark.parametrize("form", ["error", "body", "stream"])
@pytest.mark.parametrize("status", IMPOSSIBLE_STATUSES)
def test_import_refuses_an_impossible_status(status, form, tmp_path):
    source = write_jsonl(tmp_path / "bad.jsonl", [GOOD_LINE, status_line(form, status)])

    # Into an existing cassette: refused, the file untouched.
    existing = tmp_path / "existing.sqlite"
    import_ok(write_jsonl(tmp_path / "seed.jsonl", [GOOD_LINE]), existing)
    before = existing.read_bytes()
    files = siblings(existing)
    p = run_cli("cassette", "import", source, "--into", existing)
    assert p.returncode >= 0, f"killed by signal {-p.returncode}: {p.stderr}"
    assert p.returncode != 0, f"status {status} was imported: {p.stdout}{p.stderr}"
    assert re.search(rf"(?<![\d-]){re.escape(str(status))}(?!\d)", p.stderr), f"the message does not name {status}: {p.stderr!r}"
    assert existing.read_bytes() == before, "a refused import changed the cassette"
    assert siblings(existing) == files, siblings(existing) - files

    # Into a new path: refused, nothing created.
    fresh = tmp_path / "fresh.sqlite"
    p = run_cli("cassette", "import", source, "--into", fresh)
    assert p.returncode > 0, f"exit {p.returncode}: {p.stdout}{p.stderr}"
    assert str(status) in p.stderr, p.stderr
    assert not any(n.startswith("fresh.sqlite") for n in siblings(fresh)), siblings(fresh)


@pytest.mark.parametrize("status", [204, 304])
def test_import_allows_bodyless_statuses(status, tmp_path):
    cassette = tmp_path / "c.sqlite"
    line = {"match": {"last_user": "no body"}, "response": {"status": status, "body": {"ignored": True}}}
    import_ok(write_jsonl(tmp_path / "ok.jsonl", [line]), cassette)
    listing = run_cli("cassette", "list", cassette)
    assert listing.returncode == 0, listing.stderr
    assert str(status) in listing.stdout, listing.stdout


# =================================================================================================================
# 3. A cassette row damaged by hand
# =================================================================================================================

VICTIM_ID = 4242  # an id no path, size or timestamp in the output is likely to contain by chance
VICTIM_PROMPT = "I will be damaged"
HEALTHY_PROMPT = "I stay healthy"
MISS_PROMPT = "nothing recorded answers this"

# name -> SET clause applied to the victim row
DAMAGE = {
    "status_text": "status = 'abc'",
    "status_impossible": "status = 4290",
    "status_negative": "status = -1",
    "occurrence_text": "occurrence = 'x'",
    "request_headers_blob": "request_headers = X'00FF'",
    "events_not_json": "events = 'not json'",
    "is_stream_text": "is_stream = 'maybe'",
    "recorded_at_null": "recorded_at = NULL",
}


# Damage that leaves every column its type: the row reads, but replay cannot serve it.
READABLE_DAMAGE = {"status_impossible", "status_negative"}


def damaged_cassette(tmp_path: Path, damage: str) -> Path:
    """A healthy JSON row (id 1) and a streamed victim row (VICTIM_ID), then the victim damaged with sqlite3."""
    victim = json.loads(DEMO_JSONL.read_text().splitlines()[0])
    victim["id"] = VICTIM_ID
    victim.pop("fingerprint")  # computed from the request body, as for a recording
    victim["request"]["body"] = body(VICTIM_PROMPT, stream=True)
    healthy = {"id": 1, "request": {"body": body(HEALTHY_PROMPT)}, "response": {"status": 200, "body": message_json("healthy")}}
    cassette = tmp_path / "damaged.sqlite"
    import_ok(write_jsonl(tmp_path / "rows.jsonl", [healthy, victim]), cassette)
    (tmp_path / "rows.jsonl").unlink()

    if damage == "recorded_at_null":
        # The column is NOT NULL: drop the constraint from the schema, as a careless hand edit could.
        with closing(sqlite3.connect(cassette)) as db:
            db.execute("PRAGMA writable_schema = ON")
            db.execute("UPDATE sqlite_master SET sql = replace(sql, 'recorded_at TEXT NOT NULL', 'recorded_at TEXT') "
                       "WHERE type = 'table' AND name = 'interaction'")
            db.commit()
    with closing(sqlite3.connect(cassette)) as db:
        changed = db.execute(f"UPDATE interaction SET {DAMAGE[damage]} WHERE id = ?", (VICTIM_ID,)).rowcount
        db.commit()
        assert changed == 1, "the victim row is missing"
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert not any(n.endswith(("-wal", "-shm")) for n in siblings(cassette)), siblings(cassette)
    return cassette


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_replaying_a_damaged_row_is_a_500_and_the_server_carries_on(damage, tmp_path):
    cassette = damaged_cassette(tmp_path, damage)
    with start_tapedeck("--mode", "replay", "--cassette", str(cassette), "--on-miss", "error") as server:
        for stream in (True, False, True):  # asked again: still an answer, not a crash
            r = post(server, "/v1/messages", body(VICTIM_PROMPT, stream=stream) if stream else body(VICTIM_PROMPT))
            message = envelope(r, 500, "api_error")
            assert "damaged" in message.lower(), message
            assert r.headers.get("x-should-retry") == "false", dict(r.headers)

        healthy = post(server, "/v1/messages", body(HEALTHY_PROMPT))
        assert healthy.status_code == 200, healthy.text
        assert healthy.json()["content"] == [{"type": "text", "text": "healthy"}]

        # A miss on the same endpoint (whose explanation looks at every recording there) is still the 404.
        miss = post(server, "/v1/messages", body(MISS_PROMPT))
        envelope(miss, 404, "not_found_error")

        health = httpx.get(f"{server.base_url}/_tapedeck/health", timeout=HTTP_TIMEOUT)
        assert health.status_code == 200, health.text
        assert server.process.poll() is None, server.output()[-3000:]


@pytest.mark.parametrize("command", ["list", "show", "verify", "export"])
@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_cassette_commands_name_a_damaged_row(damage, command, tmp_path):
    cassette = damaged_cassette(tmp_path, damage)
    args = ["cassette", command, cassette] + ([VICTIM_ID] if command == "show" else [])
    p = run_cli(*args)
    said = p.stdout + p.stderr
    assert p.returncode >= 0, f"tapedeck {command} was killed by signal {-p.returncode} (a trap): {said[-2000:]}"
    assert re.search(rf"\b{VICTIM_ID}\b", said), f"tapedeck {command} does not name interaction {VICTIM_ID}: {said[-2000:]!r}"
    if damage in READABLE_DAMAGE and command != "verify":
        # Every column has its type: the row can be looked at and exported (to be repaired and imported again);
        # only replay and verify refuse it, and show says why.
        assert p.returncode == 0, f"tapedeck {command} refused a readable row: {said[-2000:]}"
        if command == "show":
            assert "damaged: status" in said, said[-2000:]
        return
    assert p.returncode != 0, f"tapedeck {command} succeeded on a damaged cassette: {said[-2000:]}"


# =================================================================================================================
# 13. The inspector escapes stored data
# =================================================================================================================

XSS_TYPE = "<script>alert(1)</script>"
XSS_MODEL = "<img src=x onerror=alert(2)>"
XSS_PATH = "/v1/messages/<img src=x onerror=alert(3)>"
XSS_ATTR = 'kind" onclick="alert(4)'
XSS_PROMPT = "recorded <script>alert(5)</script>"
XSS_MISS = "asked <img src=x onerror=alert(6)>"
XSS_REQUEST_PATH = "/v1/<img/src=x/onerror=alert(7)>"
XSS_QUERY = "<script>alert(8)</script>"


class TagCollector(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._in_script = True
            self.scripts.append("")

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts[-1] += data


def assert_no_markup_from_data(html: str, where: str) -> None:
    # Escaped forms (&lt;img …) are fine; raw markup from the data is not. (The page's own script has no alert.)
    for raw in ("<script>alert", "<img", 'onclick="alert'):
        assert raw not in html, f"{where}: raw {raw!r} in the page:\n{context(html, raw)}"
    parser = TagCollector()
    parser.feed(html)
    parser.close()
    assert not [t for t, _ in parser.tags if t in ("img", "iframe", "svg", "object", "embed")], (where, parser.tags)
    handlers = [(t, a) for t, a in parser.tags for name in a if name.lower().startswith("on")]
    assert handlers == [], f"{where}: event-handler attributes from stored data: {handlers}"
    assert all("alert(" not in s for s in parser.scripts), f"{where}: stored data inside a script: {parser.scripts}"


def context(html: str, needle: str) -> str:
    i = html.find(needle)
    return html[max(0, i - 200): i + 200]


@pytest.fixture(scope="module")
def hostile_inspector(tmp_path_factory) -> Iterator[TapedeckServer]:
    root = tmp_path_factory.mktemp("hostile-inspector")
    lines = [
        {"id": 1, "model": XSS_MODEL, "request": {"body": body(XSS_PROMPT)},
         "response": {"status": 200, "body": {**message_json("ok"), "model": XSS_MODEL,
                                                 "content": [{"type": XSS_TYPE, "text": "a"}, {"type": XSS_ATTR, "text": "b"}]}}},
        {"id": 2, "path": XSS_PATH, "request": {"body": body("odd path")}, "response": {"status": 200, "body": message_json("p")}},
        {"id": 3, "match": {"last_user": "fixture with a hostile block"},
         "response": {"message": {"model": XSS_MODEL, "content": [{"type": XSS_TYPE, "text": XSS_PROMPT}]}}},
    ]
    cassette = root / "hostile.sqlite"
    import_ok(write_jsonl(root / "hostile.jsonl", lines), cassette)
    with start_tapedeck("--mode", "replay", "--cassette", str(cassette), "--on-miss", "synthesize") as server:
        yield server
    shutil.rmtree(root, ignore_errors=True)


def raw_request(server: TapedeckServer, target: str, payload: bytes) -> bytes:
    parsed = urlparse(server.base_url)
    request = (f"POST {target} HTTP/1.1\r\nHost: {parsed.hostname}:{parsed.port}\r\nContent-Type: application/json\r\n"
               f"x-api-key: test-key\r\nanthropic-version: 2023-06-01\r\nContent-Length: {len(payload)}\r\n"
               f"Connection: close\r\n\r\n").encode() + payload
    with socket.create_connection((parsed.hostname, parsed.port), timeout=HTTP_TIMEOUT) as sock:
        sock.sendall(request)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    return reply


def test_the_inspector_shows_hostile_stored_data_escaped(hostile_inspector):
    server = hostile_inspector
    # A miss differing from interaction 1 in the prompt (shown in the misses diff), a hit, the fixture, and
    # requests whose paths carry markup (shown in the journal).
    assert post(server, "/v1/messages", body(XSS_MISS)).status_code == 200
    assert post(server, "/v1/messages", body(XSS_PROMPT)).status_code == 200
    assert post(server, "/v1/messages", body("fixture with a hostile block")).status_code == 200
    raw_request(server, XSS_REQUEST_PATH, json.dumps(body("x")).encode())
    raw_request(server, quote(XSS_REQUEST_PATH, safe="/()="), json.dumps(body("x")).encode())
    assert server.process.poll() is None, server.output()[-3000:]

    pages = {
        "list": "/_tapedeck/ui",
        "list filtered": "/_tapedeck/ui?q=" + quote(XSS_QUERY) + "&model=" + quote(XSS_MODEL),
        "interaction 1": "/_tapedeck/ui/interactions/1",
        "interaction 2": "/_tapedeck/ui/interactions/2",
        "interaction 3": "/_tapedeck/ui/interactions/3",
        "journal": "/_tapedeck/ui/journal",
        "misses": "/_tapedeck/ui/misses",
    }
    seen = {}
    for name, path in pages.items():
        r = httpx.get(f"{server.base_url}{path}", timeout=HTTP_TIMEOUT)
        assert r.status_code == 200, (name, r.status_code, r.text[:300])
        assert r.headers["content-type"].startswith("text/html"), r.headers
        assert_no_markup_from_data(r.text, name)
        seen[name] = r.text

    # The data is shown (escaped), not dropped.
    assert "alert(1)" in seen["list"] and "alert(2)" in seen["list"] and "alert(3)" in seen["list"], "list"
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in seen["list"], context(seen["list"], "alert(1)")
    assert "&lt;script&gt;alert(8)&lt;/script&gt;" in seen["list filtered"], "the filter form shows the query, escaped"
    assert "alert(1)" in seen["interaction 1"] and "alert(5)" in seen["interaction 1"], "detail"
    assert "alert(3)" in seen["interaction 2"], "detail of the hostile path"
    assert "alert(1)" in seen["interaction 3"] and "alert(5)" in seen["interaction 3"], "fixture detail"
    assert "alert(6)" in seen["misses"] and "alert(5)" in seen["misses"], "misses diff"
    assert "alert(7)" in seen["journal"], "journal paths"
    assert server.process.poll() is None


# =================================================================================================================
# 14. Bodyless statuses on a keep-alive connection
# =================================================================================================================

BODYLESS_FIXTURES = [
    {"match": {"last_user": "answer 204"}, "response": {"status": 204, "body": {"must": "not be sent", "pad": "x" * 300}}},
    {"request": {"body": body("answer 304 exactly")}, "response": {"status": 304, "body": {"must": "not be sent either"}}},
    {"match": {"last_user": "answer 304"}, "response": {"status": 304, "body": {"nor": "this"}}},
    {"match": {"last_user": "answer normally"}, "response": {"message": {"content": [{"type": "text", "text": "normal"}]}}},
]


@pytest.fixture(scope="module")
def bodyless_server(tmp_path_factory) -> Iterator[TapedeckServer]:
    root = tmp_path_factory.mktemp("bodyless")
    cassette = root / "bodyless.sqlite"
    import_ok(write_jsonl(root / "bodyless.jsonl", BODYLESS_FIXTURES), cassette)
    with start_tapedeck("--mode", "replay", "--cassette", str(cassette), "--on-miss", "error") as server:
        yield server
    shutil.rmtree(root, ignore_errors=True)


def assert_bodyless(status_line: bytes, headers: dict, status: int) -> None:
    assert status_line.startswith(f"HTTP/1.1 {status}".encode()), status_line
    assert "transfer-encoding" not in headers, headers
    assert headers.get("content-length", "0") == "0", headers


def assert_normal(conn: Connection) -> None:
    status_line, headers = conn.head()
    assert status_line.startswith(b"HTTP/1.1 200"), f"the response after a bodyless one starts {status_line[:200]!r}"
    message = json.loads(conn.body(headers))
    assert message["type"] == "message" and message["content"] == [{"type": "text", "text": "normal"}], message


def test_bodyless_answers_keep_a_keep_alive_connection_in_step(bodyless_server):
    conn = Connection(bodyless_server)
    try:
        for ask, status in [("answer 204", 204), ("answer 304 exactly", 304), ("answer 304", 304), ("answer 204", 204)]:
            for extra in ({}, {"stream": True}):
                conn.send(body(ask, **extra))
                status_line, headers = conn.head()
                assert_bodyless(status_line, headers, status)
                # Whatever the server sent after the head arrives before the next response's status line.
                conn.send(body("answer normally"))
                assert_normal(conn)
    finally:
        conn.close()
    assert bodyless_server.process.poll() is None


def test_bodyless_answers_through_a_pooled_http_client(bodyless_server):
    with httpx.Client(base_url=bodyless_server.base_url, headers=HEADERS, timeout=HTTP_TIMEOUT) as http:
        for ask, status in [("answer 204", 204), ("answer 304", 304), ("answer 304 exactly", 304)]:
            r = http.post("/v1/messages", json=body(ask))
            assert r.status_code == status, r.text
            assert r.content == b"", r.content[:200]
            after = http.post("/v1/messages", json=body("answer normally"))
            assert after.status_code == 200, after.text
            assert after.json()["content"] == [{"type": "text", "text": "normal"}]


# =================================================================================================================
# 15. record/auto refuse an SQLite file that is not a cassette
# =================================================================================================================


def foreign_database(path: Path) -> Path:
    with closing(sqlite3.connect(path)) as db:
        db.executescript("""
            CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL);
            CREATE TABLE tags (note INTEGER REFERENCES notes(id), tag TEXT);
            INSERT INTO notes (text) VALUES ('my own data'), ('not a cassette');
            INSERT INTO tags VALUES (1, 'keep');
            """)
        db.commit()
    return path


@pytest.mark.parametrize("mode", ["record", "auto"])
def test_recording_refuses_an_sqlite_file_that_is_not_a_cassette(mode, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    path = foreign_database(tmp_path / "mine.sqlite")
    before, files = path.read_bytes(), siblings(path)
    code, stderr = serve_must_refuse(
        work, "--mode", mode, "--allow-upstream-in-ci", "--upstream", "http://127.0.0.1:9", "--cassette", str(path),
        "--on-miss", "synthesize")
    assert code >= 0, f"killed by signal {-code}: {stderr[-2000:]}"
    assert code == 2, f"exit {code}, stderr: {stderr[-2000:]}"
    said = stderr.lower()
    assert "not a" in said and "cassette" in said, stderr
    assert path.read_bytes() == before, "the foreign database was changed"
    assert tables(path) == {"notes", "tags"}
    assert siblings(path) == files, f"files left beside it: {siblings(path) - files}"


@pytest.mark.parametrize("kind", ["empty_file", "fresh_path"])
def test_recording_into_an_empty_file_or_a_fresh_path_works(kind, tmp_path):
    path = tmp_path / "new" / "c.sqlite"
    if kind == "empty_file":
        path.parent.mkdir()
        path.write_bytes(b"")
    with start_fake_upstream() as fake, start_tapedeck(
        "--mode", "record", "--allow-upstream-in-ci", "--upstream", fake.base_url, "--cassette", str(path)
    ) as server:
        r = post(server, "/v1/messages", body("record me"))
        assert r.status_code == 200, r.text
        assert r.headers.get("tapedeck-source") == "proxied", dict(r.headers)
    verified = run_cli("cassette", "verify", path)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "1 interactions" in verified.stdout or "1 interaction" in verified.stdout, verified.stdout
