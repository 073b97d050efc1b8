"""The job queue as stored: a job is claimed by an UPDATE guarded on its state (`queued` ->
`running`), so two workers never run the same job, on SQLite and PostgreSQL alike; a failed
job is retried with backoff until `max_attempts`, then left `failed` with its error."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, func, insert, select, update

from service.ids import new_id, utcnow
from service.store.engine import Store
from service.store.tables import JobRow

BACKOFF_S = (1.0, 5.0, 30.0)


@dataclass(frozen=True)
class Job:
    id: str
    kind: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int


class JobQueue:
    def __init__(self, store: Store) -> None:
        self._store = store

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

    def claim(self, worker: str) -> Job | None:
        """The oldest due job, now `running` for this worker; None when nothing is due."""
        for _ in range(5):  # another worker may win the race for a job: try the next one
            with self._store.session() as s:
                row = s.execute(
                    select(
                        JobRow.id, JobRow.kind, JobRow.payload, JobRow.attempts, JobRow.max_attempts
                    )
                    .where(JobRow.state == "queued", JobRow.run_after <= utcnow())
                    .order_by(JobRow.run_after)
                    .limit(1)
                ).first()
                if row is None:
                    return None
                won = _rowcount(
                    s.execute(
                        update(JobRow)
                        .where(JobRow.id == row.id, JobRow.state == "queued")
                        .values(
                            state="running",
                            attempts=JobRow.attempts + 1,
                            claimed_by=worker,
                            updated_at=utcnow(),
                        )
                    )
                )
            if won:
                return Job(row.id, row.kind, dict(row.payload), row.attempts + 1, row.max_attempts)
        return None

    def succeed(self, job_id: str) -> None:
        self._set(job_id, state="done", error=None)

    def fail(self, job: Job, error: str) -> None:
        """Back to the queue after a pause, or `failed` for good after the last attempt."""
        if job.attempts >= job.max_attempts:
            self._set(job.id, state="failed", error=error)
            return
        pause = BACKOFF_S[min(job.attempts, len(BACKOFF_S)) - 1]
        self._set(
            job.id, state="queued", error=error, run_after=utcnow() + timedelta(seconds=pause)
        )

    def requeue_running(self) -> int:
        """Jobs left `running` by a worker that died go back to the queue (at start-up,
        before this process's worker claims anything)."""
        with self._store.session() as s:
            return _rowcount(
                s.execute(
                    update(JobRow)
                    .where(JobRow.state == "running")
                    .values(state="queued", updated_at=utcnow())
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

    def _set(self, job_id: str, **values: Any) -> None:
        with self._store.session() as s:
            s.execute(
                update(JobRow).where(JobRow.id == job_id).values(updated_at=utcnow(), **values)
            )


def _rowcount(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount)
