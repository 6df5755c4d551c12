"""Per-cassette settings (`PUT /_tapedeck/settings?cassette=NAME`) and the unused-recordings listing
(`GET /_tapedeck/interactions?unused=true`): what the pytest plugin builds on, driven over real HTTP with the SDK.

One server serves cassettes with different modes, on-miss, matching and faults side by side; nothing leaks from
one cassette to another."""

from __future__ import annotations

import anthropic
import httpx
import pytest

from support import MODEL, import_fixtures, make_client, start_fake_upstream, start_tapedeck, user


def settings(server, cassette: str, body: dict | None = None, method: str = "PUT") -> httpx.Response:
    return httpx.request(method, f"{server.base_url}/_tapedeck/settings", params={"cassette": cassette}, json=body)


def ask(server, cassette: str, text: str, **extra):
    client = make_client(f"{server.base_url}/cassettes/{cassette}")
    return client.messages.with_raw_response.create(model=MODEL, max_tokens=32, messages=user(text), **extra)


def test_on_miss_and_faults_are_each_cassettes_own(tmp_path):
    with start_tapedeck("--cassette", str(tmp_path / "default.sqlite"), "--on-miss", "synthesize") as server:
        assert settings(server, "strict", {"on_miss": "error"}).json()["on_miss"] == "error"
        assert settings(server, "faulty", {"fault": {"fault": "overloaded", "count": 1}}).status_code == 200
        with pytest.raises(anthropic.NotFoundError) as missed:
            ask(server, "strict", "hello")
        assert "no recorded interaction matches" in missed.value.message
        with pytest.raises(anthropic.APIStatusError) as faulted:
            ask(server, "faulty", "hello")
        assert faulted.value.status_code == 529
        # The count is the cassette's own: spent, the next answer is synthesized; other cassettes never saw it.
        assert ask(server, "faulty", "hello").headers["tapedeck-source"] == "synthesized"
        assert ask(server, "other", "hello").headers["tapedeck-source"] == "synthesized"
        # DELETE: the server's settings again.
        cleared = settings(server, "strict", method="DELETE").json()
        assert cleared["on_miss"] == "synthesize" and cleared["overridden"] == []
        assert ask(server, "strict", "hello").headers["tapedeck-source"] == "synthesized"


def test_match_ignore_is_per_cassette(tmp_path):
    # Ignored paths shape the fingerprint, so they hold when recording as when replaying (as --match-ignore does).
    with start_fake_upstream() as upstream, start_tapedeck(
        "--cassette", str(tmp_path / "default.sqlite"), "--mode", "auto", "--upstream", upstream.base_url,
        "--allow-upstream-in-ci",
    ) as server:
        shown = settings(server, "loose", {"match_ignore": ["$.stop_sequences"]}).json()
        assert shown["match_ignore"] == ["$.stop_sequences"] and shown["overridden"] == ["match_ignore"]
        for name in ("loose", "exact"):
            assert ask(server, name, "stop sequences differ", stop_sequences=["END"]).headers["tapedeck-source"] == "proxied"
        settings(server, "loose", {"mode": "replay", "on_miss": "error", "match_ignore": ["$.stop_sequences"]})
        settings(server, "exact", {"mode": "replay", "on_miss": "error"})
        assert ask(server, "loose", "stop sequences differ", stop_sequences=["STOP"]).headers["tapedeck-source"] == "recorded"
        with pytest.raises(anthropic.NotFoundError) as missed:
            ask(server, "exact", "stop sequences differ", stop_sequences=["STOP"])
        assert 'closest differs at stop_sequences[0]: "END" vs "STOP"' in missed.value.message


def test_a_cassette_can_record_while_another_replays(tmp_path):
    with start_fake_upstream() as upstream, start_tapedeck(
        "--cassette", str(tmp_path / "default.sqlite"), "--mode", "auto", "--upstream", upstream.base_url,
        "--allow-upstream-in-ci",
    ) as server:
        assert settings(server, "recording", {"mode": "record"}).json()["mode"] == "record"
        assert settings(server, "replaying", {"mode": "replay", "on_miss": "error"}).status_code == 200
        first = ask(server, "recording", "record me")
        assert first.headers["tapedeck-source"] == "proxied"
        with pytest.raises(anthropic.NotFoundError):
            ask(server, "replaying", "record me")
        assert (tmp_path / "recording.sqlite").exists()
        # Recorded in this run counts as used; nothing is left over.
        unused = httpx.get(f"{server.base_url}/_tapedeck/interactions", params={"cassette": "recording", "unused": "true"})
        assert unused.json()["data"] == []


def test_unused_lists_what_no_request_replayed(tmp_path):
    body = {"model": MODEL, "max_tokens": 32}
    import_fixtures(
        tmp_path / "suite.sqlite",
        {"request": {"body": {**body, "messages": user("asked")}}, "response": {"message": {"content": [{"text": "1"}]}}},
        {"request": {"body": {**body, "messages": user("never asked")}}, "response": {"message": {"content": [{"text": "2"}]}}},
    )
    with start_tapedeck("--cassette", str(tmp_path / "default.sqlite")) as server:
        listing = f"{server.base_url}/_tapedeck/interactions"
        assert len(httpx.get(listing, params={"cassette": "suite", "unused": "true"}).json()["data"]) == 2
        assert ask(server, "suite", "asked").headers["tapedeck-source"] == "recorded"
        # A reset rewinds occurrences, but what was used stays used for the run.
        httpx.post(f"{server.base_url}/_tapedeck/reset", params={"cassette": "suite"})
        unused = httpx.get(listing, params={"cassette": "suite", "unused": "true"}).json()
        assert [row["prompt"] for row in unused["data"]] == ["never asked"]
        assert httpx.get(listing, params={"cassette": "suite", "unused": "maybe"}).status_code == 400


@pytest.mark.parametrize(
    "body, message",
    [
        ({"mode": "record"}, "mode: 'record' needs an upstream, and this server runs in replay mode"),
        ({"mode": "sometimes"}, "mode: Input should be 'replay', 'record', 'auto'"),
        ({"on_miss": 1}, "on_miss: Input should be 'synthesize', 'error'"),
        ({"match_ignore": "$.metadata"}, "match_ignore: Input should be a list of JSON paths"),
        ({"fault": "no-such-fault"}, "no-such-fault"),
        ({"modes": "replay"}, "modes: Extra inputs are not permitted"),
    ],
)
def test_bad_settings_are_400s_in_the_api_shape(tmp_path, body, message):
    with start_tapedeck("--cassette", str(tmp_path / "default.sqlite")) as server:
        r = settings(server, "t", body)
        assert r.status_code == 400, r.text
        assert r.json()["type"] == "error" and r.json()["error"]["type"] == "invalid_request_error"
        assert message in r.json()["error"]["message"], r.text
        assert settings(server, "t", method="GET").json()["overridden"] == []
        assert settings(server, "../x", {"mode": "replay"}).status_code == 400
