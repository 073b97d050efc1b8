"""Synthetic arena traffic at scale, bulk-inserted through the project's own tables: the
data of `python -m bench scale` and of tests/integration/test_many_votes.py.

Each turn is a single-prompt conversation with its answers and one live vote: a blind
arena pair (A / B / tie / both bad, drawn from a Bradley-Terry model over the variants),
or a named three-pane turn ranked best to worst. Around them, in set shares: changed
votes (the old row superseded), votes a reviewer rejected, rubric ratings, automatic
scores, thumbs, RAG turns, failed answers, tags, a use case's conversations and one
campaign whose items are rated by several raters. Prompts, answers and rater names mix
scripts (Latin, Chinese, Arabic, emoji).

Rows are written in chunks, oldest first, in one transaction per chunk: SQLAlchemy Core
`insert()` with executemany on SQLite, and PostgreSQL's `COPY ... FROM STDIN` through
psycopg on PostgreSQL (about five times faster than executemany there). The column names
come from the SQLAlchemy tables either way, so a column a migration adds with a default
keeps working.

What the fill produced is returned as an `ArenaFill`: the pair counts the leaderboard
should show, the records an export should give, and the ids a test needs."""

from __future__ import annotations

import gc
import json
import random
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import JSON, Connection, Table, bindparam, insert, text

from service.ids import uuid7_text
from service.store import Store, leaderboard, rollup_rebuild
from service.store.tables import Base, CampaignRow

PROMPTS = (
    "How do I reset the password of my account? (#{k})",
    "用三句话解释量子计算 第{k}题",
    "اشرح الإنتروبيا بكلمات بسيطة رقم {k}",
    "Écris un haïku sur la pluie d'automne, numéro {k}",
    "Summarise this e-mail in one line 📧 #{k}: the shipment is late again.",
    "Write a Python function that merges two sorted lists (case {k}).",
)
ANSWER = (
    "{variant} answers #{k}: here is a short, direct reply with one example and a caveat. "
    "简短回答 可以"
)
TAGS = ("coding", "support", "写作")
SCORE_METRIC = "answer_relevancy"
PAIR_OUTCOMES = ("a", "b", "tie", "both_bad")


@dataclass(frozen=True)
class ArenaShape:
    """How much traffic, and what share of it has each feature."""

    turns: int
    variants: tuple[str, ...] = tuple(f"model-{k}" for k in range(8))
    ranking_share: float = 0.05  # named three-pane turns with a ranking (others: arena pairs)
    rating_share: float = 0.05  # turns whose answers the voter also rated (rubric)
    superseded_share: float = 0.01  # turns whose voter changed their vote once
    rejected_share: float = 0.002  # turns whose live vote a reviewer rejected
    rag_share: float = 0.1  # turns with retrieved context
    error_share: float = 0.02  # answers that failed
    score_share: float = 0.1  # answers with an automatic score
    feedback_share: float = 0.02  # answers with a thumb up or down
    tag_share: float = 0.3  # turns with one tag
    use_case: str = "support-bot"
    use_case_share: float = 0.2  # conversations of the use case
    campaign: str = "scale-campaign"
    campaign_items: int = 1_000  # arena pairs that are campaign items (the app allows 10,000)
    campaign_raters: int = 3  # live votes on each campaign item
    span: timedelta = timedelta(days=30)  # turns spread evenly over this, up to now
    raters: int = 1_000
    seed: int = 0
    chunk: int = 10_000


@dataclass
class ArenaFill:
    """What was written, and what the read paths should make of it."""

    shape: ArenaShape
    rows: Counter[str] = field(default_factory=Counter)  # per table
    live_pair_votes: int = 0  # a / b / tie / both_bad votes that count
    live_rankings: int = 0
    # (variant on pane 0 or ranked higher, the other): [first won, second won, tie], as
    # `evals.leaderboard.PairCounts.from_cells` takes them; rankings included.
    cells: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    # Preference pairs an export gives (both answers ok), per unordered variant pair.
    pairs: Counter[tuple[str, str]] = field(default_factory=Counter)
    # Campaign votes repeating another rater's record: a written export drops them, the
    # dry run's SQL count does not (it says duplicates are counted when written).
    repeats: int = 0
    answers_per_variant: Counter[str] = field(default_factory=Counter)
    battles_by_tag: Counter[str] = field(default_factory=Counter)
    campaign_battles: int = 0
    arena_turn_ids: list[str] = field(default_factory=list)  # a few, to vote on
    first_at: datetime | None = None
    last_at: datetime | None = None

    @property
    def battles(self) -> int:
        """What the leaderboard counts: each live pair vote, and every pair a ranking implies."""
        return self.live_pair_votes + 3 * self.live_rankings

    @property
    def votes(self) -> int:
        return self.rows["votes"]

    def preference_pairs(self, variants: Sequence[str] | None = None) -> int:
        """Records of a pairwise export, optionally only between these variants."""
        wanted = set(variants or self.shape.variants)
        return sum(n for (x, y), n in self.pairs.items() if x in wanted and y in wanted)

    def count_battle(
        self, first: str, second: str, outcome: str, *, tag: str | None, campaign: bool
    ) -> None:
        cell = self.cells.setdefault((first, second), [0.0, 0.0, 0.0])
        cell[{"a": 0, "b": 1, "tie": 2, "both_bad": 2}[outcome]] += 1
        if tag is not None:
            self.battles_by_tag[tag] += 1
        if campaign:
            self.campaign_battles += 1


def rebuild_maintained_aggregates(store: Store) -> None:
    """The one hook after a bulk fill: rebuild whatever the store keeps maintained as labels
    arrive (leaderboard count cells, dashboard rollups), since rows inserted straight into
    the tables bypass the code that maintains them."""
    leaderboard.rebuild_counts(store)
    rollup_rebuild.rebuild_store(store)


class _Ids:
    """UUIDv7 strings whose time is the row's `created_at` (a fresh `new_id()` would carry
    the time of the fill), unique through a sequence number and a per-fill salt, so (created_at,
    id) sorts rows the same way the app's own ids do."""

    def __init__(self, salt: int) -> None:
        self.salt = salt & ((1 << 34) - 1)
        self.seq = 0

    def at(self, t: datetime) -> str:
        self.seq += 1
        ms = int(t.timestamp() * 1000)
        return uuid7_text(ms, (self.salt << 40) | self.seq)  # 74 bits: 34 salt + 40 seq


class _Writer:
    """Inserts lists of row dicts into the project's tables: the SQL is compiled from the
    table, and each value goes through its column type's own bind processing (JSON, dates),
    done here once per column rather than by SQLAlchemy per row and parameter — at millions of
    rows that bookkeeping cost more than the database's work. SQLite: the driver's
    executemany; PostgreSQL: COPY."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.dialect = conn.dialect
        self.postgres = conn.dialect.name == "postgresql"
        raw = conn.connection.driver_connection
        assert raw is not None
        self.raw: Any = raw

    def _encoders(self, table: Table, names: list[str]) -> list[Callable[[Any], Any] | None]:
        out: list[Callable[[Any], Any] | None] = []
        for name in names:
            column_type = table.c[name].type
            if isinstance(column_type, JSON):
                out.append(_json_encoder())
            elif self.postgres:
                out.append(None)  # psycopg adapts the rest itself
            else:
                out.append(column_type.dialect_impl(self.dialect).bind_processor(self.dialect))
        return out

    def write(self, table: Table, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        names = list(rows[0])
        encoders = list(enumerate(self._encoders(table, names)))
        values = [list(row.values()) for row in rows]
        for k, encode in encoders:
            if encode is not None:
                for v in values:
                    if v[k] is not None:
                        v[k] = encode(v[k])
        if self.postgres:
            columns = ", ".join(f'"{n}"' for n in names)
            with (
                self.raw.cursor() as cur,
                cur.copy(f'COPY "{table.name}" ({columns}) FROM STDIN') as copy,
            ):
                for v in values:
                    copy.write_row(v)
            return
        compiled = insert(table).values({n: bindparam(n) for n in names}).compile(self.conn)
        if compiled.positiontup != names:  # qmark placeholders, in the order of `names`
            raise RuntimeError(f"unexpected parameter order {compiled.positiontup}")
        sql = str(compiled)
        cur = self.raw.cursor()
        try:
            cur.executemany(sql, values)
        finally:
            cur.close()


def _json_encoder() -> Callable[[Any], str]:
    """JSON text, once per distinct object (rows share their variant specs and params)."""
    seen: dict[int, tuple[Any, str]] = {}

    def encode(value: Any) -> str:
        hit = seen.get(id(value))
        if hit is not None and hit[0] is value:
            return hit[1]
        encoded = json.dumps(value, ensure_ascii=False)
        seen[id(value)] = (value, encoded)
        return encoded

    return encode


def _variant_spec(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "model": {"provider": "openai", "base_url": "http://127.0.0.1:9/v1", "model": name},
        "params": {"temperature": 0.7, "max_tokens": 256},
        "system_prompt": f"You are {name}, a helpful assistant.",
        "rag": {"use_context": True},
    }


class _Filler:
    def __init__(self, shape: ArenaShape, now: datetime) -> None:
        self.shape = shape
        self.rng = random.Random(shape.seed)
        self.ids = _Ids(self.rng.getrandbits(34))
        self.fill = ArenaFill(shape)
        strength = np.random.default_rng(shape.seed).normal(0, 0.6, len(shape.variants))
        self.strength = dict(zip(shape.variants, strength.tolist(), strict=True))
        self.specs = {v: _variant_spec(v) for v in shape.variants}
        self.start = now - shape.span
        self.step = shape.span / max(shape.turns, 1)
        self.campaign_id = self.ids.at(self.start)
        self.campaign_every = max(1, shape.turns // max(shape.campaign_items, 1))
        self.campaign_position = 0
        self.rag_chunks = [  # as rag.search.RetrievedChunk.to_dict() stores them
            {
                "ref": f"chunk:{n}",
                "text": f"Section {n} of the handbook: returns within 30 days. 第{n}节 退货",
                "source": "handbook.md",
                "title": "Handbook",
                "score": 0.5,
                "chunk_id": n,
                "document_id": 1,
                "page": None,
                "row": None,
                "start": 100 * n,
                "end": 100 * n + 90,
            }
            for n in range(97)
        ]
        self.tag: str | None = None  # the current turn's
        self.rater_names = [
            f"评审员-{k}" if k % 10 == 3 else f"rater-{k}" for k in range(shape.raters)
        ]

    # -- one turn ------------------------------------------------------------------------

    def _outcome(self, first: str, second: str) -> str:
        u = self.rng.random()
        if u < 0.1:
            return "tie"
        if u < 0.15:
            return "both_bad"
        p = 1 / (1 + np.exp(self.strength[second] - self.strength[first]))
        return "a" if self.rng.random() < p else "b"

    def _ranking(self, variants: list[str]) -> list[int]:
        noisy = [self.strength[v] + self.rng.gauss(0, 1) for v in variants]
        return sorted(range(len(variants)), key=lambda p: -noisy[p])

    def turn(self, k: int, out: dict[str, list[dict[str, Any]]]) -> None:
        s, rng = self.shape, self.rng
        at = self.start + self.step * k
        in_campaign = k % self.campaign_every == 0 and self.campaign_position < s.campaign_items
        ranked = not in_campaign and rng.random() < s.ranking_share
        pool = list(s.variants[:4]) if in_campaign else list(s.variants)
        variants = rng.sample(pool, 3 if ranked else 2)
        rater = self.rater_names[rng.randrange(len(self.rater_names))]
        conversation_id, turn_id = self.ids.at(at), self.ids.at(at)
        use_case = s.use_case if rng.random() < s.use_case_share else None
        rag = rng.random() < s.rag_share
        prompt = PROMPTS[k % len(PROMPTS)].format(k=k)
        out["conversations"].append(
            {
                "id": conversation_id,
                "variant_names": variants,
                "mode": "named" if ranked else "arena",
                "rater": f"campaign:{s.campaign}" if in_campaign else rater,
                "use_case": use_case,
                "created_at": at,
            }
        )
        chunks = [self.rag_chunks[(k + n) % len(self.rag_chunks)] for n in range(3)] if rag else []
        chunk_refs = [c["ref"] for c in chunks] if rag else None
        out["turns"].append(
            {
                "id": turn_id,
                "conversation_id": conversation_id,
                "position": 0,
                "prompt": prompt,
                "status": "done",
                "retrieval": {
                    "collection": "sample",
                    "query": prompt,
                    "mode": "hybrid",
                    "top_k": 3,
                    "chunks": chunks,
                    "latency_ms": 12.5,
                    "filters": {},
                }
                if rag
                else None,
                "created_at": at,
            }
        )
        self.tag = TAGS[k % len(TAGS)] if rng.random() < s.tag_share else None
        if self.tag is not None:
            out["turn_tags"].append({"turn_id": turn_id, "tag": self.tag})
        answer_ids, ok = [], []
        for pane, variant in enumerate(variants):
            answered = at + timedelta(seconds=2 + pane)
            failed = rng.random() < s.error_share
            answer_id = self.ids.at(answered)
            answer_ids.append(answer_id)
            ok.append(not failed)
            self.fill.answers_per_variant[variant] += 1
            latency = rng.lognormvariate(7.2, 0.5)  # ms, median ~1.3 s
            tokens_in, tokens_out = 40 + k % 50, 0 if failed else 60 + rng.randrange(200)
            out["answers"].append(
                {
                    "id": answer_id,
                    "turn_id": turn_id,
                    "pane": pane,
                    "variant_name": variant,
                    "variant_spec": self.specs[variant],
                    "request": {
                        "messages": [{"role": "user", "content": prompt}],
                        "params": {"temperature": 0.7, "max_tokens": 256},
                        "timeout_s": 60.0,
                    },
                    "text": "" if failed else ANSWER.format(variant=variant, k=k),
                    "status": "error" if failed else "ok",
                    "finish_reason": "error" if failed else "stop",
                    "error_code": "provider_error" if failed else None,
                    "error_message": "upstream returned 500" if failed else None,
                    "ttft_ms": None if failed else latency * 0.2,
                    "latency_ms": latency,
                    "provider_latency_ms": latency * 0.9,
                    "tokens_in": tokens_in,
                    "tokens_out": tokens_out,
                    "cost_usd": (tokens_in + 3 * tokens_out) * 1e-6,
                    "context_refs": chunk_refs,
                    "citations": [{"n": 1, "ref": chunk_refs[0]}]
                    if chunk_refs and not failed
                    else None,
                    "created_at": answered,
                }
            )
            if not failed and rng.random() < s.score_share:
                out["scores"].append(
                    {
                        "id": self.ids.at(answered),
                        "answer_id": answer_id,
                        "turn_id": turn_id,
                        "variant_name": variant,
                        "metric": SCORE_METRIC,
                        "version": "1",
                        "value": rng.random(),
                        "error": None,
                        "detail": {},
                        "created_at": answered + timedelta(seconds=1),
                    }
                )
            if rng.random() < s.feedback_share:
                out["feedback"].append(
                    {
                        "id": self.ids.at(answered),
                        "answer_id": answer_id,
                        "turn_id": turn_id,
                        "variant_name": variant,
                        "rater": rater,
                        "positive": rng.random() < 0.7,
                        "created_at": answered + timedelta(seconds=5),
                    }
                )
        voted = at + timedelta(seconds=30)
        if ranked:
            self._ranking_vote(turn_id, variants, answer_ids, ok, rater, voted, out)
        elif in_campaign:
            self._campaign_votes(turn_id, variants, ok, voted, out)
        else:
            self._pair_vote(turn_id, variants, answer_ids, ok, rater, voted, out)
            if len(self.fill.arena_turn_ids) < 20:
                self.fill.arena_turn_ids.append(turn_id)

    def _battle(self, first: str, second: str, outcome: str, *, campaign: bool = False) -> None:
        self.fill.count_battle(first, second, outcome, tag=self.tag, campaign=campaign)

    def _vote(
        self,
        turn_id: str,
        outcome: str,
        ranking: list[int] | None,
        rater: str,
        at: datetime,
        supersedes: str | None,
        out: dict[str, list[dict[str, Any]]],
    ) -> str:
        vote_id = self.ids.at(at)
        out["votes"].append(
            {
                "id": vote_id,
                "turn_id": turn_id,
                "outcome": outcome,
                "ranking": ranking,
                "rater": rater,
                "supersedes_id": supersedes,
                "idempotency_key": None,
                "created_at": at,
            }
        )
        return vote_id

    def _live_or_rejected(self, vote_id: str, at: datetime, out: dict[str, list[Any]]) -> bool:
        if self.rng.random() >= self.shape.rejected_share:
            return True
        out["label_reviews"].append(
            {
                "id": self.ids.at(at + timedelta(minutes=5)),
                "label_kind": "vote",
                "label_id": vote_id,
                "status": "rejected",
                "reviewer": "reviewer-0",
                "note": "spam",
                "created_at": at + timedelta(minutes=5),
            }
        )
        return False

    def _pair_vote(
        self,
        turn_id: str,
        variants: list[str],
        answer_ids: list[str],
        ok: list[bool],
        rater: str,
        at: datetime,
        out: dict[str, list[dict[str, Any]]],
    ) -> None:
        first, second = variants
        outcome = self._outcome(first, second)
        earlier = None
        if self.rng.random() < self.shape.superseded_share:
            changed = self.rng.choice([o for o in PAIR_OUTCOMES if o != outcome])
            earlier = self._vote(turn_id, changed, None, rater, at, None, out)
            at += timedelta(seconds=10)
        vote_id = self._vote(turn_id, outcome, None, rater, at, earlier, out)
        if self._live_or_rejected(vote_id, at, out):
            self.fill.live_pair_votes += 1
            self._battle(first, second, outcome)
            if outcome in ("a", "b") and all(ok):
                self.fill.pairs[(min(first, second), max(first, second))] += 1
        if self.rng.random() < self.shape.rating_share:
            self._ratings(turn_id, answer_ids, rater, at, out)

    def _ranking_vote(
        self,
        turn_id: str,
        variants: list[str],
        answer_ids: list[str],
        ok: list[bool],
        rater: str,
        at: datetime,
        out: dict[str, list[dict[str, Any]]],
    ) -> None:
        ranking = self._ranking(variants)
        vote_id = self._vote(turn_id, "ranking", ranking, rater, at, None, out)
        if self._live_or_rejected(vote_id, at, out):
            self.fill.live_rankings += 1
            for x in range(len(ranking)):
                for y in range(x + 1, len(ranking)):
                    win, lose = ranking[x], ranking[y]
                    self._battle(variants[win], variants[lose], "a")
                    if ok[win] and ok[lose]:
                        pair = sorted((variants[win], variants[lose]))
                        self.fill.pairs[(pair[0], pair[1])] += 1
        if self.rng.random() < self.shape.rating_share:
            self._ratings(turn_id, answer_ids, rater, at, out)

    def _campaign_votes(
        self,
        turn_id: str,
        variants: list[str],
        ok: list[bool],
        at: datetime,
        out: dict[str, list[dict[str, Any]]],
    ) -> None:
        s = self.shape
        out["campaign_items"].append(
            {
                "id": self.ids.at(at),
                "campaign_id": self.campaign_id,
                "position": self.campaign_position,
                "prompt": out["turns"][-1]["prompt"],
                "variants": variants,
                "turn_id": turn_id,
                "error": None,
                "created_at": at,
            }
        )
        self.campaign_position += 1
        consensus = self._outcome(*variants)
        preferred = set()
        decisive = 0
        for r in range(s.campaign_raters):
            outcome = consensus if self.rng.random() < 0.7 else self._outcome(*variants)
            vote_at = at + timedelta(seconds=r)
            self._vote(turn_id, outcome, None, f"campaign-rater-{r}", vote_at, None, out)
            self.fill.live_pair_votes += 1
            self._battle(variants[0], variants[1], outcome, campaign=True)
            if outcome in ("a", "b") and all(ok):
                preferred.add(outcome)
                decisive += 1
        # Raters who prefer the same answer give one record: an export drops exact repeats.
        self.fill.pairs[(min(variants), max(variants))] += len(preferred)
        self.fill.repeats += decisive - len(preferred)

    def _ratings(
        self,
        turn_id: str,
        answer_ids: list[str],
        rater: str,
        at: datetime,
        out: dict[str, list[dict[str, Any]]],
    ) -> None:
        for answer_id in answer_ids:
            out["ratings"].append(
                {
                    "id": self.ids.at(at),
                    "answer_id": answer_id,
                    "turn_id": turn_id,
                    "rater": rater,
                    "helpfulness": self.rng.randint(1, 5),
                    "honesty": self.rng.randint(1, 5),
                    "harmlessness": self.rng.randint(4, 5),
                    "created_at": at,
                }
            )

    # -- chunks ----------------------------------------------------------------------------

    def chunks(self) -> Iterator[dict[str, list[dict[str, Any]]]]:
        for first in range(0, self.shape.turns, self.shape.chunk):
            out: dict[str, list[dict[str, Any]]] = {name: [] for name in TABLE_ORDER}
            # Tens of thousands of new dicts per chunk, none of them garbage: the cycle
            # collector would walk them all again and again for nothing.
            gc.disable()
            try:
                for k in range(first, min(first + self.shape.chunk, self.shape.turns)):
                    self.turn(k, out)
            finally:
                gc.enable()
            yield out


# Parents before children (foreign keys are checked on insert).
TABLE_ORDER = {
    name: Base.metadata.tables[name]
    for name in (
        "conversations",
        "turns",
        "turn_tags",
        "answers",
        "votes",
        "label_reviews",
        "ratings",
        "scores",
        "feedback",
        "campaign_items",
    )
}


def fill_arena(store: Store, shape: ArenaShape, *, now: datetime | None = None) -> ArenaFill:
    """Write `shape.turns` voted turns (and what goes with them) into a migrated store, then
    update the planner's statistics. Call `rebuild_maintained_aggregates` after."""
    now = now or datetime.now(UTC)
    filler = _Filler(shape, now - timedelta(minutes=1))
    fill = filler.fill
    with store.engine.begin() as conn:
        conn.execute(
            insert(CampaignRow),
            {
                "id": filler.campaign_id,
                "name": shape.campaign,
                "description": "Synthetic campaign (bench and tests)",
                "variants": list(shape.variants[:4]),
                "raters_per_item": shape.campaign_raters,
                "raters": None,
                "created_at": filler.start,
            },
        )
    fill.rows["campaigns"] += 1
    for out in filler.chunks():
        with store.engine.begin() as conn:
            writer = _Writer(conn)
            for name, table in TABLE_ORDER.items():
                writer.write(table, out[name])
                fill.rows[name] += len(out[name])
    fill.first_at, fill.last_at = filler.start, filler.start + filler.step * shape.turns
    with store.engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    return fill
