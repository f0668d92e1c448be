"""Where dataset data lives: Zarr pointer cells (``path#i``, ``path#start:end``) and local/remote archive paths.

Re-exported by :mod:`polaris.artifacts.dataset`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = ["is_remote_path", "parse_pointer"]

_POINTER_RE = re.compile(r"^(?P<path>[^#]+)(?:#(?:(?P<start>-?\d+):(?P<end>-?\d+)|(?P<index>-?\d+)))?$")


def is_remote_path(path: str | os.PathLike[str] | None) -> bool:
    """True for ``scheme://`` locations other than ``file://``."""
    if path is None:
        return False
    text = str(path)
    return "://" in text and not text.startswith("file://")


def _local_path(path: str | os.PathLike[str]) -> Path:
    text = str(path)
    return Path(text[len("file://") :] if text.startswith("file://") else text)


def parse_pointer(value: str) -> tuple[str, int | slice | None]:
    """``"arr"`` -> (arr, None); ``"arr#3"`` -> (arr, 3); ``"arr#2:5"`` -> (arr, slice(2, 5)).

    Raises:
        ValueError: not a pointer.
    """
    match = _POINTER_RE.match(str(value))
    if match is None:
        raise ValueError(f"invalid Zarr pointer {value!r}; expected 'path', 'path#i' or 'path#start:end'")
    if match.group("index") is not None:
        return match.group("path"), int(match.group("index"))
    if match.group("start") is not None:
        return match.group("path"), slice(int(match.group("start")), int(match.group("end")))
    return match.group("path"), None
