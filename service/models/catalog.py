"""The variants known to the service: those declared in the config file plus those created
through the API. Builds (and caches) one chat model per variant and pane slot."""

from __future__ import annotations

import threading
from collections.abc import Callable

from langchain_core.language_models.chat_models import BaseChatModel

from service.errors import ArbiterError, Conflict, ErrorCode, NotFound
from service.models.providers import build_chat_model
from service.models.variants import Variant

ModelFactory = Callable[[Variant], BaseChatModel]


class Catalog:
    def __init__(self, variants: list[Variant], model_factory: ModelFactory | None = None) -> None:
        self._variants: dict[str, Variant] = {}
        self._sources: dict[str, str] = {}
        for v in variants:
            self._variants[v.name] = v
            self._sources[v.name] = "file"
        self._factory = model_factory or build_chat_model
        self._models: dict[tuple[str, int], BaseChatModel] = {}
        self._lock = threading.Lock()

    def names(self) -> list[str]:
        return list(self._variants)

    def all(self) -> list[Variant]:
        return list(self._variants.values())

    def source(self, name: str) -> str:
        return self._sources.get(name, "api")

    def get(self, name: str) -> Variant:
        try:
            return self._variants[name]
        except KeyError:
            known = ", ".join(sorted(self._variants)) or "none"
            raise NotFound(
                f"unknown variant {name!r}",
                hint=f"Known variants: {known}. Declare it in the variants file or POST /api/variants.",
                code=ErrorCode.UNKNOWN_VARIANT,
            ) from None

    def add(self, variant: Variant, *, source: str = "api") -> None:
        with self._lock:
            if variant.name in self._variants:
                raise Conflict(
                    f"a variant named {variant.name!r} already exists", hint="Pick another name."
                )
            self._variants[variant.name] = variant
            self._sources[variant.name] = source

    def warm_up(self) -> None:
        """Build every variant's model now; load local weights (so the first comparison
        does not wait for them). Failures are left for the request to report."""
        for variant in self.all():
            try:
                model = self.model(variant)
            except ArbiterError:
                continue
            warm = getattr(model, "warm_up", None)
            if warm is not None:
                try:
                    warm()
                except ArbiterError:
                    continue

    def cached_model(self, variant: Variant, slot: int = 0) -> BaseChatModel | None:
        return self._models.get((variant.name, slot))

    def model(self, variant: Variant, slot: int = 0) -> BaseChatModel:
        """The chat model for a variant. `slot` > 0 gives a separate instance, so the same
        variant in two panes runs in parallel (a local model instance runs one generation
        at a time)."""
        key = (variant.name, slot)
        with self._lock:
            model = self._models.get(key)
        if model is None:
            model = self._factory(variant)
            with self._lock:
                model = self._models.setdefault(key, model)
        return model
