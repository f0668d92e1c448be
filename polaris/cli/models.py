"""``polaris models list|get|upload``: models are metadata about the method behind results (0.12+ Hubs)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import typer

from polaris.cli import _listing
from polaris.cli._common import (
    AccessChoice,
    artifact_id_arg,
    emit_json,
    err_console,
    escape,
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
    from polaris.artifacts import Model

__all__ = ["app", "model_summary"]

app = typer.Typer(
    help="Models on the Hub (metadata about the method behind results; 0.12+ Hubs).", no_args_is_help=True
)


@app.command("list")
@friendly_errors
def list_models(
    ctx: typer.Context,
    limit: int = _listing.LIMIT,
    offset: int = _listing.OFFSET,
    everything: bool = _listing.ALL,
    text: str | None = _listing.FILTER,
    owner: str | None = _listing.OWNER,
    as_json: bool = _listing.JSON,
    quiet: bool = _listing.QUIET,
) -> None:
    """List the models you can see (none on a Hub without models)."""
    _listing.run_listing(
        ctx,
        "Models",
        "model",
        limit=limit,
        offset=offset,
        everything=everything,
        text=text,
        owner=owner,
        as_json=as_json,
        quiet=quiet,
    )


def model_summary(model: Model) -> dict[str, Any]:
    """The ``--json`` object of a model: ``format`` is the model card's generation, ``version`` the Hub's number."""
    from polaris.cli._listing import format_name

    return {
        "artifact": model.artifact_id,
        "kind": "model",
        "format": format_name(int(getattr(model, "version", 1) or 1)),
        "version": model.artifact_version,
        "access": model.access,
        "description": model.description,
        "tags": list(model.tags),
        "code_url": model.code_url,
        "report_url": model.report_url,
    }


@app.command("get")
@friendly_errors
def get_model(
    ctx: typer.Context,
    artifact: str = typer.Argument(..., metavar="OWNER/NAME", help="The model.", callback=artifact_id_arg),
    as_json: bool = typer.Option(False, "--json", help="Print the model's metadata as JSON."),
) -> None:
    """Show a model's metadata (models have no files)."""
    with make_client(ctx, progress=False) as client:
        model = client.get_model(artifact)
    summary = model_summary(model)
    summary["readme"] = model.readme
    if as_json:
        emit_json(summary)
        return
    show_fields(f"Model {artifact}", summary)


@app.command("upload")
@friendly_errors
def upload_model(
    ctx: typer.Context,
    metadata: Path | None = typer.Argument(
        None, exists=True, dir_okay=False, help="YAML/JSON file of model fields (options win)."
    ),
    name: str | None = typer.Option(None, "--name", help="Model name."),
    owner: str | None = typer.Option(
        None, "--owner", help="User or organization that will own it (default and `me`: the logged-in user)."
    ),
    description: str | None = typer.Option(None, "--description", help="One line about the model."),
    readme: Path | None = typer.Option(None, "--readme", exists=True, dir_okay=False, help="Markdown file."),
    code_url: str | None = typer.Option(None, "--code-url", help="Where its code is (http(s) URL)."),
    report_url: str | None = typer.Option(None, "--report-url", help="A paper or report about it (http(s) URL)."),
    access: AccessChoice | None = typer.Option(None, "--access", help="Who can see it (default: private)."),
    parent: str | None = typer.Option(
        None, "--parent", help="OWNER/NAME of the model this is a new version of.", callback=artifact_id_arg
    ),
    changelog: str | None = typer.Option(None, "--changelog", help="With --parent: what changed."),
    as_json: bool = typer.Option(
        False, "--json", help="Print {artifact, format, version, parent, access, url} as JSON."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the OWNER/NAME of the uploaded model."),
) -> None:
    """Upload a model's metadata; prints the version created and its link."""
    from polaris.artifacts import Model
    from polaris.types import AccessType, slugify

    fields: dict[str, Any] = read_document(str(metadata)) if metadata is not None else {}
    known = model_keys(Model) - {"artifact_version"}
    warn_unknown_keys(str(metadata) if metadata else None, fields, known | {"owner", "access"}, "model")
    options = {
        "name": name,
        "owner": owner,
        "description": description,
        "code_url": code_url,
        "report_url": report_url,
        "artifact_changelog": changelog,
    }
    fields.update({k: v for k, v in options.items() if v is not None})
    if readme is not None:
        fields["readme"] = readme.read_text(encoding="utf-8")
    chosen_access = access.value if access is not None else str(fields.pop("access", "private"))
    fields.pop("access", None)
    target_owner = fields.pop("owner", None)
    if not fields.get("name"):
        raise typer.BadParameter("give the model's --name (or name: in the file)")
    if target_owner is not None and not isinstance(target_owner, str):
        raise typer.BadParameter(f"owner must be text; got {target_owner!r}", param_hint="METADATA")
    parent_id = parent or fields.pop("parent_artifact_id", None)
    model = Model.model_validate(fields)
    on_interrupt(ctx, "The model was not uploaded, or is on the Hub already (it goes in one request).")
    with make_client(ctx, progress=False) as client:
        target_owner = resolve_owner(client, target_owner)
        stored = client.upload_model(
            model, access=cast("AccessType", chosen_access), owner=str(target_owner), parent_artifact_id=parent_id
        )
        assert model.owner is not None and model.name
        url = client.settings.web_url("models", model.owner.slug, slugify(model.name))
    artifact_id = str(stored.get("artifactId") or f"{model.owner.slug}/{slugify(model.name)}")
    result: dict[str, Any] = {
        "artifact": artifact_id,
        "kind": "model",
        "format": "V1",
        "version": model.artifact_version,
        "parent": parent_id,
        "access": chosen_access,
        "url": url,
    }
    if as_json:
        emit_json(result)
        return
    if quiet:
        typer.echo(artifact_id)
        return
    version = f"version {model.artifact_version}" if model.artifact_version is not None else "a new model"
    origin = f", a new version of {parent_id}" if parent_id else ""
    err_console().print(f"Uploaded model {escape(artifact_id)}: {version}{escape(origin)} ({chosen_access}).")
    out_console().print(url, highlight=False, soft_wrap=True)
