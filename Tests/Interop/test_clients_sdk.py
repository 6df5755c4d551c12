"""The 2.x SDK's own helpers against synthesis (issue 17): structured outputs, strict tools, the beta tool runner,
the agent loop's end, and every model id the SDK lists.

* ``messages.parse(output_format=Model)`` and ``output_config.format`` (plain and streamed): the text is JSON that
  validates against the schema, the same on a second call, and a stream's text deltas join to it.
* A tool with ``strict: true``: its synthesized input validates against its schema.
* ``beta.messages.tool_runner`` with a ``@beta_tool`` (it sends ``thread`` and beta ``message-threads-2026-08-12``):
  the tool is called, then the loop ends with ``end_turn`` text.
* After a ``tool_result``, synthesis answers text with ``end_turn`` unless ``tool_choice`` forces a tool.
* Every id in the SDK's ``ModelParam`` is served (``messages.create`` and ``models.retrieve``), and the models in
  its ``DEPRECATED_MODELS`` carry that end-of-life date as ``retires_at``.
"""

from __future__ import annotations

import datetime
import json
import re
import typing
from typing import Literal

import pytest

pytest.importorskip("anthropic", minversion="2", reason="structured outputs and the tool runner are 2.x SDK helpers")

import anthropic  # noqa: E402
import jsonschema  # noqa: E402
import pydantic  # noqa: E402
from anthropic import beta_tool  # noqa: E402
from anthropic._data import DEPRECATED_MODELS  # noqa: E402
from anthropic.types import model_param  # noqa: E402

from support import MODEL, text_of, user  # noqa: E402


class City(pydantic.BaseModel):
    name: str
    country: str
    population: int
    landmarks: list[str]
    coastal: bool


REVIEW_SCHEMA = {
    "type": "object",
    "properties": {
        "verdict": {"type": "string", "enum": ["approve", "reject", "revise"]},
        "score": {"type": "integer", "minimum": 1, "maximum": 10},
        "summary": {"type": "string"},
        "issues": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"line": {"type": "integer"}, "note": {"type": "string"}},
                "required": ["line", "note"],
                "additionalProperties": False,
            },
        },
    },
    "required": ["verdict", "score", "summary", "issues"],
    "additionalProperties": False,
}
JSON_FORMAT = {"format": {"type": "json_schema", "schema": REVIEW_SCHEMA}}

STRICT_TOOL = {
    "name": "book_flight",
    "description": "Book a flight between two airports.",
    "strict": True,
    "input_schema": {
        "type": "object",
        "properties": {
            "origin": {"type": "string", "pattern": "^[A-Z]{3}$"},
            "destination": {"type": "string", "pattern": "^[A-Z]{3}$"},
            "passengers": {"type": "integer", "minimum": 1, "maximum": 9},
            "cabin": {"type": "string", "enum": ["economy", "business", "first"]},
            "flexible": {"type": "boolean"},
        },
        "required": ["origin", "destination", "passengers", "cabin", "flexible"],
        "additionalProperties": False,
    },
}

WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Get the current weather in a city.",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def sdk_model_ids() -> list[str]:
    """The literal ids of ``anthropic.types.ModelParam`` (``Union[Literal[...], str]``)."""
    literal = next(arg for arg in typing.get_args(model_param.ModelParam) if typing.get_origin(arg) is Literal)
    return list(typing.get_args(literal))


def validated_json(text: str, schema: dict) -> object:
    try:
        value = json.loads(text)
    except ValueError as e:
        pytest.fail(f"the answer is not JSON ({e}): {text[:300]!r}")
    jsonschema.validate(value, schema)
    return value


# -- structured outputs ------------------------------------------------------------------


def test_parse_with_output_format_model(client: anthropic.Anthropic) -> None:
    def parsed() -> anthropic.types.ParsedMessage:
        return client.messages.parse(
            model=MODEL, max_tokens=1024, messages=user("Describe the largest city in France."), output_format=City
        )

    first, second = parsed(), parsed()
    assert isinstance(first.parsed_output, City), text_of(first)
    validated_json(text_of(first), City.model_json_schema())
    assert first.parsed_output == second.parsed_output
    assert text_of(first) == text_of(second)
    assert first.stop_reason == "end_turn"


def test_output_config_json_schema(client: anthropic.Anthropic) -> None:
    def create() -> anthropic.types.Message:
        return client.messages.create(
            model=MODEL, max_tokens=1024, messages=user("Review this patch: it renames a variable."), output_config=JSON_FORMAT
        )

    first, second = create(), create()
    assert [b.type for b in first.content] == ["text"], first.content
    validated_json(text_of(first), REVIEW_SCHEMA)
    assert text_of(first) == text_of(second)


def test_output_config_json_schema_streamed(client: anthropic.Anthropic) -> None:
    def streamed() -> tuple[str, anthropic.types.Message]:
        with client.messages.stream(
            model=MODEL, max_tokens=1024, messages=user("Review this patch: it adds a test."), output_config=JSON_FORMAT
        ) as stream:
            deltas = "".join(
                e.delta.text for e in stream if e.type == "content_block_delta" and e.delta.type == "text_delta"
            )
            return deltas, stream.get_final_message()

    (deltas, final), (again, _) = streamed(), streamed()
    assert deltas == text_of(final)
    validated_json(deltas, REVIEW_SCHEMA)
    assert deltas == again
    # The same request without streaming gets the same JSON.
    plain = client.messages.create(
        model=MODEL, max_tokens=1024, messages=user("Review this patch: it adds a test."), output_config=JSON_FORMAT
    )
    assert text_of(plain) == deltas


def test_stream_with_output_format_model(client: anthropic.Anthropic) -> None:
    with client.messages.stream(
        model=MODEL, max_tokens=1024, messages=user("Describe a coastal city."), output_format=City
    ) as stream:
        final = stream.get_final_message()
    assert isinstance(final.parsed_output, City), text_of(final)


def test_strict_tool_input_matches_its_schema(client: anthropic.Anthropic) -> None:
    for choice in ({"type": "tool", "name": "book_flight"}, {"type": "any"}):
        message = client.messages.create(
            model=MODEL,
            max_tokens=1024,
            messages=user("Book two business seats from Paris to Tokyo."),
            tools=[STRICT_TOOL],
            tool_choice=choice,
        )
        calls = [b for b in message.content if b.type == "tool_use"]
        assert len(calls) == 1 and calls[0].name == "book_flight", message.content
        jsonschema.validate(calls[0].input, STRICT_TOOL["input_schema"])
        assert message.stop_reason == "tool_use"


# -- the agent loop ------------------------------------------------------------------------


def tool_exchange() -> list[dict]:
    return [
        {"role": "user", "content": "What is the weather in Paris? Use get_weather."},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "toolu_01A", "name": "get_weather", "input": {"city": "Paris"}}],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_01A", "content": "Sunny, 21 C"}]},
    ]


def test_after_a_tool_result_synthesis_answers_text(client: anthropic.Anthropic) -> None:
    for choice in (None, {"type": "auto"}):
        extra = {} if choice is None else {"tool_choice": choice}
        message = client.messages.create(
            model=MODEL, max_tokens=1024, messages=tool_exchange(), tools=[WEATHER_TOOL], **extra
        )
        assert message.stop_reason == "end_turn", (choice, message.content)
        assert [b.type for b in message.content if b.type != "thinking"] == ["text"]


def test_after_a_tool_result_a_forced_tool_is_still_called(client: anthropic.Anthropic) -> None:
    for choice in ({"type": "any"}, {"type": "tool", "name": "get_weather"}):
        message = client.messages.create(
            model=MODEL, max_tokens=1024, messages=tool_exchange(), tools=[WEATHER_TOOL], tool_choice=choice
        )
        assert message.stop_reason == "tool_use", (choice, message.content)


def test_beta_tool_runner_calls_the_tool_then_ends(client: anthropic.Anthropic) -> None:
    calls: list[str] = []

    @beta_tool
    def get_weather(city: str) -> str:
        """Get the current weather in a city."""
        calls.append(city)
        return f"Sunny, 21 C in {city}"

    runner = client.beta.messages.tool_runner(
        model=MODEL,
        max_tokens=1024,
        tools=[get_weather],
        messages=user("What is the weather in Paris? Use get_weather."),
        max_iterations=6,
    )
    replies = list(runner)
    assert calls, f"the tool was never called: {[r.stop_reason for r in replies]}"
    assert replies[0].stop_reason == "tool_use"
    last = replies[-1]
    assert last.stop_reason == "end_turn", [r.stop_reason for r in replies]
    assert any(b.type == "text" and b.text for b in last.content)
    assert len(replies) < 6, "the loop ran to max_iterations"


# -- every model the SDK lists -------------------------------------------------------------


@pytest.mark.parametrize("model", sdk_model_ids())
def test_every_sdk_model_id_is_served(client: anthropic.Anthropic, model: str) -> None:
    message = client.messages.create(model=model, max_tokens=64, messages=user("Hello"))
    assert message.stop_reason in ("end_turn", "max_tokens")
    info = client.models.retrieve(model)
    assert info.id == model or info.id.startswith(model), info


def end_of_life(text: str) -> datetime.date:
    """The SDK's ``DEPRECATED_MODELS`` dates read like "November 30th, 2026"."""
    return datetime.datetime.strptime(re.sub(r"(\d+)(st|nd|rd|th)", r"\1", text), "%B %d, %Y").date()


@pytest.mark.parametrize("model", sorted(DEPRECATED_MODELS))
def test_sdk_deprecated_models_carry_their_end_of_life(client: anthropic.Anthropic, model: str) -> None:
    info = client.models.retrieve(model).model_dump(mode="json")
    dates = {k: info.get(k) for k in ("id", "lifecycle", "deprecated_at", "retires_at")}
    assert info.get("lifecycle") == "deprecated", dates
    assert (info.get("retires_at") or "")[:10] == end_of_life(DEPRECATED_MODELS[model]).isoformat(), dates
    # The SDK carries only the end of life; a deprecation date is given only where it is known, and never after it.
    assert info.get("deprecated_at") is None or info["deprecated_at"] <= info["retires_at"], dates
