"""Where the tapedeck binary is: inside this package (the wheel carries it), else $TAPEDECK_BIN, else on PATH."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

#: The binary and its resource bundle (the inspector's templates, the synthetic vocabulary) as the wheel lays
#: them out: the binary finds the bundle beside itself.
PACKAGED = Path(__file__).parent / "bin" / "tapedeck"


def find_binary() -> str | None:
    """The tapedeck binary to run, or None when there is none."""
    override = os.environ.get("TAPEDECK_BIN")
    if override:
        return override
    if PACKAGED.is_file() and os.access(PACKAGED, os.X_OK):
        return str(PACKAGED)
    return _binary_on_path()


def _binary_on_path() -> str | None:
    # `tapedeck` on PATH may be this package's own console script; only a real binary elsewhere counts.
    found = shutil.which("tapedeck")
    if found and not _is_python_script(found):
        return found
    return None


def _is_python_script(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(128)
    except OSError:
        return False
    return head.startswith(b"#!") and b"python" in head.split(b"\n", 1)[0]
