"""Helpers for the real-client tests (``test_clients_*.py``, ``test_claude_code.py``; issue 17).

* ``journal(server)`` reads ``GET /_tapedeck/journal``: what the server answered, request by request.
* ``assert_all_answered(entries, source)`` fails with every refused request's status and error text.
* ``claude_cli()`` finds the Claude Code CLI that the ``claude-agent-sdk`` wheel bundles (``$CLAUDE_CLI`` overrides).
* ``run_claude(base_url, prompt, ...)`` runs ``claude -p PROMPT --output-format json`` in a fresh empty working
  directory, with its own HOME, config dir and TMPDIR, and only the environment it needs.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import httpx

from support import REQUEST_TIMEOUT

CLAUDE_TIMEOUT = 180.0  # seconds for one `claude -p` run (about 2 s when all is well)

# Tools that write or execute are never offered to the model: a synthesized tool call cannot touch the machine.
DISALLOWED_TOOLS = "Bash Edit Write NotebookEdit"

# Claude Code's switches for traffic that is not the conversation itself (telemetry, error reports, updates).
QUIET_ENV = {
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "DISABLE_AUTOUPDATER": "1",
    "DISABLE_TELEMETRY": "1",
    "DISABLE_ERROR_REPORTING": "1",
}


def journal(base_url: str) -> list[dict]:
    """The server's journal for its own cassette, oldest first."""
    r = httpx.get(f"{base_url}/_tapedeck/journal", params={"limit": "1000"}, timeout=REQUEST_TIMEOUT)
    r.raise_for_status()
    return r.json()["data"]


def misses(base_url: str) -> list[dict]:
    r = httpx.get(f"{base_url}/_tapedeck/misses", timeout=REQUEST_TIMEOUT)
    r.raise_for_status()
    return r.json()["data"]


def describe(entries: Sequence[dict]) -> str:
    return "\n".join(
        f"  #{e.get('seq')} {e.get('method')} {e.get('path')} stream={e.get('stream')} -> {e.get('status')} "
        f"source={e.get('source')}"
        for e in entries
    )


def assert_all_answered(entries: Sequence[dict], source: str, errors: Sequence[str] = ()) -> None:
    """Every journal entry is a 200 from ``source``; ``errors`` are the error texts the client saw, for the report."""
    assert entries, "the server saw no request at all"
    bad = [e for e in entries if e.get("status") != 200 or e.get("source") != source]
    detail = "\n".join(errors)
    assert not bad, f"requests not answered 200 from {source!r}:\n{describe(bad)}\nall:\n{describe(entries)}\n{detail}"


def claude_cli() -> Path:
    """The Claude Code binary: ``$CLAUDE_CLI``, or the one in the installed ``claude-agent-sdk`` wheel."""
    override = os.environ.get("CLAUDE_CLI")
    if override:
        return Path(override)
    import claude_agent_sdk

    return Path(claude_agent_sdk.__file__).resolve().parent / "_bundled" / "claude"


@dataclass
class ClaudeRun:
    returncode: int
    stdout: str
    stderr: str
    workdir: Path
    result: Optional[dict]  # the `--output-format json` result object, when stdout held one

    def explain(self) -> str:
        return f"exit {self.returncode}\n--- stdout (end) ---\n{self.stdout[-1500:]}\n--- stderr (end) ---\n{self.stderr[-1500:]}"


def _last_json_object(text: str) -> Optional[dict]:
    """The run's result: the last ``"type": "result"`` object (``stream-json`` prints more lines after it, such
    as ``command_lifecycle``), else the last JSON object."""
    objects = []
    for line in text.strip().splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict):
                objects.append(value)
    results = [o for o in objects if o.get("type") == "result"]
    return (results or objects or [None])[-1]


def run_claude(base_url: str, prompt: str, *args: str, timeout: float = CLAUDE_TIMEOUT) -> ClaudeRun:
    """``claude -p PROMPT --output-format json ARGS`` against ``base_url``, in fresh temporary directories.

    The working directory is empty and new, and so are HOME, the config dir and TMPDIR, so nothing of this
    machine (settings, sessions, CLAUDE.md, credentials) reaches the run and every run has new paths and a new
    session id. Only PATH is inherited.
    """
    binary = claude_cli()
    with tempfile.TemporaryDirectory(prefix="tapedeck-cc-") as tmp:
        root = Path(tmp)
        workdir, home, tmpdir = root / "work", root / "home", root / "tmp"
        for d in (workdir, home, tmpdir):
            d.mkdir()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "CLAUDE_CONFIG_DIR": str(home / ".claude"),
            "TMPDIR": str(tmpdir),
            "LANG": "C.UTF-8",
            "ANTHROPIC_BASE_URL": base_url,
            "ANTHROPIC_API_KEY": "test-key",
            **QUIET_ENV,
        }
        argv = [str(binary), "-p", prompt, "--output-format", "json", "--disallowedTools", DISALLOWED_TOOLS, *args]
        try:
            done = subprocess.run(
                argv,
                cwd=workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=timeout,
            )
        except subprocess.TimeoutExpired as e:
            out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
            raise AssertionError(f"claude -p did not finish within {timeout:.0f} s\n{out[-4000:]}") from None
        return ClaudeRun(done.returncode, done.stdout, done.stderr, workdir, _last_json_object(done.stdout))
