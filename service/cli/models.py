"""`arbiter models`: the configured variants and whether each model answers; `models
discover`, what the AWS account offers (Bedrock models and inference profiles, SageMaker
endpoints and inference components); `models add-discovered`, one of those as a variant in
the variants file."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated

import typer

from service.cli.common import Table, console, err_console, friendly_errors
from service.config import Settings
from service.models import (
    AdapterName,
    AwsTarget,
    Discovery,
    KeyEnvs,
    TemplateName,
    append_variant,
    discover,
    discovered_variant,
    load_variants,
    probe_model,
    writable_file,
)

models_app = typer.Typer(
    help="The variants' models, and the models the AWS account offers.",
    invoke_without_command=True,
)

RegionOption = Annotated[
    str | None,
    typer.Option(
        help="AWS region to look in (default ARBITER_DISCOVER_REGION or the AWS chain's)."
    ),
]
ProfileOption = Annotated[
    str | None, typer.Option(help="AWS profile (default ARBITER_DISCOVER_PROFILE or the chain's).")
]
EndpointOption = Annotated[
    str | None,
    typer.Option(
        help="AWS endpoint URL (default ARBITER_DISCOVER_ENDPOINT_URL); the variants made "
        "from what it finds call it too."
    ),
]


@models_app.callback()
@friendly_errors
def models(ctx: typer.Context) -> None:
    """List the variants and whether each model is reachable."""
    if ctx.invoked_subcommand is not None:
        return
    settings = Settings()
    variants = load_variants(settings.resolved_variants_file, key_envs=KeyEnvs.of(settings))
    with ThreadPoolExecutor(max_workers=8) as pool:
        probes = list(pool.map(probe_model, variants))
    table = Table(title=f"Variants ({settings.resolved_variants_file})")
    for column in ("variant", "provider", "model", "reachable", "detail"):
        table.add_column(column)
    for v, p in zip(variants, probes, strict=True):
        table.add_row(
            v.name, v.provider, v.model_label, "[green]yes[/]" if p.ok else "[red]no[/]", p.detail
        )
    console.print(table)
    if not all(p.ok for p in probes):
        raise typer.Exit(2)


def _target(
    settings: Settings, region: str | None, profile: str | None, endpoint_url: str | None
) -> AwsTarget:
    return AwsTarget.of(settings, region=region, profile=profile, endpoint_url=endpoint_url)


def discovery_table(discovery: Discovery) -> Table:
    """Every cell wraps (a long id folds) rather than being cut, at 80 columns too. The
    image's full URI is in --json; the notes name its repository and tag."""
    table = Table(
        title=f"Models in {discovery.region or 'the default region'}",
        show_lines=True,
        expand=True,
    )
    for column, ratio in (("id", 4), ("provider", 2), ("in → out", 2), ("stream", 1), ("notes", 3)):
        table.add_column(column, overflow="fold", ratio=ratio, min_width=len(column))
    for m in discovery.models:
        modalities = f"{','.join(m.input_modalities)} → {','.join(m.output_modalities)}"
        streaming = "?" if m.streaming is None else ("yes" if m.streaming else "no")
        notes = f"adapter {m.adapter}: {m.note}" if m.adapter is not None else m.note
        table.add_row(m.id, m.provider, modalities, streaming, notes)
    return table


@models_app.command("discover")
@friendly_errors
def discover_cmd(
    bedrock: Annotated[
        bool, typer.Option("--bedrock", help="Bedrock foundation models and inference profiles.")
    ] = False,
    sagemaker: Annotated[
        bool, typer.Option("--sagemaker", help="SageMaker endpoints and inference components.")
    ] = False,
    region: RegionOption = None,
    profile: ProfileOption = None,
    endpoint_url: EndpointOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List the models the account can call (both services unless one is named). Exit 2
    when a service could not be listed (the other's models are still shown)."""
    if not bedrock and not sagemaker:
        bedrock = sagemaker = True
    target = _target(Settings(), region, profile, endpoint_url)
    found = discover(target, bedrock=bedrock, sagemaker=sagemaker)
    if as_json:
        typer.echo(found.model_dump_json(indent=2))
    elif found.models:
        console.print(discovery_table(found))
        console.print(
            "Add one as a variant: [bold]arbiter models add-discovered ID[/] [--name NAME]",
            highlight=False,
        )
    else:
        where = found.region or "the default region"
        console.print(f"No models found in {where}.", highlight=False)
    for problem in found.problems:
        err_console.print(
            f"[bold red]{problem.service} not listed[/] [dim]({problem.code})[/]: {problem.message}",
            highlight=False,
        )
        if problem.hint:
            err_console.print(f"[yellow]how to fix[/]: {problem.hint}", highlight=False)
    if found.problems:
        raise typer.Exit(2)


@models_app.command("add-discovered")
@friendly_errors
def add_discovered(
    ident: Annotated[str, typer.Argument(metavar="ID", help="An id `models discover` listed.")],
    name: Annotated[
        str | None, typer.Option(help="The variant's name (default: from the id).")
    ] = None,
    adapter: Annotated[
        AdapterName | None,
        typer.Option(help="SageMaker: the payload the container takes, when not inferred."),
    ] = None,
    template: Annotated[
        TemplateName | None,
        typer.Option(help="SageMaker tgi/jumpstart: the prompt template (default: inferred)."),
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option(
            help="Variants file to add to (default: the configured one, or ./arbiter.toml)."
        ),
    ] = None,
    region: RegionOption = None,
    profile: ProfileOption = None,
    endpoint_url: EndpointOption = None,
) -> None:
    """Add a discovered model to the variants file as a variant."""
    settings = Settings()
    target = _target(settings, region, profile, endpoint_url)
    variant = discovered_variant(
        target, ident, name=name, adapter=adapter, prompt_template=template
    )
    configured = settings.resolved_variants_file
    path = file or writable_file(configured)
    written = append_variant(
        path,
        variant,
        key_envs=KeyEnvs.of(settings),
        seed=configured if file is None and path != configured else None,
    )
    console.print(
        f"Added variant [bold]{variant.name}[/] ({variant.model_label}) to {written}.",
        highlight=False,
    )
    if written.suffix in {".yaml", ".yml"}:
        console.print("[dim]YAML files are rewritten: comments are not kept.[/]")
    console.print(
        "A running `arbiter serve` reads the file at start-up: restart it, or add the model "
        "from the Models page (no restart).",
        highlight=False,
    )
