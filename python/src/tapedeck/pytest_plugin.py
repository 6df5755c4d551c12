"""The tapedeck pytest plugin: one server per test process, one cassette per test, vcrpy's record modes.

A test takes part when it is marked `@pytest.mark.tapedeck(...)` or asks for the `tapedeck`, `anthropic_client` or
`async_anthropic_client` fixture; other tests never start a server. The server starts with the first such test,
on a free loopback port, and stops at the end of the session (its log is kept when a test failed).

Each test's cassette is `NAME.sqlite` in the cassette directory, `NAME` made from its node id, and is chosen by the
base URL `http://127.0.0.1:PORT/cassettes/NAME`: the fixtures' clients use it, and so does code that builds its
own client, since `ANTHROPIC_BASE_URL` is set to it for the test. The test's record mode, on-miss, matching and
fault are the cassette's own settings (`PUT /_tapedeck/settings?cassette=NAME`), never the server's, so tests do
not see each other's settings.

Under pytest-xdist each worker runs its own server (tests of one worker run one at a time; different workers'
tests use different cassettes, and SQLite keeps a cassette two workers write consistent). `--tapedeck-strict`
merges what the workers used before it judges a recording unused.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .server import Server, ServerError

RECORD_MODES = ("none", "once", "new_episodes", "all")
MARKER_KEYS = ("cassette", "match_ignore", "match_profile", "fault", "on_miss")
FIXTURES = ("tapedeck", "anthropic_client", "async_anthropic_client")
#: The key the fixtures' clients send when the test records nothing: replay needs none.
REPLAY_KEY = "tapedeck-replay"
_state_key = pytest.StashKey["_Session"]()
_test_key = pytest.StashKey["_TestState"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("tapedeck", "tapedeck: record and replay the Anthropic API")
    group.addoption(
        "--tapedeck-record-mode", choices=RECORD_MODES, default=None,
        help="none (default; forced under CI=true): replay only, a miss fails the test; once: record a test whose "
        "cassette does not exist, replay the rest; new_episodes: replay what is recorded, record what is not; "
        "all: record every call again",
    )
    group.addoption("--tapedeck-upstream", default=None, help="the API to record from (default https://api.anthropic.com)")
    group.addoption("--tapedeck-cassette-dir", default=None, help="where cassettes live (default tests/cassettes)")
    group.addoption(
        "--tapedeck-strict", action="store_true", default=None,
        help="fail the run when a recording in the cassettes no test used is left (stale cassettes)",
    )
    group.addoption(
        "--tapedeck-allow-upstream-in-ci", action="store_true", default=None,
        help="honour --tapedeck-record-mode under CI=true (otherwise CI replays only)",
    )
    group.addoption("--tapedeck-port", type=int, default=None, help="the server's port (default: a free one)")
    parser.addini("tapedeck_record_mode", "default --tapedeck-record-mode", default="none")
    parser.addini("tapedeck_upstream", "default --tapedeck-upstream", default="https://api.anthropic.com")
    parser.addini("tapedeck_cassette_dir", "default --tapedeck-cassette-dir (relative to rootdir)", default="tests/cassettes")
    parser.addini("tapedeck_strict", "default --tapedeck-strict", type="bool", default=False)
    parser.addini("tapedeck_serve_args", "extra `tapedeck serve` flags, e.g. --pace recorded", type="args", default=[])


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "tapedeck(cassette=None, match_ignore=None, match_profile=None, fault=None, on_miss=None): "
        "run the test against tapedeck with its own cassette and settings",
    )
    session = _Session.from_config(config)
    config.stash[_state_key] = session
    config.pluginmanager.register(_CollectionWatch(session), "tapedeck-collection-watch")
    if _is_xdist_controller(config):
        config.pluginmanager.register(_XdistController(session), "tapedeck-xdist-controller")


def _option(config: pytest.Config, name: str):
    value = config.getoption(name.replace("-", "_"))
    return value if value is not None else config.getini(name.replace("tapedeck-", "tapedeck_").replace("-", "_"))


def _is_xdist_controller(config: pytest.Config) -> bool:
    return not hasattr(config, "workerinput") and bool(getattr(config.option, "numprocesses", None)) and (
        config.pluginmanager.hasplugin("xdist")
    )


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


@dataclass
class _Session:
    """The plugin's state for one pytest process: options, the server once started, what tests used."""

    config: pytest.Config
    record_mode: str
    requested_mode: str
    upstream: str
    cassette_dir: Path
    strict: bool
    port: int
    serve_args: list[str]
    server: Server | None = None
    work_dir: Path | None = None
    failed: bool = False
    #: Cassettes tests of this process used: name -> nodeids.
    used: dict[str, set[str]] = field(default_factory=dict)
    #: Every collected test's cassette name, for finding cassettes no test has (a full run only).
    collected: set[str] = field(default_factory=set)
    deselected: bool = False
    #: Stale recordings found at the end: cassette -> rows.
    stale: dict[str, list[dict]] = field(default_factory=dict)
    orphans: list[str] = field(default_factory=list)
    #: Under xdist, on the controller: the workers' kept server logs.
    worker_logs: list[str] = field(default_factory=list)
    #: Why the server did not start, repeated to every later test rather than starting it again.
    start_error: str | None = None
    #: Collection skipped or failed somewhere: cassettes of tests not collected must not look stale.
    collection_incomplete: bool = False
    #: Derived cassette names two tests would share: name -> node ids.
    collisions: dict[str, list[str]] = field(default_factory=dict)
    #: The environment at configure time, for the server: before any test's monkeypatching.
    environment: dict[str, str] = field(default_factory=lambda: dict(os.environ))

    @classmethod
    def from_config(cls, config: pytest.Config) -> "_Session":
        requested = _option(config, "tapedeck-record-mode")
        if requested not in RECORD_MODES:
            raise pytest.UsageError(
                f"tapedeck_record_mode = {requested!r} in the ini file: use one of {', '.join(RECORD_MODES)}"
            )
        allow_ci = bool(config.getoption("tapedeck_allow_upstream_in_ci"))
        mode = "none" if _truthy(os.environ.get("CI")) and not allow_ci else requested
        directory = config.getoption("tapedeck_cassette_dir") or config.getini("tapedeck_cassette_dir")
        cassette_dir = Path(directory) if os.path.isabs(directory) else Path(config.rootpath) / directory
        port = config.getoption("tapedeck_port")
        strict = config.getoption("tapedeck_strict")
        session = cls(
            config=config,
            record_mode=mode,
            requested_mode=requested,
            upstream=_option(config, "tapedeck-upstream"),
            cassette_dir=cassette_dir,
            strict=bool(strict if strict is not None else config.getini("tapedeck_strict")),
            port=port if port is not None else 0,
            serve_args=list(config.getini("tapedeck_serve_args")),
        )
        session.check_usage()
        return session

    def check_usage(self) -> None:
        """Refuses, as a one-line usage error, what would only fail later inside a test."""
        if not 0 <= self.port <= 65535:
            raise pytest.UsageError(f"--tapedeck-port {self.port}: use 0 (any free port) or 1 to 65535")
        if self.port and getattr(self.config.option, "numprocesses", None):
            raise pytest.UsageError(
                f"--tapedeck-port {self.port} with pytest-xdist: each worker runs its own server; leave the port free"
            )
        if self.port and not _port_free(self.port):
            raise pytest.UsageError(f"--tapedeck-port {self.port}: the port is in use")
        if self.record_mode != "none" and not _writable_dir(self.cassette_dir):
            raise pytest.UsageError(
                f"--tapedeck-cassette-dir {self.cassette_dir}: cannot write there, and record mode "
                f"{self.record_mode} saves cassettes in it"
            )
        if self.record_mode != "none" and not re.match(r"^https?://", self.upstream or ""):
            raise pytest.UsageError(f"--tapedeck-upstream {self.upstream!r}: give an http:// or https:// URL")

    def ensure_server(self) -> Server:
        if self.server is not None and self.server.running:
            return self.server
        if self.start_error:
            raise ServerError(self.start_error)
        if self.server is not None:
            raise ServerError(f"tapedeck stopped during the run; its log: {self.server.log_path}")
        self.work_dir = Path(tempfile.mkdtemp(prefix="tapedeck-pytest-"))
        recording = self.record_mode != "none"
        args = list(self.serve_args)
        # The plugin decides the server's settings: a TAPEDECK_FAULT or TAPEDECK_HOST exported for other uses
        # must not fault or hide every test.
        env = {k: v for k, v in self.environment.items() if not k.startswith("TAPEDECK_") or k == "TAPEDECK_BIN"}
        if recording and _truthy(env.get("CI")):
            # The plugin decided recording is allowed here: CI with --tapedeck-allow-upstream-in-ci.
            args.append("--allow-upstream-in-ci")
        self.server = Server(
            cassette_dir=self.cassette_dir,
            log_path=self.work_dir / "server.log",
            # Every test names its cassette; a request that names none is not worth a file among the tests'.
            default_cassette=self.work_dir / "default.sqlite",
            mode="auto" if recording else "replay",
            on_miss="error",
            upstream=self.upstream if recording else None,
            port=self.port,
            args=args,
            env=env,
        )
        try:
            self.server.start()
        except ServerError as error:
            self.failed = True  # keep the log the error points into
            self.start_error = f"{error} (log: {self.server.log_path})"
            raise ServerError(self.start_error) from None
        return self.server

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
        if self.work_dir is not None and not self.failed:
            shutil.rmtree(self.work_dir, ignore_errors=True)

    def cassette_mode(self, name: str) -> str:
        """The server mode a test's cassette gets under this run's record mode (vcrpy's meanings)."""
        if self.record_mode == "none":
            return "replay"
        if self.record_mode == "once":
            return "replay" if self.has_recordings(name) else "record"
        return "auto" if self.record_mode == "new_episodes" else "record"

    def has_recordings(self, name: str) -> bool:
        """Whether the cassette holds anything: an empty file (a recording that failed) is no cassette."""
        if not (self.cassette_dir / f"{name}.sqlite").exists():
            return False
        assert self.server is not None
        try:
            return bool(self.server.admin("GET", "interactions", cassette=name, limit=1)["data"])
        except ServerError:
            return False  # not a cassette (a zero-byte file): recording makes it one

    def start_afresh(self, name: str) -> None:
        """Record mode all: the cassette's old recordings go before the first test that uses it records, so one
        the tests no longer make does not linger (pytest-recording's `rewrite`)."""
        if name in self.used:
            return
        for suffix in (".sqlite", ".sqlite-wal", ".sqlite-shm"):
            (self.cassette_dir / f"{name}{suffix}").unlink(missing_ok=True)

    def find_stale(self) -> None:
        """Recordings no test of this process used, in the cassettes its tests used, and cassettes no test has."""
        candidates = self.orphan_candidates()
        whole = self.full_run() and not self.deselected and not self.collection_incomplete
        self.orphans = candidates if whole else []
        if self.server is None or not self.server.running:
            return
        for name in sorted(self.used):
            rows = self.server.unused(name)
            if rows:
                self.stale[name] = rows

    def orphan_candidates(self) -> list[str]:
        """Cassette files no collected test has."""
        return [
            path.name
            for path in sorted(self.cassette_dir.glob("*.sqlite"))
            if path.stem != "default" and path.stem not in self.collected
        ]

    def full_run(self) -> bool:
        """Whether the run asked for the whole suite, from the rootdir or its testpaths, with nothing left out: only
        then is a cassette no collected test has known to be stale. Under xdist the controller judges, since
        workers are handed paths."""
        config, option = self.config, self.config.option
        source = config.args_source
        from_root = source == pytest.Config.ArgsSource.TESTPATHS or (
            source == pytest.Config.ArgsSource.INVOCATION_DIR and Path(config.invocation_params.dir) == config.rootpath
        )
        narrowed = any(
            getattr(option, name, None)
            for name in ("keyword", "markexpr", "ignore", "ignore_glob", "deselect", "lf", "failedfirst", "stepwise")
        )
        return from_root and not narrowed


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _writable_dir(directory: Path) -> bool:
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".tapedeck-probe-"):
            return True
    except OSError:
        return False


def cassette_name(nodeid: str) -> str:
    """A node id as a cassette name: runs of characters other than letters, digits, `_` and `-` become one `_`,
    and a long one is cut and given a hash, so `tests/test_chat.py::test_reply[Paris]` is
    `tests_test_chat_py_test_reply_Paris`."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", nodeid).strip("_") or "test"
    if len(name) > 100:
        name = name[:91] + "-" + hashlib.sha256(name.encode()).hexdigest()[:8]
    return name


def _uses_tapedeck(item: pytest.Item) -> bool:
    return item.get_closest_marker("tapedeck") is not None or bool(set(getattr(item, "fixturenames", ())) & set(FIXTURES))


def _marker_settings(item: pytest.Item) -> dict:
    marker = item.get_closest_marker("tapedeck")
    if marker is None:
        return {}
    if marker.args:
        raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.tapedeck takes keyword arguments only")
    unknown = sorted(set(marker.kwargs) - set(MARKER_KEYS))
    if unknown:
        raise pytest.UsageError(
            f"{item.nodeid}: @pytest.mark.tapedeck got {', '.join(unknown)}; it takes {', '.join(MARKER_KEYS)}"
        )
    return dict(marker.kwargs)


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    state = config.stash[_state_key]
    derived: dict[str, list[str]] = {}
    for item in items:
        if _uses_tapedeck(item):
            marker = item.get_closest_marker("tapedeck")
            # A bad marker is reported when its test runs; here only its cassette name matters.
            named = marker.kwargs.get("cassette") if marker is not None else None
            if isinstance(named, str) and named:
                state.collected.add(named)  # shared on purpose, if at all
            else:
                name = cassette_name(item.nodeid)
                state.collected.add(name)
                derived.setdefault(name, []).append(item.nodeid)
    state.collisions = {name: ids for name, ids in derived.items() if len(ids) > 1}


class _CollectionWatch:
    """Notes a module that failed or skipped collection: its tests' cassettes would otherwise look unused."""

    def __init__(self, state: _Session):
        self.state = state

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed or report.skipped:
            self.state.collection_incomplete = True


def pytest_deselected(items) -> None:
    if items:
        items[0].config.stash[_state_key].deselected = True


@dataclass
class _TestState:
    cassette: str
    log_start: int


class Tapedeck:
    """The `tapedeck` fixture: this test's cassette on the session's server, and its admin calls."""

    def __init__(self, server: Server, cassette: str, mode: str):
        self._server = server
        #: The test's cassette name (`NAME.sqlite` in the cassette directory).
        self.cassette = cassette
        #: What the cassette is served with: replay, record or auto.
        self.mode = mode

    @property
    def server_url(self) -> str:
        """The server's own address (admin calls live under it)."""
        return self._server.url

    @property
    def base_url(self) -> str:
        """The base URL to give a client: it selects this test's cassette."""
        return f"{self._server.url}/cassettes/{self.cassette}"

    def journal(self, limit: int = 1000) -> list[dict]:
        """The requests this test made, oldest first, with where each answer came from."""
        return self._server.admin("GET", "journal", cassette=self.cassette, limit=limit)["data"]

    def misses(self) -> list[dict]:
        """Requests nothing recorded answered, each with the closest recording and where it differs."""
        return self._server.admin("GET", "misses", cassette=self.cassette)["data"]

    def reset(self) -> None:
        """Starts the cassette's occurrences, journal, misses and prompt cache afresh."""
        self._server.admin("POST", "reset", cassette=self.cassette)

    def fault(self, spec: str, count: int | None = None, rate: float | None = None, seed: int | None = None) -> None:
        """Answers this test's next requests with a fault (`overloaded`, `rate_limit;retry_after=1`, ...)."""
        plan: dict = {"fault": spec}
        for key, value in (("count", count), ("rate", rate), ("seed", seed)):
            if value is not None:
                plan[key] = value
        self._settings(fault=plan)

    def clear_fault(self) -> None:
        self._settings(fault=None)

    def settings(self) -> dict:
        """The settings the cassette is served with (mode, on_miss, match_ignore, match_profile, fault)."""
        return self._server.admin("GET", "settings", cassette=self.cassette)

    def _settings(self, **changes) -> None:
        current = self.settings()
        body = {key: current[key] for key in current.get("overridden", [])}
        body.update(changes)
        self._server.admin("PUT", "settings", cassette=self.cassette, body={k: v for k, v in body.items() if v is not None})


@pytest.fixture
def tapedeck(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):
    """This test's cassette on the session's tapedeck server, with `ANTHROPIC_BASE_URL` pointing at it."""
    item = request.node
    state: _Session = item.config.stash[_state_key]
    problem = None
    try:
        settings = _marker_settings(item)
        name = settings.pop("cassette", None) or cassette_name(item.nodeid)
        if name in state.collisions:
            others = [nodeid for nodeid in state.collisions[name] if nodeid != item.nodeid]
            raise pytest.UsageError(
                f"{item.nodeid}: its cassette name {name} is also that of {', '.join(others[:3])}; "
                "give each its own with @pytest.mark.tapedeck(cassette=...)"
            )
        server = state.ensure_server()
        if state.record_mode == "all":
            state.start_afresh(name)
        mode = state.cassette_mode(name)
        on_miss = settings.pop("on_miss", None) or "error"
        if on_miss not in ("error", "synthesize"):
            raise pytest.UsageError(f"{item.nodeid}: on_miss={on_miss!r}: use 'error' or 'synthesize'")
        body = {"mode": mode, "on_miss": on_miss}
        if settings.get("match_ignore") is not None:
            ignore = settings["match_ignore"]
            body["match_ignore"] = [ignore] if isinstance(ignore, str) else list(ignore)
        for key in ("match_profile", "fault"):
            if settings.get(key) is not None:
                body[key] = settings[key]
        server.admin("PUT", "settings", cassette=name, body=body)
        server.admin("POST", "reset", cassette=name)
    except ServerError as error:
        problem = f"tapedeck: {error}"
    except pytest.UsageError as error:
        problem = str(error)
    if problem:
        state.failed = True
        # Outside the except block: the report shows the one line, not the exception it came from.
        pytest.fail(problem, pytrace=False)
    state.used.setdefault(name, set()).add(item.nodeid)
    item.stash[_test_key] = _TestState(cassette=name, log_start=server.log_size())
    deck = Tapedeck(server, name, mode)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", deck.base_url)
    if mode == "replay" and not os.environ.get("ANTHROPIC_API_KEY"):
        monkeypatch.setenv("ANTHROPIC_API_KEY", REPLAY_KEY)
    yield deck
    if server.running:
        # The server keeps no settings for tests that are over.
        try:
            server.admin("DELETE", "settings", cassette=name)
        except ServerError:
            pass


@pytest.fixture(autouse=True)
def _tapedeck_for_marked_tests(request: pytest.FixtureRequest) -> None:
    # A marked test that asks for none of the fixtures still gets its cassette and ANTHROPIC_BASE_URL.
    if request.node.get_closest_marker("tapedeck") is not None:
        request.getfixturevalue("tapedeck")


def _api_key() -> str:
    return os.environ.get("ANTHROPIC_API_KEY") or REPLAY_KEY


@pytest.fixture
def anthropic_client(tapedeck: Tapedeck):
    """An `anthropic.Anthropic` client on this test's cassette."""
    anthropic = pytest.importorskip("anthropic")
    client = anthropic.Anthropic(base_url=tapedeck.base_url, api_key=_api_key())
    yield client
    client.close()


@pytest.fixture
def async_anthropic_client(tapedeck: Tapedeck):
    """An `anthropic.AsyncAnthropic` client on this test's cassette."""
    anthropic = pytest.importorskip("anthropic")
    return anthropic.AsyncAnthropic(base_url=tapedeck.base_url, api_key=_api_key())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report: pytest.TestReport = yield
    test = item.stash.get(_test_key, None)
    if test is None:
        return report
    state: _Session = item.config.stash[_state_key]
    if report.when == "call":
        _report_misses(state, test, report, call)
    if report.failed and state.server is not None:
        state.failed = True
        log = state.server.log_text(test.log_start)[-20000:]
        if log:
            report.sections.append(("tapedeck server log", log))
    return report


def _report_misses(state: _Session, test: _TestState, report: pytest.TestReport, call: pytest.CallInfo) -> None:
    """A request nothing recorded answered fails the test with why, whatever the client made of the 404."""
    if state.server is None or not state.server.running or hasattr(report, "wasxfail"):
        return  # an expected failure stays one
    try:
        misses = [m for m in state.server.admin("GET", "misses", cassette=test.cassette)["data"] if m["answered"] == "error"]
    except ServerError:
        return
    if not misses:
        return
    lines = [
        f"tapedeck: {len(misses)} request(s) of this test matched no recording in {test.cassette}.sqlite "
        f"(record mode {state.record_mode}):"
    ]
    for miss in misses:
        lines.append(f"  {miss['method']} {miss['path']}: {miss['explanation']}")
    lines.append(
        "Record it with --tapedeck-record-mode=once (a new cassette) or new_episodes (add to this one), "
        "or ignore the differing field with @pytest.mark.tapedeck(match_ignore=[...])."
    )
    if call.excinfo is not None:
        lines.append(f"(the client saw: {call.excinfo.exconly().splitlines()[0][:200]})")
    report.outcome = "failed"
    report.longrepr = "\n".join(lines)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    state: _Session = session.config.stash[_state_key]
    if _is_xdist_controller(session.config):
        return  # _XdistController judges from the workers' reports
    if state.strict:
        try:
            state.find_stale()
        except ServerError as error:
            state.stale["(error)"] = [{"id": "-", "path": str(error)}]
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        # The controller judges: a recording is unused only if no worker used it.
        workeroutput["tapedeck"] = json.dumps(
            {
                "used": sorted(state.used),
                "stale": {name: rows for name, rows in state.stale.items()},
                "orphans": state.orphan_candidates() if state.strict else [],
                "deselected": state.deselected,
                "failed": state.failed,
                "log": str(state.work_dir) if state.failed else None,
            }
        )
    elif state.strict and (state.stale or state.orphans) and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(_state_key, None)
    if state is not None:
        state.stop()


def pytest_report_header(config: pytest.Config) -> list[str]:
    state = config.stash.get(_state_key, None)
    if state is None or hasattr(config, "workerinput"):
        return []
    line = f"tapedeck: record mode {state.record_mode}, cassettes in {state.cassette_dir}"
    if state.record_mode != state.requested_mode:
        line += f" (CI=true: {state.requested_mode} needs --tapedeck-allow-upstream-in-ci)"
    if state.strict:
        line += ", strict"
    lines = [line]
    if config.inipath is None:
        # Cassette names and their directory follow the rootdir, which without an ini file is wherever pytest ran.
        lines.append("tapedeck: no pytest ini file: cassettes follow the rootdir; add one at the project's root")
    return lines


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    state: _Session = config.stash[_state_key]
    if state.stale or state.orphans:
        terminalreporter.section("tapedeck: unused recordings (--tapedeck-strict)", red=True)
        for name, rows in sorted(state.stale.items()):
            for row in rows:
                terminalreporter.line(
                    f"{name}.sqlite: interaction {row.get('id')} ({row.get('method', '')} {row.get('path', '')}, "
                    f"occurrence {row.get('occurrence', '?')}) was not used by any test: {row.get('prompt', '')!r}"
                )
        for orphan in state.orphans:
            terminalreporter.line(f"{orphan}: no test uses this cassette")
        terminalreporter.line(
            "The run fails for these (--tapedeck-strict): re-record the tests that use them "
            "(--tapedeck-record-mode=all starts each cassette afresh), or delete the cassettes no test has."
        )
    if state.failed:
        logs = [str(state.work_dir)] if state.work_dir else []
        logs += state.worker_logs
        for log in logs:
            terminalreporter.line(f"tapedeck: the server log is kept in {log}")


class _XdistController:
    """On the xdist controller: merges the workers' findings, since each knows only the tests it ran."""

    def __init__(self, state: _Session):
        self.state = state
        self.reports: list[dict] = []

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node, error) -> None:
        output = getattr(node, "workeroutput", {}).get("tapedeck")
        if output:
            self.reports.append(json.loads(output))

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        state = self.state
        state.worker_logs = [r["log"] for r in self.reports if r.get("log")]
        state.failed = state.failed or any(r.get("failed") for r in self.reports)
        if not state.strict:
            return
        # A recording is stale when every worker that opened its cassette left it unused.
        users: dict[str, int] = {}
        stale: dict[str, dict] = {}
        for report in self.reports:
            for name in report["used"]:
                users[name] = users.get(name, 0) + 1
            for name, rows in report["stale"].items():
                for row in rows:
                    entry = stale.setdefault(name, {}).setdefault(row.get("id"), [row, 0])
                    entry[1] += 1
        for name, rows in stale.items():
            kept = [row for row, count in rows.values() if count == users.get(name, 0)]
            if kept:
                state.stale[name] = kept
        # Every worker collects every test, so each names the same cassettes no test has.
        orphans = [set(r["orphans"]) for r in self.reports]
        whole = state.full_run() and not any(r.get("deselected") for r in self.reports)
        state.orphans = sorted(set.intersection(*orphans)) if orphans and whole else []
        if (state.stale or state.orphans) and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
