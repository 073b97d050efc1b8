"""Variant = model + generation parameters + system prompt. Declared in a TOML/YAML file
or created through the API. Every schema forbids unknown keys, so a typo is an error."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from rag import DEFAULT_TEMPLATE, check_template
from service.config import Settings
from service.errors import ArbiterError, ConfigError, ErrorCode, InvalidRequest
from service.schemas import GenerationParams
from service.text import first_unencodable


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Price(_Strict):
    """USD per 1,000 tokens."""

    input_per_1k: float = Field(ge=0)
    output_per_1k: float = Field(ge=0)


class LocalModel(_Strict):
    provider: Literal["local"] = "local"
    path: str | None = Field(
        default=None, description="A GGUF file. Default: the bundled SmolLM2-135M-Instruct."
    )
    n_ctx: int = Field(default=2048, ge=256)
    n_threads: int = Field(default=1, ge=1, description="CPU threads for this model instance.")
    seed: int = 0


class BedrockModel(_Strict):
    provider: Literal["bedrock"] = "bedrock"
    model_id: str = Field(min_length=1)
    base_model_id: str | None = Field(
        default=None,
        description="For a custom model's ARN (an on-demand deployment or provisioned "
        "throughput): the foundation model it was tuned from, e.g. amazon.nova-micro-v1:0.",
    )
    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None
    max_attempts: int = Field(default=5, ge=1, le=20, description="Tries on throttling.")
    streaming: bool = Field(
        default=True, description="Use ConverseStream; false for models that only support Converse."
    )


class SageMakerModel(_Strict):
    provider: Literal["sagemaker"] = "sagemaker"
    endpoint_name: str = Field(min_length=1)
    inference_component: str | None = None
    adapter: Literal["tgi", "messages", "jumpstart"] = "messages"
    streaming: bool = True
    prompt_template: Literal["chatml", "llama3", "plain"] = "chatml"
    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None
    max_attempts: int = Field(default=5, ge=1, le=20)


class OpenAIModel(_Strict):
    provider: Literal["openai"] = "openai"
    base_url: str = Field(min_length=1, description="e.g. http://localhost:11434/v1")
    model: str = Field(min_length=1)
    api_key_env: str | None = Field(
        default=None, description="Name of the environment variable holding the API key."
    )
    max_attempts: int = Field(default=3, ge=1, le=20)


class RagSetting(_Strict):
    use_context: bool = Field(
        default=True,
        description="Give this variant the turn's retrieved context. False makes a 'RAG off' "
        "baseline: it answers the bare question even when the turn retrieved context.",
    )
    template: str = Field(
        default=DEFAULT_TEMPLATE,
        description="The user message sent with context; must contain {context} and {question}.",
    )

    @field_validator("template")
    @classmethod
    def _placeholders(cls, value: str) -> str:
        return check_template(value)


ModelSpec = Annotated[
    LocalModel | BedrockModel | SageMakerModel | OpenAIModel, Field(discriminator="provider")
]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class Variant(_Strict):
    name: str
    description: str = ""
    model: ModelSpec
    params: GenerationParams = GenerationParams()
    system_prompt: str = ""
    price: Price | None = Field(default=None, description="Overrides the price table.")
    timeout_s: float | None = Field(default=None, gt=0)
    rag: RagSetting = RagSetting()

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(
                "use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
            )
        return value

    @property
    def provider(self) -> str:
        return self.model.provider

    @property
    def model_label(self) -> str:
        """A short, human-readable name of the underlying model."""
        m = self.model
        if isinstance(m, LocalModel):
            return Path(m.path).name if m.path else "SmolLM2-135M-Instruct (bundled)"
        if isinstance(m, BedrockModel):
            return m.model_id
        if isinstance(m, SageMakerModel):
            return m.endpoint_name + (f"/{m.inference_component}" if m.inference_component else "")
        return m.model


PROVIDER_KEY_PREFIX = "ARBITER_PROVIDER_KEY_"
# The server's own secrets: never sent to a model endpoint, even when listed.
_NEVER_PREFIXES = ("ARBITER_", "AWS_")


@dataclass(frozen=True)
class KeyEnvs:
    """Which environment variables a variant's `api_key_env` may name: any
    ARBITER_PROVIDER_KEY_* and those listed (ARBITER_PROVIDER_KEY_ENVS). Whoever may create a
    variant chooses the URL the key is sent to, so an open choice would hand out any of the
    server's secrets (the admin key, AWS credentials)."""

    listed: frozenset[str] = frozenset({"OPENAI_API_KEY"})

    @classmethod
    def of(cls, settings: Settings) -> KeyEnvs:
        return cls(frozenset(settings.provider_key_env_list))

    def refusal(self, name: str) -> str | None:
        """Why `name` may not be read, or None when it may."""
        if name.startswith(PROVIDER_KEY_PREFIX) and len(name) > len(PROVIDER_KEY_PREFIX):
            return None
        if name.upper().startswith(_NEVER_PREFIXES):
            return (
                f"api_key_env {name!r} names one of the server's own secrets: ARBITER_* and "
                "AWS_* variables are never sent to a model endpoint"
            )
        if name in self.listed:
            return None
        return f"api_key_env {name!r} is not an allowed provider key variable"

    def check(self, variant: Variant) -> None:
        spec = variant.model
        if not isinstance(spec, OpenAIModel) or not spec.api_key_env:
            return
        refusal = self.refusal(spec.api_key_env)
        if refusal is not None:
            raise InvalidRequest(
                f"variant {variant.name!r}: {refusal}",
                hint=f"Put the key in a variable named {PROVIDER_KEY_PREFIX}<NAME> and name "
                "that, or list the variable in ARBITER_PROVIDER_KEY_ENVS.",
                code=ErrorCode.KEY_ENV_NOT_ALLOWED,
            )

    def check_all(self, variants: Iterable[Variant], *, source: str) -> None:
        """For a variants file: the first refusal as a configuration error."""
        for variant in variants:
            try:
                self.check(variant)
            except ArbiterError as exc:
                raise ConfigError(
                    f"{source}: {exc.message}", hint=exc.hint, code=exc.code
                ) from None


class VariantsFile(_Strict):
    variants: list[Variant] = Field(min_length=1)

    @field_validator("variants")
    @classmethod
    def _unique(cls, value: list[Variant]) -> list[Variant]:
        seen: set[str] = set()
        for v in value:
            if v.name in seen:
                raise ValueError(f"variant name {v.name!r} is declared twice")
            seen.add(v.name)
        return value


def _format_validation_error(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        lines.append(f"  {loc}: {err['msg']}")
    return "\n".join(lines)


def parse_variants(data: Any, *, source: str, key_envs: KeyEnvs | None = None) -> list[Variant]:
    """`key_envs`: the allowed `api_key_env` names (default: ARBITER_PROVIDER_KEY_* and
    OPENAI_API_KEY)."""
    bad = first_unencodable(data)
    if bad is not None:
        raise ConfigError(
            f"{source} is not a valid variants file: {bad} holds text that is not valid "
            "Unicode (a lone surrogate)",
            hint="Remove the \\uD800-\\uDFFF escape, or write the character itself.",
            code=ErrorCode.UNENCODABLE_TEXT,
        )
    try:
        variants = VariantsFile.model_validate(data).variants
    except ValidationError as exc:
        raise ConfigError(
            f"{source} is not a valid variants file:\n{_format_validation_error(exc)}",
            hint="Compare it with examples/variants.toml; unknown keys are not allowed.",
        ) from None
    (key_envs or KeyEnvs()).check_all(variants, source=source)
    return variants


def load_variants(path: Path, *, key_envs: KeyEnvs | None = None) -> list[Variant]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"variants file {path} does not exist",
            hint="Create it (see examples/variants.toml) or unset ARBITER_VARIANTS_FILE.",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read variants file {path}: {exc}") from None
    try:
        data = yaml.safe_load(text) if path.suffix in {".yaml", ".yml"} else tomllib.loads(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(
            f"variants file {path} is not valid {'YAML' if path.suffix in {'.yaml', '.yml'} else 'TOML'}: {exc}",
            hint="Fix the syntax error at the position shown.",
        ) from None
    return parse_variants(data, source=str(path), key_envs=key_envs)
