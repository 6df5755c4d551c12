"""API errors as the SDK sees them: status, exception class, envelope, request id."""

from __future__ import annotations

import anthropic
import pytest

from support import MODEL, REQ_ID_RE, user


def assert_envelope(error: anthropic.APIStatusError, status: int, error_type: str) -> dict:
    """Check the wire shape of an error response; return its `error` object."""
    assert error.status_code == status
    header_id = error.response.headers.get("request-id")
    assert header_id is not None, "error response has no request-id header"
    assert header_id.startswith("req_") and REQ_ID_RE.match(header_id), header_id
    assert error.request_id == header_id
    assert error.response.headers["content-type"].startswith("application/json")
    body = error.response.json()
    assert body["type"] == "error"
    assert body["error"]["type"] == error_type
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert body.get("request_id") == header_id, "the body should repeat the request id"
    return body["error"]


# A create request the server must refuse: (request, exception, status, error type, words the message must contain).
REJECTED_CREATES = {
    "empty_messages_is_a_bad_request": (
        dict(model=MODEL, max_tokens=1024, messages=[]),
        anthropic.BadRequestError, 400, "invalid_request_error", ["at least one message"],
    ),
    "thinking_budget_below_minimum_is_a_bad_request": (
        dict(model=MODEL, max_tokens=2048, thinking={"type": "enabled", "budget_tokens": 100}, messages=user("Hi")),
        anthropic.BadRequestError, 400, "invalid_request_error", ["budget_tokens"],
    ),
    "thinking_budget_not_below_max_tokens_is_a_bad_request": (
        dict(model=MODEL, max_tokens=1024, thinking={"type": "enabled", "budget_tokens": 2048}, messages=user("Hi")),
        anthropic.BadRequestError, 400, "invalid_request_error", ["budget_tokens", "max_tokens"],
    ),
    # Not Anthropic-shaped: an unknown claude-… id is served with a warning (test_model_catalog.py).
    "unknown_model_is_not_found": (
        dict(model="nope-model-1", max_tokens=1024, messages=user("Hi")),
        anthropic.NotFoundError, 404, "not_found_error", ["nope-model-1"],
    ),
}


@pytest.mark.parametrize("case", sorted(REJECTED_CREATES))
def test_create_is_rejected(client, case):
    request, exception, status, error_type, words = REJECTED_CREATES[case]
    with pytest.raises(exception) as info:
        client.messages.create(**request)

    error = assert_envelope(info.value, status, error_type)
    for word in words:
        assert word in error["message"], word


def test_stream_request_errors_before_the_stream(client):
    """A request rejected by validation is an ordinary JSON error, also when streaming was asked for."""
    with pytest.raises(anthropic.BadRequestError) as info:
        with client.messages.stream(model=MODEL, max_tokens=1024, messages=[]) as stream:
            stream.get_final_message()

    assert_envelope(info.value, 400, "invalid_request_error")


def test_count_tokens_rejects_max_tokens(client):
    with pytest.raises(anthropic.BadRequestError) as info:
        client.messages.count_tokens(model=MODEL, messages=user("Hi"), extra_body={"max_tokens": 10})

    error = assert_envelope(info.value, 400, "invalid_request_error")
    assert "max_tokens" in error["message"]

