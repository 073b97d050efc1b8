"""The store against SQLite and PostgreSQL: migrations, turns, append-only votes."""

import pytest
import sqlalchemy as sa

from service.errors import Conflict, InvalidRequest, NotFound, StoreUnavailable
from service.schemas import BatchVoteIn, LabelsIn, RatingIn, VoteIn
from service.store import Store, labels, turns, votes
from service.store.tables import CommentRow, IdealAnswerRow, RatingRow, VoteRow


def _finished_turn(store: Store, panes: int = 2) -> str:
    start = turns.start_turn(store, None, [f"v{i}" for i in range(panes)], "hi")
    for pane in range(panes):
        turns.save_answer(
            store,
            start.turn_id,
            pane=pane,
            variant_name=f"v{pane}",
            variant_spec={},
            request={},
            text=f"answer {pane}",
            status="ok",
        )
    turns.finish_turn(store, start.turn_id)
    return start.turn_id


def test_migrations_create_every_table_from_empty(store: Store) -> None:
    names = set(sa.inspect(store.engine).get_table_names())
    assert {"variants", "conversations", "turns", "answers", "votes", "alembic_version"} <= names
    store.upgrade()  # idempotent


def test_turn_round_trip_keeps_answers_in_pane_order(store: Store) -> None:
    turn_id = _finished_turn(store, panes=3)
    turn = turns.get_turn(store, turn_id)
    assert [a.pane for a in turn.answers] == [0, 1, 2]
    assert turn.answers[2].text == "answer 2"
    assert turn.status == "done"


def test_changed_vote_is_a_new_row_that_supersedes(store: Store) -> None:
    turn_id = _finished_turn(store)
    first = votes.cast_vote(store, turn_id, VoteIn(outcome="a"), rater="ann")
    second = votes.cast_vote(store, turn_id, VoteIn(outcome="b"), rater="ann")
    other = votes.cast_vote(store, turn_id, VoteIn(outcome="tie"), rater="bob")
    assert second.supersedes_id == first.id
    assert other.supersedes_id is None
    history = votes.vote_history(store, turn_id)
    assert [v.outcome for v in history] == ["a", "b", "tie"]
    assert store.count(VoteRow) == 3


def test_idempotency_key_stores_one_vote(store: Store) -> None:
    turn_id = _finished_turn(store)
    a = votes.cast_vote(
        store, turn_id, VoteIn(outcome="a", idempotency_key="k1"), rater="anonymous"
    )
    b = votes.cast_vote(
        store, turn_id, VoteIn(outcome="a", idempotency_key="k1"), rater="anonymous"
    )
    assert a.id == b.id
    assert store.count(VoteRow) == 1


def test_a_batch_finds_keys_and_raters_whatever_their_characters(store: Store) -> None:
    """A batch looks its keys and (turn, rater) pairs up as sets (PostgreSQL: arrays, whose
    text has its own quoting): quotes, backslashes, commas, braces and the word NULL are
    just characters."""
    t1, t2 = _finished_turn(store), _finished_turn(store)
    names = ['a"b', "c\\d", "e,f", "{g}", "NULL", " ", 'h\\"i', "你好"]
    first = [
        BatchVoteIn(turn_id=t, outcome="a", idempotency_key=f"k{name}{t}")
        for name in names
        for t in (t1, t2)
    ]
    raters = [name for name in names for _ in (t1, t2)]
    stored = votes.cast_votes(store, first, raters)
    again = votes.cast_votes(store, first, raters)
    assert [v.id for v in again] == [v.id for v in stored] and all(v.replayed for v in again)
    changed = votes.cast_votes(
        store, [BatchVoteIn(turn_id=v.turn_id, outcome="b") for v in first], raters
    )
    # Each (turn, rater) pair's new vote supersedes that pair's first one.
    assert [v.supersedes_id for v in changed] == [v.id for v in stored]
    assert store.count(VoteRow) == 4 * len(names)


def test_vote_rules(store: Store) -> None:
    start = turns.start_turn(store, None, ["x", "y", "z"], "q")
    with pytest.raises(Conflict) as exc:
        votes.cast_vote(store, start.turn_id, VoteIn(outcome="a"), rater="anonymous")
    assert exc.value.code == "turn_not_finished"
    turn_id = _finished_turn(store, panes=3)
    with pytest.raises(InvalidRequest, match="exactly once"):
        votes.cast_vote(
            store, turn_id, VoteIn(outcome="ranking", ranking=[0, 0, 1]), rater="anonymous"
        )
    vote = votes.cast_vote(
        store, turn_id, VoteIn(outcome="ranking", ranking=[2, 0, 1]), rater="anonymous"
    )
    assert vote.ranking == [2, 0, 1]
    with pytest.raises(NotFound):
        votes.cast_vote(store, "nope", VoteIn(outcome="a"), rater="anonymous")


def test_multi_turn_history_is_per_pane(store: Store) -> None:
    first = turns.start_turn(store, None, ["x", "y"], "q1")
    for pane in (0, 1):
        turns.save_answer(
            store,
            first.turn_id,
            pane=pane,
            variant_name="xy"[pane],
            variant_spec={},
            request={},
            text=f"a1-{pane}",
            status="ok",
        )
    turns.finish_turn(store, first.turn_id)
    second = turns.start_turn(store, first.conversation_id, ["x", "y"], "q2")
    assert second.position == 1
    assert [m.content for m in second.history[1]] == ["q1", "a1-1"]
    with pytest.raises(Conflict, match="still running"):
        turns.start_turn(store, first.conversation_id, ["x", "y"], "q3")
    turns.finish_turn(store, second.turn_id)
    with pytest.raises(Conflict, match="compares"):
        turns.start_turn(store, first.conversation_id, ["y", "x"], "q3")


def test_recover_marks_crashed_turns_and_keeps_answers(store: Store) -> None:
    start = turns.start_turn(store, None, ["x", "y"], "q")
    turns.save_answer(
        store,
        start.turn_id,
        pane=0,
        variant_name="x",
        variant_spec={},
        request={},
        text="kept",
        status="ok",
    )
    assert turns.recover_interrupted(store) == 1
    turn = turns.get_turn(store, start.turn_id)
    assert turn.status == "interrupted"
    assert turn.answers[0].text == "kept"


def test_unreachable_database_gives_clear_error() -> None:
    store = Store("postgresql://postgres@127.0.0.1:1/nothing")
    with pytest.raises(StoreUnavailable) as exc:
        store.upgrade()
    assert "cannot reach the database" in exc.value.message
    assert "ARBITER_DATABASE_URL" in exc.value.hint


def test_labels_are_stored_with_their_turn_and_answers(store: Store) -> None:

    turn_id = _finished_turn(store)
    out = labels.save_labels(
        store,
        turn_id,
        LabelsIn(
            ratings=[
                RatingIn(pane=0, helpfulness=5, honesty=4),
                RatingIn(pane=1),
            ],  # pane 1: nothing rated
            comment="A is clearer",
            ideal_answer="answer 0, but shorter",
            ideal_based_on_pane=0,
        ),
        rater="ann",
    )
    assert out.ratings == 1 and out.comment_id and out.ideal_answer_id
    assert (store.count(RatingRow), store.count(CommentRow), store.count(IdealAnswerRow)) == (
        1,
        1,
        1,
    )
    with store.session() as s:
        rating = s.scalars(sa.select(RatingRow)).one()
        ideal = s.scalars(sa.select(IdealAnswerRow)).one()
        assert (rating.helpfulness, rating.honesty, rating.harmlessness) == (5, 4, None)
        assert rating.answer_id == turns.get_turn(store, turn_id).answers[0].id
        assert ideal.based_on_answer_id == rating.answer_id
    with pytest.raises(InvalidRequest, match="no pane 3"):
        labels.save_labels(
            store, turn_id, LabelsIn(ratings=[RatingIn(pane=3, honesty=1)]), rater="ann"
        )
    assert store.count(RatingRow) == 1  # the refused call stored nothing


def test_regenerate_replaces_the_last_turn_but_keeps_it(store: Store) -> None:
    first = turns.start_turn(store, None, ["x", "y"], "q1")
    for pane in (0, 1):
        turns.save_answer(
            store,
            first.turn_id,
            pane=pane,
            variant_name="xy"[pane],
            variant_spec={},
            request={},
            text=f"old-{pane}",
            status="ok",
        )
    turns.finish_turn(store, first.turn_id)
    votes.cast_vote(store, first.turn_id, VoteIn(outcome="a"), rater="ann")
    again = turns.start_turn(store, first.conversation_id, ["x", "y"], "q1", regenerate=True)
    assert again.history == [[], []]  # the replaced turn is not history
    assert turns.get_turn(store, first.turn_id).status == "replaced"
    assert turns.get_turn(store, first.turn_id).vote is not None  # its vote is kept
    with pytest.raises(InvalidRequest):
        turns.start_turn(store, None, ["x", "y"], "q1", regenerate=True)


def test_history_search_by_rater_and_text(store: Store) -> None:
    mine = turns.start_turn(
        store, None, ["x", "y"], "How do tides work?", rater="ann", mode="arena"
    )
    turns.save_answer(
        store,
        mine.turn_id,
        pane=0,
        variant_name="x",
        variant_spec={},
        request={},
        text="The Moon pulls",
        status="ok",
    )
    turns.finish_turn(store, mine.turn_id)
    other = turns.start_turn(store, None, ["x", "y"], "Tides?", rater="bob")
    turns.finish_turn(store, other.turn_id)
    assert [t.id for t in turns.list_turns(store, rater="ann")] == [mine.turn_id]
    assert [t.id for t in turns.list_turns(store, query="moon")] == [
        mine.turn_id
    ]  # found in an answer
    assert {t.id for t in turns.list_turns(store, query="TIDES")} == {mine.turn_id, other.turn_id}
    assert turns.list_turns(store, rater="ann", query="nothing like this") == []
    assert turns.get_turn(store, mine.turn_id).mode == "arena"
    assert turns.arena_pair_counts(store) == {frozenset({"x", "y"}): 1}
