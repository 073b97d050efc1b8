"""Jobs and background loops shared by several processes on one store: a job held by a
killed worker is taken over once its lease runs out and ends once; PostgreSQL claims skip
rows another worker is claiming instead of waiting; only one process leads the goal
monitor, and another takes over when the leader's connection dies."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from service.evaluation.jobs import Worker
from service.ids import utcnow
from service.store import Leadership, Store
from service.store.jobs import JobQueue
from service.store.tables import JobRow
from tests.support.fixtures import PG_URL, scratch_store


def test_a_job_of_a_killed_worker_is_taken_over_and_ends_once(store: Store) -> None:
    queue = JobQueue(store, lease_s=30)
    job_id = queue.enqueue("demo", {"n": 1})
    dead = queue.claim("dead")
    assert dead is not None and dead.worker == "dead"
    assert queue.claim("alive") is None  # its lease holds: the job is not free
    later = utcnow() + timedelta(seconds=31)
    taken = queue.claim("alive", now=later)
    assert taken is not None and taken.id == job_id and taken.attempts == 2
    # The first worker wakes up late: its outcome changes nothing, its heartbeat neither.
    assert queue.renew(dead) is False
    assert queue.succeed(dead) is False
    assert queue.fail(dead, "late") is False
    row = queue.get(job_id)
    assert row is not None and row["state"] == "running" and row["claimed_by"] == "alive"
    assert queue.succeed(taken) is True
    assert queue.counts() == {"done": 1}


def test_the_heartbeat_keeps_a_long_job_from_being_taken_over(store: Store) -> None:
    queue = JobQueue(store, lease_s=30)
    queue.enqueue("demo", {})
    job = queue.claim("w1")
    assert job is not None
    first = queue.get(job.id)["lease_until"]  # type: ignore[index]
    assert queue.renew(job) is True
    renewed = queue.get(job.id)["lease_until"]  # type: ignore[index]
    assert renewed >= first
    assert queue.claim("w2", now=utcnow() + timedelta(seconds=20)) is None


def test_a_job_that_kills_every_worker_fails_after_its_attempts(store: Store) -> None:
    queue = JobQueue(store, lease_s=10)
    job_id = queue.enqueue("demo", {}, max_attempts=2)
    at = utcnow()
    for i in range(2):
        assert queue.claim(f"w{i}", now=at) is not None
        at += timedelta(seconds=11)  # each worker dies holding it
    assert queue.claim("w9", now=at) is None
    row = queue.get(job_id)
    assert row is not None and row["state"] == "failed"
    assert "killed or lost" in row["error"]


def test_the_worker_renews_the_lease_while_its_handler_runs(store: Store) -> None:
    queue = JobQueue(store, lease_s=1.5)  # a beat every 0.5 s
    release = threading.Event()
    stolen: list[object] = []

    def slow(_: dict[str, object]) -> None:
        # Past the first lease, the job is still this worker's: nobody can claim it.
        release.wait(2.5)
        stolen.append(queue.claim("thief"))

    worker = Worker(queue, {"slow": slow})
    job_id = queue.enqueue("slow", {})
    job = queue.claim(worker.name)
    assert job is not None
    worker.run_one(job)
    assert stolen == [None]
    assert queue.get(job_id)["state"] == "done"  # type: ignore[index]


def test_postgres_claims_skip_a_row_another_worker_has_locked(tmp_path: Path) -> None:
    with scratch_store("postgres", tmp_path) as store:
        queue = JobQueue(store)
        first = queue.enqueue("demo", {"i": 1})
        second = queue.enqueue("demo", {"i": 2})
        with store.engine.connect() as other:
            # Another worker is in the middle of claiming the oldest job.
            other.execute(select(JobRow.id).where(JobRow.id == first).with_for_update()).one()
            got: list[object] = []
            t = threading.Thread(target=lambda: got.append(queue.claim("w2")))
            t.start()
            t.join(timeout=10)
            assert not t.is_alive(), "the claim waited on the locked row"
            other.rollback()
        job = got[0]
        assert job is not None and job.id == second  # type: ignore[attr-defined]


def test_one_leader_at_a_time_and_a_successor_when_it_dies(tmp_path: Path) -> None:
    with scratch_store("postgres", tmp_path) as store:
        other = Store(PG_URL, schema=store.schema)  # a second process's engine
        try:
            a, b = Leadership(store, "goal-monitor"), Leadership(other, "goal-monitor")
            assert a.acquire() is True
            assert b.acquire() is False
            assert a.acquire() is True  # still leads
            assert Leadership(other, "another-loop").acquire() is True  # locks are per loop
            # The leader's connection dies (the process was killed): its lock goes with it.
            with other.engine.connect() as admin:
                assert a._conn is not None
                pid = a._conn.scalar(text("SELECT pg_backend_pid()"))
                admin.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
            # pg_terminate_backend only signals: the backend (and its lock) goes a moment
            # later, longer on a loaded machine.
            deadline = time.monotonic() + 30
            while not b.acquire():
                assert time.monotonic() < deadline, "the dead leader's lock was never freed"
                time.sleep(0.05)
            assert a.acquire() is False  # it notices it lost, and the lock is taken
            b.release()
            assert a.acquire() is True
            a.release()
        finally:
            other.dispose()


def test_schemas_of_one_database_elect_apart(tmp_path: Path) -> None:
    with scratch_store("postgres", tmp_path) as one, scratch_store("postgres", tmp_path) as two:
        a, b = Leadership(one, "goal-monitor"), Leadership(two, "goal-monitor")
        assert a.acquire() and b.acquire()
        a.release()
        b.release()


@pytest.mark.parametrize("kind", ["sqlite"])
def test_on_sqlite_every_process_leads(kind: str, tmp_path: Path) -> None:
    with scratch_store(kind, tmp_path) as store:
        assert Leadership(store, "x").acquire() and Leadership(store, "x").acquire()


def test_replicas_migrating_at_once_take_turns(tmp_path: Path) -> None:
    with scratch_store("postgres", tmp_path, revision="0015") as store:
        stores = [Store(PG_URL, schema=store.schema) for _ in range(3)]
        errors: list[BaseException] = []

        def up(s: Store) -> None:
            try:
                s.upgrade()
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=up, args=(s,)) for s in stores]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        for s in stores:
            s.dispose()
        assert errors == []
        with store.session() as s:
            assert s.scalar(select(func.count()).select_from(JobRow)) == 0  # the column exists
            assert s.scalar(text("SELECT count(*) FROM jobs WHERE lease_until IS NULL")) == 0
