"""Argument checks of :class:`~polaris.hub.client.PolarisHubClient`'s documented methods.

Each method calls one function here on its first line. A wrong type raises :class:`TypeError` naming the method, the
parameter and what to pass; a value out of a fixed set raises :class:`ValueError` listing the accepted ones; what a
user obviously meant is accepted (a URL string as the settings, ``"owner/name"`` as a competition).

Importing this module stays cheap: artifact classes are imported inside the checks.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from polaris.types import HubOwner

if TYPE_CHECKING:
    from polaris.artifacts import CompetitionSpecification
    from polaris.hub.settings import PolarisHubSettings

__all__ = [
    "check_benchmark",
    "check_choice",
    "check_dataset",
    "check_get",
    "check_owner",
    "check_results",
    "client_settings",
    "competition_and_predictions",
]

ACCESS = ("private", "public")
IF_EXISTS = ("replace", "skip", "raise")
CHECKSUM = ("verify", "verify_unless_zarr", "ignore")


def _shown(value: Any) -> str:
    """``str 'mols.csv'``: the type and a short repr of what was passed."""
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


def _is_path_like(value: Any) -> bool:
    return isinstance(value, str | os.PathLike)


def client_settings(settings: Any) -> PolarisHubSettings | None:
    """``PolarisHubClient(settings=...)``: settings, ``None``, a Hub URL string or a mapping of settings fields.

    Raises:
        TypeError: anything else. InvalidSettingError: the URL or a field is refused.
    """
    from polaris.hub.settings import PolarisHubSettings

    if settings is None or isinstance(settings, PolarisHubSettings):
        return settings
    if isinstance(settings, str):
        return PolarisHubSettings(hub_url=settings)
    if isinstance(settings, Mapping):
        return PolarisHubSettings(**dict(settings))
    raise TypeError(
        f"PolarisHubClient(settings=...) takes a PolarisHubSettings, a Hub URL string (e.g. "
        f"'https://polarishub.io/') or a dict of settings, not {_shown(settings)}"
    )


def check_owner(method: str, owner: Any, *, param: str = "owner", optional: bool = True) -> None:
    """``owner``: an owner slug string or a :class:`~polaris.types.HubOwner` (``None`` when optional)."""
    if owner is None and optional:
        return
    if not isinstance(owner, str | HubOwner):
        raise TypeError(
            f"{method}({param}=...) takes an owner slug string such as 'my-org' (or a HubOwner), not {_shown(owner)}"
        )


def check_choice(method: str, param: str, value: Any, choices: tuple[str, ...]) -> None:
    """``value`` must be one of ``choices`` (strings)."""
    accepted = ", ".join(repr(c) for c in choices)
    if not isinstance(value, str):
        raise TypeError(f"{method}({param}=...) takes one of {accepted}, not {_shown(value)}")
    if value not in choices:
        raise ValueError(f"{method}({param}={value!r}): {param} must be one of {accepted}")


def check_get(method: str, owner: Any, name: Any, verify_checksum: Any = "verify") -> None:
    """``get_*(owner, name=None, verify_checksum=...)``: ``"owner/name"`` or owner and name strings."""
    if not isinstance(owner, str | HubOwner):
        raise TypeError(f"{method}() takes 'owner/name' or owner and name strings, not owner={_shown(owner)}")
    if name is not None and not isinstance(name, str):
        raise TypeError(f"{method}(owner, name) takes the name as a string, not {_shown(name)}")
    check_choice(method, "verify_checksum", verify_checksum, CHECKSUM)


def check_dataset(dataset: Any, access: Any, owner: Any, if_exists: Any) -> None:
    """``upload_dataset(dataset, access, ..., owner, if_exists)``."""
    from polaris.artifacts import DatasetV1, DatasetV2

    if not isinstance(dataset, DatasetV1 | DatasetV2):
        hint = ""
        if _is_path_like(dataset):
            hint = (
                f"; to upload the file {os.fspath(dataset)!r}, build a dataset first, e.g. "
                "DatasetV1(table=pandas.read_csv(path), name=..., license=...), or run "
                f"`polaris datasets upload {os.fspath(dataset)}`"
            )
        raise TypeError(f"upload_dataset(dataset=...) takes a DatasetV1 or DatasetV2, not {_shown(dataset)}{hint}")
    check_choice("upload_dataset", "access", access, ACCESS)
    check_owner("upload_dataset", owner)
    check_choice("upload_dataset", "if_exists", if_exists, IF_EXISTS)


def check_benchmark(benchmark: Any, access: Any, owner: Any) -> None:
    """``upload_benchmark(benchmark, access, owner)``."""
    from polaris.artifacts import BenchmarkSpecification, BenchmarkV2Specification

    if not isinstance(benchmark, BenchmarkSpecification | BenchmarkV2Specification):
        hint = ""
        if _is_path_like(benchmark):
            hint = "; load or build the benchmark first (e.g. BenchmarkV2Specification(...), or client.get_benchmark)"
        raise TypeError(
            "upload_benchmark(benchmark=...) takes a BenchmarkSpecification or BenchmarkV2Specification, "
            f"not {_shown(benchmark)}{hint}"
        )
    check_choice("upload_benchmark", "access", access, ACCESS)
    check_owner("upload_benchmark", owner)


def check_results(results: Any, access: Any, owner: Any, model: Any) -> None:
    """``upload_results(results, access, owner, model=...)``."""
    from polaris.artifacts import BenchmarkResults, Model

    if not isinstance(results, BenchmarkResults):
        hint = "; get them from benchmark.evaluate(predictions)"
        if _is_path_like(results):
            hint += f", or upload a results file with `polaris results upload {os.fspath(results)}`"
        raise TypeError(f"upload_results(results=...) takes the BenchmarkResults, not {_shown(results)}{hint}")
    check_choice("upload_results", "access", access, ACCESS)
    check_owner("upload_results", owner)
    if model is not None and not isinstance(model, Model | str):
        raise TypeError(f"upload_results(model=...) takes a Model or an 'owner/slug' string, not {_shown(model)}")


def competition_and_predictions(
    client: Any, competition: Any, predictions: Any, owner: Any
) -> tuple[CompetitionSpecification, Any]:
    """``evaluate_competition(competition, predictions, owner=...)``: ``competition`` may be ``"owner/name"`` (it is
    then fetched); predictions that do not fit its test sets raise :class:`~polaris.errors.InvalidPredictionsError`
    before anything is sent.

    Returns ``(competition, predictions)``.
    """
    from polaris.artifacts import CompetitionSpecification
    from polaris.artifacts.competition import CompetitionPredictions

    check_owner("evaluate_competition", owner)
    spec: CompetitionSpecification
    if isinstance(competition, str | HubOwner) and not isinstance(competition, CompetitionSpecification):
        slug = competition.slug if isinstance(competition, HubOwner) else competition
        if "/" not in slug:
            raise ValueError(
                f"evaluate_competition(competition={slug!r}) takes a competition from client.get_competition(...) "
                "or its 'owner/name'"
            )
        spec = client.get_competition(slug)
    elif isinstance(competition, CompetitionSpecification):
        spec = competition
    else:
        raise TypeError(
            "evaluate_competition(competition=...) takes a competition from client.get_competition(...) or its "
            f"'owner/name', not {_shown(competition)}"
        )
    if not isinstance(predictions, CompetitionPredictions):
        from polaris.evaluate import normalize_predictions

        normalize_predictions(predictions, list(spec.target_cols), spec.test_set_labels, spec.test_set_sizes)
    return spec, predictions
