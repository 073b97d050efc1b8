"""A database that answers but refuses a statement is a fault with its cause (500
internal_error), not an outage; a database that cannot be reached is one (503
store_unavailable), through the API as through the store."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from service.app.bootstrap import build_runtime
from service.app.runtime import Runtime
from service.config import Settings
from service.errors import StoreError, StoreUnavailable
from service.store import Store
from service.store.tables import VoteRow
from tests.fakes.script import Script
from tests.fakes.scripted import ScriptedFactory
from tests.support.fixtures import PG_URL, LiveServer


def test_a_refused_statement_is_an_internal_error_with_its_cause(
    runtime: Runtime, live: LiveServer
) -> None:
    # The dry run counts from the kept export counts (and the votes for some filters).
    with runtime.store.engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE export_shapes RENAME TO export_shapes_gone")
    r = httpx.get(f"{live.url}/api/exports/trl-preference", params={"dry_run": True})
    assert r.status_code == 500, r.text
    error = r.json()["error"]
    assert error["code"] == "internal_error"
    assert "refused the statement" in error["message"] and "export_shapes" in error["message"]
    assert "not an outage" in error["hint"]


@pytest.mark.parametrize("store", ["postgres"], indirect=True)
def test_too_many_parameters_is_a_fault_not_an_outage(store: Store) -> None:
    """What the issue saw: psycopg reports the parameter limit as an OperationalError."""
    ids = [str(k) for k in range(70_000)]
    with pytest.raises(StoreError) as exc, store.session() as s:
        s.execute(sa.select(VoteRow.id).where(VoteRow.id.in_(ids))).all()
    assert not isinstance(exc.value, StoreUnavailable)
    assert exc.value.code == "internal_error" and "65535" in exc.value.message


def test_an_unreachable_database_is_store_unavailable(
    variants_file: Path, scripts: dict[str, Script], tmp_path: Path
) -> None:
    name = f"arbiter_outage_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(
        PG_URL.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    store = Store(PG_URL.rsplit("/", 1)[0] + f"/{name}")
    try:
        store.upgrade()
        settings = Settings(home=tmp_path, variants_file=variants_file)
        runtime = build_runtime(settings, model_factory=ScriptedFactory(scripts), store=store)
        with LiveServer(runtime) as server:
            path = f"{server.url}/api/exports/trl-preference"
            assert httpx.get(path, params={"dry_run": True}).status_code == 200
            with admin.connect() as conn:  # the database goes away, connections and all
                conn.execute(sa.text(f"DROP DATABASE {name} WITH (FORCE)"))
            r = httpx.get(path, params={"dry_run": True})
            assert r.status_code == 503, r.text
            assert r.json()["error"]["code"] == "store_unavailable"
            assert "running and reachable" in r.json()["error"]["hint"]
    finally:
        store.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()
