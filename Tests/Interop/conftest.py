"""Fixtures for the Tapedeck interop suite (see support.py and README.md)."""

from __future__ import annotations

from typing import Iterator

import anthropic
import httpx
import pytest

from support import REQUEST_TIMEOUT, SDK_VERSION, TapedeckServer, TapedeckStartError, start_tapedeck, tapedeck_binary


def pytest_report_header(config):
    return [f"anthropic SDK {SDK_VERSION}; tapedeck binary {tapedeck_binary()}"]


@pytest.fixture(scope="session")
def tapedeck() -> Iterator[TapedeckServer]:
    """The session's server: fresh cassette, synthesized answers."""
    failure = None
    try:
        with start_tapedeck() as server:
            yield server
    except TapedeckStartError as e:
        failure = str(e)
    if failure is not None:
        pytest.fail(failure, pytrace=False)


@pytest.fixture(scope="session")
def client(tapedeck: TapedeckServer) -> Iterator[anthropic.Anthropic]:
    c = tapedeck.client()
    yield c
    c.close()


@pytest.fixture(scope="session")
def http(tapedeck: TapedeckServer) -> Iterator[httpx.Client]:
    """A raw HTTP client (no SDK) pointed at the session server, with the usual headers."""
    headers = {"x-api-key": "test-key", "anthropic-version": "2023-06-01", "content-type": "application/json"}
    with httpx.Client(base_url=tapedeck.base_url, headers=headers, timeout=REQUEST_TIMEOUT) as c:
        yield c
