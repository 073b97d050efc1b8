"""A use case as written: a workspace of candidate variants, their datasets and collections,
and measurable targets, defined in a checked-in file (YAML, TOML or JSON), the API or the
page. Every field is validated, targets included, when it is read."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from evals.errors import LanguageError, TargetError
from evals.goals import TARGET_METRICS, Target, parse_targets
from evals.languages import normalize_language
from service.config import DEFAULTS
from service.errors import ErrorCode, InvalidRequest, NotFound

EXAMPLE_FILE = DEFAULTS / "usecase.yaml"


EXAMPLE_DATASET_NAME = "example"  # in `datasets`: the bundled evals/data/lumen_qa.jsonl


class UseCaseSpec(BaseModel):
    """A use case as written in its file (YAML, TOML or JSON) or sent to the API."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][\w.-]*$")
    description: str = Field(default="", max_length=2000)
    variants: list[str] = Field(min_length=1, max_length=20)
    baseline: str | None = Field(
        default=None,
        description="The variant candidates are compared with (production, a competitor).",
    )
    targets: list[str] = Field(min_length=1, max_length=30)
    datasets: list[str] = Field(
        default_factory=list, description="Eval datasets (paths, or 'example')."
    )
    metrics: list[str] = Field(
        default_factory=list,
        description="Automatic metrics for runs of its datasets; default: the score metrics "
        "its targets name.",
    )
    collections: list[str] = Field(default_factory=list, description="RAG collections.")
    min_samples: int = Field(
        default=20, ge=2, le=100_000, description="Observations needed for a verdict."
    )
    window_days: float = Field(default=7.0, gt=0, le=3650, description="Default window.")
    language: str | None = Field(
        default=None,
        description="The language of its datasets (an ISO 639 code: zh, ja, en...), for "
        "rows without a `language` column; default: detected from each row's script.",
    )

    @field_validator("language")
    @classmethod
    def _language_is_a_code(cls, language: str | None) -> str | None:
        if language is None:
            return None
        try:
            return normalize_language(language)
        except LanguageError as exc:
            raise ValueError(f"{exc}. {exc.hint}") from None

    @field_validator("targets")
    @classmethod
    def _targets_parse(cls, targets: list[str]) -> list[str]:
        try:
            parse_targets(targets)
        except TargetError as exc:
            raise ValueError(str(exc)) from None
        return targets

    @model_validator(mode="after")
    def _baseline_is_a_variant(self) -> UseCaseSpec:
        if len(set(self.variants)) != len(self.variants):
            raise ValueError("a variant is listed twice in `variants`")
        if self.baseline is not None and self.baseline not in self.variants:
            raise ValueError(
                f"baseline {self.baseline!r} is not one of the use case's variants "
                f"({', '.join(self.variants)}); add it to `variants`"
            )
        return self

    def parsed_targets(self) -> list[Target]:
        return parse_targets(self.targets)

    def run_metrics(self) -> list[str]:
        """Metrics to compute when running its datasets."""
        if self.metrics:
            return list(self.metrics)
        return [
            t.metric
            for t in self.parsed_targets()
            if TARGET_METRICS[t.metric].source == t.metric and not t.metric.startswith("judge_")
        ]


def spec_from_data(data: Any, *, origin: str = "the use case") -> UseCaseSpec:
    """A validated spec; errors name the field and the problem."""
    try:
        return UseCaseSpec.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'use case'}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        )
        raise InvalidRequest(
            f"{origin} is not valid: {problems}",
            code=ErrorCode.INVALID_USE_CASE,
            hint="See service/defaults/usecase.yaml for a complete example.",
        ) from None


def parse_text(text: str, *, suffix: str = ".yaml", origin: str = "the use case") -> UseCaseSpec:
    try:
        if suffix == ".toml":
            data: Any = tomllib.loads(text)
        elif suffix == ".json":
            data = json.loads(text)
        else:
            data = yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, yaml.YAMLError) as exc:
        raise InvalidRequest(
            f"{origin} cannot be read: {exc}",
            code=ErrorCode.INVALID_USE_CASE,
            hint="Write it as YAML, TOML or JSON.",
        ) from None
    return spec_from_data(data, origin=origin)


def load_file(path: Path) -> UseCaseSpec:
    if not path.is_file():
        raise NotFound(f"no file {path}", code=ErrorCode.FILE_NOT_FOUND)
    suffix = path.suffix.lower()
    if suffix not in (".yaml", ".yml", ".toml", ".json"):
        raise InvalidRequest(
            f"{path.name}: use a .yaml, .toml or .json file", code=ErrorCode.INVALID_USE_CASE
        )
    return parse_text(path.read_text(encoding="utf-8"), suffix=suffix, origin=str(path))


def to_yaml(spec: UseCaseSpec) -> str:
    return yaml.safe_dump(spec.model_dump(exclude_defaults=False), sort_keys=False)
