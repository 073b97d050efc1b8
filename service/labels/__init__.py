"""Human labels: votes as telemetry, thumbs, reviews, labelling campaigns, the leaderboard
and training-data exports."""

from service.labels import campaigns, reviews
from service.labels.elo import EloReplays
from service.labels.export_files import StagedFiles
from service.labels.exports import (
    ExportOptions,
    ExportSummary,
    detailed_dry_run,
    dry_run,
    export,
    jsonl_chunks,
    prepare,
)
from service.labels.feedback import give_feedback
from service.labels.leaderboard import (
    FEW_BATTLES,
    LEADERBOARD_RULES,
    compute_leaderboard,
    rough_variants,
    rubric_quality,
)
from service.labels.reviews import set_rater
from service.labels.votes import record_votes

__all__ = [
    "FEW_BATTLES",
    "LEADERBOARD_RULES",
    "EloReplays",
    "ExportOptions",
    "ExportSummary",
    "StagedFiles",
    "campaigns",
    "compute_leaderboard",
    "detailed_dry_run",
    "dry_run",
    "export",
    "give_feedback",
    "jsonl_chunks",
    "prepare",
    "record_votes",
    "reviews",
    "rough_variants",
    "rubric_quality",
    "set_rater",
]
