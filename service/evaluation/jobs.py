"""The worker that runs background jobs kept in the store (`service.store.jobs`): a restart,
a crash or a second worker process loses and duplicates nothing. While a job runs, a
heartbeat renews its lease; a worker killed mid-job stops renewing, and another worker
takes the job over once the lease runs out."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
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
        """Run the job's handler while a heartbeat renews its lease, then record how it
        ended (unless another worker took it over meanwhile: then its outcome stands)."""
        stop = threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(job, stop), daemon=True)
        beat.start()
        try:
            self._run(job)
        finally:
            stop.set()
            beat.join()

    def _run(self, job: Job) -> None:
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
        if not self.queue.succeed(job):  # its lease ran out: another worker has it now
            log.warning("jobs.taken_over", job=job.id, kind=job.kind)

    def _heartbeat(self, job: Job, stop: threading.Event) -> None:
        """Renew the lease three times per lease period; a failed renewal (the store is
        down) is tried again at the next beat."""
        while not stop.wait(self.queue.lease_s / 3):
            try:
                if not self.queue.renew(job):
                    log.warning(
                        "jobs.lost_lease", job=job.id, kind=job.kind, lease_s=self.queue.lease_s
                    )
                    return
            except Exception as exc:
                log.warning("jobs.renew_failed", job=job.id, error=str(exc))
