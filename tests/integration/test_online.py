"""Background jobs in the store, and online scoring of every answer after a turn."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from service.app.bootstrap import build_runtime
from service.config import Settings
from service.errors import ArbiterError
from service.evaluation.jobs import Worker
from service.ids import utcnow
from service.store import Store
from service.store.jobs import JobQueue
from service.store.tables import JobRow


def test_a_job_is_claimed_once_retried_with_backoff_then_failed(store: Store) -> None:
    queue = JobQueue(store)
    job_id = queue.enqueue("demo", {"n": 1}, max_attempts=2)
    first = queue.claim("w1")
    assert first is not None and first.id == job_id and first.attempts == 1
    assert queue.claim("w2") is None  # running: nobody else gets it
    queue.fail(first, "boom")
    assert queue.get(job_id)["state"] == "queued"  # type: ignore[index]
    assert queue.claim("w1") is None  # backing off: not due yet
    with store.session() as s:  # let the pause pass
        s.execute(update(JobRow).values(run_after=utcnow() - timedelta(seconds=1)))
    second = queue.claim("w2")
    assert second is not None and second.attempts == 2
    queue.fail(second, "boom again")
    row = queue.get(job_id)
    assert row is not None and row["state"] == "failed" and row["error"] == "boom again"
    assert queue.counts() == {"failed": 1}


def test_running_jobs_of_a_dead_worker_are_queued_again(store: Store) -> None:
    queue = JobQueue(store, lease_s=30)
    queue.enqueue("demo", {})
    assert queue.claim("dead") is not None
    assert queue.requeue_expired() == 0  # its lease still holds: it may be alive
    later = utcnow() + timedelta(seconds=31)
    assert queue.requeue_expired(now=later) == 1
    again = queue.claim("alive")
    assert again is not None and again.attempts == 2


def test_concurrent_workers_run_every_job_exactly_once(store: Store) -> None:
    queue = JobQueue(store)
    ids = {queue.enqueue("demo", {"i": i}) for i in range(60)}
    claimed: list[str] = []
    lock = threading.Lock()

    def work(name: str) -> None:
        while True:
            job = queue.claim(name)
            if job is None:
                with store.session() as s:
                    left = s.scalar(select(JobRow.id).where(JobRow.state == "queued").limit(1))
                if left is None:
                    return
                continue
            with lock:
                claimed.append(job.id)
            queue.succeed(job)

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(claimed) == sorted(ids)  # each once: no job lost, none run twice
    assert queue.counts() == {"done": 60}


def test_worker_retries_a_failing_handler_and_records_the_error(store: Store) -> None:
    queue = JobQueue(store)
    calls: list[dict[str, Any]] = []

    def flaky(payload: dict[str, Any]) -> None:
        calls.append(payload)
        if len(calls) == 1:
            raise RuntimeError("judge unavailable")

    worker = Worker(queue, {"flaky": flaky}, poll_s=0.05)
    job_id = queue.enqueue("flaky", {"x": 1})
    job = queue.claim(worker.name)
    assert job is not None
    worker.run_one(job)
    row = queue.get(job_id)
    assert row is not None and row["state"] == "queued"
    assert row["error"] == "RuntimeError: judge unavailable"
    again = queue.claim(worker.name, now=utcnow() + timedelta(seconds=2))  # after the pause
    assert again is not None and again.attempts == 2
    worker.run_one(again)
    assert queue.get(job_id)["state"] == "done"  # type: ignore[index]
    assert calls == [{"x": 1}, {"x": 1}]
    unknown = queue.enqueue("nobody-handles-this", {}, max_attempts=1)
    claimed = queue.claim(worker.name)
    assert claimed is not None
    worker.run_one(claimed)
    row = queue.get(unknown)
    assert row is not None and row["state"] == "failed" and "no handler" in row["error"]


def test_worker_loop_picks_up_jobs_and_stops_cleanly(store: Store) -> None:
    queue = JobQueue(store)
    seen: list[int] = []

    async def scenario() -> None:
        worker = Worker(queue, {"demo": lambda p: seen.append(p["i"])}, poll_s=5)
        worker.start()
        for i in range(3):
            queue.enqueue("demo", {"i": i})
            worker.wake()  # no waiting for the next poll
        deadline = time.monotonic() + 10
        while len(seen) < 3 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        await worker.stop()

    asyncio.run(scenario())
    assert seen == [0, 1, 2]
    assert queue.counts() == {"done": 3}


@pytest.mark.parametrize("bad", ["bleu", "nonsense"])
def test_bad_online_metric_settings_fail_at_start_up(
    bad: str, store: Store, variants_file: Any, tmp_path: Any
) -> None:

    settings = Settings(home=tmp_path, variants_file=variants_file, online_metrics=bad)
    if bad == "bleu":
        # A reference metric cannot run online (live answers have no reference): scores
        # would all be errors, so refuse it up front.
        with pytest.raises(ArbiterError, match="needs a reference"):
            build_runtime(settings, store=store)
    else:
        with pytest.raises(ArbiterError, match="unknown metric 'nonsense'"):
            build_runtime(settings, store=store)
