"""Message Batches through the SDK (``client.messages.batches`` and ``client.beta.messages.batches``).

Synthesis: a batch is made at once, each request answered as ``/v1/messages`` answers it (a recording, else
synthesis, else the miss error as an ``errored`` result), ``--batch-delay N`` retrieves ``in_progress`` before it
ends. Record mode forwards every call to the fake upstream (which speaks batches) and saves it; replay gives the
same sequence back offline. A create the API refuses whole (100,001 requests, duplicate ``custom_id``s) gets its
400 and leaves the cassette untouched.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import anthropic
import httpx
import pytest

from support import MODEL, REQUEST_TIMEOUT, dump, make_client, start_fake_upstream, start_tapedeck, tapedeck_binary, user

FAKE_MODEL = "claude-sonnet-4-5-20250929"
GOOD = {"model": MODEL, "max_tokens": 256, "messages": user("Name three rivers.")}
OTHER = {"model": MODEL, "max_tokens": 256, "messages": user("Name three mountains.")}
# No max_tokens: /v1/messages refuses it, so in a batch it is an errored result, not a failed create.
INVALID = {"model": MODEL, "messages": user("Hello")}
BATCH_ID_PREFIX = "msgbatch_01"


@pytest.fixture(params=["stable", "beta"])
def flavour(request) -> str:
    return request.param


def batches(client: anthropic.Anthropic, flavour: str):
    return client.beta.messages.batches if flavour == "beta" else client.messages.batches


def requests_of(*params: dict) -> list[dict]:
    return [{"custom_id": f"req-{i}", "params": p} for i, p in enumerate(params)]


def poll(api, batch_id: str) -> list[str]:
    """Retrieves until the batch ends; the statuses seen, in order (bounded, so a batch that never ends fails)."""
    seen = []
    for _ in range(20):
        status = api.retrieve(batch_id).processing_status
        seen.append(status)
        if status == "ended":
            return seen
    raise AssertionError(f"batch {batch_id} never ended: {seen}")


def results_of(api, batch_id: str) -> dict[str, Any]:
    return {r.custom_id: dump(r.result) for r in api.results(batch_id)}


def without_origin(batch: dict, base: str) -> dict:
    """A batch object with ``results_url`` relative to the server that answered (each run has its own port)."""
    url = batch.get("results_url")
    if url:
        assert url.startswith(base + "/v1/messages/batches/"), url
        batch = {**batch, "results_url": url[len(base):]}
    return batch


def lifecycle(client: anthropic.Anthropic, flavour: str, base: str) -> dict:
    """The whole life of two batches, as plain data: create, poll, results, list, cancel, delete."""
    api = batches(client, flavour)
    out: dict[str, Any] = {}
    made = api.create(requests=requests_of(GOOD, INVALID, OTHER))
    out["created"] = without_origin(dump(made), base)
    out["polled"] = poll(api, made.id)
    out["ended"] = without_origin(dump(api.retrieve(made.id)), base)
    out["results"] = results_of(api, made.id)
    second = api.create(requests=requests_of(OTHER))
    out["canceled"] = without_origin(dump(api.cancel(second.id)), base)
    out["after_cancel"] = poll(api, second.id)
    out["canceled_results"] = results_of(api, second.id)
    page = api.list(limit=1)
    out["page"] = {"ids": [b.id for b in page.data], "has_more": page.has_more, "first_id": page.first_id, "last_id": page.last_id}
    out["all"] = [b.id for b in api.list(limit=20).data]
    with pytest.raises(anthropic.BadRequestError) as ended:
        api.cancel(made.id)
    out["cancel_ended"] = ended.value.status_code
    out["deleted"] = dump(api.delete(made.id))
    with pytest.raises(anthropic.NotFoundError):
        api.retrieve(made.id)
    out["ids"] = [made.id, second.id]
    return out


def test_synthesized_lifecycle_polls_ends_and_answers_as_messages_does(flavour, tmp_path):
    with start_tapedeck("--batch-delay", "2", "--cassette", str(tmp_path / "s.sqlite")) as server, server.client() as client:
        api = batches(client, flavour)
        made = api.create(requests=requests_of(GOOD, INVALID, OTHER))
        assert made.id.startswith(BATCH_ID_PREFIX) and len(made.id) == len("msgbatch_") + 24
        assert made.processing_status == "in_progress"
        assert made.results_url is None
        assert made.request_counts.processing == 3
        assert (made.expires_at - made.created_at).total_seconds() == 86400
        assert poll(api, made.id) == ["in_progress", "in_progress", "ended"]
        ended = api.retrieve(made.id)
        assert ended.results_url == f"{server.base_url}/v1/messages/batches/{made.id}/results"
        counts = ended.request_counts
        assert (counts.processing, counts.succeeded, counts.errored, counts.canceled, counts.expired) == (0, 2, 1, 0, 0)
        assert ended.ended_at is not None and ended.ended_at > made.created_at

        results = {r.custom_id: r.result for r in api.results(made.id)}
        assert [results[k].type for k in ("req-0", "req-1", "req-2")] == ["succeeded", "errored", "succeeded"]
        # The same engine as /v1/messages: the very Message the plain call gets, and its refusal.
        assert dump(results["req-0"].message) == dump(client.messages.create(**GOOD))
        error = results["req-1"].error
        assert error.error.type == "invalid_request_error"
        assert error.error.message == "max_tokens: Field required"
        # (the SDK refuses this call before sending it; the API's answer to it, sent raw:)
        refused = httpx.post(f"{server.base_url}/v1/messages", json=INVALID, headers={"x-api-key": "k"}, timeout=REQUEST_TIMEOUT)
        assert refused.status_code == 400
        assert refused.json()["error"]["message"] == error.error.message

        # Delete waits for the end: an in-progress batch is refused, and is still there.
        fresh = api.create(requests=requests_of(GOOD))
        with pytest.raises(anthropic.BadRequestError):
            api.delete(fresh.id)
        assert api.retrieve(fresh.id).id == fresh.id


def test_synthesized_lifecycle_is_the_same_on_every_run(flavour, tmp_path):
    runs = []
    for _ in range(2):
        with start_tapedeck("--batch-delay", "1", "--cassette", str(tmp_path / "s.sqlite")) as server, server.client() as client:
            runs.append(lifecycle(client, flavour, server.base_url))
    first, second = runs
    assert first == second
    assert first["polled"] == ["in_progress", "ended"]
    assert first["canceled"]["processing_status"] == "canceling"
    assert first["canceled"]["cancel_initiated_at"]
    assert first["after_cancel"] == ["ended"]
    assert set(r["type"] for r in first["canceled_results"].values()) == {"canceled"}
    assert first["page"] == {"ids": [first["ids"][1]], "has_more": True, "first_id": first["ids"][1], "last_id": first["ids"][1]}
    assert first["all"] == list(reversed(first["ids"])), "most recently created first"
    assert first["cancel_ended"] == 400
    assert first["deleted"] == {"id": first["ids"][0], "type": "message_batch_deleted"}
    assert not (tmp_path / "s.sqlite").exists(), "a synthesized batch lives in memory: replay creates no file"


def test_a_batch_request_replays_a_messages_recording_and_misses_as_errored_results(tmp_path):
    cassette = tmp_path / "m.sqlite"
    with start_fake_upstream() as fake:
        with start_tapedeck("--mode", "record", "--upstream", fake.base_url, "--cassette", str(cassette),
                            "--allow-upstream-in-ci") as server, server.client() as client:
            recorded = client.messages.create(**GOOD)
    with start_tapedeck("--cassette", str(cassette), "--on-miss", "error") as server, server.client() as client:
        made = client.messages.batches.create(requests=requests_of(GOOD, OTHER))
        poll(client.messages.batches, made.id)
        results = {r.custom_id: r.result for r in client.messages.batches.results(made.id)}
    assert results["req-0"].type == "succeeded"
    assert dump(results["req-0"].message) == dump(recorded)
    assert recorded.model == FAKE_MODEL
    assert results["req-1"].type == "errored"
    assert results["req-1"].error.error.type == "not_found_error"
    assert results["req-1"].error.error.message.startswith("no recorded interaction matches")


def record_args(upstream: str, cassette: Path) -> tuple[str, ...]:
    return ("--mode", "record", "--upstream", upstream, "--cassette", str(cassette), "--allow-upstream-in-ci")


def test_record_then_replay_offline_gives_the_same_lifecycle(flavour, tmp_path):
    cassette = tmp_path / "r.sqlite"
    with start_fake_upstream() as fake:
        with start_tapedeck(*record_args(fake.base_url, cassette)) as server, server.client() as client:
            recorded = lifecycle(client, flavour, server.base_url)
            # Recorded batch calls are interactions: the admin API and the inspector show each of them.
            rows = httpx.get(f"{server.base_url}/_tapedeck/interactions", timeout=REQUEST_TIMEOUT).json()["data"]
            paths = {(r["method"], r["path"].rsplit("/", 1)[-1] if "/batches/" in r["path"] else r["path"]) for r in rows}
            assert {("POST", "/v1/messages/batches"), ("GET", "results"), ("POST", "cancel"), ("DELETE", recorded["ids"][0]),
                    ("POST", "/v1/messages")} <= paths
            for row in rows:
                assert httpx.get(f"{server.base_url}/_tapedeck/ui/interactions/{row['id']}", timeout=REQUEST_TIMEOUT).status_code == 200
    # The fake upstream's own batch: its ids, its answers (not synthesis), one in_progress retrieve.
    assert recorded["polled"] == ["in_progress", "ended"]
    assert recorded["results"]["req-0"]["message"]["model"] == FAKE_MODEL
    assert recorded["results"]["req-1"]["type"] == "errored"
    with start_tapedeck("--cassette", str(cassette), "--on-miss", "error") as server, server.client() as client:
        replayed = lifecycle(client, flavour, server.base_url)
        # A recorded batch's answers also answer the plain calls it stands for, offline.
        assert dump(client.messages.create(**GOOD)) == recorded["results"]["req-0"]["message"]
        assert dump(client.messages.create(**OTHER)) == recorded["results"]["req-2"]["message"]
    assert replayed == recorded

    exported = tmp_path / "r.jsonl"
    copy = tmp_path / "copy.sqlite"
    binary = str(tapedeck_binary())
    subprocess.run([binary, "cassette", "export", str(cassette), "--out", str(exported)], check=True, capture_output=True)
    subprocess.run([binary, "cassette", "import", str(exported), "--into", str(copy)], check=True, capture_output=True)
    with start_tapedeck("--cassette", str(copy), "--on-miss", "error") as server, server.client() as client:
        assert lifecycle(client, flavour, server.base_url) == recorded, "export and import keep a recorded batch whole"


def interactions(base: str) -> int:
    return httpx.get(f"{base}/_tapedeck/health", timeout=REQUEST_TIMEOUT).json()["interactions"]


@pytest.mark.parametrize(
    "requests, message",
    [
        pytest.param(
            [{"custom_id": f"r{i}", "params": {}} for i in range(100_001)],
            "requests: List should have at most 100000 items after validation, not 100001",
            id="100001-requests",
        ),
        pytest.param(requests_of(GOOD) + requests_of(OTHER), "requests.1.custom_id: Duplicate custom_id 'req-0'", id="duplicate"),
        pytest.param([], "requests: List should have at least 1 item after validation, not 0", id="empty"),
        pytest.param(
            [{"custom_id": "a" * 65, "params": GOOD}], "requests.0.custom_id: String should have at most 64 characters", id="long-id"
        ),
        pytest.param(
            [{"custom_id": "a b", "params": GOOD}],
            "requests.0.custom_id: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'",
            id="bad-id",
        ),
    ],
)
def test_a_create_the_api_refuses_leaves_the_cassette_untouched(requests, message, tmp_path):
    cassette = tmp_path / "bad.sqlite"
    with start_fake_upstream() as fake:
        with start_tapedeck(*record_args(fake.base_url, cassette)) as server, server.client() as client:
            with pytest.raises(anthropic.BadRequestError) as refused:
                client.messages.batches.create(requests=requests)
            assert refused.value.body["error"]["type"] == "invalid_request_error"
            assert refused.value.body["error"]["message"].startswith(message)
            assert interactions(server.base_url) == 0
            forwarded = httpx.get(f"{fake.base_url}/_fake/requests", timeout=REQUEST_TIMEOUT).json()
            assert forwarded == 1, "only the fake's own counter call: nothing was forwarded"
    with start_tapedeck("--cassette", str(tmp_path / "none.sqlite")) as server, server.client() as client:
        with pytest.raises(anthropic.BadRequestError):
            client.messages.batches.create(requests=requests)
        assert interactions(server.base_url) == 0
        assert client.messages.batches.list().data == []


def test_unknown_batches_and_results_before_the_end(http):
    missing = http.get("/v1/messages/batches/msgbatch_01nothing")
    assert missing.status_code == 404
    assert missing.json()["error"]["type"] == "not_found_error"
    made = http.post("/v1/messages/batches", json={"requests": requests_of(GOOD)})
    assert made.status_code == 200
    batch_id = made.json()["id"]
    # Results are published when the batch ends (here, at the first retrieve).
    early = http.get(f"/v1/messages/batches/{batch_id}/results")
    assert early.status_code == 400
    assert http.get(f"/v1/messages/batches/{batch_id}").json()["processing_status"] == "ended"
    lines = http.get(f"/v1/messages/batches/{batch_id}/results")
    assert lines.status_code == 200
    assert lines.headers["content-type"] == "application/binary"
    assert lines.text.endswith("\n") and lines.text.count("\n") == 1
    assert http.put("/v1/messages/batches").status_code == 405
    # The admin API shows the batches Tapedeck keeps in memory for a cassette.
    listed = http.get("/_tapedeck/batches").json()
    assert listed["cassette"] == "default"
    mine = [b for b in listed["data"] if b["id"] == batch_id]
    assert mine and mine[0]["custom_ids"] == ["req-0"] and mine[0]["processing_status"] == "ended"
    page = http.get("/_tapedeck/ui/batches")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert batch_id in page.text and "succeeded 1" in page.text


def test_a_per_test_cassette_base_url_keeps_its_batches_apart(tmp_path):
    with start_tapedeck("--cassette", str(tmp_path / "d.sqlite")) as server:
        with make_client(f"{server.base_url}/cassettes/one") as one, server.client() as default:
            made = one.messages.batches.create(requests=requests_of(GOOD))
            assert poll(one.messages.batches, made.id) == ["ended"]
            ended = one.messages.batches.retrieve(made.id)
            assert ended.results_url == f"{server.base_url}/cassettes/one/v1/messages/batches/{made.id}/results"
            assert [r.result.type for r in one.messages.batches.results(made.id)] == ["succeeded"]
            with pytest.raises(anthropic.NotFoundError):
                default.messages.batches.retrieve(made.id)
            assert default.messages.batches.list().data == []
