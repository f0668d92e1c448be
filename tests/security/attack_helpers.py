"""Shared bits of the attack tests (imported by name: tests/security is on sys.path)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

#: The attacker's uid and gid when running as root (no such account needed).
OTHER_UID = 54321
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


@dataclass
class SharedCache:
    """A cache root writable by every local user (mode 1777, like /tmp), used as POLARIS_CACHE_DIR."""

    root: Path
    #: Run a shell script as the other user (cwd: ``root``).
    as_other_user: Callable[[str], None]
    #: True when the other user is real (root), False when simulated.
    real_other_user: bool


def planted_token_file(hub_url: str) -> str:
    """A well-formed token cache file for ``hub_url`` naming the attacker (what a planted file would hold)."""
    return json.dumps(
        {
            "version": 1,
            "hub_url": hub_url,
            "external_token": None,
            "hub_token": {"access_token": "attacker-token", "token_type": "Bearer", "expires_at": 4102444800},
            "identity": {"email": "attacker@evil.example"},
        }
    )
