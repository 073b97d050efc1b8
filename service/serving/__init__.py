"""Serving answers: the compare engine (one prompt to 2-4 variants, streamed), the blind
arena's pairing and what it hides before a vote, and the OpenAI-compatible gateway with its
deployments (A/B splits, shadows, sampling to the store)."""

from service.serving.arena import (
    BattleCounts,
    blind,
    blind_answer,
    blind_error,
    choose_pair,
    hide_variants,
)
from service.serving.compare import CompareEngine, CompareEvent
from service.serving.deployments import Deployment, Deployments, load_deployments, parse_deployment
from service.serving.gateway import ChatRequest, Gateway, answer_id, completion, failure, sse
from service.serving.telemetry import BlindHold

__all__ = [
    "BattleCounts",
    "BlindHold",
    "ChatRequest",
    "CompareEngine",
    "CompareEvent",
    "Deployment",
    "Deployments",
    "Gateway",
    "answer_id",
    "blind",
    "blind_answer",
    "blind_error",
    "choose_pair",
    "completion",
    "failure",
    "hide_variants",
    "load_deployments",
    "parse_deployment",
    "sse",
]
