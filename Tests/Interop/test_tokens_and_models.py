"""POST /v1/messages/count_tokens and GET /v1/models[/{id}]."""

from __future__ import annotations

import anthropic
import pytest

from support import MODEL, user
from test_tools import WEATHER

SYSTEM = "You are a careful assistant that answers in one paragraph."
MESSAGES = [
    {"role": "user", "content": "Summarize the plot of Hamlet."},
    {"role": "assistant", "content": "A prince seeks revenge for his father's murder."},
    {"role": "user", "content": [{"type": "text", "text": "Now in more detail, please."}]},
]

# claude-sonnet-4-5 may be listed under its dated id.
EXPECTED_MODELS = [
    ("claude-opus-4-7",),
    ("claude-sonnet-4-5", "claude-sonnet-4-5-20250929"),
    ("deepseek-v4-pro",),
    ("kimi-k2.6",),
    ("claude-3-7-sonnet-20250219",),
]


# -- count_tokens ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param({}, id="messages"),
        pytest.param({"system": SYSTEM}, id="system"),
        pytest.param({"system": SYSTEM, "tools": [WEATHER]}, id="system+tools"),
    ],
)
def test_count_tokens_equals_usage_input_tokens(client, extra):
    counted = client.messages.count_tokens(model=MODEL, messages=MESSAGES, **extra)
    created = client.messages.create(model=MODEL, max_tokens=1024, messages=MESSAGES, **extra)

    assert counted.input_tokens > 0
    assert counted.input_tokens == created.usage.input_tokens


def test_count_tokens_grows_with_the_prompt(client):
    short = client.messages.count_tokens(model=MODEL, messages=user("Hi."))
    long = client.messages.count_tokens(model=MODEL, messages=user("Tell me about tape decks. " * 200))

    assert 0 < short.input_tokens < long.input_tokens


def test_count_tokens_counts_tools(client):
    without = client.messages.count_tokens(model=MODEL, messages=MESSAGES)
    with_tools = client.messages.count_tokens(model=MODEL, messages=MESSAGES, tools=[WEATHER])

    assert with_tools.input_tokens > without.input_tokens


def test_count_tokens_unknown_model_is_not_found(client):
    with pytest.raises(anthropic.NotFoundError):
        client.messages.count_tokens(model="nope-model-1", messages=user("Hi."))


# -- models ------------------------------------------------------------------------------


def list_all_ids(client, **params):
    ids = []
    for model in client.models.list(**params):  # auto-paginates
        ids.append(model.id)
        assert len(ids) <= 1000, "auto-pagination does not terminate (has_more / last_id wrong?)"
    return ids


def test_models_list_contains_the_known_models(client):
    ids = list_all_ids(client)

    for alternatives in EXPECTED_MODELS:
        assert any(a in ids for a in alternatives), f"none of {alternatives} in {ids}"
    assert len(ids) == len(set(ids)), f"duplicate ids: {ids}"


def test_models_first_page_shape(client):
    page = client.models.list()
    everything = list_all_ids(client)

    assert page.data, "empty model list"
    assert page.has_more is not None, "has_more must always be sent"
    assert page.has_more == (len(everything) > len(page.data))
    assert page.first_id == page.data[0].id
    assert page.last_id == page.data[-1].id
    for model in page.data:
        assert model.type == "model"
        assert model.display_name
        assert model.created_at is not None


def test_models_small_pages_cover_the_same_list(client):
    everything = list_all_ids(client)
    paged = list_all_ids(client, limit=2)

    assert paged == everything
    first = client.models.list(limit=2)
    assert len(first.data) == min(2, len(everything))
    assert first.has_more == (len(everything) > 2)


def test_models_retrieve(client):
    model = client.models.retrieve("claude-3-7-sonnet-20250219")

    assert model.id == "claude-3-7-sonnet-20250219"
    assert model.type == "model"
    assert model.display_name


def test_models_retrieve_unknown_is_not_found(client):
    with pytest.raises(anthropic.NotFoundError) as info:
        client.models.retrieve("nope-model-1")

    assert info.value.status_code == 404
    assert info.value.response.json()["error"]["type"] == "not_found_error"
