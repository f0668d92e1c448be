"""Where the client keeps files: token cache and data cache.

``POLARIS_CACHE_DIR`` overrides the platform cache folder (``platformdirs.user_cache_dir("polaris")``);
tests point it at a temporary folder.
"""

from __future__ import annotations

import os
from pathlib import Path

CACHE_DIR_ENV = "POLARIS_CACHE_DIR"


def cache_root() -> Path:
    override = os.environ.get(CACHE_DIR_ENV)
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_cache_dir("polaris"))


def token_dir() -> Path:
    """Folder of the token cache files (one file per Hub URL); created 0700 by the token cache."""
    return cache_root() / "tokens"


def data_dir() -> Path:
    """Root of the content-addressed download cache."""
    return cache_root() / "data"
