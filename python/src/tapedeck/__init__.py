"""Tapedeck: a local stand-in for the Anthropic Messages API (record, replay, synthesize).

The wheel carries the `tapedeck` binary; `tapedeck.Server` runs it, and the pytest plugin
(`tapedeck.pytest_plugin`, loaded by pytest on its own) gives each test its own cassette.
"""

from ._binary import find_binary
from .server import Server, ServerError

__version__ = "0.1.0"
__all__ = ["Server", "ServerError", "find_binary", "__version__"]
