"""The leaderboard over stored votes and ratings: the store gives sufficient statistics
(a GROUP BY over live votes), `evals.leaderboard` fits them.

Rules, stated once: a vote counts while it is live (not superseded by the same rater's
later vote); "both are bad" counts as a tie; a ranking of N panes counts as the N(N-1)/2
pairwise wins it implies; each rater's vote on a turn counts."""

from __future__ import annotations

from dataclasses import dataclass

from evals.goals import mean_estimate
from evals.leaderboard import Leaderboard, build
from evals.report import Estimate
from service.labels.elo import EloReplays
from service.store import Filters, Store
from service.store import leaderboard as counts_in_store

LEADERBOARD_RULES = (
    "Bradley-Terry on live votes (a changed vote replaces the rater's earlier one); both-bad "
    "counts as a tie, a tie as half a win each; a ranking of N answers counts as every "
    "pairwise win it implies. A weak prior pulls a variant with few votes toward the "
    "average (1000). 95% CIs by bootstrap over votes; ranks tie where CIs overlap."
)
# Below this many battles a variant's rating is rough: its 95% interval is some ±100 Elo
# points wide or more (one battle against an even opponent carries a quarter unit of
# information, so 50 give a standard error of 2/√50 = 0.28 log-odds, ±96 points), and the
# prior (evals.leaderboard.C) still moves it by a few percent. The page says so.
FEW_BATTLES = 50
CRITERIA = ("helpfulness", "honesty", "harmlessness")


def compute_leaderboard(
    store: Store,
    filters: Filters = Filters(),
    *,
    elo: EloReplays | None = None,
    rounds: int = 200,
) -> Leaderboard:
    """Bradley-Terry with bootstrap CIs always; online Elo only when asked (`elo`).

    BT, which needs only the counts kept as votes arrive, is the ranking. Elo depends on the
    order of the votes, and a superseding vote or a review rewrites that history, so it is
    not stored with each vote: `EloReplays` keeps it between requests and replays only what
    may have changed since (`service.labels.elo`)."""
    ratings = None if elo is None else elo.ratings(filters)
    return build(counts_in_store.pair_counts(store, filters), elo=ratings, rounds=rounds)


def rough_variants(board: Leaderboard, few: int = FEW_BATTLES) -> list[str]:
    """The variants, in rating order, with fewer than `few` battles."""
    return [r.model for r in board.rows if r.battles < few]


@dataclass(frozen=True)
class QualityRow:
    variant: str
    ratings: int
    criteria: dict[str, Estimate]


def rubric_quality(store: Store, filters: Filters = Filters()) -> list[QualityRow]:
    """Absolute quality: each variant's mean rubric scores with 95% CIs (bootstrap, normal
    from 5,000 ratings on: `evals.goals.mean_estimate`), from each rater's latest rating of
    each answer."""
    latest: dict[tuple[str, str], tuple[str, tuple[int | None, ...]]] = {}
    for variant, answer_id, rater, helpful, honest, harmless in counts_in_store.ratings(
        store, filters
    ):  # oldest first: each rater's latest rating of an answer wins
        latest[(answer_id, rater)] = (variant, (helpful, honest, harmless))
    per: dict[str, dict[str, list[float]]] = {}
    counts: dict[str, int] = {}
    for variant, scores in latest.values():
        counts[variant] = counts.get(variant, 0) + 1
        bucket = per.setdefault(variant, {c: [] for c in CRITERIA})
        for c, value in zip(CRITERIA, scores, strict=True):
            if value is not None:
                bucket[c].append(float(value))
    return [
        QualityRow(v, counts[v], {c: mean_estimate(per[v][c]) for c in CRITERIA})
        for v in sorted(per)
    ]
