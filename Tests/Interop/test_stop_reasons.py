"""Stop reasons the API ends some answers with: ``refusal`` (with ``stop_details``), ``pause_turn`` and
``model_context_window_exceeded``, asked for with the ``tapedeck-fault`` header or written in a fixture, as JSON
and as a stream; each parses in the SDK's types."""

from __future__ import annotations

from typing import Iterator

import pytest

from support import MODEL, SDK_MAJOR, TapedeckServer, import_fixtures, make_client, start_tapedeck, user


def ask(client, fault: str, stream: bool, **extra):
    body = dict(model=MODEL, max_tokens=64, messages=user("Tell me about tapes"), extra_headers={"tapedeck-fault": fault})
    body.update(extra)
    if stream:
        with client.messages.stream(**body) as s:
            events = [e.type for e in s]
            return s.get_final_message(), events
    return client.messages.create(**body), None


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_refusal_carries_stop_details(tapedeck: TapedeckServer, stream: bool):
    client = make_client(tapedeck.base_url)
    message, events = ask(client, "refusal;category=cyber;explanation=Flagged%20by%20a%20classifier", stream)
    assert message.stop_reason == "refusal"
    details = message.stop_details if SDK_MAJOR >= 1 else None
    if details is not None:
        assert details.type == "refusal" and details.category == "cyber"
        assert details.explanation == "Flagged by a classifier"
    if stream:
        assert events[0] == "message_start" and events[-1] == "message_stop"


@pytest.mark.parametrize("reason", ["pause_turn", "model_context_window_exceeded"])
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_other_stop_reasons_parse(tapedeck: TapedeckServer, reason: str, stream: bool):
    client = make_client(tapedeck.base_url)
    tool = {"name": "wind", "description": "Wind a tape", "input_schema": {"type": "object"}}
    message, _ = ask(client, reason, stream, tools=[tool], tool_choice={"type": "any"})
    assert message.stop_reason == reason
    assert all(block.type != "tool_use" for block in message.content), "a forced stop makes no tool call"
    assert message.stop_sequence is None


def test_unknown_refusal_category_is_a_400(tapedeck: TapedeckServer):
    import anthropic

    with pytest.raises(anthropic.BadRequestError) as caught:
        make_client(tapedeck.base_url).messages.create(
            model=MODEL, max_tokens=8, messages=user("x"), extra_headers={"tapedeck-fault": "refusal;category=space"}
        )
    assert "refusal category must be one of cyber, bio" in caught.value.response.json()["error"]["message"]


@pytest.fixture(scope="module")
def refusing(tmp_path_factory) -> Iterator[TapedeckServer]:
    root = tmp_path_factory.mktemp("refusal")
    cassette = import_fixtures(
        root / "refusal.sqlite",
        {
            "match": {"last_user": "refuse me"},
            "response": {
                "message": {
                    "content": [{"type": "text", "text": "I can't help"}],
                    "stop_reason": "refusal",
                    "stop_details": {"type": "refusal", "category": "bio", "explanation": None},
                }
            },
        }
    )
    with start_tapedeck("--cassette", str(cassette)) as server:
        yield server


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_fixture_refusal(refusing: TapedeckServer, stream: bool):
    client = make_client(refusing.base_url)
    body = dict(model=MODEL, max_tokens=64, messages=user("refuse me"))
    if stream:
        with client.messages.stream(**body) as s:
            message = s.get_final_message()
    else:
        message = client.messages.create(**body)
    assert message.stop_reason == "refusal"
    assert message.content[0].text == "I can't help"
    if SDK_MAJOR >= 1:
        assert message.stop_details.category == "bio" and message.stop_details.explanation is None
