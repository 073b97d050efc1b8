"""Variant model spec -> LangChain chat model, and a cheap reachability probe per provider."""

from __future__ import annotations

import os
from dataclasses import dataclass

import httpx
from langchain_core.language_models.chat_models import BaseChatModel

from service.errors import ArbiterError
from service.models.providers.aws import aws_client
from service.models.providers.bedrock import build_bedrock
from service.models.providers.errors import classify_error
from service.models.providers.local import LocalChatModel, resolve_gguf
from service.models.providers.openai_compat import OpenAICompatibleChatModel
from service.models.providers.sagemaker import SageMakerChatModel
from service.models.variants import BedrockModel, LocalModel, OpenAIModel, SageMakerModel, Variant


def build_chat_model(variant: Variant, *, timeout_s: float = 120.0) -> BaseChatModel:
    """Build the chat model for a variant. Raises `ProviderError`/`ConfigError` on failure."""
    spec = variant.model
    try:
        if isinstance(spec, LocalModel):
            return LocalChatModel(
                model_path=str(resolve_gguf(spec.path)),
                n_ctx=spec.n_ctx,
                n_threads=spec.n_threads,
                seed=spec.seed,
            )
        if isinstance(spec, BedrockModel):
            return build_bedrock(spec, timeout_s)
        if isinstance(spec, SageMakerModel):
            return SageMakerChatModel(
                endpoint_name=spec.endpoint_name,
                inference_component=spec.inference_component,
                adapter=spec.adapter,
                streaming=spec.streaming,
                prompt_template=spec.prompt_template,
                region=spec.region,
                aws_profile=spec.profile,
                endpoint_url=spec.endpoint_url,
                max_attempts=spec.max_attempts,
                timeout_s=timeout_s,
            )
        return OpenAICompatibleChatModel(
            base_url=spec.base_url,
            model=spec.model,
            api_key=os.environ.get(spec.api_key_env) if spec.api_key_env else None,
            timeout_s=timeout_s,
        )
    except ArbiterError:
        raise
    except Exception as exc:
        raise classify_error(exc) from None


@dataclass(frozen=True)
class Probe:
    ok: bool
    detail: str


def probe_model(variant: Variant, *, timeout_s: float = 5.0) -> Probe:
    """A cheap check that the model can be called, without generating anything."""
    spec = variant.model
    try:
        if isinstance(spec, LocalModel):
            path = resolve_gguf(spec.path)
            return Probe(True, f"GGUF {path.name} ({path.stat().st_size / 2**20:.0f} MiB)")
        if isinstance(spec, OpenAIModel):
            headers = {}
            if spec.api_key_env and os.environ.get(spec.api_key_env):
                headers["Authorization"] = f"Bearer {os.environ[spec.api_key_env]}"
            response = httpx.get(
                spec.base_url.rstrip("/") + "/models", headers=headers, timeout=timeout_s
            )
            if response.status_code >= 400:
                return Probe(False, f"GET /models answered HTTP {response.status_code}")
            return Probe(True, f"{spec.base_url} answers")
        if isinstance(spec, BedrockModel):
            client = aws_client(
                "bedrock",
                region=spec.region,
                profile=spec.profile,
                endpoint_url=spec.endpoint_url,
                max_attempts=1,
                read_timeout_s=timeout_s,
            )
            if "inference-profile/" in spec.model_id or spec.model_id.split(".", 1)[0] in {
                "us",
                "eu",
                "apac",
                "global",
            }:
                client.get_inference_profile(inferenceProfileIdentifier=spec.model_id)
            else:
                client.get_foundation_model(modelIdentifier=spec.model_id)
            return Probe(True, f"{spec.model_id} in {client.meta.region_name}")
        client = aws_client(
            "sagemaker",
            region=spec.region,
            profile=spec.profile,
            endpoint_url=spec.endpoint_url,
            max_attempts=1,
            read_timeout_s=timeout_s,
        )
        status = client.describe_endpoint(EndpointName=spec.endpoint_name)["EndpointStatus"]
        return Probe(status == "InService", f"endpoint {spec.endpoint_name} is {status}")
    except Exception as exc:
        err = classify_error(exc)
        return Probe(False, f"{err.code}: {err.message}" + (f" ({err.hint})" if err.hint else ""))
