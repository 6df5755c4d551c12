"""Claude Code (the CLI bundled in the ``claude-agent-sdk`` wheel) against Tapedeck, unchanged, in all three modes.

Every run is ``claude -p PROMPT --output-format json`` in a new empty directory with its own HOME and config dir
(``clients_support.run_claude``), default model and settings, tools that write or execute disallowed.

* synthesis on an empty cassette: exit 0, a JSON result with ``is_error`` false, and every request Claude Code
  sent answered 200 (it retries some refusals silently, so the exit status alone would hide them);
* record through ``tapedeck-fake-upstream``, then replay offline with ``--on-miss error``: a second run in a
  fresh directory (new session id, new paths) is answered from the cassette, every request a recorded hit. The
  ``claude-code`` matching profile applies by itself (the user agent is ``claude-cli/...``): no flag is given.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("claude_agent_sdk", reason="the Claude Code CLI comes with claude-agent-sdk (requirements-clients.txt)")

from clients_support import (  # noqa: E402
    DISALLOWED_TOOLS,
    QUIET_ENV,
    ClaudeRun,
    assert_all_answered,
    claude_cli,
    describe,
    journal,
    misses,
    run_claude,
)
from support import REPO_ROOT, start_fake_upstream, start_tapedeck  # noqa: E402

RECIPE = REPO_ROOT / "docs" / "recipes" / "claude-code.md"

PROMPT = "Say hello in one short sentence."


@pytest.fixture(scope="module", autouse=True)
def _cli_present() -> None:
    binary = claude_cli()
    assert binary.is_file(), f"no Claude Code binary at {binary} (claude-agent-sdk's manylinux wheel bundles it)"


def assert_succeeded(run: ClaudeRun) -> dict:
    assert run.result is not None, f"claude printed no JSON result\n{run.explain()}"
    assert run.returncode == 0 and run.result.get("is_error") is False, (
        f"claude failed: {run.result.get('result')!r} (api_error_status={run.result.get('api_error_status')})\n"
        f"{run.explain()}"
    )
    assert run.result.get("type") == "result"
    return run.result


def test_claude_code_synthesis_on_empty_cassette() -> None:
    with start_tapedeck("--on-miss", "synthesize") as server:
        run = run_claude(server.base_url, PROMPT)
        entries = journal(server.base_url)
        log = server.output()
    result = assert_succeeded(run)
    assert_all_answered(entries, "synthesized", [log[-3000:]])
    # The answer is about the prompt, not about the <system-reminder> scaffolding around it.
    assert "system-reminder" not in result["result"], result["result"]


def test_claude_code_synthesis_is_the_same_in_another_directory() -> None:
    """Synthesis answers the user's words: two runs in fresh directories (new paths, new session ids) get the same
    session, request by request."""
    with start_tapedeck("--on-miss", "synthesize") as server:
        first = run_claude(server.base_url, PROMPT)
        second = run_claude(server.base_url, PROMPT)
        entries = journal(server.base_url)
    assert_succeeded(first), assert_succeeded(second)
    assert first.result["result"] == second.result["result"]
    assert first.result["num_turns"] == second.result["num_turns"]
    assert len(entries) % 2 == 0, describe(entries)


def test_claude_code_stream_json_verbose_synthesis() -> None:
    """``--output-format stream-json --verbose`` adds ``thinking.display: "updates"`` (beta
    ``thinking-display-updates-2026-08-18``); Claude Code drops it silently after a 400, so check every answer."""
    with start_tapedeck("--on-miss", "synthesize") as server:
        run = run_claude(server.base_url, PROMPT, "--output-format", "stream-json", "--verbose")
        entries = journal(server.base_url)
        log = server.output()
    assert_succeeded(run)
    assert_all_answered(entries, "synthesized", [log[-3000:]])


def test_claude_code_record_then_replay_in_a_fresh_directory(tmp_path: Path) -> None:
    """The fake upstream answers any model (its ``text`` scenario: Claude Code's last message is its
    ``role: "system"`` environment entry, so a ``scenario:`` prompt would not reach the fake)."""
    prompt = PROMPT
    cassette = tmp_path / "claude-code.sqlite"
    with start_fake_upstream() as fake:
        record = ("--mode", "record", "--upstream", fake.base_url, "--cassette", str(cassette), "--allow-upstream-in-ci")
        with start_tapedeck(*record) as server:
            recorded_run = run_claude(server.base_url, prompt)
            recorded = journal(server.base_url)
            log = server.output()
    assert_succeeded(recorded_run)
    assert_all_answered(recorded, "proxied", [log[-3000:]])

    with start_tapedeck("--mode", "replay", "--cassette", str(cassette), "--on-miss", "error") as server:
        replay_run = run_claude(server.base_url, prompt)
        replayed = journal(server.base_url)
        missed = misses(server.base_url)
        log = server.output()
    diffs = [f"  miss at {(m.get('diff') or {}).get('path')}" for m in missed]
    assert_all_answered(replayed, "recorded", diffs + [log[-3000:]])
    assert len(replayed) == len(recorded), (
        f"recorded {len(recorded)} requests, the replay sent {len(replayed)}\n"
        f"recorded:\n{describe(recorded)}\nreplayed:\n{describe(replayed)}"
    )
    assert_succeeded(replay_run)
    assert replay_run.result["result"] == recorded_run.result["result"]
    assert replay_run.result["session_id"] != recorded_run.result["session_id"]


def test_the_recipe_holds_what_these_tests_run() -> None:
    recipe = RECIPE.read_text()
    assert f'--disallowedTools "{DISALLOWED_TOOLS}"' in recipe
    for name in QUIET_ENV:
        assert name in recipe, f"docs/recipes/claude-code.md does not set {name}"
    assert "--on-miss error" in recipe and "--mode record" in recipe and "ANTHROPIC_BASE_URL" in recipe
