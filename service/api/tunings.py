"""Tuning jobs over HTTP (admin; audited): start one from the labels, read one (which asks
the cloud where it is and moves it on), list them, stop one."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request

from service.access import audit
from service.api.deps import RuntimeDep, error_responses
from service.app import Runtime
from service.store import tunings
from service.tuning import Clients, TuneRequest, answer_comparison, create, refresh, stop

router = APIRouter(prefix="/api/tunings", tags=["tuning"])
_ERRORS = error_responses(403, 404, 409, 422)


def _clients(runtime: Runtime) -> Clients:
    return runtime.tuning_clients


def _out(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}


@router.post("", status_code=201, responses=_ERRORS)
async def create_tuning(runtime: RuntimeDep, body: TuneRequest, request: Request) -> dict[str, Any]:
    """Export the labels (checked against the base model's limits first: nothing is written
    when a rule is broken), upload them and submit the training job."""
    row = await asyncio.to_thread(create, runtime.store, runtime.catalog, _clients(runtime), body)
    await asyncio.to_thread(
        audit.record,
        runtime.store,
        request,
        "tuning.create",
        row["name"],
        {"job_arn": row["job_arn"], "base": row["base_variant"], "dataset": row["dataset_sha256"]},
    )
    return _out(row)


@router.get("")
async def list_tunings(runtime: RuntimeDep) -> list[dict[str, Any]]:
    return [_out(r) for r in await asyncio.to_thread(tunings.list_tunings, runtime.store)]


async def _advance(runtime: Runtime, key: str, *, accept_price: bool = False) -> dict[str, Any]:
    before = await asyncio.to_thread(tunings.get_tuning, runtime.store, key)
    if before["state"] in ("done", "failed", "stopped"):
        return before
    row = await asyncio.to_thread(
        refresh,
        runtime.store,
        runtime.catalog,
        _clients(runtime),
        key,
        runner=runtime.evals,
        accept_price=accept_price,
    )
    if row["state"] == "done":

        async def answer() -> None:
            await answer_comparison(runtime.store, runtime.engine, runtime.evals, row["id"])

        task = asyncio.create_task(answer())
        runtime.background.add(task)  # held until done: the loop keeps weak references
        task.add_done_callback(runtime.background.discard)
    return row


@router.get("/{key}", responses=_ERRORS)
async def get_tuning(runtime: RuntimeDep, key: str) -> dict[str, Any]:
    """The job (by id, name or tuned variant), moved on as far as the cloud allows now."""
    return _out(await _advance(runtime, key))


@router.post("/{key}/deploy", responses=_ERRORS)
async def accept_price(runtime: RuntimeDep, key: str, request: Request) -> dict[str, Any]:
    """Accept the provisioned throughput price shown in the job and buy it."""
    row = await _advance(runtime, key, accept_price=True)
    await asyncio.to_thread(
        audit.record, runtime.store, request, "tuning.buy_throughput", row["name"], row["serving"]
    )
    return _out(row)


@router.post("/{key}/stop", responses=_ERRORS)
async def stop_tuning(runtime: RuntimeDep, key: str, request: Request) -> dict[str, Any]:
    row = await asyncio.to_thread(stop, runtime.store, _clients(runtime), key)
    await asyncio.to_thread(audit.record, runtime.store, request, "tuning.stop", row["name"], {})
    return _out(row)
