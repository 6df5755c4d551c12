"""The ``tapedeck cassette`` command line: list, show, stats, rm, export, import, diff, verify.

These tests run the built binary with ``subprocess`` (the SDK is used only to check that hand-written
fixtures are served as real answers). Every cassette is a copy in ``tmp_path``: the repository's
``cassettes/demo.sqlite`` and ``cassettes/demo.jsonl`` are only ever read (and checked untouched at the end).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import sqlite3
import subprocess
from contextlib import closing  # sqlite3.Connection's own `with` commits but does not close
from pathlib import Path
from typing import Optional

import httpx
import pytest

from support import MSG_ID_RE, REPO_ROOT, REQUEST_TIMEOUT, start_tapedeck, tapedeck_binary, text_of, user

DEMO_SQLITE = REPO_ROOT / "cassettes" / "demo.sqlite"
DEMO_JSONL = REPO_ROOT / "cassettes" / "demo.jsonl"
GITATTRIBUTES = REPO_ROOT / ".gitattributes"

SUBCOMMANDS = ("list", "show", "stats", "rm", "export", "import", "diff", "verify")
DEMO_PROMPTS = (
    "Hello! Can you help me?",
    "What is 27 * 453?",
    "What is the weather in San Francisco?",
    "What is 6 times 7?",
    "Tell me a long story.",
    "Are you there?",
)
HEADERS = {"x-api-key": "test-key", "anthropic-version": "2023-06-01", "content-type": "application/json"}
CLI_TIMEOUT = 60  # seconds for one command-line run


# -- helpers -----------------------------------------------------------------------


def run(*args: object, cwd: Optional[Path] = None, env: Optional[dict] = None) -> subprocess.CompletedProcess:
    """``tapedeck ARGS…`` with stdout and stderr captured as bytes."""
    argv = [str(tapedeck_binary())] + [str(a) for a in args]
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, timeout=CLI_TIMEOUT, stdin=subprocess.DEVNULL)


def out(p: subprocess.CompletedProcess) -> str:
    return p.stdout.decode("utf-8")


def err(p: subprocess.CompletedProcess) -> str:
    return p.stderr.decode("utf-8")


def ok(*args: object, cwd: Optional[Path] = None) -> str:
    """Runs a command that must succeed quietly (exit 0, nothing on stderr); returns stdout."""
    p = run(*args, cwd=cwd)
    assert p.returncode == 0, f"tapedeck {' '.join(map(str, args))} exited {p.returncode}: {err(p)}"
    assert err(p) == "", f"unexpected stderr from tapedeck {' '.join(map(str, args))}: {err(p)}"
    return out(p)


def differs(*args: object) -> str:
    """``tapedeck cassette diff A B`` for cassettes that differ: exit 1 (as diff(1)), report on stdout."""
    p = run("cassette", "diff", *args)
    assert p.returncode == 1, f"tapedeck cassette diff exited {p.returncode}: {err(p)}"
    assert err(p) == "", err(p)
    return out(p)


def assert_one_line_error(p: subprocess.CompletedProcess, *fragments: str) -> str:
    """Exit 1, nothing on stdout, exactly one stderr line starting ``tapedeck: `` that contains every fragment."""
    stderr = err(p)
    assert p.returncode == 1, f"exit {p.returncode}, stderr: {stderr!r}"
    assert out(p) == "", f"stdout should be empty, got {out(p)!r}"
    lines = stderr.splitlines()
    assert len(lines) == 1, f"expected one error line, got {lines!r}"
    assert lines[0].startswith("tapedeck: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"
    return lines[0]


def table_rows(listing: str) -> list[str]:
    lines = listing.splitlines()
    assert lines and lines[0].split()[:3] == ["ID", "METHOD", "PATH"], listing
    return lines[1:]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def logical_dump(path: Path) -> list[str]:
    """The database's schema and rows as SQL text (independent of page layout and header counters)."""
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        return list(db.iterdump())


def siblings(path: Path) -> set[str]:
    return {p.name for p in path.parent.iterdir()}


def write_jsonl(path: Path, lines: list) -> Path:
    """Writes objects (compact JSON, UTF-8) or ready-made strings, one a line."""
    text = "".join((l if isinstance(l, str) else json.dumps(l, ensure_ascii=False, separators=(",", ":"))) + "\n" for l in lines)
    path.write_text(text, encoding="utf-8")
    return path


def fixture(match: dict, text: str) -> dict:
    """A hand-written loose fixture answering ``text``."""
    return {"match": match, "response": {"message": {"content": [{"type": "text", "text": text}]}}}


def sse_events(body: str) -> list[tuple[str, dict]]:
    """(event name, parsed data) for each event of a text/event-stream body."""
    events = []
    for block in body.replace("\r\n", "\n").split("\n\n"):
        name, data = None, []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[len("event:"):].strip()
            elif line.startswith("data:"):
                data.append(line[len("data:"):].lstrip(" "))
        if name is not None or data:
            events.append((name, json.loads("\n".join(data))))
    return events


def body(text: str, model: str = "claude-sonnet-4-5", **extra) -> dict:
    b = {"model": model, "max_tokens": 100, "messages": user(text)}
    b.update(extra)
    return b


# -- fixtures ----------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def binary_and_repo_files_untouched():
    """Fails clearly without a binary; afterwards checks the committed demo files were not modified."""
    if not tapedeck_binary().exists():
        pytest.fail(f"tapedeck binary not found at {tapedeck_binary()} (build it or set TAPEDECK_BIN)", pytrace=False)
    before = {p: sha256(p) for p in (DEMO_SQLITE, DEMO_JSONL)}
    yield
    after = {p: sha256(p) for p in (DEMO_SQLITE, DEMO_JSONL)}
    assert after == before, "a test modified the repository's demo cassette files"


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    """A private copy of the demo cassette."""
    copy = tmp_path / "demo.sqlite"
    shutil.copyfile(DEMO_SQLITE, copy)
    return copy


def export_lines(path: Path) -> list[str]:
    return ok("cassette", "export", path).splitlines()


def import_into(jsonl: Path, cassette: Path, *options: str) -> str:
    return ok("cassette", "import", jsonl, "--into", cassette, *options)


# -- 1. export ---------------------------------------------------------------------


def test_export_of_demo_equals_committed_jsonl_and_is_stable(demo: Path, tmp_path: Path):
    first = run("cassette", "export", demo)
    assert first.returncode == 0 and first.stderr == b"", err(first)
    assert first.stdout == DEMO_JSONL.read_bytes(), "export of demo.sqlite differs from the committed demo.jsonl"

    second = run("cassette", "export", demo)
    assert second.stdout == first.stdout, "two exports of the same cassette differ"

    target = tmp_path / "out.jsonl"
    p = run("cassette", "export", demo, "--out", target)
    assert p.returncode == 0 and p.stdout == b"" and p.stderr == b"", (p.stdout, err(p))
    assert target.read_bytes() == first.stdout

    lines = first.stdout.decode("utf-8").splitlines()
    assert len(lines) == 6
    records = [json.loads(line) for line in lines]
    assert [r["id"] for r in records] == [1, 2, 3, 4, 5, 6]
    assert all(list(r)[:2] == ["id", "recorded_at"] for r in records), "keys are not in the fixed order"
    assert [r["response"]["status"] for r in records] == [200] * 5 + [529]
    assert all("stream" in r["response"] for r in records[:5]) and "stream" not in records[5]["response"]


# -- 2. round trip -----------------------------------------------------------------


def test_export_import_export_round_trip(demo: Path, tmp_path: Path):
    exported = tmp_path / "demo.jsonl"
    ok("cassette", "export", demo, "--out", exported)
    imported = tmp_path / "imported.sqlite"
    assert not imported.exists()

    message = import_into(exported, imported)
    assert message.strip() == f"imported 6 interactions into {imported}"
    assert imported.exists()

    assert ok("cassette", "export", imported).encode("utf-8") == exported.read_bytes()
    assert ok("cassette", "verify", imported) == f"{imported}: ok (schema 3, 6 interactions)\n"
    assert ok("cassette", "diff", demo, imported) == "no differences\n"
    assert ok("cassette", "diff", imported, demo) == "no differences\n"


def test_verify_demo(demo: Path):
    assert ok("cassette", "verify", demo) == f"{demo}: ok (schema 3, 6 interactions)\n"


# -- 3. list / show / stats --------------------------------------------------------


def test_list_shows_one_row_per_interaction(demo: Path):
    listing = ok("cassette", "list", demo)
    header = listing.splitlines()[0]
    for column in ("ID", "METHOD", "PATH", "MODEL", "STATUS", "FORM", "OCC", "SIZE", "RECORDED", "LAST USER MESSAGE"):
        assert column in header
    rows = table_rows(listing)
    assert len(rows) == 6, listing
    for row, prompt in zip(rows, DEMO_PROMPTS):
        assert prompt in row, f"{prompt!r} not in {row!r}"
    assert [row.split()[0] for row in rows] == ["1", "2", "3", "4", "5", "6"]
    assert rows[0].split()[1:6] == ["POST", "/v1/messages", "claude-sonnet-4-5", "200", "stream"]
    assert rows[5].split()[1:6] == ["POST", "/v1/messages", "claude-sonnet-4-5", "529", "json"]


def test_show_stream_interaction(demo: Path):
    shown = ok("cassette", "show", demo, 1)
    assert shown.startswith("interaction 1: POST /v1/messages\n")
    assert '"content": "Hello! Can you help me?"' in shown  # the request, pretty-printed
    assert "message_start" in shown and "assembled message" in shown
    event_lines = [l for l in shown.splitlines() if re.match(r"^\+\s*\d+ ms  \S+  ", l)]
    names = [l.split()[3] for l in event_lines]
    assert names[0] == "message_start" and names[-1] == "message_stop", event_lines
    assert "content_block_delta" in names
    # The assembled message joins the deltas.
    assert '"text": "Hello! How can I help you today?"' in shown


def test_show_json_interaction_and_missing_id(demo: Path):
    shown = ok("cassette", "show", demo, 6)
    assert "── response 529" in shown
    assert '"type": "overloaded_error"' in shown
    assert "assembled message" not in shown

    assert_one_line_error(run("cassette", "show", demo, 99), "no interaction 99")


def test_stats_counts(demo: Path):
    stats = ok("cassette", "stats", demo)
    lines = [l.strip() for l in stats.splitlines()]
    assert "interactions: 6 (5 streamed, 0 loose fixtures)" in lines
    assert "200: 5" in lines and "529: 1" in lines
    assert "claude-sonnet-4-5: 6" in lines
    assert "POST /v1/messages: 6" in lines


# -- 4. rm ---------------------------------------------------------------------------


def test_rm_removes_interactions(demo: Path):
    assert ok("cassette", "rm", demo, 2) == "removed 1 of 1\n"
    rows = table_rows(ok("cassette", "list", demo))
    assert len(rows) == 5
    assert not any("27 * 453" in row for row in rows)
    assert ok("cassette", "verify", demo) == f"{demo}: ok (schema 3, 5 interactions)\n"
    assert not {n for n in siblings(demo) if n.endswith(("-wal", "-shm"))}, "rm left a write-ahead log behind"

    again = run("cassette", "rm", demo, 2)
    assert again.returncode == 1
    assert out(again) == "removed 0 of 1\n"

    mixed = run("cassette", "rm", demo, 3, 999)
    assert mixed.returncode == 1
    assert out(mixed) == "removed 1 of 2\n"
    assert len(table_rows(ok("cassette", "list", demo))) == 4


def test_rm_of_missing_id_changes_nothing(demo: Path):
    before = logical_dump(demo)
    p = run("cassette", "rm", demo, 42)
    assert p.returncode == 1
    assert out(p) == "removed 0 of 1\n"
    assert logical_dump(demo) == before


# -- 5. diff -------------------------------------------------------------------------


def test_diff_reports_changed_removed_and_added(demo: Path, tmp_path: Path):
    lines = export_lines(demo)

    # ~ changed: one text delta of interaction 1 edited.
    first = json.loads(lines[0])
    deltas = [e for e in first["response"]["stream"] if e.get("data", {}).get("delta", {}).get("type") == "text_delta"]
    assert deltas, "interaction 1 has no text deltas"
    old_text = deltas[0]["data"]["delta"]["text"]
    deltas[0]["data"]["delta"]["text"] = "Howdy"
    edited = write_jsonl(tmp_path / "edited.jsonl", [first] + lines[1:])
    edited_cassette = tmp_path / "edited.sqlite"
    import_into(edited, edited_cassette)
    assert ok("cassette", "verify", edited_cassette).endswith("ok (schema 3, 6 interactions)\n")
    report = differs(demo, edited_cassette).splitlines()
    assert len(report) == 1, report
    assert report[0].startswith("~ changed"), report
    assert "response.stream" in report[0] and "Hello! Can you help me?" in report[0], report
    assert json.dumps(old_text) in report[0] and '"Howdy"' in report[0], report

    # - removed: line 2 left out.
    shorter = write_jsonl(tmp_path / "shorter.jsonl", [lines[0]] + lines[2:])
    shorter_cassette = tmp_path / "shorter.sqlite"
    import_into(shorter, shorter_cassette)
    report = differs(demo, shorter_cassette).splitlines()
    assert len(report) == 1 and report[0].startswith("- removed") and "What is 27 * 453?" in report[0], report
    # …and the other way round it was added.
    report = differs(shorter_cassette, demo).splitlines()
    assert len(report) == 1 and report[0].startswith("+ added") and "What is 27 * 453?" in report[0], report

    # + added: a hand-written fixture appended.
    longer = write_jsonl(tmp_path / "longer.jsonl", lines + [fixture({"last_user": "new question"}, "new answer")])
    longer_cassette = tmp_path / "longer.sqlite"
    import_into(longer, longer_cassette)
    report = differs(demo, longer_cassette).splitlines()
    assert len(report) == 1 and report[0].startswith("+ added"), report

    # A missing side is an error, not an empty diff.
    assert_one_line_error(run("cassette", "diff", demo, tmp_path / "absent.sqlite"), "no such cassette")
    assert not (tmp_path / "absent.sqlite").exists()


# -- 6. hand-written fixtures served -------------------------------------------------

WEATHER_FIXTURES = [
    fixture({"last_user": {"regex": "weather"}}, "Sunny, 21°C"),
    {
        "request": {"body": {"model": "claude-sonnet-4-5", "max_tokens": 100, "messages": user("exact weather question")}},
        "response": {"message": {"content": [{"type": "text", "text": "exact wins"}]}},
    },
    {"match": {"last_user": "please fail"}, "response": {"status": 429, "error": {"type": "rate_limit_error", "message": "slow down"}, "retry_after": 3}},
    # Also matches "what's the weather?", and is more specific: still the first loose fixture in file order wins.
    fixture({"last_user": {"regex": r"^what's the weather\?$"}}, "second in file order"),
    # Model and tools conditions, most specific first; the last one catches the rest.
    fixture({"model": "claude-haiku-4-5", "last_user": {"regex": "^route me"}}, "haiku route"),
    fixture({"tools": True, "last_user": {"regex": "^route me"}}, "tools route"),
    fixture({"tools": False, "model": "claude-opus-4-1", "last_user": {"regex": "^route me"}}, "opus without tools"),
    fixture({"last_user": {"regex": "^route me"}}, "default route"),
]
TOOL = {"name": "get_time", "description": "The time.", "input_schema": {"type": "object", "properties": {}}}


@pytest.fixture
def fixture_server(tmp_path: Path):
    source = write_jsonl(tmp_path / "fixtures.jsonl", WEATHER_FIXTURES)
    cassette = tmp_path / "fixtures.sqlite"
    assert import_into(source, cassette).strip() == f"imported {len(WEATHER_FIXTURES)} interactions into {cassette}"
    assert ok("cassette", "verify", cassette).endswith(f"ok (schema 3, {len(WEATHER_FIXTURES)} interactions)\n")
    stats = ok("cassette", "stats", cassette)
    assert f"interactions: {len(WEATHER_FIXTURES)} (0 streamed, {len(WEATHER_FIXTURES) - 1} loose fixtures)" in stats, stats
    with start_tapedeck("--cassette", str(cassette), "--on-miss", "error", "--port", "0") as server:
        with httpx.Client(base_url=server.base_url, headers=HEADERS, timeout=REQUEST_TIMEOUT) as http:
            yield server, http


def assert_full_message(r: httpx.Response, text: str) -> dict:
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    m = r.json()
    assert m["type"] == "message" and m["role"] == "assistant"
    assert MSG_ID_RE.match(m["id"]), m["id"]
    assert m["content"] == [{"type": "text", "text": text}]
    assert m["stop_reason"] == "end_turn"
    assert m["model"].startswith("claude-")
    assert m["usage"]["input_tokens"] > 0 and m["usage"]["output_tokens"] > 0
    return m


def test_loose_fixture_answers_a_full_message(fixture_server):
    _, http = fixture_server
    assert_full_message(http.post("/v1/messages", json=body("what's the weather?")), "Sunny, 21°C")
    # The regex searches: any last user message containing "weather".
    assert_full_message(http.post("/v1/messages", json=body("Is the weather nice in Oslo today?")), "Sunny, 21°C")


def test_exact_fixture_beats_loose_matcher(fixture_server):
    _, http = fixture_server
    assert_full_message(http.post("/v1/messages", json=body("exact weather question")), "exact wins")
    # A different body misses the exact fingerprint and falls to the loose matcher.
    assert_full_message(http.post("/v1/messages", json=body("exact weather question", max_tokens=101)), "Sunny, 21°C")


def test_error_fixture(fixture_server):
    _, http = fixture_server
    r = http.post("/v1/messages", json=body("please fail"))
    assert r.status_code == 429, r.text
    assert r.headers["retry-after"] == "3"
    assert r.headers["content-type"].startswith("application/json")
    e = r.json()
    assert e["type"] == "error"
    assert e["error"] == {"type": "rate_limit_error", "message": "slow down"}
    # last_user as a plain string is an exact comparison.
    assert http.post("/v1/messages", json=body("please fail!")).status_code == 404


def test_miss_with_on_miss_error(fixture_server):
    _, http = fixture_server
    r = http.post("/v1/messages", json=body("nothing here matches"))
    assert r.status_code == 404, r.text
    assert r.json()["error"]["type"] == "not_found_error"


def test_loose_fixture_streams(fixture_server):
    _, http = fixture_server
    r = http.post("/v1/messages", json=body("what's the weather?", stream=True))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/event-stream")
    events = sse_events(r.text)
    names = [name for name, _ in events]
    assert names[0] == "message_start" and names[-1] == "message_stop", names
    assert all(data["type"] == name for name, data in events), events
    assert MSG_ID_RE.match(events[0][1]["message"]["id"])
    text = "".join(d["delta"]["text"] for n, d in events if n == "content_block_delta" and d["delta"]["type"] == "text_delta")
    assert text == "Sunny, 21°C"
    stops = [d for n, d in events if n == "message_delta"]
    assert len(stops) == 1 and stops[0]["delta"]["stop_reason"] == "end_turn"


def test_first_matching_loose_fixture_in_file_order_wins(fixture_server):
    _, http = fixture_server
    for _ in range(2):  # and it keeps winning: loose fixtures are not used up
        assert_full_message(http.post("/v1/messages", json=body("what's the weather?")), "Sunny, 21°C")


def test_model_and_tools_conditions(fixture_server):
    _, http = fixture_server
    tools = {"tools": [TOOL]}
    cases = [
        (body("route me please", model="claude-haiku-4-5"), "haiku route"),
        (body("route me please", model="claude-haiku-4-5", **tools), "haiku route"),  # earlier in the file
        (body("route me please", **tools), "tools route"),
        (body("route me please", model="claude-opus-4-1"), "opus without tools"),
        (body("route me please", model="claude-opus-4-1", **tools), "tools route"),
        (body("route me please"), "default route"),
    ]
    for request, expected in cases:
        r = http.post("/v1/messages", json=request)
        assert r.status_code == 200, (request, r.text)
        assert r.json()["content"][0]["text"] == expected, request


def test_sdk_reads_fixture_answers(fixture_server):
    server, _ = fixture_server
    with server.client() as client:
        message = client.messages.create(model="claude-sonnet-4-5", max_tokens=100, messages=user("what's the weather?"))
        assert text_of(message) == "Sunny, 21°C"
        with client.messages.stream(model="claude-sonnet-4-5", max_tokens=100, messages=user("how is the weather?")) as stream:
            final = stream.get_final_message()
        assert text_of(final) == "Sunny, 21°C"
        assert MSG_ID_RE.match(final.id)


def test_import_match_ignore(tmp_path: Path):
    line = {
        "request": {"body": {"model": "claude-sonnet-4-5", "max_tokens": 100, "temperature": 0.2, "messages": user("ignore my temperature")}},
        "response": {"message": {"content": [{"type": "text", "text": "temperature ignored"}]}},
    }
    cassette = tmp_path / "ignore.sqlite"
    import_into(write_jsonl(tmp_path / "ignore.jsonl", [line]), cassette, "--match-ignore", "temperature")
    with start_tapedeck("--cassette", str(cassette), "--on-miss", "error", "--match-ignore", "temperature") as server:
        with httpx.Client(base_url=server.base_url, headers=HEADERS, timeout=REQUEST_TIMEOUT) as http:
            r = http.post("/v1/messages", json=body("ignore my temperature", temperature=0.9))
            assert_full_message(r, "temperature ignored")


# -- 7. bad files ------------------------------------------------------------------------

READING_COMMANDS = [
    ("list",),
    ("show", "{p}", "1"),
    ("stats",),
    ("export",),
    ("verify",),
    ("rm", "{p}", "1"),
    ("diff", "{p}", "{demo}"),
]


def command(template: tuple, path: Path, demo: Path) -> list[str]:
    if len(template) == 1:
        return ["cassette", template[0], str(path)]
    return ["cassette"] + [part.format(p=path, demo=demo) for part in template]


@pytest.mark.parametrize("template", READING_COMMANDS, ids=lambda t: t[0])
def test_not_sqlite_is_not_a_cassette(template, demo: Path, tmp_path: Path):
    bogus = tmp_path / "notes.sqlite"
    bogus.write_text("these are my notes, not a database\n")
    before = siblings(bogus)
    assert_one_line_error(run(*command(template, bogus, demo)), str(bogus), "not a cassette")
    assert bogus.read_text() == "these are my notes, not a database\n"
    assert siblings(bogus) == before


@pytest.mark.parametrize("template", READING_COMMANDS, ids=lambda t: t[0])
def test_missing_cassette(template, demo: Path, tmp_path: Path):
    missing = tmp_path / "missing.sqlite"
    before = siblings(demo)
    assert_one_line_error(run(*command(template, missing, demo)), str(missing), "no such cassette")
    assert siblings(demo) == before, "a command on a missing cassette created files"


def test_export_of_missing_cassette_writes_no_out_file(tmp_path: Path):
    target = tmp_path / "out.jsonl"
    assert_one_line_error(run("cassette", "export", tmp_path / "missing.sqlite", "--out", target), "no such cassette")
    assert not target.exists()


def test_import_into_a_non_sqlite_file(demo: Path, tmp_path: Path):
    source = tmp_path / "demo.jsonl"
    ok("cassette", "export", demo, "--out", source)
    bogus = tmp_path / "notes.sqlite"
    bogus.write_text("not a database\n")
    assert_one_line_error(run("cassette", "import", source, "--into", bogus), "not a cassette")
    assert bogus.read_text() == "not a database\n"


def test_import_of_missing_file(tmp_path: Path):
    target = tmp_path / "new.sqlite"
    assert_one_line_error(run("cassette", "import", tmp_path / "nope.jsonl", "--into", target), "nope.jsonl")
    assert not target.exists()


def bad_exports(lines: list[str]) -> dict[str, tuple[str, int, str]]:
    """name → (file text, bad line number, expected reason fragment)."""
    truncated = lines[2][: len(lines[2]) // 2]
    return {
        "truncated_last_line": ("\n".join(lines[:2] + [truncated]), 3, "not valid JSON ("),
        "truncated_middle_line": ("\n".join(lines[:1] + [truncated] + lines[3:]) + "\n", 2, "not valid JSON ("),
        "garbage_first_line": ("{bad\n" + "\n".join(lines) + "\n", 1, "not valid JSON ("),
        "not_an_object": ("\n".join(lines[:4] + ["[1, 2, 3]"]) + "\n", 5, "expected a JSON object"),
        "unknown_match_condition": (
            "\n".join(lines[:1] + [json.dumps({"match": {"colour": "red"}, "response": {"message": {"content": []}}})]) + "\n",
            2,
            "match.colour",
        ),
        "bad_regex": (
            json.dumps(fixture({"last_user": {"regex": "(unclosed"}}, "x")) + "\n", 1, "match.last_user.regex",
        ),
        "no_response": ("\n".join(lines[:1] + [json.dumps({"match": {"last_user": "hi"}})]) + "\n", 2, "response"),
    }


BAD_EXPORT_NAMES = [
    "truncated_last_line", "truncated_middle_line", "garbage_first_line", "not_an_object",
    "unknown_match_condition", "bad_regex", "no_response",
]


@pytest.mark.parametrize("name", BAD_EXPORT_NAMES)
def test_bad_export_line_creates_no_cassette(name: str, demo: Path, tmp_path: Path):
    text, line, reason = bad_exports(export_lines(demo))[name]
    source = tmp_path / "bad.jsonl"
    source.write_text(text, encoding="utf-8")
    target = tmp_path / "new.sqlite"
    message = assert_one_line_error(run("cassette", "import", source, "--into", target), f"{source}:{line}: {reason}")
    assert message.startswith(f"tapedeck: {source}:{line}: "), message
    assert not target.exists(), "a failed import created the cassette"
    assert not any(n.startswith("new.sqlite") for n in siblings(target)), siblings(target)


@pytest.mark.parametrize("name", ["truncated_last_line", "unknown_match_condition"])
def test_bad_export_line_leaves_existing_cassette_alone(name: str, demo: Path, tmp_path: Path):
    text, line, _ = bad_exports(export_lines(demo))[name]
    source = tmp_path / "bad.jsonl"
    source.write_text(text, encoding="utf-8")
    target = tmp_path / "existing.sqlite"
    shutil.copyfile(DEMO_SQLITE, target)
    ok("cassette", "rm", target, 1, 2, 3)  # so a partial import would show
    before_bytes, before_rows = target.read_bytes(), logical_dump(target)
    assert_one_line_error(run("cassette", "import", source, "--into", target), f"{source}:{line}: ")
    assert target.read_bytes() == before_bytes
    assert logical_dump(target) == before_rows


def make_future_cassette(demo: Path) -> Path:
    with closing(sqlite3.connect(demo)) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert "grdb_migrations" in tables, f"no grdb_migrations table; tables: {sorted(tables)}"
        db.execute("INSERT INTO grdb_migrations(identifier) VALUES ('v99: future')")
        db.commit()
    return demo


@pytest.mark.parametrize("template", READING_COMMANDS, ids=lambda t: t[0])
def test_newer_schema_is_refused(template, demo: Path, tmp_path: Path):
    future = make_future_cassette(demo)
    other = tmp_path / "other.sqlite"
    shutil.copyfile(DEMO_SQLITE, other)
    before = logical_dump(future)
    files = siblings(future)
    assert_one_line_error(run(*command(template, future, other)), str(future), "newer")
    assert logical_dump(future) == before, "a refused cassette was modified"
    assert siblings(future) == files


def test_import_into_newer_schema_is_refused(demo: Path, tmp_path: Path):
    source = tmp_path / "demo.jsonl"
    ok("cassette", "export", demo, "--out", source)
    future = make_future_cassette(demo)
    before = logical_dump(future)
    assert_one_line_error(run("cassette", "import", source, "--into", future), "newer")
    assert logical_dump(future) == before


# -- 8. git textconv -------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_git_textconv_shows_cassette_diffs_as_json(tmp_path: Path):
    repo = tmp_path / "repo"
    repo.mkdir()
    env = dict(os.environ, HOME=str(tmp_path), GIT_CONFIG_NOSYSTEM="1", GIT_PAGER="cat", PAGER="cat", LC_ALL="C")
    env.pop("GIT_DIR", None)
    env.pop("GIT_WORK_TREE", None)

    def git(*args: str) -> str:
        p = subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True, timeout=CLI_TIMEOUT)
        assert p.returncode == 0, f"git {' '.join(args)}: {p.stderr}"
        return p.stdout

    git("init", "-q")
    git("config", "user.email", "tests@example.com")
    git("config", "user.name", "Tapedeck Tests")
    git("config", "commit.gpgsign", "false")
    shutil.copyfile(GITATTRIBUTES, repo / ".gitattributes")
    assert "*.sqlite diff=tapedeck" in (repo / ".gitattributes").read_text()
    git("config", "diff.tapedeck.textconv", f"{shlex.quote(str(tapedeck_binary()))} cassette export")
    cassette = repo / "demo.sqlite"
    shutil.copyfile(DEMO_SQLITE, cassette)
    git("add", ".gitattributes", "demo.sqlite")
    git("commit", "-q", "-m", "demo cassette")

    assert ok("cassette", "rm", cassette, 2) == "removed 1 of 1\n"
    diff = git("diff")
    assert "Binary files" not in diff, diff
    removed = [l for l in diff.splitlines() if l.startswith("-{")]
    added = [l for l in diff.splitlines() if l.startswith("+{")]
    assert len(removed) == 1 and not added, diff
    assert removed[0].startswith('-{"id":2,'), removed[0]
    assert "What is 27 * 453?" in removed[0]
    # Unchanged interactions appear as context lines.
    assert any(l.startswith(' {"id":1,') for l in diff.splitlines()), diff


# -- 9. help and version ---------------------------------------------------------------


def test_cassette_help_lists_subcommands():
    text = ok("cassette", "--help")
    listed = set(re.findall(r"^\s{2}(\w+)\s{2,}", text, re.MULTILINE))
    assert set(SUBCOMMANDS) <= listed, f"missing: {set(SUBCOMMANDS) - listed}\n{text}"


@pytest.mark.parametrize("sub", SUBCOMMANDS)
def test_each_subcommand_has_help(sub: str):
    text = ok("cassette", sub, "--help")
    assert f"tapedeck cassette {sub}" in text


def test_top_level_help_and_version():
    text = ok("--help")
    listed = set(re.findall(r"^\s{2}(\w+)\s{2,}", text, re.MULTILINE))
    assert {"serve", "cassette"} <= listed, text
    version = ok("--version").strip()
    assert re.fullmatch(r"\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?", version), version


# -- regressions: bugs this suite found, now fixed ------------------------------------


@pytest.mark.parametrize("template", [("list",), ("show", "{p}", "1"), ("stats",), ("export",), ("verify",), ("diff", "{p}", "{demo}")], ids=lambda t: t[0])
def test_read_only_commands_leave_the_file_byte_identical(template, demo: Path, tmp_path: Path):
    other = tmp_path / "other.sqlite"
    shutil.copyfile(DEMO_SQLITE, other)
    before = demo.read_bytes()
    ok(*command(template, demo, other))
    assert demo.read_bytes() == before


def test_export_of_loose_fixtures_imports_again(tmp_path: Path):
    cassette = tmp_path / "fixtures.sqlite"
    import_into(write_jsonl(tmp_path / "fixtures.jsonl", WEATHER_FIXTURES), cassette)
    exported = tmp_path / "exported.jsonl"
    ok("cassette", "export", cassette, "--out", exported)
    again = tmp_path / "again.sqlite"
    import_into(exported, again)
    assert ok("cassette", "export", again).encode("utf-8") == exported.read_bytes()


def test_diff_tells_apart_fixtures_with_the_same_matcher(tmp_path: Path):
    lines = [fixture({"last_user": {"regex": "weather"}}, "first"), fixture({"last_user": {"regex": "weather"}}, "second")]
    both, one = tmp_path / "both.sqlite", tmp_path / "one.sqlite"
    import_into(write_jsonl(tmp_path / "both.jsonl", lines), both)
    import_into(write_jsonl(tmp_path / "one.jsonl", lines[:1]), one)
    report = differs(both, one).splitlines()
    assert len(report) == 1 and report[0].startswith("- removed"), report
