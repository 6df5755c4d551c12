"""Run tapedeck for a pytest session and give each test its own cassette (docs/recipes/pytest.md).

Needs the `anthropic` package and a tapedeck binary: `tapedeck` on PATH, or the path in $TAPEDECK_BIN.
Cassettes live in `cassettes/` next to this file: `<test>.sqlite` per test, `default.sqlite` for the rest.
tapedeck reads its other settings from the environment (TAPEDECK_MODE, TAPEDECK_ON_MISS, CI, ...).
"""

import hashlib
import os
import re
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import anthropic
import pytest

TAPEDECK_BIN = os.environ.get("TAPEDECK_BIN", "tapedeck")
CASSETTE_DIR = Path(__file__).parent / "cassettes"


@pytest.fixture(scope="session")
def tapedeck_url():
    """Start `tapedeck serve --port 0`, learn its port from the start-up line, wait until it is healthy."""
    CASSETTE_DIR.mkdir(exist_ok=True)
    argv = [TAPEDECK_BIN, "serve", "--port", "0", "--cassette", str(CASSETTE_DIR / "default.sqlite")]
    try:
        server = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    except FileNotFoundError:
        pytest.exit(f"{TAPEDECK_BIN} not found: put tapedeck on PATH or set TAPEDECK_BIN", returncode=3)
    try:
        line = server.stdout.readline()  # "tapedeck replay on http://127.0.0.1:PORT (set ANTHROPIC_BASE_URL=...) ..."
        match = re.search(r" on (http://127\.0\.0\.1:\d+)", line)
        if not match:
            raise RuntimeError(f"tapedeck did not start (exit status {server.poll()}): {line!r}")
        url = match.group(1)
        threading.Thread(target=server.stdout.read, daemon=True).start()  # keep the pipe drained
        deadline = time.monotonic() + 10
        while True:
            try:
                urllib.request.urlopen(f"{url}/_tapedeck/health", timeout=1).close()  # raises unless 2xx
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=5)
        except subprocess.TimeoutExpired:
            server.kill()


def cassette_name(request) -> str:
    """The test's node id with every run of other characters than letters, digits, `_` and `-` made one `_`:
    `tests/test_chat.py::test_reply[Paris]` gives `tests_test_chat_py_test_reply_Paris`."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", request.node.nodeid).strip("_")
    if len(name) > 100:
        name = name[:91] + "-" + hashlib.sha256(name.encode()).hexdigest()[:8]
    return name


def api_key() -> str:
    # Replaying needs no key. Recording forwards the client's key, so use the real one when it is set.
    return os.environ.get("ANTHROPIC_API_KEY", "test")


@pytest.fixture
def claude(tapedeck_url, request):
    """A client whose calls use this test's own cassette, chosen by the `tapedeck-cassette` header."""
    client = anthropic.Anthropic(
        base_url=tapedeck_url,
        api_key=api_key(),
        default_headers={"tapedeck-cassette": cassette_name(request)},
    )
    yield client
    client.close()


@pytest.fixture
def claude_via_url(tapedeck_url, request):
    """The same, chosen by the base URL: for clients that can set a base URL but no header."""
    client = anthropic.Anthropic(base_url=f"{tapedeck_url}/cassettes/{cassette_name(request)}", api_key=api_key())
    yield client
    client.close()
