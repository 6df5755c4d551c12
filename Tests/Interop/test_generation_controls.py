"""Thinking, stop sequences and max_tokens, each non-streaming and streaming."""

from __future__ import annotations

import pytest

from support import MODEL, SDK_DERIVED_EVENTS, dump, text_of, user

THINK_PROMPT = user("Is 1019 a prime number? Think it through.")
THINKING = {"type": "enabled", "budget_tokens": 1024}

STOP_PROMPT = user("Answer inside <answer></answer> tags: what is six times seven?")
STOP = ["</answer>"]


def stream_final(client, **params):
    """Stream a request; return (wire events, final message)."""
    with client.messages.stream(**params) as stream:
        events = [e for e in stream if e.type not in SDK_DERIVED_EVENTS]
        final = stream.get_final_message()
    return events, final


def deltas(events, kind):
    return [e.delta for e in events if e.type == "content_block_delta" and e.delta.type == kind]


# -- thinking -------------------------------------------------------------------------


def test_thinking_block_comes_first_with_a_signature(client):
    message = client.messages.create(model=MODEL, max_tokens=2048, thinking=THINKING, messages=THINK_PROMPT)

    assert message.content[0].type == "thinking"
    assert message.content[0].thinking.strip(), "thinking text is empty"
    assert message.content[0].signature.startswith("E"), message.content[0].signature
    assert [b.type for b in message.content[1:]].count("text") >= 1, [b.type for b in message.content]
    assert text_of(message).strip()
    assert message.stop_reason == "end_turn"
    assert message.usage.output_tokens < 2048


def test_thinking_is_deterministic(client):
    first = client.messages.create(model=MODEL, max_tokens=2048, thinking=THINKING, messages=THINK_PROMPT)
    second = client.messages.create(model=MODEL, max_tokens=2048, thinking=THINKING, messages=THINK_PROMPT)

    assert dump(second.content) == dump(first.content)


def test_thinking_streamed_matches_create(client):
    params = dict(model=MODEL, max_tokens=2048, thinking=THINKING, messages=THINK_PROMPT)
    created = client.messages.create(**params)
    events, final = stream_final(client, **params)

    assert dump(final.content) == dump(created.content)
    assert final.stop_reason == created.stop_reason
    assert final.usage.output_tokens == created.usage.output_tokens
    thinking_text = "".join(d.thinking for d in deltas(events, "thinking_delta"))
    assert thinking_text == created.content[0].thinking
    signatures = deltas(events, "signature_delta")
    assert len(signatures) == 1, "expected exactly one signature_delta"
    assert signatures[0].signature == created.content[0].signature
    # the signature is the last delta of the thinking block
    block0 = [e for e in events if getattr(e, "index", None) == 0 and e.type == "content_block_delta"]
    assert block0[-1].delta.type == "signature_delta"


def test_thinking_display_omitted(client):
    thinking = {"type": "enabled", "budget_tokens": 1024, "display": "omitted"}
    message = client.messages.create(model=MODEL, max_tokens=2048, thinking=thinking, messages=THINK_PROMPT)

    assert message.content[0].type == "thinking"
    assert message.content[0].thinking == ""
    assert message.content[0].signature, "signature missing with display: omitted"
    assert text_of(message).strip()

    _, final = stream_final(client, model=MODEL, max_tokens=2048, thinking=thinking, messages=THINK_PROMPT)
    assert dump(final.content) == dump(message.content)


def test_adaptive_thinking(client):
    message = client.messages.create(
        model=MODEL, max_tokens=2048, thinking={"type": "adaptive"}, messages=THINK_PROMPT
    )

    assert message.content[0].type == "thinking"
    assert message.content[0].signature.startswith("E")
    assert text_of(message).strip()


# -- stop sequences ----------------------------------------------------------------------


def test_stop_sequence_stops_the_text(client):
    message = client.messages.create(model=MODEL, max_tokens=1024, stop_sequences=STOP, messages=STOP_PROMPT)

    assert message.stop_reason == "stop_sequence"
    assert message.stop_sequence == "</answer>"
    assert "</answer>" not in text_of(message)
    assert message.usage.output_tokens > 0


def test_stop_sequence_streamed(client):
    params = dict(model=MODEL, max_tokens=1024, stop_sequences=STOP, messages=STOP_PROMPT)
    created = client.messages.create(**params)
    events, final = stream_final(client, **params)

    streamed_text = "".join(d.text for d in deltas(events, "text_delta"))
    assert "</answer>" not in streamed_text
    assert final.stop_reason == "stop_sequence"
    assert final.stop_sequence == "</answer>"
    assert dump(final.content) == dump(created.content)
    message_deltas = [e for e in events if e.type == "message_delta"]
    assert message_deltas and message_deltas[-1].delta.stop_sequence == "</answer>"


def test_first_of_several_stop_sequences(client):
    message = client.messages.create(
        model=MODEL, max_tokens=1024, stop_sequences=["</answer>", "</never-used-stop>"], messages=STOP_PROMPT
    )

    assert message.stop_reason == "stop_sequence"
    assert message.stop_sequence in ("</answer>", "</never-used-stop>")
    assert message.stop_sequence not in text_of(message)


# -- max_tokens ---------------------------------------------------------------------------


def test_max_tokens_cuts_the_answer(client):
    message = client.messages.create(model=MODEL, max_tokens=5, messages=user("Tell me a long story about a tape."))

    assert message.stop_reason == "max_tokens"
    assert 0 < message.usage.output_tokens <= 5
    full = client.messages.create(model=MODEL, max_tokens=1024, messages=user("Tell me a long story about a tape."))
    assert len(text_of(message)) < len(text_of(full))


def test_max_tokens_streamed(client):
    params = dict(model=MODEL, max_tokens=5, messages=user("Tell me a long story about a tape."))
    created = client.messages.create(**params)
    events, final = stream_final(client, **params)

    assert final.stop_reason == "max_tokens"
    assert final.usage.output_tokens == created.usage.output_tokens
    assert 0 < final.usage.output_tokens <= 5
    assert dump(final.content) == dump(created.content)


@pytest.mark.parametrize("max_tokens", [1, 16, 64])
def test_output_tokens_never_exceed_max_tokens(client, max_tokens):
    message = client.messages.create(
        model=MODEL, max_tokens=max_tokens, messages=user("Describe the history of magnetic tape in detail.")
    )

    assert 0 < message.usage.output_tokens <= max_tokens
    assert message.stop_reason in ("max_tokens", "end_turn")
    if max_tokens == 1:
        assert message.stop_reason == "max_tokens"
