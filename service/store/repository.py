"""The store: every read and write of Arbiter's tables goes through `Store`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, create_engine, event, func, insert, select, text
from sqlalchemy.exc import (
    IntegrityError,
    InterfaceError,
    OperationalError,
    ProgrammingError,
    SQLAlchemyError,
)
from sqlalchemy.orm import Session, selectinload, sessionmaker

from service.errors import Conflict, InvalidRequest, NotFound, StoreUnavailable
from service.ids import new_id, utcnow
from service.schemas import (
    AnswerOut,
    LabelsIn,
    LabelsOut,
    Message,
    ScoreOut,
    TurnOut,
    VoteIn,
    VoteOut,
)
from service.store import migrate
from service.store.tables import (
    AnswerRow,
    CommentRow,
    ConversationRow,
    IdealAnswerRow,
    RatingRow,
    ScoreRow,
    TurnRow,
    TurnTagRow,
    UseCaseRow,
    VariantRow,
    VoteRow,
)
from service.variants import Variant


@dataclass(frozen=True)
class FinishedTurn:
    """Rows of a finished single-prompt conversation, ready to insert."""

    conversation: dict[str, Any]
    turn: dict[str, Any]
    answers: list[dict[str, Any]]
    tags: tuple[str, ...] = ()


def _normalise_url(url: str) -> str:
    # Use psycopg 3 for plain postgres URLs (SQLAlchemy's default would be psycopg2).
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str, *, schema: str | None = None) -> Engine:
    url = _normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    connect_args: dict[str, Any] = {"connect_timeout": 5}
    if schema:
        connect_args["options"] = f"-csearch_path={schema}"
    return create_engine(
        url, pool_pre_ping=True, pool_size=10, max_overflow=20, connect_args=connect_args
    )


@dataclass(frozen=True)
class TurnStart:
    conversation_id: str
    turn_id: str
    position: int
    history: list[list[Message]]  # per pane: earlier user prompts and that pane's answers


def check_vote(vote: VoteIn, panes: int) -> list[int] | None:
    """The ranking to store (None unless the outcome is a ranking); a clear error for a
    vote that does not fit a turn with `panes` answers."""
    if vote.outcome == "ranking":
        if vote.ranking is None or sorted(vote.ranking) != list(range(panes)):
            raise InvalidRequest(
                f"a ranking must list every pane 0..{panes - 1} exactly once, best first",
                code="invalid_ranking",
            )
        return list(vote.ranking)
    if vote.ranking is not None:
        raise InvalidRequest(
            "`ranking` is only allowed with outcome 'ranking'", code="invalid_ranking"
        )
    if vote.outcome in ("a", "b") and panes < 2:
        raise InvalidRequest("this turn has fewer than two answers", code="invalid_vote")
    return None


def vote_out(row: VoteRow, *, replayed: bool = False) -> VoteOut:
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


class Store:
    def __init__(self, url: str, *, schema: str | None = None) -> None:
        self.url = url
        self.schema = schema
        self.engine = make_engine(url, schema=schema)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    # -- lifecycle ---------------------------------------------------------------------

    def ping(self) -> None:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            raise StoreUnavailable(
                f"cannot reach the database at {self.engine.url.render_as_string(hide_password=True)}: "
                f"{str(exc.orig if hasattr(exc, 'orig') else exc).strip().splitlines()[0]}",
                hint="Start the database or fix ARBITER_DATABASE_URL.",
            ) from None

    def upgrade(self) -> None:
        self.ping()
        migrate.upgrade(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()

    @contextmanager
    def session(self) -> Iterator[Session]:
        try:
            with self._sessions.begin() as session:
                yield session
        except (OperationalError, ProgrammingError, InterfaceError) as exc:
            raise StoreUnavailable(
                f"database error: {str(exc.orig).strip().splitlines()[0]}",
                hint="Check that the database is running and reachable.",
            ) from None

    # -- variants ----------------------------------------------------------------------

    def sync_variants(self, variants: list[Variant], *, source: str = "file") -> None:
        """Record the variants declared in the config file (insert new, update changed)."""
        with self.session() as s:
            existing = {r.name: r for r in s.scalars(select(VariantRow))}
            for v in variants:
                spec = v.model_dump(mode="json")
                row = existing.get(v.name)
                if row is None:
                    s.add(VariantRow(name=v.name, spec=spec, source=source))
                elif row.spec != spec:
                    row.spec, row.source, row.updated_at = spec, source, utcnow()

    def add_variant(self, variant: Variant) -> None:
        try:
            with self.session() as s:
                s.add(
                    VariantRow(
                        name=variant.name, spec=variant.model_dump(mode="json"), source="api"
                    )
                )
        except IntegrityError:
            raise Conflict(
                f"a variant named {variant.name!r} already exists", hint="Pick another name."
            ) from None

    def api_variants(self) -> list[Variant]:
        with self.session() as s:
            rows = s.scalars(
                select(VariantRow).where(VariantRow.source == "api").order_by(VariantRow.created_at)
            )
            return [Variant.model_validate(r.spec) for r in rows]

    # -- turns and answers -------------------------------------------------------------

    def start_turn(
        self,
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
        with self.session() as s:
            if conversation_id is None:
                if regenerate:
                    raise InvalidRequest(
                        "regenerate needs the conversation_id of the turn to replace",
                        code="invalid_regenerate",
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
                conv_id, history, position = self._continue(
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

    def has_use_case(self, name: str) -> bool:
        with self.session() as s:
            return s.scalar(select(UseCaseRow.id).where(UseCaseRow.name == name)) is not None

    @staticmethod
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
                raise InvalidRequest("there is no turn to regenerate", code="invalid_regenerate")
            live[-1].status = "replaced"
            live = live[:-1]
        history: list[list[Message]] = [[] for _ in variant_names]
        for turn in live:
            by_pane = {a.pane: a for a in turn.answers}
            for pane in range(len(variant_names)):
                answer = by_pane.get(pane)
                history[pane].append(Message(role="user", content=turn.prompt))
                history[pane].append(
                    Message(role="assistant", content=answer.text if answer else "")
                )
        return conv.id, history, len(conv.turns)

    def save_answer(self, turn_id: str, **fields: Any) -> str:
        row = {"id": new_id(), "created_at": utcnow(), **fields, "turn_id": turn_id}
        with self.session() as s:
            s.execute(insert(AnswerRow), row)
        return str(row["id"])

    def turn_notes(self, turn_id: str) -> list[tuple[str, str, str]]:
        """Comments and ideal answers on a turn, oldest first: (kind, rater, text)."""
        with self.session() as s:
            comments = s.execute(
                select(CommentRow.created_at, CommentRow.rater, CommentRow.text).where(
                    CommentRow.turn_id == turn_id
                )
            ).all()
            ideals = s.execute(
                select(IdealAnswerRow.created_at, IdealAnswerRow.rater, IdealAnswerRow.text).where(
                    IdealAnswerRow.turn_id == turn_id
                )
            ).all()
        notes = [(at, "comment", r, t) for at, r, t in comments]
        notes += [(at, "ideal answer", r, t) for at, r, t in ideals]
        return [(kind, rater, text) for _, kind, rater, text in sorted(notes)]

    def save_finished_turns(self, turns: list[FinishedTurn]) -> None:
        """Whole turns whose answers are known (gateway traffic), many in one transaction:
        a conversation, a done turn and its answers each."""
        if not turns:
            return
        with self.session() as s:
            s.execute(insert(ConversationRow), [t.conversation for t in turns])
            s.execute(insert(TurnRow), [t.turn for t in turns])
            s.execute(insert(AnswerRow), [a for t in turns for a in t.answers])
            tags = [{"turn_id": t.turn["id"], "tag": tag} for t in turns for tag in t.tags]
            if tags:
                s.execute(insert(TurnTagRow), tags)

    def recover_interrupted(self) -> int:
        """Mark turns left running by a crash as interrupted (their stored answers stay)."""
        with self.session() as s:
            turns = list(s.scalars(select(TurnRow).where(TurnRow.status == "running")))
            for turn in turns:
                turn.status = "interrupted"
            return len(turns)

    def finish_turn(self, turn_id: str) -> None:
        with self.session() as s:
            turn = s.get(TurnRow, turn_id)
            if turn is not None:
                turn.status = "done"

    def get_turn(self, turn_id: str, *, with_request: bool = True) -> TurnOut:
        with self.session() as s:
            turn = s.get(
                TurnRow,
                turn_id,
                options=[selectinload(TurnRow.answers), selectinload(TurnRow.conversation)],
            )
            if turn is None:
                raise NotFound(f"turn {turn_id} does not exist")
            vote = self._current_vote(s, turn_id)
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

    def list_turns(
        self,
        *,
        limit: int = 50,
        offset: int = 0,
        rater: str | None = None,
        query: str | None = None,
        use_case: str | None = None,
    ) -> list[TurnOut]:
        """Newest first; optionally one rater's turns, one use case's, and those whose
        prompt or any answer contains `query` (case-insensitive)."""
        stmt = select(TurnRow.id).join(ConversationRow)
        if rater is not None:
            stmt = stmt.where(ConversationRow.rater == rater)
        if use_case is not None:
            stmt = stmt.where(ConversationRow.use_case == use_case)
        if query:
            pattern = f"%{query.lower()}%"
            in_answers = select(AnswerRow.turn_id).where(func.lower(AnswerRow.text).like(pattern))
            stmt = stmt.where(
                (func.lower(TurnRow.prompt).like(pattern)) | TurnRow.id.in_(in_answers)
            )
        stmt = (
            stmt.order_by(TurnRow.created_at.desc(), TurnRow.id.desc()).limit(limit).offset(offset)
        )
        with self.session() as s:
            ids = list(s.scalars(stmt))
        return [self.get_turn(i, with_request=False) for i in ids]

    def arena_pair_counts(self) -> dict[frozenset[str], int]:
        """How many arena turns each pair of variants has had (for balanced sampling)."""
        with self.session() as s:
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

    def count(self, table: type[Any]) -> int:
        with self.session() as s:
            return int(s.scalar(select(func.count()).select_from(table)) or 0)

    # -- votes -------------------------------------------------------------------------

    @staticmethod
    def _current_vote(s: Session, turn_id: str, rater: str | None = None) -> VoteRow | None:
        query = select(VoteRow).where(VoteRow.turn_id == turn_id)
        if rater is not None:
            query = query.where(VoteRow.rater == rater)
        rows = list(s.scalars(query.order_by(VoteRow.created_at, VoteRow.id)))
        superseded = {r.supersedes_id for r in rows if r.supersedes_id}
        live = [r for r in rows if r.id not in superseded]
        return live[-1] if live else None

    @staticmethod
    def _ended_turn(s: Session, turn_id: str, *, action: str) -> TurnRow:
        """The turn with its answers, once none of them is still streaming."""
        turn = s.get(TurnRow, turn_id, options=[selectinload(TurnRow.answers)])
        if turn is None:
            raise NotFound(f"turn {turn_id} does not exist")
        if turn.status == "running":
            raise Conflict(
                "the answers of this turn are still streaming",
                hint=f"{action} once every pane has finished or failed.",
                code="turn_not_finished",
            )
        return turn

    def cast_vote(self, turn_id: str, vote: VoteIn) -> VoteOut:
        try:
            return self._cast_vote(turn_id, vote)
        except IntegrityError:
            # A concurrent request with the same idempotency key won the race.
            if vote.idempotency_key:
                with self.session() as s:
                    row = s.scalar(
                        select(VoteRow).where(VoteRow.idempotency_key == vote.idempotency_key)
                    )
                    if row is not None:
                        return vote_out(row, replayed=True)
            raise

    def _cast_vote(self, turn_id: str, vote: VoteIn) -> VoteOut:
        with self.session() as s:
            if vote.idempotency_key:
                row = s.scalar(
                    select(VoteRow).where(VoteRow.idempotency_key == vote.idempotency_key)
                )
                if row is not None:
                    return vote_out(row, replayed=True)
            turn = self._ended_turn(s, turn_id, action="Vote")
            ranking = check_vote(vote, len(turn.answers))
            previous = self._current_vote(s, turn_id, vote.rater)
            row = VoteRow(
                turn_id=turn_id,
                outcome=vote.outcome,
                ranking=ranking,
                rater=vote.rater,
                supersedes_id=previous.id if previous else None,
                idempotency_key=vote.idempotency_key,
            )
            s.add(row)
            s.flush()
            return vote_out(row)

    def save_labels(self, turn_id: str, labels: LabelsIn) -> LabelsOut:
        """Rubric ratings, a comment and an ideal answer, in one transaction (append-only)."""
        with self.session() as s:
            turn = self._ended_turn(s, turn_id, action="Rate")
            by_pane = {a.pane: a for a in turn.answers}
            for pane in [r.pane for r in labels.ratings] + (
                [labels.ideal_based_on_pane] if labels.ideal_based_on_pane is not None else []
            ):
                if pane not in by_pane:
                    raise InvalidRequest(f"this turn has no pane {pane}", code="invalid_pane")
            count = 0
            for rating in labels.ratings:
                if (
                    rating.helpfulness is None
                    and rating.honesty is None
                    and rating.harmlessness is None
                ):
                    continue
                s.add(
                    RatingRow(
                        answer_id=by_pane[rating.pane].id,
                        turn_id=turn_id,
                        rater=labels.rater,
                        helpfulness=rating.helpfulness,
                        honesty=rating.honesty,
                        harmlessness=rating.harmlessness,
                    )
                )
                count += 1
            out = LabelsOut(ratings=count)
            if labels.comment and labels.comment.strip():
                comment = CommentRow(turn_id=turn_id, rater=labels.rater, text=labels.comment)
                s.add(comment)
                s.flush()
                out.comment_id = comment.id
            if labels.ideal_answer and labels.ideal_answer.strip():
                based_on = (
                    by_pane[labels.ideal_based_on_pane].id
                    if labels.ideal_based_on_pane is not None
                    else None
                )
                ideal = IdealAnswerRow(
                    turn_id=turn_id,
                    rater=labels.rater,
                    text=labels.ideal_answer,
                    based_on_answer_id=based_on,
                )
                s.add(ideal)
                s.flush()
                out.ideal_answer_id = ideal.id
            return out

    def vote_history(self, turn_id: str) -> list[VoteOut]:
        with self.session() as s:
            rows = s.scalars(
                select(VoteRow)
                .where(VoteRow.turn_id == turn_id)
                .order_by(VoteRow.created_at, VoteRow.id)
            )
            return [vote_out(r) for r in rows]
