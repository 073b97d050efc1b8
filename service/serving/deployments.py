"""Deployments: how live traffic on the OpenAI-compatible gateway is routed.

A deployment is what clients name as `model`. It sends each request to one variant of its
split (A/B: weights, sticky per user or conversation so a person keeps seeing the same
variant), and a copy to each shadow variant in the background (answers stored and scored,
never returned). A sample of calls is stored as turns, optionally in a use case.

Deployments come from a file (`ARBITER_DEPLOYMENTS_FILE`, TOML or YAML) and the admin API;
the file seeds the store, API edits are kept and audited. With none defined, every variant
is its own deployment with the variant's name."""

from __future__ import annotations

import hashlib
import random
import tomllib
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from service.errors import ArbiterError, ErrorCode, InvalidRequest, NotFound
from service.store import Store, deployments, usecases


class Deployment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][\w.:/-]*$")
    description: str = Field(default="", max_length=2000)
    live: str | None = Field(default=None, description="Shorthand for a split of one variant.")
    split: dict[str, float] = Field(
        default_factory=dict, description="variant -> weight (any positive numbers)."
    )
    sticky: Literal["user", "none"] = Field(
        default="user",
        description="user: the same user (or X-Arbiter-Session) always gets the same variant.",
    )
    shadows: list[str] = Field(default_factory=list, max_length=4)
    sample_rate: float = Field(default=1.0, ge=0.0, le=1.0, description="Share of calls stored.")
    use_case: str | None = Field(default=None, max_length=64)

    @model_validator(mode="after")
    def _one_route(self) -> Deployment:
        if self.live is not None:
            if self.split:
                raise ValueError("give `live` or `split`, not both")
            self.split = {self.live: 1.0}
            self.live = None
        if not self.split:
            raise ValueError("a deployment needs `live` (one variant) or a `split`")
        if any(w <= 0 for w in self.split.values()):
            raise ValueError("split weights must be positive")
        overlap = set(self.shadows) & set(self.split)
        if overlap:
            raise ValueError(f"{', '.join(sorted(overlap))} is both live and a shadow")
        return self

    def variants(self) -> list[str]:
        return [*self.split, *self.shadows]

    def choose(self, key: str | None) -> str:
        """The variant for this request: the same key always lands on the same variant
        (while the split is unchanged); no key, a weighted random draw."""
        names = list(self.split)
        total = sum(self.split.values())
        if key is not None and self.sticky == "user":
            digest = hashlib.sha256(f"{self.name}\0{key}".encode()).digest()
            point = int.from_bytes(digest[:8], "big") / 2**64 * total
        else:
            point = random.random() * total
        for name in names:
            point -= self.split[name]
            if point < 0:
                return name
        return names[-1]

    def sampled(self) -> bool:
        return self.sample_rate >= 1.0 or random.random() < self.sample_rate


def parse_deployment(data: Any, origin: str = "the deployment") -> Deployment:
    try:
        return Deployment.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'deployment'}: "
            f"{e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        )
        raise InvalidRequest(
            f"{origin} is not valid: {problems}", code=ErrorCode.INVALID_DEPLOYMENT
        ) from None


def load_deployments(path: Path) -> list[Deployment]:
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
    except (OSError, tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise ArbiterError(
            f"cannot read deployments from {path}: {exc}",
            code=ErrorCode.INVALID_CONFIG,
            hint="ARBITER_DEPLOYMENTS_FILE: a TOML or YAML file with [[deployments]] entries.",
        ) from None
    entries = (data or {}).get("deployments", [])
    return [parse_deployment(d, f"{path}: deployment {i + 1}") for i, d in enumerate(entries)]


class Deployments:
    """The routing table, held in memory and in the store; edits apply to the next request."""

    def __init__(self, store: Store, variant_names: Iterable[str]) -> None:
        self.store = store
        self._known = set(variant_names)
        self._table: dict[str, Deployment] = {}
        self._seen: tuple[int, datetime | None] | None = None
        self._lookup: Callable[[str], object] | None = None

    def look_up_with(self, lookup: Callable[[str], object]) -> None:
        """`lookup(name)` runs before a name that is no deployment and no known variant is
        refused: it may make the variant or the deployment known (one another process
        created)."""
        self._lookup = lookup

    def load(self, seeds: list[Deployment]) -> None:
        """Seed from the file (rows not in the store yet), then read the store."""
        for d in seeds:
            self.check(d)
        deployments.add_missing(self.store, {d.name: d.model_dump() for d in seeds})
        self.refresh()

    def refresh(self) -> bool:
        """Read the stored deployments again when another process created or changed one
        (replicas each hold the table in memory); True when it did. Blocking."""
        version = deployments.version(self.store)
        if version == self._seen:
            return False
        # Read before the rows: a change made in between moves it again next time.
        self._table = {
            name: Deployment.model_validate(spec)
            for name, spec in deployments.all_specs(self.store).items()
        }
        self._seen = version
        return True

    def check(self, d: Deployment) -> None:
        unknown = [v for v in d.variants() if v not in self._known]
        if unknown and self._lookup is not None:
            self._lookup(unknown[0])  # one look reads every stored variant
            unknown = [v for v in d.variants() if v not in self._known]
        if unknown:
            raise InvalidRequest(
                f"deployment {d.name!r}: unknown variant(s) {', '.join(unknown)}",
                code=ErrorCode.UNKNOWN_VARIANT,
                hint="Known variants: " + ", ".join(sorted(self._known)),
            )
        if d.use_case is not None and not usecases.has_use_case(self.store, d.use_case):
            raise NotFound(
                f"use case {d.use_case!r} does not exist", code=ErrorCode.UNKNOWN_USE_CASE
            )

    def known_variant(self, name: str) -> None:
        self._known.add(name)

    def put(self, d: Deployment) -> bool:
        """Create or replace; True when new."""
        self.check(d)
        created = deployments.put_spec(self.store, d.name, d.model_dump())
        self._table[d.name] = d
        return created

    def get(self, name: str) -> Deployment:
        d = self._table.get(name)
        if d is None and name not in self._known and self._lookup is not None:
            self._lookup(name)  # a variant or a deployment another process made, maybe
            d = self._table.get(name)
        if d is not None:
            return d
        if name in self._known:  # every variant is also a deployment of itself
            return Deployment(name=name, live=name, sticky="none")
        raise NotFound(
            f"model {name!r} does not exist",
            code=ErrorCode.MODEL_NOT_FOUND,
            hint="GET /v1/models lists the deployments and variants you can name.",
        )

    def all(self) -> list[Deployment]:
        return sorted(self._table.values(), key=lambda d: d.name)

    def names(self) -> list[str]:
        return sorted({*self._table, *self._known})
