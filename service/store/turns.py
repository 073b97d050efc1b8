"""Turns and their answers: started when a comparison begins, an answer stored as each pane
ends, read back whole. Writes on the comparison path use Core inserts (the ORM's unit of
work costs 3x the CPU)."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, insert, or_, select
from sqlalchemy.orm import Session, selectinload

from service.errors import Conflict, ErrorCode, InvalidRequest, NotFound
from service.ids import new_id, utcnow
from service.schemas import AnswerOut, Message, ScoreOut, TurnOut
from service.store import rollups
from service.store.engine import Store
from service.store.tables import (
    AnswerRow,
    ConversationRow,
    ScoreRow,
    TurnRow,
    TurnTagRow,
    VoteRow,
)
from service.store.votes import current_vote, live_vote, vote_out


@dataclass(frozen=True)
class FinishedTurn:
    """Rows of a finished single-prompt conversation, ready to insert."""

    conversation: dict[str, Any]
    turn: dict[str, Any]
    answers: list[dict[str, Any]]
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class TurnStart:
    conversation_id: str
    turn_id: str
    position: int
    history: list[list[Message]]  # per pane: earlier user prompts and that pane's answers


def _answer_out(
    row: AnswerRow, *, with_request: bool = True, scores: list[ScoreOut] | None = None
) -> AnswerOut:
    return AnswerOut(
        id=row.id,
        pane=row.pane,
        variant=row.variant_name,
        status=row.status,  # type: ignore[arg-type]
        text=row.text,
        finish_reason=row.finish_reason,
        error_code=row.error_code,
        error_message=row.error_message,
        ttft_ms=row.ttft_ms,
        latency_ms=row.latency_ms,
        provider_latency_ms=row.provider_latency_ms,
        tokens_in=row.tokens_in,
        tokens_out=row.tokens_out,
        cost_usd=row.cost_usd,
        context_refs=row.context_refs,
        citations=row.citations,
        request=row.request if with_request else None,
        scores=scores or [],
    )


def start_turn(
    store: Store,
    conversation_id: str | None,
    variant_names: list[str],
    prompt: str,
    *,
    new_conversation_id: str | None = None,
    turn_id: str | None = None,
    mode: str = "named",
    rater: str | None = None,
    regenerate: bool = False,
    retrieval: dict[str, Any] | None = None,
    tags: list[str] | None = None,
    use_case: str | None = None,
) -> TurnStart:
    """Create a turn: in a new conversation (ids may be chosen by the caller), or as the
    next turn of `conversation_id`, returning each pane's history. Writes use Core
    inserts: this runs on every comparison, and the ORM's unit of work costs 3x the CPU."""
    now = utcnow()
    turn_id = turn_id or new_id()
    with store.session() as s:
        if conversation_id is None:
            if regenerate:
                raise InvalidRequest(
                    "regenerate needs the conversation_id of the turn to replace",
                    code=ErrorCode.INVALID_REGENERATE,
                )
            conv_id = new_conversation_id or new_id()
            history: list[list[Message]] = [[] for _ in variant_names]
            position = 0
            s.execute(
                insert(ConversationRow),
                {
                    "id": conv_id,
                    "variant_names": variant_names,
                    "mode": mode,
                    "rater": rater,
                    "use_case": use_case,
                    "created_at": now,
                },
            )
        else:
            conv_id, history, position = _continue(
                s, conversation_id, variant_names, regenerate=regenerate
            )
        s.execute(
            insert(TurnRow),
            {
                "id": turn_id,
                "conversation_id": conv_id,
                "position": position,
                "prompt": prompt,
                "status": "running",
                "retrieval": retrieval,
                "created_at": now,
            },
        )
        if tags:
            s.execute(
                insert(TurnTagRow), [{"turn_id": turn_id, "tag": t} for t in sorted(set(tags))]
            )
        return TurnStart(conv_id, turn_id, position, history)


def _continue(
    s: Session, conversation_id: str, variant_names: list[str], *, regenerate: bool
) -> tuple[str, list[list[Message]], int]:
    conv = s.get(
        ConversationRow,
        conversation_id,
        options=[selectinload(ConversationRow.turns).selectinload(TurnRow.answers)],
    )
    if conv is None:
        raise NotFound(
            f"conversation {conversation_id} does not exist",
            hint="Omit conversation_id to start a new one.",
        )
    if list(conv.variant_names) != variant_names:
        raise Conflict(
            f"conversation {conversation_id} compares {conv.variant_names}, not {variant_names}",
            hint="Keep the same variants in the same order, or start a new conversation.",
        )
    if any(t.status == "running" for t in conv.turns):
        raise Conflict(
            "the previous turn of this conversation is still running",
            hint="Wait for it to finish.",
        )
    live = [t for t in conv.turns if t.status != "replaced"]
    if regenerate:
        if not live:
            raise InvalidRequest(
                "there is no turn to regenerate", code=ErrorCode.INVALID_REGENERATE
            )
        live[-1].status = "replaced"
        live = live[:-1]
    history: list[list[Message]] = [[] for _ in variant_names]
    for turn in live:
        by_pane = {a.pane: a for a in turn.answers}
        for pane in range(len(variant_names)):
            answer = by_pane.get(pane)
            history[pane].append(Message(role="user", content=turn.prompt))
            history[pane].append(Message(role="assistant", content=answer.text if answer else ""))
    return conv.id, history, len(conv.turns)


def save_answer(store: Store, turn_id: str, **fields: Any) -> str:
    row = {"id": new_id(), "created_at": utcnow(), **fields, "turn_id": turn_id}
    with store.session() as s:
        s.execute(insert(AnswerRow), row)
        rollups.add_answers(s, [{**row, "use_case": rollups.use_case_of_turn(s, turn_id)}])
    return str(row["id"])


def save_finished_turns(store: Store, turns: list[FinishedTurn]) -> None:
    """Whole turns whose answers are known (gateway traffic), many in one transaction:
    a conversation, a done turn and its answers each."""
    if not turns:
        return
    with store.session() as s:
        s.execute(insert(ConversationRow), [t.conversation for t in turns])
        s.execute(insert(TurnRow), [t.turn for t in turns])
        s.execute(insert(AnswerRow), [a for t in turns for a in t.answers])
        rollups.add_answers(
            s,
            [{**a, "use_case": t.conversation.get("use_case")} for t in turns for a in t.answers],
        )
        tags = [{"turn_id": t.turn["id"], "tag": tag} for t in turns for tag in t.tags]
        if tags:
            s.execute(insert(TurnTagRow), tags)


def recover_interrupted(store: Store) -> int:
    """Mark turns left running by a crash as interrupted (their stored answers stay)."""
    with store.session() as s:
        turns = list(s.scalars(select(TurnRow).where(TurnRow.status == "running")))
        for turn in turns:
            turn.status = "interrupted"
        return len(turns)


def finish_turn(store: Store, turn_id: str) -> None:
    with store.session() as s:
        turn = s.get(TurnRow, turn_id)
        if turn is not None:
            turn.status = "done"


def get_turn(
    store: Store, turn_id: str, *, with_request: bool = True, voter: str | None = None
) -> TurnOut:
    """The turn with its answers and scores; its `vote` is `voter`'s live vote (None: the
    latest of anyone's)."""
    with store.session() as s:
        turn = s.get(
            TurnRow,
            turn_id,
            options=[selectinload(TurnRow.answers), selectinload(TurnRow.conversation)],
        )
        if turn is None:
            raise NotFound(f"turn {turn_id} does not exist")
        vote = current_vote(s, turn_id, voter)
        scores: dict[str, list[ScoreOut]] = {}
        for score in s.scalars(
            select(ScoreRow).where(ScoreRow.turn_id == turn_id).order_by(ScoreRow.metric)
        ):
            scores.setdefault(score.answer_id, []).append(
                ScoreOut(
                    metric=score.metric,
                    version=score.version,
                    value=score.value,
                    error=score.error,
                    created_at=score.created_at,
                )
            )
        return TurnOut(
            id=turn.id,
            conversation_id=turn.conversation_id,
            mode=turn.conversation.mode,
            rater=turn.conversation.rater,
            position=turn.position,
            prompt=turn.prompt,
            status=turn.status,
            created_at=turn.created_at,
            answers=[
                _answer_out(a, with_request=with_request, scores=scores.get(a.id))
                for a in turn.answers
            ],
            vote=vote_out(vote) if vote else None,
            retrieval=turn.retrieval,
            tags=list(
                s.scalars(
                    select(TurnTagRow.tag)
                    .where(TurnTagRow.turn_id == turn_id)
                    .order_by(TurnTagRow.tag)
                )
            ),
        )


@dataclass(frozen=True)
class TurnPage:
    turns: list[TurnOut]
    next: str | None  # the cursor of the next page; None on the last one


def encode_cursor(created_at: datetime, turn_id: str) -> str:
    """An opaque token for "after this turn" in newest-first order."""
    raw = json.dumps([created_at.isoformat(), turn_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        at, turn_id = json.loads(raw)
        return datetime.fromisoformat(at), str(turn_id)
    except (ValueError, TypeError) as exc:
        raise InvalidRequest(
            f"the cursor {token[:40]!r} is not one this server gave",
            code=ErrorCode.INVALID_CURSOR,
            hint="Pass the `next` value of the previous page unchanged, or leave it out.",
        ) from exc


def list_turns(
    store: Store,
    *,
    limit: int = 50,
    after: str | None = None,
    rater: str | None = None,
    query: str | None = None,
    use_case: str | None = None,
    voter: str | None = None,
) -> list[TurnOut]:
    """Newest first; see `turn_page`."""
    return turn_page(
        store,
        limit=limit,
        after=after,
        rater=rater,
        query=query,
        use_case=use_case,
        voter=voter,
    ).turns


def turn_page(
    store: Store,
    *,
    limit: int = 50,
    after: str | None = None,
    rater: str | None = None,
    query: str | None = None,
    use_case: str | None = None,
    voter: str | None = None,
) -> TurnPage:
    """Newest first, from the cursor `after` on (keyset over (created_at, id): a page
    costs the same at any depth); optionally one rater's turns, one use case's, and those
    whose prompt or any answer contains `query` (case-insensitive, literally: no
    wildcards). Votes as in `get_turn`. Five queries whatever the page's size."""
    stmt = select(
        TurnRow.id,
        TurnRow.conversation_id,
        TurnRow.position,
        TurnRow.prompt,
        TurnRow.status,
        TurnRow.retrieval,
        TurnRow.created_at,
        ConversationRow.mode,
        ConversationRow.rater,
    ).join(ConversationRow)
    if rater is not None:
        stmt = stmt.where(ConversationRow.rater == rater)
    if use_case is not None:
        stmt = stmt.where(ConversationRow.use_case == use_case)
    if query:
        # The text is matched literally: `%`, `_` and the escape character are escaped.
        needle = query.lower()
        in_answers = select(AnswerRow.turn_id).where(
            func.lower(AnswerRow.text).contains(needle, autoescape=True)
        )
        stmt = stmt.where(
            func.lower(TurnRow.prompt).contains(needle, autoescape=True)
            | TurnRow.id.in_(in_answers)
        )
    if after is not None:
        at, last_id = decode_cursor(after)
        stmt = stmt.where(
            or_(TurnRow.created_at < at, and_(TurnRow.created_at == at, TurnRow.id < last_id))
        )
    stmt = stmt.order_by(TurnRow.created_at.desc(), TurnRow.id.desc()).limit(limit + 1)
    with store.session() as s:
        found = s.execute(stmt).all()
        more = len(found) > limit
        found = found[:limit]
        page = _turns_out(s, found, voter)
    last = found[-1] if more else None
    return TurnPage(page, encode_cursor(last.created_at, last.id) if last else None)


_LISTED_ANSWER = [c for c in AnswerRow.__table__.c if c.name not in ("request", "variant_spec")]


def _turns_out(s: Session, found: Sequence[Any], voter: str | None) -> list[TurnOut]:
    """The listed turns whole (no requests): answers, scores, live votes and tags, one
    query each for the page (its ids are at most one page's, never one per stored row);
    columns, not ORM objects, and not the requests a list leaves out."""
    ids = [t.id for t in found]
    if not ids:
        return []
    answers: dict[str, list[Any]] = {}
    for a in s.execute(
        select(*_LISTED_ANSWER).where(AnswerRow.turn_id.in_(ids)).order_by(AnswerRow.pane)
    ):
        answers.setdefault(a.turn_id, []).append(a)
    scores: dict[str, list[ScoreOut]] = {}
    for score in s.execute(
        select(
            ScoreRow.answer_id,
            ScoreRow.metric,
            ScoreRow.version,
            ScoreRow.value,
            ScoreRow.error,
            ScoreRow.created_at,
        )
        .where(ScoreRow.turn_id.in_(ids))
        .order_by(ScoreRow.metric)
    ):
        scores.setdefault(score.answer_id, []).append(
            ScoreOut(
                metric=score.metric,
                version=score.version,
                value=score.value,
                error=score.error,
                created_at=score.created_at,
            )
        )
    votes_query = select(
        VoteRow.id,
        VoteRow.turn_id,
        VoteRow.outcome,
        VoteRow.ranking,
        VoteRow.rater,
        VoteRow.supersedes_id,
        VoteRow.created_at,
    ).where(VoteRow.turn_id.in_(ids))
    if voter is not None:
        votes_query = votes_query.where(VoteRow.rater == voter)
    by_turn: dict[str, list[Any]] = {}
    for v in s.execute(votes_query.order_by(VoteRow.created_at, VoteRow.id)):
        by_turn.setdefault(v.turn_id, []).append(v)
    tags: dict[str, list[str]] = {}
    for turn_id, tag in s.execute(
        select(TurnTagRow.turn_id, TurnTagRow.tag)
        .where(TurnTagRow.turn_id.in_(ids))
        .order_by(TurnTagRow.tag)
    ):
        tags.setdefault(turn_id, []).append(tag)
    out = []
    for turn in found:
        vote = live_vote(by_turn.get(turn.id, []))
        out.append(
            TurnOut(
                id=turn.id,
                conversation_id=turn.conversation_id,
                mode=turn.mode,
                rater=turn.rater,
                position=turn.position,
                prompt=turn.prompt,
                status=turn.status,
                created_at=turn.created_at,
                answers=[
                    _answer_out(a, with_request=False, scores=scores.get(a.id))
                    for a in answers.get(turn.id, [])
                ],
                vote=vote_out(vote) if vote else None,
                retrieval=turn.retrieval,
                tags=tags.get(turn.id, []),
            )
        )
    return out


def arena_pair_counts(store: Store) -> dict[frozenset[str], int]:
    """How many arena turns each pair of variants has had (for balanced sampling)."""
    with store.session() as s:
        rows = s.execute(
            select(ConversationRow.variant_names, func.count(TurnRow.id))
            .join(TurnRow)
            .where(ConversationRow.mode == "arena")
            .group_by(ConversationRow.id)
        ).all()
    counts: dict[frozenset[str], int] = {}
    for names, n in rows:
        key = frozenset(names)
        counts[key] = counts.get(key, 0) + int(n)
    return counts


def panes_and_modes(
    store: Store, turn_ids: set[str]
) -> tuple[dict[str, dict[int, str]], dict[str, str]]:
    """Each turn's variant per pane, and its conversation's mode, in one query."""
    panes: dict[str, dict[int, str]] = {}
    modes: dict[str, str] = {}
    with store.session() as s:
        rows = s.execute(
            select(AnswerRow.turn_id, AnswerRow.pane, AnswerRow.variant_name, ConversationRow.mode)
            .join(TurnRow, TurnRow.id == AnswerRow.turn_id)
            .join(ConversationRow, ConversationRow.id == TurnRow.conversation_id)
            .where(AnswerRow.turn_id.in_(turn_ids))
        )
        for turn_id, pane, variant, mode in rows:
            panes.setdefault(turn_id, {})[pane] = variant
            modes[turn_id] = mode
    return panes, modes
