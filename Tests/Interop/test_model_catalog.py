"""Every model id the installed SDK knows answers, and paths Tapedeck does not model are recorded and replayed.

The model ids come from the SDK's own ``ModelParam`` type (``typing.get_args``), so a newer pinned SDK checks
its own list against the binary; the built-in catalog is generated from that list
(``scripts/generate-model-catalog.py``).
"""

from __future__ import annotations

import json
import typing
from pathlib import Path

import anthropic
import httpx
import pytest

from support import REQUEST_TIMEOUT, SDK_MAJOR, start_fake_upstream, start_tapedeck, user


def sdk_model_ids() -> list[str]:
    try:
        from anthropic.types import ModelParam
    except ImportError:
        return []
    ids: list[str] = []
    for arg in typing.get_args(ModelParam):
        ids.extend(a for a in typing.get_args(arg) if isinstance(a, str))
    return ids


SDK_IDS = sdk_model_ids()


@pytest.fixture(scope="module")
def strict_client():
    """A server that refuses unknown ids (``--strict-models``): the SDK's ids must be in the catalog itself."""
    with start_tapedeck("--strict-models") as server, server.client() as client:
        yield client


@pytest.mark.parametrize("model", SDK_IDS or ["(none)"])
def test_every_sdk_model_id_answers(strict_client: anthropic.Anthropic, model: str) -> None:
    if not SDK_IDS:
        pytest.skip(f"anthropic {anthropic.__version__} has no ModelParam literal list")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the SDK warns about its own deprecated models
        message = strict_client.messages.create(model=model, max_tokens=16, messages=user("hello"))
    info = strict_client.models.retrieve(model)
    # An alias answers with the model's own (dated) id, as the API does.
    assert message.model == info.id, (model, message.model, info.id)
    assert info.display_name


def test_deprecated_models_say_so(strict_client: anthropic.Anthropic) -> None:
    if SDK_MAJOR < 2:
        pytest.skip("the catalog's lifecycles come from the pinned 2.x SDK; older SDKs list models long retired")
    try:
        from anthropic._data import DEPRECATED_MODELS
    except ImportError:
        pytest.skip(f"anthropic {anthropic.__version__} carries no DEPRECATED_MODELS table")
    for model in DEPRECATED_MODELS:
        raw = strict_client.models.with_raw_response.retrieve(model).http_response.json()
        assert raw["lifecycle"] == "deprecated", model
        assert raw["retires_at"], model


def test_unknown_claude_id_is_served_unless_strict(client: anthropic.Anthropic, strict_client: anthropic.Anthropic) -> None:
    message = client.messages.create(model="claude-opus-9-9", max_tokens=16, messages=user("hello"))
    assert message.model == "claude-opus-9-9"
    assert client.models.retrieve("claude-opus-9-9").display_name == "Claude Opus 9.9"
    with pytest.raises(anthropic.NotFoundError) as info:
        strict_client.messages.create(model="claude-opus-9-9", max_tokens=16, messages=user("hello"))
    assert "model: claude-opus-9-9" in str(info.value)
    with pytest.raises(anthropic.NotFoundError):
        client.messages.create(model="gpt-9", max_tokens=16, messages=user("hello"))


def test_models_file_adds_a_model(tmp_path: Path) -> None:
    models = tmp_path / "models.json"
    models.write_text(json.dumps({"data": [{"id": "house-model-1", "display_name": "House", "max_tokens": 50}]}))
    with start_tapedeck("--models", str(models), "--strict-models") as server, server.client() as client:
        assert client.messages.create(model="house-model-1", max_tokens=50, messages=user("hi")).model == "house-model-1"
        assert any(m.id == "house-model-1" for m in client.models.list(limit=1000).data)
        with pytest.raises(anthropic.BadRequestError):
            client.messages.create(model="house-model-1", max_tokens=51, messages=user("hi"))


def test_a_bad_models_file_stops_the_start_up(tmp_path: Path) -> None:
    from support import TapedeckStartError

    models = tmp_path / "models.json"
    models.write_text('[{"id": "m", "max_tokens": "lots"}]')
    with pytest.raises(TapedeckStartError) as info:
        with start_tapedeck("--models", str(models)):
            pass
    assert "max_tokens" in str(info.value)


def test_unmodeled_paths_record_and_replay_with_raw_httpx(tmp_path: Path) -> None:
    """Batches, skills and paths nobody has shipped yet: forwarded while recording, replayed byte for byte."""
    cassette = tmp_path / "c.sqlite"
    headers = {"x-api-key": "sk-ant-interop-secret", "anthropic-version": "2023-06-01"}
    upload = b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x\"\r\n\r\n\xff\x00\xfe\r\n--B--\r\n"
    calls = [
        ("POST", "/v1/skills", {"json": {"display_title": "a", "files": []}}),
        # Files are modeled now (test_files.py); skills stand for the API's other multipart resources.
        ("GET", "/v1/skills?limit=3", {}),
        ("POST", "/v1/skills", {"content": upload, "headers": {"content-type": "multipart/form-data; boundary=B"}}),
        ("GET", "/v1/skills/skill_1/binary", {}),
        ("DELETE", "/v1/skills/skill_1", {}),
        ("POST", "/v1/whatever-ships-next", {"content": b"not json at all"}),
    ]

    def run(base_url: str) -> list[tuple[int, bytes, str]]:
        out = []
        with httpx.Client(base_url=base_url, headers=headers, timeout=REQUEST_TIMEOUT) as http:
            for method, path, extra in calls:
                extra = dict(extra)
                extra_headers = {**headers, **extra.pop("headers", {})}
                r = http.request(method, path, headers=extra_headers, **extra)
                out.append((r.status_code, r.content, r.headers.get("content-type", "")))
        return out

    with start_fake_upstream() as fake:
        with start_tapedeck(
            "--mode", "record", "--upstream", fake.base_url, "--cassette", str(cassette), "--allow-upstream-in-ci"
        ) as server:
            recorded = run(server.base_url)
    assert [status for status, _, _ in recorded] == [200] * len(calls)
    assert recorded[3][1].startswith(bytes(range(256)))
    assert b"sk-ant-interop-secret" not in cassette.read_bytes()

    with start_tapedeck("--mode", "replay", "--cassette", str(cassette), "--on-miss", "error") as server:
        replayed = run(server.base_url)
        with httpx.Client(base_url=server.base_url, headers=headers, timeout=REQUEST_TIMEOUT) as http:
            miss = http.post("/v1/skills", json={"display_title": "b"})
    assert replayed == recorded
    assert miss.status_code == 404
    assert miss.json()["error"]["type"] == "not_found_error"


def test_recorded_model_lists_teach_the_replaying_server(tmp_path: Path) -> None:
    """A model only the upstream lists: recorded with the list, and once the list replays, synthesis accepts it."""
    cassette = tmp_path / "c.sqlite"
    with start_fake_upstream() as fake:
        with start_tapedeck(
            "--mode", "record", "--upstream", fake.base_url, "--cassette", str(cassette), "--allow-upstream-in-ci"
        ) as server, server.client() as client:
            recorded = [m.id for m in client.models.list()]
    assert "fake-gateway-model-1" in recorded
    with start_tapedeck("--cassette", str(cassette), "--strict-models") as server, server.client() as client:
        with pytest.raises(anthropic.NotFoundError):
            client.messages.create(model="fake-gateway-model-1", max_tokens=16, messages=user("hello"))
        assert [m.id for m in client.models.list()] == recorded
        message = client.messages.create(model="fake-gateway-model-1", max_tokens=16, messages=user("hello"))
        assert message.model == "fake-gateway-model-1"
