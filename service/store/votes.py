"""Votes: one at a time or many in one transaction, append-only (a rater's new vote on a
turn supersedes their live one; a repeated idempotency key returns the stored vote). The
rater is always given by the caller, from authentication. On a blind (arena) turn a rater
votes once: their vote reveals the names, so a second one would not be blind.

Each vote first locks its turns' rows (PostgreSQL: `FOR NO KEY UPDATE`, in id order, so two
batches cannot deadlock; SQLite: a no-op UPDATE takes the database's write lock before
anything is read), so two concurrent votes of one rater cannot both become live. What is kept per live vote
(the leaderboard's cells, the export shapes, the dashboard's vote rollups:
`service.store.vote_cells`) changes in the same transaction: the new vote counted, the one
it supersedes (if it counted) taken away.

A batch is what labelling tools and importers send: the same rules as one vote at a time,
checked with a few queries per batch instead of a few per vote. All or nothing: one bad vote
refuses the batch, with its index."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

import psycopg
from pydantic import TypeAdapter
from sqlalchemy import (
    JSON,
    String,
    Table,
    column,
    exists,
    func,
    literal,
    select,
    true,
)
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, aliased, selectinload

from service.errors import ArbiterError, Conflict, ErrorCode, InvalidRequest, NotFound
from service.ids import new_id, new_ids, utcnow
from service.schemas import BatchVoteIn, VoteIn, VoteOut
from service.store.among import among
from service.store.engine import Store
from service.store.label_reviews import rejected, rejected_among
from service.store.tables import AnswerRow, ConversationRow, TurnRow, VoteRow
from service.store.turn_locks import lock_turns
from service.store.vote_cells import CellDeltas, turn_facts


def check_vote(vote: VoteIn, panes: int) -> list[int] | None:
    """The ranking to store (None unless the outcome is a ranking); a clear error for a
    vote that does not fit a turn with `panes` answers."""
    if vote.outcome == "ranking":
        if vote.ranking is None or sorted(vote.ranking) != list(range(panes)):
            raise InvalidRequest(
                f"a ranking must list every pane 0..{panes - 1} exactly once, best first",
                code=ErrorCode.INVALID_RANKING,
            )
        return list(vote.ranking)
    if vote.ranking is not None:
        raise InvalidRequest(
            "`ranking` is only allowed with outcome 'ranking'", code=ErrorCode.INVALID_RANKING
        )
    if vote.outcome in ("a", "b") and panes < 2:
        raise InvalidRequest("this turn has fewer than two answers", code=ErrorCode.INVALID_VOTE)
    return None


def vote_out(row: Any, *, replayed: bool = False) -> VoteOut:
    """A stored vote (a `VoteRow`, or a row with its columns) as the API shows it."""
    return VoteOut(
        replayed=replayed,
        id=row.id,
        turn_id=row.turn_id,
        outcome=row.outcome,
        ranking=row.ranking,
        rater=row.rater,
        supersedes_id=row.supersedes_id,
        created_at=row.created_at,
    )


def current_vote(s: Session, turn_id: str, rater: str | None = None) -> VoteRow | None:
    query = select(VoteRow).where(VoteRow.turn_id == turn_id)
    if rater is not None:
        query = query.where(VoteRow.rater == rater)
    return live_vote(list(s.scalars(query.order_by(VoteRow.created_at, VoteRow.id))))


def live_vote(rows: list[Any]) -> Any:
    """The latest of these votes (oldest first) that none of them supersedes."""
    superseded = {r.supersedes_id for r in rows if r.supersedes_id}
    live = [r for r in rows if r.id not in superseded]
    return live[-1] if live else None


def _already_voted_blind() -> Conflict:
    return Conflict(
        "you have already voted on this blind battle, and your vote revealed its models",
        hint="A second vote would not be blind: start a new round to vote again.",
        code=ErrorCode.ALREADY_VOTED,
    )


def cast_vote(store: Store, turn_id: str, vote: VoteIn, *, rater: str) -> VoteOut:
    try:
        return _cast_vote(store, turn_id, vote, rater)
    except IntegrityError:
        # A concurrent request with the same idempotency key won the race.
        if vote.idempotency_key:
            with store.session() as s:
                row = s.scalar(
                    select(VoteRow).where(VoteRow.idempotency_key == vote.idempotency_key)
                )
                if row is not None:
                    return vote_out(row, replayed=True)
        raise


def _cast_vote(store: Store, turn_id: str, vote: VoteIn, rater: str) -> VoteOut:
    with store.session() as s:
        lock_turns(s, {turn_id})
        if vote.idempotency_key:
            row = s.scalar(select(VoteRow).where(VoteRow.idempotency_key == vote.idempotency_key))
            if row is not None:
                return vote_out(row, replayed=True)
        turn = ended_turn(s, turn_id, action="Vote")
        ranking = check_vote(vote, len(turn.answers))
        previous = current_vote(s, turn_id, rater)
        if previous is not None and turn.conversation.mode == "arena":
            raise _already_voted_blind()
        row = VoteRow(
            id=new_id(),
            turn_id=turn_id,
            outcome=vote.outcome,
            ranking=ranking,
            rater=rater,
            supersedes_id=previous.id if previous else None,
            idempotency_key=vote.idempotency_key,
            created_at=utcnow(),
        )
        s.add(row)
        s.flush()
        facts = turn_facts(s, {turn_id})[turn_id]
        deltas = CellDeltas()
        deltas.count(facts, row.outcome, row.ranking, row.created_at, +1)
        if previous is not None and not rejected_among(s, {previous.id}):
            deltas.count(facts, previous.outcome, previous.ranking, previous.created_at, -1)
        deltas.apply(s)
        return vote_out(row)


def vote_history(store: Store, turn_id: str) -> list[VoteOut]:
    with store.session() as s:
        rows = s.scalars(
            select(VoteRow)
            .where(VoteRow.turn_id == turn_id)
            .order_by(VoteRow.created_at, VoteRow.id)
        )
        return [vote_out(r) for r in rows]


def ended_turn(s: Session, turn_id: str, *, action: str) -> TurnRow:
    """The turn with its answers, once none of them is still streaming."""
    turn = s.get(
        TurnRow,
        turn_id,
        options=[selectinload(TurnRow.answers), selectinload(TurnRow.conversation)],
    )
    if turn is None:
        raise NotFound(f"turn {turn_id} does not exist")
    if turn.status == "running":
        raise Conflict(
            "the answers of this turn are still streaming",
            hint=f"{action} once every pane has finished or failed.",
            code=ErrorCode.TURN_NOT_FINISHED,
        )
    return turn


def cast_votes(store: Store, votes: list[BatchVoteIn], raters: list[str]) -> list[VoteOut]:
    """`votes[i]` is `raters[i]`'s."""
    try:
        return _cast_batch(store, votes, raters)
    except IntegrityError:
        # Another request stored one of these idempotency keys meanwhile: one at a time,
        # each vote then finds its stored twin.
        return [cast_vote(store, v.turn_id, v, rater=r) for v, r in zip(votes, raters, strict=True)]


def _cast_batch(store: Store, votes: list[BatchVoteIn], raters: list[str]) -> list[VoteOut]:
    turn_ids = {v.turn_id for v in votes}
    keys = [v.idempotency_key for v in votes if v.idempotency_key]
    with store.session() as s:
        lock_turns(s, turn_ids)
        stored = {
            r.idempotency_key: r
            for r in (
                s.execute(
                    select(*(getattr(VoteRow, c) for c in VOTE_COLUMNS)).where(
                        among(s, VoteRow.idempotency_key, keys)
                    )
                )
                if keys
                else ()
            )
        }
        turns = {
            row.id: (row.status, row.panes, row.mode)
            for row in s.execute(
                select(
                    TurnRow.id,
                    TurnRow.status,
                    ConversationRow.mode,
                    func.count(AnswerRow.id).label("panes"),
                )
                .join(ConversationRow, ConversationRow.id == TurnRow.conversation_id)
                .outerjoin(AnswerRow, AnswerRow.turn_id == TurnRow.id)
                .where(among(s, TurnRow.id, turn_ids))
                .group_by(TurnRow.id, TurnRow.status, ConversationRow.mode)
            )
        }
        live: dict[tuple[str, str], str] = {}
        rows = _votes_of(s, {(v.turn_id, r) for v, r in zip(votes, raters, strict=True)})
        superseded = {r.supersedes_id for r in rows if r.supersedes_id}
        for r in rows:
            if r.id not in superseded:
                live[(r.turn_id, r.rater)] = r.id
        stored_live = {r.id: r for r in rows if r.id not in superseded}
        new_rows: list[dict[str, Any]] = []
        out: list[dict[str, Any]] = []
        batch_keys: dict[str, dict[str, Any]] = {}
        now = utcnow()
        ids = new_ids(len(votes))
        for index, (vote, rater) in enumerate(zip(votes, raters, strict=True)):
            key = vote.idempotency_key
            if key and key in stored:
                out.append({**stored[key]._mapping, "replayed": True})
                continue
            if key and key in batch_keys:
                out.append({**batch_keys[key], "replayed": True})
                continue
            try:
                if vote.turn_id not in turns:
                    raise NotFound(f"turn {vote.turn_id} does not exist")
                status, panes, mode = turns[vote.turn_id]
                if status == "running":
                    raise Conflict(
                        "the answers of this turn are still streaming",
                        hint="Vote once every pane has finished or failed.",
                        code=ErrorCode.TURN_NOT_FINISHED,
                    )
                ranking = check_vote(vote, int(panes))
                if mode == "arena" and (vote.turn_id, rater) in live:
                    raise _already_voted_blind()
            except ArbiterError as exc:
                exc.message = f"votes[{index}]: {exc.message}"
                raise
            vote_id = ids[index]
            row: dict[str, Any] = {
                "id": vote_id,
                "turn_id": vote.turn_id,
                "outcome": vote.outcome,
                "ranking": ranking,
                "rater": rater,
                "supersedes_id": live.get((vote.turn_id, rater)),
                "idempotency_key": key,
                "created_at": now,
            }
            live[(vote.turn_id, rater)] = vote_id
            new_rows.append(row)
            out.append(row)
            if key:
                batch_keys[key] = row
        if new_rows:
            _insert_votes(s, new_rows)
            _count_batch(s, new_rows, stored_live)
    # Validated as one list: pydantic's checks run in its core, where model_construct
    # would run Python per vote.
    return _VOTES_OUT.validate_python(out)


_VOTES_OUT = TypeAdapter(list[VoteOut])


def _votes_of(s: Session, pairs: set[tuple[str, str]]) -> Sequence[Any]:
    """The votes of these (turn, rater) pairs, oldest first: each pair looked up through the
    index on (turn_id, rater), not every vote of the turns, nor every vote of the raters."""
    columns = (
        VoteRow.id,
        VoteRow.turn_id,
        VoteRow.rater,
        VoteRow.supersedes_id,
        VoteRow.outcome,
        VoteRow.ranking,
        VoteRow.created_at,
    )
    # The pairs as one JSON text, not a parameter per value (SQLAlchemy expands an IN list
    # of pairs value by value; psycopg dumps an array parameter element by element).
    if s.get_bind().dialect.name != "postgresql":
        each = func.json_each(literal(json.dumps(list(pairs)))).table_valued("value")
        query = (
            select(*columns)
            .select_from(each)
            .join(
                VoteRow,
                (VoteRow.turn_id == func.json_extract(each.c.value, "$[0]"))
                & (VoteRow.rater == func.json_extract(each.c.value, "$[1]")),
            )
        )
        return s.execute(query.order_by(VoteRow.created_at, VoteRow.id)).all()
    given = (
        func.json_to_recordset(
            literal(json.dumps([{"turn_id": t, "rater": r} for t, r in pairs])).cast(JSON)
        )
        .table_valued(column("turn_id", String), column("rater", String))
        .render_derived(with_types=True)
    )
    # A lateral lookup per pair (OFFSET 0 keeps PostgreSQL from flattening it into a join):
    # on a table whose statistics lag its growth, the join was a sequential scan.
    per_pair = (
        select(*columns)
        .where(VoteRow.turn_id == given.c.turn_id, VoteRow.rater == given.c.rater)
        .offset(0)
        .lateral()
    )
    query = select(per_pair).select_from(given).join(per_pair, true())
    return s.execute(query.order_by(per_pair.c.created_at, per_pair.c.id)).all()


VOTE_COLUMNS = (
    "id",
    "turn_id",
    "outcome",
    "ranking",
    "rater",
    "supersedes_id",
    "idempotency_key",
    "created_at",
)


def _insert_votes(s: Session, rows: list[dict[str, Any]]) -> None:
    """Not the ORM's bulk path (which costs more per row). On PostgreSQL through COPY, one
    round trip for the batch, where executemany sends one INSERT per vote (a multi-row
    INSERT costs more to compile than it saves); a unique key already taken raises
    SQLAlchemy's IntegrityError, as an INSERT would. SQLite runs the driver's executemany
    in process, which is as fast."""
    dialect = s.get_bind().dialect
    if dialect.name != "postgresql":
        _insert_votes_sqlite(s, rows)
        return
    raw: Any = s.connection().connection.driver_connection
    statement = f"COPY votes ({', '.join(VOTE_COLUMNS)}) FROM STDIN"
    try:
        with raw.cursor() as cur, cur.copy(statement) as copy:
            for row in rows:
                ranking = row["ranking"]
                copy.write_row(
                    [
                        json.dumps(ranking) if ranking is not None and c == "ranking" else row[c]
                        for c in VOTE_COLUMNS
                    ]
                )
    except psycopg.Error as exc:
        raise DBAPIError.instance(statement, None, exc, psycopg.Error) from exc


def _insert_votes_sqlite(s: Session, rows: list[dict[str, Any]]) -> None:
    """Each value bound as SQLAlchemy binds it (its column type's processing: a time as
    text, a ranking as JSON, None as JSON null), but the values a batch repeats (its one
    time, the None of its pairwise votes) processed once, not once per row."""
    table = cast(Table, VoteRow.__table__)
    dialect = s.get_bind().dialect
    processors = {
        c: p
        for c in VOTE_COLUMNS
        if (p := table.c[c].type.dialect_impl(dialect).bind_processor(dialect)) is not None
    }
    repeated: dict[tuple[str, Any], Any] = {}

    def bound(column: str, value: Any) -> Any:
        if column not in processors:
            return value
        if value is not None and not isinstance(value, datetime):
            return processors[column](value)
        if (column, value) not in repeated:
            repeated[(column, value)] = processors[column](value)
        return repeated[(column, value)]

    s.connection().exec_driver_sql(
        f"INSERT INTO votes ({', '.join(VOTE_COLUMNS)}) VALUES ({', '.join('?' * len(VOTE_COLUMNS))})",
        [tuple(bound(c, row[c]) for c in VOTE_COLUMNS) for row in rows],
    )


def _count_batch(s: Session, new_rows: list[dict[str, Any]], stored_live: dict[str, Any]) -> None:
    """The cells' changes of a batch: each new vote that is still live at the end of the
    batch counted, each stored vote it superseded taken away if it counted (not rejected).
    A vote superseded within the batch never counted."""
    facts = turn_facts(s, {r["turn_id"] for r in new_rows})
    replaced = {r["supersedes_id"] for r in new_rows if r["supersedes_id"]}
    deltas = CellDeltas()
    for r in new_rows:
        if r["id"] not in replaced:
            deltas.count(facts[r["turn_id"]], r["outcome"], r["ranking"], r["created_at"], +1)
    old = {i for i in replaced if i in stored_live}
    counted = old - rejected_among(s, old) if old else set()
    for vote_id in counted:
        r = stored_live[vote_id]
        deltas.count(facts[r.turn_id], r.outcome, r.ranking, r.created_at, -1)
    deltas.apply(s)


def live_votes() -> Any:
    """A condition: votes that count — not replaced by their rater's later vote, and not
    rejected by a reviewer."""
    # NOT EXISTS, an anti-join over the index on supersedes_id: PostgreSQL runs
    # `NOT IN (subquery)` row by row once the subquery's ids outgrow work_mem.
    later = aliased(VoteRow)
    superseded = exists().where(later.supersedes_id == VoteRow.id)
    return ~superseded & VoteRow.id.not_in(rejected("vote"))
