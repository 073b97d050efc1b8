"""Evaluation: batch runs, judges, online scoring and its job worker, reports and
regression gates, the dashboard's series, and use cases with their goals."""

from service.evaluation import usecases
from service.evaluation.batch import EvalRunner
from service.evaluation.batch_jobs import (
    BACKENDS,
    ONLINE,
    BatchJobRunner,
    BedrockBatch,
    SageMakerTransform,
)
from service.evaluation.dashboard import WINDOWS, series, window_bounds
from service.evaluation.items import Progress
from service.evaluation.jobs import Handler, Worker
from service.evaluation.judging import pairwise_judge, scorers
from service.evaluation.online import SCORE_TURN, OnlineScoring, scoring_job_id
from service.evaluation.reports import build_report, run_gate, run_summaries, write_report
from service.evaluation.usecases.goals import Window
from service.evaluation.usecases.monitor import refresh_goals
from service.evaluation.usecases.spec import UseCaseSpec

__all__ = [
    "BACKENDS",
    "ONLINE",
    "SCORE_TURN",
    "WINDOWS",
    "BatchJobRunner",
    "BedrockBatch",
    "EvalRunner",
    "Handler",
    "OnlineScoring",
    "Progress",
    "SageMakerTransform",
    "UseCaseSpec",
    "Window",
    "Worker",
    "build_report",
    "pairwise_judge",
    "refresh_goals",
    "run_gate",
    "run_summaries",
    "scorers",
    "scoring_job_id",
    "series",
    "usecases",
    "window_bounds",
    "write_report",
]
