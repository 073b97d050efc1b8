"""Which labels a read counts: the filters shared by the leaderboard, exports, use-case
goals and dashboards (dates, arena or named, RAG on or off, rater, campaign, tag, use case)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, TypeVar

from sqlalchemy import Select, select

from service.store.tables import (
    CampaignItemRow,
    CampaignRow,
    ConversationRow,
    TurnRow,
    TurnTagRow,
    VoteRow,
)

Q = TypeVar("Q", bound=Select)


@dataclass(frozen=True)
class Filters:
    since: datetime | None = None
    until: datetime | None = None
    mode: Literal["arena", "named"] | None = None
    rag: bool | None = None  # True: turns with retrieved context only; False: without
    rater: str | None = None
    campaign: str | None = None  # only turns of this campaign's items
    tag: str | None = None  # only turns with this tag
    use_case: str | None = None  # only conversations of this use case

    def apply(self, query: Q) -> Q:
        if self.since is not None:
            query = query.where(VoteRow.created_at >= self.since)
        if self.until is not None:
            query = query.where(VoteRow.created_at < self.until)
        if self.mode is not None:
            query = query.where(ConversationRow.mode == self.mode)
        if self.rag is True:
            query = query.where(TurnRow.retrieval.is_not(None))
        elif self.rag is False:
            query = query.where(TurnRow.retrieval.is_(None))
        if self.rater is not None:
            query = query.where(VoteRow.rater == self.rater)
        if self.use_case is not None:
            query = query.where(ConversationRow.use_case == self.use_case)
        if self.tag is not None:
            query = query.where(
                TurnRow.id.in_(select(TurnTagRow.turn_id).where(TurnTagRow.tag == self.tag))
            )
        if self.campaign is not None:
            query = query.where(
                TurnRow.id.in_(
                    select(CampaignItemRow.turn_id)
                    .join(CampaignRow, CampaignRow.id == CampaignItemRow.campaign_id)
                    .where(CampaignRow.name == self.campaign)
                )
            )
        return query
