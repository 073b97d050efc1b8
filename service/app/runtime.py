"""The running service: the objects `bootstrap.build_runtime` wires together from the
settings, held for the API, the page and the CLI, and the background job worker of this
process. Features never import it: each takes the few objects it needs."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import structlog

from monitoring.pipeline import Telemetry
from monitoring.prometheus import PrometheusSink
from rag import Library
from service.access import Authenticator, Keys, Limiter, Links, SignIn
from service.app.variant_sync import VariantSync
from service.config import Settings
from service.evaluation import (
    SCORE_TURN,
    EvalRunner,
    Handler,
    OnlineScoring,
    Worker,
    scoring_job_id,
)
from service.ids import new_id
from service.labels import EloReplays, campaigns
from service.models import Catalog, PriceTable
from service.serving import CompareEngine, Gateway
from service.store import JobQueue, Store
from service.tuning import Clients, answer_comparison, poll

log = structlog.get_logger(__name__)

GENERATE_CAMPAIGN = "generate_campaign"
ANSWER_TUNING = "answer_tuning"


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
    evals: EvalRunner
    links: Links  # the page's short-lived signed links (chunk pages, report frames)
    signin: SignIn = field(kw_only=True)
    variant_sync: VariantSync = field(kw_only=True)  # variants other replicas created
    elo: EloReplays = field(kw_only=True)  # online Elo kept between requests
    prometheus: PrometheusSink | None = None
    worker: Worker | None = None
    # Fire-and-forget work started by requests (telemetry of votes, campaign answers): held
    # until done, since the event loop keeps only weak references to tasks.
    background: set[asyncio.Task[None]] = field(default_factory=set)
    loop: asyncio.AbstractEventLoop | None = None  # the worker's, for calls from threads
    # boto3 clients for tuning jobs (Bedrock, SageMaker, S3), made on first use
    tuning_clients: Clients = field(default_factory=Clients)

    def handlers(self) -> dict[str, Handler]:
        return {
            SCORE_TURN: self.online.score_turn,
            GENERATE_CAMPAIGN: self.generate_campaign,
            ANSWER_TUNING: self.answer_tuning,
        }

    def poll_tunings(self) -> list[str]:
        """The tuning poller's turn (in a thread): unfinished jobs moved on; for each that
        finished, a job answering its comparison (campaign and eval runs), which whichever
        worker claims it runs. Returns the names of the jobs that finished."""
        done = poll(self.store, self.catalog, self.tuning_clients, runner=self.evals)
        if done:
            self.jobs.enqueue_many(ANSWER_TUNING, [(new_id(), {"tuning": r["id"]}) for r in done])
            worker, loop = self.worker, self.loop
            if worker is not None and loop is not None:
                loop.call_soon_threadsafe(worker.wake)
        return [r["name"] for r in done]

    def answer_tuning(self, payload: dict[str, Any]) -> None:
        """The job's handler, in the worker's thread. The tuned variant may have been made by
        another process: stored variants this one does not know yet are added first."""
        if self.loop is None:
            raise RuntimeError("the worker's event loop is not running")
        self.variant_sync.refresh()
        coro = answer_comparison(self.store, self.engine, self.evals, str(payload["tuning"]))
        asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    async def generate_campaign_later(self, name: str) -> None:
        """A job answering the campaign's items: whichever worker (this process or an
        `arbiter worker`) claims it answers them, and if it dies half way another takes
        the job over and answers the items left."""
        await asyncio.to_thread(self.jobs.enqueue, GENERATE_CAMPAIGN, {"name": name})
        if self.worker is not None:
            self.worker.wake()

    def generate_campaign(self, payload: dict[str, Any]) -> None:
        """The job's handler, in the worker's thread: the answers stream on the worker's
        event loop, as the page's do."""
        if self.loop is None:
            raise RuntimeError("the worker's event loop is not running")
        coro = campaigns.generate(self.store, self.engine, str(payload["name"]))
        asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def score_later(self, turn_ids: list[str]) -> None:
        """Scoring jobs for stored turns; callable from any thread (the gateway's writer)."""
        if not self.online.enabled or not turn_ids:
            return
        self.jobs.enqueue_many(SCORE_TURN, [(scoring_job_id(t), {"turn_id": t}) for t in turn_ids])
        worker, loop = self.worker, self.loop
        if worker is not None and loop is not None:
            loop.call_soon_threadsafe(worker.wake)

    async def start_worker(self) -> None:
        """Background jobs in this process. Jobs a killed worker left running are taken
        over once their lease runs out (not at start-up: other workers may be alive)."""
        self.loop = asyncio.get_running_loop()
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

    def close(self) -> None:
        self.library.parser.stop()  # document readers still under way
        self.gateway.writer.close()
        self.telemetry.shutdown()  # what is queued reaches the sinks first
        self.store.dispose()
