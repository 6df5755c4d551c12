"""Seeded fuzzing of Tapedeck's hostile inputs: the fault grammar, the admin API, damaged cassettes (issue 15).

Four tests, each against servers started here (``SWIFT_BACKTRACE=enable=no``, so a trap ends the process at once):

* ``test_fuzz_hostile_fault_header``: ``tapedeck-fault`` header values built from random pieces (every kind from
  ``Faults.swift``, unknown kinds, parameters, the separators ``, ; = %``, numbers such as ``0 -1 1e-30 5e-324
  1e308 nan inf`` and huge integers, odd Unicode) on ``/v1/messages`` and ``count_tokens``, sixteen at a time.
* ``test_fuzz_hostile_serve_flags``: ``tapedeck serve --fault=...`` (or ``TAPEDECK_FAULT``) with random fault texts
  and odd numeric flags (``--speed 1e-30``, ``--fault-rate nan``, ...): it starts, or exits by itself.
* ``test_fuzz_hostile_admin``: ``POST /_tapedeck/faults`` with random JSON shapes and types (then a request under
  the fault, then ``DELETE``), and ``GET`` of ``interactions``, ``interactions/{id}``, ``journal``, ``misses``,
  ``ui``, ``ui/interactions/{id}``, ``ui/journal``, ``ui/misses`` and ``POST reset`` with random ids and queries.
* ``test_fuzz_hostile_cassette_columns``: a cassette made by ``tapedeck cassette import`` (the demo export plus
  loose fixtures) is copied once a round and damaged with ``sqlite3``: random columns of random rows set to NULL,
  text, blobs (invalid UTF-8 too), huge or negative integers, floats or JSON of the wrong shape (NOT NULL, UNIQUE
  and column types are dropped first when a value needs it), rows deleted or duplicated, ``cassette_meta`` edited,
  or the file truncated or overwritten with random bytes. ``tapedeck cassette list/show/verify/export/stats`` run on
  it, then a replay server (per-test cassette ``rN`` through the ``tapedeck-cassette`` header) answers every
  recorded request as JSON and as a stream, a near miss, and the admin/inspector pages; a second server paces
  recorded streams (``--pace recorded``). Each round also imports a randomly edited JSONL export (status 4290,
  ``"200"``, null, ...) and, when the import succeeds, replays that cassette too.

The oracle, everywhere: the server process never dies (``poll()`` stays ``None``; a death is reported with its
``Fatal error`` line and the input that caused it, found by re-running the suspects one by one on a fresh server);
every answer is a valid HTTP response (status 200-599) whose 4xx/5xx body is a JSON error envelope
``{"type":"error","error":{"type":...,"message":...}}`` unless it replays a recording (``tapedeck-source:
recorded``: then the recorded bytes are whatever the cassette holds) and whose 2xx JSON body parses; no call
hangs (timeouts everywhere; a timeout is accepted only where the input asks for a wait: a timing fault, or a damaged
event offset under ``--pace recorded``; a dropped connection only under a ``disconnect`` fault); a known-good request
keeps working; CLI commands exit by themselves with a non-negative code, saying something when it is not 0.

Short by default (a few hundred cases, well under 30 s in all). ``TAPEDECK_FUZZ_SECONDS=600`` runs each test for
that long instead (a time-bounded loop; the number of cases is printed). ``TAPEDECK_FUZZ_SEED`` (default 15) seeds
everything; case ``i`` of part ``P`` uses ``random.Random(f"{SEED}/{P}/{i}")``, so one case can be rebuilt alone:

    TAPEDECK_FUZZ_SEED=3 TAPEDECK_FUZZ_SECONDS=600 Tests/Interop/run.sh -q -k fuzz_hostile -s
    python test_fuzz_hostile.py faults 15 123            # case 123 of the fault-header part, as a curl line
    python test_fuzz_hostile.py admin 15 40              # case 40 of the admin part
    python test_fuzz_hostile.py columns 15 7 out.sqlite  # round 7's damaged cassette (built with $TAPEDECK_BIN)
    python test_fuzz_hostile.py imports 15 7 out.jsonl   # round 7's damaged export, for `tapedeck cassette import`
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import http.client
import json
import os
import random
import re
import shlex
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional

import pytest
from test_fuzz import _nodes  # every (path, value) of a document; shared with the request fuzz

from support import (
    MODEL,
    REPO_ROOT,
    SDK_MAJOR,
    START_TIMEOUT,
    TapedeckServer,
    TapedeckStartError,
    _spawn,
    start_tapedeck,
    tapedeck_binary,
)

pytestmark = pytest.mark.skipif(SDK_MAJOR == 0, reason="SDK-independent; runs once, under anthropic 2.x")

SEED = int(os.environ.get("TAPEDECK_FUZZ_SEED", "15"))
SECONDS = float(os.environ.get("TAPEDECK_FUZZ_SECONDS", "0") or 0)  # 0: the short form (fixed case counts)
SHORT = {"faults": 256, "flags": 10, "admin": 220, "columns": 16}  # each starts with its corpus of known-bad inputs

CALL_TIMEOUT = 5.0  # seconds for one HTTP exchange that should be quick (a debug build answers in milliseconds)
SLOW_TIMEOUT = 1.5  # for exchanges whose input may legitimately ask for a long wait
CLI_TIMEOUT = 30.0
WORKERS = 32  # fault-header cases in flight at once
CHUNK = 64  # fault-header cases between two liveness checks
MAX_RESTARTS = 200  # per test and server: past this many deaths, stop (the report already has them)
# A trap ends the process at once, not after a 5 s backtrace; SIGTERM does not wait for requests still sleeping in a
# fault (older binaries ignore the variable).
SERVER_ENV = {"SWIFT_BACKTRACE": "enable=no", "TAPEDECK_SHUTDOWN_GRACE": "0"}

DEMO_SQLITE = REPO_ROOT / "cassettes" / "demo.sqlite"
DEMO_JSONL = REPO_ROOT / "cassettes" / "demo.jsonl"
JSON_HEADERS = [("content-type", "application/json"), ("x-api-key", "test-key"), ("anthropic-version", "2023-06-01")]
GOOD_BODY = json.dumps({"model": MODEL, "max_tokens": 16, "messages": [{"role": "user", "content": "Known-good ping."}]}).encode()
TRAP_SIGNALS = {4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT", 7: "SIGBUS", 8: "SIGFPE", 11: "SIGSEGV"}


def rng_for(part: str, index: int) -> random.Random:
    return random.Random(f"{SEED}/{part}/{index}")


# ---------------------------------------------------------------------------------------------------------------
# Budget, findings, a raw HTTP client, the answer oracle
# ---------------------------------------------------------------------------------------------------------------


class Budget:
    """The short form's fixed case count, or ``TAPEDECK_FUZZ_SECONDS`` of cases."""

    def __init__(self, part: str):
        self.part = part
        self.started = time.monotonic()
        self.deadline = self.started + SECONDS if SECONDS > 0 else None
        self.count = 0

    def more(self) -> bool:
        if self.deadline is None:
            return self.count < SHORT[self.part]
        return time.monotonic() < self.deadline

    def report(self, extra: str = "") -> None:
        elapsed = time.monotonic() - self.started
        print(f"\nfuzz_hostile {self.part}: TAPEDECK_FUZZ_SEED={SEED}, {self.count} cases in {elapsed:.1f} s{extra}")


class Findings:
    """Broken properties, grouped by a signature (a crash's Fatal error line, a kind of wrong answer)."""

    def __init__(self, part: str):
        self.part = part
        self.groups: dict[str, list[str]] = {}

    def add(self, signature: str, detail: str) -> None:
        self.groups.setdefault(signature, []).append(detail)

    def __len__(self) -> int:
        return sum(len(v) for v in self.groups.values())

    def fail_if_any(self) -> None:
        if not self.groups:
            return
        parts = []
        for signature, details in list(self.groups.items())[:20]:
            shown = "\n".join("      " + d.replace("\n", "\n      ") for d in details[:3])
            parts.append(f"  [{len(details)}x] {signature}\n{shown}")
        pytest.fail(
            f"fuzz_hostile {self.part} (TAPEDECK_FUZZ_SEED={SEED}): {len(self)} finding(s) in {len(self.groups)} group(s):\n"
            + "\n".join(parts),
            pytrace=False,
        )


@dataclass
class Reply:
    status: Optional[int] = None
    headers: dict = field(default_factory=dict)
    body: bytes = b""
    error: Optional[str] = None  # transport problem (connection closed, bad framing, ...)
    timed_out: bool = False
    elapsed: float = 0.0

    def brief(self) -> str:
        if self.timed_out:
            return f"no answer within the timeout ({self.elapsed:.1f} s)"
        if self.error:
            return f"transport error {self.error}"
        return f"{self.status} {self.headers.get('content-type', '')!r} {self.body[:200]!r}"


def exchange(port: int, method: str, target: str | bytes, headers: list = (), body: Optional[bytes] = None,
             timeout: float = CALL_TIMEOUT) -> Reply:
    """One request on a fresh connection, written byte for byte as given (no normalization of the target)."""
    started = time.monotonic()
    target_bytes = target if isinstance(target, bytes) else target.encode("utf-8")
    lines = [method.encode() + b" " + target_bytes + b" HTTP/1.1", b"Host: 127.0.0.1:%d" % port, b"Connection: close"]
    for name, value in headers:
        lines.append(name.encode("latin-1") + b": " + (value if isinstance(value, bytes) else value.encode("utf-8")))
    if body is not None:
        lines.append(b"Content-Length: %d" % len(body))
    data = b"\r\n".join(lines) + b"\r\n\r\n" + (body or b"")
    reply = Reply()
    sock = None
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        sock.sendall(data)
        response = http.client.HTTPResponse(sock, method=method)
        response.begin()
        reply.status = response.status
        reply.headers = {k.lower(): v for k, v in response.getheaders()}
        reply.body = response.read()
    except (socket.timeout, TimeoutError):
        reply.timed_out = True
    except (OSError, http.client.HTTPException) as e:
        reply.error = f"{type(e).__name__}: {e}"[:200]
    finally:
        if sock is not None:
            sock.close()
        reply.elapsed = time.monotonic() - started
    return reply


def envelope_problem(body: bytes) -> Optional[str]:
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return f"error body is not JSON: {body[:200]!r}"
    error = value.get("error") if isinstance(value, dict) else None
    if not (isinstance(value, dict) and value.get("type") == "error" and isinstance(error, dict)
            and isinstance(error.get("type"), str) and isinstance(error.get("message"), str)):
        return f"not an error envelope: {body[:200]!r}"
    return None


def answer_problem(reply: Reply, *, slow_ok: bool = False, drop_ok: bool = False, head: bool = False) -> Optional[str]:
    """What breaks the oracle in ``reply``, or ``None``. An answer to HEAD has no body to check."""
    if reply.timed_out:
        return None if slow_ok else f"hang: {reply.brief()}"
    if reply.error:
        return None if drop_ok else f"no valid HTTP response: {reply.error}"
    status = reply.status
    assert status is not None
    if not 200 <= status <= 599:
        return f"status {status} outside 200-599"
    recorded = reply.headers.get("tapedeck-source") == "recorded"
    if recorded or head:
        return None  # a recording's bytes, as damaged as its cassette; or no body at all
    ctype = reply.headers.get("content-type", "")
    if status >= 400:
        return envelope_problem(reply.body)
    if ctype.startswith("application/json") and reply.body:
        try:
            json.loads(reply.body)
        except (ValueError, UnicodeDecodeError):
            return f"{status} application/json body that is not JSON: {reply.body[:200]!r}"
    return None


def fatal_line(output: str) -> str:
    """The runtime's ``Fatal error``/``Precondition failed`` line (the crash signature), or the last lines of output."""
    markers = ("fatal error", "precondition failed", "assertion failed", "unexpectedly found nil")
    lines = [l.strip() for l in output.splitlines() if any(m in l.lower() for m in markers)]
    if lines:
        line = re.split(r",? row: \[", lines[-1])[0]  # GRDB appends the whole row
        line = re.sub(r"(from database value) .*? (- column)", r"\1 ... \2", line)  # and the value
        return line[:300]
    tail = [l.strip() for l in output.splitlines() if l.strip()][-3:]
    return " | ".join(tail)[:300] or "(no output)"


def exit_text(code: Optional[int]) -> str:
    if code is None:
        return "still running"
    if code < 0:
        return f"killed by signal {TRAP_SIGNALS.get(-code, -code)}"
    return f"exit {code}"


# ---------------------------------------------------------------------------------------------------------------
# A server under fuzz, restarted when it dies
# ---------------------------------------------------------------------------------------------------------------


class Target:
    """``tapedeck serve ARGS`` that is restarted after a death (each death is a finding of the caller's)."""

    def __init__(self, *args: str):
        self.args = args
        self.server: Optional[TapedeckServer] = None
        self._stack: Optional[contextlib.ExitStack] = None
        self.restarts = 0

    def start(self) -> "Target":
        self._stack = contextlib.ExitStack()
        self.server = self._stack.enter_context(start_tapedeck(*self.args, env=SERVER_ENV))
        return self

    def close(self) -> None:
        if self._stack is not None:
            with contextlib.suppress(Exception):
                self._stack.close()
        self._stack, self.server = None, None

    def restart(self) -> None:
        """A fresh process after a death."""
        self.recycle()
        self.restarts += 1

    def recycle(self) -> None:
        """A fresh process, for no fault of the old one."""
        self.close()
        self.start()

    @property
    def port(self) -> int:
        assert self.server is not None and self.server.port is not None
        return self.server.port

    def death(self, grace: float = 0.0) -> Optional[str]:
        """``None`` while the process runs (waiting up to ``grace`` s for it to end), else how it ended."""
        assert self.server is not None
        deadline = time.monotonic() + grace
        while self.server.process.poll() is None:
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.02)
        time.sleep(0.1)  # let the output reader take the last lines
        return f"{exit_text(self.server.process.returncode)}: {fatal_line(self.server.output())}"

    def good(self) -> Optional[str]:
        """A problem with the known-good request, or ``None``."""
        reply = exchange(self.port, "POST", "/v1/messages", JSON_HEADERS, GOOD_BODY)
        if reply.status == 200:
            try:
                if json.loads(reply.body).get("type") == "message":
                    return None
            except ValueError:
                pass
        return f"the known-good request got {reply.brief()}"


@contextlib.contextmanager
def target(*args: str) -> Iterator[Target]:
    t = Target(*args).start()
    try:
        yield t
    finally:
        t.close()


def curl_line(port_hint: str, method: str, path: str, headers: list, body: Optional[bytes]) -> str:
    parts = ["curl", "-si", "-X", method]
    for name, value in headers:
        v = value.decode("utf-8", "backslashreplace") if isinstance(value, bytes) else value
        parts += ["-H", f"{name}: {v}"]
    if body is not None:
        parts += ["--data-binary", body.decode("utf-8", "backslashreplace")[:2000]]
    parts.append(f"{port_hint}{path if isinstance(path, str) else path.decode('utf-8', 'backslashreplace')}")
    return " ".join(shlex.quote(p) for p in parts)


# ---------------------------------------------------------------------------------------------------------------
# Part 1: the fault grammar
# ---------------------------------------------------------------------------------------------------------------

ERROR_KINDS = ["rate_limit", "overloaded", "api_error", "timeout", "auth", "billing", "permission", "not_found", "too_large"]
STREAM_KINDS = ["midstream_error", "disconnect"]
TIMING_KINDS = ["slow_first_byte", "latency", "stall", "tps"]
ALL_KINDS = ERROR_KINDS + STREAM_KINDS + TIMING_KINDS
KIND_WEIGHTS = [1] * len(ERROR_KINDS) + [2] * len(STREAM_KINDS) + [3] * len(TIMING_KINDS)  # numbers matter there
ODD_KINDS = ["", "unknown", "OVERLOADED", "Overloaded", "rate-limit", "over loaded", "tps2", "\u00a0overloaded",
             "\uff4fverloaded", "overloaded\u200b", "\U0001F600", "latency latency", "_", "%6f%76erloaded", "error"]
PARAM_NAMES = ["retry_after", "retry_after_ms", "should_retry", "message", "type", "after", "bytes", "", "x",
               "AFTER", "after ", " bytes", "\u00e9", "retry_after_ms\u0301", "type;"]
NUMBERS = ["0", "-0", "-1", "1", "10", "1e-30", "5e-324", "1e308", "1e309", "-1e308", "nan", "NaN", "-nan", "inf",
           "-inf", "infinity", "0x10", "1_000", "99999999999999999999999", "9223372036854775807",
           "9223372036854775808", "-9223372036854775808", "86400000", "86400001", "2147483648", "0.5", ".5", "5.",
           "1e3", "1E3", "+5", " 5 ", "\uff15", "\u0663", "", "true", "false", "TRUE", "%31", "0.01", "1000000",
           "1000001", "1e6", "0.009", "2e-308", "4.9e-324", "1e-7", "3", "400"]
# The values the spec names, tried more often where a number is due.
HOT_NUMBERS = ["0", "-1", "1e-30", "5e-324", "1e308", "nan", "inf", "99999999999999999999999", "9223372036854775807",
               "86400000", "0.01", "1000000", "1000001", "0.009"]
TEXTS = ["%", "%z", "%ff", "%c3%28", "%00", "%e2%82%ac", "hello%20world", "\u00e9\u00e8", "\U0001F600", "\u202e",
         "a" * 3000, "overloaded_error", "api_error", "nonsense_error", "", "%%", "%2", "%e2%82", "\u00a0", "=", "null"]
SEPARATORS = [",", ";", "=", "%", " ", ", ", " ; ", ";;", ",,", "==", ";=", "=;", "\t", ",;,", " ; , "]


def _header_safe(text: str) -> str:
    """What an HTTP client can put in a header value (no control characters but tab)."""
    return "".join(c for c in text if c == "\t" or (ord(c) >= 0x20 and ord(c) != 0x7F))

KIND_PARAMS = {**{k: ["message", "retry_after", "retry_after_ms", "should_retry"] for k in ERROR_KINDS},
               "midstream_error": ["after", "type", "message"], "disconnect": ["after", "bytes"], "stall": ["after"],
               "tps": [], "latency": [], "slow_first_byte": []}


def number(rng: random.Random) -> str:
    return rng.choice(HOT_NUMBERS if rng.random() < 0.5 else NUMBERS)


def param_value(rng: random.Random, name: str) -> str:
    if name in ("message", "type") and rng.random() < 0.7:
        return rng.choice(TEXTS)
    if name == "should_retry" and rng.random() < 0.5:
        return rng.choice(["true", "false", "TRUE", "yes", "1", ""])
    return number(rng)


BENIGN = {"": ["0", "1", "5", "40", "100"], "message": ["hello", "slow%20down"], "type": ["overloaded_error", "api_error"],
          "retry_after": ["0", "1", "2.5"], "retry_after_ms": ["0", "10", "250"], "should_retry": ["true", "false"],
          "after": ["0", "1", "3"], "bytes": ["0", "10", "100"]}


def well_formed_item(rng: random.Random) -> str:
    """A kind with the parameters it takes, each given a plain or an odd value: the grammar is right."""
    kind = rng.choices(ALL_KINDS, weights=KIND_WEIGHTS)[0]
    item = kind
    if kind in TIMING_KINDS:
        item += "=" + (rng.choice(BENIGN[""]) if rng.random() < 0.3 else number(rng))
    names = KIND_PARAMS[kind]
    for name in rng.sample(names, rng.randint(0, len(names))):
        value = rng.choice(BENIGN[name]) if rng.random() < 0.5 else param_value(rng, name)
        item += ";" + f"{name}={value}"
    return item


def chaotic_item(rng: random.Random) -> str:
    """A kind (maybe unknown or oddly written) with random parameters and stray separators."""
    kind = rng.choice(ALL_KINDS) if rng.random() < 0.85 else rng.choice(ODD_KINDS)
    if rng.random() < 0.2:
        kind = kind.upper() if rng.random() < 0.5 else " " + kind + " "
    item = kind
    if rng.random() < (0.8 if kind.strip().lower() in TIMING_KINDS else 0.2):
        item += rng.choice(["=", "=", "= ", " =", "=="]) + (number(rng) if rng.random() < 0.8 else rng.choice(TEXTS))
    for _ in range(rng.choices([0, 1, 2, 3], weights=[40, 35, 15, 10])[0]):
        name = rng.choice(PARAM_NAMES)
        value = param_value(rng, name)
        form = rng.random()
        if form < 0.7:
            item += rng.choice([";", "; ", " ;", ";;"]) + f"{name}={value}"
        elif form < 0.85:
            item += ";" + name
        else:
            item += ";=" + value
    if rng.random() < 0.15:
        at = rng.randint(0, len(item))
        item = item[:at] + rng.choice(SEPARATORS) + item[at:]
    return item


def fault_text(rng: random.Random) -> str:
    """A ``tapedeck-fault`` value built from random pieces."""
    style = rng.random()
    if style < 0.12:  # separators and nothing else
        return "".join(rng.choice(SEPARATORS) for _ in range(rng.randint(1, 6)))
    if style < 0.27:  # piece soup, no structure
        pools = [ALL_KINDS, ODD_KINDS, PARAM_NAMES, NUMBERS, TEXTS, SEPARATORS, SEPARATORS]
        return "".join(rng.choice(rng.choice(pools)) for _ in range(rng.randint(1, 9)))
    items = []
    for _ in range(rng.choices([1, 2, 3], weights=[60, 30, 10])[0]):
        items.append(well_formed_item(rng) if rng.random() < 0.6 else chaotic_item(rng))
    return rng.choice([",", ", ", " , ", ",,", ";,"]).join(items)


@dataclass
class FaultCase:
    index: int
    path: str
    stream: bool
    value: str

    @property
    def lowered(self) -> str:
        return self.value.lower()

    @property
    def slow_ok(self) -> bool:  # a timing fault may ask for a long wait
        return any(kind in self.lowered for kind in TIMING_KINDS)

    @property
    def drop_ok(self) -> bool:  # a disconnect fault closes the connection on purpose
        return "disconnect" in self.lowered

    def request(self) -> tuple[str, str, list, bytes]:
        body: dict = {"model": MODEL, "max_tokens": 8, "messages": [{"role": "user", "content": f"fault case {self.index}"}]}
        if self.path == "/v1/messages":
            body["stream"] = self.stream
        else:
            body.pop("max_tokens")
        headers = JSON_HEADERS + [("tapedeck-fault", self.value.encode("utf-8"))]
        return "POST", self.path, headers, json.dumps(body).encode()

    def describe(self) -> str:
        method, path, headers, body = self.request()
        return (f"fault case {self.index} (`python test_fuzz_hostile.py faults {SEED} {self.index}`): "
                f"tapedeck-fault: {self.value!r} on {path} stream={self.stream}\n"
                f"reproduce: {curl_line('http://127.0.0.1:PORT', method, path, headers, body)}")


# The values the spec names, sent first (as JSON and as a stream): they once trapped the server.
FAULT_CORPUS = [";", ";;", ",;,", " ; , ", "tps=1e-30", "tps=5e-324", "tps=1e308", "tps=0.009", "tps=1000001",
                "latency=86400001", "midstream_error;after=-1", "overloaded;retry_after=1e309"]


def make_fault_case(index: int) -> FaultCase:
    if index < 2 * len(FAULT_CORPUS):
        return FaultCase(index, "/v1/messages", index % 2 == 1, FAULT_CORPUS[index // 2])
    rng = rng_for("faults", index)
    path = "/v1/messages" if rng.random() < 0.85 else "/v1/messages/count_tokens"
    stream = rng.random() < 0.5
    return FaultCase(index, path, stream, _header_safe(fault_text(rng)))


def run_fault_case(port: int, case: FaultCase) -> tuple[FaultCase, Reply]:
    method, path, headers, body = case.request()
    timeout = SLOW_TIMEOUT if case.slow_ok else CALL_TIMEOUT
    return case, exchange(port, method, path, headers, body, timeout=timeout)


def hunt_culprits(t: Target, suspects: list, findings: Findings, first_death: str) -> None:
    """The server died while ``suspects`` ran: re-run each alone on a fresh server to find which one kills it."""
    found = False
    for case in suspects:
        if t.restarts >= MAX_RESTARTS:
            break
        _, reply = run_fault_case(t.port, case)
        died = t.death(grace=0.5 if reply.error or reply.timed_out else 0.0)
        if died:
            findings.add(f"server died: {died.split(': ', 1)[-1]}", f"{case.describe()}\n    -> {died}")
            found = True
            t.restart()
            continue
        problem = answer_problem(reply, slow_ok=case.slow_ok, drop_ok=case.drop_ok)
        if problem:
            findings.add(problem.split(":")[0], f"{case.describe()}\n    -> {problem}")
    if not found:
        shown = "\n".join(c.describe() for c in suspects[:8])
        findings.add(f"server died: {first_death.split(': ', 1)[-1]}",
                     f"no single case reproduces it alone; the cases in flight were:\n{shown}\n    -> {first_death}")


def test_fuzz_hostile_fault_header():
    budget = Budget("faults")
    findings = Findings("faults")
    statuses: dict[int, int] = {}
    with target() as t, concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:
        problem = t.good()
        assert problem is None, problem
        while budget.more() and t.restarts < MAX_RESTARTS:
            cases = []
            while len(cases) < CHUNK and budget.more():
                cases.append(make_fault_case(budget.count))
                budget.count += 1
            port = t.port
            results = list(pool.map(lambda c: run_fault_case(port, c), cases))
            died = t.death(grace=0.3 if any(r.error for _, r in results) else 0.0)
            suspects = []
            for case, reply in results:
                if died and (reply.error or reply.timed_out):
                    suspects.append(case)  # cut off by the death, or its cause
                    continue
                if reply.status is not None:
                    statuses[reply.status] = statuses.get(reply.status, 0) + 1
                problem = answer_problem(reply, slow_ok=case.slow_ok, drop_ok=case.drop_ok)
                if problem:
                    findings.add(problem.split(":")[0], f"{case.describe()}\n    -> {problem}")
            if died:
                t.restart()
                hunt_culprits(t, suspects or cases, findings, died)
                continue
            problem = t.good()
            if problem:
                findings.add("known-good request failed", f"after fault cases {cases[0].index}-{cases[-1].index}: {problem}")
                t.restart()
    budget.report(f"; statuses {dict(sorted(statuses.items()))}; restarts after deaths: {t.restarts}")
    findings.fail_if_any()


# ---------------------------------------------------------------------------------------------------------------
# Part 1b: serve --fault and odd numeric flags
# ---------------------------------------------------------------------------------------------------------------

FIXED_FLAG_FAULTS = [";", ";;", ",;,", " ; , ", "tps=1e-30", "tps=5e-324", "tps=1e308", "latency=-1"]
ODD_FLAGS = {
    "--speed": ["1e-30", "5e-324", "1e308", "0", "-1", "nan", "inf", "0.001", "1000000", "2"],
    "--fault-rate": ["nan", "-1", "2", "1e-30", "0.5", "inf", "1"],
    "--fault-count": ["-1", "0", "99999999999999999999", "9223372036854775807", "1"],
    "--fault-seed": ["-1", "18446744073709551616", "0", "9223372036854775807"],
    "--journal-size": ["0", "-1", "1", "99999999999999999999"],
    "--max-body": ["0", "1", "-1", "9223372036854775807"],
    "--idle-timeout": ["0", "-1", "1", "9223372036854775807", "99999999999999999999"],
    "--max-connections": ["0", "1", "-1", "9223372036854775807"],
}


FLAGS_CORPUS = [  # (arguments, environment, fault), tried first
    (["--fault=;"], {}, ";"),
    ([], {"TAPEDECK_FAULT": ";;"}, ";;"),
    (["--fault=tps=1e-30"], {}, "tps=1e-30"),
    (["--speed=1e-30", "--pace", "recorded"], {}, ""),
    (["--speed=5e-324", "--pace", "recorded"], {}, ""),
]


def flags_case(index: int) -> tuple[list[str], dict, str]:
    """(extra serve arguments, extra environment, the fault text) of flag case ``index``."""
    if index < len(FLAGS_CORPUS):
        args, env, fault = FLAGS_CORPUS[index]
        return list(args), dict(env), fault
    rng = rng_for("flags", index)
    fault = rng.choice(FIXED_FLAG_FAULTS) if rng.random() < 0.3 else _header_safe(fault_text(rng))
    args: list[str] = []
    env: dict = {}
    if rng.random() < 0.3:
        env["TAPEDECK_FAULT"] = fault
    else:
        args.append(f"--fault={fault}")
    for flag in rng.sample(sorted(ODD_FLAGS), rng.randint(0, 3)):
        args.append(f"{flag}={rng.choice(ODD_FLAGS[flag])}")
    if rng.random() < 0.5:
        args += ["--pace", "recorded"]
        if not any(a.startswith("--speed") for a in args):
            args.append("--speed=1000")  # the demo stream at its recorded pace takes seconds
    return args, env, fault


def test_fuzz_hostile_serve_flags(tmp_path: Path):
    budget = Budget("flags")
    findings = Findings("flags")
    outcomes: dict[str, int] = {}
    cassette = tmp_path / "demo.sqlite"
    shutil.copyfile(DEMO_SQLITE, cassette)
    demo = [json.loads(line) for line in DEMO_JSONL.read_text().splitlines() if line.strip()]
    stream_body = json.dumps(demo[0]["request"]["body"]).encode()  # a recorded stream: exercises --pace/--speed
    while budget.more():
        index = budget.count
        budget.count += 1
        args, env, fault = flags_case(index)
        argv = [str(tapedeck_binary()), "serve", "--port", "0", "--host", "127.0.0.1", "--mode", "replay",
                "--cassette", str(cassette), "--on-miss", "synthesize", *args]
        environment = {k: v for k, v in os.environ.items() if not k.startswith("TAPEDECK_")}
        environment.update(SERVER_ENV, **env)
        what = f"flags case {index}: {' '.join(shlex.quote(a) for a in argv[1:])}" + (f" with env {env}" if env else "")
        server = TapedeckServer(_spawn(argv, env=environment, cwd=str(tmp_path)), argv, None)
        try:
            server.wait_until_ready(timeout=START_TIMEOUT)
        except TapedeckStartError:
            code = server.process.poll()
            server.stop()
            if code is None:
                findings.add("serve neither started nor exited", f"{what}\n    -> {fatal_line(server.output())}")
            elif code < 0:
                findings.add(f"serve died: {exit_text(code)}: {fatal_line(server.output())}", what)
            else:
                outcomes[f"exit {code}"] = outcomes.get(f"exit {code}", 0) + 1
            continue
        outcomes["started"] = outcomes.get("started", 0) + 1
        slow = any(kind in fault.lower() for kind in TIMING_KINDS) or "--pace" in args
        drop = "disconnect" in fault.lower()
        for body in (stream_body, GOOD_BODY):
            reply = exchange(server.port, "POST", "/v1/messages", JSON_HEADERS, body, timeout=SLOW_TIMEOUT if slow else CALL_TIMEOUT)
            if reply.error:  # perhaps the process is going down
                with contextlib.suppress(subprocess.TimeoutExpired):
                    server.process.wait(timeout=0.5)
            if server.process.poll() is not None:
                break
            problem = answer_problem(reply, slow_ok=slow, drop_ok=drop)
            if problem:
                findings.add(problem.split(":")[0], f"{what}\n    -> {problem}")
        code = server.process.poll()
        if code is not None:
            time.sleep(0.1)
            findings.add(f"server died: {exit_text(code)}: {fatal_line(server.output())}", what)
        server.stop()
    budget.report(f"; outcomes {outcomes}")
    findings.fail_if_any()


# ---------------------------------------------------------------------------------------------------------------
# Part 2: the admin API
# ---------------------------------------------------------------------------------------------------------------

QUERY_NAMES = ["limit", "after_id", "status", "model", "q", "cassette", "token", "before_id", "x", "", "%ff", "a[]",
               "limit", "status", "after_id", "q"]
QUERY_VALUES = ["0", "-1", "1", "10000", "10001", "9223372036854775807", "9223372036854775808",
                "-9223372036854775809", "1e3", "1.5", " 5", "+5", "0x10", "", "abc", "%", "%z", "%ff", "%c3%28",
                "%00", "%2e%2e%2f", "%E2%80%AE", "\u00e9", "\U0001F600", "x" * 5000, "+", "&&", "==", "default",
                "..", "a/b", "200", "529", "claude-sonnet-4-5", "%25", "%%", "%2", "1%00", "alpha", "\u0663"]
IDS = ["1", "2", "6", "0", "-1", "9223372036854775807", "9223372036854775808", "99999999999999999999", "1e3",
       "abc", "%00", "%ff", "\uff11", "1;2", "..", "1%2F2", "%20", "1.0", "0x1", "+1", "\u0663", "9" * 400]
ADMIN_GETS = ["interactions", "journal", "misses", "ui", "ui/journal", "ui/misses", "faults", "health"]


def json_soup(rng: random.Random, depth: int = 0) -> Any:
    """A random JSON value (as Python), of any type."""
    choice = rng.random()
    if depth > 3 or choice < 0.45:
        return rng.choice([None, True, False, 0, -1, 1, 2**63, -(2**63) - 1, 10**40, 0.5, -0.0, 1e308, "", "x",
                           "\U0001F600", "overloaded", ";", "tps=1e-30", "1", "true", [], {}])
    if choice < 0.7:
        return [json_soup(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {rng.choice(["fault", "count", "rate", "seed", "x", ""]): json_soup(rng, depth + 1) for _ in range(rng.randint(0, 4))}


RAW_NUMBERS = ["1e999", "-1e999", "NaN", "Infinity", "-0", "1" + "0" * 40, "-1", "0.5", "18446744073709551616",
               "9223372036854775808", "4.9e-324", "1E2", "0001", "1.", ".5", "+1", "0x10"]


def fault_body(rng: random.Random) -> bytes:
    """A POST /_tapedeck/faults body: mostly a right-looking object with wrong-typed or extreme fields."""
    style = rng.random()
    if style < 0.15:
        return json.dumps(json_soup(rng)).encode()
    if style < 0.25:
        return rng.choice([b"", b"{", b"not json", b"\xff\xfe", b'{"fault":"overloaded",}', b"[" * 3000 + b"]" * 3000,
                           b'{"fault":"overloaded","fault":";"}', b'{"fault":"\\ud800"}', b"null", b'"overloaded"'])
    fields = []
    fault = rng.random()
    if fault < 0.6:
        fields.append(("fault", json.dumps(_header_safe(fault_text(rng)))))
    elif fault < 0.9:
        fields.append(("fault", json.dumps(json_soup(rng))))
    for name in ("count", "rate", "seed"):
        if rng.random() < 0.35:
            value = rng.choice(RAW_NUMBERS) if rng.random() < 0.5 else json.dumps(json_soup(rng))
            fields.append((name, value))
    if rng.random() < 0.1:
        fields.append(("extra", json.dumps(json_soup(rng))))
    rng.shuffle(fields)
    return ("{" + ",".join(f"{json.dumps(k)}:{v}" for k, v in fields) + "}").encode()


def query_string(rng: random.Random) -> str:
    if rng.random() < 0.2:
        return ""
    pairs = []
    for _ in range(rng.randint(1, 4)):
        name, value = rng.choice(QUERY_NAMES), rng.choice(QUERY_VALUES)
        pairs.append(name if rng.random() < 0.1 else f"{name}={value}")
    return "?" + rng.choice(["&", "&", "&&", ";"]).join(pairs)


@dataclass
class AdminCase:
    index: int
    method: str
    path: str
    body: Optional[bytes] = None
    headers: list = field(default_factory=list)
    fault_text: Optional[str] = None  # for POST faults: what the body asked for, if it is a string

    def describe(self) -> str:
        then = ""
        if self.method == "POST" and self.path.startswith("/_tapedeck/faults"):
            then = " (then POST /v1/messages, which the fault applies to, and DELETE /_tapedeck/faults)"
        return (f"admin case {self.index} (`python test_fuzz_hostile.py admin {SEED} {self.index}`): "
                f"{self.method} {self.path!r} body={self.body[:300] if self.body is not None else None!r}{then}\n"
                f"reproduce: {curl_line('http://127.0.0.1:PORT', self.method, self.path, self.headers, self.body)}")


ADMIN_CORPUS = [b'{"fault":";"}', b'{"fault":" ; , "}', b'{"fault":"tps=1e-30"}', b'{"fault":"tps=5e-324","count":1}',
                b'{"fault":"overloaded","count":1e999}', b'{"fault":"overloaded","rate":1e-400,"seed":-1}',
                b'{"fault":"overloaded","seed":18446744073709551616}']


def make_admin_case(index: int) -> AdminCase:
    if index < len(ADMIN_CORPUS):
        body = ADMIN_CORPUS[index]
        return AdminCase(index, "POST", "/_tapedeck/faults", body, [("content-type", "application/json")],
                         json.loads(body)["fault"])
    rng = rng_for("admin", index)
    kind = rng.random()
    if kind < 0.3:
        body = fault_body(rng)
        try:
            parsed = json.loads(body)
            text = parsed.get("fault") if isinstance(parsed, dict) else None
        except (ValueError, UnicodeDecodeError, RecursionError):
            text = None
        headers = [("content-type", rng.choice(["application/json", "application/json", "text/plain", ""]))]
        return AdminCase(index, "POST", "/_tapedeck/faults" + (query_string(rng) if rng.random() < 0.2 else ""), body,
                         headers, text if isinstance(text, str) else None)
    if kind < 0.5:
        prefix = rng.choice(["/_tapedeck/interactions/", "/_tapedeck/ui/interactions/"])
        return AdminCase(index, "GET", prefix + rng.choice(IDS) + (query_string(rng) if rng.random() < 0.4 else ""))
    if kind < 0.9:
        return AdminCase(index, "GET", "/_tapedeck/" + rng.choice(ADMIN_GETS) + query_string(rng))
    if kind < 0.95:
        return AdminCase(index, "POST", "/_tapedeck/reset" + query_string(rng), b"")
    method = rng.choice(["PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "POST"])
    return AdminCase(index, method, "/_tapedeck/" + rng.choice(ADMIN_GETS + ["interactions/1", "faults", "nope", ""]), b"")


def run_admin_case(port: int, case: AdminCase) -> list[tuple[str, Reply, bool, bool]]:
    """The case's exchanges: (what, reply, slow_ok, drop_ok). A fault that was set is tried once, then cleared."""
    out = []
    reply = exchange(port, case.method, case.path, case.headers, case.body)
    out.append((f"{case.method} {case.path[:120]}", reply, False, False))  # (HEAD: see test_fuzz_hostile_admin)
    if case.method == "POST" and case.path.startswith("/_tapedeck/faults") and reply.status == 200:
        text = (case.fault_text or "").lower()
        slow = any(kind in text for kind in TIMING_KINDS)
        under = exchange(port, "POST", "/v1/messages", JSON_HEADERS, GOOD_BODY, timeout=SLOW_TIMEOUT if slow else CALL_TIMEOUT)
        out.append(("POST /v1/messages under the fault just set", under, slow, "disconnect" in text))
        out.append(("DELETE /_tapedeck/faults", exchange(port, "DELETE", "/_tapedeck/faults"), False, False))
    return out


def test_fuzz_hostile_admin(tmp_path: Path):
    budget = Budget("admin")
    findings = Findings("admin")
    statuses: dict[int, int] = {}
    cassette = tmp_path / "demo.sqlite"
    shutil.copyfile(DEMO_SQLITE, cassette)
    (tmp_path / "alpha.sqlite").write_bytes(DEMO_SQLITE.read_bytes())  # a per-test cassette to look at
    with target("--mode", "replay", "--cassette", str(cassette), "--on-miss", "synthesize") as t:
        # Some traffic first, so the journal and misses have entries.
        for body in (GOOD_BODY, json.dumps({"model": MODEL, "max_tokens": 1024, "messages": [{"role": "user", "content": "Hello! Can you help me!"}]}).encode()):
            exchange(t.port, "POST", "/v1/messages", JSON_HEADERS, body)
        assert t.good() is None, t.good()
        while budget.more() and t.restarts < MAX_RESTARTS:
            case = make_admin_case(budget.count)
            budget.count += 1
            results = run_admin_case(t.port, case)
            died = t.death(grace=0.5 if any(r.error for _, r, _, _ in results) else 0.0)
            if died:
                findings.add(f"server died: {died.split(': ', 1)[-1]}", f"{case.describe()}\n    -> {died}")
                t.restart()
                continue
            for what, reply, slow, drop in results:
                if reply.status is not None:
                    statuses[reply.status] = statuses.get(reply.status, 0) + 1
                problem = answer_problem(reply, slow_ok=slow, drop_ok=drop, head=what.startswith("HEAD "))
                if problem:
                    findings.add(f"{what.split()[0]} {what.split()[1].split('?')[0][:40]}: {problem.split(':')[0]}",
                                 f"{case.describe()}\n    {what} -> {problem}")
            if budget.count % 20 == 0:
                exchange(t.port, "DELETE", "/_tapedeck/faults")
                problem = t.good()
                if problem:
                    findings.add("known-good request failed", f"after admin case {case.index}: {problem}")
                    t.restart()
    budget.report(f"; statuses {dict(sorted(statuses.items()))}")
    findings.fail_if_any()


# ---------------------------------------------------------------------------------------------------------------
# Part 3: damaged cassettes
# ---------------------------------------------------------------------------------------------------------------

FIXTURES = [
    {"match": {"last_user": {"regex": "weather"}}, "response": {"message": {"content": [{"type": "text", "text": "Sunny"}]}}},
    {"match": {"last_user": "please fail"},
     "response": {"status": 429, "error": {"type": "rate_limit_error", "message": "slow down"}, "retry_after": 3}},
    {"match": {"model": "claude-haiku-4-5", "last_user": {"regex": "^route me"}},
     "response": {"message": {"content": [{"type": "text", "text": "haiku route"}]}}},
    {"match": {"tools": True, "last_user": {"regex": "^route me"}},
     "response": {"message": {"content": [{"type": "tool_use", "name": "get_time", "input": {}}]}}},
    {"request": {"body": {"model": MODEL, "max_tokens": 100, "messages": [{"role": "user", "content": "exact fixture"}]}},
     "response": {"message": {"content": [{"type": "text", "text": "exact wins"}]}}},
]
TOOL = {"name": "get_time", "description": "The time.", "input_schema": {"type": "object", "properties": {}}}


def _ask(text: str, model: str = MODEL, **extra) -> dict:
    return {"model": model, "max_tokens": 100, "messages": [{"role": "user", "content": text}], **extra}


FIXTURE_REQUESTS = [_ask("what's the weather?"), _ask("please fail"), _ask("route me", model="claude-haiku-4-5"),
                    _ask("route me", tools=[TOOL]), _ask("exact fixture")]

COLUMNS = {  # column -> weight
    "status": 12, "is_stream": 6, "events": 10, "message": 8, "response_headers": 8, "response_body": 7,
    "request_body": 6, "request_headers": 4, "occurrence": 5, "recorded_at": 5, "matcher": 7, "is_fixture": 4,
    "model": 3, "method": 3, "path": 3, "query": 2, "fingerprint": 2, "id": 2,
}
GENERIC_VALUES: list = [
    None, "", "abc", "200", "-1", "not json", "{}", "[]", "null", '{"a":1}', "[[1,2]]", "\u00e9\U0001F600",
    b"", b"\x00\xff", b"\xc3\x28", b"\xff\xfe\xfd", b"\xed\xa0\x80", 0, -1, 1, 2**63 - 1, -(2**63), 4290, 99, 150,
    1000, 204, 304, 0.5, -1.5, 1e308, -1e308, 3.0, "9" * 30,
]
EVENT = {"t": 16, "end": 10, "event": "message_start", "data": '{"type":"message_start"}'}


def _events(*changes: dict) -> str:
    return json.dumps([{**EVENT, **c} for c in changes])


COLUMN_VALUES: dict[str, list] = {
    "status": [4290, 1000, -1, 99, 100, 101, 150, 199, 204, 304, 205, 600, 999, 0, 2**31, 2**63 - 1, "abc", "200",
               200.5, "429 ", b"200", None],
    "occurrence": [0, -1, "x", 2**63 - 1, -(2**63), 1.5, None, 2],
    "is_stream": ["maybe", 2, -1, 0, 1, "true", 1.5, None, b"\x01"],
    "is_fixture": ["maybe", 2, -1, 0, 1, "true", None],
    "events": ["not json", "[]", "{}", "null", "[null]", "[[]]", '[{"t":1}]', _events({"t": -5, "end": -1}),
               _events({"t": 1e300, "end": 1e300}), _events({"t": 2**63 - 1, "end": 2**63 - 1}),
               _events({"t": 10**30}), _events({"end": 10**9}), _events({"data": "not json"}), _events({"event": 1, "data": {}}),
               _events({"t": 5, "end": 400}, {"t": 1, "end": 100}), _events({"t": -(2**63)}), _events({"t": "1"}),
               "[" * 5000 + "]" * 5000, b"\xff[]", _events({"t": 9007199254740993, "end": 0})],
    "message": ["not json", "[]", "null", '{"type":"message"}', '{"content":5}', '{"content":[{"type":5}]}',
                '{"usage":{"output_tokens":-1}}', '{"content":[{"type":"text","text":null}]}', '{"content":[5]}',
                '{"type":"message","content":[],"usage":{"input_tokens":1e308}}', b"\xff", "{" * 3000],
    "response_headers": ["not json", "{}", "null", '[["a"]]', "[[1,2]]", '[["a\\r\\nb","c"]]', '[["content-length","999999"]]',
                         '[["content-length","0"]]', '[["transfer-encoding","chunked"]]', '[["connection","close"]]',
                         '[["","x"]]', '[["x","\\u0000"]]', '[["x","\\r\\nInjected: yes"]]', '[["content-type","text/html"]]',
                         '[["retry-after","-1"]]', '[["x-\\u00e9","v"]]', '[["content-length","-1"]]', '[null]',
                         '[["a","b","c"]]', '{"content-type":"application/json"}'],
    "request_headers": ["not json", "{}", "[[1,2]]", '[["a"]]', '[null]', b"\x00\xff"],
    "response_body": [b"", b"not json", b"\xff\xfe", b"event: message_start\ndata: {}\n\n", b"x" * 200_000,
                      b'{"type":"error"}', "text, not a blob", b"\x00" * 10],
    "request_body": [b"", b"not json", b"\xff", b'{"model":5}', b"[]", b'{"messages":"x"}', b"[" * 5000 + b"]" * 5000,
                     ("{" + ",".join(f'"k{i}":{i}' for i in range(20000)) + "}").encode(), "{}", b'{"messages":[{"role":"user","content":null}]}'],
    "recorded_at": [None, "", "not a date", 5, "9999-99-99T99:99:99Z", "-0001-01-01T00:00:00Z", 1e308, b"\xff"],
    "method": ["", "GET", "get", "\u00e9", None, 5, "POST\r\n"],
    "path": ["", "/", "/v1/messages/../x", "relative", "\u0000", 5, "/v1/messages?x=1", None, "/v1/messages/count_tokens"],
    "query": ["", "a=b", "%ff", 5, b"\xff", "api_key=SECRET", "&&&", None],
    "model": [None, "", 5, "x" * 10000, "<script>alert(1)</script>", b"\xff"],
    "matcher": ["not json", "{}", "[]", "null", '{"last_user":5}', '{"last_user":{"regex":"((("}}', '{"last_user":{"regex":5}}',
                '{"model":5}', '{"tools":"yes"}', '{"colour":"red"}', None, '{"last_user":{"regex":""}}', b"\xff"],
    "fingerprint": ["", None, "x", 5, b"\xff"],
    "id": [-1, 0, 2**63 - 1, -(2**63), 1000],
}
TEXT_COLUMNS = {"recorded_at", "method", "path", "query", "fingerprint", "request_headers", "response_headers", "events",
                "message", "model", "matcher"}


def loosen(db: sqlite3.Connection, typeless: bool) -> None:
    """Rebuilds ``interaction`` without NOT NULL and UNIQUE (and, when ``typeless``, without column types, so a
    TEXT column can hold an integer), keeping the rows."""
    sql = db.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'interaction'").fetchone()[0]
    loose = re.sub(r"\s+NOT NULL", "", sql)
    loose = re.sub(r",\s*UNIQUE\s*\([^)]*\)", "", loose)
    if typeless:
        loose = re.sub(r"\b(\w+) (TEXT|BLOB|INTEGER)(?! PRIMARY)", r"\1", loose)
    loose = loose.replace("CREATE TABLE interaction", "CREATE TABLE interaction_loose", 1)
    db.execute(loose)
    db.execute("INSERT INTO interaction_loose SELECT * FROM interaction")
    db.execute("DROP TABLE interaction")
    db.execute("ALTER TABLE interaction_loose RENAME TO interaction")
    db.execute("CREATE INDEX IF NOT EXISTS interaction_path ON interaction (method, path)")


def column_value(rng: random.Random, column: str) -> Any:
    if rng.random() < 0.6 and column in COLUMN_VALUES:
        return rng.choice(COLUMN_VALUES[column])
    value = rng.choice(GENERIC_VALUES)
    if column == "id" and not isinstance(value, int):
        value = rng.choice(COLUMN_VALUES["id"])
    return value


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:60]}...({len(value)} long)"


def set_column(db: sqlite3.Connection, row: int, column: str, value: Any, loosened: bool, typeless: bool,
               notes: list) -> bool:
    """``UPDATE interaction SET column = value WHERE id = row``, loosening the table first when the value needs it
    (``typeless``: a number for a TEXT column, which TEXT affinity would turn into text). Returns ``loosened``."""
    if typeless and not loosened:
        loosen(db, typeless=True)
        loosened = True
        notes.append("table rebuilt without NOT NULL, UNIQUE and column types")
    try:
        db.execute(f'UPDATE interaction SET "{column}" = ? WHERE id = ?', (value, row))
    except (sqlite3.IntegrityError, OverflowError) as e:
        if loosened or isinstance(e, OverflowError):
            notes.append(f"(refused by sqlite: row {row} {column} = {_shown(value)}: {e})")
            return loosened
        loosen(db, typeless=False)
        loosened = True
        notes.append("table rebuilt without NOT NULL and UNIQUE")
        try:
            db.execute(f'UPDATE interaction SET "{column}" = ? WHERE id = ?', (value, row))
        except sqlite3.Error as e2:
            notes.append(f"(refused by sqlite: row {row} {column} = {_shown(value)}: {e2})")
            return loosened
    notes.append(f"row {row} {column} = {_shown(value)}")
    return loosened


# The damage the spec names, tried first (row 1 is a recorded stream, row 6 a recorded 529, row 7 a loose fixture).
COLUMN_CORPUS = [
    [(1, "status", "abc"), (6, "status", 4290)],
    [(1, "occurrence", "x"), (6, "status", 150)],
    [(1, "request_headers", b"\x00\xff"), (6, "status", 1000)],
    [(1, "events", "not json"), (6, "status", -1)],
    [(6, "is_stream", "maybe"), (1, "status", 99)],
    [(1, "recorded_at", None), (6, "status", 204)],
    [(1, "events", _events({"t": 2**63 - 1, "end": 10})), (7, "matcher", "not json")],
    # Found by this fuzzer (seed 202, round 172): a recorded content-length is replayed as is, and the client waits
    # for 999999 bytes that never come.
    [(6, "response_headers", '[["content-length","999999"]]')],
]


def damage(path: Path, rng: random.Random, corpus: Optional[list] = None) -> list[str]:
    """Damages the cassette at ``path`` in place; returns what was done."""
    notes: list[str] = []
    if corpus is not None:
        with contextlib.closing(sqlite3.connect(path)) as db:
            loosened = False
            for row, column, value in corpus:
                loosened = set_column(db, row, column, value, loosened, False, notes)
            db.commit()
        return notes
    style = rng.random()
    if style < 0.08:  # the file itself
        data = bytearray(path.read_bytes())
        how = rng.choice(["truncate", "flip", "zero", "other-db"])
        if how == "truncate":
            size = rng.randint(0, len(data) - 1)
            path.write_bytes(bytes(data[:size]))
            notes.append(f"file truncated to {size} of {len(data)} bytes")
        elif how == "flip":
            for _ in range(rng.randint(1, 40)):
                at = rng.randrange(len(data))
                data[at] = rng.getrandbits(8)
            path.write_bytes(bytes(data))
            notes.append("random bytes overwritten in the file")
        elif how == "zero":
            path.write_bytes(b"")
            notes.append("file emptied (0 bytes)")
        else:
            path.unlink()
            with contextlib.closing(sqlite3.connect(path)) as db:
                db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
                db.execute("INSERT INTO notes (text) VALUES ('not a cassette')")
                db.commit()
            notes.append("replaced by an SQLite file with other tables")
        return notes
    with contextlib.closing(sqlite3.connect(path)) as db:
        ids = [row[0] for row in db.execute("SELECT id FROM interaction ORDER BY id")]
        loosened = False
        for _ in range(rng.choices([1, 2, 3, 4], weights=[45, 30, 15, 10])[0]):
            what = rng.random()
            if what < 0.05 and ids:
                victim = rng.choice(ids)
                db.execute("DELETE FROM interaction WHERE id = ?", (victim,))
                notes.append(f"row {victim} deleted")
                continue
            if what < 0.1 and ids:
                if not loosened:
                    loosen(db, typeless=False)
                    loosened = True
                source = rng.choice(ids)
                columns = [r[1] for r in db.execute("PRAGMA table_info(interaction)") if r[1] != "id"]
                cols = ", ".join(columns)
                db.execute(f"INSERT INTO interaction ({cols}) SELECT {cols} FROM interaction WHERE id = ?", (source,))
                notes.append(f"row {source} duplicated (same fingerprint and occurrence)")
                continue
            if what < 0.14:
                value = rng.choice(["abc", "99", "", "-1", "1", "2"])
                db.execute("UPDATE cassette_meta SET value = ? WHERE key = 'schema_version'", (value,))
                notes.append(f"cassette_meta schema_version = {value!r}")
                continue
            if not ids:
                continue
            row = rng.choice(ids)
            column = rng.choices(list(COLUMNS), weights=list(COLUMNS.values()))[0]
            value = column_value(rng, column)
            typeless = column in TEXT_COLUMNS and isinstance(value, (int, float)) and rng.random() < 0.5
            loosened = set_column(db, row, column, value, loosened, typeless, notes)
            if column == "id" and isinstance(value, int) and notes[-1].startswith(f"row {row} id ="):
                ids = [value if i == row else i for i in ids]
        db.commit()
    return notes


IMPORT_VALUES: list = [4290, 1000, -1, 99, 150, 100, 204, 304, 600, 0, "200", 200.5, None, 1e308, 2**64, -(2**63) - 1,
                       True, [], {}, "", "\u00e9", "not a date", [["a"]], [[1, 2]], {"a": "b"}, 10**30]


def damaged_export(lines: list[dict], rng: random.Random) -> tuple[list[dict], list[str]]:
    """A copy of the export lines with one to three fields set to odd values (statuses most of all)."""
    lines = json.loads(json.dumps(lines))
    notes = []
    for _ in range(rng.randint(1, 3)):
        i = rng.randrange(len(lines))
        line = lines[i]
        if rng.random() < 0.4 and isinstance(line.get("response"), dict):
            path = ("response", "status")
        else:
            path = rng.choice([p for p, _ in _nodes(line)])
        value = rng.choice(IMPORT_VALUES) if rng.random() < 0.7 else json_soup(rng)
        node = line
        for step in path[:-1]:
            node = node[step]
        node[path[-1]] = value
        notes.append(f"line {i + 1} {'.'.join(map(str, path))} = {_shown(value)}")
    return lines, notes


def run_cli(*args: object) -> tuple[Optional[int], str, str, float]:
    """(exit code or None on timeout, stdout, stderr, seconds) of ``tapedeck ARGS``."""
    argv = [str(tapedeck_binary())] + [str(a) for a in args]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TAPEDECK_")}
    environment.update(SERVER_ENV)
    started = time.monotonic()
    try:
        p = subprocess.run(argv, capture_output=True, timeout=CLI_TIMEOUT, stdin=subprocess.DEVNULL, env=environment)
    except subprocess.TimeoutExpired as e:
        return None, (e.stdout or b"").decode("utf-8", "replace"), (e.stderr or b"").decode("utf-8", "replace"), CLI_TIMEOUT
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace"), time.monotonic() - started


def cli_problem(code: Optional[int], stdout: str, stderr: str) -> Optional[str]:
    if code is None:
        return f"did not exit within {CLI_TIMEOUT:.0f} s"
    if code < 0:
        return f"killed by signal {TRAP_SIGNALS.get(-code, -code)}: {fatal_line(stderr)}"
    if code != 0 and not (stdout.strip() or stderr.strip()):
        return f"exit {code} without a word"
    return None


@dataclass
class Base:
    """The undamaged cassette and the requests that hit its rows."""

    path: Path
    lines: list[dict]
    requests: list[tuple[str, dict]]  # (path, body) that each hit one row
    near_miss: dict


def build_base(directory: Path) -> Base:
    demo = [json.loads(line) for line in DEMO_JSONL.read_text().splitlines() if line.strip()]
    lines = demo + FIXTURES
    source = directory / "base.jsonl"
    source.write_text("".join(json.dumps(l) + "\n" for l in lines))
    base = directory / "base.sqlite"
    code, out, err, _ = run_cli("cassette", "import", source, "--into", base)
    assert code == 0, f"cassette import of the base failed: {code} {out} {err}"
    requests = [(line["request"].get("path", "/v1/messages"), line["request"]["body"]) for line in demo]
    requests += [("/v1/messages", body) for body in FIXTURE_REQUESTS]
    near = json.loads(json.dumps(demo[0]["request"]["body"]))
    near["max_tokens"] = 1023  # close to row 1: the miss explanation compares the two
    return Base(base, lines, requests, near)


@dataclass
class Round:
    index: int
    name: str
    notes: list
    columns: set  # the columns touched

    @property
    def rows(self) -> set:
        """The row ids the notes name (``row 3 status = ...``; for an import, ``line 3 ...``)."""
        return {int(m.group(1)) for n in self.notes for m in re.finditer(r"\b(?:row|line) (-?\d+)", n)}

    def describe(self) -> str:
        part, out = ("imports", "out.jsonl") if self.name.startswith("i") else ("columns", "out.sqlite")
        return (f"columns round {self.index} (`python test_fuzz_hostile.py {part} {SEED} {self.index} {out}`), "
                f"cassette {self.name}: " + "; ".join(self.notes))


def row_ids(cassette: Path) -> list:
    """The integer row ids, as far as a damaged file lets them be read."""
    with contextlib.suppress(Exception):  # sqlite3.Error, or a decoding error from overwritten pages
        with contextlib.closing(sqlite3.connect(f"file:{cassette}?mode=ro", uri=True)) as db:
            db.text_factory = bytes
            return [row[0] for row in db.execute("SELECT id FROM interaction ORDER BY id") if isinstance(row[0], int)]
    return []


def focus(ids: list, rnd: "Round") -> list:
    """The row ids worth a ``show`` and an ``interactions/{id}``: the damaged ones, the first and the last."""
    chosen = [i for i in ids if i in rnd.rows] + ids[:1] + ids[-1:]
    return list(dict.fromkeys(chosen))[:6]


def check_cli(cassette: Path, base: Path, rnd: Round, ids: list, findings: Findings) -> int:
    """Runs the reading commands on ``cassette``; returns how many ran."""
    commands = [("list", cassette), ("verify", cassette), ("export", cassette), ("stats", cassette),
                ("diff", base, cassette)] + [("show", cassette, i) for i in ids] + [("show", cassette, 999999)]
    for command in commands:
        code, out, err, _ = run_cli("cassette", *command)
        problem = cli_problem(code, out, err)
        if problem:
            shown = " ".join(str(c) for c in command).replace(str(cassette.parent) + "/", "")
            findings.add(f"cassette CLI: {problem[:220]}",
                         f"{rnd.describe()}\n    tapedeck cassette {shown} -> {problem}")
    return len(commands)


def replay_exchanges(base: Base, name: str, ids: list) -> list[tuple[str, str, str, list, Optional[bytes]]]:
    """(label, method, target, headers, body) of one round's requests to per-test cassette ``name``."""
    cassette_header = [("tapedeck-cassette", name)]
    out = []
    for path, body in base.requests:
        for stream in (False, True):
            b = dict(body, stream=stream)
            out.append((f"replay {path} stream={stream} {json.dumps(body)[:80]}", "POST", path, JSON_HEADERS + cassette_header,
                        json.dumps(b).encode()))
    out.append(("near miss", "POST", "/v1/messages", JSON_HEADERS + cassette_header, json.dumps(base.near_miss).encode()))
    for page in ("interactions", "misses", "ui", "ui/misses", "ui/journal", "journal"):
        out.append((f"GET {page}", "GET", f"/_tapedeck/{page}?cassette={name}", [], None))
    out.append(("GET interactions?status=200&q=a", "GET", f"/_tapedeck/interactions?cassette={name}&status=200&q=a&limit=2", [], None))
    for i in ids:
        out.append((f"GET interactions/{i}", "GET", f"/_tapedeck/interactions/{i}?cassette={name}", [], None))
        out.append((f"GET ui/interactions/{i}", "GET", f"/_tapedeck/ui/interactions/{i}?cassette={name}", [], None))
    return out


def check_replay(t: Target, paced: Target, base: Base, rnd: Round, ids: list, findings: Findings, statuses: dict) -> int:
    """Sends the round's requests to both servers; returns how many were sent."""
    sent = 0
    events_damaged = bool(rnd.columns & {"events", "file"})
    for server, label in ((t, "instant"), (paced, "paced")):
        # After a death the rest of the round would only reopen the same cassette and die the same way: next server.
        exchanges = replay_exchanges(base, rnd.name, ids)
        if label == "paced":  # only recorded streams asked for as streams are paced
            exchanges = [e for e in exchanges if e[0].startswith("replay") and "stream=True" in e[0]][:6]
        for what, method, path, headers, body in exchanges:
            slow_ok = label == "paced" and events_damaged
            reply = exchange(server.port, method, path, headers, body, timeout=SLOW_TIMEOUT if slow_ok else CALL_TIMEOUT)
            sent += 1
            died = server.death(grace=0.5 if reply.error else 0.0)
            if died:
                findings.add(f"server died ({label}): {died.split(': ', 1)[-1]}", f"{rnd.describe()}\n    {what} -> {died}")
                server.restart()
                break
            key = f"{reply.status}{'r' if reply.headers.get('tapedeck-source') == 'recorded' else ''}"
            statuses[key] = statuses.get(key, 0) + 1
            problem = answer_problem(reply, slow_ok=slow_ok)
            if problem:
                findings.add(f"{what.split()[0]} {what.split()[1] if len(what.split()) > 1 else ''} ({label}): {problem.split(':')[0]}",
                             f"{rnd.describe()}\n    {what} -> {problem}")
    return sent


def round_cassette(base: Base, index: int, out: Path) -> Round:
    """Round ``index``'s damaged copy of the base cassette, written to ``out``."""
    rng = rng_for("columns", index)
    shutil.copyfile(base.path, out)
    notes = damage(out, rng, COLUMN_CORPUS[index] if index < len(COLUMN_CORPUS) else None)
    touched = {n.split()[2] for n in notes if n.startswith("row ") and len(n.split()) > 2}
    if any(n.startswith("file") or n.startswith("replaced") for n in notes):
        touched.add("file")
    return Round(index, out.stem, notes, touched)


def test_fuzz_hostile_cassette_columns(tmp_path: Path):
    budget = Budget("columns")
    findings = Findings("columns")
    shelf = tmp_path / "shelf"
    shelf.mkdir()
    base = build_base(tmp_path)
    shutil.copyfile(base.path, shelf / "default.sqlite")
    counts = {"rounds": 0, "cli": 0, "http": 0, "imports": 0, "imports_accepted": 0}
    statuses: dict[str, int] = {}  # "200r": a replayed recording
    common = ("--mode", "replay", "--cassette", str(shelf / "default.sqlite"), "--cassette-dir", str(shelf), "--on-miss", "error")
    with target(*common) as t, target(*common, "--pace", "recorded", "--speed", "1000") as paced:
        while budget.more() and t.restarts + paced.restarts < MAX_RESTARTS:
            index = budget.count
            budget.count += 1
            counts["rounds"] += 1
            if index and index % 40 == 0:  # bound the open per-test cassettes of a long run
                t.recycle()
                paced.recycle()
            rnd = round_cassette(base, index, shelf / f"r{index}.sqlite")
            ids = focus(row_ids(shelf / f"{rnd.name}.sqlite"), rnd)
            counts["cli"] += check_cli(shelf / f"{rnd.name}.sqlite", base.path, rnd, ids, findings)
            counts["http"] += check_replay(t, paced, base, rnd, ids, findings, statuses)

            # The same round imports a damaged export: refused cleanly, or accepted and then replayed.
            lines, notes = damaged_export(base.lines, rng_for("imports", index))
            source = tmp_path / f"i{index}.jsonl"
            source.write_text("".join(json.dumps(l) + "\n" for l in lines))
            imported = shelf / f"i{index}.sqlite"
            code, out, err, _ = run_cli("cassette", "import", source, "--into", imported)
            counts["imports"] += 1
            irnd = Round(index, f"i{index}", [f"imported from a damaged export: {'; '.join(notes)}"], set())
            problem = cli_problem(code, out, err)
            if problem:
                findings.add(f"cassette import: {problem[:220]}", f"{irnd.describe()}\n    -> {problem}")
            if code == 0 and imported.exists():
                counts["imports_accepted"] += 1
                ids = focus(row_ids(imported), irnd)
                counts["cli"] += check_cli(imported, base.path, irnd, ids, findings)
                counts["http"] += check_replay(t, paced, base, irnd, ids, findings, statuses)
            for server, label in ((t, "instant"), (paced, "paced")):
                died = server.death()
                if died:
                    findings.add(f"server died ({label}): {died.split(': ', 1)[-1]}", f"after {rnd.describe()}")
                    server.restart()
                else:
                    reply = exchange(server.port, "POST", "/v1/messages", JSON_HEADERS,
                                     json.dumps(dict(base.requests[0][1], stream=False)).encode())
                    if reply.status != 200:
                        findings.add(f"known-good replay failed ({label})", f"after {rnd.describe()}: {reply.brief()}")
    budget.report(f" ({counts}); statuses (r: replayed) {dict(sorted(statuses.items()))}")
    findings.fail_if_any()


# ---------------------------------------------------------------------------------------------------------------
# Rebuilding one case by hand
# ---------------------------------------------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    global SEED
    if len(argv) < 3 or argv[0] not in ("faults", "admin", "columns", "imports"):
        print(__doc__.split("\n\n")[-1].strip() if __doc__ else "", file=sys.stderr)
        return 2
    part, SEED, index = argv[0], int(argv[1]), int(argv[2])
    if part == "faults":
        print(make_fault_case(index).describe())
    elif part == "admin":
        print(make_admin_case(index).describe())
    elif part == "imports":
        demo = [json.loads(line) for line in DEMO_JSONL.read_text().splitlines() if line.strip()]
        lines, notes = damaged_export(demo + FIXTURES, rng_for("imports", index))
        out = Path(argv[3] if len(argv) > 3 else f"fuzz-imports-{SEED}-{index}.jsonl").resolve()
        out.write_text("".join(json.dumps(l) + "\n" for l in lines))
        print(f"wrote {out}: {'; '.join(notes)}\nthen: tapedeck cassette import {out} --into x.sqlite")
    else:
        out = Path(argv[3] if len(argv) > 3 else f"fuzz-columns-{SEED}-{index}.sqlite").resolve()
        with tempfile.TemporaryDirectory() as tmp:
            base = build_base(Path(tmp))
            rnd = round_cassette(base, index, out)
        print(f"wrote {out}\n{rnd.describe()}")
        print("requests that hit its rows (send each with stream false and true, header tapedeck-cassette):")
        for path, body in base.requests:
            print(f"  POST {path} {json.dumps(body)[:200]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
