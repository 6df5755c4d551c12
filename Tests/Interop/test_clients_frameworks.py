"""Agent frameworks' structured outputs against synthesis (issue 17): each returns a parsed object.

* LangChain ``ChatAnthropic(...).with_structured_output(Model, method="json_schema")`` sends ``output_config.format``
  (and the default ``function_calling`` method a forced tool);
* LiteLLM ``completion(model="anthropic/...", response_format=Model)`` sends the older top-level ``output_format``
  with beta ``structured-outputs-2025-11-13`` and ``anthropic-version: 2023-06-01``;
* pydantic-ai ``Agent(AnthropicModel(...), output_type=Model)`` calls a ``final_result`` tool (``tool_choice: any``),
  and with ``NativeOutput(Model)`` streams ``output_config.format``.

Each framework is skipped where it is not installed (the 0.75 venv).
"""

from __future__ import annotations

import os

import pytest

from support import MODEL, TapedeckServer

# LiteLLM would fetch its model price map and beta-header table from GitHub at import and on first use.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS", "True")

import pydantic  # noqa: E402


class City(pydantic.BaseModel):
    name: str
    country: str
    population: int
    landmarks: list[str]


PROMPT = "Describe the largest city in France."


def assert_city(value: object) -> City:
    assert isinstance(value, City), repr(value)
    return value


# -- LangChain ---------------------------------------------------------------------------


@pytest.fixture
def chat_anthropic(tapedeck: TapedeckServer):
    lc = pytest.importorskip("langchain_anthropic")
    return lc.ChatAnthropic(model=MODEL, base_url=tapedeck.base_url, api_key="test-key", max_retries=0, max_tokens=1024)


def test_langchain_structured_output_json_schema(chat_anthropic) -> None:
    structured = chat_anthropic.with_structured_output(City, method="json_schema")
    first, second = assert_city(structured.invoke(PROMPT)), assert_city(structured.invoke(PROMPT))
    assert first == second


def test_langchain_structured_output_function_calling(chat_anthropic) -> None:
    assert_city(chat_anthropic.with_structured_output(City).invoke(PROMPT))


# -- LiteLLM -----------------------------------------------------------------------------


def test_litellm_response_format(tapedeck: TapedeckServer) -> None:
    litellm = pytest.importorskip("litellm")

    def complete() -> str:
        response = litellm.completion(
            model=f"anthropic/{MODEL}",
            api_base=tapedeck.base_url,
            api_key="test-key",
            messages=[{"role": "user", "content": PROMPT}],
            response_format=City,
            max_tokens=1024,
            num_retries=0,
        )
        return response.choices[0].message.content

    text = complete()
    try:
        city = City.model_validate_json(text)
    except pydantic.ValidationError as e:
        pytest.fail(f"LiteLLM's content is not a City: {e}\n{text[:300]!r}")
    assert complete() == text
    assert_city(city)


# -- pydantic-ai -------------------------------------------------------------------------


@pytest.fixture
def anthropic_model(tapedeck: TapedeckServer):
    pytest.importorskip("pydantic_ai")
    from pydantic_ai.models.anthropic import AnthropicModel
    from pydantic_ai.providers.anthropic import AnthropicProvider

    return AnthropicModel(MODEL, provider=AnthropicProvider(base_url=tapedeck.base_url, api_key="test-key"))


def test_pydantic_ai_output_type(anthropic_model) -> None:
    from pydantic_ai import Agent

    assert_city(Agent(anthropic_model, output_type=City).run_sync(PROMPT).output)


def test_pydantic_ai_native_output(anthropic_model) -> None:
    from pydantic_ai import Agent, NativeOutput

    agent = Agent(anthropic_model, output_type=NativeOutput(City))
    first = assert_city(agent.run_sync(PROMPT).output)
    assert agent.run_sync(PROMPT).output == first
