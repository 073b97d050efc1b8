"""Model providers. Every model is a LangChain `BaseChatModel` that streams.

`build_chat_model(variant)` turns a variant's model spec into a chat model; `classify_error`
turns whatever a provider raised into a `ProviderError` with a stable code and a hint."""

from service.models.providers.errors import classify_error
from service.models.providers.registry import build_chat_model, probe_model

__all__ = ["build_chat_model", "classify_error", "probe_model"]
