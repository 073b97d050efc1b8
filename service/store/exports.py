"""What exports read: live votes (or ideal answers) with their turns and answers, the rubric
totals of each answer, the campaign of each turn and, when asked, how much each turn's
raters agree — as plain values, so the export logic never sees a table.

Records are read by one query each, one row per label with its turn's answers as one JSON
text, streamed in batches (psycopg's chunked streaming on PostgreSQL), in the order the
labels were given (ids are time-ordered): memory stays flat however many labels there are,
and no statement binds one parameter per row. The dry run
reads only aggregates: how many votes have each "shape" (outcome, ranking, variant and
status per pane, agreement), which the export rules turn into counts without building a
record."""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import lru_cache
from typing import Any

import orjson
import psycopg
from sqlalchemy import (
    Select,
    Text,
    and_,
    case,
    cast,
    delete,
    func,
    literal,
    literal_column,
    select,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, aliased

from service.store import export_shapes
from service.store.cell_days import ALL_DAYS, cell_dims, counts_cover, split_by_day
from service.store.engine import Store, plan_to_read_every_row
from service.store.filters import Filters
from service.store.label_reviews import rejected
from service.store.tables import (
    AnswerRow,
    CampaignItemRow,
    CampaignRow,
    ConversationRow,
    ExportShapeRow,
    IdealAnswerRow,
    RatingRow,
    TurnRow,
    VoteRow,
)
from service.store.votes import live_votes

BATCH = 1000  # rows per round trip of the cursor

# What Python's str.strip() removes: an ideal answer of only these is empty, in any script.
WHITESPACE = "".join(chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace())


# Plain values, neither frozen nor hashed: a frozen dataclass's __init__ sets each field through
# object.__setattr__, three times the cost, paid for every answer and label of an export.
@dataclass(slots=True)
class ExportAnswer:
    id: str
    pane: int
    variant: str
    status: str
    text: str
    request: dict[str, Any] | None
    variant_spec: dict[str, Any] | None
    context_refs: list[str] | None
    rubric_mean: float | None = None  # mean of every rubric score given (not rejected)


@dataclass(slots=True)
class ExportTurn:
    id: str
    conversation_id: str
    mode: str
    prompt: str
    created_at: datetime
    answers_json: str | None  # `_answers_of_turn`'s text, read when `answers` is first asked
    campaign: str | None
    decoded: list[ExportAnswer] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def answers(self) -> list[ExportAnswer]:
        """The turn's answers (in no particular order), decoded once, when first asked: a
        label the rules skip for its outcome alone (a tie, for pairs) never needs them."""
        if self.decoded is None:
            self.decoded = _answers(self.answers_json)
        return self.decoded


@dataclass(slots=True)
class ExportVote:
    id: str
    turn_id: str
    outcome: str
    ranking: list[int] | None
    rater: str | None
    created_at: datetime
    # The turn's most common vote and its number of live votes (with min_agreement only).
    agreeing: int | None = None
    voters: int | None = None


@dataclass(slots=True)
class ExportIdeal:
    id: str
    turn_id: str
    text: str
    rater: str | None
    based_on_answer_id: str | None
    created_at: datetime


@dataclass(frozen=True)
class VoteShape:
    """`count` live votes alike for the export rules: the same outcome and ranking, the
    same variant and status per pane, the same agreement."""

    outcome: str
    ranking: list[int] | None
    panes: dict[int, tuple[str, str]]  # pane -> (variant, "ok" or "failed")
    agreeing: int | None
    voters: int | None
    count: int


def _const(text: str) -> Any:
    """A string constant written into the SQL, not bound: PostgreSQL only matches a GROUP BY
    expression to its SELECT twin when no bound parameter differs between them."""
    return literal_column(f"'{text}'")


def _ranking_key() -> Any:
    return case(
        (VoteRow.outcome == _const("ranking"), cast(VoteRow.ranking, Text)), else_=_const("")
    )


def _voted_query(filters: Filters) -> Select[Any]:
    query = (
        select(VoteRow.id)
        .join(TurnRow, TurnRow.id == VoteRow.turn_id)
        .join(ConversationRow, ConversationRow.id == TurnRow.conversation_id)
        .where(live_votes())
    )
    return filters.apply(query)


def count_votes(store: Store, filters: Filters) -> int:
    """Live votes the filters keep (the progress of an export is counted in votes)."""
    with store.session() as s:
        sub = _voted_query(filters).subquery()
        return int(s.scalar(select(func.count()).select_from(sub)) or 0)


def count_ideals(store: Store, filters: Filters) -> int:
    with store.session() as s:
        sub = _ideals_query(filters, select(IdealAnswerRow.id)).subquery()
        return int(s.scalar(select(func.count()).select_from(sub)) or 0)


def _agreement(filters: Filters) -> Any:
    """Per turn: how many live votes (with the filters) agree with its most common vote,
    and how many there are. A ranking agrees with the same ranking only."""
    key = _ranking_key()
    per_key = filters.apply(
        select(VoteRow.turn_id, func.count().label("n"))
        .join(TurnRow, TurnRow.id == VoteRow.turn_id)
        .join(ConversationRow, ConversationRow.id == TurnRow.conversation_id)
        .where(live_votes())
        .group_by(VoteRow.turn_id, VoteRow.outcome, key)
    ).subquery()
    return (
        select(
            per_key.c.turn_id,
            func.max(per_key.c.n).label("agreeing"),
            func.sum(per_key.c.n).label("voters"),
        )
        .group_by(per_key.c.turn_id)
        .subquery()
    )


def _rubric_sums() -> list[Any]:
    """For the answer of the enclosing query: the sum and the number of the rubric scores
    given (ratings not rejected), each by a correlated subquery over the index on answer_id
    (a few ratings per answer at most, where one aggregation over every rating would be
    joined to every answer)."""
    criteria = (RatingRow.helpfulness, RatingRow.honesty, RatingRow.harmlessness)
    total = sum((func.coalesce(c, 0) for c in criteria), start=literal(0))
    given = sum((case((c.is_not(None), 1), else_=0) for c in criteria), start=literal(0))
    return [
        select(func.sum(value))
        .where(RatingRow.answer_id == AnswerRow.id, RatingRow.id.not_in(rejected("rating")))
        .correlate(AnswerRow)
        .scalar_subquery()
        for value in (total, given)
    ]


def _campaign_of_turn() -> Any:
    return (
        select(func.min(CampaignRow.name))
        .join(CampaignItemRow, CampaignItemRow.campaign_id == CampaignRow.id)
        .where(CampaignItemRow.turn_id == TurnRow.id)
        .correlate(TurnRow)
        .scalar_subquery()
    )


_TURN_COLUMNS = (
    TurnRow.id,
    TurnRow.conversation_id,
    ConversationRow.mode,
    TurnRow.prompt,
    TurnRow.created_at,
)
# JSON columns are read as their text and decoded here (`_json`, `_spec`): the JSON type's
# own decoding (the standard library's, row by row) was most of an export's reading time.
_ANSWER_FIELDS = (
    AnswerRow.id,
    AnswerRow.pane,
    AnswerRow.variant_name,
    AnswerRow.status,
    AnswerRow.text,
    cast(AnswerRow.request, Text),
    cast(AnswerRow.variant_spec, Text),
    cast(AnswerRow.context_refs, Text),
)


def _answers_of_turn(dialect: str, rubric: bool) -> Any:
    """The answers of the enclosing query's turn as one JSON text: an array per answer
    (`_ANSWER_FIELDS`, then the rubric sums with `rubric`), in no particular order. One row
    per label instead of one per answer, and one orjson call to read it: the per-row work
    of the driver and of SQLAlchemy was most of the reading time."""
    fields: list[Any] = list(_ANSWER_FIELDS)
    if rubric:
        fields += _rubric_sums()
    answers: Any
    if dialect == "postgresql":
        answers = cast(func.json_agg(func.json_build_array(*fields)), Text)
    else:
        answers = func.json_group_array(func.json_array(*fields))
    return (
        select(answers).where(AnswerRow.turn_id == TurnRow.id).correlate(TurnRow).scalar_subquery()
    )


def _json(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # what orjson refuses but JSON columns may hold: NaN
        return json.loads(text)


@lru_cache(maxsize=256)
def _spec(text: str | None) -> Any:
    """A variant's settings: a few distinct texts, each stored with every answer of the
    variant, so decoded once (the dict is shared: exports only read it)."""
    return _json(text)


def _answers(text: str | None) -> list[ExportAnswer]:
    """The answers of `_answers_of_turn`'s JSON text (in no particular order)."""
    if text is None:
        return []
    try:
        return _answer_list(orjson.loads(text), orjson.loads)
    except orjson.JSONDecodeError:  # NaN somewhere: `_json` per value
        return _answer_list(json.loads(text), _json)


def _answer_list(rows: list[list[Any]], loads: Any) -> list[ExportAnswer]:
    return [
        ExportAnswer(
            a[0],
            a[1],
            a[2],
            a[3],
            a[4],
            loads(a[5]),
            _spec(a[6]),
            [] if a[7] == "[]" else _json(a[7]),  # most answers had no retrieved context
            float(a[8]) / float(a[9]) if len(a) > 9 and a[9] else None,
        )
        for a in rows
    ]


def _turn(row: Any, at: int) -> ExportTurn:
    """The turn whose columns (`_TURN_COLUMNS`, its campaign, its answers) start at `at`."""
    return ExportTurn(
        row[at],
        row[at + 1],
        row[at + 2],
        row[at + 3],
        row[at + 4],
        row[at + 6],
        row[at + 5],
    )


def _stream(store: Store, query: Select[Any]) -> Iterator[Any]:
    """The rows of `query` as plain sequences, read BATCH at a time: memory flat."""
    with store.session() as s:
        connection = s.connection()
        dialect = connection.dialect
        if dialect.name != "postgresql":
            # SQLAlchemy binds and runs the query; the rows come from the driver's cursor
            # (which steps through the file as they are asked for) with only the columns'
            # own conversions (datetimes stored as text): SQLAlchemy's rows cost more than
            # the rest of the reading.
            convert = [
                (k, process)
                for k, column in enumerate(query.selected_columns)
                if (process := column.type.dialect_impl(dialect).result_processor(dialect, None))
            ]
            result = connection.execute(query)
            try:
                while batch := result.cursor.fetchmany(BATCH):
                    for row in batch:
                        if convert:
                            row = list(row)
                            for k, process in convert:
                                row[k] = process(row[k])
                        yield row
            finally:
                result.close()
            return
        plan_to_read_every_row(connection)  # over every label, JIT cost more than it saved
        # psycopg's chunked streaming, not a server-side cursor: the server keeps producing
        # rows while these are turned into records (a cursor computes each batch only when
        # FETCH asks, so the two took turns), held back by the socket when it runs ahead.
        # The query's parameters need no conversion here (strings, numbers, datetimes).
        compiled = query.compile(
            dialect=connection.dialect, compile_kwargs={"render_postcompile": True}
        )
        statement, params = str(compiled), compiled.params
        raw: Any = connection.connection.driver_connection
        size = BATCH if psycopg.pq.version() >= 170000 else 1  # chunks need libpq 17
        try:
            with raw.cursor() as cursor:
                yield from cursor.stream(statement, params, size=size)
        except psycopg.Error as exc:
            raise DBAPIError.instance(statement, params, exc, psycopg.Error) from exc


def votes_with_turns(
    store: Store, filters: Filters, *, rubric: bool = False, agreement: bool = False
) -> Iterator[tuple[ExportVote, ExportTurn]]:
    """Each live vote with its turn and the turn's answers, oldest vote first;
    `rubric`: each answer's rubric mean; `agreement`: each vote's turn agreement."""
    agreed = _agreement(filters) if agreement else None
    columns: list[Any] = [
        VoteRow.id,
        VoteRow.turn_id,
        VoteRow.outcome,
        cast(VoteRow.ranking, Text),
        VoteRow.rater,
        VoteRow.created_at,
        *_TURN_COLUMNS,
        _campaign_of_turn(),
        _answers_of_turn(store.engine.dialect.name, rubric),
    ]
    if agreed is not None:
        columns += [agreed.c.agreeing, agreed.c.voters]
    query = (
        select(*columns)
        .join(TurnRow, TurnRow.id == VoteRow.turn_id)
        .join(ConversationRow, ConversationRow.id == TurnRow.conversation_id)
        .where(live_votes())
    )
    if agreed is not None:
        query = query.outerjoin(agreed, agreed.c.turn_id == VoteRow.turn_id)
    query = filters.apply(query).order_by(VoteRow.id)
    agreed_at = 6 + len(_TURN_COLUMNS) + 2
    for row in _stream(store, query):
        agreeing = voters = None
        if agreed is not None:
            agreeing, voters = int(row[agreed_at]), int(row[agreed_at + 1])
        ranking = None if row[3] is None else _json(row[3])
        vote = ExportVote(row[0], row[1], row[2], ranking, row[4], row[5], agreeing, voters)
        yield vote, _turn(row, 6)


def _ideals_query(filters: Filters, query: Any) -> Any:
    """Rater, mode, RAG and use-case filters apply to ideal answers (dates are votes')."""
    query = query.join(TurnRow, TurnRow.id == IdealAnswerRow.turn_id).join(
        ConversationRow, ConversationRow.id == TurnRow.conversation_id
    )
    if filters.rater is not None:
        query = query.where(IdealAnswerRow.rater == filters.rater)
    return Filters(mode=filters.mode, rag=filters.rag, use_case=filters.use_case).apply(query)


def ideals_with_turns(store: Store, filters: Filters) -> Iterator[tuple[ExportIdeal, ExportTurn]]:
    """Ideal answers in the order written, each with its turn and the turn's answers."""
    query = _ideals_query(
        filters,
        select(
            IdealAnswerRow.id,
            IdealAnswerRow.turn_id,
            IdealAnswerRow.text,
            IdealAnswerRow.rater,
            IdealAnswerRow.based_on_answer_id,
            IdealAnswerRow.created_at,
            *_TURN_COLUMNS,
            _campaign_of_turn(),
            _answers_of_turn(store.engine.dialect.name, False),
        ),
    ).order_by(IdealAnswerRow.id)
    for row in _stream(store, query):
        yield ExportIdeal(row[0], row[1], row[2], row[3], row[4], row[5]), _turn(row, 6)


# ---- the dry run: aggregates only ------------------------------------------------------


def _panes(s: Session) -> int:
    """How many panes the widest turn has (the dry run reads one column pair per pane)."""
    return int(s.scalar(select(func.max(AnswerRow.pane))) or 0) + 1


def _shape_query(panes: int, filters: Filters, agreed: Any, dims: list[Any]) -> Select[Any]:
    """Live votes grouped by `dims`, then by what the export rules look at: outcome,
    ranking, each pane's variant and status ("ok" or "failed"), and the agreement when
    `agreed` is given; the count last."""
    key = _ranking_key()
    group: list[Any] = [*dims, VoteRow.outcome, key.label("ranking")]
    query = (
        select()
        .select_from(VoteRow)
        .join(TurnRow, TurnRow.id == VoteRow.turn_id)
        .join(ConversationRow, ConversationRow.id == TurnRow.conversation_id)
        .where(live_votes())
    )
    for pane in range(panes):
        answer = aliased(AnswerRow, name=f"pane{pane}")
        query = query.outerjoin(answer, and_(answer.turn_id == TurnRow.id, answer.pane == pane))
        group += [
            answer.variant_name.label(f"variant{pane}"),
            case((answer.status == _const("ok"), _const("ok")), else_=_const("failed")).label(
                f"status{pane}"
            ),
        ]
    if agreed is not None:
        query = query.outerjoin(agreed, agreed.c.turn_id == VoteRow.turn_id)
        group += [agreed.c.agreeing, agreed.c.voters]
    return filters.apply(query.add_columns(*group, func.count())).group_by(*group)


def _counted_shapes(s: Session, filters: Filters, agreement: bool) -> list[VoteShape]:
    """The shapes by one GROUP BY over the live votes."""
    panes = _panes(s)
    agreed = _agreement(filters) if agreement else None
    shapes = []
    for row in s.execute(_shape_query(panes, filters, agreed, [])):
        outcome, ranking_text = row[0], row[1]
        found = {p: (row[2 + 2 * p], row[3 + 2 * p]) for p in range(panes) if row[2 + 2 * p]}
        agreeing = voters = None
        if agreed is not None:
            agreeing, voters = int(row[2 + 2 * panes]), int(row[3 + 2 * panes])
        shapes.append(
            VoteShape(
                outcome,
                json.loads(ranking_text) if ranking_text else None,
                found,
                agreeing,
                voters,
                int(row[-1]),
            )
        )
    return shapes


def shapes_kept_cover(filters: Filters, *, agreement: bool) -> bool:
    """Whether the kept shapes (`export_shapes`) can answer these filters: the ones the
    leaderboard's cells answer, without agreement (a turn's, from all its votes)."""
    return not agreement and counts_cover(filters)


def vote_shapes(
    store: Store, filters: Filters, *, agreement: bool = False, recount: bool = False
) -> list[VoteShape]:
    """Live votes grouped by what the export rules look at; a few rows. From the shapes
    kept as votes arrive when they cover the filters (whole UTC days from them, the parts
    of days at a range's edges from the votes), else (or with `recount`) by one GROUP BY
    over the live votes."""
    with store.session() as s:
        if recount or not shapes_kept_cover(filters, agreement=agreement):
            return _counted_shapes(s, filters, agreement)
        days, edges = split_by_day(filters.since, filters.until)
        shapes: list[VoteShape] = []
        for since, until in edges:
            shapes += _counted_shapes(s, replace(filters, since=since, until=until), False)
        if days is not None:
            kept = export_shapes.summed(
                s,
                mode=filters.mode,
                rag=filters.rag,
                use_case=filters.use_case,
                first=days[0],
                end=days[1],
            )
            shapes += [
                VoteShape(
                    outcome,
                    export_shapes.read_ranking(ranking),
                    export_shapes.read_panes(panes),
                    None,
                    None,
                    n,
                )
                for outcome, ranking, panes, n in kept
            ]
        return shapes


def rebuild_shapes(s: Session) -> int:
    """Recount every kept shape from the live votes (one GROUP BY; the caller holds the
    locks: `service.store.leaderboard.rebuild_counts`); how many rows."""
    s.execute(delete(ExportShapeRow))
    panes = _panes(s)
    dims = cell_dims(s.get_bind().dialect.name)
    changes: Counter[export_shapes.ShapeKey] = Counter()
    for row in s.execute(_shape_query(panes, Filters(), None, dims)):
        day, mode, rag, use_case, outcome, ranking = row[:6]
        found = {p: (row[6 + 2 * p], row[7 + 2 * p]) for p in range(panes)}
        shape = (
            outcome,
            export_shapes.ranking_text(outcome, json.loads(ranking) if ranking else None),
            export_shapes.panes_text(found),
        )
        for when in (day, ALL_DAYS):
            changes[(when, mode, bool(rag), use_case, *shape)] += int(row[-1])
    export_shapes.add(s, changes)
    return len(changes)


def ideal_shapes(store: Store, filters: Filters) -> list[tuple[str | None, bool, int]]:
    """(variant the ideal answer is based on, empty?, how many), by one GROUP BY: the base
    is the answer it names, else the turn's first pane."""
    based = aliased(AnswerRow, name="based")
    first = aliased(AnswerRow, name="first")
    first_pane = (
        select(func.min(AnswerRow.pane))
        .where(AnswerRow.turn_id == IdealAnswerRow.turn_id)
        .correlate(IdealAnswerRow)
        .scalar_subquery()
    )
    trim = func.btrim if store.engine.dialect.name == "postgresql" else func.trim
    empty = func.length(trim(IdealAnswerRow.text, WHITESPACE)) == 0
    variant = func.coalesce(based.variant_name, first.variant_name)
    each = (
        _ideals_query(filters, select(variant.label("variant"), empty.label("empty")))
        .outerjoin(
            based,
            and_(
                based.id == IdealAnswerRow.based_on_answer_id,
                based.turn_id == IdealAnswerRow.turn_id,
            ),
        )
        .outerjoin(first, and_(first.turn_id == IdealAnswerRow.turn_id, first.pane == first_pane))
        .subquery()
    )
    query = select(each.c.variant, each.c.empty, func.count()).group_by(
        each.c.variant, each.c.empty
    )
    with store.session() as s:
        return [(v, bool(e), int(n)) for v, e, n in s.execute(query)]
