"""Two runtimes on one store, as two replicas are: a variant one of them creates is found by
the other on first use (the unknown name makes it look in the store) or by its periodic
check, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from service.app import create_variant
from service.app.bootstrap import build_runtime
from service.app.runtime import Runtime
from service.config import Settings
from service.errors import NotFound
from service.models import Variant
from service.store import Store
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
