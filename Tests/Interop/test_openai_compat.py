"""Anthropic's OpenAI SDK compatibility layer, `POST /v1/chat/completions` (issue 19), driven by the OpenAI Python
SDK: JSON and streamed completions, tool calls, usage and errors, answered by the Messages engine (a Messages
recording answers a chat call too), and recorded as it is through the fake upstream."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from support import MODEL, REQUEST_TIMEOUT, start_fake_upstream, start_tapedeck

openai = pytest.importorskip("openai")  # in requirements-2.txt; the 0.75 venv skips this module

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}},
            "required": ["city", "unit"],
        },
    },
}


def chat_client(base_url: str):
    return openai.OpenAI(api_key="test-key", base_url=base_url + "/v1/", max_retries=0, timeout=REQUEST_TIMEOUT)


def test_a_completion_is_a_synthesized_message_translated(tmp_path: Path) -> None:
    with start_tapedeck() as server:
        client = chat_client(server.base_url)
        messages = [
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": "Answer in English."},
            {"role": "user", "content": "Say hello."},
        ]
        first = client.chat.completions.create(model=MODEL, messages=messages, max_tokens=50, seed=7, user="ignored")
        again = client.chat.completions.create(model=MODEL, messages=messages, max_tokens=50)
        choice = first.choices[0]
        assert first.object == "chat.completion" and len(first.choices) == 1
        assert choice.message.role == "assistant" and choice.message.content
        assert choice.finish_reason in ("stop", "length")
        assert first.usage.total_tokens == first.usage.prompt_tokens + first.usage.completion_tokens > 0
        assert first.id.startswith("msg_")
        assert again.choices[0].message.content == choice.message.content, "deterministic, ignored fields ignored"

        # The same Messages request through /v1/messages gets the same text: one engine answers both.
        with server.client() as anthropic_client:
            native = anthropic_client.messages.create(
                model=MODEL, max_tokens=50, system="Be brief.\nAnswer in English.", messages=[{"role": "user", "content": "Say hello."}]
            )
        assert native.content[0].text == choice.message.content


def test_streamed_chunks_end_with_done_and_carry_usage_when_asked() -> None:
    with start_tapedeck() as server:
        client = chat_client(server.base_url)
        messages = [{"role": "user", "content": "Tell me a short story."}]
        whole = client.chat.completions.create(model=MODEL, messages=messages, max_tokens=60)
        chunks = list(
            client.chat.completions.create(
                model=MODEL, messages=messages, max_tokens=60, stream=True, stream_options={"include_usage": True}
            )
        )
        assert all(c.object == "chat.completion.chunk" for c in chunks)
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert text == whole.choices[0].message.content
        finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
        assert finishes == [whole.choices[0].finish_reason]
        assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == whole.usage.total_tokens

        import httpx

        with httpx.Client(timeout=REQUEST_TIMEOUT) as http:
            raw = http.post(
                server.base_url + "/v1/chat/completions",
                headers={"authorization": "Bearer k"},
                json={"model": MODEL, "messages": messages, "max_tokens": 60, "stream": True},
            )
        frames = [f for f in raw.text.split("\n\n") if f]
        assert all(f.startswith("data: ") for f in frames), "data-only frames, as OpenAI streams are framed"
        assert frames[-1] == "data: [DONE]"


def test_tool_calls_round_trip() -> None:
    with start_tapedeck() as server:
        client = chat_client(server.base_url)
        messages = [{"role": "user", "content": "Weather in Paris?"}]
        first = client.chat.completions.create(
            model=MODEL, messages=messages, tools=[WEATHER], tool_choice="required", max_tokens=200
        )
        choice = first.choices[0]
        assert choice.finish_reason == "tool_calls"
        call = choice.message.tool_calls[0]
        assert call.type == "function" and call.function.name == "get_weather" and call.id.startswith("toolu_")
        arguments = json.loads(call.function.arguments)
        assert isinstance(arguments["city"], str) and arguments["unit"] in ("c", "f")

        streamed = list(
            client.chat.completions.create(
                model=MODEL, messages=messages, tools=[WEATHER], tool_choice="required", max_tokens=200, stream=True
            )
        )
        deltas = [d for c in streamed for d in (c.choices[0].delta.tool_calls or [])]
        assert deltas[0].id == call.id and deltas[0].function.name == "get_weather"
        assert "".join(d.function.arguments or "" for d in deltas) == call.function.arguments

        # The tool's result goes back as a `tool` message; the conversation continues.
        follow = client.chat.completions.create(
            model=MODEL,
            max_tokens=100,
            tools=[WEATHER],
            messages=messages
            + [
                {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
                {"role": "tool", "tool_call_id": call.id, "content": "18 degrees, sunny"},
            ],
            tool_choice="none",
        )
        assert follow.choices[0].finish_reason == "stop" and follow.choices[0].message.content


def test_errors_come_in_the_endpoints_envelope() -> None:
    with start_tapedeck() as server:
        client = chat_client(server.base_url)
        with pytest.raises(openai.BadRequestError) as bad:
            client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}], n=2)
        assert bad.value.status_code == 400
        assert bad.value.body["type"] == "invalid_request_error" and "n" in bad.value.body["message"]
        with pytest.raises(openai.BadRequestError) as empty:
            client.chat.completions.create(model=MODEL, messages=[], max_tokens=10)
        assert empty.value.body["message"]
        with pytest.raises(openai.NotFoundError) as unknown:
            client.chat.completions.create(model="not-a-model", messages=[{"role": "user", "content": "hi"}])
        assert unknown.value.body["type"] == "not_found_error"

    with start_tapedeck("--on-miss", "error") as server:
        with pytest.raises(openai.NotFoundError) as miss:
            chat_client(server.base_url).chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
        assert "no recorded interaction matches" in miss.value.body["message"]


def test_a_messages_recording_answers_a_chat_call_offline(tmp_path: Path) -> None:
    cassette = tmp_path / "c.sqlite"
    with start_fake_upstream() as fake:
        with start_tapedeck(
            "--mode", "record", "--upstream", fake.base_url, "--cassette", str(cassette), "--allow-upstream-in-ci"
        ) as server, server.client() as client:
            recorded = client.messages.create(model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "Hello there"}])
            chat_recorded = chat_client(server.base_url).chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": "Recorded as it is"}], max_tokens=64
            )
    with start_tapedeck("--mode", "replay", "--cassette", str(cassette), "--on-miss", "error") as server:
        client = chat_client(server.base_url)
        answer = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Hello there"}], max_tokens=64)
        assert answer.choices[0].message.content == "".join(b.text for b in recorded.content if b.type == "text")
        assert answer.id == recorded.id
        assert answer.usage.prompt_tokens == recorded.usage.input_tokens
        again = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Recorded as it is"}], max_tokens=64)
        assert again.model_dump() == chat_recorded.model_dump(), "a chat call recorded as it is replays byte for byte"
