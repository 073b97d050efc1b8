"""Wiring: settings -> store, variant catalog, prices, compare engine."""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from rag import Library
from service.catalog import Catalog, ModelFactory
from service.compare import CompareEngine
from service.config import Settings
from service.pricing import PriceTable
from service.retrieval import build_library
from service.store import Store
from service.variants import load_variants

log = structlog.get_logger(__name__)


@dataclass
class Runtime:
    settings: Settings
    store: Store
    catalog: Catalog
    prices: PriceTable
    engine: CompareEngine
    library: Library

    def close(self) -> None:
        self.store.dispose()


def build_runtime(
    settings: Settings,
    *,
    model_factory: ModelFactory | None = None,
    store: Store | None = None,
) -> Runtime:
    """Load and check everything the service needs. Raises `ArbiterError` with a clear
    message (bad config, unreachable database) before anything listens."""
    variants = load_variants(settings.resolved_variants_file)
    prices = PriceTable.load(settings.prices_file)
    if store is None:
        if settings.resolved_database_url.startswith("sqlite"):
            settings.home.mkdir(parents=True, exist_ok=True)
        store = Store(settings.resolved_database_url)
    if settings.auto_migrate:
        store.upgrade()
    else:
        store.ping()
    interrupted = store.recover_interrupted()
    if interrupted:
        log.warning("store.recovered", interrupted_turns=interrupted)
    store.sync_variants(variants)
    catalog = Catalog(variants, model_factory)
    for variant in store.api_variants():
        if variant.name not in catalog.names():
            catalog.add(variant)
    library = build_library(settings, store.engine)
    engine = CompareEngine(
        store,
        catalog,
        prices,
        max_prompt_chars=settings.max_prompt_chars,
        max_panes=settings.max_panes,
        default_timeout_s=settings.default_timeout_s,
        library=library,
    )
    return Runtime(settings, store, catalog, prices, engine, library)
