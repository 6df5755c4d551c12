"""The assistant's tests: each records into, and replays from, its own cassette in tests/cassettes/."""

import asyncio

import pytest

import assistant


def test_summarize(anthropic_client):
    assert assistant.summarize("Tapedeck records API answers and replays them offline.", anthropic_client)


@pytest.mark.tapedeck
def test_code_that_builds_its_own_client():
    # No fixture: the marker sets ANTHROPIC_BASE_URL to this test's cassette.
    assert assistant.summarize("The base URL names the cassette.")


def test_stream(anthropic_client):
    text, stop_reason = assistant.stream_answer("Count to three.", anthropic_client)
    assert text and stop_reason in ("end_turn", "max_tokens")


def test_async(async_anthropic_client):
    assert asyncio.run(assistant.ask_async("Say hello.", async_anthropic_client))


@pytest.mark.parametrize("city", ["Paris", "Tokyo"])  # one cassette per case
def test_capital(anthropic_client, city):
    message = anthropic_client.messages.create(
        model=assistant.MODEL, max_tokens=64, messages=[{"role": "user", "content": f"Is {city} a capital city?"}]
    )
    assert message.stop_reason in ("end_turn", "max_tokens")


@pytest.mark.tapedeck(match_ignore=["$.metadata"])
def test_langchain(tapedeck):
    assert assistant.langchain_reply("What is a cassette?")
    assert [entry["source"] for entry in tapedeck.journal()] in (["recorded"], ["proxied"])


@pytest.mark.tapedeck(fault="overloaded", on_miss="synthesize")
def test_overloaded_is_an_error_the_sdk_raises(anthropic_client):
    import anthropic

    with pytest.raises(anthropic.APIStatusError) as raised:
        anthropic_client.with_options(max_retries=0).messages.create(
            model=assistant.MODEL, max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        )
    assert raised.value.status_code == 529
