"""What runs beside the requests for as long as the web app lives: the job worker of this
process, the goal monitor, the tuning poller, the sync of daily token budgets to the store,
and the check for variants other replicas created. Started and
stopped by the app's lifespan; on the way out, answers in flight are stored first.

Safe with many replicas on one store: jobs are claimed one worker at a time (leases, see
`service.store.jobs`); the goal monitor and the tuning poller each run only in the process
holding its leader lock (`service.store.Leadership`: another takes over within one interval
if it dies; `arbiter worker` processes take part in the tuning poller's election too); the
token sync runs everywhere, each process adding only what it counted itself; so does the
variant sync, each process adding to its own catalog."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import structlog

from service.app.runtime import Runtime
from service.evaluation import refresh_goals
from service.store import Leadership

log = structlog.get_logger(__name__)


class Periodic:
    """`work` in a thread now and every `interval_s` (0: never); a failure is logged and
    tried again next time (a bad use case, a store hiccup)."""

    def __init__(
        self,
        interval_s: float,
        work: Callable[[], object],
        failure: str,
        *,
        leader: Leadership | None = None,
    ) -> None:
        self.interval_s = interval_s
        self.work = work
        self.failure = failure
        self.leader = leader  # given: runs only while this process leads
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.interval_s > 0 and self._task is None:
            self._task = asyncio.create_task(self._loop())

    async def _loop(self) -> None:
        while True:
            await self.run_once()
            await asyncio.sleep(self.interval_s)

    async def run_once(self) -> None:
        try:
            await asyncio.to_thread(self._turn)
        except Exception as exc:
            log.warning(self.failure, error=str(exc))

    def _turn(self) -> None:
        if self.leader is None or self.leader.acquire():
            self.work()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.leader is not None:
            await asyncio.to_thread(self.leader.release)


def tuning_poller(runtime: Runtime) -> Periodic:
    """Unfinished tuning jobs moved on every ARBITER_TUNING_POLL_SECONDS, by one process of
    those sharing the store (the leader; on SQLite each process polls its own file)."""
    return Periodic(
        runtime.settings.tuning_poll_seconds,
        runtime.poll_tunings,
        "tuning.poll_failed",
        leader=Leadership(runtime.store, "tuning-poller"),
    )


@contextlib.asynccontextmanager
async def running(runtime: Runtime) -> AsyncIterator[None]:
    settings = runtime.settings
    tuning = tuning_poller(runtime)
    goals = Periodic(
        settings.goals_interval_s,
        lambda: refresh_goals(runtime.store, runtime.telemetry.emit),
        "goals.refresh_failed",
        leader=Leadership(runtime.store, "goal-monitor"),
    )
    limits = Periodic(settings.limits_sync_s, runtime.limiter.sync, "limits.sync_failed")
    # Everywhere: each process keeps its own catalog in step with the store.
    variant_sync = Periodic(
        settings.variant_sync_seconds, runtime.variant_sync.refresh, "variants.sync_failed"
    )
    if settings.worker:
        await runtime.start_worker()
    goals.start()
    limits.start()
    tuning.start()
    variant_sync.start()
    try:
        yield
    finally:
        # Answers in flight are stored (and shadows finish) before the worker stops.
        await runtime.gateway.drain(timeout_s=30)
        await goals.stop()
        await tuning.stop()
        await limits.stop()
        await variant_sync.stop()
        if settings.limits_sync_s > 0:
            await limits.run_once()  # what was counted since the loop's last turn
        await runtime.stop_worker()  # the job under way finishes; queued ones wait in the store
