"""``polaris datasets list|get|upload``."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import typer

from polaris.cli import _listing
from polaris.cli._common import (
    DOWNLOAD_INTERRUPTED,
    AccessChoice,
    IfExistsChoice,
    VerifyChoice,
    artifact_id_arg,
    emit_json,
    err_console,
    escape,
    fields_error,
    friendly_errors,
    make_client,
    model_keys,
    on_interrupt,
    out_console,
    read_document,
    resolve_owner,
    show_fields,
    warn_unknown_keys,
)

if TYPE_CHECKING:
    from polaris.artifacts import DatasetV1, DatasetV2
    from polaris.types import AccessType

__all__ = ["app", "dataset_entry", "dataset_summary"]

app = typer.Typer(help="Datasets on the Hub (V1 tables and V2 Zarr archives).", no_args_is_help=True)

GET_INTERRUPTED = DOWNLOAD_INTERRUPTED + " A partial --to copy is removed."
UPLOAD_INTERRUPTED = (
    "The Hub may hold the dataset's metadata and part of its data; run the same command with --resume "
    "to send only what is missing."
)


# ------------------------------------------------------------------ list
@app.command("list")
@friendly_errors
def list_datasets(
    ctx: typer.Context,
    limit: int = _listing.LIMIT,
    offset: int = _listing.OFFSET,
    everything: bool = _listing.ALL,
    text: str | None = _listing.FILTER,
    owner: str | None = _listing.OWNER,
    as_json: bool = _listing.JSON,
    quiet: bool = _listing.QUIET,
) -> None:
    """List the datasets you can see, with their kind and version."""
    _listing.run_listing(
        ctx,
        "Datasets",
        "dataset",
        limit=limit,
        offset=offset,
        everything=everything,
        text=text,
        owner=owner,
        as_json=as_json,
        quiet=quiet,
    )


# ------------------------------------------------------------------ get
def dataset_entry(dataset: DatasetV1 | DatasetV2) -> Path:
    """The verified cache entry (folder) a dataset was loaded from."""
    from polaris.artifacts import DatasetV1
    from polaris.hub.cache import CacheKey, DownloadCache

    digest = dataset.md5sum if isinstance(dataset, DatasetV1) else dataset.zarr_manifest_md5sum
    if dataset.artifact_id is None or digest is None:
        raise RuntimeError("the dataset was not loaded from the Hub")
    cache, key = DownloadCache(), CacheKey("dataset", dataset.artifact_id, digest)
    verified = cache.entry(key)
    # Read with --verify-checksum ignore, the bytes sit in the cache's unverified tree.
    return verified if verified.exists() else cache.entry(key, verified=False)


def dataset_summary(dataset: DatasetV1 | DatasetV2) -> dict[str, Any]:
    """The ``--json`` object of a dataset (snake_case keys; ``format`` V1/V2, ``version`` the Hub's number)."""
    from polaris.artifacts import DatasetV1

    v1 = isinstance(dataset, DatasetV1)
    summary: dict[str, Any] = {
        "artifact": dataset.artifact_id,
        "kind": "dataset",
        "format": "V1" if v1 else "V2",
        "version": dataset.artifact_version,
        "access": dataset.access,
        "rows": dataset.n_rows,
        "columns": dataset.columns,
        "license": dataset.license,
    }
    if isinstance(dataset, DatasetV1):
        summary["md5sum"] = dataset.md5sum
        summary["pointer_columns"] = dataset.pointer_columns
    else:
        summary["zarr_manifest_md5sum"] = dataset.zarr_manifest_md5sum
    return summary


def metadata_summary(kind: str, generation: int, data: dict[str, Any]) -> dict[str, Any]:
    """What ``info`` shows of the Hub's metadata of an artifact (nothing downloaded)."""
    from polaris.hub.wire import owner_slug

    owner = owner_slug(data.get("owner")) if data.get("owner") is not None else None
    name = data.get("slug") or data.get("name")
    artifact = data.get("artifactId") or (f"{owner}/{name}" if owner and name else None)
    raw_version = data.get("artifactVersion", data.get("artifact_version"))
    summary: dict[str, Any] = {
        "artifact": artifact,
        "kind": kind,
        "format": f"V{generation}",
        "version": raw_version if isinstance(raw_version, int) else None,
        "name": data.get("name"),
        "description": data.get("description") or "",
        "access": data.get("access"),
        "tags": list(data.get("tags") or []),
        "license": (data.get("license") or {}).get("type")
        if isinstance(data.get("license"), dict)
        else data.get("license"),
        "created_at": data.get("createdAt"),
        "updated_at": data.get("updatedAt"),
    }
    if kind == "dataset":
        annotations = data.get("annotations") or {}
        summary["columns"] = list(annotations) if isinstance(annotations, dict) else []
        rows = data.get("nRows")
        summary["rows"] = rows if isinstance(rows, int) else None
        summary["md5sum"] = data.get("md5Sum")
        if generation == 2:
            summary["zarr_manifest_md5sum"] = data.get("zarrManifestMd5Sum")
    return {k: v for k, v in summary.items() if not (kind == "benchmark" and k == "license")}


def _export_plan(entry: Path, slug: str) -> list[tuple[Path, str]]:
    """(file or folder in the cache entry, name in the target folder) for one dataset."""
    from polaris.hub.flows.context import MANIFEST_FILE, METADATA_FILE, TABLE_FILE, ZARR_DIR

    names = {
        TABLE_FILE: f"{slug}.parquet",
        ZARR_DIR: f"{slug}.zarr",
        MANIFEST_FILE: f"{slug}.zarr-manifest.parquet",
        METADATA_FILE: f"{slug}.metadata.json",
    }
    return [(entry / src, dst) for src, dst in names.items() if (entry / src).exists()]


def _place(source: Path, target: Path, *, link: bool) -> None:
    """Copy (or symlink) ``source`` to ``target`` through a temporary name, so a failure leaves no half copy."""
    tmp = target.with_name(f".{target.name}.polaris-incomplete")
    _remove(tmp)
    try:
        if link:
            os.symlink(source, tmp, target_is_directory=source.is_dir())
        elif source.is_dir():
            shutil.copytree(source, tmp)
        else:
            shutil.copy2(source, tmp)
        os.replace(tmp, target) if not target.is_dir() or target.is_symlink() else _swap_dir(tmp, target)
    except BaseException:
        _remove(tmp)
        raise


def _swap_dir(tmp: Path, target: Path) -> None:
    shutil.rmtree(target)
    os.replace(tmp, target)


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


def export_dataset(dataset: DatasetV1 | DatasetV2, to: Path, *, link: bool, overwrite: bool) -> list[Path]:
    """Copy (or link) the verified files of a dataset from the cache into ``to``; the cache is only read.

    Raises:
        FileExistsError: a target file exists and not ``overwrite`` (nothing was written).
    """
    from polaris import checksum_md5
    from polaris.artifacts import DatasetV1
    from polaris.errors import PolarisChecksumError

    entry = dataset_entry(dataset)
    slug = dataset.slug or "dataset"
    plan = _export_plan(entry, slug)
    to.mkdir(parents=True, exist_ok=True)
    clashes = [to / name for _, name in plan if (to / name).exists() or (to / name).is_symlink()]
    if clashes and not overwrite:
        raise FileExistsError(
            f"{', '.join(str(p) for p in clashes)} already exist(s); nothing was written (use --overwrite to replace)"
        )
    placed: list[Path] = []
    for source, name in plan:
        _place(source, to / name, link=link)
        placed.append(to / name)
    # Hash what will be read back: the copied table must still match the Hub's checksum of it.
    if isinstance(dataset, DatasetV1) and not link:
        import json

        from polaris.hub.flows.context import METADATA_FILE

        meta = json.loads((entry / METADATA_FILE).read_text(encoding="utf-8"))
        expected = (meta.get("tableContent") or {}).get("md5Sum")
        table = to / f"{slug}.parquet"
        if expected and table.exists():
            actual, _ = checksum_md5.file_md5(table)
            if actual != expected:
                for path in placed:
                    _remove(path)
                raise PolarisChecksumError(
                    "the copied table does not match the Hub's checksum",
                    artifact=dataset.artifact_id,
                    expected=expected,
                    actual=actual,
                )
    return placed


@app.command("get")
@friendly_errors
def get_dataset(
    ctx: typer.Context,
    artifact: str = typer.Argument(..., metavar="OWNER/NAME", help="The dataset.", callback=artifact_id_arg),
    verify_checksum: VerifyChoice = typer.Option(
        VerifyChoice.VERIFY_UNLESS_ZARR,
        "--verify-checksum",
        help="Whether the content checksum is recomputed after download.",
    ),
    to: Path | None = typer.Option(
        None, "--to", file_okay=False, help="Also copy the verified files into this folder and print their paths."
    ),
    link: bool = typer.Option(False, "--link", help="With --to: symlink into the cache instead of copying."),
    overwrite: bool = typer.Option(False, "--overwrite", help="With --to: replace files that are already there."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary (and the files) as JSON."),
) -> None:
    """Download a dataset (V1 or V2) into the local cache, every file verified; say where its files are."""
    on_interrupt(ctx, GET_INTERRUPTED)
    with make_client(ctx) as client:
        dataset = client.get_dataset(artifact, verify_checksum=verify_checksum.value)
    summary = dataset_summary(dataset)
    summary["cached_at"] = str(dataset_entry(dataset))
    files: list[Path] = []
    if to is not None:
        files = export_dataset(dataset, to, link=link, overwrite=overwrite)
        summary["files"] = [str(p) for p in files]
    if as_json:
        emit_json(summary)
        return
    if to is None:
        show_fields(f"Dataset {artifact}", summary)
        return
    verb = "Linked" if link else "Copied"
    err_console().print(f"{verb} {len(files)} verified file(s) of {escape(artifact)} to {escape(str(to))}:")
    for path in files:
        typer.echo(str(path))


# ------------------------------------------------------------------ info
@app.command("info")
@friendly_errors
def dataset_info(
    ctx: typer.Context,
    artifact: str = typer.Argument(..., metavar="OWNER/NAME", help="The dataset.", callback=artifact_id_arg),
    as_json: bool = typer.Option(False, "--json", help="Print the metadata as JSON."),
) -> None:
    """Show a dataset's metadata (format, version, columns, licence, checksums) without downloading its data."""
    with make_client(ctx, progress=False) as client:
        generation, data = client.get_artifact_metadata("dataset", artifact)
    summary = metadata_summary("dataset", generation, data)
    summary["artifact"] = summary["artifact"] or artifact
    if as_json:
        emit_json(summary)
        return
    show_fields(f"Dataset {artifact}", summary)


# ------------------------------------------------------------------ upload
def _is_zarr(path: Path) -> bool:
    return path.is_dir() and any((path / marker).exists() for marker in ("zarr.json", ".zgroup", ".zattrs", ".zarray"))


def check_zarr_folder(path: Path) -> list[str]:
    """The arrays of a Zarr folder, each opened and its shape read; refused before any request.

    Raises:
        InputFileError: no array at all (a bare group), or an array that cannot be read (no shape, bad metadata).
    """
    import json

    from polaris.tables import InputFileError

    arrays: list[str] = []
    for marker in sorted([*path.rglob(".zarray"), *path.rglob("zarr.json")]):
        folder = marker.parent
        name = folder.relative_to(path).as_posix() or "."
        if marker.name == "zarr.json":
            try:
                meta = json.loads(marker.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise InputFileError(marker, f"is not readable Zarr metadata ({exc})") from None
            if not isinstance(meta, dict) or meta.get("node_type") != "array":
                continue
        try:
            import zarr

            array = zarr.open_array(store=str(folder), mode="r")
            shape = tuple(array.shape)
        except Exception as exc:  # zarr raises many types for broken metadata
            raise InputFileError(
                path,
                f"the array {name!r} cannot be read ({type(exc).__name__}: {exc})",
                hint="Fix or remove that array (each needs a shape, a dtype and chunks); nothing was sent.",
            ) from None
        if not shape:
            raise InputFileError(path, f"the array {name!r} has no shape (a scalar cannot be a dataset column)")
        arrays.append(name)
    if not arrays:
        raise InputFileError(
            path,
            "holds no Zarr array (a group without arrays cannot be a dataset)",
            hint="Put one array per column in the group (e.g. with zarr.create_array) and run the command again; "
            "nothing was sent.",
        )
    return arrays


def _read_table(path: Path) -> Any:
    from polaris.tables import read_table

    return read_table(path)


def build_dataset(
    path: Path,
    fields: dict[str, Any],
    *,
    zarr_root: Path | None,
    pointer_columns: list[str],
) -> DatasetV1 | DatasetV2:
    """A DatasetV1 (table, optional pointer columns into ``zarr_root``) or DatasetV2 (a Zarr folder)."""
    from polaris.artifacts import DatasetV1, DatasetV2

    if _is_zarr(path):
        if pointer_columns or zarr_root is not None:
            raise typer.BadParameter(
                "--zarr-pointer-column/--zarr go with a table; a Zarr folder is uploaded as a V2 dataset",
                param_hint="PATH",
            )
        check_zarr_folder(path)
        return DatasetV2(zarr_root_path=str(path), **fields)
    if path.is_dir():
        raise typer.BadParameter(f"{path} is a folder but not a Zarr archive", param_hint="PATH")
    table = _read_table(path)
    annotations = dict(fields.pop("annotations", None) or {})
    for column in pointer_columns:
        if column not in table.columns:
            raise typer.BadParameter(
                f"{column!r} is not a column of {path.name} (columns: {', '.join(map(str, table.columns))})",
                param_hint="--zarr-pointer-column",
            )
        annotation = dict(annotations.get(column) or {})
        annotation["is_pointer"] = True
        annotations[column] = annotation
    if pointer_columns and zarr_root is None:
        raise typer.BadParameter("pointer columns need the Zarr archive they point into", param_hint="--zarr")
    return DatasetV1(
        table=table,
        annotations=annotations,
        zarr_root_path=str(zarr_root) if zarr_root is not None else None,
        **fields,
    )


@app.command("upload")
@friendly_errors
def upload_dataset(
    ctx: typer.Context,
    path: Path = typer.Argument(..., exists=True, help="A table (.parquet, .csv, .tsv) or a Zarr folder (V2)."),
    metadata: Path | None = typer.Option(
        None, "--metadata", exists=True, dir_okay=False, help="YAML/JSON file of dataset fields (options win)."
    ),
    name: str | None = typer.Option(None, "--name", help="Dataset name (default: the file name)."),
    owner: str | None = typer.Option(
        None, "--owner", help="User or organization that will own it (default and `me`: the logged-in user)."
    ),
    license_: str | None = typer.Option(None, "--license", help="One of the Hub's licences, e.g. CC-BY-4.0."),
    description: str | None = typer.Option(None, "--description", help="One line about the dataset."),
    access: AccessChoice | None = typer.Option(None, "--access", help="Who can see it (default: private)."),
    zarr_root: Path | None = typer.Option(
        None, "--zarr", exists=True, file_okay=False, help="The Zarr archive a table's pointer columns refer to."
    ),
    pointer_columns: list[str] = typer.Option(
        [], "--zarr-pointer-column", help="A table column whose values point into --zarr (repeatable)."
    ),
    if_exists: IfExistsChoice = typer.Option(
        IfExistsChoice.REPLACE,
        "--if-exists",
        help="Storage objects already there: replace, skip (resume an interrupted upload) or raise.",
    ),
    resume: bool = typer.Option(
        False, "--resume", help="Complete an interrupted upload (the same as --if-exists skip): sends what is missing."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print {artifact, format, version, access, url} as JSON."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the OWNER/NAME of the uploaded dataset."),
) -> None:
    """Upload a table or a Zarr folder as a dataset, with progress; prints its link.

    The file is checked before anything is sent: tables strictly (a ragged row, an empty file, text that is not
    UTF-8, a blank or repeated header name is refused with its line), Zarr folders for readable arrays.
    """
    from polaris.artifacts import DatasetV1, DatasetV2
    from polaris.types import slugify

    fields: dict[str, Any] = read_document(str(metadata)) if metadata is not None else {}
    internal = {"table", "zarr_root_path", "zarrRootPath", "artifact_version", "artifactVersion"}
    known = model_keys(DatasetV1, DatasetV2) - internal
    warn_unknown_keys(str(metadata) if metadata else None, fields, known | {"owner", "access"}, "dataset")
    from_file = dict(fields)  # what a field error can be blamed on the metadata file for
    for key, value in (("name", name), ("owner", owner), ("license", license_), ("description", description)):
        if value is not None:
            fields[key] = value
    fields.setdefault("name", path.stem if not _is_zarr(path) else path.name.removesuffix(".zarr"))
    chosen_access = access.value if access is not None else str(fields.pop("access", "private"))
    fields.pop("access", None)
    target_owner = fields.pop("owner", None)
    if target_owner is not None and not isinstance(target_owner, str):
        raise typer.BadParameter(f"owner must be text; got {target_owner!r}", param_hint="--metadata")
    try:
        dataset = build_dataset(path, fields, zarr_root=zarr_root, pointer_columns=pointer_columns)
    except ValueError as exc:
        raise fields_error(str(metadata) if metadata else None, from_file, exc) from None
    on_interrupt(ctx, UPLOAD_INTERRUPTED)
    with make_client(ctx) as client:
        target_owner = resolve_owner(client, target_owner)
        client.upload_dataset(
            dataset,
            access=cast("AccessType", chosen_access),
            owner=str(target_owner),
            if_exists="skip" if resume else if_exists.value,
        )
        assert dataset.owner is not None and dataset.name
        url = client.settings.web_url("datasets", dataset.owner.slug, slugify(dataset.name))
    artifact_id = f"{dataset.owner.slug}/{slugify(dataset.name)}"
    result: dict[str, Any] = {
        "artifact": artifact_id,
        "kind": "dataset",
        "format": "V1" if isinstance(dataset, DatasetV1) else "V2",
        "version": dataset.artifact_version,
        "access": chosen_access,
        "url": url,
    }
    if as_json:
        emit_json(result)
        return
    if quiet:
        typer.echo(artifact_id)
        return
    err_console().print(f"Uploaded dataset {escape(artifact_id)} ({result['format']}, {chosen_access}).")
    out_console().print(url, highlight=False, soft_wrap=True)
