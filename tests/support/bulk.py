"""Many labelled turns, fast: synthetic arena turns (two answers, one vote each; every
`RANK_EVERY`-th turn three answers and a ranking) inserted through the project's own tables
in chunks of multi-row INSERTs, for tests and benchmarks at scale."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from service.ids import new_id, utcnow
from service.store import Store
from service.store.tables import (
    AnswerRow,
    CampaignItemRow,
    CampaignRow,
    ConversationRow,
    TurnRow,
    VoteRow,
)
from tests.support.synthetic_arena import rebuild_maintained_aggregates

CHUNK = 5000
RANK_EVERY = 50  # every 50th turn: three panes and a ranking vote
FAIL_EVERY = 97  # every 97th turn: pane 1 failed
OUTCOMES = ("a", "b", "a", "tie", "b", "both_bad")


def fill(
    store: Store,
    n: int,
    *,
    use_case: str | None = None,
    campaign: str | None = None,
    text_bytes: int = 80,
) -> dict[str, int]:
    """`n` turns with one live vote each (the newest at now - 1 s, one second apart going
    back); returns what the exports should count: A/B pairs, rankings, failed answers."""
    now = utcnow()
    filler = "lorem ipsum 你好 " * max(1, text_bytes // 18)
    campaign_id = new_id() if campaign else None
    if campaign:
        with store.session() as s:
            s.execute(
                sa.insert(CampaignRow),
                {
                    "id": campaign_id,
                    "name": campaign,
                    "description": "bulk",
                    "variants": ["alpha", "beta"],
                    "raters_per_item": 1,
                    "raters": None,
                    "created_at": now,
                },
            )
    for start in range(0, n, CHUNK):
        rows: dict[Any, list[dict[str, Any]]] = {
            ConversationRow: [],
            TurnRow: [],
            AnswerRow: [],
            VoteRow: [],
            CampaignItemRow: [],
        }
        for k in range(start, min(n, start + CHUNK)):
            at = now - timedelta(seconds=n - k)
            conversation, turn = new_id(), new_id()
            ranked = k % RANK_EVERY == 0
            variants = ["alpha", "beta", "gamma"] if ranked else ["alpha", "beta"]
            prompt = f"question {k}: which bike? 哪辆自行车"
            rows[ConversationRow].append(
                {
                    "id": conversation,
                    "variant_names": variants,
                    "mode": "arena",
                    "rater": f"r{k % 7}",
                    "use_case": use_case,
                    "created_at": at,
                }
            )
            rows[TurnRow].append(
                {
                    "id": turn,
                    "conversation_id": conversation,
                    "position": 0,
                    "prompt": prompt,
                    "status": "done",
                    "retrieval": None,
                    "created_at": at,
                }
            )
            for pane, variant in enumerate(variants):
                failed = pane == 1 and k % FAIL_EVERY == 0
                rows[AnswerRow].append(
                    {
                        "id": new_id(),
                        "turn_id": turn,
                        "pane": pane,
                        "variant_name": variant,
                        "variant_spec": {"name": variant, "params": {"temperature": 0.2}},
                        "request": {
                            "messages": [{"role": "user", "content": prompt}],
                            "params": {"temperature": 0.2},
                        },
                        "text": f"{variant} answers {k}: {filler}",
                        "status": "error" if failed else "ok",
                        "latency_ms": 100.0 + pane,
                        "ttft_ms": 10.0,
                        "tokens_out": 20,
                        "context_refs": [],
                        "created_at": at,
                    }
                )
            rows[VoteRow].append(
                {
                    "id": new_id(),
                    "turn_id": turn,
                    "outcome": "ranking" if ranked else OUTCOMES[k % len(OUTCOMES)],
                    "ranking": [2, 0, 1] if ranked else None,
                    "rater": f"r{k % 7}",
                    "supersedes_id": None,
                    "idempotency_key": None,
                    "created_at": at,
                }
            )
            if campaign_id:
                rows[CampaignItemRow].append(
                    {
                        "id": new_id(),
                        "campaign_id": campaign_id,
                        "position": k,
                        "prompt": prompt,
                        "variants": variants,
                        "turn_id": turn,
                        "error": None,
                        "created_at": at,
                    }
                )
        with store.session() as s:
            for table, chunk in rows.items():
                if chunk:
                    s.execute(sa.insert(table), chunk)
    # Rows inserted straight into the tables bypass the code that keeps the counts the
    # leaderboard, the export dry run and the dashboard read.
    rebuild_maintained_aggregates(store)
    return expected_counts(n)


def expected_counts(n: int) -> dict[str, int]:
    """What `fill(n)` gives to trl-preference: pairs (A/B votes with both answers ok, plus
    three per ranking; pane 1 failing spoils A/B pairs and the rankings' pairs with it),
    votes without a preferred answer, and pairs skipped for a failed answer."""
    counts = {"pairs": 0, "tie": 0, "both_bad": 0, "failed": 0}
    for k in range(n):
        broken = k % FAIL_EVERY == 0
        outcome = OUTCOMES[k % len(OUTCOMES)]
        if k % RANK_EVERY == 0:
            counts["pairs"] += 1 if broken else 3  # (2,0) survives; (2,1), (0,1) need pane 1
            counts["failed"] += 2 if broken else 0
        elif outcome in ("a", "b"):
            counts["pairs"] += 0 if broken else 1
            counts["failed"] += 1 if broken else 0
        else:
            counts[outcome] += 1
    return counts
