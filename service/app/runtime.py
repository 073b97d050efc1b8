"""Wiring: settings -> store, variant catalog, prices, compare engine."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog

from evals.base import Metric
from evals.judges import RubricJudge
from monitoring.pipeline import Telemetry
from monitoring.prometheus import PrometheusSink
from monitoring.records import GoalRecord
from rag import Library
from service.access.auth import SCOPES, Authenticator, KeyLimits, Keys
from service.access.limits import Limiter
from service.app.telemetry import build_telemetry, vote_records
from service.config import Settings
from service.documents.library import build_library
from service.errors import ArbiterError
from service.evaluation.jobs import Handler, JobQueue, Worker
from service.evaluation.judging import scorers
from service.evaluation.online import SCORE_TURN, OnlineScoring, scoring_job_id
from service.models.breaker import Breakers
from service.models.catalog import Catalog, ModelFactory
from service.models.pricing import PriceTable
from service.models.variants import load_variants
from service.schemas import VoteOut
from service.serving.compare import CompareEngine
from service.serving.deployments import Deployments
from service.serving.deployments import load_file as load_deployments
from service.serving.gateway import Gateway
from service.store import Store, turns, variants

log = structlog.get_logger(__name__)


@dataclass
class Runtime:
    settings: Settings
    store: Store
    catalog: Catalog
    prices: PriceTable
    engine: CompareEngine
    library: Library
    jobs: JobQueue
    online: OnlineScoring
    telemetry: Telemetry
    gateway: Gateway
    keys: Keys
    auth: Authenticator
    limiter: Limiter
    prometheus: PrometheusSink | None = None
    worker: Worker | None = None
    background: set[asyncio.Task[None]] = field(default_factory=set)  # e.g. eval runs
    goal_monitor: asyncio.Task[None] | None = None
    limits_sync: asyncio.Task[None] | None = None
    loop: asyncio.AbstractEventLoop | None = None  # the worker's, for calls from threads

    def handlers(self) -> dict[str, Handler]:
        return {SCORE_TURN: self.online.score_turn}

    def score_later(self, turn_ids: list[str]) -> None:
        """Scoring jobs for stored turns; callable from any thread (the gateway's writer)."""
        if not self.online.enabled or not turn_ids:
            return
        self.jobs.enqueue_many(SCORE_TURN, [(scoring_job_id(t), {"turn_id": t}) for t in turn_ids])
        worker, loop = self.worker, self.loop
        if worker is not None and loop is not None:
            loop.call_soon_threadsafe(worker.wake)

    async def start_worker(self) -> None:
        """Background jobs in this process: jobs a crashed worker left running go back to
        the queue first."""
        self.loop = asyncio.get_running_loop()
        requeued = await asyncio.to_thread(self.jobs.requeue_running)
        if requeued:
            log.warning("jobs.requeued", jobs=requeued)
        self.worker = Worker(self.jobs, self.handlers())
        self.worker.start()

    async def stop_worker(self) -> None:
        if self.worker is not None:
            await self.worker.stop()
            self.worker = None

    async def after_turn(self, turn_id: str) -> None:
        if not self.online.enabled:
            return
        await asyncio.to_thread(
            self.jobs.enqueue, SCORE_TURN, {"turn_id": turn_id}, job_id=scoring_job_id(turn_id)
        )
        if self.worker is not None:
            self.worker.wake()

    def scoring_state(self, turn_id: str) -> str | None:
        """queued | running | done | failed for the turn's scoring job; None: there is none
        (online scoring is off, or the turn has not finished)."""
        job = self.jobs.get(scoring_job_id(turn_id))
        return None if job is None else str(job["state"])

    def record_votes(self, votes: list[VoteOut]) -> None:
        """Votes to the telemetry streams (one query for the variants of their turns)."""
        for record in vote_records(self.store, votes):
            self.telemetry.emit(record)

    def refresh_goals(self) -> list[GoalRecord]:
        """Every use case's goal status over its window, to the telemetry streams."""
        from service.evaluation import usecases

        records = []
        for spec in usecases.list_all(self.store):
            window = usecases.Window.last(spec.window_days)
            for variant, goals in usecases.goal_statuses(self.store, spec, window).items():
                for g in goals:
                    record = GoalRecord(
                        usecase=spec.name,
                        variant=variant,
                        target=str(g.target),
                        met=g.met,
                        value=g.value.mean,
                        low=g.value.low,
                        high=g.value.high,
                        samples=g.value.n,
                    )
                    self.telemetry.emit(record)
                    records.append(record)
        return records

    def start_goal_monitor(self) -> None:
        interval = self.settings.goals_interval_s
        if interval > 0 and self.goal_monitor is None:
            self.goal_monitor = _every(interval, self.refresh_goals, "goals.refresh_failed")

    async def stop_goal_monitor(self) -> None:
        await _stop(self.goal_monitor)
        self.goal_monitor = None

    def start_limits_sync(self) -> None:
        interval = self.settings.limits_sync_s
        if interval > 0 and self.limits_sync is None:
            self.limits_sync = _every(interval, self.limiter.sync, "limits.sync_failed")

    async def stop_limits_sync(self) -> None:
        """Stops the loop, and writes what was counted since its last turn."""
        await _stop(self.limits_sync)
        self.limits_sync = None
        if self.settings.limits_sync_s > 0:
            try:
                await asyncio.to_thread(self.limiter.sync)
            except Exception as exc:
                log.warning("limits.sync_failed", error=str(exc))

    def close(self) -> None:
        self.gateway.writer.close()
        self.telemetry.shutdown()  # what is queued reaches the sinks first
        self.store.dispose()


def _every(interval_s: float, work: Callable[[], object], failure: str) -> asyncio.Task[None]:
    """`work` in a thread now and every `interval_s`; a failure is logged and tried again
    next time (a bad use case, a store hiccup)."""

    async def loop() -> None:
        while True:
            try:
                await asyncio.to_thread(work)
            except Exception as exc:
                log.warning(failure, error=str(exc))
            await asyncio.sleep(interval_s)

    return asyncio.create_task(loop())


async def _stop(task: asyncio.Task[None] | None) -> None:
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def build_runtime(
    settings: Settings,
    *,
    model_factory: ModelFactory | None = None,
    store: Store | None = None,
) -> Runtime:
    """Load and check everything the service needs. Raises `ArbiterError` with a clear
    message (bad config, unreachable database) before anything listens."""
    declared = load_variants(settings.resolved_variants_file)
    prices = PriceTable.load(settings.prices_file)
    if store is None:
        if settings.resolved_database_url.startswith("sqlite"):
            settings.home.mkdir(parents=True, exist_ok=True)
        store = Store(settings.resolved_database_url)
    if settings.auto_migrate:
        store.upgrade()
    else:
        store.ping()
    interrupted = turns.recover_interrupted(store)
    if interrupted:
        log.warning("store.recovered", interrupted_turns=interrupted)
    variants.sync_variants(store, declared)
    catalog = Catalog(declared, model_factory)
    for variant in variants.api_variants(store):
        if variant.name not in catalog.names():
            catalog.add(variant)
    if settings.example_use_case:
        from service.evaluation.usecases import apply_example

        apply_example(store, catalog)
    library = build_library(settings, store.engine)
    telemetry, prometheus = build_telemetry(settings)
    online = OnlineScoring(store, *_online_scorers(settings, library, catalog), emit=telemetry.emit)
    engine = CompareEngine(
        store,
        catalog,
        prices,
        max_prompt_chars=settings.max_prompt_chars,
        max_panes=settings.max_panes,
        default_timeout_s=settings.default_timeout_s,
        library=library,
        emit=telemetry.emit,
        breakers=Breakers(settings.breaker_failures, settings.breaker_cooldown_s),
    )
    keys = Keys(store)
    if settings.auth == "keys" and settings.admin_key is not None:
        keys.ensure("admin (ARBITER_ADMIN_KEY)", settings.admin_key.get_secret_value(), SCOPES)
    auth = Authenticator(
        settings.auth,
        keys,
        store,
        user_header=settings.auth_user_header,
        roles_header=settings.auth_roles_header,
        trusted_proxies=settings.trusted_proxy_list,
    )
    limiter = Limiter(
        KeyLimits(settings.rate_per_min, settings.max_concurrency, settings.daily_tokens), store
    )
    deployments = Deployments(store, catalog.names())
    deployments.load(
        load_deployments(settings.deployments_file) if settings.deployments_file else []
    )
    runtime = Runtime(
        settings,
        store,
        catalog,
        prices,
        engine,
        library,
        JobQueue(store),
        online,
        telemetry,
        Gateway(engine, deployments),
        keys,
        auth,
        limiter,
        prometheus,
    )
    engine.after_turn = runtime.after_turn
    runtime.gateway.writer.on_stored = runtime.score_later
    return runtime


def _online_scorers(
    settings: Settings, library: Library, catalog: Catalog
) -> tuple[list[Metric], RubricJudge | None]:
    hint = "Use reference-free metrics such as answer_relevancy,faithfulness, or leave it empty."
    try:
        metrics, rubric = scorers(
            settings.online_metric_names, library, catalog, settings.online_judge
        )
    except ArbiterError as exc:
        raise ArbiterError(
            f"ARBITER_ONLINE_METRICS / ARBITER_ONLINE_JUDGE: {exc.message}",
            code="invalid_config",
            hint=exc.hint or hint,
        ) from None
    for m in metrics:
        if m.needs_reference:  # live answers have none: every score would be an error
            raise ArbiterError(
                f"ARBITER_ONLINE_METRICS: {m.name} needs a reference answer, which live "
                "answers do not have",
                code="invalid_config",
                hint=hint,
            )
    return metrics, rubric
