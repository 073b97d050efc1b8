"""`arbiter usecase`: use cases with their candidate variants and measurable targets, goal
status, the model-selection report, and CloudWatch alarms on the targets."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from evals.goals import TARGET_METRICS
from evals.selection import TUNED_RULE
from monitoring.cloudwatch import goal_alarms
from service.app import build_runtime, cloudwatch_client, configure_logging
from service.cli.common import Table, console, friendly_errors, open_store, progress_bar
from service.config import Settings
from service.evaluation import Progress as RunProgress
from service.evaluation import usecases
from service.models import Catalog, KeyEnvs, classify_error, load_variants
from service.store import variants

usecase_app = typer.Typer(
    help="Use cases: candidate variants, measurable targets, goal status, model selection.",
    no_args_is_help=True,
)

_DAYS = typer.Option(min=0.001, help="The window, in days back from now (default: its own).")


@usecase_app.command("apply")
@friendly_errors
def usecase_apply(
    file: Annotated[Path, typer.Argument(help="A use case as YAML, TOML or JSON.")],
) -> None:
    """Create or replace a use case from a checked-in file. Every target is validated."""
    settings = Settings()
    spec = usecases.load_file(file)
    with open_store(settings) as store:
        key_envs = KeyEnvs.of(settings)
        catalog = Catalog(
            load_variants(settings.resolved_variants_file, key_envs=key_envs), key_envs=key_envs
        )
        catalog.add_stored(variants.api_variants(store))
        created = usecases.apply(store, catalog, spec)
    console.print(
        f"{'created' if created else 'updated'} use case [bold]{spec.name}[/]: "
        f"{len(spec.variants)} variants, {len(spec.targets)} targets",
        highlight=False,
    )


@usecase_app.command("list")
@friendly_errors
def usecase_list() -> None:
    """The use cases, with their variants and targets."""
    with open_store(Settings()) as store:
        specs = usecases.list_all(store)
    table = Table("use case", "variants", "baseline", "targets", title="Use cases")
    for spec in specs:
        table.add_row(
            spec.name, ", ".join(spec.variants), spec.baseline or "—", "\n".join(spec.targets)
        )
    console.print(table)


@usecase_app.command("metrics")
def usecase_metrics() -> None:
    """Every metric a target can name."""
    table = Table("metric", "kind", "better", "what it measures", title="Target metrics")
    for m in TARGET_METRICS.values():
        table.add_row(m.name, m.kind, "higher" if m.higher_is_better else "lower", m.description)
    console.print(table)


@usecase_app.command("status")
@friendly_errors
def usecase_status(
    name: Annotated[str, typer.Argument(help="The use case.")],
    days: Annotated[float | None, _DAYS] = None,
) -> None:
    """Each variant against each target: met, missed or not enough data, with the value and
    its 95% CI. Exits 1 when no variant meets every target."""
    with open_store(Settings()) as store:
        spec = usecases.get(store, name)
        window = usecases.Window.last(days or spec.window_days)
        ranked = usecases.status(store, spec, window)
    colour = {"met": "green", "missed": "red", "insufficient": "yellow"}
    table = Table("variant", *spec.targets, title=f"{name}: {window.describe()}")
    for c in ranked:
        cells = [f"[{colour[g.status]}]{g.describe()}[/]" for g in c.goals]
        table.add_row(c.variant + (" (all met)" if c.all_met else ""), *cells)
    console.print(table)
    if not any(c.all_met for c in ranked):
        raise typer.Exit(1)


@usecase_app.command("report")
@friendly_errors
def usecase_report(
    name: Annotated[str, typer.Argument(help="The use case.")],
    out: Annotated[Path, typer.Option(help="report.html (self-contained) or report.md.")] = Path(
        "selection.html"
    ),
    days: Annotated[float | None, _DAYS] = None,
    baseline: Annotated[
        str | None, typer.Option(help="Compare with this variant (default: its baseline).")
    ] = None,
) -> None:
    """The model-selection report: candidates ranked by targets met, then cost; evidence;
    differences from the baseline; quality vs cost and latency with the Pareto front."""
    with open_store(Settings()) as store:
        spec = usecases.get(store, name)
        report = usecases.report(
            store, spec, usecases.Window.last(days or spec.window_days), baseline=baseline
        )
    written = usecases.write_report(report, out)
    console.print(report.recommendation, highlight=False)
    if report.tuned:
        table = Table(
            "tuned",
            "base",
            "votes W-L-T",
            "win rate (95% Wilson)",
            "verdict",
            title="Base vs tuned",
        )
        for t in report.tuned:
            w = t.win
            table.add_row(
                t.tuned,
                t.base,
                f"{w.wins}-{w.losses}-{w.ties}",
                w.fmt(),
                t.verdict.replace("_", " "),
            )
        console.print(table)
        for t in report.tuned:
            console.print(t.recommendation, highlight=False)
        console.print(TUNED_RULE, highlight=False)
    console.print("wrote " + ", ".join(str(p) for p in written), highlight=False)


@usecase_app.command("run")
@friendly_errors
def usecase_run(
    name: Annotated[str, typer.Argument(help="The use case.")],
    concurrency: Annotated[int, typer.Option(min=1, max=64)] = 4,
) -> None:
    """Answer the use case's datasets with all its variants (with context from its first
    collection) and score them: evidence for its targets."""
    settings = Settings()
    configure_logging("warning", json=settings.log_json)
    runtime = build_runtime(settings)
    try:
        spec = usecases.get(runtime.store, name)
        with progress_bar("evaluating") as bar:
            task = bar.add_task("", total=None)

            def step(p: RunProgress) -> None:
                bar.update(task, completed=p.done, total=p.total)

            run_ids = asyncio.run(
                usecases.run_datasets(
                    runtime.evals, spec, concurrency=concurrency, on_progress=step
                )
            )
    finally:
        runtime.close()
    console.print(f"runs: {', '.join(run_ids)}", highlight=False)
    console.print(f"Next: [bold]arbiter usecase status {name}[/bold]", highlight=False)


@usecase_app.command("alarms")
@friendly_errors
def usecase_alarms(
    name: Annotated[str, typer.Argument(help="The use case.")],
    apply: Annotated[
        bool, typer.Option("--apply/--print", help="Create them in CloudWatch, or print them.")
    ] = False,
) -> None:
    """CloudWatch alarms from the targets: one per variant and target, on GoalMet."""
    settings = Settings()
    with open_store(settings) as store:
        spec = usecases.get(store, name)
    alarms = goal_alarms(settings.cloudwatch_namespace, spec.name, spec.variants, spec.targets)
    if not apply:
        console.print_json(data=alarms)
        return
    client = cloudwatch_client()
    try:
        for alarm in alarms:
            client.put_metric_alarm(**alarm)
    except Exception as exc:
        raise classify_error(exc) from None
    console.print(f"{len(alarms)} alarms in namespace {settings.cloudwatch_namespace}")
