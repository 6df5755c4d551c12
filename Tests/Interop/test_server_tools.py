"""The API's own tools in synthesized turns: ``web_search``, ``web_fetch`` and ``code_execution`` answer with
``server_tool_use`` blocks and their result blocks, a search is cited by the text after it, ``max_uses`` caps the
calls, and ``usage.server_tool_use`` counts them; the stream carries the same blocks in the API's grammar."""

from __future__ import annotations

import pytest

from support import MODEL, TapedeckServer, make_client, user

SEARCH_VERSIONS = ["web_search_20250305", "web_search_20260209", "web_search_20260318"]
FETCH_VERSIONS = ["web_fetch_20250910", "web_fetch_20260209", "web_fetch_20260309", "web_fetch_20260318"]
CODE_VERSIONS = ["code_execution_20250522", "code_execution_20250825", "code_execution_20260120", "code_execution_20260521"]


def field(value, *keys):
    """``value.a.b``, also where an SDK without the block's type keeps it as a plain dict (0.75: web_fetch and
    the bash code-execution results)."""
    for key in keys:
        value = value[key] if isinstance(value, dict) else getattr(value, key)
    return value


def create(client, tool: dict, prompt: str, stream: bool):
    body = dict(model=MODEL, max_tokens=512, tools=[tool], messages=user(prompt))
    if stream:
        with client.messages.stream(**body) as s:
            events = [e.type for e in s]
            return s.get_final_message(), events
    return client.messages.create(**body), None


@pytest.mark.parametrize("version", SEARCH_VERSIONS)
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_web_search_blocks_parse_and_cite(tapedeck: TapedeckServer, version: str, stream: bool):
    client = make_client(tapedeck.base_url)
    message, events = create(client, {"type": version, "name": "web_search"}, "Search the latest tape news", stream)
    types = [b.type for b in message.content]
    assert types[:5] == ["server_tool_use", "web_search_tool_result", "server_tool_use", "web_search_tool_result", "text"]
    call, result = message.content[0], message.content[1]
    assert call.id.startswith("srvtoolu_01") and call.name == "web_search"
    assert call.input == {"query": "Search the latest tape news"}
    assert result.tool_use_id == call.id
    first = result.content[0]
    assert first.url == "https://docs.example.com/search-the-latest-tape-news" and first.title
    assert first.encrypted_content.startswith("E")
    citation = message.content[4].citations[0]
    assert citation.type == "web_search_result_location" and citation.url == first.url
    assert message.usage.server_tool_use.web_search_requests == 2
    assert message.stop_reason == "end_turn"
    if stream:
        assert events[0] == "message_start" and events[-1] == "message_stop"
        assert "citation" in events or "content_block_delta" in events


def test_stream_and_json_agree(tapedeck: TapedeckServer):
    client = make_client(tapedeck.base_url)
    tool = {"type": "web_search_20250305", "name": "web_search"}
    plain, _ = create(client, tool, "search reels", False)
    streamed, _ = create(client, tool, "search reels", True)
    assert plain.model_dump(exclude_none=True)["content"] == streamed.model_dump(exclude_none=True)["content"]


def test_max_uses_is_honoured(tapedeck: TapedeckServer):
    client = make_client(tapedeck.base_url)
    message, _ = create(client, {"type": "web_search_20250305", "name": "web_search", "max_uses": 1}, "search tapes", False)
    error = message.content[3].content
    assert error.type == "web_search_tool_result_error" and error.error_code == "max_uses_exceeded"
    assert message.usage.server_tool_use.web_search_requests == 1


@pytest.mark.parametrize("version", FETCH_VERSIONS)
def test_web_fetch_reads_the_url(tapedeck: TapedeckServer, version: str):
    client = make_client(tapedeck.base_url)
    message, _ = create(client, {"type": version, "name": "web_fetch"}, "Summarize https://example.org/reels", False)
    result = message.content[1]
    assert result.type == "web_fetch_tool_result"
    assert field(result, "content", "url") == "https://example.org/reels"
    assert field(result, "content", "content", "source", "data").startswith("This page describes")
    assert message.usage.server_tool_use.web_fetch_requests == 1


@pytest.mark.parametrize("version", CODE_VERSIONS)
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_code_execution_prints(tapedeck: TapedeckServer, version: str, stream: bool):
    client = make_client(tapedeck.base_url)
    message, _ = create(client, {"type": version, "name": "code_execution"}, "Run a python check", stream)
    call, result = message.content[0], message.content[1]
    bash = version != "code_execution_20250522"
    assert call.name == ("bash_code_execution" if bash else "code_execution")
    assert result.type == ("bash_code_execution_tool_result" if bash else "code_execution_tool_result")
    assert field(result, "content", "return_code") == 0 and field(result, "content", "stdout").endswith("\n")
    assert field(result, "content", "type") == ("bash_code_execution_result" if bash else "code_execution_result")
