"""The `tapedeck` console script: runs the packaged binary with the same arguments."""

from __future__ import annotations

import os
import sys

from ._binary import find_binary


def main() -> None:
    binary = find_binary()
    if binary is None:
        sys.exit("tapedeck: no binary in this package and none on PATH (set TAPEDECK_BIN=/path/to/tapedeck)")
    # exec, not a child process: signals, exit status and stdin/stdout are the binary's own.
    os.execv(binary, [binary, *sys.argv[1:]])
