"""Models: variants (model + parameters + system prompt + RAG setting), the catalog that
builds one streaming LangChain chat model per variant, prices, the circuit breaker per
endpoint, and the providers (local llama.cpp, Bedrock, SageMaker, OpenAI-compatible)."""

from service.models.breaker import Breakers
from service.models.catalog import Catalog, ModelFactory
from service.models.discovery import (
    ADAPTERS,
    AdapterName,
    AwsTarget,
    Discovery,
    TemplateName,
    discover,
    discovered_variant,
)
from service.models.invoke_bodies import MalformedReply, Reply, parse_reply, request_body
from service.models.pricing import PriceTable
from service.models.providers.aws import aws_client
from service.models.providers.base import StreamingChatModel
from service.models.providers.errors import classify_error
from service.models.providers.registry import build_chat_model, probe_model
from service.models.providers.sagemaker_adapters import make_adapter
from service.models.variants import (
    BedrockModel,
    KeyEnvs,
    SageMakerModel,
    Variant,
    load_variants,
)
from service.models.variants_file import append_variant, writable_file

__all__ = [
    "ADAPTERS",
    "AdapterName",
    "AwsTarget",
    "BedrockModel",
    "Breakers",
    "Catalog",
    "Discovery",
    "KeyEnvs",
    "MalformedReply",
    "ModelFactory",
    "PriceTable",
    "Reply",
    "SageMakerModel",
    "StreamingChatModel",
    "TemplateName",
    "Variant",
    "append_variant",
    "aws_client",
    "build_chat_model",
    "classify_error",
    "discover",
    "discovered_variant",
    "load_variants",
    "make_adapter",
    "parse_reply",
    "probe_model",
    "request_body",
    "writable_file",
]
