"""HTML pages of the local Hub (login, consent, callback, artifacts), rendered with ``string.Template``.

Every value is HTML-escaped unless its name is listed in ``raw`` (only pre-escaped fragments are).
"""

from __future__ import annotations

import html
from functools import cache
from importlib import resources
from string import Template


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


@cache
def _template(name: str) -> Template:
    return Template(resources.files(__package__).joinpath(name).read_text(encoding="utf-8"))


@cache
def _layout() -> Template:
    return _template("layout.html")


def render(name: str, *, raw: tuple[str, ...] = (), **values: object) -> str:
    """Render ``name`` inside the common layout; values are escaped unless named in ``raw``."""
    safe = {k: (str(v) if k in raw else esc(v)) for k, v in values.items()}
    content = _template(name).safe_substitute(safe)
    return _layout().safe_substitute(title=safe.get("title", "Polaris Hub emulator"), content=content)
