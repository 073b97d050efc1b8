"""`arbiter eval`: batch evaluation runs, their reports, and the regression gate for CI."""

from __future__ import annotations

import asyncio
import enum
from pathlib import Path
from typing import Annotated, Any

import typer

from evals.datasets import EXAMPLE_DATASET, DatasetError, load_dataset
from evals.errors import LanguageError
from evals.languages import normalize_language
from evals.report import parse_thresholds
from service.app import build_runtime, configure_logging
from service.cli.common import Table, console, friendly_errors, open_store, progress_bar
from service.config import Settings
from service.documents import SAMPLE_COLLECTION, call, ingest_sample_corpus
from service.errors import ArbiterError, ErrorCode
from service.evaluation import (
    ONLINE,
    build_report,
    pairwise_judge,
    run_gate,
    run_summaries,
    write_report,
)
from service.evaluation import Progress as RunProgress
from service.schemas import RagRequest
from service.store import eval_runs

eval_app = typer.Typer(help="Batch evaluation runs.", no_args_is_help=True)


class Backend(enum.StrEnum):
    """Who answers an eval run's requests (service.evaluation.BACKENDS)."""

    online = "online"
    bedrock_batch = "bedrock-batch"
    sagemaker_transform = "sagemaker-transform"


@eval_app.command("run")
@friendly_errors
def eval_run(
    dataset: Annotated[
        Path | None,
        typer.Argument(
            help="A .jsonl or .csv file (prompt, reference, id); default: the bundled example."
        ),
    ] = None,
    variant: Annotated[
        list[str] | None,
        typer.Option("--variant", "-v", help="Repeat for each variant; default: the first two."),
    ] = None,
    metric: Annotated[
        list[str] | None, typer.Option("--metric", "-m", help="bleu, rouge_l, exact_match, ...")
    ] = None,
    judge: Annotated[
        str | None, typer.Option(help="A variant that grades each answer (rubric 1-5).")
    ] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=256, help="Calls in flight.")] = 8,
    rate: Annotated[
        float | None,
        typer.Option(
            min=0.01, help="At most this many calls started per second (provider quotas)."
        ),
    ] = None,
    resume: Annotated[
        str | None, typer.Option(help="Continue this run id (finished answers are kept).")
    ] = None,
    name: Annotated[str, typer.Option(help="A name for the run.")] = "",
    collection: Annotated[
        str | None,
        typer.Option(help="Retrieve context from this collection for variants that use it."),
    ] = None,
    top_k: Annotated[int, typer.Option(min=1, max=20, help="Chunks retrieved per example.")] = 4,
    language: Annotated[
        str | None,
        typer.Option(
            help="The dataset's language (zh, ja, de...) for rows without a `language` "
            "column; default: detected from each row's script."
        ),
    ] = None,
    backend: Annotated[
        Backend | None,
        typer.Option(
            help="online: calls from this process. bedrock-batch: Bedrock batch inference "
            "jobs (half the price; needs ARBITER_BATCH_S3_URI and "
            "ARBITER_BEDROCK_BATCH_ROLE_ARN). sagemaker-transform: batch transform jobs on "
            "the endpoints' models. Default: online, or the resumed run's.",
            case_sensitive=False,
        ),
    ] = None,
) -> None:
    """Answer every example with every variant, score the answers, store the run. Ctrl-C
    stops it; `--resume RUN_ID` carries on where it stopped (on a batch backend: re-attaches
    to the jobs under way). With no arguments: the bundled example dataset on the first two
    variants, with context from the sample corpus."""
    settings = Settings()
    configure_logging("warning", json=settings.log_json)
    try:
        language = normalize_language(language) if language else None
    except LanguageError as exc:
        raise ArbiterError(str(exc), code=ErrorCode.INVALID_LANGUAGE, hint=exc.hint) from None
    try:
        data = load_dataset(dataset or EXAMPLE_DATASET)
    except DatasetError as exc:
        raise ArbiterError(
            str(exc),
            code=ErrorCode.INVALID_DATASET,
            hint="Each row needs a prompt; see `arbiter eval run --help`.",
        ) from None
    runtime = build_runtime(settings)
    if not variant:
        variant = runtime.catalog.names()[:2]
    if dataset is None:
        metric = metric or ["rouge_l", "token_f1", "faithfulness_overlap", "context_recall_match"]
        collection = collection or (SAMPLE_COLLECTION if settings.rag_sample_corpus else None)
    if collection == SAMPLE_COLLECTION and settings.rag_sample_corpus:
        call(ingest_sample_corpus, runtime.library)
    rag = RagRequest(collection=collection, top_k=top_k) if collection else None
    try:
        chosen = (backend.value if backend else None) or (
            eval_runs.get_run(runtime.store, resume)["backend"] if resume else ONLINE
        )
        if chosen != ONLINE and resume is None:
            # Stored first, so that an interrupted run can be named for --resume.
            resume = runtime.evals.create_run(
                data,
                variant,
                metric or [],
                judge=judge,
                name=name,
                backend=chosen,
                rag=rag,
            )
            console.print(f"run [bold]{resume}[/bold] on {chosen}", highlight=False)
        with progress_bar("evaluating") as bar:
            task = bar.add_task("", total=None)

            def step(p: RunProgress) -> None:
                notes = [p.note] if p.note else []
                notes += [f"{p.errors} errors"] if p.errors else []
                bar.update(task, completed=p.done, total=p.total, description=", ".join(notes))

            try:
                run_id = asyncio.run(
                    runtime.evals.run(
                        data,
                        variant,
                        metric or [],
                        judge=judge,
                        concurrency=concurrency,
                        rate_per_s=rate,
                        run_id=resume,
                        name=name,
                        rag=rag,
                        on_progress=step,
                        language=language,
                        backend=chosen,
                    )
                )
            except KeyboardInterrupt:
                if chosen != ONLINE:
                    console.print(
                        f"The {chosen} jobs go on. Re-attach with: [bold]arbiter eval run "
                        f"{dataset or ''} --resume {resume}[/bold]",
                        highlight=False,
                    )
                raise
        summaries = run_summaries(runtime.store, run_id)
    finally:
        runtime.close()
    console.print(_summary_table(list(summaries.values()), title=f"run {run_id}"))
    console.print(
        f"Report: [bold]arbiter eval report {run_id} --out report.html[/bold]", highlight=False
    )


def _summary_table(sides: list[Any], *, title: str) -> Table:
    """One row per metric, one column per side (evals.report.SideSummary): the mean with
    its 95% CI, and how many rows could not be scored."""
    metrics: list[str] = []
    for side in sides:
        metrics += [m for m in side.metrics if m not in metrics]
    table = Table("metric", *(side.label for side in sides), title=title)
    table.add_row("answers", *(str(side.answers) for side in sides))
    for m in metrics:
        cells = []
        for side in sides:
            est = side.metrics.get(m)
            cell = est.fmt() if est else "—"
            cells.append(cell + (f" ({est.errors} err)" if est and est.errors else ""))
        table.add_row(m, *cells)
    table.add_row(
        "p90 latency (s)",
        *("—" if s.p90_latency_s is None else f"{s.p90_latency_s:.2f}" for s in sides),
    )
    return table


@eval_app.command("list")
@friendly_errors
def eval_list(
    limit: Annotated[int, typer.Option(min=1, help="How many, newest first.")] = 20,
    use_case: Annotated[
        str | None, typer.Option(help="Only the runs started for this use case.")
    ] = None,
) -> None:
    """Stored eval runs, newest first."""
    with open_store(Settings()) as store:
        runs = eval_runs.list_runs(store, limit, use_case)
    table = Table("run", "name", "variants", "metrics", "status", "stored", "started")
    for r in runs:
        table.add_row(
            r["id"],
            r["name"],
            ", ".join(r["variants"]),
            ", ".join(r["metrics"]),
            r["status"],
            f"{r['stored']}/{r['total']}",
            r["created_at"].strftime("%Y-%m-%d %H:%M"),
        )
    console.print(table)


@eval_app.command("report")
@friendly_errors
def eval_report(
    run: Annotated[str, typer.Argument(help="The run to report on.")],
    out: Annotated[Path, typer.Option(help="report.html (self-contained) or report.md.")] = Path(
        "report.html"
    ),
    against: Annotated[
        str | None, typer.Option(help="A baseline run: variants of the same name are compared.")
    ] = None,
    judge: Annotated[
        str | None, typer.Option(help="A variant that judges each pair of answers (both orders).")
    ] = None,
) -> None:
    """Means with bootstrap 95% CIs per variant, paired differences, judge win rates,
    the largest per-example differences and plots, as HTML or Markdown."""
    settings = Settings()
    configure_logging("warning", json=settings.log_json)
    runtime = build_runtime(settings)
    try:
        pairwise = pairwise_judge(runtime.catalog, judge) if judge else None
        with progress_bar("judging") as bar:
            task = bar.add_task("", total=None)
            report = build_report(
                runtime.store,
                run,
                against=against,
                judge=pairwise,
                on_step=lambda: bar.advance(task),
            )
    finally:
        runtime.close()
    console.print(_summary_table(report.sides, title=report.title))
    for c in report.comparisons:
        win = c.win_rate_b
        if win is not None:
            console.print(
                f"{c.b.label} beats {c.a.label} by the judge: {win.fmt()}", highlight=False
            )
    for path in write_report(report, out):
        console.print(f"wrote {path}", highlight=False)


@eval_app.command("gate")
@friendly_errors
def eval_gate(
    baseline: Annotated[str, typer.Option(help="RUN_ID or RUN_ID:VARIANT")],
    candidate: Annotated[str, typer.Option(help="RUN_ID or RUN_ID:VARIANT")],
    max_drop: Annotated[
        list[str],
        typer.Option(
            help="METRIC=AMOUNT, repeatable: the most the metric may worsen (a drop; for "
            "latency_s, ttft_s, cost_usd and error_rate a rise)."
        ),
    ],
) -> None:
    """Exit 1 when the candidate is worse than the baseline by more than allowed: a
    regression gate for CI pipelines."""
    try:
        thresholds = parse_thresholds(max_drop)
    except ValueError as exc:
        raise ArbiterError(
            str(exc), code=ErrorCode.BAD_THRESHOLD, hint="Write --max-drop rouge_l=0.02."
        ) from None
    with open_store(Settings()) as store:
        checks = run_gate(store, baseline, candidate, thresholds)
    table = Table("metric", "baseline", "candidate", "allowed", "result")
    for c in checks:
        table.add_row(
            c.metric,
            "—" if c.baseline is None else f"{c.baseline:.4f}",
            "—" if c.candidate is None else f"{c.candidate:.4f}",
            f"{c.allowed:g}",
            ("[green]pass[/green] " if c.passed else "[red]FAIL[/red] ") + c.reason,
        )
    console.print(table)
    failed = [c.metric for c in checks if not c.passed]
    if failed:
        console.print(f"[red]gate failed[/red]: {', '.join(failed)}")
        raise typer.Exit(1)
    console.print("[green]gate passed[/green]")
