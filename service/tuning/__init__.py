"""Tuning: fine-tuning jobs from exported labels (Bedrock model customization, SageMaker
training jobs), the tuned model served and added as a variant, and its automatic comparison
with the base variant; every step and its lineage stored."""

from service.tuning.cloud import Clients
from service.tuning.jobs import (
    TuneRequest,
    answer_comparison,
    create,
    poll,
    refresh,
    refresh_all,
    stop,
)

__all__ = [
    "Clients",
    "TuneRequest",
    "answer_comparison",
    "create",
    "poll",
    "refresh",
    "refresh_all",
    "stop",
]
