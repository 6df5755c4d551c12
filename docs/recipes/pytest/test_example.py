"""Tests that use the fixtures in conftest.py; each one records into, and replays from, its own cassette."""

import pytest

MODEL = "claude-sonnet-4-5"


def summarize(client, text: str) -> str:
    """The code under test: it takes its client as an argument, so a test can hand it one."""
    message = client.messages.create(
        model=MODEL, max_tokens=256, messages=[{"role": "user", "content": f"Summarize in one line: {text}"}]
    )
    return "".join(block.text for block in message.content if block.type == "text")


def test_summarize(claude):
    assert summarize(claude, "Tapedeck records API answers and replays them offline.")


def test_stream(claude):
    with claude.messages.stream(
        model=MODEL, max_tokens=256, messages=[{"role": "user", "content": "Count to three."}]
    ) as stream:
        text = "".join(stream.text_stream)
        message = stream.get_final_message()
    assert text == message.content[0].text


@pytest.mark.parametrize("city", ["Paris", "Tokyo"])  # one cassette per case: ..._test_capital_Paris.sqlite
def test_capital(claude, city):
    message = claude.messages.create(
        model=MODEL, max_tokens=64, messages=[{"role": "user", "content": f"Is {city} a capital city?"}]
    )
    assert message.stop_reason in ("end_turn", "max_tokens")


def test_cassette_from_base_url(claude_via_url):
    assert summarize(claude_via_url, "The base URL can name the cassette, too.")
