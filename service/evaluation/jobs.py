"""The worker that runs background jobs kept in the store (`service.store.jobs`): a restart,
a crash or a second worker process loses and duplicates nothing."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Callable
from typing import Any

import structlog

from service.ids import new_id
from service.store import Job, JobQueue

log = structlog.get_logger(__name__)

Handler = Callable[[dict[str, Any]], None]


class Worker:
    """Runs queued jobs one at a time in a thread, next to the web server or alone
    (`arbiter worker`). `wake()` starts the next job at once instead of at the next poll."""

    def __init__(
        self, queue: JobQueue, handlers: dict[str, Handler], *, poll_s: float = 1.0
    ) -> None:
        self.queue = queue
        self.handlers = handlers
        self.poll_s = poll_s
        self.name = f"{socket.gethostname()}:{os.getpid()}:{new_id()[-6:]}"
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self.run())

    async def stop(self) -> None:
        """Let the job under way finish, then stop."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def run(self) -> None:
        while not self._stopping:
            try:
                job = await asyncio.to_thread(self.queue.claim, self.name)
            except Exception as exc:  # the store is down: wait and try again
                log.warning("jobs.claim_failed", error=str(exc))
                job = None
            if job is None:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_s)
                continue
            await asyncio.to_thread(self.run_one, job)

    def run_one(self, job: Job) -> None:
        handler = self.handlers.get(job.kind)
        try:
            if handler is None:
                raise LookupError(f"no handler for jobs of kind {job.kind!r}")
            handler(job.payload)
        except Exception as exc:
            log.warning(
                "jobs.failed", job=job.id, kind=job.kind, attempt=job.attempts, error=str(exc)
            )
            with contextlib.suppress(Exception):
                self.queue.fail(job, f"{type(exc).__name__}: {exc}")
            return
        self.queue.succeed(job.id)
