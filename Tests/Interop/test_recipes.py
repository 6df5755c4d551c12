"""Run the recipes in ``docs/recipes`` that can run here, and keep their Markdown in step with the code.

* The pytest recipe shows the sample project (``python/examples/assistant``) verbatim; the project itself runs
  through the plugin from the built wheel (``python/tests/test_plugin.py``, from ``.ci/run``).
* ``docs/recipes/curl.sh`` runs against a server on a copy of ``cassettes/demo.sqlite``.
* The demo recipe's server command starts and answers from the demo cassette.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import time
from pathlib import Path
from typing import Optional

import httpx
import pytest

from support import REPO_ROOT, REQUEST_TIMEOUT, start_tapedeck, tapedeck_binary

RECIPES = REPO_ROOT / "docs" / "recipes"
DEMO_SQLITE = REPO_ROOT / "cassettes" / "demo.sqlite"
RUN_TIMEOUT = 300  # seconds for one child pytest or curl.sh run

DEMO_COMMAND = "tapedeck serve --cassette cassettes/demo.sqlite --pace recorded --on-miss synthesize"


# -- helpers -----------------------------------------------------------------------


def child_env(**changes: Optional[str]) -> dict:
    """The environment for a recipe run: ours without tapedeck and Anthropic settings, plus ``changes``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TAPEDECK_", "ANTHROPIC_", "PYTEST_")) and k != "CI"
    }
    env["TAPEDECK_BIN"] = str(tapedeck_binary())
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    for key, value in changes.items():
        if value is not None:
            env[key] = value
    return env


def code_blocks(markdown: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", markdown, re.S | re.M)


# -- the pytest recipe -------------------------------------------------------------


def test_pytest_recipe_markdown_holds_the_sample_project_verbatim():
    # The sample project itself runs through the plugin from the built wheel (python/tests, from .ci/run).
    markdown = (RECIPES / "pytest.md").read_text()
    blocks = code_blocks(markdown, "python") + code_blocks(markdown, "ini")
    sample = REPO_ROOT / "python" / "examples" / "assistant"
    for name in ("tests/test_assistant.py", "assistant.py", "pytest.ini"):
        text = (sample / name).read_text()
        assert text in blocks, f"docs/recipes/pytest.md does not hold python/examples/assistant/{name} verbatim"


# -- curl.sh -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def curl_run(tmp_path_factory) -> tuple[int, dict[str, str], str]:
    """Run ``curl.sh`` once against the demo cassette: exit status, output by ``== section``, whole output."""
    demo = tmp_path_factory.mktemp("curl") / "demo.sqlite"
    shutil.copyfile(DEMO_SQLITE, demo)
    with start_tapedeck("--cassette", str(demo), "--on-miss", "synthesize") as server:
        p = subprocess.run(
            ["bash", str(RECIPES / "curl.sh"), server.base_url],
            env=child_env(),
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
    output = f"--- stdout ---\n{p.stdout}\n--- stderr ---\n{p.stderr}"
    sections: dict[str, str] = {}
    current = None
    for line in p.stdout.splitlines(keepends=True):
        if line.startswith("== "):
            current = line[3:].strip()
            sections[current] = ""
        elif current is not None:
            sections[current] += line
    return p.returncode, sections, output


def split_http(text: str) -> tuple[str, dict[str, str], str]:
    """``curl -i`` output: status line, headers (lower-case names), body."""
    head, _, body = text.replace("\r\n", "\n").partition("\n\n")
    status, *lines = head.strip().split("\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, body.strip()


def test_curl_recipe_answers_from_the_demo_cassette(curl_run):
    _, sections, output = curl_run
    for name in ("health", "message", "stream", "synthesized", "count_tokens", "models"):
        assert name in sections, f"curl.sh stopped before '== {name}'\n{output}"

    assert json.loads(sections["health"])["status"] == "ok"

    message = json.loads(sections["message"])
    assert message["content"] == [{"type": "text", "text": "Hello! How can I help you today?"}]

    events = re.findall(r"^event: (\w+)$", sections["stream"], re.M)
    assert events[0] == "message_start" and events[-1] == "message_stop", events
    assert '"thinking_delta"' in sections["stream"] and '"signature_delta"' in sections["stream"]
    assert "12,231" in sections["stream"]

    status, headers, body = split_http(sections["synthesized"])
    assert status.split()[1] == "200", status
    assert headers["tapedeck-source"] == "synthesized"
    assert json.loads(body)["type"] == "message"

    tokens = json.loads(sections["count_tokens"])["input_tokens"]
    assert tokens == message["usage"]["input_tokens"]

    page, model = [json.loads(line) for line in sections["models"].splitlines() if line.strip()]
    assert len(page["data"]) == 2 and "has_more" in page
    assert model["type"] == "model" and model["id"].startswith("claude-sonnet-4-5")


def test_curl_recipe_fault_and_journal(curl_run):
    returncode, sections, output = curl_run
    assert returncode == 0, f"curl.sh exited with {returncode}\n{output}"

    status, headers, body = split_http(sections["fault"])
    assert status.split()[1] == "529", status
    assert headers.get("retry-after-ms") == "10", headers
    assert headers.get("tapedeck-fault") == "overloaded;retry_after_ms=10", headers
    assert json.loads(body)["error"]["type"] == "overloaded_error"

    plan, _, answer = sections["server-wide fault"].partition("\n")
    assert json.loads(plan)["fault"] == "rate_limit;retry_after=1", plan
    status, headers, body = split_http(answer)
    assert status.split()[1] == "429", status
    assert headers.get("retry-after") == "1", headers
    assert json.loads(body)["error"]["type"] == "rate_limit_error"

    entries = json.loads(sections["journal"])["data"]
    sources = {e["source"] for e in entries if e["path"] == "/v1/messages"}
    assert {"recorded", "synthesized"} <= sources, entries
    assert any(e["fault"] == "overloaded;retry_after_ms=10" and e["status"] == 529 for e in entries), entries

    assert json.loads(sections["reset"])["status"] == "reset"


def test_curl_markdown_commands_are_the_scripts():
    script = (RECIPES / "curl.sh").read_text()
    blocks = [b for b in code_blocks((RECIPES / "curl.md").read_text(), "sh") if "curl " in b]
    assert len(blocks) >= 9
    for block in blocks:
        assert block in script, f"this block of curl.md is not in curl.sh:\n{block}"
    p = subprocess.run(["bash", "-n", str(RECIPES / "curl.sh")], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    if shutil.which("shellcheck"):
        p = subprocess.run(["shellcheck", str(RECIPES / "curl.sh")], capture_output=True, text=True)
        assert p.returncode == 0, p.stdout


# -- the demo server ---------------------------------------------------------------


def demo_args(cassette: Path) -> list[str]:
    markdown = (RECIPES / "demo.md").read_text()
    assert DEMO_COMMAND in markdown, "docs/recipes/demo.md no longer holds the command this test runs"
    args = shlex.split(DEMO_COMMAND)[2:]
    args[args.index("--cassette") + 1] = str(cassette)
    return args


def demo_curl_request() -> tuple[dict, dict]:
    """Headers and body of the demo recipe's curl request (``tapedeck-fault: tps=40``)."""
    block = next(b for b in code_blocks((RECIPES / "demo.md").read_text(), "sh") if "tps=" in b)
    words = shlex.split(block.replace("\\\n", " "))
    headers = dict(h.split(": ", 1) for h in (words[i + 1] for i, w in enumerate(words) if w == "-H"))
    return headers, json.loads(words[words.index("-d") + 1])


def stream(http: httpx.Client, url: str, headers: dict, body: dict) -> tuple[str, float, httpx.Headers]:
    started = time.monotonic()
    with http.stream("POST", url, headers=headers, json=body) as r:
        assert r.status_code == 200, r.read()
        text = "".join(r.iter_text())
        return text, time.monotonic() - started, r.headers


def test_demo_server_replays_the_demo_cassette_and_synthesizes_the_rest(tmp_path):
    demo = tmp_path / "demo.sqlite"
    shutil.copyfile(DEMO_SQLITE, demo)
    headers, body = demo_curl_request()
    headers.pop("tapedeck-fault")
    with start_tapedeck(*demo_args(demo), env={"CI": None}) as server, httpx.Client(timeout=REQUEST_TIMEOUT) as http:
        recorded = dict(body, max_tokens=1024, messages=[{"role": "user", "content": "Hello! Can you help me?"}])
        text, _, response_headers = stream(http, f"{server.base_url}/v1/messages", headers, recorded)
        assert response_headers["tapedeck-source"] == "recorded"
        assert "How can I" in text

        text, _, response_headers = stream(http, f"{server.base_url}/v1/messages", headers, body)
        assert response_headers["tapedeck-source"] == "synthesized"
        assert "event: message_stop" in text


def test_demo_recipe_tps_fault_paces_the_stream(tmp_path):
    demo = tmp_path / "demo.sqlite"
    shutil.copyfile(DEMO_SQLITE, demo)
    headers, body = demo_curl_request()
    tps = int(headers["tapedeck-fault"].split("=")[1])
    with start_tapedeck(*demo_args(demo), env={"CI": None}) as server, httpx.Client(timeout=REQUEST_TIMEOUT) as http:
        plain = dict(headers)
        plain.pop("tapedeck-fault")
        _, unpaced, _ = stream(http, f"{server.base_url}/v1/messages", plain, body)
        text, paced, _ = stream(http, f"{server.base_url}/v1/messages", headers, body)
    output_tokens = json.loads(re.findall(r"^data: (.*message_delta.*)$", text, re.M)[-1])["usage"]["output_tokens"]
    expected = output_tokens / tps
    # Loose bounds: at least half the nominal time, and clearly slower than without the fault.
    assert paced >= 0.5 * expected, f"{output_tokens} tokens at tps={tps} took {paced:.3f} s"
    assert paced > unpaced + 0.25 * expected, f"paced {paced:.3f} s vs unpaced {unpaced:.3f} s"


def test_the_readme_walkthrough_records_then_replays(tmp_path):
    """docs/walkthrough.sh is the README's record → replay walk-through as a script: a newcomer's first session."""
    from support import fake_upstream_binary

    readme = (REPO_ROOT / "README.md").read_text()
    assert "docs/walkthrough.sh" in readme
    for command in ("swift run tapedeck-fake-upstream --port 4011", "--mode record --upstream http://127.0.0.1:4011",
                    "--on-miss error"):
        assert command in readme, command
    port = free_port()
    # Its own free port for the fake upstream: PORT + 1, the script's default, may be taken.
    fake_port = free_port()
    while fake_port == port:
        fake_port = free_port()
    result = subprocess.run(
        ["bash", str(REPO_ROOT / "docs" / "walkthrough.sh")],
        env=child_env(TAPEDECK=str(tapedeck_binary()), FAKE_UPSTREAM=str(fake_upstream_binary()), PORT=str(port),
                      FAKE_PORT=str(fake_port), UPSTREAM=None),
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    recorded = json.loads(re.search(r"^recorded: (.*)$", result.stdout, re.M).group(1))
    replayed = json.loads(re.search(r"^replayed: (.*)$", result.stdout, re.M).group(1))
    assert recorded["type"] == "message" and recorded["content"][0]["text"]
    assert replayed == recorded
    assert "the replay is byte for byte the recording" in result.stdout


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
