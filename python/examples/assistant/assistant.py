"""The code under test: a tiny assistant on the Anthropic SDK and on LangChain. It knows nothing of tapedeck; it
builds its clients from the environment (ANTHROPIC_BASE_URL, ANTHROPIC_API_KEY), as most apps do."""

from __future__ import annotations

import anthropic

MODEL = "claude-sonnet-4-6"


def summarize(text: str, client: anthropic.Anthropic | None = None) -> str:
    client = client or anthropic.Anthropic()
    message = client.messages.create(
        model=MODEL, max_tokens=200, messages=[{"role": "user", "content": f"Summarize in one line: {text}"}]
    )
    return "".join(block.text for block in message.content if block.type == "text")


def stream_answer(question: str, client: anthropic.Anthropic) -> tuple[str, str]:
    with client.messages.stream(model=MODEL, max_tokens=200, messages=[{"role": "user", "content": question}]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    return text, final.stop_reason


async def ask_async(question: str, client: anthropic.AsyncAnthropic) -> str:
    message = await client.messages.create(model=MODEL, max_tokens=100, messages=[{"role": "user", "content": question}])
    return message.content[0].text


def langchain_reply(question: str) -> str:
    from langchain_anthropic import ChatAnthropic

    return ChatAnthropic(model=MODEL, max_tokens=100).invoke(question).content
