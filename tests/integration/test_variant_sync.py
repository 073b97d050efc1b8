"""Two runtimes on one store, as two replicas are: a variant or a deployment one of them
creates is found by the other on first use (the unknown name makes it look in the store) or
by its periodic check, and a changed deployment by the check, on SQLite and PostgreSQL
alike."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from service.app import create_variant
from service.app.bootstrap import build_runtime
from service.app.runtime import Runtime
from service.config import Settings
from service.errors import NotFound
from service.models import Variant
from service.serving import Deployment
from service.store import Store, deployments, variants
from service.store.tables import VariantRow
from tests.fakes.script import Script
from tests.fakes.scripted import ScriptedFactory


def _variant(name: str) -> Variant:
    return Variant.model_validate(
        {
            "name": name,
            "model": {"provider": "openai", "base_url": "http://127.0.0.1:9/v1", "model": name},
        }
    )


def _replica(store: Store, variants_file: Path, scripts: dict[str, Script], home: Path) -> Runtime:
    settings = Settings(home=home, variants_file=variants_file, online_metrics="")
    return build_runtime(settings, model_factory=ScriptedFactory(scripts), store=store)


def test_a_variant_created_by_another_runtime_is_found_on_first_use_or_by_the_check(
    store: Store, variants_file: Path, scripts: dict[str, Script], tmp_path: Path
) -> None:
    one = _replica(store, variants_file, scripts, tmp_path / "one")
    two = _replica(store, variants_file, scripts, tmp_path / "two")
    assert two.variant_sync.refresh() == []  # nothing stored that it does not know

    create_variant(one, _variant("delta"), actor="test")
    assert "delta" not in two.catalog.names()
    assert two.catalog.get("delta").name == "delta"  # looked up in the store at once
    create_variant(one, _variant("eps"), actor="test")
    assert two.gateway.deployments.get("eps").split == {"eps": 1.0}  # the gateway's name too
    assert two.variant_sync.refresh() == []  # both known now

    create_variant(one, _variant("zeta"), actor="test")
    assert two.variant_sync.refresh() == ["zeta"]  # the periodic check's turn
    assert two.catalog.source("zeta") == "api"
    assert {"delta", "eps", "zeta"} <= set(two.gateway.deployments.names())
    with pytest.raises(NotFound) as caught:
        two.catalog.get("nope")
    assert "zeta" in (caught.value.hint or "")

    # The store failing on a look-up: the name is unknown as usual, not a database error.
    with store.engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE variants RENAME TO variants_away"))
    try:
        with pytest.raises(NotFound):
            two.catalog.get("ghost")
    finally:
        with store.engine.begin() as conn:
            conn.execute(sa.text("ALTER TABLE variants_away RENAME TO variants"))
    one.close()
    two.close()


def test_a_deployment_set_on_another_runtime_is_found_at_once_and_followed_when_changed(
    store: Store, variants_file: Path, scripts: dict[str, Script], tmp_path: Path
) -> None:
    one = _replica(store, variants_file, scripts, tmp_path / "one")
    two = _replica(store, variants_file, scripts, tmp_path / "two")
    one.gateway.deployments.put(Deployment(name="chat", split={"alpha": 3, "beta": 1}))
    # A name two does not know: looked up in the store at once.
    assert two.gateway.deployments.get("chat").split == {"alpha": 3, "beta": 1}
    assert "chat" in two.gateway.deployments.names()

    # Changed on one: two routes by what it read until its check, then by the change.
    one.gateway.deployments.put(Deployment(name="chat", live="gamma"))
    assert two.gateway.deployments.get("chat").split == {"alpha": 3, "beta": 1}
    two.variant_sync.refresh()
    assert two.gateway.deployments.get("chat").split == {"gamma": 1.0}
    assert not two.gateway.deployments.refresh()  # nothing moved since: the table is kept

    # A deployment on one of a variant only one knows yet: two's check reads both.
    create_variant(one, _variant("delta"), actor="test")
    one.gateway.deployments.put(Deployment(name="canary", split={"alpha": 9, "delta": 1}))
    two.variant_sync.refresh()
    assert two.gateway.deployments.get("canary").split == {"alpha": 9, "delta": 1}
    assert two.catalog.get("delta").name == "delta"
    # Setting it on two, naming the variant one made: two looks the variant up, not 422.
    two.gateway.deployments.put(Deployment(name="canary", split={"delta": 1}))
    assert one.gateway.deployments.get("canary").split == {"alpha": 9, "delta": 1}
    one.variant_sync.refresh()
    assert one.gateway.deployments.get("canary").split == {"delta": 1.0}
    one.close()
    two.close()


def test_processes_starting_together_seed_the_same_variants_and_deployments(
    store: Store,
) -> None:
    """Each reads what is stored, then inserts what is missing: all of them read an empty
    store, and every insert after the first met a unique name (a replica failed to start)."""
    declared = [_variant(f"v{k}") for k in range(5)]
    routes = {f"d{k}": {"name": f"d{k}", "split": {"v0": 1.0}} for k in range(5)}
    barrier = threading.Barrier(6)
    failures: list[BaseException] = []

    def start_up() -> None:
        try:
            barrier.wait()
            variants.sync_variants(store, declared)
            deployments.add_missing(store, routes)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=start_up) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    with store.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(VariantRow)) == 5
    assert sorted(deployments.all_specs(store)) == sorted(routes)
