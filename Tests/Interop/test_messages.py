"""POST /v1/messages through the SDK: plain text, determinism, streaming."""

from __future__ import annotations

import re

from support import MODEL, MSG_ID_RE, REQ_ID_RE, SDK_DERIVED_EVENTS, dump, start_tapedeck, text_of, user

PROMPT = user("Write two sentences about cassette tapes.")


def create(client, messages=PROMPT, **kwargs):
    return client.messages.create(model=MODEL, max_tokens=1024, messages=messages, **kwargs)


def test_create_returns_a_well_formed_text_message(client):
    message = create(client)

    assert message.type == "message"
    assert message.role == "assistant"
    assert message.model.startswith(MODEL), message.model
    assert len(message.content) >= 1
    assert message.content[0].type == "text"
    assert message.content[0].text.strip(), "text block is empty"
    assert message.stop_reason == "end_turn"
    assert message.stop_sequence is None
    assert MSG_ID_RE.match(message.id), message.id
    assert message.usage.input_tokens > 0
    assert message.usage.output_tokens > 0
    # Both SDK generations copy the `request-id` response header onto the parsed model.
    request_id = getattr(message, "_request_id", None)
    assert request_id is not None, "no request-id header on the response"
    assert REQ_ID_RE.match(request_id), request_id


def test_raw_response_headers(client):
    raw = client.messages.with_raw_response.create(model=MODEL, max_tokens=1024, messages=PROMPT)

    assert raw.http_request.url.path == "/v1/messages"
    assert raw.status_code == 200
    assert raw.headers["content-type"].startswith("application/json")
    assert REQ_ID_RE.match(raw.headers["request-id"]), raw.headers["request-id"]
    message = raw.parse()
    assert message._request_id == raw.headers["request-id"]
    assert dump(message.content) == dump(create(client).content)


def test_same_request_gives_the_same_answer(client):
    first = create(client)
    second = create(client)

    assert second.id == first.id
    assert dump(second.content) == dump(first.content)
    assert dump(second.usage) == dump(first.usage)
    assert second.stop_reason == first.stop_reason


def test_different_prompt_gives_a_different_answer(client):
    first = create(client)
    other = create(client, messages=user("Explain what a tape deck does, briefly."))

    assert text_of(other) != text_of(first)
    assert other.id != first.id


def test_answer_is_the_same_from_a_fresh_server(client):
    """Synthetic answers depend on the request only: a second process, with its own empty cassette, agrees."""
    first = create(client)
    with start_tapedeck() as other_server:
        with other_server.client() as other_client:
            again = create(other_client)

    assert again.id == first.id
    assert dump(again.content) == dump(first.content)


def test_system_prompt_changes_the_answer(client):
    plain = create(client)
    with_system = create(client, system="You are a terse assistant.")

    assert with_system.usage.input_tokens > plain.usage.input_tokens
    assert with_system.id != plain.id


def test_stream_matches_create(client):
    created = create(client)

    with client.messages.stream(model=MODEL, max_tokens=1024, messages=PROMPT) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
        request_id = stream.request_id

    assert text.strip()
    assert text_of(final) == text
    assert text == text_of(created)
    assert dump(final.content) == dump(created.content)
    assert final.stop_reason == created.stop_reason == "end_turn"
    assert final.usage.output_tokens == created.usage.output_tokens
    assert final.usage.input_tokens == created.usage.input_tokens
    assert final.id == created.id
    assert request_id is not None and REQ_ID_RE.match(request_id), request_id


def test_stream_event_order(client):
    """The SDK sees message_start, per-block start/delta/stop in index order, message_delta, message_stop."""
    with client.messages.stream(model=MODEL, max_tokens=1024, messages=PROMPT) as stream:
        events = [e for e in stream if e.type not in SDK_DERIVED_EVENTS]

    types = [e.type for e in events if e.type != "ping"]
    assert types[0] == "message_start"
    assert types[-1] == "message_stop"
    assert types[-2] == "message_delta"
    assert "content_block_delta" in types
    open_index = None
    next_index = 0
    for e in events:
        if e.type == "content_block_start":
            assert open_index is None and e.index == next_index
            open_index = e.index
        elif e.type == "content_block_delta":
            assert e.index == open_index
        elif e.type == "content_block_stop":
            assert e.index == open_index
            open_index, next_index = None, next_index + 1
    assert open_index is None
    assert next_index >= 1
    start = events[0].message
    assert start.content == [] and start.stop_reason is None
    assert MSG_ID_RE.match(start.id), start.id


def test_a_question_for_a_python_function_gets_a_python_code_block(client):
    """Synthetic text answers the shape of the question: code in the language asked for, fenced, that parses."""
    prompt = user("Write a Python function that reverses a string.")
    text = text_of(create(client, messages=prompt))

    assert text.count("```") == 2, text
    assert "\n\n```python\n" in text, text
    code = text.split("```python\n", 1)[1].split("\n```", 1)[0]
    assert "def reverse_string(" in code, code
    compile(code, "<synthetic answer>", "exec")
    with client.messages.stream(model=MODEL, max_tokens=1024, messages=prompt) as stream:
        assert "".join(stream.text_stream) == text


def test_a_request_for_steps_or_a_list_gets_numbered_lines(client):
    steps = text_of(create(client, messages=user("How do I reset my router? Walk me through the steps."))).splitlines()
    numbered = [line for line in steps if re.match(r"\d+\. [A-Z]", line)]
    assert len(numbered) >= 2, steps
    assert [int(line.split(".")[0]) for line in numbered] == list(range(1, len(numbered) + 1)), steps
    assert "reset your router" in steps[0], steps[0]

    tips = text_of(create(client, messages=user("List 5 tips for better sleep."))).splitlines()
    assert [line.split(".")[0] for line in tips if re.match(r"\d+\. ", line)] == ["1", "2", "3", "4", "5"], tips
