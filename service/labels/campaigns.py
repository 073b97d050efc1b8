"""Labelling campaigns: prompts (from a file or past traffic) put to a set of variants,
each item judged by K raters. An item's answers are generated once (a blind arena turn)
and every rater of the item votes on that same turn; panes are shuffled per item so no
variant always sits on the left. A rater is served the next item they have not judged
that still needs raters, fewest votes first."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import func, insert, select, update

from evals.agreement import Agreement, agreement
from service.app.runtime import Runtime
from service.errors import Conflict, Forbidden, InvalidRequest, NotFound
from service.ids import new_id, utcnow
from service.labels.leaderboard import live_votes
from service.labels.reviews import rejected
from service.schemas import CompareRequest, TurnOut
from service.store import Store, turns
from service.store.tables import (
    AnswerRow,
    CampaignItemRow,
    CampaignRow,
    ConversationRow,
    RatingRow,
    TurnRow,
    TurnTagRow,
    VoteRow,
)

log = structlog.get_logger(__name__)
MAX_ITEMS = 10_000


@dataclass(frozen=True)
class CampaignSpec:
    name: str
    variants: list[str]
    prompts: list[str]
    raters_per_item: int = 3
    raters: list[str] | None = None  # None: anyone may take part
    description: str = ""
    seed: int = 0


def create(runtime: Runtime, spec: CampaignSpec) -> str:
    """Store the campaign and its items (answers are generated next, in the background)."""
    if not 2 <= len(spec.variants) <= 4:
        raise InvalidRequest("a campaign compares 2 to 4 variants", code="invalid_campaign")
    for v in spec.variants:
        runtime.catalog.get(v)  # unknown names: a clear error before anything is stored
    prompts = [p for p in (p.strip() for p in spec.prompts) if p]
    if not prompts:
        raise InvalidRequest("a campaign needs at least one prompt", code="invalid_campaign")
    if len(prompts) > MAX_ITEMS:
        raise InvalidRequest(f"at most {MAX_ITEMS:,} prompts per campaign", code="invalid_campaign")
    if spec.raters_per_item < 1:
        raise InvalidRequest("each item needs at least one rater", code="invalid_campaign")
    rng = random.Random(spec.seed)
    items = [(p, rng.sample(spec.variants, len(spec.variants)), None) for p in prompts]
    with runtime.store.session() as s:
        return _store(s, spec, items)


def _store(s: Any, spec: CampaignSpec, items: Sequence[tuple[str, list[str], str | None]]) -> str:
    """The campaign row and its items (prompt, pane variants, the turn if already answered)."""
    if s.scalar(select(CampaignRow.id).where(CampaignRow.name == spec.name)):
        raise Conflict(f"a campaign named {spec.name!r} exists", hint="Pick another name.")
    campaign_id, now = new_id(), utcnow()
    s.execute(
        insert(CampaignRow),
        {
            "id": campaign_id,
            "name": spec.name,
            "description": spec.description,
            "variants": spec.variants,
            "raters_per_item": spec.raters_per_item,
            "raters": spec.raters,
            "created_at": now,
        },
    )
    s.execute(
        insert(CampaignItemRow),
        [
            {
                "id": new_id(),
                "campaign_id": campaign_id,
                "position": k,
                "prompt": prompt,
                "variants": variants,
                "turn_id": turn_id,
                "error": None,
                "created_at": now,
            }
            for k, (prompt, variants, turn_id) in enumerate(items)
        ],
    )
    return campaign_id


def create_from_gateway(
    runtime: Runtime,
    name: str,
    limit: int,
    *,
    deployment: str | None = None,
    raters_per_item: int = 3,
    raters: list[str] | None = None,
    description: str = "",
) -> int:
    """A campaign reviewing production traffic: the latest stored gateway turns that have a
    shadow's answer beside the live one, judged as they are (nothing is generated). Returns
    how many items it has."""
    query = (
        select(TurnRow.id, TurnRow.prompt, func.count(AnswerRow.id))
        .join(ConversationRow, ConversationRow.id == TurnRow.conversation_id)
        .join(AnswerRow, AnswerRow.turn_id == TurnRow.id)
        .where(ConversationRow.mode == "gateway")
        .group_by(TurnRow.id, TurnRow.prompt)
        .having(func.count(AnswerRow.id) >= 2)
        .order_by(func.max(TurnRow.created_at).desc())
        .limit(limit)
    )
    if deployment is not None:
        query = query.where(
            TurnRow.id.in_(
                select(TurnTagRow.turn_id).where(TurnTagRow.tag == f"deployment:{deployment}")
            )
        )
    with runtime.store.session() as s:
        turns = s.execute(query).all()
        if not turns:
            raise InvalidRequest(
                "no stored gateway traffic with a shadow's answer to review",
                code="invalid_campaign",
                hint="Give the deployment a shadow (`shadows = [...]`) and a sample_rate > 0.",
            )
        variants: dict[str, list[str]] = {}
        for turn_id, variant in s.execute(
            select(AnswerRow.turn_id, AnswerRow.variant_name)
            .where(AnswerRow.turn_id.in_([t.id for t in turns]))
            .order_by(AnswerRow.turn_id, AnswerRow.pane)
        ):
            variants.setdefault(turn_id, []).append(variant)
        spec = CampaignSpec(
            name=name,
            variants=sorted({v for vs in variants.values() for v in vs}),
            prompts=[t.prompt for t in turns],
            raters_per_item=raters_per_item,
            raters=raters,
            description=description or "Review of production traffic: live vs shadow.",
        )
        _store(s, spec, [(t.prompt, variants[t.id], t.id) for t in turns])
    return len(turns)


def visible_to(campaign_raters: list[str] | None, who: str, role: str | None) -> bool:
    """Raters see the campaigns open to anyone and those that name them; others see all."""
    return role != "rater" or campaign_raters is None or who in campaign_raters


def prompts_from_traffic(store: Store, limit: int) -> list[str]:
    """The latest distinct prompts people asked (first turns of conversations)."""
    with store.session() as s:
        rows = s.execute(
            select(TurnRow.prompt, func.max(TurnRow.created_at).label("last"))
            .where(TurnRow.position == 0, TurnRow.status != "replaced")
            .group_by(TurnRow.prompt)
            .order_by(func.max(TurnRow.created_at).desc())
            .limit(limit)
        ).all()
    return [r.prompt for r in rows]


def _campaign(store: Store, name: str) -> CampaignRow:
    with store.session() as s:
        row = s.scalar(select(CampaignRow).where(CampaignRow.name == name))
    if row is None:
        raise NotFound(f"there is no campaign {name!r}", hint="List them: GET /api/campaigns.")
    return row


async def generate(runtime: Runtime, name: str, *, limit: int | None = None) -> int:
    """Answer the items that have no answers yet (at most `limit`); returns how many were
    answered. An item whose turn fails to start keeps the error and is tried again on the
    next call."""
    campaign = await asyncio.to_thread(_campaign, runtime.store, name)
    with runtime.store.session() as s:
        todo = list(
            s.scalars(
                select(CampaignItemRow)
                .where(
                    CampaignItemRow.campaign_id == campaign.id, CampaignItemRow.turn_id.is_(None)
                )
                .order_by(CampaignItemRow.position)
                .limit(limit)
            )
        )
    done = 0
    for item in todo:
        request = CompareRequest(
            prompt=item.prompt,
            variants=list(item.variants),
            mode="arena",
            rater=f"campaign:{campaign.name}",
        )
        try:
            turn_id = None
            async for event in runtime.engine.run(request):
                if event.kind == "turn":
                    turn_id = event.data["turn_id"]
            values: dict[str, Any] = {"turn_id": turn_id, "error": None}
        except Exception as exc:
            log.warning("campaign.item_failed", campaign=name, item=item.position, error=str(exc))
            values = {"error": str(exc)}
        with runtime.store.session() as s:
            s.execute(update(CampaignItemRow).where(CampaignItemRow.id == item.id).values(**values))
        done += values.get("turn_id") is not None
    return done


def _vote_counts(s: Any, campaign_id: str) -> dict[str, set[str]]:
    """Per item id: the raters with a counted vote on its turn."""
    rows = s.execute(
        select(CampaignItemRow.id, VoteRow.rater)
        .join(VoteRow, VoteRow.turn_id == CampaignItemRow.turn_id)
        .where(CampaignItemRow.campaign_id == campaign_id, live_votes())
    ).all()
    raters: dict[str, set[str]] = {}
    for item_id, rater in rows:
        raters.setdefault(item_id, set()).add(rater)
    return raters


def next_item(runtime: Runtime, name: str, rater: str) -> dict[str, Any] | None:
    """The next item for this rater, with its (blind) turn; None when nothing is left."""
    campaign = _campaign(runtime.store, name)
    if campaign.raters is not None and rater not in campaign.raters:
        raise Forbidden(f"{rater!r} is not a rater of campaign {name!r}")
    with runtime.store.session() as s:
        items = list(
            s.scalars(
                select(CampaignItemRow)
                .where(
                    CampaignItemRow.campaign_id == campaign.id, CampaignItemRow.turn_id.is_not(None)
                )
                .order_by(CampaignItemRow.position)
            )
        )
        voted = _vote_counts(s, campaign.id)
    open_items = [
        i
        for i in items
        if rater not in voted.get(i.id, set())
        and len(voted.get(i.id, set())) < campaign.raters_per_item
    ]
    if not open_items:
        return None
    item = min(open_items, key=lambda i: (len(voted.get(i.id, set())), i.position))
    assert item.turn_id is not None
    turn: TurnOut = turns.get_turn(runtime.store, item.turn_id, with_request=False)
    return {"item_id": item.id, "position": item.position, "turn": turn}


def status(store: Store, name: str) -> dict[str, Any]:
    """Progress per campaign and per rater, and agreement on votes and rubric ratings."""
    campaign = _campaign(store, name)
    with store.session() as s:
        items = list(
            s.scalars(select(CampaignItemRow).where(CampaignItemRow.campaign_id == campaign.id))
        )
        voted = _vote_counts(s, campaign.id)
        turn_of = {i.turn_id: i.id for i in items if i.turn_id}
        votes = s.execute(
            select(VoteRow.turn_id, VoteRow.rater, VoteRow.outcome)
            .where(VoteRow.turn_id.in_(turn_of), live_votes())
            .order_by(VoteRow.created_at, VoteRow.id)
        ).all()
        ratings = s.execute(
            select(
                RatingRow.answer_id,
                RatingRow.rater,
                RatingRow.helpfulness,
                RatingRow.honesty,
                RatingRow.harmlessness,
            )
            .where(RatingRow.turn_id.in_(turn_of), RatingRow.id.not_in(rejected("rating")))
            .order_by(RatingRow.created_at, RatingRow.id)
        ).all()
    per_rater: dict[str, int] = {}
    for raters in voted.values():
        for r in raters:
            per_rater[r] = per_rater.get(r, 0) + 1
    vote_agreement = agreement([(turn_of[t], r, o) for t, r, o in votes])
    rubric: dict[str, Agreement] = {}
    for k, criterion in enumerate(("helpfulness", "honesty", "harmlessness")):
        labels = [(row[0], row[1], row[2 + k]) for row in ratings if row[2 + k] is not None]
        rubric[criterion] = agreement(labels, level="ordinal")
    needed = len(items) * campaign.raters_per_item
    given = sum(min(len(v), campaign.raters_per_item) for v in voted.values())
    return {
        "name": campaign.name,
        "description": campaign.description,
        "variants": campaign.variants,
        "raters_per_item": campaign.raters_per_item,
        "items": len(items),
        "answered": sum(1 for i in items if i.turn_id),
        "failed": [{"position": i.position, "error": i.error} for i in items if i.error],
        "completed": sum(
            1 for i in items if len(voted.get(i.id, set())) >= campaign.raters_per_item
        ),
        "progress": given / needed if needed else 0.0,
        "votes_per_rater": dict(sorted(per_rater.items())),
        "agreement": {"votes": vote_agreement, **{f"rubric_{c}": a for c, a in rubric.items()}},
    }


def list_campaigns(
    store: Store, *, who: str | None = None, role: str | None = None
) -> list[dict[str, Any]]:
    """All campaigns; for a rater (`who` with role rater), only those they may take part in."""
    with store.session() as s:
        rows = s.execute(
            select(
                CampaignRow.name,
                CampaignRow.variants,
                CampaignRow.raters_per_item,
                CampaignRow.raters,
                func.count(CampaignItemRow.id),
            )
            .outerjoin(CampaignItemRow, CampaignItemRow.campaign_id == CampaignRow.id)
            .group_by(CampaignRow.id)  # the other columns depend on it
            .order_by(CampaignRow.created_at.desc())
        ).all()
    return [
        {"name": n, "variants": v, "raters_per_item": k, "items": c}
        for n, v, k, allowed, c in rows
        if who is None or visible_to(allowed, who, role)
    ]
