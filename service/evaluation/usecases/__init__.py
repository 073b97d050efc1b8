"""Use cases: a workspace of candidate variants, their datasets and collections, and
measurable targets; where each variant stands against them, the model-selection report,
runs of the use case's datasets, and the goal monitor."""

from service.evaluation.usecases.goals import Window, goal_statuses, observations, status
from service.evaluation.usecases.monitor import refresh_goals
from service.evaluation.usecases.registry import apply, apply_example, get, list_all
from service.evaluation.usecases.report import report, tuned_comparison, write_report
from service.evaluation.usecases.runner import run_datasets
from service.evaluation.usecases.spec import (
    EXAMPLE_FILE,
    UseCaseSpec,
    load_file,
    parse_text,
    spec_from_data,
    to_yaml,
)

__all__ = [
    "EXAMPLE_FILE",
    "UseCaseSpec",
    "Window",
    "apply",
    "apply_example",
    "get",
    "goal_statuses",
    "list_all",
    "load_file",
    "observations",
    "parse_text",
    "refresh_goals",
    "report",
    "run_datasets",
    "spec_from_data",
    "status",
    "to_yaml",
    "tuned_comparison",
    "write_report",
]
