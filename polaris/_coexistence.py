"""Living beside polaris-lib: both distributions ship the ``polaris/`` package, so installing one over the other
mixes their files in one folder. :func:`foreign_files` (cheap: a few ``stat`` calls, run at ``import polaris``)
finds polaris-lib's files next to ours; :func:`report` (``polaris --version``) also reads both distributions'
metadata to say which one owns the active ``polaris/__init__.py`` and how to repair the environment.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["FIX", "foreign_files", "report", "warn_if_mixed"]

#: This package's folder (os.path only: ``import polaris`` must not pay for pathlib, hashlib or logging here).
_HERE = os.path.dirname(os.path.abspath(__file__))
#: Files only polaris-lib ships (in every release 0.10-0.13), relative to the ``polaris`` folder.
_POLARIS_LIB_MARKERS = (
    "_version.py",
    "_artifact.py",
    "loader/__init__.py",
    "hub/polarisfs.py",
    "dataset/_dataset.py",
    "evaluate/_metric.py",
    "evaluate/_results.py",
    "utils/misc.py",
)
FIX = (
    "Repair the environment: `pip uninstall -y polaris-lib polaris-hub-client` (run it until both are gone), then "
    "`pip install polaris-hub-client` (or polaris-lib, if that is the one you want); better, keep them in separate "
    "virtual environments."
)


def foreign_files(folder: str | os.PathLike[str] | None = None) -> list[str]:
    """polaris-lib files found in ``folder`` (default: this ``polaris`` package), as relative paths."""
    root = _HERE if folder is None else os.fspath(folder)
    return [marker for marker in _POLARIS_LIB_MARKERS if os.path.isfile(os.path.join(root, marker))]


def warn_if_mixed(folder: str | os.PathLike[str] | None = None) -> bool:
    """Log a warning when polaris-lib's files sit in this package's folder; returns whether they do."""
    found = foreign_files(folder)
    if found:
        import logging

        logging.getLogger("polaris").warning(
            "polaris-lib files were found inside this polaris package (%s: %s): polaris-lib and "
            "polaris-hub-client were installed over each other and their files are mixed; polaris-hub-client's "
            "polaris/__init__.py is the active one. %s",
            _HERE if folder is None else folder,
            ", ".join(found[:3]),
            FIX,
        )
    return bool(found)


def _record_hash(dist_name: str, relative: str) -> str | None:
    """The ``sha256=`` hash a distribution's RECORD gives for ``polaris/<relative>``, if it lists it."""
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        dist = distribution(dist_name)
    except PackageNotFoundError:
        return None
    for file in dist.files or []:
        if file.as_posix() == f"polaris/{relative}" and file.hash is not None:
            return str(file.hash.value)
    return None


def _file_hash(path: Path) -> str:
    import base64
    import hashlib

    digest = hashlib.sha256(path.read_bytes()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def report() -> list[str]:
    """Lines for ``polaris --version`` about polaris-lib: nothing when it is absent, else which distribution is
    installed, whose ``polaris/__init__.py`` is active and how to fix the environment."""
    from importlib.metadata import PackageNotFoundError, version
    from pathlib import Path

    try:
        lib_version = version("polaris-lib")
    except PackageNotFoundError:
        lib_version = None
    found = foreign_files()
    if lib_version is None and not found:
        return []
    lines = [f"polaris-lib {lib_version or '(files without metadata)'} is also installed in this environment."]
    init = Path(_HERE) / "__init__.py"
    active = "polaris-hub-client"
    if init.is_file():
        current = _file_hash(init)
        if _record_hash("polaris-lib", "__init__.py") == current:
            active = "polaris-lib"
        elif _record_hash("polaris-hub-client", "__init__.py") not in (None, current):
            active = "a modified file"
    lines.append(f"Active polaris/__init__.py: {active} ({init}).")
    if found:
        lines.append(f"polaris-lib files are mixed into that folder: {', '.join(found)}.")
    lines.append(FIX)
    return lines
