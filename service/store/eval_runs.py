"""Storing batch evaluation runs: the run, one item per (example, variant), and summaries."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, select, update

from service.errors import Conflict, NotFound
from service.ids import new_id, utcnow
from service.store.repository import Store
from service.store.tables import EvalItemRow, EvalRunRow


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
) -> str:
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
        return {c.name: getattr(run, c.name) for c in EvalRunRow.__table__.columns}


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
    same (example, variant)."""
    if not batch:
        return
    with store.session() as s:
        for fields in batch:
            s.execute(
                delete(EvalItemRow).where(
                    EvalItemRow.run_id == run_id,
                    EvalItemRow.example_id == fields["example_id"],
                    EvalItemRow.variant == fields["variant"],
                    EvalItemRow.status != "ok",
                )
            )
        s.execute(
            insert(EvalItemRow),
            [{"id": new_id(), "run_id": run_id, "created_at": utcnow(), **f} for f in batch],
        )


def finish_run(store: Store, run_id: str) -> None:
    with store.session() as s:
        s.execute(
            update(EvalRunRow)
            .where(EvalRunRow.id == run_id)
            .values(status="done", finished_at=utcnow())
        )


def items(store: Store, run_id: str) -> list[dict[str, Any]]:
    with store.session() as s:
        rows = s.scalars(
            select(EvalItemRow)
            .where(EvalItemRow.run_id == run_id)
            .order_by(EvalItemRow.example_id, EvalItemRow.variant)
        ).all()
        return [{c.name: getattr(r, c.name) for c in EvalItemRow.__table__.columns} for r in rows]


def summary(store: Store, run_id: str) -> dict[str, dict[str, dict[str, Any]]]:
    """Per variant, per metric: mean of the values, how many, how many errors; plus the
    error rate and mean latency of the answers themselves."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for item in items(store, run_id):
        per = out.setdefault(item["variant"], {})
        answers = per.setdefault("answers", {"n": 0, "errors": 0, "latency_ms_sum": 0.0})
        answers["n"] += 1
        answers["errors"] += item["status"] != "ok"
        answers["latency_ms_sum"] += item["latency_ms"] or 0.0
        for score in item["scores"]:
            m = per.setdefault(score["metric"], {"n": 0, "errors": 0, "sum": 0.0})
            if score.get("value") is None:
                m["errors"] += 1
            else:
                m["n"] += 1
                m["sum"] += float(score["value"])
    for per in out.values():
        for name, m in per.items():
            if name == "answers":
                m["error_rate"] = m["errors"] / m["n"] if m["n"] else 0.0
                m["latency_ms_mean"] = m.pop("latency_ms_sum") / m["n"] if m["n"] else 0.0
            else:
                total = m.pop("sum")
                m["mean"] = total / m["n"] if m["n"] else None  # no value is not 0, nor NaN
    return out
