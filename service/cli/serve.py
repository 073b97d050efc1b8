"""`arbiter serve`, `worker` and `compare`: running Arbiter, and trying the configured models
from the terminal."""

from __future__ import annotations

import asyncio
import gc
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Annotated

import typer
import uvicorn
from rich.console import RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.text import Text

from rag import warm_up_words
from service.access import check_bind
from service.app import build_runtime, configure_logging, tuning_poller
from service.cli.common import Table, console, friendly_errors
from service.config import Settings
from service.documents import SAMPLE_CORPORA, call, ingest_sample_corpus
from service.schemas import AnswerOut, CompareRequest
from service.web import build_web_app, server_options


@friendly_errors
def serve(
    host: Annotated[
        str | None, typer.Option(help="Address to bind (default ARBITER_HOST or 127.0.0.1).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default ARBITER_PORT or 8000).")] = None,
) -> None:
    """Start the web service (API and page) on the configured store and variants."""
    settings = Settings()
    configure_logging(settings.log_level, json=settings.log_json, secrets=_secrets(settings))
    check_bind(host or settings.host, settings.auth)
    runtime = build_runtime(settings)
    # The document readers' processes start beside the rest of the start-up.
    threading.Thread(target=runtime.library.parser.warm_up, daemon=True).start()
    threading.Thread(target=warm_up_words, daemon=True).start()
    if settings.rag_sample_corpus:
        call(ingest_sample_corpus, runtime.library, list(SAMPLE_CORPORA))
    runtime.catalog.warm_up()
    host = host or settings.host
    port = port or settings.port
    console.print(
        f"[bold green]Arbiter[/] is starting on [bold]http://{host}:{port}/[/] "
        f"(store: {runtime.store.engine.url.get_backend_name()}, variants: {', '.join(runtime.catalog.names())})"
    )
    console.print(f"API docs: http://{host}:{port}/docs")
    config = uvicorn.Config(
        build_web_app(runtime),
        host=host,
        port=port,
        log_level=settings.log_level,
        **server_options(settings),
    )
    # What start-up built lives as long as the process: kept out of the garbage collector's
    # sight, a full collection walks only what requests allocate (with the page and the
    # models' libraries loaded, walking it all took ~0.4 s, every few seconds under load).
    gc.collect()
    gc.freeze()
    try:
        _Server(config, on_exit=runtime.library.parser.stop).run()
    finally:
        runtime.close()


def _secrets(settings: Settings) -> list[str | None]:
    """Values no log line may show, whatever pattern they match."""
    return [
        secret.get_secret_value() if secret is not None else None
        for secret in (
            settings.admin_key,
            settings.metrics_key,
            settings.link_secret,
            settings.redis_url,
        )
    ]


class _Server(uvicorn.Server):
    """uvicorn's server, which on SIGTERM or Ctrl-C also stops the document readers under
    way at once: an upload in flight answers (its files rejected) instead of holding the
    shutdown for as long as a parse may take."""

    def __init__(self, config: uvicorn.Config, *, on_exit: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_exit = on_exit

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self._on_exit()
        super().handle_exit(sig, frame)


@friendly_errors
def worker() -> None:
    """Run background jobs (online scoring, campaign answers, tuning comparisons) from the
    shared store, without serving the page: next to web replicas started with
    ARBITER_WORKER=false; run as many as you like. One process of them all (workers and web
    replicas) also polls unfinished tuning jobs every ARBITER_TUNING_POLL_SECONDS. Ctrl-C
    stops it after the job under way; a worker killed mid-job has its job taken over by
    another after ARBITER_JOB_LEASE_S."""
    settings = Settings()
    configure_logging(settings.log_level, json=settings.log_json, secrets=_secrets(settings))
    runtime = build_runtime(settings)

    async def work() -> None:
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):  # docker stop sends SIGTERM
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        await runtime.start_worker()
        poller = tuning_poller(runtime)
        poller.start()
        console.print("[bold green]worker[/] running; Ctrl-C to stop")
        try:
            await stop.wait()
        finally:
            await poller.stop()
            await runtime.stop_worker()

    try:
        asyncio.run(work())
    finally:
        runtime.close()


def _fmt(value: float | int | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)


@friendly_errors
def compare(
    prompt: Annotated[str, typer.Argument(help="The prompt to send to every variant.")],
    variant: Annotated[
        list[str], typer.Option("--variant", "-v", help="A variant name; repeat 2-4 times.")
    ],
    timeout: Annotated[float | None, typer.Option(help="Per-pane timeout in seconds.")] = None,
) -> None:
    """Stream the answers of several variants side by side, then print their metrics."""
    settings = Settings()
    configure_logging("warning")
    runtime = build_runtime(settings)
    request = CompareRequest(prompt=prompt, variants=variant, timeout_s=timeout)
    runtime.engine.validate(request)
    texts = ["" for _ in variant]
    states = ["streaming…" for _ in variant]
    errors = ["" for _ in variant]
    answers: list[AnswerOut] = []

    def render() -> RenderableType:
        grid = Table.grid(expand=True, padding=(0, 1))
        for _ in variant:
            grid.add_column(ratio=1)
        grid.add_row(
            *[
                # The name inside the panel, where it folds when the terminal is narrow (a
                # title on the border is cut to fit).
                Panel(
                    Text.assemble(
                        (name, "bold"),
                        " ",
                        (states[i], "dim"),
                        "\n",
                        texts[i] or "…",  # the model's words as written, never markup
                        (f"\n{errors[i]}" if errors[i] else "", "red"),
                    ),
                    expand=True,
                )
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
                        errors[answer.pane] = f"{answer.error_code}: {answer.error_message}"
                live.update(render())

    try:
        asyncio.run(run())
    finally:
        runtime.close()
    # A blank line before the Metrics title, not the title on the panels' bottom border. On
    # a terminal the live display ends its last line itself; elsewhere (a pipe) it does not.
    console.line(1 if console.is_terminal else 2)
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
