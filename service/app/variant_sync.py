"""Variants and deployments created or changed by another process reach this one without a
restart. Replicas on one store each keep their own catalog and routing table; a variant
created on one of them (POST /api/variants, a discovered model, a tuned variant) or a
deployment set there (PUT /api/deployments) is only stored. Here, every
ARBITER_VARIANT_SYNC_SECONDS, a cheap fingerprint of each (how many, the latest change) is
read, and only when it moved are the rows read: new variants added, the routing table read
again. A request naming a variant or deployment this process does not know checks at once
(the catalog's and the gateway's lookup), so a compare or gateway call right after the
creation elsewhere works; a changed deployment (a new split, a canary moved) applies here
within one period.

Variants created through the API are never changed or deleted (the API has no such
operation), so adding is all there is to keep in step; deployments are never deleted."""

from __future__ import annotations

import threading
from datetime import datetime

import structlog

from service.models import Catalog
from service.serving import Deployments
from service.store import Store, variants

log = structlog.get_logger(__name__)


class VariantSync:
    def __init__(self, store: Store, catalog: Catalog, deployments: Deployments) -> None:
        self.store = store
        self.catalog = catalog
        self.deployments = deployments
        self._seen: tuple[int, datetime | None] | None = None
        # One check at a time: the periodic one (a thread) and a request's lookup.
        self._lock = threading.Lock()

    def refresh(self) -> list[str]:
        """Add the stored variants this process does not know yet, and read the routing table
        again if it changed; the new variants' names. Blocking (it reads the store)."""
        with self._lock:
            added = self._add_variants()
            if self.deployments.refresh():
                log.info("deployments.synced")
        added = [name for name in added if name in self.catalog.names()]
        if added:
            log.info("variants.synced", added=added)
        return added

    def _add_variants(self) -> list[str]:
        version = variants.api_version(self.store)
        if version == self._seen:
            return []
        stored = variants.api_variants(self.store)
        known = set(self.catalog.names())
        for name, reason in self.catalog.add_stored(stored):
            log.warning("variant.refused", variant=name, reason=reason)
        for v in stored:  # also those this process added itself (a tuned variant)
            if v.name in self.catalog.names():
                self.deployments.known_variant(v.name)
        # Read before the variants: one stored in between moves it again next time.
        self._seen = version
        return [v.name for v in stored if v.name not in known]

    def lookup(self, name: str) -> None:
        """A request named `name`, which this process does not know: check the store now.
        A store that does not answer leaves the name unknown (the request gets its usual
        "unknown variant"), not a failure of its own."""
        try:
            self.refresh()
        except Exception as exc:
            log.warning("variants.lookup_failed", variant=name, error=str(exc))
