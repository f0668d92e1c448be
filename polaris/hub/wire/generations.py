"""Which generation of an operation the Hub in front of us answers, learned once per client.

The Hub grew new endpoints (0.11-0.13) beside the 0.10 ones. A call tries the generations of an operation in order;
a ``404`` (or ``405`` for writes) moves on to the next one. What was learned is kept for the client's lifetime:

* an endpoint without path parameters (a listing) that answers ``404`` does not exist on this Hub: it is never
  asked again (:meth:`Generations.mark_absent`);
* for an operation on one artifact a ``404`` may also mean "not in this generation", so nothing is ruled out; the
  generation that answered is tried *first* next time (:meth:`Generations.prefer`). On a Hub of one generation a
  fallback therefore costs one extra request once; on a Hub with both, at most one extra per call.
"""

from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

from polaris.errors import PolarisHubError

__all__ = ["FALLBACK_STATUSES", "WRITE_FALLBACK_STATUSES", "Generation", "Generations", "first_answer"]

logger = logging.getLogger(__name__)

#: Answers that send a read on to the next generation.
FALLBACK_STATUSES = frozenset({404})
#: Answers that send a write on to the next generation (an unknown method on a known path is 405).
WRITE_FALLBACK_STATUSES = frozenset({404, 405})

_T = TypeVar("_T")


class Generation(enum.IntEnum):
    """Which generation of the Hub's API answered for an artifact: the version in its path, for every kind.

    ``V1``: ``/v1/dataset``, ``/v1/benchmark``, ``/v1/competition`` (the 0.11+ Zarr competitions);
    ``V2``: ``/v2/dataset``, ``/v2/benchmark``, ``/v2/competition`` (the 0.10 competitions), ``/v2/model``.
    An ``int`` (1 or 2), so it can be stored, compared and shown as a number.
    """

    V1 = 1
    V2 = 2

    @property
    def label(self) -> str:
        """``"v1"`` / ``"v2"``: the key :class:`Generations` remembers it under."""
        return f"v{int(self)}"

    @classmethod
    def from_label(cls, label: str) -> Generation:
        return cls(int(label.lstrip("v")))


class Generations:
    """Per-client memory of the Hub's endpoints (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._absent: set[str] = set()
        self._preferred: dict[str, str] = {}

    def is_absent(self, endpoint: str) -> bool:
        with self._lock:
            return endpoint in self._absent

    def mark_absent(self, endpoint: str) -> None:
        with self._lock:
            if endpoint not in self._absent:
                logger.debug("the Hub has no %s endpoint; not asking again", endpoint)
            self._absent.add(endpoint)

    def preferred(self, operation: str) -> str | None:
        with self._lock:
            return self._preferred.get(operation)

    def prefer(self, operation: str, generation: str) -> None:
        with self._lock:
            self._preferred[operation] = generation

    def order(self, operation: str, generations: Sequence[str]) -> list[str]:
        """``generations`` with the one that answered last time first, and absent ones left out."""
        first = self.preferred(operation)
        ordered = list(generations)
        if first in ordered:
            ordered.remove(first)
            ordered.insert(0, first)
        return [g for g in ordered if not self.is_absent(f"{operation}@{g}")]

    def call(
        self,
        operation: str,
        attempts: Sequence[tuple[str, Callable[[], _T]]],
        *,
        fallback_on: frozenset[int] = FALLBACK_STATUSES,
        absent_on_miss: bool = False,
    ) -> tuple[str, _T]:
        """Run the attempts (``(generation, call)``, newest first) until one answers; return its generation and result.

        ``absent_on_miss``: a fallback status means the endpoint does not exist (parameterless endpoints), so that
        generation is never tried again.

        Raises:
            PolarisHubError: the last fallback error when no generation answered, or any other error at once.
        """
        calls = dict(attempts)
        last: PolarisHubError | None = None
        for generation in self.order(operation, [g for g, _ in attempts]):
            try:
                result = calls[generation]()
            except PolarisHubError as exc:
                if exc.status_code not in fallback_on:
                    raise
                last = exc
                if absent_on_miss:
                    self.mark_absent(f"{operation}@{generation}")
                continue
            self.prefer(operation, generation)
            return generation, result
        if last is None:
            raise PolarisHubError(f"the Hub offers no endpoint for {operation}")
        raise last


def first_answer(
    generations: Generations, operation: str, attempts: Sequence[tuple[Generation, Callable[[], _T]]]
) -> tuple[Generation, _T]:
    """:meth:`Generations.call` for one artifact's reads: which :class:`Generation` answered, and its answer.

    Raises: as :meth:`Generations.call` (a 404 from every generation is the last one's ArtifactNotFoundError).
    """
    label, result = generations.call(operation, [(g.label, fn) for g, fn in attempts])
    return Generation.from_label(label), result
