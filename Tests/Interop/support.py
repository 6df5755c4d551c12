"""Support code for the Tapedeck interop suite: starting servers, clients, small helpers.

The suite drives the *built* ``tapedeck`` binary with the official ``anthropic``
Python SDK (both the 2.x and the 0.x generation, see ``run.sh``).

* ``TAPEDECK_BIN`` names the binary; by default ``<repo>/.build/debug/tapedeck``
  (a relative value is resolved against the repository root).
* ``start_tapedeck(*args)`` is a context manager that starts one server on a free
  port and yields a :class:`TapedeckServer` (``.base_url``, ``.cassette``, ``.output()``).
* ``tapedeck`` is the session-wide server (synthesize on miss, fresh cassette).
* ``start_fake_upstream()`` starts ``tapedeck-fake-upstream`` (``$FAKE_UPSTREAM_BIN``, by default next
  to the tapedeck binary): a stand-in for the real API with real-shaped answers, chosen per request by a
  ``fake-scenario: NAME`` header or a last user message starting ``scenario:NAME``.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Iterator, Optional, Sequence, TypeVar

import anthropic
import httpx

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
DEFAULT_BIN = REPO_ROOT / ".build" / "debug" / "tapedeck"

MODEL = "claude-sonnet-4-5"
SDK_VERSION = anthropic.__version__
SDK_MAJOR = int(SDK_VERSION.split(".")[0])

START_TIMEOUT = 30.0  # seconds until the address line and a healthy /_tapedeck/health
STOP_TIMEOUT = 5.0  # seconds between SIGTERM and SIGKILL
REQUEST_TIMEOUT = 30.0  # per HTTP request, so a hung response fails instead of blocking the run

_URL_RE = re.compile(r"http://127\.0\.0\.1:(\d+)")
# Fallback: Hummingbird's own "listening on 127.0.0.1:PORT" line, in case the URL line lacks the scheme.
_LISTEN_RE = re.compile(r"listening on 127\.0\.0\.1:(\d+)")

# Ids: prefix + "01" + 22 base58 characters (no 0, O, I, l).
B58 = "[1-9A-HJ-NP-Za-km-z]"
MSG_ID_RE = re.compile(rf"^msg_01{B58}{{22}}$")
TOOLU_ID_RE = re.compile(rf"^toolu_01{B58}{{22}}$")
REQ_ID_RE = re.compile(rf"^req_01{B58}{{22}}$")


# Events the SDK's stream helper synthesizes on top of the wire events (both generations).
SDK_DERIVED_EVENTS = frozenset({"text", "thinking", "signature", "input_json", "citation"})


class TapedeckStartError(RuntimeError):
    """The binary is missing, exited early, or never became healthy."""


def _path_from_env(name: str, default: Path) -> Path:
    """``$name`` as a path (relative values are resolved against the repository root), or ``default``."""
    value = os.environ.get(name)
    if not value:
        return default
    path = Path(value).expanduser()
    return path if path.is_absolute() else (REPO_ROOT / path)


def tapedeck_binary() -> Path:
    """Path of the binary under test: ``$TAPEDECK_BIN`` or the debug build."""
    return _path_from_env("TAPEDECK_BIN", DEFAULT_BIN)


def fake_upstream_binary() -> Path:
    """Path of the fake upstream: ``$FAKE_UPSTREAM_BIN`` or ``tapedeck-fake-upstream`` next to the tapedeck binary."""
    return _path_from_env("FAKE_UPSTREAM_BIN", tapedeck_binary().parent / "tapedeck-fake-upstream")


def _has_option(args: Sequence[str], name: str) -> bool:
    return any(a == name or a.startswith(name + "=") for a in args)


def _spawn(argv: list[str], **kwargs) -> subprocess.Popen:
    """Start ``argv`` with stdin closed and stdout and stderr merged into one text pipe."""
    return subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
        errors="replace",
        **kwargs,
    )


_Child = TypeVar("_Child", bound="_ChildProcess")


class _ChildProcess:
    """A child process listening on ``127.0.0.1:port``, whose merged output is drained in the background.

    Subclasses set ``NAME`` (as in "NAME exited with status ...") and ``OUTPUT_LABEL`` (as in
    "--- OUTPUT_LABEL output ---"), and implement ``wait_until_ready``, which sets ``port``.
    """

    NAME = "the child process"
    OUTPUT_LABEL = "child process"

    def __init__(self, process: subprocess.Popen, argv: list[str]):
        self.process = process
        self.argv = argv
        self.port: Optional[int] = None
        self._lines: list[str] = []
        self._lock = threading.Lock()
        # Signalled on every drained line, for ``wait_for_output``.
        self._printed = threading.Condition(self._lock)
        self._queue: "queue.Queue[Optional[str]]" = queue.Queue()
        # Drain the merged stdout/stderr for the whole life of the process, otherwise the
        # pipe fills up with request logs and the process blocks.
        thread_name = self.OUTPUT_LABEL.replace(" ", "-") + "-output"
        self._reader = threading.Thread(target=self._drain, name=thread_name, daemon=True)
        self._reader.start()

    @property
    def base_url(self) -> str:
        assert self.port is not None, "server not started"
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        """Everything the process has printed so far (stdout and stderr merged)."""
        with self._lock:
            return "".join(self._lines)

    def wait_for_output(self, *needles: str, timeout: float = 10.0) -> str:
        """The output once it contains one of ``needles`` (or after ``timeout``). The output is drained on another
        thread, so a line the process printed before answering may be read here only after the answer arrived."""
        deadline = time.monotonic() + timeout
        with self._printed:
            while not any(needle in "".join(self._lines) for needle in needles):
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._reader.is_alive():
                    break
                self._printed.wait(remaining)
            return "".join(self._lines)

    # -- lifecycle ---------------------------------------------------------------

    def _drain(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._printed:
                self._lines.append(line)
                self._printed.notify_all()
            self._queue.put(line)
        self._queue.put(None)  # EOF

    def _fail(self, why: str) -> TapedeckStartError:
        out = self.output().strip() or "(no output)"
        return TapedeckStartError(f"{why}\ncommand: {' '.join(self.argv)}\n--- {self.OUTPUT_LABEL} output ---\n{out}")

    def _exited(self, stage: str) -> TapedeckStartError:
        return self._fail(f"{self.NAME} exited with status {self.process.returncode} before it was {stage}")

    def _next_line(self, remaining: float) -> Optional[str]:
        """The next line of output, or ``None`` if none came within ``remaining`` seconds.

        Raises (after reaping the process) once the output has ended: the process exited before it was ready.
        """
        try:
            line = self._queue.get(timeout=remaining)
        except queue.Empty:
            return None
        if line is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=STOP_TIMEOUT)
            raise self._exited("ready")
        return line

    def wait_until_ready(self, timeout: float = START_TIMEOUT) -> None:
        raise NotImplementedError

    @contextlib.contextmanager
    def _running(self: _Child) -> Iterator[_Child]:
        """Wait until ready, yield, and stop the process in any case."""
        try:
            self.wait_until_ready()
            yield self
        finally:
            self.stop()

    def stop(self) -> int:
        """SIGTERM, then SIGKILL after ``STOP_TIMEOUT`` seconds. Returns the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT)
        self._reader.join(timeout=STOP_TIMEOUT)
        if self.process.stdout is not None:
            self.process.stdout.close()
        return self.process.returncode


class TapedeckServer(_ChildProcess):
    """One running ``tapedeck serve`` process."""

    NAME = "tapedeck"
    OUTPUT_LABEL = "tapedeck"

    def __init__(self, process: subprocess.Popen, argv: list[str], cassette: Optional[Path]):
        super().__init__(process, argv)
        self.cassette = cassette

    def client(self, **kwargs) -> anthropic.Anthropic:
        return make_client(self.base_url, **kwargs)

    def wait_until_ready(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        fallback_port: Optional[int] = None
        while self.port is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                if fallback_port is not None:
                    self.port = fallback_port
                    break
                raise self._fail(
                    f"tapedeck printed no line containing http://127.0.0.1:PORT within {timeout:.0f} s"
                )
            line = self._next_line(remaining)
            if line is None:
                continue
            for m in _URL_RE.finditer(line):
                if int(m.group(1)) != 0:  # a line printed before binding may still say :0
                    self.port = int(m.group(1))
                    break
            if self.port is None and fallback_port is None:
                m = _LISTEN_RE.search(line)
                if m and int(m.group(1)) != 0:
                    fallback_port = int(m.group(1))

        last_error = "no attempt"
        with httpx.Client(timeout=2.0) as http:
            while True:
                if self.process.poll() is not None:
                    raise self._exited("healthy")
                try:
                    r = http.get(f"{self.base_url}/_tapedeck/health")
                    if r.status_code == 200:
                        return
                    last_error = f"HTTP {r.status_code}: {r.text[:200]}"
                except httpx.HTTPError as e:
                    last_error = repr(e)
                if time.monotonic() > deadline:
                    raise self._fail(
                        f"GET {self.base_url}/_tapedeck/health did not answer 200 within {timeout:.0f} s "
                        f"(last: {last_error})"
                    )
                time.sleep(0.05)  # polling interval, not synchronisation


@contextlib.contextmanager
def start_tapedeck(*args: str, env: Optional[dict] = None, cwd: Optional[Path] = None) -> Iterator[TapedeckServer]:
    """Start ``tapedeck serve`` with extra ``args`` and yield the running server.

    Defaults are added for options that ``args`` does not set: ``--port 0``,
    ``--host 127.0.0.1``, ``--cassette <fresh tmpdir>/x.sqlite`` and
    ``--on-miss synthesize`` (always explicit: CI runs with ``CI=true``, which
    would otherwise make misses an error). ``env`` entries are added to (or, with a
    value of ``None``, removed from) the inherited environment. The process runs in
    a temporary directory unless ``cwd`` is given.
    """
    binary = tapedeck_binary()
    if not binary.exists():
        raise TapedeckStartError(
            f"tapedeck binary not found at {binary}. Build it first (`swift build` in {REPO_ROOT}) "
            f"or set TAPEDECK_BIN to the binary's path."
        )
    if not os.access(binary, os.X_OK):
        raise TapedeckStartError(f"tapedeck binary at {binary} is not executable")

    with tempfile.TemporaryDirectory(prefix="tapedeck-interop-") as tmp:
        tmpdir = Path(tmp)
        extra = list(args)
        argv = [str(binary), "serve"]
        if not _has_option(extra, "--port"):
            argv += ["--port", "0"]
        if not _has_option(extra, "--host"):
            argv += ["--host", "127.0.0.1"]
        cassette: Optional[Path] = None
        if not _has_option(extra, "--cassette"):
            cassette = tmpdir / "x.sqlite"
            argv += ["--cassette", str(cassette)]
        if not _has_option(extra, "--on-miss"):
            argv += ["--on-miss", "synthesize"]
        argv += extra

        proc_env = dict(os.environ)
        for key, value in (env or {}).items():
            if value is None:
                proc_env.pop(key, None)
            else:
                proc_env[key] = value

        process = _spawn(argv, cwd=str(cwd or tmpdir), env=proc_env)
        with TapedeckServer(process, argv, cassette)._running() as server:
            yield server


def import_fixtures(cassette: Path, *fixtures: dict) -> Path:
    """Writes `fixtures` (hand-written interactions, docs: README "Cassette tools") into `cassette` with
    `tapedeck cassette import`, and returns the cassette."""
    import json

    jsonl = cassette.with_name(cassette.stem + ".fixtures.jsonl")
    jsonl.write_text("".join(json.dumps(f) + "\n" for f in fixtures))
    try:
        p = subprocess.run(
            [str(tapedeck_binary()), "cassette", "import", str(jsonl), "--into", str(cassette)],
            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
        )
    finally:
        jsonl.unlink()
    assert p.returncode == 0, p.stdout + p.stderr
    return cassette


def make_client(base_url: str, **kwargs) -> anthropic.Anthropic:
    options = dict(api_key="test-key", max_retries=0, timeout=REQUEST_TIMEOUT)
    options.update(kwargs)
    return anthropic.Anthropic(base_url=base_url, **options)


def user(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def dump(obj) -> object:
    """A plain JSON-able view of an SDK model (or list of models) for comparisons."""
    if isinstance(obj, list):
        return [dump(o) for o in obj]
    return obj.model_dump(mode="json", exclude_none=True) if hasattr(obj, "model_dump") else obj


def text_of(message) -> str:
    return "".join(b.text for b in message.content if b.type == "text")


# -- the fake upstream ------------------------------------------------------------

_FAKE_LINE_RE = re.compile(r"fake upstream on http://127\.0\.0\.1:(\d+)")


class FakeUpstreamServer(_ChildProcess):
    """One running ``tapedeck-fake-upstream`` process (``.base_url``, ``.port``, ``.output()``)."""

    NAME = "the fake upstream"
    OUTPUT_LABEL = "fake upstream"

    def wait_until_ready(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while self.port is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._fail(f"the fake upstream printed no 'fake upstream on http://127.0.0.1:PORT' within {timeout:.0f} s")
            line = self._next_line(remaining)
            if line is None:
                continue
            m = _FAKE_LINE_RE.search(line)
            if m and int(m.group(1)) != 0:
                self.port = int(m.group(1))


@contextlib.contextmanager
def start_fake_upstream() -> Iterator[FakeUpstreamServer]:
    """Start ``tapedeck-fake-upstream --port 0`` and yield it once it has printed its address.

    Scenarios (``fake-scenario`` header, or a last user message starting ``scenario:NAME``): ``text``
    (default), ``thinking``, ``tool``, ``stop``, ``midstream_error``, ``rate_limit``, ``overloaded``,
    ``non_json_error``, ``counter``, ``paced``, ``disconnect`` (see the fake's source for details).
    """
    binary = fake_upstream_binary()
    if not binary.exists():
        raise TapedeckStartError(
            f"fake upstream binary not found at {binary}. Build it first (`swift build` in {REPO_ROOT}) "
            f"or set FAKE_UPSTREAM_BIN to its path."
        )
    argv = [str(binary), "--port", "0"]
    with FakeUpstreamServer(_spawn(argv), argv)._running() as server:
        yield server
