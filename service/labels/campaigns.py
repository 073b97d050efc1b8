"""Labelling campaigns: prompts (from a file or past traffic) put to a set of variants,
each item judged by K raters. An item's answers are generated once (a blind arena turn)
and every rater of the item votes on that same turn; panes are shuffled per item so no
variant always sits on the left. A rater is served the next item they have not judged
that still needs raters, fewest votes first."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from evals.agreement import Agreement, agreement
from evals.datasets import PROMPT_COLUMNS, load_dataset
from evals.errors import DatasetError
from service.errors import ErrorCode, Forbidden, InvalidRequest
from service.models import Catalog
from service.schemas import CompareRequest, TurnOut
from service.serving import CompareEngine
from service.store import Store, turns
from service.store import campaigns as stored

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


def create(store: Store, catalog: Catalog, spec: CampaignSpec) -> str:
    """Store the campaign and its items (answers are generated next, in the background)."""
    if not 2 <= len(spec.variants) <= 4:
        raise InvalidRequest("a campaign compares 2 to 4 variants", code=ErrorCode.INVALID_CAMPAIGN)
    for v in spec.variants:
        catalog.get(v)  # unknown names: a clear error before anything is stored
    if len(set(spec.variants)) != len(spec.variants):
        raise InvalidRequest("a campaign's variants must differ", code=ErrorCode.INVALID_CAMPAIGN)
    prompts = [p for p in (p.strip() for p in spec.prompts) if p]
    if not prompts:
        raise InvalidRequest(
            "a campaign needs at least one prompt",
            code=ErrorCode.INVALID_CAMPAIGN,
            hint="Give one prompt per line, or a file of prompts.",
        )
    if len(prompts) > MAX_ITEMS:
        raise InvalidRequest(
            f"at most {MAX_ITEMS:,} prompts per campaign", code=ErrorCode.INVALID_CAMPAIGN
        )
    if spec.raters_per_item < 1:
        raise InvalidRequest("each item needs at least one rater", code=ErrorCode.INVALID_CAMPAIGN)
    rng = random.Random(spec.seed)
    items = [(p, rng.sample(spec.variants, len(spec.variants)), None) for p in prompts]
    return _add(store, spec, items)


async def start(
    store: Store,
    catalog: Catalog,
    spec: CampaignSpec,
    generate_later: Callable[[str], Awaitable[None]],
) -> str:
    """Create the campaign and have its items answered in the background (the API, the
    page and tuning runs create campaigns through this). `generate_later` queues the
    answering as a job, so it survives the replica that created the campaign."""
    campaign_id = await asyncio.to_thread(create, store, catalog, spec)
    await generate_later(spec.name)
    return campaign_id


FILE_KINDS = (".txt", ".jsonl", ".csv")


def prompts_from_text(text: str) -> list[str]:
    """Pasted prompts: one per line; blank lines are skipped."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def prompts_from_file(path: Path) -> list[str]:
    """A file of prompts: `.txt` one per line, or `.jsonl` / `.csv` with a prompt column
    (as evaluation datasets; the reference and other columns are ignored). A file that
    cannot be read says which line is wrong and what the file should look like."""
    suffix = path.suffix.lower()
    hint = (
        "Use a .txt file with one prompt per line, or a .jsonl / .csv file with a "
        f"{' / '.join(PROMPT_COLUMNS)} column."
    )
    if suffix not in FILE_KINDS:
        raise InvalidRequest(
            f"{path.name}: not a prompt file", code=ErrorCode.INVALID_CAMPAIGN, hint=hint
        )
    try:
        if suffix != ".txt":
            return [e.prompt for e in load_dataset(path).examples]
        data = path.read_bytes()
    except DatasetError as exc:
        raise InvalidRequest(str(exc), code=ErrorCode.INVALID_CAMPAIGN, hint=hint) from None
    except OSError as exc:
        raise InvalidRequest(
            f"cannot read {path.name}: {exc}", code=ErrorCode.INVALID_CAMPAIGN
        ) from None
    try:
        prompts = prompts_from_text(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise InvalidRequest(
            f"{path.name} is not UTF-8 text", code=ErrorCode.INVALID_CAMPAIGN, hint=hint
        ) from None
    if not prompts:
        raise InvalidRequest(
            f"{path.name} has no prompts", code=ErrorCode.INVALID_CAMPAIGN, hint=hint
        )
    return prompts


def _add(
    store: Store, spec: CampaignSpec, items: Sequence[tuple[str, list[str], str | None]]
) -> str:
    return stored.add_campaign(
        store,
        name=spec.name,
        description=spec.description,
        variants=spec.variants,
        raters_per_item=spec.raters_per_item,
        raters=spec.raters,
        items=items,
    )


def create_from_gateway(
    store: Store,
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
    found = stored.gateway_turns(store, limit, deployment)
    if not found:
        raise InvalidRequest(
            "no stored gateway traffic with a shadow's answer to review",
            code=ErrorCode.INVALID_CAMPAIGN,
            hint="Give the deployment a shadow (`shadows = [...]`) and a sample_rate > 0.",
        )
    spec = CampaignSpec(
        name=name,
        variants=sorted({v for _, _, vs in found for v in vs}),
        prompts=[prompt for _, prompt, _ in found],
        raters_per_item=raters_per_item,
        raters=raters,
        description=description or "Review of production traffic: live vs shadow.",
    )
    _add(store, spec, [(prompt, variants, turn_id) for turn_id, prompt, variants in found])
    return len(found)


def visible_to(campaign_raters: list[str] | None, who: str, role: str | None) -> bool:
    """Raters see the campaigns open to anyone and those that name them; others see all."""
    return role != "rater" or campaign_raters is None or who in campaign_raters


def prompts_from_traffic(store: Store, limit: int) -> list[str]:
    """The latest distinct prompts people asked (first turns of conversations)."""
    return stored.recent_prompts(store, limit)


async def generate(
    store: Store, engine: CompareEngine, name: str, *, limit: int | None = None
) -> int:
    """Answer the items that have no answers yet (at most `limit`); returns how many were
    answered. An item whose turn fails to start keeps the error and is tried again on the
    next call."""
    campaign = await asyncio.to_thread(stored.campaign, store, name)
    todo = await asyncio.to_thread(stored.items, store, campaign.id, answered=False, limit=limit)
    done = 0
    for item in todo:
        request = CompareRequest(
            prompt=item.prompt,
            variants=item.variants,
            mode="arena",
        )
        turn_id, error = None, None
        try:
            async for event in engine.run(request, rater=f"campaign:{campaign.name}"):
                if event.kind == "turn":
                    turn_id = event.data["turn_id"]
        except Exception as exc:
            log.warning("campaign.item_failed", campaign=name, item=item.position, error=str(exc))
            turn_id, error = None, str(exc)
        await asyncio.to_thread(
            stored.set_item_outcome, store, item.id, turn_id=turn_id, error=error
        )
        done += turn_id is not None
    return done


def next_item(store: Store, name: str, rater: str) -> dict[str, Any] | None:
    """The next item for this rater, with its (blind) turn; None when nothing is left."""
    campaign = stored.campaign(store, name)
    if campaign.raters is not None and rater not in campaign.raters:
        raise Forbidden(f"{rater!r} is not a rater of campaign {name!r}")
    answered = stored.items(store, campaign.id, answered=True)
    voted = stored.raters_of_items(store, campaign.id)
    open_items = [
        i
        for i in answered
        if rater not in voted.get(i.id, set())
        and len(voted.get(i.id, set())) < campaign.raters_per_item
    ]
    if not open_items:
        return None
    item = min(open_items, key=lambda i: (len(voted.get(i.id, set())), i.position))
    assert item.turn_id is not None
    turn: TurnOut = turns.get_turn(store, item.turn_id, with_request=False, voter=rater)
    return {"item_id": item.id, "position": item.position, "turn": turn}


def status(store: Store, name: str) -> dict[str, Any]:
    """Progress per campaign and per rater, and agreement on votes and rubric ratings."""
    campaign = stored.campaign(store, name)
    items = stored.items(store, campaign.id)
    voted = stored.raters_of_items(store, campaign.id)
    turn_of = {i.turn_id: i.id for i in items if i.turn_id}
    votes, ratings = stored.labels_on(store, campaign.id)
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
    return [
        {"name": n, "variants": v, "raters_per_item": k, "items": c}
        for n, v, k, allowed, c in stored.summaries(store)
        if who is None or visible_to(allowed, who, role)
    ]
