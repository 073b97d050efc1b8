"""Variant = model + generation parameters + system prompt. Declared in a TOML/YAML file
or created through the API. Every schema forbids unknown keys, so a typo is an error."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from rag import DEFAULT_TEMPLATE, check_template
from service.errors import ConfigError
from service.schemas import GenerationParams


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


def parse_variants(data: Any, *, source: str) -> list[Variant]:
    try:
        return VariantsFile.model_validate(data).variants
    except ValidationError as exc:
        raise ConfigError(
            f"{source} is not a valid variants file:\n{_format_validation_error(exc)}",
            hint="Compare it with examples/variants.toml; unknown keys are not allowed.",
        ) from None


def load_variants(path: Path) -> list[Variant]:
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
    return parse_variants(data, source=str(path))
