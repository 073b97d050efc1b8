"""Eval runs on provider batch jobs: Bedrock batch inference (model invocation jobs) and
SageMaker batch transform, with inputs and outputs on S3."""

from service.evaluation.batch_jobs.backend import (
    BACKENDS,
    BEDROCK_BATCH,
    ONLINE,
    SAGEMAKER_TRANSFORM,
    Backend,
)
from service.evaluation.batch_jobs.bedrock import BedrockBatch
from service.evaluation.batch_jobs.runner import BatchJobFailed, BatchJobRunner, Plan
from service.evaluation.batch_jobs.transform import SageMakerTransform

__all__ = [
    "BACKENDS",
    "BEDROCK_BATCH",
    "ONLINE",
    "SAGEMAKER_TRANSFORM",
    "Backend",
    "BatchJobFailed",
    "BatchJobRunner",
    "BedrockBatch",
    "Plan",
    "SageMakerTransform",
]
