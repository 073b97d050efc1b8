"""The leaderboard over HTTP: preference (Bradley-Terry with 95% CIs, win matrix, and online
Elo with `?elo=true`) and absolute quality (rubric means with 95% CIs), with filters."""

from __future__ import annotations

import asyncio
import math
from typing import Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from service.api.deps import LabelFiltersDep, RuntimeDep, StoreDep
from service.labels import LEADERBOARD_RULES, compute_leaderboard, rubric_quality
from service.store import Filters


class RowOut(BaseModel):
    variant: str
    rank: int
    rating: float
    ci_low: float
    ci_high: float
    battles: int
    win_rate: float | None
    elo: float | None = Field(description="Online Elo; null unless asked with ?elo=true.")


class LeaderboardOut(BaseModel):
    rows: list[RowOut]
    battles: int
    variants: list[str] = Field(description="In rating order; the matrices follow it.")
    win_matrix: list[list[float | None]] = Field(
        description="[x][y]: x's win rate against y (ties half); null where they never met."
    )
    battle_matrix: list[list[int]]
    rules: str = LEADERBOARD_RULES


class CriterionOut(BaseModel):
    mean: float | None
    ci_low: float | None
    ci_high: float | None
    n: int


class QualityRowOut(BaseModel):
    variant: str
    ratings: int
    criteria: dict[str, CriterionOut]


router = APIRouter(prefix="/api/leaderboard", tags=["leaderboard"])


@router.get("")
async def preference(
    runtime: RuntimeDep,
    filters: LabelFiltersDep,
    elo: bool = Query(
        False,
        description="Also online Elo over every live vote, oldest first (each row's `elo`; "
        "null without it). Bradley-Terry, from counts, is always there.",
    ),
) -> LeaderboardOut:
    replays = runtime.elo if elo else None
    board = await asyncio.to_thread(compute_leaderboard, runtime.store, filters, elo=replays)
    return LeaderboardOut(
        rows=[
            RowOut(
                variant=r.model,
                rank=r.rank,
                rating=round(r.rating, 2),
                ci_low=round(r.low, 2),
                ci_high=round(r.high, 2),
                battles=r.battles,
                win_rate=r.win_rate,
                elo=None if r.elo is None else round(r.elo, 2),
            )
            for r in board.rows
        ],
        battles=board.battles,
        variants=board.models,
        win_matrix=[[None if math.isnan(v) else float(v) for v in row] for row in board.win_matrix],
        battle_matrix=[[int(v) for v in row] for row in board.battle_matrix],
    )


@router.get("/quality")
async def quality(
    store: StoreDep,
    mode: Literal["arena", "named"] | None = None,
    rag: bool | None = None,
    use_case: str | None = None,
) -> list[QualityRowOut]:
    filters = Filters(mode=mode, rag=rag, use_case=use_case)
    rows = await asyncio.to_thread(rubric_quality, store, filters)
    return [
        QualityRowOut(
            variant=r.variant,
            ratings=r.ratings,
            criteria={
                c: CriterionOut(mean=e.mean, ci_low=e.low, ci_high=e.high, n=e.n)
                for c, e in r.criteria.items()
            },
        )
        for r in rows
    ]
