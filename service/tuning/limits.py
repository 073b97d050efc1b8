"""The documented limits of each base model's Bedrock customization
(`service/defaults/customization_limits.toml`) and of SageMaker training jobs
(`service/defaults/sagemaker_training.toml`; sources named in both), and the checks run on
an export and on hyperparameters before anything is written to S3 or submitted: one clear
message per violated rule."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterable
from functools import cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from evals.exports import validate
from service.config import DEFAULTS
from service.errors import ErrorCode, InvalidRequest

LIMITS_FILE = DEFAULTS / "customization_limits.toml"
SAGEMAKER_FILE = DEFAULTS / "sagemaker_training.toml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MethodSpec(_Strict):
    customization_type: str
    format: str


class Hyperparameter(_Strict):
    type: Literal["int", "float"]
    min: float
    max: float
    default: float

    def shown(self, value: float) -> str:
        """As Bedrock takes it: a string (ints without a decimal point)."""
        return str(int(value)) if self.type == "int" else repr(float(value))


class BaseModelLimits(_Strict):
    model_id: str
    label: str
    methods: dict[str, MethodSpec]
    not_on_bedrock: dict[str, str] = Field(default_factory=dict)
    min_train_records: int = Field(ge=1)
    max_train_records: int = Field(ge=1)
    max_validation_records: int = Field(ge=0)
    max_record_chars: int = Field(ge=1)
    reserved_keywords: list[str] = Field(default_factory=list)
    on_demand: bool
    provisioned_price_per_unit_hour_usd: float | None = None
    hyperparameters: dict[str, Hyperparameter]


@cache
def all_limits() -> dict[str, BaseModelLimits]:
    data = tomllib.loads(LIMITS_FILE.read_text(encoding="utf-8"))
    return {k: BaseModelLimits(model_id=k, **v) for k, v in data.items()}


def limits_for(model_id: str) -> BaseModelLimits:
    """The limits of a base model, by its customization id (`amazon.nova-micro-v1:0:128k`)
    or its inference id (`amazon.nova-micro-v1:0`, also behind a `us.` profile prefix)."""
    table = all_limits()
    if model_id in table:
        return table[model_id]
    bare = (
        model_id.split(".", 1)[1]
        if model_id.split(".", 1)[0] in ("us", "eu", "apac", "global")
        else model_id
    )
    for key, limits in table.items():
        if key.rsplit(":", 1)[0] == bare:
            return limits
    raise InvalidRequest(
        f"{model_id} has no Bedrock customization limits in Arbiter's table",
        code=ErrorCode.INVALID_TUNING,
        hint=f"Tune one of: {', '.join(table)} (or add the model to {LIMITS_FILE.name}).",
    )


def method_spec(limits: BaseModelLimits, method: str) -> MethodSpec:
    if method in limits.methods:
        return limits.methods[method]
    reason = limits.not_on_bedrock.get(method)
    raise InvalidRequest(
        f"{limits.label} does not take {method} customization on Bedrock",
        code=ErrorCode.INVALID_TUNING,
        hint=reason or f"Use one of: {', '.join(limits.methods)}.",
    )


def hyperparameters(limits: BaseModelLimits, given: dict[str, str]) -> dict[str, str]:
    """The job's hyperparameters: the documented defaults, overridden by `given`; every
    problem found is reported at once."""
    problems: list[str] = []
    out = {name: hp.shown(hp.default) for name, hp in limits.hyperparameters.items()}
    for name, raw in given.items():
        hp = limits.hyperparameters.get(name)
        if hp is None:
            problems.append(
                f"{name}: {limits.label} takes no such hyperparameter "
                f"(it takes {', '.join(limits.hyperparameters)})"
            )
            continue
        try:
            value = float(raw) if hp.type == "float" else int(raw)
        except ValueError:
            problems.append(
                f"{name}: {raw!r} is not {'a number' if hp.type == 'float' else 'an integer'}"
            )
            continue
        if not hp.min <= value <= hp.max:
            problems.append(
                f"{name}: {raw} is outside {hp.shown(hp.min)}..{hp.shown(hp.max)} "
                f"(default {hp.shown(hp.default)})"
            )
            continue
        out[name] = hp.shown(value)
    if problems:
        raise InvalidRequest(
            "hyperparameters refused: " + "; ".join(problems),
            code=ErrorCode.TUNING_LIMIT,
            hint="Fix the values above or leave them out for the documented defaults.",
        )
    return out


def _texts(record: dict[str, Any]) -> Iterable[tuple[str, str]]:
    for block in record.get("system", []):
        yield "system", str(block.get("text", ""))
    for message in record.get("messages", []):
        for block in message.get("content", []):
            yield message.get("role", ""), str(block.get("text", ""))


def dataset_problems(
    limits: BaseModelLimits, train: list[dict[str, Any]], validation: list[dict[str, Any]]
) -> list[str]:
    """Every rule of the base model the dataset breaks, one message each (counted per rule,
    with the first offending record's number)."""
    problems: list[str] = []
    if len(train) < limits.min_train_records:
        problems.append(
            f"{len(train)} training records; {limits.label} needs at least "
            f"{limits.min_train_records}"
        )
    if len(train) > limits.max_train_records:
        problems.append(
            f"{len(train)} training records; {limits.label} takes at most "
            f"{limits.max_train_records:,} (narrow the filters, e.g. --since)"
        )
    if len(validation) > limits.max_validation_records:
        problems.append(
            f"{len(validation)} validation records; at most {limits.max_validation_records:,}"
        )
    too_long: list[int] = []
    reserved: dict[str, list[int]] = {}
    bad_turns: list[int] = []
    for n, record in enumerate([*train, *validation], start=1):
        messages = record.get("messages", [])
        if (
            not messages
            or messages[0].get("role") != "user"
            or messages[-1].get("role") != "assistant"
        ):
            bad_turns.append(n)
        if len(json.dumps(record, ensure_ascii=False)) > limits.max_record_chars:
            too_long.append(n)
        for role, text in _texts(record):
            if role == "assistant":
                continue
            for word in limits.reserved_keywords:
                if word in text:
                    reserved.setdefault(word, []).append(n)
    if bad_turns:
        problems.append(
            f"{len(bad_turns)} records do not start with a user turn and end with an "
            f"assistant turn (first: record {bad_turns[0]})"
        )
    if too_long:
        problems.append(
            f"{len(too_long)} records are longer than {limits.max_record_chars:,} characters, "
            f"about {limits.label}'s context length (first: record {too_long[0]})"
        )
    for word, where in reserved.items():
        problems.append(
            f"{len(where)} records use the reserved keyword {word!r} in a prompt, which fails "
            f"the training job (first: record {where[0]})"
        )
    return problems


# ---- SageMaker training jobs ---------------------------------------------------------------


class SageMakerLimits(_Strict):
    methods: dict[str, str]  # method -> the TRL export format it trains on
    min_train_records: int = Field(ge=1)
    max_hyperparameters: int = Field(ge=1)
    max_hyperparameter_key_chars: int = Field(ge=1)
    max_hyperparameter_value_chars: int = Field(ge=1)
    reserved_hyperparameters: list[str] = Field(default_factory=list)


@cache
def sagemaker_limits() -> SageMakerLimits:
    return SageMakerLimits(**tomllib.loads(SAGEMAKER_FILE.read_text(encoding="utf-8")))


def sagemaker_format(limits: SageMakerLimits, method: str) -> str:
    if method in limits.methods:
        return limits.methods[method]
    raise InvalidRequest(
        f"{method} is not offered on SageMaker",
        code=ErrorCode.INVALID_TUNING,
        hint=f"Use one of: {', '.join(limits.methods)}.",
    )


def sagemaker_hyperparameters(
    limits: SageMakerLimits, method: str, given: dict[str, str]
) -> dict[str, str]:
    """What CreateTrainingJob gets: `method` (the TRL trainer the image runs) and the
    given values, passed on as strings; every broken rule of the API reported at once."""
    problems: list[str] = []
    for name in limits.reserved_hyperparameters:
        if name in given:
            problems.append(f"{name}: set by Arbiter (from --method), leave it out")
    out = {"method": method, **{k: v for k, v in given.items() if k != "method"}}
    if len(out) > limits.max_hyperparameters:
        problems.append(
            f"{len(out)} hyperparameters (with `method`); SageMaker takes at most "
            f"{limits.max_hyperparameters}"
        )
    for name, value in given.items():
        if not name or len(name) > limits.max_hyperparameter_key_chars:
            problems.append(
                f"{name[:40]!r}: a name must have 1 to {limits.max_hyperparameter_key_chars} "
                "characters"
            )
        if len(value) > limits.max_hyperparameter_value_chars:
            problems.append(
                f"{name}: the value has {len(value):,} characters; SageMaker takes at most "
                f"{limits.max_hyperparameter_value_chars:,}"
            )
    if problems:
        raise InvalidRequest(
            "hyperparameters refused: " + "; ".join(problems),
            code=ErrorCode.TUNING_LIMIT,
            hint="Fix the values above; nothing was written or submitted.",
        )
    return out


def sagemaker_dataset_problems(
    limits: SageMakerLimits, fmt: str, train: list[dict[str, Any]]
) -> list[str]:
    """Every rule the training records break: too few of them, and records that do not
    pass the TRL format's schema (counted per problem, with the first record's number)."""
    problems: list[str] = []
    if len(train) < limits.min_train_records:
        problems.append(
            f"{len(train)} training records; a SageMaker tuning needs at least "
            f"{limits.min_train_records}"
        )
    broken: dict[str, list[int]] = {}
    for n, record in enumerate(train, start=1):
        for problem in validate(fmt, record):
            broken.setdefault(problem, []).append(n)
    for problem, where in broken.items():
        problems.append(
            f"{len(where)} records are not valid {fmt}: {problem} (first: record {where[0]})"
        )
    return problems
