"""The web inspector (``/_tapedeck/ui``) in a real browser: headless Chromium renders each page, the test reads the DOM.

The server replays a copy of ``cassettes/demo.sqlite`` (its interactions are read from ``cassettes/demo.jsonl``).
Chromium (Debian's ``chromium``, or ``$CHROMIUM``) runs ``--headless --dump-dom URL`` for each page; the DOM is
parsed with the standard library. Screenshots of the list and of a detail page go to ``Tests/Interop/artifacts/``
(not committed). Without a Chromium binary the module is skipped, saying so.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path
from typing import Iterator, Optional
from urllib.parse import parse_qs, urlsplit

import anthropic
import httpx
import pytest

from support import MODEL, REPO_ROOT, REQUEST_TIMEOUT, TapedeckServer, import_fixtures, make_client, start_tapedeck, user

DEMO_SQLITE = REPO_ROOT / "cassettes" / "demo.sqlite"
DEMO_JSONL = REPO_ROOT / "cassettes" / "demo.jsonl"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM_TIMEOUT = 60  # seconds per page
TOKEN = "inspector-T0ken"


def chromium_binary() -> Optional[str]:
    explicit = os.environ.get("CHROMIUM")
    if explicit:
        return explicit if shutil.which(explicit) else None
    return next((found for name in ("chromium", "chromium-browser") if (found := shutil.which(name))), None)


CHROMIUM = chromium_binary()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no Chromium binary (install Debian's `chromium`, or set CHROMIUM to one): the inspector's browser test needs it",
)

# -- a small DOM ----------------------------------------------------------------------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Node:
    def __init__(self, tag: str, attrs: dict, parent: Optional["Node"]):
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list["Node | str"] = []

    @property
    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())

    @property
    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text for c in self.children)

    def matches(self, tag: Optional[str], classes: tuple[str, ...], ident: Optional[str]) -> bool:
        return ((tag is None or self.tag == tag) and set(classes) <= self.classes
                and (ident is None or self.attrs.get("id") == ident))

    def all(self, selector: str) -> list["Node"]:
        """Descendants matching a simple selector (``tag``, ``.a.b``, ``#id``, ``tag.a#id``), or a space-separated
        chain of them (descendant combinator)."""
        found = [self]
        for part in selector.split():
            tag, ident, classes = _parse_simple(part)
            found = _unique(n for node in found for n in node._descendants() if n.matches(tag, classes, ident))
        return found

    def one(self, selector: str) -> "Node":
        found = self.all(selector)
        assert len(found) == 1, f"{len(found)} elements match {selector!r}"
        return found[0]

    def _descendants(self) -> Iterator["Node"]:
        for child in self.children:
            if isinstance(child, Node):
                yield child
                yield from child._descendants()


def _parse_simple(part: str) -> tuple[Optional[str], Optional[str], tuple[str, ...]]:
    tag, ident, classes, current, kind = None, None, [], "", "tag"
    for ch in part + "\0":
        if ch in ".#\0":
            if kind == "tag" and current:
                tag = current
            elif kind == "class":
                classes.append(current)
            elif kind == "id":
                ident = current
            current, kind = "", {".": "class", "#": "id"}.get(ch, kind)
        else:
            current += ch
    return tag, ident, tuple(classes)


def _unique(nodes) -> list[Node]:
    seen, result = set(), []
    for n in nodes:
        if id(n) not in seen:
            seen.add(id(n))
            result.append(n)
    return result


class _Builder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {}, None)
        self.current = self.root

    def handle_starttag(self, tag, attrs):
        node = Node(tag, dict(attrs), self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_startendtag(self, tag, attrs):
        self.current.children.append(Node(tag, dict(attrs), self.current))

    def handle_endtag(self, tag):
        node = self.current
        while node is not self.root and node.tag != tag:
            node = node.parent
        if node is not self.root:
            self.current = node.parent

    def handle_data(self, data):
        self.current.children.append(data)


def parse(html: str) -> Node:
    builder = _Builder()
    builder.feed(html)
    builder.close()
    return builder.root


def cells(row: Node) -> list[str]:
    return [td.text for td in row.all("td")]


# -- the browser ----------------------------------------------------------------------------------------------------


def chromium(*args: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="tapedeck-chromium-") as profile:
        argv = [CHROMIUM, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run", "--hide-scrollbars",
                f"--user-data-dir={profile}", *args]
        try:
            result = subprocess.run(argv, capture_output=True, timeout=CHROMIUM_TIMEOUT, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            pytest.fail(f"chromium did not finish within {CHROMIUM_TIMEOUT} s: {' '.join(argv)}")
    assert result.returncode == 0, f"{' '.join(argv)}: exit {result.returncode}\n{result.stderr.decode()[-2000:]}"
    return result


def render(url: str) -> Node:
    """The DOM Chromium built for ``url``, after its scripts ran."""
    html = chromium("--dump-dom", url).stdout.decode("utf-8")
    assert html.lstrip().lower().startswith("<!doctype html>") or "<html" in html[:200], html[:500]
    return parse(html)


def screenshot(url: str, name: str, size: str = "1400,900") -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    path.unlink(missing_ok=True)
    # Without --run-all-compositor-stages-before-draw a capture can catch half-painted tiles.
    chromium("--run-all-compositor-stages-before-draw", f"--screenshot={path}", f"--window-size={size}", url)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert len(data) > 20_000, f"{path} is suspiciously small ({len(data)} bytes): a blank page?"
    return path


# -- the demo cassette ----------------------------------------------------------------------------------------------

DEMO = {line["id"]: line for line in map(json.loads, filter(str.strip, DEMO_JSONL.read_text().splitlines()))}


def prompt_of(line: dict) -> str:
    return line["request"]["body"]["messages"][-1]["content"]


def demo_id(prompt: str) -> int:
    (found,) = [i for i, line in DEMO.items() if prompt_of(line) == prompt]
    return found


THINKING_ID = demo_id("What is 27 * 453?")
WEATHER_ID = demo_id("What is the weather in San Francisco?")
STORY_ID = demo_id("Tell me a long story.")
OVERLOADED_ID = demo_id("Are you there?")


def event_data(event: dict) -> dict:
    return event["data"] if "data" in event else json.loads(event["data_text"])


def folded_timeline(stream: list[dict]) -> list[tuple[str, str]]:
    """What the timeline should show: (event column, folded text) per row. Consecutive deltas of one block and one
    kind are one row, ``content_block_delta ×N``, whose text is theirs joined; other events are a row each."""
    rows: list[tuple[str, str]] = []
    run: Optional[tuple[int, str]] = None  # (block index, delta type) of the open run
    count, text = 0, ""
    for event in stream:
        data = event_data(event)
        if event["event"] == "content_block_delta":
            delta = data["delta"]
            piece = delta.get("text", delta.get("thinking", delta.get("partial_json", "(signature)" if "signature" in delta else "")))
            if run == (data["index"], delta["type"]):
                count, text = count + 1, text + piece
                continue
            if run:
                rows.append((f"content_block_delta ×{count}", text))
            run, count, text = (data["index"], delta["type"]), 1, piece
            continue
        if run:
            rows.append((f"content_block_delta ×{count}", text))
            run = None
        rows.append((event["event"], ""))
    if run:
        rows.append((f"content_block_delta ×{count}", text))
    return rows


# -- fixtures -------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shelf_dir(tmp_path_factory) -> Path:
    """A copy of the demo cassette, and a per-test cassette `mine` (one hand-written fixture) next to it."""
    root = tmp_path_factory.mktemp("inspector")
    shutil.copyfile(DEMO_SQLITE, root / "demo.sqlite")
    import_fixtures(root / "mine.sqlite", {
        "request": {"body": {"model": MODEL, "max_tokens": 256, "messages": user("Only in mine?")}},
        "response": {"message": {"content": [{"type": "text", "text": "Yes, only in mine."}]}},
    })
    return root


@pytest.fixture(scope="module")
def server(shelf_dir: Path) -> Iterator[TapedeckServer]:
    with start_tapedeck("--mode", "replay", "--cassette", str(shelf_dir / "demo.sqlite"), "--on-miss", "synthesize") as s:
        yield s


def ui(server: TapedeckServer, path: str = "", query: str = "") -> str:
    return f"{server.base_url}/_tapedeck/ui{path}" + (f"?{query}" if query else "")


def reset(server: TapedeckServer) -> None:
    r = httpx.post(f"{server.base_url}/_tapedeck/reset", timeout=REQUEST_TIMEOUT)
    assert r.status_code == 200, r.text


def journal(server: TapedeckServer) -> list[dict]:
    """The default cassette's journal from the admin API."""
    r = httpx.get(f"{server.base_url}/_tapedeck/journal", timeout=REQUEST_TIMEOUT)
    assert r.status_code == 200, r.text
    return r.json()["data"]


# -- the interactions list ------------------------------------------------------------------------------------------


def test_list_shows_every_interaction_with_its_kinds(server):
    doc = render(ui(server))

    assert doc.one("title").text == "Interactions · tapedeck"
    assert doc.one("a.tab.active").text == "Interactions"
    rows = doc.all("tr.interaction")
    assert [int(r.attrs["data-id"]) for r in rows] == sorted(DEMO), "one row per interaction, in id order"
    by_id = {int(r.attrs["data-id"]): r for r in rows}
    for i, row in by_id.items():
        link = row.one("a")
        assert link.attrs["href"] == f"/_tapedeck/ui/interactions/{i}" and link.text == str(i)
        texts = cells(row)
        assert prompt_of(DEMO[i]) in texts, texts
        assert str(DEMO[i]["response"]["status"]) in texts
        assert ("stream" if "stream" in DEMO[i]["response"] else "json") in texts
    assert [k.text for k in by_id[THINKING_ID].all("span.kind")] == ["thinking", "text"]
    assert by_id[THINKING_ID].one("span.kind.thinking").text == "thinking"
    assert by_id[WEATHER_ID].all("span.kind.tool_use")
    assert by_id[OVERLOADED_ID].one("td.status.s5").text == "529"
    assert by_id[OVERLOADED_ID].all("span.kind") == []
    # The quick filter is there (its script runs client-side only).
    assert doc.one("input#quick").attrs["data-filter"] == "#interactions tbody tr"


def test_list_filters_and_pages_on_the_server(server):
    assert [r.attrs["data-id"] for r in render(ui(server, query="q=weather")).all("tr.interaction")] == [str(WEATHER_ID)]
    assert [r.attrs["data-id"] for r in render(ui(server, query="status=529")).all("tr.interaction")] == [str(OVERLOADED_ID)]
    empty = render(ui(server, query="model=claude-opus-4-1"))
    assert empty.all("tr.interaction") == [] and "No interactions match" in empty.one("p.empty").text
    filled = render(ui(server, query="q=weather&status=200"))
    inputs = {i.attrs.get("name"): i.attrs.get("value") for i in filled.all("form.filters input")}
    assert inputs["q"] == "weather" and inputs["status"] == "200", "the form shows the filter in use"

    first = render(ui(server, query="limit=4"))
    assert [int(r.attrs["data-id"]) for r in first.all("tr.interaction")] == sorted(DEMO)[:4]
    more = first.one("a.more").attrs["href"]
    assert parse_qs(urlsplit(more).query)["after_id"] == [str(sorted(DEMO)[3])], more
    second = render(f"{server.base_url}{more}&limit=4")
    assert [int(r.attrs["data-id"]) for r in second.all("tr.interaction")] == sorted(DEMO)[4:]
    assert second.all("a.more") == []


def test_the_filter_form_finds_two_words(server):
    # What the browser sends when a person types "What is" in the form and presses Filter.
    rows = render(ui(server, query="q=What+is&model=&status=")).all("tr.interaction")
    assert {int(r.attrs["data-id"]) for r in rows} == {i for i, l in DEMO.items() if "What is" in prompt_of(l)}


# -- one interaction ------------------------------------------------------------------------------------------------


def test_detail_of_a_streamed_thinking_answer(server):
    line = DEMO[THINKING_ID]
    stream = line["response"]["stream"]
    deltas = [event_data(e)["delta"] for e in stream if e["event"] == "content_block_delta"]
    thinking = "".join(d.get("thinking", "") for d in deltas if d["type"] == "thinking_delta")
    text = "".join(d["text"] for d in deltas if d["type"] == "text_delta")

    doc = render(ui(server, f"/interactions/{THINKING_ID}"))

    assert doc.one("title").text == f"Interaction {THINKING_ID} · tapedeck"
    assert json.loads(doc.one("#request pre.json").text) == line["request"]["body"]
    assert doc.one("#response h2 span.status").text == "200"
    # The assembled message, block by block.
    assert doc.one(".block.thinking .label").text == "thinking"
    assert doc.one(".block.thinking pre").text == thinking
    assert doc.one(".block.text pre").text == text == "27 × 453 = **12,231**"
    # The stream as its timeline: one row per event, deltas of one block folded into their text.
    timeline = doc.one("#timeline")
    assert f"{len(stream)} events" in timeline.one("h2").text
    rows = timeline.all("tr.event")
    expected = folded_timeline(stream)
    assert [cells(r)[1] for r in rows] == [name for name, _ in expected]
    folded = timeline.all("tr.event.folded")
    expected_folded = [(name, text) for name, text in expected if name.startswith("content_block_delta")]
    assert [(cells(r)[1], cells(r)[2].split(": ", 1)[1]) for r in folded] == expected_folded
    thinking_row, signature_row, text_row = folded
    assert cells(thinking_row)[2] == f"block 0 thinking_delta: {thinking}"
    assert cells(signature_row)[2] == "block 0 signature_delta: (signature)"
    assert cells(text_row)[2] == f"block 1 text_delta: {text}"
    # Offsets: the first event's, and each folded run starts at its first delta's offset.
    assert cells(rows[0])[0] == str(stream[0]["t"])
    first_thinking_delta = next(e for e in stream if e["event"] == "content_block_delta")
    assert cells(thinking_row)[0] == str(first_thinking_delta["t"])
    assert [r.classes - {"event"} for r in rows][0] == {"message_start"}


def test_detail_of_an_error_and_of_a_stream_that_broke(server):
    error = render(ui(server, f"/interactions/{OVERLOADED_ID}"))
    assert error.one("#response h2 span.status.s5").text == "529"
    assert error.all("#timeline") == []
    opened = [d for d in error.all("#response details") if "open" in d.attrs]
    assert len(opened) == 1 and json.loads(opened[0].one("pre").text)["error"]["type"] == "overloaded_error"

    broken = render(ui(server, f"/interactions/{STORY_ID}"))
    (error_row,) = broken.all("#timeline tr.event.error")
    assert "overloaded_error" in cells(error_row)[2]


def test_an_unknown_interaction_page_is_a_404(server):
    r = httpx.get(ui(server, "/interactions/999"), timeout=REQUEST_TIMEOUT)
    assert r.status_code == 404 and r.json()["error"]["type"] == "not_found_error"


# -- journal and misses ---------------------------------------------------------------------------------------------


def send_some_requests(server: TapedeckServer) -> None:
    """A recorded hit, the same as a stream, a miss that differs from a recording, and a 529 replayed."""
    thinking = {k: v for k, v in DEMO[THINKING_ID]["request"]["body"].items() if k != "stream"}
    with make_client(server.base_url) as client:
        client.messages.create(**thinking)
        with client.messages.stream(**thinking) as s:
            s.get_final_message()
        client.messages.create(**{**thinking, "messages": user("What is 27 * 454?")})
        with pytest.raises(anthropic.APIStatusError) as recorded_529:
            client.messages.create(**DEMO[OVERLOADED_ID]["request"]["body"])
        assert recorded_529.value.status_code == 529


def journal_rows(doc: Node) -> list[Node]:
    """The journal page's rows, less the browser's own favicon requests (see the `favicon` bug)."""
    return [r for r in doc.all("#journal tr.entry") if "/favicon.ico" not in r.text]


def test_journal_page_lists_the_requests_newest_first(server):
    reset(server)
    send_some_requests(server)
    entries = [e for e in journal(server) if e["path"] != "/favicon.ico"]
    doc = render(ui(server, "/journal"))

    assert doc.one("a.tab.active").text == "Journal"
    rows = journal_rows(doc)
    newest_first = list(reversed(entries))
    assert len(rows) == len(newest_first) == 4
    assert [int(cells(r)[0]) for r in rows] == [e["seq"] for e in newest_first]
    for row, entry in zip(rows, newest_first):
        assert entry["source"] in row.classes
        texts = cells(row)
        assert texts[3] == entry["source"] and texts[5] == str(entry["status"])
        assert texts[8] == entry["fingerprint"][:12]
    assert [cells(r)[3] for r in rows] == ["recorded", "synthesized", "recorded", "recorded"]
    assert "stream" in rows[2].one("span.kind").text


def test_loading_the_inspector_leaves_the_journal_alone(server):
    # Chromium asks for /favicon.ico after the load, so whether --dump-dom sees it is a race: check both ways out
    # instead: the page names its own icon (no request), or the request leaves the journal alone.
    reset(server)
    doc = render(ui(server))
    declares_icon = any("icon" in link.attrs.get("rel", "").split() for link in doc.all("link"))
    httpx.get(f"{server.base_url}/favicon.ico", timeout=REQUEST_TIMEOUT)
    assert declares_icon or journal(server) == [], journal(server)


def test_misses_page_shows_the_closest_recording_and_the_diff(server):
    reset(server)
    send_some_requests(server)
    doc = render(ui(server, "/misses"))

    assert doc.one("a.tab.active").text == "Misses"
    (miss,) = doc.all("section.miss")
    assert "POST /v1/messages" in miss.one("h2").text and "synthesized" in miss.one("h2").text
    link = miss.one("p a")
    assert link.attrs["href"] == f"/_tapedeck/ui/interactions/{THINKING_ID}" and link.text == f"interaction {THINKING_ID}"
    header, row = miss.all("table.diff tr")
    assert [th.text for th in header.all("th")] == ["JSON path", "recorded", "this request"]
    # Values are shown as JSON: a string keeps its quotes, so "1024" and 1024 look different.
    assert cells(row) == ["messages[0].content", '"What is 27 * 453?"', '"What is 27 * 454?"']


def test_empty_journal_and_misses_pages_say_so(server):
    reset(server)
    assert "No requests yet" in render(ui(server, "/journal")).one("p.empty").text
    assert "No misses" in render(ui(server, "/misses")).one("p.empty").text


# -- per-test cassettes and the admin token -------------------------------------------------------------------------


def hrefs(doc: Node) -> list[str]:
    return [a.attrs["href"] for a in doc.all("a") if "href" in a.attrs]


def test_a_per_test_cassette_in_the_inspector(server):
    reset(server)
    with make_client(server.base_url, default_headers={"tapedeck-cassette": "mine"}) as client:
        answer = client.messages.create(model=MODEL, max_tokens=256, messages=user("Only in mine?"))
    assert answer.content[0].text == "Yes, only in mine."

    doc = render(ui(server, query="cassette=mine"))
    assert "cassette: mine" in doc.one("header .badge").text
    (row,) = doc.all("tr.interaction")
    assert "Only in mine?" in cells(row)
    hidden = {i.attrs["name"]: i.attrs["value"] for i in doc.all("form.filters input") if i.attrs.get("type") == "hidden"}
    assert hidden == {"cassette": "mine"}
    for href in hrefs(doc):
        assert parse_qs(urlsplit(href).query).get("cassette") == ["mine"], href

    assert "fixture" in cells(row), "a hand-written line shows as a fixture"
    detail = render(f"{server.base_url}{row.one('a').attrs['href']}")
    assert "Yes, only in mine." in detail.one("#response").text
    assert "Only in mine?" in detail.one("#request pre.json").text

    entries = journal_rows(render(ui(server, "/journal", "cassette=mine")))
    assert [cells(r)[3] for r in entries] == ["recorded"]
    assert journal_rows(render(ui(server, "/journal"))) == [], "the default cassette's journal is its own"


def test_the_inspector_with_an_admin_token(shelf_dir):
    with start_tapedeck("--cassette", str(shelf_dir / "demo.sqlite"), "--admin-token", TOKEN) as server:
        r = httpx.get(ui(server), timeout=REQUEST_TIMEOUT)
        assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error"

        doc = render(ui(server, query=f"token={TOKEN}"))
        assert len(doc.all("tr.interaction")) == len(DEMO)
        hidden = {i.attrs["name"]: i.attrs["value"] for i in doc.all("form.filters input") if i.attrs.get("type") == "hidden"}
        assert hidden == {"token": TOKEN}
        links = hrefs(doc)
        assert links and all(parse_qs(urlsplit(h).query).get("token") == [TOKEN] for h in links), links
        # Every tab and a detail page open with the token the links carry.
        for href in [h for h in links if "/interactions/" not in h] + [f"/_tapedeck/ui/interactions/{THINKING_ID}?token={TOKEN}"]:
            page = render(f"{server.base_url}{href}")
            assert page.all("header nav a.tab"), f"{href} did not render the inspector"
            for inner in hrefs(page):
                assert parse_qs(urlsplit(inner).query).get("token") == [TOKEN], (href, inner)
        # With a per-test cassette too: both parameters survive.
        both = render(ui(server, query=f"cassette=mine&token={TOKEN}"))
        for href in hrefs(both):
            query = parse_qs(urlsplit(href).query)
            assert query.get("token") == [TOKEN] and query.get("cassette") == ["mine"], href


# -- screenshots ----------------------------------------------------------------------------------------------------


def test_screenshots_of_the_list_and_a_detail_page(server):
    screenshot(ui(server), "inspector-list.png")
    screenshot(ui(server, f"/interactions/{THINKING_ID}"), "inspector-detail.png", size="1400,1000")
