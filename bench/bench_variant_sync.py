"""What keeping variants in step across replicas costs (`python -m bench variant_sync`): with
200 variants stored through the API, on SQLite and PostgreSQL, one turn of the periodic
check when nothing changed (the fingerprint read every ARBITER_VARIANT_SYNC_SECONDS) and a
request naming an unknown variant (the look-up it makes) ÷ the baseline: reading every
stored variant, which a check without a fingerprint would do each turn."""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench._report import header, line, median, scratch_postgres, verdict
from service.app import configure_logging
from service.app.variant_sync import VariantSync
from service.errors import NotFound
from service.models import Catalog, Variant
from service.serving import Deployments
from service.store import Store, variants

STORED = 200
ROUNDS = 300


def _timed_ms(work: Callable[[], object]) -> float:
    """The median of ROUNDS calls, in ms."""
    times = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000)
    return median(times)


def _unknown(catalog: Catalog) -> None:
    with contextlib.suppress(NotFound):
        catalog.get("no-such-variant")


def _measure(kind: str, url: str) -> tuple[float, float, float]:
    store = Store(url)
    try:
        store.upgrade()
        for i in range(STORED):
            variants.add_variant(
                store,
                Variant.model_validate(
                    {
                        "name": f"v{i}",
                        "model": {"provider": "openai", "base_url": "http://x/v1", "model": "m"},
                    }
                ),
            )
        catalog = Catalog([])
        sync = VariantSync(store, catalog, Deployments(store, []))
        catalog.look_up_with(sync.lookup)
        assert len(sync.refresh()) == STORED
        baseline = _timed_ms(lambda: variants.api_variants(store))
        check = _timed_ms(sync.refresh)
        miss = _timed_ms(lambda: _unknown(catalog))
    finally:
        store.dispose()
    line(f"{kind}: read every variant (baseline)", f"{baseline:.2f} ms")
    line(f"{kind}: a check with nothing new", f"{check:.2f} ms = {check / baseline:.3f} x baseline")
    line(f"{kind}: a request naming an unknown variant", f"{miss:.2f} ms (its look-up included)")
    return baseline, check, miss


def main() -> None:
    header(f"Variant sync across replicas: {STORED} stored variants, median of {ROUNDS}")
    configure_logging("warning")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        results.append(_measure("SQLite", f"sqlite:///{Path(tmp) / 'arbiter.db'}"))
    with scratch_postgres("bench_variant_sync") as url:
        results.append(_measure("PostgreSQL", url))
    verdict(
        all(check < baseline / 2 for baseline, check, _ in results),
        "a check with nothing new costs under half a full read",
    )
    verdict(all(miss < 10 for _, _, miss in results), "an unknown name's look-up under 10 ms")


if __name__ == "__main__":
    main()
