"""A tapedeck server run as a child process, and its admin API (`/_tapedeck/`), with the standard library only."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import threading
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from ._binary import find_binary

_STARTUP_LINE = re.compile(r" on (http://127\.0\.0\.1:\d+) ")


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the parent dies, so a killed pytest leaves no server behind."""
    try:
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG (Linux, where the wheel runs)
    except (OSError, AttributeError):
        pass


class ServerError(RuntimeError):
    """The server could not start, or an admin call failed; the message is one line a person can act on."""


@dataclass
class Server:
    """`tapedeck serve` on loopback, its stdout and stderr in `log_path`.

    `args` are extra `serve` flags. The start-up line on stdout gives the address (`--port 0` picks a free port).
    """

    cassette_dir: Path
    log_path: Path
    #: Where requests that name no cassette go; by default `default.sqlite` in the cassette directory.
    default_cassette: Path | None = None
    mode: str = "replay"
    on_miss: str = "error"
    upstream: str | None = None
    port: int = 0
    args: list[str] = field(default_factory=list)
    env: dict[str, str] | None = None
    url: str = ""
    _process: subprocess.Popen | None = None
    _copier: threading.Thread | None = None

    def start(self, timeout: float = 30) -> str:
        binary = find_binary()
        if binary is None:
            raise ServerError("no tapedeck binary: install the tapedeck wheel, or set TAPEDECK_BIN=/path/to/tapedeck")
        argv = [
            binary, "serve", "--port", str(self.port), "--mode", self.mode, "--on-miss", self.on_miss,
            "--cassette", str(self.default_cassette or self.cassette_dir / "default.sqlite"),
            "--cassette-dir", str(self.cassette_dir),
            *self.args,
        ]
        if self.upstream:
            argv += ["--upstream", self.upstream]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._process = subprocess.Popen(
                argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=self.env,
                preexec_fn=_die_with_parent,
            )
        except OSError as error:
            raise ServerError(f"cannot run {binary}: {error.strerror}") from None
        started = threading.Event()
        self._copier = threading.Thread(target=self._copy_log, args=(self._process.stdout, started), daemon=True)
        self._copier.start()
        # Set by the copier on the start-up line, or when the output ends (the server exited).
        if not started.wait(timeout) or not self.url:
            if started.is_set():
                self._process.wait()
                raise ServerError(f"tapedeck did not start: {self._last_words()}")
            self.stop()
            raise ServerError(f"tapedeck did not start within {timeout:.0f} s: {self._last_words()}")
        return self.url

    def _copy_log(self, output, started: threading.Event) -> None:
        """Copies the server's output into the log file, line by line, noting the address from the start-up line."""
        with open(self.log_path, "wb") as log:
            for line in output:
                log.write(line)
                log.flush()
                if not started.is_set():
                    match = _STARTUP_LINE.search(line.decode("utf-8", "replace"))
                    if match:
                        self.url = match.group(1)
                        started.set()
        started.set()

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if self._copier is not None:
            self._copier.join(timeout=10)  # the log is complete once the output has ended

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    def log_text(self, start: int = 0) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(start)
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def _last_words(self) -> str:
        lines = [line for line in self.log_text().splitlines() if line.strip()]
        # The error line, not the log lines before it.
        for line in reversed(lines):
            if "error" in line.lower():
                return line.strip()
        return lines[-1].strip() if lines else f"exit status {self._process.poll() if self._process else '?'}"

    # -- admin API --------------------------------------------------------------------------------------------

    def admin(self, method: str, path: str, cassette: str | None = None, body: object | None = None, **query):
        """Calls `/_tapedeck/PATH` and returns its JSON; an error status raises ServerError with its message."""
        if cassette is not None:
            query["cassette"] = cassette
        target = f"{self.url}/_tapedeck/{path}"
        if query:
            target += "?" + urllib.parse.urlencode(query)
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(target, data=data, method=method, headers={"content-type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            try:
                message = json.loads(error.read())["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = f"HTTP {error.code}"
            raise ServerError(f"{method} /_tapedeck/{path}: {message}") from None
        except OSError as error:
            raise ServerError(f"{method} /_tapedeck/{path}: tapedeck is not answering ({error})") from None

    def unused(self, cassette: str) -> list[dict]:
        """Recordings of `cassette` this server has neither replayed nor recorded since it started."""
        rows: list[dict] = []
        after = None
        while True:
            query = {"unused": "true", "limit": 1000}
            if after is not None:
                query["after_id"] = after
            page = self.admin("GET", "interactions", cassette=cassette, **query)
            rows += page["data"]
            if not page["has_more"]:
                return rows
            after = page["last_id"]
