"""The job queue as stored. A job is claimed for a lease: `queued` -> `running` with
`lease_until` a little ahead, renewed by its worker's heartbeat (`renew`). A `running` job
whose lease ran out — its worker was killed, or lost the database — is claimed again by
any worker, so a job is never stranded; its first worker's late `succeed` or `fail` then
changes nothing (every update is guarded on who holds the job), so it ends once.

On PostgreSQL the claim is one `UPDATE ... WHERE id = (SELECT ... FOR UPDATE SKIP LOCKED)`:
any number of workers claim side by side without waiting on each other's rows. SQLite has
one writer at a time: there a claim is a select, then an update guarded on the state the
select saw (two workers never both win). A failed job is retried with backoff until
`max_attempts`, then left `failed` with its error."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, and_, func, insert, or_, select, update

from service.ids import new_id, utcnow
from service.store.engine import Store
from service.store.tables import JobRow

BACKOFF_S = (1.0, 5.0, 30.0)
LEASE_S = 60.0  # how long a claim holds without a heartbeat


@dataclass(frozen=True)
class Job:
    id: str
    kind: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int
    worker: str = ""  # who holds it: the guard of `succeed`, `fail` and `renew`


def _due(now: datetime) -> ColumnElement[bool]:
    """Queued and due, or running on a lease that ran out (a lease-less running job was
    left by a version without leases)."""
    return or_(
        and_(JobRow.state == "queued", JobRow.run_after <= now),
        and_(
            JobRow.state == "running",
            or_(JobRow.lease_until.is_(None), JobRow.lease_until < now),
        ),
    )


class JobQueue:
    def __init__(self, store: Store, *, lease_s: float = LEASE_S) -> None:
        self._store = store
        self.lease_s = lease_s
        self._postgres = store.engine.dialect.name == "postgresql"

    def enqueue(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        max_attempts: int = 3,
        job_id: str | None = None,
    ) -> str:
        job_id = job_id or new_id()
        self.enqueue_many(kind, [(job_id, payload)], max_attempts=max_attempts)
        return job_id

    def enqueue_many(
        self, kind: str, jobs: list[tuple[str, dict[str, Any]]], *, max_attempts: int = 3
    ) -> None:
        """Jobs of one kind, as (id, payload), in one transaction."""
        now = utcnow()
        rows = [
            {
                "id": job_id,
                "kind": kind,
                "payload": payload,
                "state": "queued",
                "attempts": 0,
                "max_attempts": max_attempts,
                "run_after": now,
                "created_at": now,
                "updated_at": now,
            }
            for job_id, payload in jobs
        ]
        if rows:
            with self._store.session() as s:
                s.execute(insert(JobRow), rows)

    def claim(self, worker: str, *, now: datetime | None = None) -> Job | None:
        """The oldest due job, now `running` for this worker on a fresh lease; None when
        nothing is due. A job taken over from dead workers more often than it may be tried
        is failed with that reason instead."""
        while True:
            job = self._claim_pg(worker, now) if self._postgres else self._claim_sqlite(worker, now)
            if job is None or job.attempts <= job.max_attempts:
                return job
            self._finish(
                job,
                state="failed",
                error=f"its worker stopped (killed or lost) on each of {job.max_attempts} tries",
            )

    def _claim_values(self, worker: str, now: datetime) -> dict[str, Any]:
        return {
            "state": "running",
            "attempts": JobRow.attempts + 1,
            "claimed_by": worker,
            "lease_until": now + timedelta(seconds=self.lease_s),
            "updated_at": now,
        }

    def _claim_pg(self, worker: str, now: datetime | None) -> Job | None:
        now = now or utcnow()
        pick = (
            select(JobRow.id)
            .where(_due(now))
            .order_by(JobRow.run_after)
            .limit(1)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        with self._store.session() as s:
            row = s.execute(
                update(JobRow)
                .where(JobRow.id == pick)
                .values(**self._claim_values(worker, now))
                .execution_options(synchronize_session=False)
                .returning(
                    JobRow.id, JobRow.kind, JobRow.payload, JobRow.attempts, JobRow.max_attempts
                )
            ).first()
        if row is None:
            return None
        return Job(row.id, row.kind, dict(row.payload), row.attempts, row.max_attempts, worker)

    def _claim_sqlite(self, worker: str, now: datetime | None) -> Job | None:
        for _ in range(5):  # another worker may win the race for a job: try the next one
            at = now or utcnow()
            with self._store.session() as s:
                row = s.execute(
                    select(
                        JobRow.id, JobRow.kind, JobRow.payload, JobRow.attempts, JobRow.max_attempts
                    )
                    .where(_due(at))
                    .order_by(JobRow.run_after)
                    .limit(1)
                ).first()
                if row is None:
                    return None
                won = _rowcount(
                    s.execute(
                        update(JobRow)
                        .where(JobRow.id == row.id, JobRow.attempts == row.attempts, _due(at))
                        .values(**self._claim_values(worker, at))
                    )
                )
            if won:
                return Job(
                    row.id, row.kind, dict(row.payload), row.attempts + 1, row.max_attempts, worker
                )
        return None

    def renew(self, job: Job) -> bool:
        """The heartbeat: the lease runs `lease_s` from now. False: the job is no longer
        this worker's (its lease ran out and another worker took it over)."""
        now = utcnow()
        with self._store.session() as s:
            return bool(
                _rowcount(
                    s.execute(
                        update(JobRow)
                        .where(_held(job))
                        .values(lease_until=now + timedelta(seconds=self.lease_s))
                    )
                )
            )

    def succeed(self, job: Job) -> bool:
        """`done`; False when the job was no longer this worker's (nothing changed)."""
        return self._finish(job, state="done", error=None)

    def fail(self, job: Job, error: str) -> bool:
        """Back to the queue after a pause, or `failed` for good after the last attempt.
        False when the job was no longer this worker's (nothing changed)."""
        if job.attempts >= job.max_attempts:
            return self._finish(job, state="failed", error=error)
        pause = BACKOFF_S[min(job.attempts, len(BACKOFF_S)) - 1]
        return self._finish(
            job, state="queued", error=error, run_after=utcnow() + timedelta(seconds=pause)
        )

    def requeue_expired(self, *, now: datetime | None = None) -> int:
        """Running jobs whose lease ran out go back to the queue (claims take them over
        anyway; this makes them visible as queued, e.g. for `arbiter db` checks)."""
        now = now or utcnow()
        with self._store.session() as s:
            return _rowcount(
                s.execute(
                    update(JobRow)
                    .where(
                        JobRow.state == "running",
                        or_(JobRow.lease_until.is_(None), JobRow.lease_until < now),
                    )
                    .values(state="queued", claimed_by=None, lease_until=None, updated_at=now)
                )
            )

    def counts(self) -> dict[str, int]:
        with self._store.session() as s:
            rows = s.execute(select(JobRow.state, func.count()).group_by(JobRow.state)).all()
        return {state: int(n) for state, n in rows}

    def get(self, job_id: str) -> dict[str, Any] | None:
        with self._store.session() as s:
            row = s.get(JobRow, job_id)
            return (
                None
                if row is None
                else {c.name: getattr(row, c.name) for c in JobRow.__table__.columns}
            )

    def _finish(self, job: Job, **values: Any) -> bool:
        with self._store.session() as s:
            return bool(
                _rowcount(
                    s.execute(
                        update(JobRow)
                        .where(_held(job))
                        .values(updated_at=utcnow(), lease_until=None, **values)
                    )
                )
            )


def _held(job: Job) -> ColumnElement[bool]:
    """Still this claim's: running, for this worker, on this attempt."""
    return and_(
        JobRow.id == job.id,
        JobRow.state == "running",
        JobRow.claimed_by == job.worker,
        JobRow.attempts == job.attempts,
    )


def _rowcount(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount)
