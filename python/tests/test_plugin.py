"""The installed wheel, judged the way a user meets it: a fresh virtualenv with no Swift on PATH, the sample project
in python/examples/assistant run through the plugin in child pytest processes.

.ci/run builds the wheel (scripts/build-wheel.sh), installs it with the sample's requirements into a new venv and
runs this file with that venv's python. Record mode talks to the fake upstream (TAPEDECK_FAKE_UPSTREAM, the debug
build's tapedeck-fake-upstream); everything after that runs with the upstream stopped, so it is offline.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import tapedeck

HERE = Path(__file__).resolve().parent
EXAMPLE = HERE.parent / "examples" / "assistant"
PYPROJECT = HERE.parent / "pyproject.toml"
TIMEOUT = 300
# The sample's tests and their cassettes: each test's node id with other characters than [A-Za-z0-9_-] made `_`.
TESTS = {
    "test_summarize",
    "test_code_that_builds_its_own_client",
    "test_stream",
    "test_async",
    "test_capital[Paris]",
    "test_capital[Tokyo]",
    "test_langchain",
    "test_overloaded_is_an_error_the_sdk_raises",
}


def cassette_of(test: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", f"tests/test_assistant.py::{test}").strip("_") + ".sqlite"


def child_env(**changes: str) -> dict[str, str]:
    """The user's environment: no Swift, no tapedeck or Anthropic settings of ours, no CI unless asked."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TAPEDECK_", "ANTHROPIC_", "PYTEST_")) and k not in ("CI", "PATH")
    }
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"])
    env.update(changes)
    return env


def run_sample(project: Path, *args: str, env: dict[str, str]) -> tuple[int, str]:
    argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rA", "-W", "ignore::DeprecationWarning", *args]
    # A failing run keeps the server's log in a temporary directory: this test's, so it is removed with it.
    env = {**env, "TMPDIR": str(project.parent)}
    p = subprocess.run(argv, cwd=project, env=env, capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout + p.stderr


def passed(output: str) -> set[str]:
    return {m.group(1) for m in re.finditer(r"^PASSED tests/test_assistant\.py::(\S+)", output, re.M)}


class FakeUpstream:
    def __init__(self):
        binary = os.environ.get("TAPEDECK_FAKE_UPSTREAM")
        if not binary:
            pytest.fail("set TAPEDECK_FAKE_UPSTREAM to the tapedeck-fake-upstream binary", pytrace=False)
        self.process = subprocess.Popen([binary], stdout=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
        line = self.process.stdout.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+)", line)
        assert match, f"the fake upstream did not start: {line!r}"
        self.url = match.group(1)

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> Path:
    """The sample project, recorded once against the fake upstream (record mode once), the upstream then gone."""
    project = tmp_path_factory.mktemp("recorded") / "assistant"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("__pycache__", "cassettes", ".pytest_cache"))
    upstream = FakeUpstream()
    try:
        rc, output = run_sample(
            project, "--tapedeck-record-mode=once", f"--tapedeck-upstream={upstream.url}",
            env=child_env(ANTHROPIC_API_KEY="sk-ant-test-key"),
        )
    finally:
        upstream.stop()
    assert rc == 0, output
    assert passed(output) == TESTS, output
    cassettes = {p.name for p in (project / "tests" / "cassettes").glob("*.sqlite")}
    # One per test, nothing else: requests that name no cassette do not leave a default.sqlite among them.
    assert cassettes == {cassette_of(t) for t in TESTS}, cassettes
    return project


def copy_of(project: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "assistant"
    shutil.copytree(project, copy, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    return copy


def test_no_swift_and_the_command_is_the_packaged_binary():
    assert shutil.which("swift", path=child_env()["PATH"]) is None
    binary = tapedeck.find_binary()
    assert binary and Path(binary).is_relative_to(Path(tapedeck.__file__).parent), binary
    version = subprocess.run(
        [str(Path(sys.executable).parent / "tapedeck"), "--version"], capture_output=True, text=True,
        env=child_env(), timeout=60,
    )
    assert version.returncode == 0, version.stderr
    with open(PYPROJECT, "rb") as f:
        declared = tomllib.load(f)["project"]["version"]
    assert version.stdout.strip() == declared == tapedeck.__version__


def test_recorded_cassettes_replay_offline_in_ci(recorded, tmp_path):
    project = copy_of(recorded, tmp_path)
    before = {p.name: p.stat().st_mtime_ns for p in (project / "tests" / "cassettes").glob("*.sqlite")}
    # CI=true: record mode none whatever was asked, and no upstream exists any more.
    rc, output = run_sample(project, "--tapedeck-record-mode=once", env=child_env(CI="true"))
    assert rc == 0, output
    assert passed(output) == TESTS, output
    assert "tapedeck: record mode none" in output and "needs --tapedeck-allow-upstream-in-ci" in output, output
    after = {p.name: p.stat().st_mtime_ns for p in (project / "tests" / "cassettes").glob("*.sqlite")}
    assert after == before  # replay changes no cassette


def test_xdist_workers_each_run_a_server(recorded, tmp_path):
    project = copy_of(recorded, tmp_path)
    rc, output = run_sample(project, "-n", "2", "--tapedeck-strict", env=child_env(CI="true"))
    assert rc == 0, output
    assert passed(output) == TESTS, output
    assert "created: 2/2 workers" in output, output


def plant_unused(project: Path, cassette: str) -> None:
    """Adds to a cassette a recording no test asks for (a hand-written fixture, `tapedeck cassette import`)."""
    fixture = project / "planted.jsonl"
    fixture.write_text(
        json.dumps({"match": {"last_user": "a question no test asks"}, "response": {"message": {"content": [{"text": "x"}]}}})
        + "\n"
    )
    command = [str(Path(sys.executable).parent / "tapedeck"), "cassette", "import", str(fixture), "--into", cassette]
    p = subprocess.run(command, capture_output=True, text=True, env=child_env(), timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    fixture.unlink()


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one-process", "xdist"])
def test_strict_fails_on_a_recording_no_test_used(recorded, tmp_path, workers):
    project = copy_of(recorded, tmp_path)
    cassettes = project / "tests" / "cassettes"
    plant_unused(project, str(cassettes / cassette_of("test_stream")))
    shutil.copy(cassettes / cassette_of("test_summarize"), cassettes / "tests_test_assistant_py_test_removed.sqlite")
    rc, output = run_sample(project, "--tapedeck-strict", *workers, env=child_env(CI="true"))
    assert rc == 1, output
    assert passed(output) == TESTS, output  # every test passed: the run fails for the stale recordings alone
    assert re.search(rf"{re.escape(cassette_of('test_stream'))}: interaction \d+ .* was not used by any test", output), output
    assert "tests_test_assistant_py_test_removed.sqlite: no test uses this cassette" in output, output
    # Without --tapedeck-strict the same run passes.
    rc, output = run_sample(project, *workers, env=child_env(CI="true"))
    assert rc == 0, output


def test_a_miss_fails_the_test_with_its_explanation(recorded, tmp_path):
    project = copy_of(recorded, tmp_path)
    tests = project / "tests" / "test_assistant.py"
    tests.write_text(tests.read_text().replace("Count to three.", "Count to four."))
    rc, output = run_sample(project, "-k", "test_stream", env=child_env(CI="true"))
    assert rc == 1, output
    failure = output[output.index("FAILURES") :]
    assert "matched no recording in tests_test_assistant_py_test_stream.sqlite" in failure, output
    assert 'closest differs at messages[0].content: "Count to three." vs "Count to four."' in failure, output
    assert "tapedeck server log" in failure, output
    kept = re.search(r"tapedeck: the server log is kept in (\S+)", output)
    assert kept and (Path(kept.group(1)) / "server.log").is_file(), output


@pytest.mark.parametrize(
    "args, message",
    [
        (["--tapedeck-record-mode=sometimes"], "argument --tapedeck-record-mode: invalid choice: 'sometimes'"),
        (["--tapedeck-record-mode=once", "--tapedeck-cassette-dir=not-a-dir/cassettes"], "cannot write there"),
        (["--tapedeck-port=PORT"], "the port is in use"),
        (["--tapedeck-record-mode=all", "--tapedeck-upstream=ftp://example"], "give an http:// or https:// URL"),
    ],
    ids=["record-mode", "cassette-dir", "port", "upstream"],
)
def test_bad_options_are_one_line_usage_errors(recorded, tmp_path, args, message):
    project = copy_of(recorded, tmp_path)
    (project / "not-a-dir").write_text("a file where a directory should be")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        rc, output = run_sample(project, *[a.replace("PORT", str(port)) for a in args], env=child_env())
    assert rc == 4, output  # pytest's usage-error status
    assert message in output, output
    assert "Traceback" not in output, output


def test_record_mode_all_starts_each_cassette_afresh(recorded, tmp_path):
    project = copy_of(recorded, tmp_path)
    tests = project / "tests" / "test_assistant.py"
    tests.write_text(tests.read_text().replace("Count to three.", "Count to four."))
    upstream = FakeUpstream()
    try:
        rc, output = run_sample(
            project, "--tapedeck-record-mode=all", f"--tapedeck-upstream={upstream.url}", "--tapedeck-strict",
            env=child_env(ANTHROPIC_API_KEY="sk-ant-test-key"),
        )
    finally:
        upstream.stop()
    # The old "Count to three." recording went with the old cassette: nothing is stale.
    assert rc == 0, output
    assert passed(output) == TESTS, output
    rc, output = run_sample(project, "--tapedeck-strict", env=child_env(CI="true"))
    assert rc == 0, output


def test_an_empty_cassette_is_recorded_by_once(recorded, tmp_path):
    project = copy_of(recorded, tmp_path)
    empty = project / "tests" / "cassettes" / cassette_of("test_stream")
    empty.unlink()
    empty.write_bytes(b"")  # what a recording that failed half-way leaves
    upstream = FakeUpstream()
    try:
        rc, output = run_sample(
            project, "-k", "test_stream", "--tapedeck-record-mode=once", f"--tapedeck-upstream={upstream.url}",
            env=child_env(ANTHROPIC_API_KEY="sk-ant-test-key"),
        )
    finally:
        upstream.stop()
    assert rc == 0, output
    assert empty.stat().st_size > 0


def test_two_tests_whose_ids_make_one_cassette_name_are_told_so(recorded, tmp_path):
    project = copy_of(recorded, tmp_path)
    (project / "tests" / "test_odd.py").write_text(
        "import pytest\n\n\n"
        "@pytest.mark.parametrize('word', ['a b', 'a/b'])\n"
        "def test_odd(anthropic_client, word):\n"
        "    pass\n"
    )
    rc, output = run_sample(project, "tests/test_odd.py", env=child_env(CI="true"))
    assert rc == 1, output
    assert "test_odd[a b]: its cassette name tests_test_odd_py_test_odd_a_b is also that of tests/test_odd.py::test_odd[a/b];" in output
    assert "test_odd[a/b]: its cassette name tests_test_odd_py_test_odd_a_b is also that of tests/test_odd.py::test_odd[a b];" in output


def test_the_users_tapedeck_variables_do_not_reach_the_server(recorded, tmp_path):
    project = copy_of(recorded, tmp_path)
    env = child_env(CI="true", TAPEDECK_FAULT="overloaded", TAPEDECK_HOST="0.0.0.0", TAPEDECK_ON_MISS="synthesize")
    rc, output = run_sample(project, "-k", "test_summarize or test_stream", env=env)
    assert rc == 0, output
