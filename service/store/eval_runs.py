"""Storing batch evaluation runs: the run, one item per (example, variant), and summaries."""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, delete, func, insert, select, update

from service.errors import Conflict, NotFound
from service.ids import new_id, utcnow
from service.store.engine import Store
from service.store.tables import EvalItemRow, EvalRunBackendRow, EvalRunRow


def create_run(
    store: Store,
    *,
    name: str,
    dataset_path: str,
    dataset_sha256: str,
    variants: list[str],
    metrics: list[str],
    judge: str | None,
    total: int,
    use_case: str | None = None,
    backend: str = "online",
    retrieval: dict[str, Any] | None = None,
) -> str:
    """`retrieval`: a batch-backend run's retrieval settings, which `--resume` reuses."""
    run_id = new_id()
    with store.session() as s:
        s.execute(
            insert(EvalRunRow),
            {
                "id": run_id,
                "name": name,
                "dataset_path": dataset_path,
                "dataset_sha256": dataset_sha256,
                "variants": variants,
                "metrics": metrics,
                "judge": judge,
                "status": "running",
                "total": total,
                "use_case": use_case,
                "created_at": utcnow(),
            },
        )
        if backend != "online":
            s.execute(
                insert(EvalRunBackendRow),
                {
                    "run_id": run_id,
                    "backend": backend,
                    "error": None,
                    "retrieval": retrieval,
                    "created_at": utcnow(),
                },
            )
    return run_id


def get_run(store: Store, run_id: str) -> dict[str, Any]:
    with store.session() as s:
        run = s.get(EvalRunRow, run_id)
        if run is None:
            raise NotFound(
                f"eval run {run_id} does not exist", hint="List runs with `arbiter eval list`."
            )
        out = {c.name: getattr(run, c.name) for c in EvalRunRow.__table__.columns}
        extra = s.get(EvalRunBackendRow, run_id)
        out["backend"] = extra.backend if extra else "online"
        out["error"] = extra.error if extra else None
        out["retrieval"] = extra.retrieval if extra else None
        return out


def check_resumable(store: Store, run_id: str, dataset_sha256: str) -> dict[str, Any]:
    run = get_run(store, run_id)
    if run["dataset_sha256"] != dataset_sha256:
        raise Conflict(
            f"eval run {run_id} was made on a different version of {run['dataset_path']}",
            hint="Start a new run for the changed dataset.",
        )
    return run


def finished_keys(store: Store, run_id: str) -> set[tuple[str, str]]:
    """(example, variant) pairs already answered successfully: a resumed run skips them."""
    with store.session() as s:
        rows = s.execute(
            select(EvalItemRow.example_id, EvalItemRow.variant).where(
                EvalItemRow.run_id == run_id, EvalItemRow.status == "ok"
            )
        ).all()
    return {(r.example_id, r.variant) for r in rows}


def save_items(store: Store, run_id: str, batch: list[dict[str, Any]]) -> None:
    """Store finished items in one transaction, replacing earlier failed attempts at the
    same (example, variant). An item's `contexts`: the chunks it was given, or None."""
    if not batch:
        return
    with store.session() as s:
        keys = {(f["example_id"], f["variant"]) for f in batch}
        earlier = s.execute(
            select(
                EvalItemRow.id, EvalItemRow.example_id, EvalItemRow.variant, EvalItemRow.status
            ).where(
                EvalItemRow.run_id == run_id,
                EvalItemRow.example_id.in_({f["example_id"] for f in batch}),
            )
        ).all()
        # Written already (a write that finished as the run was interrupted): keep that one.
        stored = {(r.example_id, r.variant) for r in earlier if r.status == "ok"}
        batch = [f for f in batch if (f["example_id"], f["variant"]) not in stored]
        if not batch:
            return
        # Earlier failed attempts at these items make way, in one statement (one per item
        # made large batch runs wait on the database).
        failed = [r.id for r in earlier if r.status != "ok" and (r.example_id, r.variant) in keys]
        if failed:
            s.execute(delete(EvalItemRow).where(EvalItemRow.id.in_(failed)))
        s.execute(
            insert(EvalItemRow),
            [
                {"id": new_id(), "run_id": run_id, "created_at": utcnow(), "contexts": None, **f}
                for f in batch
            ],
        )


def finish_run(store: Store, run_id: str, status: str = "done", error: str | None = None) -> None:
    """Mark a run ended: `done`, or `failed` (stopped by an error; still resumable), with
    why when known (a batch job of the run failed or was stopped, or could not be submitted)."""
    with store.session() as s:
        s.execute(
            update(EvalRunRow)
            .where(EvalRunRow.id == run_id)
            .values(status=status, finished_at=utcnow())
        )
        s.execute(
            update(EvalRunBackendRow).where(EvalRunBackendRow.run_id == run_id).values(error=error)
        )


def restart_run(store: Store, run_id: str) -> None:
    """A resumed run is running again."""
    with store.session() as s:
        s.execute(
            update(EvalRunRow)
            .where(EvalRunRow.id == run_id)
            .values(status="running", finished_at=None)
        )
        s.execute(
            update(EvalRunBackendRow).where(EvalRunBackendRow.run_id == run_id).values(error=None)
        )


def progress(store: Store, run_id: str) -> dict[str, Any]:
    """The run, with how many items are stored so far and how many of them failed."""
    run = get_run(store, run_id)
    with store.session() as s:
        stored, failed = s.execute(
            select(
                func.count(),
                func.coalesce(func.sum(case((EvalItemRow.status != "ok", 1), else_=0)), 0),
            ).where(EvalItemRow.run_id == run_id)
        ).one()
    return {**run, "stored": int(stored), "errors": int(failed)}


def items(store: Store, run_id: str) -> list[dict[str, Any]]:
    with store.session() as s:
        rows = s.scalars(
            select(EvalItemRow)
            .where(EvalItemRow.run_id == run_id)
            .order_by(EvalItemRow.example_id, EvalItemRow.variant)
        ).all()
        return [{c.name: getattr(r, c.name) for c in EvalItemRow.__table__.columns} for r in rows]


def list_runs(store: Store, limit: int = 50, use_case: str | None = None) -> list[dict[str, Any]]:
    """Newest first, each with how many items are stored so far; with `use_case`, only the
    runs started for it."""
    query = select(EvalRunRow).order_by(EvalRunRow.created_at.desc()).limit(limit)
    if use_case is not None:
        query = query.where(EvalRunRow.use_case == use_case)
    with store.session() as s:
        runs = s.scalars(query).all()
        counts = dict(
            s.execute(
                select(EvalItemRow.run_id, func.count())
                .where(EvalItemRow.run_id.in_([r.id for r in runs]))
                .group_by(EvalItemRow.run_id)
            ).all()
        )
        backends = {
            b.run_id: b
            for b in s.scalars(
                select(EvalRunBackendRow).where(EvalRunBackendRow.run_id.in_([r.id for r in runs]))
            )
        }
        return [
            {
                **{c.name: getattr(r, c.name) for c in EvalRunRow.__table__.columns},
                "stored": counts.get(r.id, 0),
                "backend": backends[r.id].backend if r.id in backends else "online",
                "error": backends[r.id].error if r.id in backends else None,
            }
            for r in runs
        ]
