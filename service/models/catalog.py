"""The variants known to the service: those declared in the config file plus those created
through the API. Builds (and caches) one chat model per variant and pane slot. Only variants
whose `api_key_env` is allowed (`KeyEnvs`) get in."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

from langchain_core.language_models.chat_models import BaseChatModel

from service.errors import ArbiterError, Conflict, ErrorCode, NotFound
from service.models.providers import build_chat_model
from service.models.variants import KeyEnvs, Variant
from service.redact import register_secret

ModelFactory = Callable[[Variant], BaseChatModel]


class Catalog:
    def __init__(
        self,
        variants: list[Variant],
        model_factory: ModelFactory | None = None,
        *,
        key_envs: KeyEnvs | None = None,
    ) -> None:
        self.key_envs = key_envs or KeyEnvs()
        self._variants: dict[str, Variant] = {}
        self._sources: dict[str, str] = {}
        for v in variants:
            self._admit(v)
            self._variants[v.name] = v
            self._sources[v.name] = "file"
        self._factory = model_factory or build_chat_model
        self._models: dict[tuple[str, int], BaseChatModel] = {}
        self._lock = threading.Lock()
        self._lookup: Callable[[str], object] | None = None

    def look_up_with(self, lookup: Callable[[str], object]) -> None:
        """`lookup(name)` runs before an unknown name is refused: it may add the variant
        (one another process created and stored)."""
        self._lookup = lookup

    def names(self) -> list[str]:
        return list(self._variants)

    def all(self) -> list[Variant]:
        return list(self._variants.values())

    def source(self, name: str) -> str:
        return self._sources.get(name, "api")

    def get(self, name: str) -> Variant:
        variant = self._variants.get(name)
        if variant is None and self._lookup is not None:
            self._lookup(name)
            variant = self._variants.get(name)
        if variant is None:
            known = ", ".join(sorted(self._variants)) or "none"
            raise NotFound(
                f"unknown variant {name!r}",
                hint=f"Known variants: {known}. Declare it in the variants file or POST /api/variants.",
                code=ErrorCode.UNKNOWN_VARIANT,
            )
        return variant

    def check(self, variant: Variant) -> None:
        """Raises `InvalidRequest` when the variant may not be added (its `api_key_env`)."""
        self.key_envs.check(variant)

    def _admit(self, variant: Variant) -> None:
        self.check(variant)
        key_env = getattr(variant.model, "api_key_env", None)
        if key_env:  # the key's value is never logged, whatever it looks like
            register_secret(os.environ.get(key_env))

    def add(self, variant: Variant, *, source: str = "api") -> None:
        self._admit(variant)
        with self._lock:
            if variant.name in self._variants:
                raise Conflict(
                    f"a variant named {variant.name!r} already exists", hint="Pick another name."
                )
            self._variants[variant.name] = variant
            self._sources[variant.name] = source

    def add_stored(self, variants: list[Variant]) -> list[tuple[str, str]]:
        """Add the variants created through the API (as stored) that are not known yet; those
        refused now (stored before a rule, or the allow-list shrank) are left out: (name,
        why) each, for the log."""
        refused = []
        for variant in variants:
            if variant.name in self._variants:
                continue
            try:
                self.add(variant)
            except ArbiterError as exc:
                refused.append((variant.name, exc.message))
        return refused

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
