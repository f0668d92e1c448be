"""Names of polaris-lib that this package deliberately does not provide, and the error that says what to use."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from polaris.errors import PolarisError

__all__ = ["NotProvidedError", "module_getattr"]


class NotProvidedError(PolarisError, ImportError):
    """A polaris-lib name this package does not provide; the message says what to use instead.

    An ``ImportError`` so that ``from polaris.dataset import DatasetFactory`` shows the message (Python replaces an
    ``AttributeError`` raised there by a generic "cannot import name").
    """


def module_getattr(module: str, not_provided: Mapping[str, str]) -> Callable[[str], Any]:
    """A module-level ``__getattr__``: names in ``not_provided`` raise :class:`NotProvidedError` with its advice,
    any other unknown name the usual ``AttributeError``."""

    def __getattr__(name: str) -> Any:
        advice = not_provided.get(name)
        if advice is not None:
            raise NotProvidedError(f"{module}.{name} (polaris-lib) is not provided by polaris-hub-client", hint=advice)
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    return __getattr__
