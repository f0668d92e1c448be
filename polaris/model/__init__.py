"""polaris-lib 0.11-0.13's ``polaris.model``: ``Model`` (the same object as :mod:`polaris.artifacts`').

Its ``file_path`` (an ONNX file checked with the ``onnx`` package) is not provided: a model here is metadata only.
"""

from __future__ import annotations

from polaris.artifacts.model import Model

__all__ = ["Model"]
