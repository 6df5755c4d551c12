"""Client tools: forced tool_use blocks whose input validates against the tool's schema."""

from __future__ import annotations

import json

import jsonschema
import pytest

from support import MODEL, SDK_DERIVED_EVENTS, TOOLU_ID_RE, dump, text_of, user

WEATHER_SCHEMA = {
    "type": "object",
    "properties": {
        "location": {"type": "string"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        "days": {"type": "integer", "minimum": 1, "maximum": 7},
    },
    "required": ["location", "unit"],
}
WEATHER = {"name": "get_weather", "description": "Get the weather forecast for a place.", "input_schema": WEATHER_SCHEMA}

TIME_SCHEMA = {
    "type": "object",
    "properties": {"timezone": {"type": "string", "description": "IANA timezone, e.g. Europe/Paris"}},
    "required": ["timezone"],
}
TIME = {"name": "get_time", "description": "Get the current time in a timezone.", "input_schema": TIME_SCHEMA}

EVENT_SCHEMA = {
    "type": "object",
    "properties": {
        "title": {"type": "string", "minLength": 1},
        "attendees": {
            "type": "array",
            "minItems": 1,
            "maxItems": 3,
            "items": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "optional": {"type": "boolean"}},
                "required": ["name", "optional"],
            },
        },
        "when": {
            "type": "object",
            "properties": {
                "date": {"type": "string"},
                "duration_minutes": {"type": "number", "minimum": 15, "maximum": 240},
            },
            "required": ["date", "duration_minutes"],
        },
        "priority": {"type": "string", "enum": ["low", "normal", "high"]},
    },
    "required": ["title", "attendees", "when", "priority"],
}
EVENT = {"name": "create_event", "description": "Put an event in the calendar.", "input_schema": EVENT_SCHEMA}

SCHEMAS = {"get_weather": WEATHER_SCHEMA, "get_time": TIME_SCHEMA, "create_event": EVENT_SCHEMA}
WEATHER_PROMPT = user("What's the weather in Paris for the next three days?")


def tool_uses(message):
    return [b for b in message.content if b.type == "tool_use"]


def assert_valid_tool_use(block, allowed_names):
    assert TOOLU_ID_RE.match(block.id), block.id
    assert block.name in allowed_names, block.name
    assert isinstance(block.input, dict), block.input
    jsonschema.validate(block.input, SCHEMAS[block.name])


def forcing(tool, messages):
    """Request parameters that force a call of ``tool``."""
    return dict(
        model=MODEL,
        max_tokens=1024,
        tools=[tool],
        tool_choice={"type": "tool", "name": tool["name"]},
        messages=messages,
    )


def the_valid_tool_use(message, name):
    """The message's only tool_use block, checked to be a valid call of ``name``."""
    uses = tool_uses(message)
    assert len(uses) == 1, [b.type for b in message.content]
    assert_valid_tool_use(uses[0], {name})
    return uses[0]


def test_forced_tool_gives_a_valid_tool_use(client):
    message = client.messages.create(**forcing(WEATHER, WEATHER_PROMPT))

    the_valid_tool_use(message, "get_weather")
    assert message.stop_reason == "tool_use"
    assert message.content[-1].type == "tool_use"


def test_forced_tool_streamed_matches_create(client):
    params = forcing(WEATHER, WEATHER_PROMPT)
    created = client.messages.create(**params)
    with client.messages.stream(**params) as stream:
        events = [e for e in stream if e.type not in SDK_DERIVED_EVENTS]
        final = stream.get_final_message()

    assert final.stop_reason == "tool_use"
    assert dump(final.content) == dump(created.content)
    (streamed,) = tool_uses(final)
    assert streamed.input == tool_uses(created)[0].input
    assert streamed.id == tool_uses(created)[0].id
    # the input arrives as input_json_delta pieces whose concatenation is the input
    starts = [e for e in events if e.type == "content_block_start" and e.content_block.type == "tool_use"]
    assert len(starts) == 1 and starts[0].content_block.input == {}
    index = starts[0].index
    pieces = [
        e.delta.partial_json
        for e in events
        if e.type == "content_block_delta" and e.index == index and e.delta.type == "input_json_delta"
    ]
    assert pieces, "no input_json_delta events"
    assert json.loads("".join(pieces)) == streamed.input


def test_tool_choice_any_with_two_tools(client):
    message = client.messages.create(
        model=MODEL,
        max_tokens=1024,
        tools=[WEATHER, TIME],
        tool_choice={"type": "any"},
        messages=user("What time is it in Tokyo, and is it raining there?"),
    )

    uses = tool_uses(message)
    assert len(uses) >= 1, [b.type for b in message.content]
    for block in uses:
        assert_valid_tool_use(block, {"get_weather", "get_time"})
    assert len({b.id for b in uses}) == len(uses), "tool_use ids must be unique"
    assert message.stop_reason == "tool_use"


def test_nested_schema_input_validates(client):
    message = client.messages.create(**forcing(EVENT, user("Book a planning meeting with Ana and Bo next Tuesday.")))

    the_valid_tool_use(message, "create_event")


@pytest.mark.parametrize("city", ["Oslo", "Lima", "Nairobi"])
def test_tool_input_is_valid_for_many_prompts(client, city):
    message = client.messages.create(**forcing(WEATHER, user(f"Weather in {city}?")))

    the_valid_tool_use(message, "get_weather")


def as_param(block):
    if block.type == "tool_use":
        return {"type": "tool_use", "id": block.id, "name": block.name, "input": block.input}
    assert block.type == "text", block.type
    return {"type": "text", "text": block.text}


def test_tool_result_round_trip(client):
    """Answering the tool_use with a tool_result is accepted and produces a text answer."""
    first = client.messages.create(**forcing(WEATHER, WEATHER_PROMPT))
    use = the_valid_tool_use(first, "get_weather")

    follow_up = client.messages.create(
        model=MODEL,
        max_tokens=1024,
        tools=[WEATHER],
        tool_choice={"type": "none"},
        messages=[
            *WEATHER_PROMPT,
            {"role": "assistant", "content": [as_param(b) for b in first.content]},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "Sunny, 21 degrees."}],
            },
        ],
    )

    assert follow_up.stop_reason == "end_turn"
    assert not tool_uses(follow_up)
    assert text_of(follow_up).strip()
